"""expression_code: an expression's forward and backward pass as Python, the one source of the CLI's
``--code``, the lab's "as code" view and the ExpressionWidget's.

The code is run here and its numbers compared with the lecture's derivatives worked by hand.
"""

import math

import pytest

from tinygrad_act.compiler import trace
from tinygrad_act.compiler.codegen import UnsupportedOp
from tinygrad_act.expression import ExpressionError, parse_expression
from tinygrad_act.expression_code import expression_code
from tinygrad_act.lab.explorer import elementwise_activations

NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}


# One expression per op of the expression language.
OPS = ["x + y", "x - y", "x*y", "x/y", "x**y", "x**2", "-x", "exp(x)", "log(x)"]


def _written(text):
    try:
        return bool(trace(lambda: parse_expression(text, {"x": 2.0, "y": 3.0})).code)
    except UnsupportedOp:
        return False


def test_every_op_of_the_expression_language_has_code():
    texts = OPS + [f"{spec.name}(x)" for spec in elementwise_activations()]
    assert [text for text in texts if not _written(text)] == []


def test_the_neurons_code_runs_to_the_lectures_value_and_gradients():
    code = expression_code(NEURON, VALUES, output="o")
    assert code.refusal is None
    space = {"tanh": math.tanh}
    exec(code.text, space)  # noqa: S102 (the code this project wrote, from a fixed expression)
    o, grads = space["traced"](*VALUES.values())
    n = 2.0 * -3.0 + 0.0 * 1.0 + VALUES["b"]
    slope = 1 - math.tanh(n) ** 2  # the slide's tanh' = 1 - a²
    assert o == pytest.approx(math.tanh(n), abs=1e-15)
    expected = [slope * -3.0, slope * 2.0, slope * 1.0, slope * 0.0, slope]
    assert list(grads) == pytest.approx(expected, abs=1e-15)


def test_the_output_takes_the_name_it_is_given_and_the_slides_formula_is_its_comment():
    text = expression_code(NEURON, VALUES, output="o").text
    assert "    o = tanh(v3)\n    do = 1.0\n" in text
    assert "dv3 = do * (1 - o**2)  # tanh' = 1-a²" in text
    assert "v4" not in text  # the output has no made-up name as well
    plain = expression_code(NEURON, VALUES).text  # as `graph --code` prints it
    assert "dv3 = dv4 * (1 - v4**2)  # tanh' = 1-a²" in plain
    assert expression_code("x", {"x": 1.0}, output="o").text.endswith("return x, (dx,)\n")


def test_the_code_is_the_one_trace_writes_for_the_expressions_graph():
    values = {"x": 0.5, "w": -1.5}
    built = trace(lambda: parse_expression("sigmoid(x*w) * x", values)).code
    assert expression_code("sigmoid(x*w) * x", values).text == built
    assert "# sigmoid' = a(1-a)" in built


def test_an_expression_the_language_refuses_raises_its_own_error():
    with pytest.raises(ExpressionError, match="not a valid expression"):
        expression_code("x +", {"x": 1.0})
    with pytest.raises(ExpressionError, match="given but not used"):
        expression_code("x*2", {"x": 1.0, "q": 2.0}, allow_unused=False)
