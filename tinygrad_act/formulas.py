"""Each local derivative as text, from the one table of formulas, with a graph's own names put in.

The formulas are kept beside the rules: `rules.FORMULAS` for the arithmetic (Python syntax over
x, y the inputs, z the only one, a the output, p a constant exponent) and `rules.IN_WORDS` for the
tensor ops; an activation's is its registry row's ``formula``, in the slide's notation (a = g(z)).
Drawings and the lab's explanations read them here, so ``log(x)`` reads ``1/x`` and ``x/y`` reads
``-x/y²`` everywhere, never a placeholder the expression does not contain.

>>> from tinygrad_act.node_names import ADD, ATOM, Name
>>> formula_text("log", 0, {"z": Name("x", ATOM)})
'1/x'
>>> formula_text("/", 1, {"x": Name("x", ATOM), "y": Name("x*w + b", ADD)})
'-x/(x*w + b)²'
>>> formula_text("tanh", 0, {"z": Name("n", ATOM)})
'1-a²'
>>> formula_numbers("tanh", 0, {"z": 0.8813735870195432, "a": 0.7071067811865476}, 0.5)
'1-0.7071²'
"""

from __future__ import annotations

import ast
import re

import numpy as np

from tinygrad_act import numeric, syntax
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.formatting import true_operands
from tinygrad_act.node_names import ADD, ATOM, CALL, MUL, NEG, POW, Name, number_name
from tinygrad_act.rules import FORMULAS, IN_WORDS

_SUPERSCRIPTS = {2: "²", 3: "³"}


def formula_key(op, rule=None):
    """(the table's key, its parameters) for a node's op and rule: ``**3`` is ``**p`` with p = 3,
    an activation's parameters are its rule's."""
    p = getattr(rule, "p", None)
    if op.startswith("**") and op != "**" and p is not None:
        return "**p", {"p": p}
    return op, dict(getattr(rule, "params", None) or {})


def formula_text(op, index, names, params=None):
    """The local derivative of `op` along its input `index`, with `names` ({"x": Name, ...}, z the
    only input, a the output) put in; None for an op without a formula, or one that needs a name
    `names` does not give (an input whose name cannot stand in an expression).

    An activation keeps the slide's a (its output) and gets z's name; `uses_output` says when
    the text holds that a, so a reader can be told what a is.
    """
    spec = ACTIVATIONS.get(op)
    if spec is not None:
        written = spec.local_formula(**(params or {}))
        if "z" not in names:
            return written if _SYMBOL_Z.search(written) is None else None
        return _SYMBOL_Z.sub(lambda m: _wrapped(names["z"], written), written)
    if op in IN_WORDS:
        return _entry(IN_WORDS, op, index)
    formula = _entry(FORMULAS, op, index)
    if formula is None:
        return None
    try:
        return _show(_fold(syntax.parse(formula, mode="eval").body, params or {}), names)[0]
    except KeyError:  # an input without a name that can stand in a formula
        return None


def formula_symbols(inputs, output):
    """{symbol: Name} for `formula_text`: x, y the inputs' names (z the only one's), a the
    output's; a name that cannot stand inside an expression (``tanh (5, 8)``) is left out."""
    symbols = dict(zip("xy", inputs, strict=False))  # a leaf has neither, a one-input op no y
    if len(inputs) == 1:
        symbols["z"] = inputs[0]
    symbols["a"] = output
    return {k: name for k, name in symbols.items() if name.composable}


def uses_output(op):
    """Whether `formula_text` for this op writes the output as a (an activation's a(1-a), 1-a²)."""
    spec = ACTIVATIONS.get(op)
    return spec is not None and _SYMBOL_A.search(spec.formula) is not None


def formula_numbers(op, index, values, result, params=None):
    """The formula with numbers for its symbols (`values`: {"x": 2.0, ...}), each written with the
    digits it takes for the shown arithmetic to give `result` as `formatting.number` writes it;
    None where the formula has no numbers to show (a constant, a formula in words)."""
    spec = ACTIVATIONS.get(op)
    params = params or {}
    if spec is not None:
        if spec.derivative is None:
            return None
        written = spec.local_formula(**params)
        used = [s for s, pattern in (("z", _SYMBOL_Z), ("a", _SYMBOL_A)) if pattern.search(written)]
        if not used:
            return None
        bound = spec.bind(params)

        def evaluate(*numbers):
            given = {**values, **dict(zip(used, numbers, strict=True))}
            return spec.derivative(float(given["z"]), float(given["a"]), **bound)

        texts, _ = true_operands(evaluate, [values[s] for s in used], result)
        return _plug_activation(written, dict(zip(used, texts, strict=True)))
    formula = _entry(FORMULAS, op, index)
    if formula is None:
        return None
    tree = _fold(syntax.parse(formula, mode="eval").body, params)
    used = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & set(values))
    if not used:
        return None

    def evaluate(*numbers):
        return _evaluate(tree, dict(zip(used, numbers, strict=True)))

    texts, _ = true_operands(evaluate, [values[s] for s in used], result)
    return _show(tree, {s: number_name(t) for s, t in zip(used, texts, strict=True)})[0]


# ---- the table's entries ------------------------------------------------------------------------------

_SYMBOL_Z = re.compile(r"(?<![A-Za-z_])z(?![A-Za-z_])")
_SYMBOL_A = re.compile(r"(?<![A-Za-z_])a(?![A-Za-z_])")


def _entry(table, op, index):
    formulas = table.get(op)
    if formulas is None or index >= len(formulas):
        return None
    return formulas[index]


def _wrapped(name, written):
    """A name inside an activation's formula: bracketed unless it is one symbol or the whole."""
    return name.text if name.binding == ATOM or written == "z" else f"({name.text})"


def _plug_activation(written, texts):
    """The slide's formula with numbers: a(1-a) reads 0.62·(1-0.62), 1-a² reads 1-0.7071²."""
    out = written
    for symbol, pattern in (("z", _SYMBOL_Z), ("a", _SYMBOL_A)):
        if symbol in texts:
            shown = texts[symbol]
            shown = f"({shown})" if shown.startswith("-") and written != symbol else shown
            out = pattern.sub("\x01" + shown + "\x02", out)  # marks: start, end
    out = re.sub(r"\x02(?=[(A-Za-z0-9])", "\x02·", out)
    out = re.sub(r"(?<=[)A-Za-z0-9])\x01", "·\x01", out)
    return re.sub("[\x01\x02]", "", out)


# ---- Python syntax to the notation of the lecture ------------------------------------------------------


def _fold(node, params):
    """The formula with its parameters' numbers put in and what they make computed: with p = 3,
    p*z**(p-1) becomes 3*z**2."""
    if isinstance(node, ast.Name) and node.id in params:
        return ast.Constant(float(params[node.id]))
    if isinstance(node, ast.BinOp):
        left, right = _fold(node.left, params), _fold(node.right, params)
        folded = ast.BinOp(left, node.op, right)
        if isinstance(node.op, ast.Mult) and 0 in (_value(left), _value(right)):
            return ast.Constant(0.0)  # 0·z^-1 is 0 even at z = 0: the rule's (PyTorch's), not nan
        if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
            return ast.Constant(float(_evaluate(folded, {})))
        return folded
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(node.op, _fold(node.operand, params))
    if isinstance(node, ast.Call):
        return ast.Call(node.func, [_fold(a, params) for a in node.args], [])
    return node


def _value(node):
    return node.value if isinstance(node, ast.Constant) else None


def _show(node, symbols):
    """(text, binding) of a formula's syntax tree, each symbol written as its Name in `symbols`."""
    if isinstance(node, (ast.Name, ast.Constant)):
        name = symbols[node.id] if isinstance(node, ast.Name) else number_name(node.value)
        # A negative number or a negated name is bracketed as any operand: 1/(-3), 2·(-x).
        return name.text, ADD if name.binding == NEG else name.binding
    if isinstance(node, ast.UnaryOp):
        return f"-{_operand(node.operand, symbols, NEG)}", NEG
    if isinstance(node, ast.Call):
        (arg,) = node.args
        if node.func.id == "exp":
            return f"e^{_operand(arg, symbols, POW)}", POW
        return f"{node.func.id}({_show(arg, symbols)[0]})", CALL
    left, right, op = node.left, node.right, type(node.op)
    if op is ast.Pow:
        base = _operand(left, symbols, POW)
        power = right.value if isinstance(right, ast.Constant) else None
        if power == 1:  # 2·z^1 is 2·z
            return _show(left, symbols)
        if power in _SUPERSCRIPTS:
            return base + _SUPERSCRIPTS[power], POW
        return f"{base}^{_operand(right, symbols, POW)}", POW
    sign, binding = {ast.Add: ("+", ADD), ast.Sub: ("-", ADD), ast.Mult: ("·", MUL)}.get(
        op, ("/", MUL)
    )
    # x*w beside a · is bracketed: (x*w)·x reads as one product of two factors.
    left_tighter = MUL if op is ast.Mult else binding - 1
    tighter = binding if op in (ast.Sub, ast.Div, ast.Mult) else binding - 1
    left_text = _operand(left, symbols, left_tighter)
    return f"{left_text}{sign}{_operand(right, symbols, tighter)}", binding


def _operand(node, symbols, tighter_than):
    text, binding = _show(node, symbols)
    return Name(text, binding).operand(tighter_than)


_ARITHMETIC = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: numeric.pow_,
}


def _evaluate(node, values):
    """A formula's value for `values` ({"x": 2.0, ...}), in float64 with IEEE answers (1/0 = inf)."""
    with np.errstate(all="ignore"):
        if isinstance(node, ast.Name):
            return np.float64(values[node.id])
        if isinstance(node, ast.Constant):
            return np.float64(node.value)
        if isinstance(node, ast.UnaryOp):
            return -_evaluate(node.operand, values)
        if isinstance(node, ast.Call):
            fn = {"exp": numeric.exp, "log": numeric.log}[node.func.id]
            return fn(_evaluate(node.args[0], values))
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        return np.float64(_ARITHMETIC[type(node.op)](left, right))
