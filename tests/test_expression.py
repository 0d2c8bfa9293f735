"""The safe expression parser of the `graph` command: whitelist, limits, and the graphs it builds."""

import math
import re

import pytest
from conftest import central_difference
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_act import Value, register_activation, unregister_activation
from tinygrad_act.backprop import topological_order as _topological_order
from tinygrad_act.expression import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    ExpressionError,
    allowed_functions,
    describe_language,
    parse_expression,
    parse_settings,
    variable_names,
)

# ---- what it builds -----------------------------------------------------------------------------


def test_neuron_expression_matches_the_formula_and_its_gradients():
    x, w, b = 2.0, -3.0, 6.88
    n = parse_expression("tanh(x*w + b)", {"x": x, "w": w, "b": b})
    assert n.data == pytest.approx(math.tanh(x * w + b), abs=1e-15)
    n.backward()
    leaves = {v.label: v for v in _leaves(n)}
    slope = 1 - math.tanh(x * w + b) ** 2  # the lecture's 1-a²
    assert leaves["x"].grad == pytest.approx(w * slope, rel=1e-12)
    assert leaves["w"].grad == pytest.approx(x * slope, rel=1e-12)
    assert leaves["b"].grad == pytest.approx(slope, rel=1e-12)


def test_gradients_of_a_parsed_expression_agree_with_central_differences():
    text = "sigmoid(x) * exp(-x/2) + log(x**2 + 1) - relu(x - 3)**3 / (1 + x)"

    def f(value):
        return parse_expression(text, {"x": value}).data

    x = parse_expression("x", {"x": 1.3})  # a labelled leaf, reused by the expression below
    y = parse_expression(text, {"x": x})
    y.backward()
    assert x.grad == pytest.approx(central_difference(f, 1.3), rel=1e-6)


def test_variables_are_labelled_leaves_and_a_repeated_name_is_one_node():
    y = parse_expression("x*x + x", {"x": 3.0})
    xs = {id(v) for v in _leaves(y) if v.label == "x"}
    assert len(xs) == 1
    y.backward()
    (x,) = [v for v in _leaves(y) if v.label == "x"]
    assert x.grad == 2 * 3.0 + 1


def test_numbers_become_constant_leaves_and_a_constant_exponent_stays_a_number():
    y = parse_expression("2*x**3", {"x": 2.0})
    assert y._op == "*"
    two, cube = y._prev
    assert two._prev == () and two.data == 2.0 and two.label == ""
    assert cube._op == "**3" and len(cube._prev) == 1
    assert parse_expression("x**-1", {"x": 4.0}).data == 0.25
    assert parse_expression("x**(1/2)", {"x": 9.0})._op == "**0.5"
    assert parse_expression("2**x", {"x": 3.0})._op == "**"  # a Value exponent: both get gradients


def test_a_negative_literal_is_a_number_and_minus_a_variable_is_neg():
    assert parse_expression("-3", {})._prev == ()
    assert parse_expression("-3", {}).data == -3.0
    assert parse_expression("-x", {"x": 1.0})._op == "neg"


def test_a_constant_expression_still_gives_a_value_with_its_op():
    y = parse_expression("sigmoid(0)")
    assert isinstance(y, Value) and y._op == "sigmoid" and y.data == 0.5
    assert parse_expression("7").data == 7.0


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "exp", "log"])
def test_lecture_activations_exp_and_log_are_callable(name):
    y = parse_expression(f"{name}(x)", {"x": 0.5})
    assert y._op == name
    assert y._prev[0].label == "x"


def test_every_registered_activation_is_callable_and_a_new_one_too():
    assert set(allowed_functions()) >= {"exp", "log", "sigmoid", "tanh", "relu", "leaky_relu"}

    @register_activation("cubic_test", derivative=lambda z, a: 3 * z**2, formula="3z²")
    def cubic(z):
        return z * z * z

    try:
        y = parse_expression("cubic_test(x)", {"x": 2.0})
        assert y._op == "cubic_test" and y.data == 8.0
    finally:
        unregister_activation("cubic_test")
    with pytest.raises(ExpressionError, match="cubic_test"):
        parse_expression("cubic_test(x)", {"x": 2.0})


def test_ieee_results_not_exceptions_for_overflow_and_division_by_zero():
    assert parse_expression("exp(1000)").data == math.inf
    assert parse_expression("1/x", {"x": 0.0}).data == math.inf
    assert parse_expression("log(0)").data == -math.inf


def test_whitespace_and_newlines_inside_brackets_are_fine():
    assert parse_expression("  (x\n + 1)  ", {"x": 1.0}).data == 2.0


# ---- what it refuses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("x.real", "attribute access"),
        ("x[0]", "subscripts"),
        ("lambda: 1", "lambda"),
        ("'abc'", "strings"),
        ("b'abc'", "bytes"),
        ("f'{x}'", "f-strings"),
        ("__import__('os')", "'__import__'"),
        ("open('/etc/passwd')", "'open'"),
        ("exp.__class__", "attribute access"),
        ("(x).__class__.__bases__", "attribute access"),
        ("x if x else 1", "if/else"),
        ("x < 1", "comparisons"),
        ("x and 1", "and/or"),
        ("[x]", "lists"),
        ("(x, 1)", "tuples"),
        ("{x: 1}", "dicts"),
        ("[i for i in x]", "comprehensions"),
        ("(y := 1)", ":="),
        ("x // 2", "//"),
        ("x % 2", "%"),
        ("x @ x", "@"),
        ("~x", "~"),
        ("not x", "not"),
        ("+x", "unary +"),
        ("True", "True/False"),
        ("1j", "complex"),
        ("tanh(x, x)", "exactly one argument"),
        ("tanh(z=x)", "exactly one argument"),
        ("tanh(*x)", "exactly one argument"),
        ("tanh()", "exactly one argument"),
        ("x(1)", "a call to 'x'"),
        ("tanh(x)(1)", "only plain function names"),
        ("softmax(x)", "softmax needs a tensor"),
        ("x y", "not a valid expression"),
        ("x = 1", "not a valid expression"),
        ("", "empty"),
    ],
)
def test_disallowed_syntax_is_refused_in_one_line_naming_it(text, named):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, {"x": 1.0})
    message = str(info.value)
    assert named in message
    assert "\n" not in message


def test_nothing_runs_when_code_is_smuggled_in(tmp_path):
    target = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {target}')",
        f"exp(__import__('pathlib').Path('{target}').touch())",
        f"(lambda: open('{target}', 'w'))()",
        f"[c for c in ().__class__.__bases__[0].__subclasses__()]; open('{target}','w')",
    ]
    for text in payloads:
        with pytest.raises(ExpressionError):
            parse_expression(text, {})
    assert not target.exists()


def test_a_missing_variable_is_named_with_the_flag_to_set_it():
    with pytest.raises(ExpressionError, match=r"no value for variable 'b' \(give --set b=NUMBER\)"):
        parse_expression("x*w + b", {"x": 1.0, "w": 2.0})
    with pytest.raises(ExpressionError, match="variables 'a', 'b'"):
        parse_expression("a + b", {})


def test_a_function_name_used_as_a_variable_needs_a_value():
    with pytest.raises(ExpressionError, match="'tanh'"):
        parse_expression("tanh(tanh)", {})
    assert parse_expression("tanh(tanh)", {"tanh": 0.0}).data == 0.0


# ---- limits against exhaustion ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["9**9**9", "x**9**9**9", "2**2**2**2**2", "x**(10**6)", "x**1e5"])
def test_huge_constant_exponents_are_refused_before_computing(text):
    with pytest.raises(ExpressionError, match=f"limited to ±{MAX_EXPONENT}"):
        parse_expression(text, {"x": 1.0})


def test_an_exponent_at_the_limit_still_works_and_overflows_to_inf():
    assert parse_expression("x**2**10", {"x": 2.0}).data == math.inf  # 2**1024 overflows a float
    assert parse_expression(f"x**{MAX_EXPONENT}", {"x": 1.0}).data == 1.0


def test_a_nan_exponent_is_refused():
    with pytest.raises(ExpressionError, match="nan"):
        parse_expression("x**(0/0)", {"x": 2.0})


def test_too_long_text_is_refused_before_parsing():
    with pytest.raises(ExpressionError, match=f"limit {MAX_LENGTH}"):
        parse_expression("x+" * MAX_LENGTH + "x", {"x": 1.0})


@pytest.mark.parametrize(
    "text",
    [
        "(" * 300 + "x" + ")" * 300,  # Python's own parser gives up
        "-" * (MAX_DEPTH + 5) + "x",
        "tanh(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5),
    ],
)
def test_deep_nesting_is_refused(text):
    with pytest.raises(ExpressionError, match="nested"):
        parse_expression(text, {"x": 1.0})


def test_too_many_syntax_nodes_are_refused():
    wide = "+".join(["(" + "+".join(["x"] * 10) + ")"] * 40)  # shallow (depth ~50), ~800 nodes
    assert len(wide) <= MAX_LENGTH
    with pytest.raises(ExpressionError, match=f"more than {MAX_NODES} syntax nodes"):
        parse_expression(wide, {"x": 1.0})
    assert (
        parse_expression("+".join(["(" + "+".join(["x"] * 10) + ")"] * 10), {"x": 1.0}).data == 100
    )


def test_huge_number_literals_are_refused():
    for text in ["1e999", "9" * 400, "-1e400"]:
        with pytest.raises(ExpressionError, match="too large for a float"):
            parse_expression(text, {})


def test_text_must_be_a_str():
    with pytest.raises(TypeError, match="str"):
        parse_expression(b"x", {"x": 1.0})


# ---- --set NAME=NUMBER --------------------------------------------------------------------------


def test_settings_parse_names_and_numbers():
    assert parse_settings(["x=2", " w = -3.5 ", "b=6.88e0"]) == {"x": 2.0, "w": -3.5, "b": 6.88}
    assert parse_settings([]) == {}


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ("x", "NAME=NUMBER"),
        ("=2", "NAME=NUMBER"),
        ("2x=1", "NAME=NUMBER"),
        ("x=abc", "takes a number"),
        ("x=", "takes a number"),
        ("x=nan", "finite"),
        ("x=inf", "finite"),
    ],
)
def test_bad_settings_are_one_line_errors(item, named):
    with pytest.raises(ExpressionError, match=named):
        parse_settings([item])


def test_a_variable_set_twice_is_an_error():
    with pytest.raises(ExpressionError, match="twice"):
        parse_settings(["x=1", "x=2"])


# ---- property: any text gives a Value or our own error ------------------------------------------

_TOKENS = st.sampled_from(
    ["x", "y", "1", "2.5", "0", "1e308", "9", "+", "-", "*", "/", "**", "(", ")", " ", ",",
     "tanh(", "sigmoid(", "relu(", "leaky_relu(", "exp(", "log(", "softmax(", "__import__(",
     ".", "[", "]", "'", "lambda", ":", "=", "<", "and", "if", "else", "\n", "\x00", "é"]
)  # fmt: skip


def _check_any(text):
    try:
        result = parse_expression(text, {"x": 0.5, "y": -2.0})
    except ExpressionError as err:
        assert "\n" not in str(err)
    else:
        assert isinstance(result, Value)


@settings(deadline=None, max_examples=150)
@given(st.text(max_size=60))
def test_arbitrary_text_builds_a_value_or_raises_expression_error(text):
    _check_any(text)


@settings(deadline=None, max_examples=150)
@given(st.lists(_TOKENS, max_size=40).map("".join))
def test_token_soup_builds_a_value_or_raises_expression_error(text):
    _check_any(text)


def _leaves(root):
    return [v for v in _topological_order(root) if not v._prev]


# ---- issue 13: parameters by name, unused variables ------------------------------------------------


def test_registered_parameters_are_given_by_name_as_numbers():
    y = parse_expression("leaky_relu(x, slope=0.2) + elu(x, alpha=-0.5)", {"x": -2.0})
    assert y.data == pytest.approx(-0.4 + -0.5 * (math.exp(-2.0) - 1))
    y.backward()
    x = next(leaf for leaf in _leaves(y) if leaf.label == "x")
    assert x.grad == pytest.approx(0.2 + -0.5 * math.exp(-2.0))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("leaky_relu(x, 0.2)", "parameters go by name, e.g. leaky_relu(x, slope=0.2)"),
        ("leaky_relu(x, slop=0.2)", "leaky_relu() has no parameter 'slop' (it takes slope)"),
        ("tanh(x, slope=1)", "tanh() has no parameter 'slope' (it takes no parameters)"),
        ("exp(x, base=2)", "exp() has no parameter 'base' (it takes no parameters)"),
        ("leaky_relu(x, slope=x)", "the parameter slope takes a number"),
        ("leaky_relu(x, slope=True)", "the parameter slope takes a number"),
        ("leaky_relu(x, slope=1, slope=2)", "the parameter slope is given twice"),
        ("leaky_relu(x, **p)", "not allowed: ** in a call"),
        ("leaky_relu(x, slope=1e999)", "too large for a float"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(text, named):
    with pytest.raises(ExpressionError, match=re.escape(named)) as info:
        parse_expression(text, {"x": 1.0})
    assert "\n" not in str(info.value)


def test_unused_variables_are_an_error_only_when_asked():
    assert parse_expression("x*2", {"x": 1.0, "y": 2.0}).data == 2.0  # the library default
    with pytest.raises(
        ExpressionError,
        match=r"variables 'y', 'z' given but not used by the expression \(it uses x\)",
    ):
        parse_expression("x*2", {"x": 1.0, "y": 2.0, "z": 3.0}, allow_unused=False)
    with pytest.raises(ExpressionError, match=r"\(it uses no variables\)"):
        parse_expression("2*3", {"y": 2.0}, allow_unused=False)


def test_the_language_description_names_every_elementwise_function_with_its_parameters():
    text = " ".join(" ".join(describe_language()).split())
    assert "leaky_relu(x, slope=0.01)" in text and "elu(x, alpha=1.0)" in text
    assert "softmax" not in text  # a tensor function: expressions are scalars
    for line in describe_language():
        assert len(line) <= 88


# ---- papercuts: flat chains, a leading minus, names Python normalises, text that is not Unicode ---


def test_a_flat_sum_is_not_nesting_only_real_nesting_is():
    # 225 terms (599 syntax nodes) build, though Python nests them 225 deep to the left.
    text = "+".join(["x*x"] * 75 + ["x"] * 150)
    out = parse_expression(text, {"x": 2.0})
    assert out.data == 75 * 4 + 150 * 2
    out.backward()
    (x,) = (v for v in _leaves(out) if v.label == "x")
    assert x.grad == 75 * 2 * 2.0 + 150  # d(x²)/dx = 2x, 75 times, and 1, 150 times
    # 500 terms are refused for their size, not for a depth they do not have.
    with pytest.raises(ExpressionError, match=f"too large: more than {MAX_NODES}") as err:
        parse_expression("+".join(["x"] * 500), {"x": 1.0})
    assert "nested" not in str(err.value)
    # Brackets are real nesting: ((x+x)*2+x)*2..., two levels a bracket, is still refused.
    levels = MAX_DEPTH // 2 + 5
    deep = "(" * levels + "x" + "+x)*2" * levels
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression(deep, {"x": 1.0})


def test_an_expression_may_start_with_a_minus():
    out = parse_expression("-x*w", {"x": 2.0, "w": -3.0})
    assert out.data == 6.0
    out.backward()
    grads = {v.label: v.grad for v in _leaves(out)}
    assert grads == {"x": 3.0, "w": -2.0}  # d(-xw)/dx = -w, d(-xw)/dw = -x


@pytest.mark.parametrize("name, plain", [("ℌ", "H"), ("ｘ", "x"), ("ﬁ", "fi")])
def test_a_name_python_would_normalise_is_refused_everywhere(name, plain):
    message = f"the name '{name}' is read by Python as '{plain}'"
    with pytest.raises(ExpressionError, match=message):  # in the text
        parse_expression(f"{name}*2", {name: 3.0})
    with pytest.raises(ExpressionError, match=message):  # as a variable given a value
        parse_expression(f"{plain}*2", {plain: 1.0, name: 3.0})
    with pytest.raises(ExpressionError, match=message):  # as --set NAME=NUMBER
        parse_settings([f"{name}=3"])
    with pytest.raises(ExpressionError, match=message):
        variable_names(f"{name}*2")


def test_variable_names_are_listed_in_order_of_first_use():
    assert variable_names("tanh(w*x + b) + leaky_relu(x, slope=0.2)*w") == ["w", "x", "b"]


def test_text_that_is_not_valid_unicode_is_not_valid_text():
    with pytest.raises(ExpressionError, match=r"not valid text: '\\udcff' at position 2") as err:
        parse_expression("x+\udcff", {"x": 1.0})
    assert "nested" not in str(err.value)
