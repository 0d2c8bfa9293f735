"""What the page shows when a node is hovered: its op, its local derivatives with the numbers
plugged in, and the chain-rule product that gives its gradient.

Every number comes from the engine: a local derivative is the node's own backward rule applied to
an upstream gradient of 1, a share is the rule applied to the node's gradient (both by
`tinygrad_act.backprop.apply_rule`, as the backward pass applies it), a gradient is the ``.grad``
that ``backward()`` stored. This module only writes them out, in the
lecture's notation: for ``o = tanh(n)``, ``∂o/∂n = 1-a² = 1-0.7071² = 0.5`` (where a = o) and
``grad(n) = grad(o) × ∂o/∂n = 1 × 0.5 = 0.5``. The formulas are the one table's
(`tinygrad_act.formulas`), with the graph's names put in; each number is written with the digits it
takes for the arithmetic shown to be true (`tinygrad_act.formatting.true_operands`).

Names are the drawing's (`tinygrad_act.node_names`: a label, else a short expression) and ids
are the drawing's too (`tinygrad_act.viz.node_ids`), so the page can point at what it explains.

>>> from tinygrad_act.expression import parse_expression
>>> o = parse_expression("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.8813735870195432})
>>> o.label = "o"
>>> o.backward()
>>> info = explain_graph(o)
>>> info[-1]["locals"][0]["text"]
'∂o/∂(x*w + b) = 1-a² = 1-0.7071² = 0.5'
>>> info[-1]["locals"][0]["where"]
'where a = o, the output'
>>> info[-2]["chain"]
'grad(x*w + b) = grad(o) × ∂o/∂(x*w + b) = 1 × 0.5 = 0.5'
>>> o = parse_expression("tanh(z)", {"z": 10.0})
>>> o.backward()
>>> explain_graph(o)[-1]["locals"][0]["text"]
'∂(tanh(z))/∂z = 1-a² = 1-0.9999999958777² = 8.245e-09'
"""

from __future__ import annotations

import operator
import re

from tinygrad_act import numeric
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.backprop import apply_rule
from tinygrad_act.formatting import number, true_operands
from tinygrad_act.formulas import (
    formula_key,
    formula_numbers,
    formula_symbols,
    formula_text,
    uses_output,
)
from tinygrad_act.node_names import graph_names
from tinygrad_act.viz import node_ids

MAX_TERMS = 6  # a gradient made of more shares than this is summarised, not written out

_INFIX = {"+": " + ", "-": " - ", "*": " × ", "/": " / ", "**": " ^ "}
_FORWARD = {  # each op on numbers, to check the arithmetic an equation shows
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": numeric.pow_,
    "neg": operator.neg,
    "exp": numeric.exp,
    "log": numeric.log,
}


def drawing_order(root):
    """The nodes of `root`'s graph in the drawing's order: ``v0`` first, the root last."""
    return list(node_ids(root))


def local_derivatives(node, upstream=1.0):
    """What the node's backward rule passes to each input for an upstream gradient `upstream`
    (`tinygrad_act.backprop.apply_rule`), as floats: with 1, the local derivative along each
    input edge; with ``node.grad``, each input's share."""
    return [None if s is None else float(s) for s in apply_rule(node, upstream)]


def explain_graph(root):
    """One dict per node in topological order: id, name, op, data, grad, locals, equation, chain.

    ``locals`` lists, for each input of the node's op, ``{"input", "value", "text", "share",
    "where"}`` with the text ``∂out/∂in = formula = formula with numbers = value`` and, where the
    formula is an activation's in the slide's a, what a is (``where a = o, the output``); ``chain`` says how the node's
    gradient was made from the gradients of the nodes that use it.
    """
    ids = node_ids(root)
    order = list(ids)
    full_names = graph_names(order)
    names = {node: name.text for node, name in full_names.items()}
    uses = {node: [] for node in order}
    derivatives = {}
    for node in order:
        derivatives[node] = local_derivatives(node)
        for j, p in enumerate(node._prev):
            uses[p].append((node, j))
    rows = []
    for node in order:
        name = names[node]
        row = {
            "id": ids[node],
            "name": name,
            "op": node._op,
            "kind": _kind(node, root),
            "data": float(node.data),
            "grad": float(node.grad) if node.requires_grad else None,
            "data_text": number(node.data),
            "grad_text": number(node.grad) if node.requires_grad else "no grad (a constant)",
            "equation": _equation(node, names),
            "locals": [],
            "chain": _chain(node, root, names, uses[node], derivatives),
        }
        shares = local_derivatives(node, float(node.grad)) if node.requires_grad else []
        formulas = _formulas(node, full_names, derivatives[node])
        for j, (p, local, text) in enumerate(
            zip(node._prev, derivatives[node], formulas, strict=True)
        ):
            share = shares[j] if shares else None
            row["locals"].append(
                {
                    "input": ids[p],
                    "value": local,
                    "text": _derivative_text(node, names, names[p], text, local),
                    "share": _share_text(node, p, names, local, share),
                    "where": _where(node, names),
                }
            )
        rows.append(row)
    return rows


def _kind(node, root):
    if node is root:
        return "output"
    if node._prev:
        return "op"
    return "variable" if node.label else "constant"


def _equation(node, names):
    """'x*w = 2 × -3 = -6', 'tanh(n) = tanh(0.8814) = 0.7071', or 'x = 2' for a leaf; each input
    with the digits it takes for the shown arithmetic to be true."""
    name = names[node]
    if not node._prev:
        return f"{name} = {number(node.data)}"
    op = node._op
    forward = _forward(node)
    inputs = [p.data for p in node._prev]
    if forward is None:
        values, result = [number(v) for v in inputs], number(node.data)
    else:
        values, result = true_operands(forward, inputs, node.data)
    if len(values) == 2 and op in _INFIX:
        left = _plug(values[0]) if op == "**" else values[0]
        computed = f"{left}{_INFIX[op]}{_plug(values[1])}"
    elif op == "neg":
        computed = f"-{_plug(values[0])}"
    elif op.startswith("**"):
        computed = f"{_plug(values[0])}^{op[2:]}"
    else:
        computed = f"{op}({', '.join(values)})"
    return f"{name} = {computed} = {result}"


def _forward(node):
    """The node's op as a function of its inputs' numbers, or None for one not known here."""
    op, (key, params) = node._op, formula_key(node._op, node.rule)
    if key == "**p":
        return lambda z: numeric.pow_(z, params["p"])
    spec = ACTIVATIONS.get(op)
    if spec is not None and not spec.tensor_only:
        bound = spec.bind(params)
        return lambda z: spec.forward(float(z), **bound)
    fn = _FORWARD.get(op)
    return (
        None if fn is None or len(node._prev) != (1 if op in ("neg", "exp", "log") else 2) else fn
    )


def _formulas(node, names, locals_):
    """(symbolic, with numbers) for each input edge, from the one table of formulas
    (`tinygrad_act.formulas`); None where the op has no formula or no numbers to show."""
    key, params = formula_key(node._op, node.rule)
    inputs = node._prev
    symbols = formula_symbols([names[p] for p in inputs], names[node])
    values = {"x": inputs[0].data, "z": inputs[0].data, "a": node.data} if inputs else {}
    if len(inputs) == 2:
        values["y"] = inputs[1].data
    out = []
    for j, local in enumerate(locals_):
        symbolic = formula_text(key, j, symbols, params)
        plugged = None
        if symbolic is not None and local is not None:
            plugged = formula_numbers(key, j, values, local, params)
        out.append((symbolic, plugged))
    return out


def _wrap_symbol(name):
    """A name after ∂ or inside grad(): bracketed unless it is a single word or number."""
    return name if re.fullmatch(r"[\w.]+", name) else f"({name})"


def _plug(text):
    """A number inside a formula: negative ones in brackets, so 1-(-0.5)² is not 1--0.5²."""
    return f"({text})" if text.startswith("-") else text


def _derivative_text(node, names, name, formulas, value):
    """'∂o/∂n = 1-a² = 1-0.7071² = 0.5': the formula, with numbers, and its value."""
    symbolic, plugged = formulas
    parts = [f"∂{_wrap_symbol(names[node])}/∂{_wrap_symbol(name)}"]
    shown = number(value) if value is not None else "?"
    for part in (symbolic, plugged):
        if part is not None and part != parts[-1] and part != shown:
            parts.append(part)
    parts.append(shown)
    return " = ".join(parts)


def _where(node, names):
    """What an activation's a is, for the line under its formula: 'where a = o, the output'."""
    return f"where a = {names[node]}, the output" if uses_output(node._op) else None


def _share_text(node, p, names, local, share):
    """The backward step along one edge: 'grad(n) += grad(o) × ∂o/∂n = 1 × 0.5 = 0.5'."""
    if share is None or not p.requires_grad:
        return f"{names[p]} is a constant: no gradient flows into it"
    out, name = _wrap_symbol(names[node]), _wrap_symbol(names[p])
    (g, d), shown = true_operands(operator.mul, [node.grad, local], share)
    return (
        f"grad({names[p]}) += grad({names[node]}) × ∂{out}/∂{name} = "
        f"{_plug(g)} × {_plug(d)} = {shown}"
    )


def _chain(node, root, names, uses, derivatives):
    """How backward made this node's gradient: the seed, or Σ grad(user) × ∂user/∂node."""
    if not node.requires_grad:
        return "no grad: a constant of the expression, backward gives it none"
    name = names[node]
    if node is root:
        return f"grad({name}) = 1: the seed, ∂{_wrap_symbol(name)}/∂{_wrap_symbol(name)}"
    if len(uses) > MAX_TERMS:  # a value used by many nodes: the sum, not every term
        return (
            f"grad({name}) = the sum of its {len(uses)} shares, one per use "
            f"(hover each user to see its share) = {number(node.grad)}"
        )
    symbolic, factors = [], []
    for user, j in uses:
        symbolic.append(f"grad({names[user]}) × ∂{_wrap_symbol(names[user])}/∂{_wrap_symbol(name)}")
        factors += [user.grad, derivatives[user][j]]
    texts, shown = true_operands(_sum_of_products, factors, node.grad)
    numeric_terms = [f"{_plug(texts[i])} × {_plug(texts[i + 1])}" for i in range(0, len(texts), 2)]
    return f"grad({name}) = {' + '.join(symbolic)} = {' + '.join(numeric_terms)} = {shown}"


def _sum_of_products(*factors):
    return sum(factors[i] * factors[i + 1] for i in range(0, len(factors), 2))
