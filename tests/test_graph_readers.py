"""The graph's public face (issue 24, items 1, 2 and 5): what readers outside the engine use.

Value.rule and Value.grad_data, engine.make_node, backprop.apply_rule, local_derivatives and
backward_steps (the backward pass one node at a time), and the one formatter and one namer that the
drawings, the lab, the CLI and anomaly mode share. The walk is checked against the lecture's
formulas, central differences, PyTorch and the engine's own fast pass.
"""

import math

import numpy as np
import pytest

from tinygrad_act import Value, find_anomaly, numerical_grad
from tinygrad_act.activations import ACTIVATIONS, elementwise_activations
from tinygrad_act.backprop import (
    apply_rule,
    backward_steps,
    local_derivatives,
    topological_order,
)
from tinygrad_act.cli import main
from tinygrad_act.engine import make_node
from tinygrad_act.expression import parse_expression
from tinygrad_act.lab.explain import explain_graph
from tinygrad_act.lab.graph_panel import graph_view
from tinygrad_act.node_names import graph_names
from tinygrad_act.viz import draw_dot


def _graphs():
    """Graphs with every kind of node: one input and two, a node used twice, a constant, a
    broadcast bias, tensor ops, every registered activation, float32 and float64."""
    rng = np.random.default_rng(24)

    def scalar():
        x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(0.5, label="b")
        n = x * w + b
        h = n.tanh() * n.sigmoid() + (n / 4).relu() + n.leaky_relu(slope=0.2) - n.exp() * 1e-3
        h = h + (x**2).log() + h.softplus() + h.elu(alpha=0.5) + h.silu() + h.gelu()
        return h * x - 3.0, [x, w, b]

    def tensor(dtype):
        X = Value(rng.normal(size=(4, 3)).astype(dtype), requires_grad=False, label="X")
        W = Value(rng.normal(size=(3, 2)).astype(dtype), label="W")
        b = Value(rng.normal(size=(2,)).astype(dtype), label="b")
        h = (X @ W + b).tanh()
        out = (h * h).softmax(axis=1).log() + h.log_softmax(axis=0) + h.max(axis=0) * 0.5
        return (out.reshape(8).T[:6] ** 2).mean() + (W.sum(axis=0) / b).sum(), [W, b]

    yield "scalar", scalar
    yield "float64", lambda: tensor(np.float64)
    yield "float32", lambda: tensor(np.float32)


@pytest.mark.parametrize(("name", "make"), list(_graphs()))
def test_the_walk_gives_every_node_the_gradient_backward_gives_and_changes_no_grad(name, make):
    root, _ = make()
    walked = {}
    for step in backward_steps(root):
        walked[step.node] = step.grad
        assert step.node.grad_data is None or np.all(step.node.grad_data == 0)  # untouched
    root.backward()
    order = topological_order(root)
    assert {n for n in order if n.requires_grad} == set(walked)
    for node in order:
        if node.requires_grad:
            np.testing.assert_allclose(walked[node], node.grad, rtol=1e-5, atol=1e-6)
            assert np.shape(walked[node]) == node.shape


def test_each_step_passes_down_its_rules_shares_and_a_node_comes_once_its_gradient_is_complete():
    x = Value(3.0, label="x")
    y = x * x + x  # x is used twice: its gradient is complete only after both uses
    steps = list(backward_steps(y))
    assert [s.node.label or s.node._op for s in steps] == ["+", "*", "x"]
    plus, times, leaf = steps
    assert plus.shares == (1.0, 1.0) and times.grad == 1.0 and times.shares == (3.0, 3.0)
    assert leaf.grad == 2 * 3.0 + 1 and leaf.shares == ()  # d(x²+x)/dx = 2x + 1
    assert dict(leaf.grads) == {y: 1.0, times.node: 1.0, x: 7.0}  # every gradient, none pending


def test_a_constants_share_is_not_passed_down():
    x = Value(2.0, label="x")
    c = Value(5.0, requires_grad=False)
    (step, leaf) = list(backward_steps(x * c))
    assert step.shares == (5.0, None) and c not in step.grads and leaf.node is x


def test_the_walk_matches_pytorch_on_a_tensor_graph():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(5, 3)), rng.normal(size=(3,))
    W = Value(w, label="w")
    root = ((Value(x, requires_grad=False) * W).tanh().sum(axis=1) ** 2).mean()
    ours = {s.node: s.grad for s in backward_steps(root)}[W]
    wt = torch.tensor(w, requires_grad=True)
    ((torch.tensor(x) * wt).tanh().sum(dim=1) ** 2).mean().backward()
    np.testing.assert_allclose(ours, wt.grad.numpy(), rtol=1e-12)


def test_the_walk_refuses_a_bad_root_before_any_step():
    with pytest.raises(ValueError, match="needs no gradient"):
        backward_steps(Value(1.0, requires_grad=False) * 2)  # raises now, not at the first step
    with pytest.raises(ValueError, match="needs an explicit grad"):
        backward_steps(Value([1.0, 2.0]) * 2)
    v = Value([1.0, 2.0])
    assert [s.grad.tolist() for s in backward_steps(v * 3, grad=[1.0, -1.0])][-1] == [3.0, -3.0]


@pytest.mark.parametrize("spec", elementwise_activations(), ids=lambda s: s.name)
@pytest.mark.parametrize("z", [-2.5, -0.3, 0.7, 4.0])
def test_local_derivatives_of_every_activation_agree_with_central_differences(spec, z):
    (local,) = local_derivatives(Value(z).activate(spec.name))
    (numeric,) = numerical_grad(lambda v: v.activate(spec.name), [Value(z)])
    assert math.isclose(local, numeric, rel_tol=1e-6, abs_tol=1e-8)


def test_local_derivatives_are_the_slides_formulas():
    z = Value(0.8)
    a = z.sigmoid().data
    assert local_derivatives(z.sigmoid()) == (a * (1 - a),)
    t = z.tanh().data
    assert local_derivatives(z.tanh()) == (1 - t**2,)
    assert local_derivatives(Value(0.0).relu()) == (1.0,)  # the lecture's ReLU'(0) = 1
    assert local_derivatives(Value(-1.0).leaky_relu(slope=0.2)) == (0.2,)


def test_apply_rule_redoes_a_raising_rule_the_ieee_way_as_the_pass_does():
    x, y = Value(1.0), Value(0.0)
    shares = apply_rule(x / y, 1.0)  # 1/y and -x/y² at y = 0: Python's floats raise
    assert shares == (math.inf, -math.inf) and all(type(s) is float for s in shares)
    (x / y).backward()
    assert (x.grad, y.grad) == shares  # the pass's own fallback gives the same


def test_apply_rule_sums_a_broadcast_share_back_to_its_input():
    b = Value(np.array([1.0, 2.0]), label="b")
    X = Value(np.ones((3, 2)))
    _, share = apply_rule(X + b, np.arange(6.0).reshape(3, 2))
    assert share.tolist() == [0 + 2 + 4, 1 + 3 + 5]


def test_a_node_without_a_rule_passes_nothing_to_each_input():
    a, b = Value(1.0), Value(2.0)
    hand_made = Value(3.0, (a, b), "+")  # micrograd's constructor: inputs, no rule
    assert hand_made.rule is None and apply_rule(hand_made, 1.0) == (None, None)
    assert apply_rule(a, 1.0) == ()


def test_rule_and_grad_data_are_read_only_and_allocate_nothing():
    v = Value(np.ones(3))
    y = v.tanh()
    assert y.rule is ACTIVATIONS["tanh"].rule and v.rule is None
    with pytest.raises(AttributeError):
        y.rule = None
    with pytest.raises(AttributeError):
        v.grad_data = 1.0
    assert v.grad_data is None and v.grad_data is None  # reading it made no zeros
    y.sum().backward()
    np.testing.assert_array_equal(v.grad_data, 1 - np.tanh(1.0) ** 2)
    s = Value(2.0)
    (s * s).backward(create_graph=True)
    assert isinstance(s.grad, Value) and s.grad_data == 4.0  # a create_graph gradient's data


def test_make_node_records_an_op_defined_outside_the_engine():
    def cube_rule(g, a, z):
        return (g * 3 * z * z,)

    def cube(v):
        return make_node(v.data**3, v, None, "cube", cube_rule)

    z = Value(1.5)
    out = cube(z) * 2
    out.backward()
    (numeric,) = numerical_grad(lambda v: cube(v) * 2, [Value(1.5)])
    assert math.isclose(z.grad, numeric, rel_tol=1e-8) and math.isclose(z.grad, 2 * 3 * 1.5**2)


# ---- item 5: one formatter and one namer ------------------------------------------------------------


def test_x_times_y_at_zero_and_minus_three_shows_the_same_zero_everywhere(tmp_path, capsys):
    x, y = Value(0.0, label="x"), Value(-3.0, label="y")
    o = x * y
    assert math.copysign(1, o.data) == -1  # the engine's -0.0
    o.backward()
    assert 'label="x*y | data 0 | grad 1"' in draw_dot(o).source  # the drawing (was "data -0")
    assert explain_graph(o)[-1]["data_text"] == "0"  # the lab's hover
    view = graph_view("x*y", {"x": 0.0, "y": -3.0})
    assert view["value_text"] == "0"  # the lab's summary
    assert (
        main(["graph", "x*y", "--set", "x=0", "--set", "y=-3", "-o", str(tmp_path / "g.dot")]) == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == "x*y = 0"  # the CLI's summary


def test_the_cli_warning_names_the_node_as_the_drawing_does(tmp_path, capsys):
    text = "w / (x * 2) + 1"
    argv = ["graph", text, "--set", "x=0", "--set", "w=1", "-o", str(tmp_path / "g.dot")]
    assert main(argv) == 0
    root = parse_expression(text, {"x": 0.0, "w": 1.0})
    order = topological_order(root)
    first = next(n for n in order if not math.isfinite(n.data))
    name = graph_names(order)[first].text
    assert name == "w/(x*2)"
    assert capsys.readouterr().err.rstrip().endswith(f"is {name} = inf")


def test_anomaly_names_an_unlabelled_input_as_the_drawing_does():
    x = Value(np.array([0.0, 1.0]), label="x")
    root = ((x * 2) ** 0.5).sum()
    root.backward()
    problem = find_anomaly(root)
    assert str(problem).endswith("(the gradient of its input x*2)")
    assert str(find_anomaly(Value(np.array([np.nan, 1.0])) * 2)).startswith(
        "the input tensor (2,) holds nan"
    )
    assert str(find_anomaly(Value(math.inf) * 2)).startswith("an input holds inf")
