"""Safe expressions for the ``graph`` command: text such as ``"tanh(x*w + b)"`` into a `Value` graph.

The text is parsed with Python's `ast` and checked against a whitelist before anything is built:
names, numbers, ``+ - * / **``, unary minus, parentheses, and calls with one argument to ``exp``,
``log`` or a registered activation, whose parameters may follow by name as numbers:
``leaky_relu(x, slope=0.2)``. Nothing is ever passed to ``eval`` or ``exec``. Every refusal is
an `ExpressionError` (a ``ValueError``) with a one-line message naming what is not allowed.

Limits keep hostile input cheap: the text length, the nesting depth and the number of syntax nodes
are capped, and a constant exponent is checked against `MAX_EXPONENT` before the power is taken.
"""

from __future__ import annotations

import ast
import math
import re
import textwrap
import unicodedata

from tinygrad_act import activations, syntax
from tinygrad_act.engine import Value, no_grad

MAX_LENGTH = 1000  # characters of text
MAX_DEPTH = 100  # nesting of the syntax tree
MAX_NODES = 600  # syntax nodes in the whole expression
MAX_EXPONENT = 1024  # |p| of a constant exponent: 2.0**1024 already overflows a float

_FUNCTIONS = ("exp", "log")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}

# What the rejected syntax is called in messages, for the constructs people actually try.
_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda",
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else expressions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "starred arguments",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
    ast.FloorDiv: "the operator //",
    ast.Mod: "the operator %",
    ast.MatMult: "the operator @",
    ast.LShift: "the operator <<",
    ast.RShift: "the operator >>",
    ast.BitOr: "the operator |",
    ast.BitAnd: "the operator &",
    ast.BitXor: "the operator ^",
    ast.UAdd: "unary +",
    ast.Not: "not",
    ast.Invert: "the operator ~",
}


class ExpressionError(ValueError):
    """An expression that is not allowed, cannot be parsed, or names a variable with no value."""


def allowed_functions():
    """The function names an expression may call: exp, log and every registered activation.

    >>> allowed_functions()[:4]
    ('exp', 'log', 'sigmoid', 'tanh')
    """
    return _FUNCTIONS + tuple(activations.ACTIVATIONS)


def describe_language():
    """What an expression may contain, as lines of text (``tinygrad-act graph --help`` shows them).

    >>> print(describe_language()[2])
      operators  + - * / ** (power), unary -, parentheses
    """
    calls = [f"{name}(x)" for name in _FUNCTIONS]
    for spec in activations.ACTIVATIONS.values():
        if spec.tensor_only:
            continue  # softmax needs a tensor; the expressions here are scalars
        params = "".join(f", {k}={v!r}" for k, v in spec.defaults.items())
        calls.append(f"{spec.name}(x{params})")
    functions = textwrap.wrap(
        ", ".join(calls), width=88, initial_indent="  functions  ", subsequent_indent=" " * 13
    )
    return [
        "  numbers    2, -3.5, 1e-3",
        "  variables  any name, given a value with --set NAME=NUMBER",
        "  operators  + - * / ** (power), unary -, parentheses",
        *functions,
        "             (parameters by name, as numbers: leaky_relu(x, slope=0.2))",
    ]


def parse_expression(text, variables=None, *, allow_unused=True):
    """Build the `Value` graph of `text`; each variable becomes a leaf Value labelled with its name.

    A number in the text becomes a constant leaf, as the engine lifts numbers; a constant exponent
    stays a plain number, so ``x**2`` is the op ``**2`` as in Python. With ``allow_unused=False`` a
    variable the text does not use is an error naming it (a mistyped ``--set``).

    >>> n = parse_expression("tanh(x*w + b)", {"x": 2, "w": -3, "b": 6.8813735870195432})
    >>> n._op, round(n.data, 4)
    ('tanh', 0.7071)
    >>> parse_expression("__import__('os')", {})
    Traceback (most recent call last):
    ...
    tinygrad_act.expression.ExpressionError: not allowed: a call to '__import__' (allowed: exp, log, sigmoid, tanh, relu, leaky_relu, softplus, elu, silu, gelu, softmax, log_softmax)
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression is a str, not {type(text).__name__}")
    tree = _parse(text)
    _check(tree)
    leaves = {}
    for name, value in (variables or {}).items():
        check_variable_name(name)
        try:
            leaves[name] = value if isinstance(value, Value) else Value(value, label=name)
        except (TypeError, ValueError) as err:
            raise ExpressionError(f"variable {name!r}: {_one_line(err)}") from None
    used = _variables(tree)
    unused = [name for name in leaves if name not in used]
    if unused and not allow_unused:
        names = ", ".join(repr(u) for u in unused)
        uses = ", ".join(sorted(used)) or "no variables"
        plural = "s" if len(unused) > 1 else ""
        raise ExpressionError(
            f"variable{plural} {names} given but not used by the expression (it uses {uses})"
        )
    missing = sorted(used - set(leaves))
    if missing:
        names = ", ".join(repr(m) for m in missing)
        flags = " ".join(f"--set {m}=NUMBER" for m in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ExpressionError(f"no value for variable{plural} {names} (give {flags})")
    result = _Builder(leaves).build(tree.body)
    return result if isinstance(result, Value) else Value(result)


def variable_names(text):
    """The names `text` uses as values, in the order they first appear (the functions it calls
    are not variables). The text is checked as `parse_expression` checks it.

    >>> variable_names("tanh(x1*w1 + x2*w2 + b)")
    ['x1', 'w1', 'x2', 'w2', 'b']
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression is a str, not {type(text).__name__}")
    tree = _parse(text)
    _check(tree)
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = sorted(
        (n.col_offset, n.id)
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and id(n) not in callees
    )
    return list(dict.fromkeys(name for _, name in found))


def check_variable_name(name):
    """Refuse a variable name that Python's parser would read as another name: it folds names to
    their NFKC form (``ℌ`` is read as ``H``), so a value given for ``ℌ`` would never be used.

    >>> check_variable_name("ℌ")
    Traceback (most recent call last):
    ...
    tinygrad_act.expression.ExpressionError: the name 'ℌ' is read by Python as 'H' (it normalises letters to their plain NFKC form); write 'H' instead
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ExpressionError(
            f"a variable name is a Python identifier such as x or w1, got {name!r}"
        )
    plain = unicodedata.normalize("NFKC", name)
    if plain != name:
        raise ExpressionError(
            f"the name {name!r} is read by Python as {plain!r} "
            f"(it normalises letters to their plain NFKC form); write {plain!r} instead"
        )


def parse_settings(items):
    """``["x=2", "w=-3"]`` into ``{"x": 2.0, "w": -3.0}``: the ``--set NAME=NUMBER`` options.

    >>> parse_settings(["x=2", "w=-3"])
    {'x': 2.0, 'w': -3.0}
    """
    values = {}
    for item in items:
        name, sep, number = item.partition("=")
        name, number = name.strip(), number.strip()
        if not sep or not name.isidentifier():
            raise ExpressionError(f"--set takes NAME=NUMBER, got {item!r}")
        check_variable_name(name)
        try:
            value = float(number)
        except ValueError:
            raise ExpressionError(f"--set {name}= takes a number, got {number!r}") from None
        if not math.isfinite(value):
            raise ExpressionError(f"--set {name}= takes a finite number, got {number!r}")
        if name in values:
            raise ExpressionError(f"--set {name} is given twice")
        values[name] = value
    return values


# --------------------------------------------------------------------------------------------------


def _one_line(err):
    return " ".join(str(err).split())


_WORD = re.compile(r"[^\W\d]\w*")  # what could be a name: a letter or _, then letters, digits, _


def _parse(text):
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long: {len(text)} characters (limit {MAX_LENGTH})")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate, e.g. from undecodable bytes
        raise ExpressionError(
            f"not valid text: {text[err.start]!r} at position {err.start} is not a Unicode "
            "character (a lone surrogate)"
        ) from None
    for word in _WORD.findall(text):  # before parsing: the parser folds ℌ into H silently
        check_variable_name(word)
    try:
        # Leading spaces would be an IndentationError; newlines inside brackets are fine.
        return syntax.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"not a valid expression: {_one_line(err.msg)}") from None
    except (ValueError, RecursionError, MemoryError):  # the parser's own stack gave out
        raise ExpressionError("expression too deeply nested to parse") from None


def _check(tree):
    """Reject anything outside the whitelist, and oversized trees, before anything is built."""
    count = 0
    stack = [(tree.body, 1)]
    allowed = set(allowed_functions())
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"expression too large: more than {MAX_NODES} syntax nodes")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested too deeply (limit {MAX_DEPTH} levels)")
        children = _allowed_children(node, allowed)
        stack.extend((child, depth + _nesting(node, child)) for child in reversed(children))


_LEVELS = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}  # operators that chain to the left


def _nesting(parent, child):
    """The levels `child` adds below `parent`: none where it continues a flat chain such as
    ``a + b - c + d`` (Python nests it to the left, but nothing is bracketed), else one."""
    if (
        child is getattr(parent, "left", None)
        and isinstance(child, ast.BinOp)
        and _LEVELS.get(type(child.op)) == _LEVELS.get(type(parent.op), 0)
    ):
        return 0
    return 1


def _allowed_children(node, allowed):
    if isinstance(node, ast.Name):
        return []
    if isinstance(node, ast.Constant):
        value = node.value
        if type(value) not in (int, float):
            kind = {str: "strings", bytes: "bytes", bool: "True/False", complex: "complex numbers"}
            raise ExpressionError(f"not allowed: {kind.get(type(value), repr(value))}")
        return []
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"not allowed: {_NAMES.get(type(node.op), 'this operator')}")
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub):
            raise ExpressionError(f"not allowed: {_NAMES.get(type(node.op), 'this operator')}")
        return [node.operand]
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            raise ExpressionError(
                f"not allowed: a call to {ast.unparse(func)[:40]!r} (only plain function names)"
            )
        if func.id not in allowed:
            raise ExpressionError(
                f"not allowed: a call to {func.id!r} (allowed: {', '.join(allowed_functions())})"
            )
        if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ExpressionError(
                f"{func.id}() takes exactly one argument; parameters go by name, "
                "e.g. leaky_relu(x, slope=0.2)"
            )
        _check_parameters(func.id, node.keywords)
        return [node.args[0]]  # a parameter's value is a number, checked above
    what = _NAMES.get(type(node), type(node).__name__)
    raise ExpressionError(f"not allowed: {what}")


def _parameters_of(name):
    return {} if name in _FUNCTIONS else activations.ACTIVATIONS[name].defaults


def _check_parameters(name, keywords):
    accepted, seen = _parameters_of(name), set()
    for kw in keywords:
        if kw.arg is None:
            raise ExpressionError("not allowed: ** in a call")
        if kw.arg in seen:
            raise ExpressionError(f"{name}(): the parameter {kw.arg} is given twice")
        seen.add(kw.arg)
        if kw.arg not in accepted:
            takes = ", ".join(accepted) if accepted else "no parameters"
            raise ExpressionError(f"{name}() has no parameter {kw.arg!r} (it takes {takes})")
        if _constant_number(kw.value) is None:
            raise ExpressionError(f"{name}(): the parameter {kw.arg} takes a number")


def _constant_number(node):
    """The int or float a node spells (``0.2``, ``-3``), or None."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node, sign = node.operand, -1
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sign * _number(node.value)
    return None


def _variables(tree):
    """The names used as values: every Name except the function of a call (tanh in tanh(x))."""
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in callees}


class _Builder:
    """Walks a checked tree bottom-up. Real nesting is capped (`MAX_DEPTH`) and flat chains are
    walked in a loop, so plain recursion is safe here."""

    def __init__(self, leaves):
        self.leaves = leaves

    def build(self, node):
        if isinstance(node, ast.Name):
            return self.leaves[node.id]
        if isinstance(node, ast.Constant):
            return Value(_number(node.value))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.operand, ast.Constant):  # -3 is the number -3, not neg(3)
                return Value(-_number(node.operand.value))
            return _apply("-", lambda v: -v, self.build(node.operand))
        if isinstance(node, ast.BinOp):
            # Down the left operands first and back up in a loop: a flat chain of 300 terms is
            # that deep, and recursion would run into Python's limit.
            spine = []
            while isinstance(node, ast.BinOp):
                spine.append(node)
                node = node.left
            result = self.build(node)
            for binop in reversed(spine):
                result = self._binary(binop, result)
            return result
        name = node.func.id
        arg = self.build(node.args[0])
        if name in _FUNCTIONS:
            return _apply(name, lambda v: getattr(v, name)(), arg)
        params = {kw.arg: _constant_number(kw.value) for kw in node.keywords}
        return _apply(name, lambda v: v.activate(name, **params), arg)

    def _binary(self, node, left):
        """`node`'s operator on its left operand, already built, and its right one."""
        if isinstance(node.op, ast.Pow) and _is_constant(node.right):
            return self._power(node, left)
        op = _BINARY[type(node.op)]
        return _apply(op, _OPERATORS[op], left, self.build(node.right))

    def _power(self, node, base):
        with no_grad():  # the exponent is a number, as in Python's x**2: no nodes of its own
            p = self.build(node.right).item()
        if math.isnan(p):
            raise ExpressionError("the exponent is not a number (nan)")
        if abs(p) > MAX_EXPONENT:
            raise ExpressionError(
                f"exponent {p:g} is too large (constant exponents are limited to ±{MAX_EXPONENT})"
            )
        return _apply("**", lambda v: v**p, base)


_OPERATORS = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x / y,
    "**": lambda x, y: x**y,
}


def _apply(op, fn, *args):
    try:
        return fn(*args)
    except (TypeError, ValueError, ArithmeticError) as err:  # e.g. softmax needs a tensor
        raise ExpressionError(f"{op}: {_one_line(err)}") from None


def _number(value):
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ExpressionError("a number in the expression is too large for a float")
    return number


def _is_constant(node):
    return not _variables(node)
