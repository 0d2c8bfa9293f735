"""Names for unlabelled nodes: expressions with Python's precedence, op and shape past a length."""

import numpy as np
import pytest

from tinygrad_act import Value
from tinygrad_act.backprop import topological_order
from tinygrad_act.node_names import MAX_EXPRESSION, graph_names


def name_of(root, model=None):
    return graph_names(topological_order(root), model)[root].text


a, b, c = (Value(v, label=n) for v, n in ((1.0, "a"), (2.0, "b"), (3.0, "c")))


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: a * b, "a*b"),
        (lambda: (a + b) * c, "(a + b)*c"),
        (lambda: a * b + c, "a*b + c"),
        (lambda: a - (b + c), "a - (b + c)"),
        (lambda: (a - b) - c, "a - b - c"),
        (lambda: a / (b * c), "a/(b*c)"),
        (lambda: -(a * b), "-(a*b)"),
        (lambda: (-a) ** 2, "(-a)**2"),
        (lambda: a**b, "a**b"),
        (lambda: (a * b).tanh(), "tanh(a*b)"),
        (lambda: a.leaky_relu(0.2), "leaky_relu(a)"),
        (lambda: a * 2, "a*2"),
        (lambda: a * -3.5, "a*-3.5"),
        (lambda: Value(np.ones((2, 3)), label="X").sum(), "sum(X)"),
        (lambda: Value(np.ones((2, 3)), label="X")[0], "X[…]"),
    ],
)
def test_an_unlabelled_node_is_named_by_its_expression(build, expected):
    assert name_of(build()) == expected


def test_a_long_expression_gives_way_to_op_and_shape():
    total = a
    for v in (b, c, a, b, c, a, b, c):
        total = total * v + c
    assert name_of(total) == "+ (scalar)"
    X = Value(np.ones((4, 3)), label="X")
    W = Value(np.ones((3, 5)), label="a_long_weight_name_here")
    assert name_of((X @ W).tanh()) == "tanh (4, 5)"
    assert all(len(name_of(v)) <= MAX_EXPRESSION for v in (a * b, (a + b) * c))


def test_leaves_without_a_label_are_their_number_or_kind_and_shape():
    assert name_of(Value(0.25)) == "0.25"
    assert name_of(Value(np.zeros((2, 2)))) == "tensor (2, 2)"
    assert name_of(Value(np.zeros((2, 2)), requires_grad=False)) == "constant (2, 2)"
    assert name_of(Value(np.zeros((2, 2))) + a) == "+ (2, 2)"  # a nameless input: no expression


def test_a_label_that_is_an_expression_is_bracketed_where_needed():
    s = a + b
    s.label = "a + b"
    assert name_of(s * c) == "(a + b)*c"
    t = a * b
    t.label = "x1*w1"
    assert name_of(t + c) == "x1*w1 + c"
    odd = a.exp()
    odd.label = "my value"
    assert name_of(odd * c) == "(my value)*c"
