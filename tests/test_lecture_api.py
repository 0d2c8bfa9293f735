"""micrograd's lecture API on tinygrad_act: `node._backward()` by hand, and what the lecture's cells use."""

import math

import numpy as np
import pytest

from tinygrad_act import ACTIVATIONS, Value
from tinygrad_act.backprop import topological_order
from tinygrad_act.demo import lecture_neuron


def _lecture_neuron():
    o = lecture_neuron()
    leaves = {v.label: v for v in topological_order(o) if not v._prev}
    return o, tuple(leaves[name] for name in ("x1", "x2", "w1", "w2", "b"))


def _by_hand(root, seed):
    root.grad = seed
    for node in reversed(topological_order(root)):
        node._backward()


def test_manual_backward_steps_give_the_lecture_gradients():
    o, (x1, x2, w1, w2, b) = _lecture_neuron()
    o.grad = 1.0
    o._backward()
    (n,) = o._prev
    assert math.isclose(n.grad, 1 - o.data**2)  # the lecture's do/dn = 1 - o**2 = 0.5
    n._backward()
    b._backward()  # a leaf: nothing happens
    assert b._prev == () and math.isclose(b.grad, 0.5)
    x1w1x2w2 = n._prev[0]
    x1w1x2w2._backward()
    x2w2, x1w1 = x1w1x2w2._prev[1], x1w1x2w2._prev[0]
    x2w2._backward()
    x1w1._backward()
    got = [round(v.grad, 6) for v in (x1, w1, x2, w2)]
    assert got == [-1.5, 1.0, 0.5, 0.0]


def test_each_step_reads_the_nodes_grad_and_adds_into_its_inputs():
    a = Value(3.0)
    b = a + a  # a node used twice: both shares add up, as in the lecture
    b.grad = 1.0
    b._backward()
    assert a.grad == 2.0
    b._backward()  # a second step adds again: gradients accumulate
    assert a.grad == 4.0


def _graphs(rng):
    """One small graph per op and activation, with a non-uniform seed so a wrong share shows."""
    x = Value(rng.uniform(0.5, 1.5, (3, 4)))
    y = Value(rng.uniform(0.5, 1.5, (4,)))
    w = Value(rng.uniform(-1, 1, (4, 2)))
    yield "arith", x * y + x / y - y**2 + (-x) ** 2.0
    yield "pow_value", x ** Value(rng.uniform(0.5, 1.5, (4,)))
    yield "exp_log", (x.exp() + x.log())
    yield "matmul", x @ w
    yield "reductions", x.sum(axis=0) + x.mean(axis=0) + x.max(axis=0)
    yield "shape_ops", x.reshape(4, 3).swapaxes(0, 1).T.transpose() + x[[0, 0, 2]].sum(axis=0)[None]
    yield "broadcast", y.broadcast_to((3, 4)) * x
    for name in ACTIVATIONS:
        yield name, x.activate(name) * 2.0
    s = Value(0.7)
    yield "scalar", (s * s + 1.0).tanh() / (s - 3.0)


def test_steps_by_hand_equal_backward_for_every_op_and_activation(rng):
    for name, root in _graphs(rng):
        seed = rng.normal(size=root.shape) if not root.is_scalar else 1.3
        nodes = topological_order(root)
        leaves = [n for n in nodes if not n._prev and n.requires_grad]
        for node in nodes:  # the leaves are shared between the graphs
            node.zero_grad()
        _by_hand(root, seed)
        by_hand = [np.array(v.grad, copy=True) for v in leaves]
        for node in nodes:
            node.zero_grad()
        root.backward(seed)
        for v, g in zip(leaves, by_hand, strict=True):
            np.testing.assert_allclose(g, v.grad, rtol=1e-12, atol=1e-14, err_msg=name)
            assert np.asarray(g).dtype == v.dtype


def test_a_tensor_step_keeps_shape_and_dtype():
    z = Value(np.array([-1.0, 0.0, 2.0], dtype=np.float32))
    bias = Value(np.float32(0.5) * np.ones((1, 3), dtype=np.float32))
    out = (z + bias).relu()
    out.grad = np.ones((1, 3))
    out._backward()
    (s,) = out._prev
    s._backward()
    assert z.grad.shape == (3,) and z.grad.dtype == np.float32
    np.testing.assert_array_equal(z.grad, [0.0, 1.0, 1.0])  # relu'(-0.5) = 0, relu'(0.5) = 1


# ---- what the lecture's other cells rely on ---------------------------------------------------------


def test_the_lecture_constructor_and_labels_set_later():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    e = a * b
    e.label = "e"
    assert e.label == "e" and e._op == "*" and isinstance(e._op, str)
    node = Value(5.0, (a, b), "+", label="manual")  # the lecture's signature
    assert node._prev == (a, b) and node._op == "+"
    assert e.grad == 0.0 and type(e.grad) is float  # the lecture draws the graph before backward


def test_prev_iterated_with_nodes_in_sets_and_nudged_data():
    a, b = Value(2.0), Value(-3.0)
    L = (a * b + a).tanh()
    nodes, edges = set(), set()

    def build(v):  # the lecture's own trace()
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(L)
    assert len(nodes) == 5 and len(edges) == 5
    L.backward()
    before = a.data
    a.data += 0.01 * a.grad
    assert a.data == pytest.approx(before + 0.01 * a.grad)
    a.grad = 0.0
    assert a.grad == 0.0


def test_python_sum_reflected_ops_and_numpy_scalars():
    xs = [Value(1.0), Value(2.0), Value(3.0)]
    total = sum((x * x for x in xs), Value(0.0))
    assert total.data == 14.0 and (0 + xs[0]).data == 1.0
    n = Value(0.3)
    e = (2 * n).exp()
    o = (e - 1) / (e + 1)
    assert o.data == pytest.approx(math.tanh(0.3))
    assert (-n).data == -0.3 and (n - 1).data == pytest.approx(-0.7) and (n**2).data == 0.09
    label = np.int64(-1) * Value(2.0)  # scikit-learn's labels times a Value
    assert isinstance(label, Value) and label.data == -2.0
