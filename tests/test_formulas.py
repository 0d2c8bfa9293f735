"""The one table of formulas and the arithmetic shown with it: each formula is its rule, each
printed expression evaluates to its printed result."""

import math
import re

import pytest

from tinygrad_act import Value
from tinygrad_act.expression import parse_expression
from tinygrad_act.formatting import number, true_operands
from tinygrad_act.formulas import formula_numbers, formula_text
from tinygrad_act.lab.explain import explain_graph
from tinygrad_act.node_names import ADD, ATOM, MUL, Name
from tinygrad_act.rules import FORMULAS

X, Y = 1.7, -0.6


def _node(op, x, y):
    """The graph node of `op` on x and y (x alone for a one-input op), made by the engine."""
    make = {
        "+": lambda: x + y,
        "-": lambda: x - y,
        "*": lambda: x * y,
        "/": lambda: x / y,
        "**": lambda: x**y,
        "neg": lambda: -x,
        "exp": lambda: x.exp(),
        "log": lambda: x.log(),
        "**p": lambda: x**2.5,
        "sqrt": lambda: x.sqrt(),
    }
    return make[op]()


@pytest.mark.parametrize("op", sorted(FORMULAS))
def test_each_formula_of_the_table_is_the_rule_it_stands_beside(op):
    # The table's Python text, evaluated by Python itself, against the rule the engine runs.
    x, y = Value(X, label="x"), Value(Y, label="y")
    node = _node(op, x, y)
    local = node._rule(1.0, node.data, *[p.data for p in node._prev])
    assert len(FORMULAS[op]) == len(node._prev)
    scope = {"x": X, "y": Y, "z": X, "a": node.data, "p": 2.5, "exp": math.exp, "log": math.log}
    for formula, expected in zip(FORMULAS[op], local, strict=True):
        assert eval(formula, {}, scope) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize(
    ("op", "index", "names", "params", "expected"),
    [
        ("log", 0, {"z": Name("x", ATOM)}, None, "1/x"),
        ("/", 1, {"x": Name("x", ATOM), "y": Name("y", ATOM)}, None, "-x/y²"),
        ("/", 0, {"x": Name("x", ATOM), "y": Name("x*w + b", ADD)}, None, "1/(x*w + b)"),
        ("*", 0, {"x": Name("x1", ATOM), "y": Name("w1", ATOM)}, None, "w1"),
        ("exp", 0, {"z": Name("x*w", MUL)}, None, "e^(x*w)"),
        ("**p", 0, {"z": Name("x", ATOM)}, {"p": 3}, "3·x²"),
        ("**p", 0, {"z": Name("x", ATOM)}, {"p": 0}, "0"),  # PyTorch's 0, not 0·x^-1
        ("/", 1, {"x": Name("x", ATOM), "y": Name("-3", 3)}, None, "-x/(-3)²"),
        ("relu", 0, {"z": Name("n", ATOM)}, None, "1 if n≥0 else 0"),
        ("tanh", 0, {"z": Name("n", ATOM)}, None, "1-a²"),  # the slide's a, said beside
        ("*", 0, {"x": Name("x", ATOM)}, None, None),  # y has no name to stand in a formula
    ],
)
def test_formula_text_puts_the_graphs_names_in(op, index, names, params, expected):
    assert formula_text(op, index, names, params) == expected


_FUNCTIONS = {"exp": math.exp, "log": math.log, "tanh": math.tanh}
_FUNCTIONS["sigmoid"] = lambda z: 1 / (1 + math.exp(-z))


def _evaluates(text):
    """A shown expression evaluated by Python: × and · are *, ² is **2, e^u is exp(u), ^ is **."""
    python = re.sub(r"e\^(\([^)]*\)|[\d.]+)", r"exp(\1)", text)
    python = python.replace("×", "*").replace("·", "*").replace("²", "**2").replace("^", "**")
    return eval(python, _FUNCTIONS)


def _numbers_only(text):
    """Whether `text` is numbers, operators and known functions only (not a formula in names)."""
    for name in _FUNCTIONS:
        text = text.replace(name, "")
    return re.fullmatch(r"[-+×·/^²()\d.e ]+", text) is not None


def test_true_operands_gives_enough_digits_for_the_shown_arithmetic():
    a = math.tanh(10.0)  # 0.9999999958776927: at 4 digits, 1-1² would be 0
    (shown,), result = true_operands(lambda a: 1 - a * a, [a], 1 - a * a)
    assert result == "8.245e-09" == number(1 - float(shown) ** 2)
    assert len(shown) > 6 and float(shown) != 1.0
    assert true_operands(lambda a: 1 - a * a, [0.7071067811865476], 0.5) == (["0.7071"], "0.5")


@pytest.mark.parametrize("z", [-10.0, -2.0, 0.3, 10.0, 20.0])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_activation_formulas_with_numbers_evaluate_to_their_value(activation, z):
    a = Value(z).activate(activation).data
    slope = a * (1 - a) if activation == "sigmoid" else 1 - a * a  # the slide's formulas
    text = formula_numbers(activation, 0, {"z": z, "a": a}, slope)
    assert number(_evaluates(text)) == number(slope), text
    assert _numbers_only(text)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.8813735870195432}),
        ("tanh(x)", {"x": 10.0}),
        ("sigmoid(x) * y", {"x": 9.5, "y": 1.23456}),
        ("x*y*z + x/y - log(z)", {"x": 1.23449, "y": 2.34549, "z": 3.30001}),
        ("x**y + exp(x)**3", {"x": 2.00004, "y": -3.00007}),
    ],
)
def test_every_number_the_lab_shows_makes_true_arithmetic(text, values):
    out = parse_expression(text, values)
    out.label = "o"
    out.backward()
    checked = 0
    for row in explain_graph(out):
        lines = [row["equation"], row["chain"]]
        lines += [loc["share"] for loc in row["locals"]]
        lines += [loc["text"].split(" = ", 1)[1] for loc in row["locals"]]
        for line in lines:
            # The last two '=' parts: the expression with numbers, and its printed result.
            parts = line.split(" = ")
            if len(parts) < 2 or not _numbers_only(parts[-2]):
                continue  # a formula in names, or a sentence
            assert number(_evaluates(parts[-2])) == parts[-1], line
            checked += 1
    assert checked >= 4  # every row has an equation, every op a local and a share
