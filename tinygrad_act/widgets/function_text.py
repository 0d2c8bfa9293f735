"""A Python function of Values written in the expression language, so that the expression widget
draws it with the lab's one graph view (`tinygrad_act.lab.graph_panel.graph_view`).

The function is called on Values named after its parameters; the graph it records is written back
as text (reading only ``_op``, ``_prev``, ``label`` and ``data``), with as few parentheses as
Python needs. A leaf that is not a parameter is a constant.

>>> function_text(lambda x, w, b: (x * w + b).sigmoid(), {"x": 1.0, "w": 2.0, "b": -1.0})
'sigmoid(x*w + b)'
>>> function_text(lambda x, y: -(x - y) / 2 * x**2, {"x": 1.0, "y": 2.0})
'-(x - y)/2.0*x**2'
"""

from __future__ import annotations

import inspect
import math

from tinygrad_act import ACTIVATIONS, Value
from tinygrad_act.lab import limits
from tinygrad_act.lab.schema import LabError

ADD, MUL, NEG, POW, ATOM = 1, 2, 3, 4, 5
_INFIX = {"+": (" + ", ADD, ADD, ADD + 1), "-": (" - ", ADD, ADD, ADD + 1)}
_INFIX.update({"*": ("*", MUL, MUL, MUL + 1), "/": ("/", MUL, MUL, MUL + 1)})
_CALLS = ("exp", "log")


def parameters(function):
    """The names of the function's parameters: the widget's variables."""
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        raise LabError(
            "the function's parameters cannot be read: give the expression as text"
        ) from None
    if not names:
        raise LabError("the function takes no parameters: give it one per variable, f(x, w, b)")
    return names


def function_text(function, values):
    """The expression-language text of the graph `function` records at `values`."""
    names = parameters(function)
    leaves = {name: Value(values.get(name, limits.DEFAULT_VALUE), label=name) for name in names}
    try:
        out = function(**leaves)
    except Exception as err:  # the user's code: its own error, in one line
        raise LabError(f"the function raised {type(err).__name__}: {err}") from None
    if not isinstance(out, Value):
        raise LabError(f"the function must return a Value, got {type(out).__name__}")
    known = {id(leaf): name for name, leaf in leaves.items()}
    return _write(out, known)[0]


def _write(node, known):
    """(text, binding) of a node; `binding` is how tightly the text holds together."""
    if not isinstance(node.data, float):
        raise LabError("the widget draws functions of numbers; this one makes a tensor")
    if not node._prev:
        if id(node) in known:
            return known[id(node)], ATOM
        return _constant(node.data)
    op, args = node._op, node._prev
    if op in _INFIX:
        sign, binding, left, right = _INFIX[op]
        return f"{_at(args[0], left, known)}{sign}{_at(args[1], right, known)}", binding
    if op == "neg":
        return f"-{_at(args[0], NEG, known)}", NEG
    if op == "**":
        return f"{_at(args[0], ATOM, known)}**{_at(args[1], POW, known)}", POW
    if op.startswith("**"):
        return f"{_at(args[0], ATOM, known)}**{op[2:]}", POW
    spec = ACTIVATIONS.get(op)
    if op in _CALLS or (spec is not None and not spec.defaults):
        return f"{op}({_write(args[0], known)[0]})", ATOM
    raise LabError(
        f"the function uses {op}, which the widget cannot write from a function "
        "(activations with parameters included): give the expression as text, "
        "for example leaky_relu(x, slope=0.1)"
    )


def _at(node, binding, known):
    text, own = _write(node, known)
    return text if own >= binding else f"({text})"


def _constant(x):
    if not math.isfinite(x):
        raise LabError(f"the function uses the constant {x}, which is not a finite number")
    text = repr(x + 0.0)
    return (text, ATOM) if x >= 0 else (f"({text})", ATOM)
