"""backprop.reference_backward, the short pass docs/backprop.md shows, against the fast backward():
the same .grad on every node, for every op and every registered activation."""

import numpy as np
import pytest

from tinygrad_act import Value
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.backprop import reference_backward, topological_order
from tinygrad_act.nn import cross_entropy

RNG = np.random.default_rng(11)
A, B = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
COL, ROW = RNG.normal(size=(3, 1)), RNG.normal(size=(4,))
M = RNG.normal(size=(4, 2))
POSITIVE = RNG.uniform(0.5, 2.0, size=(3, 4))

# name -> (leaves, f(*leaves) -> output); tensors unless the name says scalar
CASES = {
    "add": ((A, B), lambda x, y: x + y),
    "sub": ((A, B), lambda x, y: x - y),
    "mul": ((A, B), lambda x, y: x * y),
    "div": ((A, POSITIVE), lambda x, y: x / y),
    "pow by a number": ((POSITIVE,), lambda x: x**2.5),
    "pow by a Value": ((POSITIVE, B), lambda x, y: x**y),
    "neg": ((A,), lambda x: -x),
    "exp": ((A,), lambda x: x.exp()),
    "log": ((POSITIVE,), lambda x: x.log()),
    "matmul": ((A, M), lambda x, w: x @ w),
    "sum over an axis": ((A,), lambda x: x.sum(axis=0)),
    "mean, keepdims": ((A,), lambda x: x.mean(axis=1, keepdims=True)),
    "max": ((A,), lambda x: x.max(axis=1)),
    "reshape": ((A,), lambda x: x.reshape(4, 3)),
    "transpose": ((A,), lambda x: x.transpose()),
    "swapaxes": ((A,), lambda x: x.swapaxes(0, 1)),
    "broadcast_to": ((COL,), lambda x: x.broadcast_to((3, 4))),
    "indexing with a repeat": ((A,), lambda x: x[np.array([0, 2, 0])]),
    "constants on both sides": ((A,), lambda x: 2.0 / (1.0 + x * x) - 3.0),
    "a node used twice": ((A,), lambda x: x * x + x.tanh() * x),
    "broadcasting (3,1) with (4,)": ((COL, ROW), lambda x, y: x * y + y),
    "a scalar Value times a tensor": ((np.float64(1.5), A), lambda s, x: s * x),
    "cross_entropy": ((A,), lambda x: cross_entropy(x, np.array([0, 3, 1]))),
    "scalar arithmetic": ((0.7, -1.3), lambda x, y: (x * y + x / y - y**2) ** 3 + x.exp().log()),
    "scalar, used twice": ((0.4,), lambda x: x * x * x + x),
    "scalar division by zero": ((1.0, 0.0), lambda x, y: x / y),
}
for name, spec in ACTIVATIONS.items():
    CASES[f"{name}, tensor"] = ((A * 3,), lambda x, name=name: x.activate(name))
    if not spec.tensor_only:
        CASES[f"{name}, scalar"] = ((0.8,), lambda x, name=name: x.activate(name))
        CASES[f"{name}, scalar at the kink 0"] = ((0.0,), lambda x, name=name: x.activate(name))


def _leaf(x):
    return Value(float(x)) if np.ndim(x) == 0 else Value(np.array(x, copy=True))


def _graph(leaves, f):
    """A root with a non-uniform upstream gradient ((out + 1)², summed), so no share hides
    behind a gradient of all ones."""
    values = [_leaf(x) for x in leaves]
    out = f(*values)
    root = (out + 1) ** 2
    return (root.sum() if not root.is_scalar else root), values


@pytest.mark.parametrize("name", list(CASES))
def test_reference_backward_fills_the_same_grads_as_the_fast_pass(name):
    leaves, f = CASES[name]
    fast_root, fast_leaves = _graph(leaves, f)
    ref_root, ref_leaves = _graph(leaves, f)
    fast_root.backward()
    reference_backward(ref_root)
    fast_nodes, ref_nodes = topological_order(fast_root), topological_order(ref_root)
    assert [n._op for n in fast_nodes] == [n._op for n in ref_nodes]
    for fast, ref in zip(fast_nodes, ref_nodes, strict=True):
        assert (type(ref.grad) is float) == (type(fast.grad) is float)  # a float for a float
        assert np.asarray(ref.grad).dtype == np.asarray(fast.grad).dtype
        np.testing.assert_array_equal(ref.grad, fast.grad, err_msg=f"{name}: node {fast._op!r}")
    assert any(np.any(np.asarray(v.grad) != 0) for v in fast_leaves)  # the case is not trivial


def test_reference_backward_adds_to_grad_as_backward_does():
    x, y = Value(A.copy()), Value(A.copy())
    for _ in range(2):
        (x * x).sum().backward()
        reference_backward((y * y).sum())
    np.testing.assert_array_equal(y.grad, x.grad)
    np.testing.assert_array_equal(y.grad, 4 * A)  # d(x²)/dx = 2x, twice


def test_reference_backward_takes_a_grad_for_a_tensor_root_and_refuses_what_backward_refuses():
    g = RNG.normal(size=(3, 4))
    x, y = Value(A.copy()), Value(A.copy())
    x.tanh().backward(g)
    reference_backward(y.tanh(), g)
    np.testing.assert_array_equal(y.grad, x.grad)
    with pytest.raises(ValueError, match="explicit grad"):
        reference_backward(Value(A) * 2)
    with pytest.raises(ValueError, match="needs no gradient"):
        reference_backward(Value(1.0, requires_grad=False))
