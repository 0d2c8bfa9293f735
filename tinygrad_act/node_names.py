"""A short name for every node of a graph, so a drawing has no blank boxes.

A user's own ``label`` always wins. A model's parameters are named by ``named_parameters()``
(``layers.0.neurons.1.w.0``; ``0.weight`` rather than the module's own label ``weight``). An unlabelled constant is its number, and an
intermediate node is its expression when that is short (``x1*w1``, ``tanh(n)``), else its op and
shape (``tanh (5, 8)``). Nothing is written into the Values: the names live in the drawing.

>>> from tinygrad_act import Value
>>> x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
>>> n = x1 * w1 + 1.5
>>> o = n.tanh()
>>> names = graph_names([x1, w1, *n._prev, n, o])
>>> [names[v].text for v in (*n._prev, n, o)]
['x1*w1', '1.5', 'x1*w1 + 1.5', 'tanh(x1*w1 + 1.5)']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinygrad_act.formatting import number

MAX_EXPRESSION = 24  # characters: longer expressions read worse than "op and shape"

# How tightly each kind of expression binds, as in Python: a child binding less gets parentheses.
ADD, MUL, NEG, POW, CALL, ATOM = 1, 2, 3, 4, 5, 6
_INFIX = {"+": (" + ", ADD), "-": (" - ", ADD), "*": ("*", MUL), "/": ("/", MUL), "@": (" @ ", MUL)}
_ATOMIC = re.compile(r"[A-Za-z_][\w.]*|\d[\w.]*")


@dataclass(frozen=True)
class Name:
    """A node's name; `binding` is its precedence in an expression, None if it is no expression."""

    text: str
    binding: int | None

    @property
    def composable(self):
        """Whether the name can stand inside a larger expression (or after ∂/∂)."""
        return self.binding is not None

    def operand(self, tighter_than):
        """The name as an operand of an operator of precedence `tighter_than`, bracketed if needed."""
        if self.binding is not None and self.binding > tighter_than:
            return self.text
        return f"({self.text})"


def graph_names(nodes, model=None):
    """{node: Name} for `nodes`, given inputs before the nodes that use them (a topological order).

    `model` is anything with ``named_parameters()`` (a `tinygrad_act.nn.Module`): its parameters
    are named by their attribute paths unless they carry a label of their own.
    """
    params = {}
    if model is not None:
        if not hasattr(model, "named_parameters"):
            raise TypeError(
                f"model must have named_parameters() (an nn.Module), got {type(model).__name__}"
            )
        params = {id(p): name for name, p in model.named_parameters()}
    names = {}
    for node in nodes:
        names[node] = _name(node, names, params)
    return names


def _name(node, names, params):
    path = params.get(id(node))
    # A label wins, unless it is only the last part of the parameter's path: the name that the
    # module itself gave ("weight" of "0.weight"), which says less than the path.
    if node.label and not (path and path.rsplit(".", 1)[-1] == node.label):
        return Name(node.label, _binding_of_label(node.label))
    if path:
        return Name(path, ATOM)
    if not node._prev:
        return _leaf_name(node)
    inputs = [names.get(p) for p in node._prev]
    if all(n is not None and n.composable for n in inputs):
        text, binding = _expression(node._op, inputs)
        if len(text) <= MAX_EXPRESSION:
            return Name(text, binding)
    shape = "(scalar)" if node.is_scalar else str(node.shape)
    return Name(f"{node._op or '?'} {shape}", None)


def number_name(x):
    """A number as a name: `tinygrad_act.formatting.number`'s text (a str is taken as written),
    an atom, or a negative one that gets brackets as an operand.

    >>> number_name(-0.0), number_name(-2.5).operand(ATOM)
    (Name(text='0', binding=6), '(-2.5)')
    """
    text = x if isinstance(x, str) else number(x)
    return Name(text, NEG if text.startswith("-") else ATOM)


def _leaf_name(node):
    if node.is_scalar or node.size == 1:
        return number_name(node.data)
    kind = "tensor" if node.requires_grad else "constant"
    return Name(f"{kind} {node.shape}", None)


def _binding_of_label(label):
    if _ATOMIC.fullmatch(label):
        return ATOM
    if " + " in label or " - " in label:
        return ADD
    if re.search(r"[*/@]", label):
        return MUL
    return 0  # some other text: always bracketed inside an expression


def _expression(op, inputs):
    """(text, binding) of `op` applied to the input names."""
    x = inputs[0]
    if op in _INFIX and len(inputs) == 2:
        sign, binding = _INFIX[op]
        right = inputs[1].operand(binding if op in "-/@" else binding - 1)
        return f"{x.operand(binding - 1)}{sign}{right}", binding
    if op.startswith("**"):
        exponent = inputs[1].operand(POW) if len(inputs) == 2 else op[2:]
        return f"{x.operand(POW)}**{exponent}", POW
    if op == "neg":
        return f"-{x.operand(NEG)}", NEG
    if op == "[]":
        return f"{x.operand(CALL - 1)}[…]", CALL
    arguments = ", ".join(n.text for n in inputs)
    return f"{op}({arguments})", CALL
