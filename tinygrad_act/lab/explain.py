"""What the page shows when a node is hovered: its op, its local derivatives with the numbers
plugged in, and the chain-rule product that gives its gradient.

Every number comes from the engine: a local derivative is the node's own backward rule applied to
an upstream gradient of 1 (what ``node._backward()`` adds to each input when ``node.grad`` is 1),
a gradient is the ``.grad`` that ``backward()`` stored. This module only writes them out, in the
lecture's notation: for ``o = tanh(n)``, ``∂o/∂n = 1-a² = 1-0.7071² = 0.5`` and
``grad(n) = grad(o) × ∂o/∂n = 1 × 0.5 = 0.5``.

Names are the drawing's (`tinygrad_act.node_names`: a label, else a short expression) and ids
are the drawing's too (`tinygrad_act.viz.node_ids`), so the page can point at what it explains.

>>> from tinygrad_act.expression import parse_expression
>>> o = parse_expression("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.8813735870195432})
>>> o.label = "o"
>>> o.backward()
>>> info = explain_graph(o)
>>> info[-1]["locals"][0]["text"]
'∂o/∂(x*w + b) = 1-a² = 1-0.7071² = 0.5'
>>> info[-2]["chain"]
'grad(x*w + b) = grad(o) × ∂o/∂(x*w + b) = 1 × 0.5 = 0.5'
"""

from __future__ import annotations

import math
import re

import numpy as np

from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.node_names import graph_names
from tinygrad_act.viz import node_ids

MAX_TERMS = 6  # a gradient made of more shares than this is summarised, not written out

# Local derivatives of the arithmetic ops, one template per input. {x} and {y} are the inputs,
# {z} the only input of a one-input op, {a} the output; they become names or numbers.
_TEMPLATES = {
    "+": ("1", "1"),
    "-": ("1", "-1"),
    "*": ("{y}", "{x}"),
    "/": ("1/{y}", "-{x}/{y}²"),
    "neg": ("-1",),
    "exp": ("e^{z}",),
    "log": ("1/{z}",),
    "**": ("{y}·{x}^({y}-1)", "{x}^{y}·log {x}"),
}
_INFIX = {"+": " + ", "-": " - ", "*": " × ", "/": " / ", "**": " ^ "}


def number(x):
    """A float as the drawings write it: 4 significant digits ('0.7071', '-1.5', '1e+06')."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    return f"{x + 0.0:.4g}"  # + 0.0: no '-0'


def drawing_order(root):
    """The nodes of `root`'s graph in the drawing's order: ``v0`` first, the root last."""
    return list(node_ids(root))


def node_names(order):
    """{node: name text} as the drawing writes them, for nodes in topological order."""
    return {node: name.text for node, name in graph_names(order).items()}


def local_derivatives(node, upstream=1.0):
    """What the node's backward rule passes to each input for an upstream gradient `upstream`:
    with 1, the local derivative along each input edge; with ``node.grad``, each input's share."""
    rule = node._rule
    if rule is None:
        return []
    inputs = [p.data for p in node._prev]
    with np.errstate(all="ignore"):
        try:
            shares = rule(upstream, node.data, *inputs)
        except ArithmeticError:  # Python floats raise (1/0); numpy's give inf, as the engine does
            shares = rule(*(np.float64(v) for v in (upstream, node.data, *inputs)))
    return [None if s is None else float(s) for s in shares]


def explain_graph(root):
    """One dict per node in topological order: id, name, op, data, grad, locals, equation, chain.

    ``locals`` lists, for each input of the node's op, ``{"input", "value", "text"}`` with the
    text ``∂out/∂in = formula = formula with numbers = value``; ``chain`` says how the node's
    gradient was made from the gradients of the nodes that use it.
    """
    ids = node_ids(root)
    order = list(ids)
    names = node_names(order)
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
        formulas = _formulas(node, names)
        for j, (p, local, text) in enumerate(
            zip(node._prev, derivatives[node], formulas, strict=True)
        ):
            share = shares[j] if shares else None
            row["locals"].append(
                {
                    "input": ids[p],
                    "value": local,
                    "text": _derivative_text(names[node], names[p], text, local),
                    "share": _share_text(node, p, names, local, share),
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
    """'x*w = 2 × -3 = -6', 'tanh(n) = tanh(0.8814) = 0.7071', or 'x = 2' for a leaf."""
    name = names[node]
    if not node._prev:
        return f"{name} = {number(node.data)}"
    values = [number(p.data) for p in node._prev]
    op = node._op
    if len(values) == 2 and op in _INFIX:
        left = _plug(values[0]) if op == "**" else values[0]
        computed = f"{left}{_INFIX[op]}{_plug(values[1])}"
    elif op == "neg":
        computed = f"-{_plug(values[0])}"
    elif op.startswith("**"):
        computed = f"{_plug(values[0])}^{op[2:]}"
    else:
        computed = f"{op}({', '.join(values)})"
    return f"{name} = {computed} = {number(node.data)}"


def _formulas(node, names):
    """(symbolic, with numbers) for each input edge, or (None, None) where the op has no template."""
    op, inputs = node._op, node._prev
    spec = ACTIVATIONS.get(op)
    params = getattr(node._rule, "params", {})
    if spec is not None and len(inputs) == 1:  # the lecture's notation: a the output, z the input
        written = spec.local_formula(**params)
        return [(written, _fill(_placeholders(written), node, names)[1])]
    if op.startswith("**") and op != "**":
        p = getattr(node._rule, "p", None)
        template = None if p is None else f"{number(p)}·{{z}}^{number(p - 1)}"
    else:
        templates = _TEMPLATES.get(op)
        if templates is None or len(templates) != len(inputs):
            return [(None, None)] * len(inputs)
        return [_fill(t, node, names) for t in templates]
    return [(None, None) if template is None else _fill(template, node, names)]


def _placeholders(formula):
    """A registry formula ('a(1-a)', '1 if z≥0 else 0.01') with a and z as {a} and {z}."""
    return re.sub(r"(?<![A-Za-z_])([az])(?![A-Za-z_])", r"{\1}", formula.replace("{", "{{"))


def _fill(template, node, names):
    inputs = node._prev
    symbols = {"a": names[node], "z": names[inputs[0]], "x": names[inputs[0]]}
    values = {"a": node.data, "z": inputs[0].data, "x": inputs[0].data}
    if len(inputs) == 2:
        symbols["y"], values["y"] = names[inputs[1]], inputs[1].data
    symbolic = template.format(**{k: _wrap_symbol(v, template) for k, v in symbols.items()})
    plugged = _fill_numbers(template, values)
    return symbolic, plugged


def _wrap_symbol(name, template):
    """A name inside a formula: bracketed unless it is a single word or number."""
    single = re.fullmatch(r"[\w.]+", name) is not None
    return name if single or template in ("{x}", "{y}", "{z}", "{a}") else f"({name})"


def _fill_numbers(template, values):
    """Numbers in place of the symbols; a multiplication dot where a number meets a bracket."""
    out = template
    for key, value in values.items():
        shown = number(value)
        if template != "{" + key + "}":
            shown = _plug(shown)
        out = out.replace("{" + key + "}", "\x01" + shown + "\x02")  # marks: start, end
    out = re.sub(r"\x02(?=[(A-Za-z0-9])", "\x02·", out)  # a(1-a) reads 0.62·(1-0.62)
    out = re.sub(r"(?<=[)A-Za-z0-9])\x01", "·\x01", out)  # 3z² reads 3·2²
    return re.sub("[\x01\x02]", "", out).replace("{{", "{").replace("}}", "}")


def _plug(text):
    """A number inside a formula: negative ones in brackets, so 1-(-0.5)² is not 1--0.5²."""
    return f"({text})" if text.startswith("-") else text


def _derivative_text(out, name, formulas, value):
    symbolic, plugged = formulas
    parts = [f"∂{_wrap_symbol(out, '')}/∂{_wrap_symbol(name, '')}"]
    shown = number(value) if value is not None else "?"
    for part in (symbolic, plugged):
        if part is not None and part != parts[-1] and part != shown:
            parts.append(part)
    parts.append(shown)
    return " = ".join(parts)


def _share_text(node, p, names, local, share):
    """The backward step along one edge: 'grad(n) += grad(o) × ∂o/∂n = 1 × 0.5 = 0.5'."""
    if share is None or not p.requires_grad:
        return f"{names[p]} is a constant: no gradient flows into it"
    out, name = _wrap_symbol(names[node], ""), _wrap_symbol(names[p], "")
    return (
        f"grad({names[p]}) += grad({names[node]}) × ∂{out}/∂{name} = "
        f"{_plug(number(node.grad))} × {_plug(number(local))} = {number(share)}"
    )


def _chain(node, root, names, uses, derivatives):
    """How backward made this node's gradient: the seed, or Σ grad(user) × ∂user/∂node."""
    if not node.requires_grad:
        return "no grad: a constant of the expression, backward gives it none"
    name = names[node]
    if node is root:
        return f"grad({name}) = 1: the seed, ∂{_wrap_symbol(name, '')}/∂{_wrap_symbol(name, '')}"
    symbolic, numeric = [], []
    if len(uses) > MAX_TERMS:  # a value used by many nodes: the sum, not every term
        return (
            f"grad({name}) = the sum of its {len(uses)} shares, one per use "
            f"(hover each user to see its share) = {number(node.grad)}"
        )
    for user, j in uses:
        local = derivatives[user][j]
        symbolic.append(
            f"grad({names[user]}) × ∂{_wrap_symbol(names[user], '')}/∂{_wrap_symbol(name, '')}"
        )
        numeric.append(f"{_plug(number(user.grad))} × {_plug(number(local))}")
    return f"grad({name}) = {' + '.join(symbolic)} = {' + '.join(numeric)} = {number(node.grad)}"
