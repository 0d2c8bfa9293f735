"""A traced graph as straight-line Python: the forward lines, then one line per gradient.

Each op is written as the engine computes it (the same numpy calls in the same order), so the
program's numbers equal the graph's bit for bit; each backward line carries the op's local
derivative from the one table of formulas (`tinygrad_act.formulas`) as its comment, and an
activation's line is the slide's formula itself (``dZ1 = dA1 * (1 - A1**2)  # tanh' = 1-a²``)
where it reads as Python. The backward lines come in the order of the engine's own pass, so a
node used twice sums its shares in the same order.

No user text is executed: a label becomes a name only if it is a plain Python identifier; any
other label, and every constant, reaches the program through its namespace, never its source.
"""

from __future__ import annotations

import ast
import functools
import inspect
import keyword
import re
from typing import NamedTuple

import numpy as np

from tinygrad_act import numeric, rules
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.engine import Value
from tinygrad_act.formulas import formula_key, formula_symbols, formula_text
from tinygrad_act.node_names import ATOM, Name

# An op's forward, as the engine computes it: {x}, {y} its inputs' names.
FORWARD = {
    "+": "{x} + {y}",
    "-": "{x} - {y}",
    "*": "{x} * {y}",
    "/": "{x} / {y}",
    "@": "{x} @ {y}",
    "neg": "-{x}",
    "exp": "exp({x})",
    "log": "log({x})",
    "sqrt": "sqrt({x})",
    "abs": "abs({x})",
}

# The share each input gets, as the op's rule computes it (g the upstream gradient, a the output).
BACKWARD = {
    "+": ("{g}", "{g}"),
    "-": ("{g}", "-{g}"),
    "*": ("{g} * {y}", "{g} * {x}"),
    "/": ("{g} / {y}", "-{g} * {a} / {y}"),  # -x/y² from the output: -a/y
    "neg": ("-{g}",),
    "exp": ("{g} * {a}",),
    "log": ("{g} / {x}",),
    "sqrt": ("{g} / (2 * {a})",),
    "abs": ("{g} * sign({x})",),
    "@": ("{g} @ {y}.T", "{x}.T @ {g}"),
}

# A graph larger than this (micrograd's demo step has 65,818 nodes) is written without the
# comments: nobody reads them there, and they are a fifth of the time it takes to write the code.
COMMENTED_NODES = 5000
SUPPORTED = (*FORWARD, "**p", "sum", "mean", "transpose", "reshape", "[]")
_ELEMENTWISE = {"+", "-", "*", "/", "**"}  # shares of the output's shape: broadcasting summed back
_RESERVED = {
    "np",
    "exp",
    "log",
    "sqrt",
    "pow_",
    "expand",
    "scatter",
    "sign",
    "abs",
    "float",
    "traced",
}


class Program(NamedTuple):
    source: str  # the function's text, each backward line with its local derivative as a comment
    runnable: str  # the same without the comments: a large graph's source compiles faster
    namespace: dict  # what its names refer to besides its arguments (numpy, constants, rows)
    arg_names: tuple  # its arguments: the traced args, then the parameters reached from fn
    grads: tuple  # the parameters whose gradients it returns, in order


class UnsupportedOp(NotImplementedError):
    """An op the code generator does not write yet."""


def generate(t):
    """The `Program` of trace `t`."""
    names = _Names(t)
    namespace = {"np": np, "exp": numeric.exp, "log": numeric.log, "sqrt": numeric.sqrt}
    namespace.update(pow_=numeric.pow_, expand=rules.expand, scatter=rules.scatter, sign=rules.sign)
    const = _Constants(namespace)
    leaves_in = [*t.args, *(p for p in t.params if all(p is not a for a in t.args))]
    arg_names = tuple(names.value(v) for v in leaves_in)
    needs = _needing_gradient(t)

    lines = [f"def traced({', '.join(arg_names)}):"]
    for node in t.nodes:
        if not node._prev:
            if all(node is not v for v in leaves_in):
                names.bind(node, const.of(node.data))
            continue
        if node._op == "cross_entropy":
            lines += _cross_entropy_forward(node, names, t.labels, namespace)
            continue
        lines.append(f"    {names.value(node)} = {_forward(node, names, namespace)}")

    # node -> the name holding its gradient so far: a share passed on as it is (x + y gives both
    # inputs g) is not copied into a name of its own, the way the engine passes the same array on.
    current = {}
    comments = {}  # line number -> the local derivative it applies
    commenting = len(t.nodes) <= COMMENTED_NODES
    g_root = names.grad(t.root)
    seed = "1.0" if type(t.root.data) is float else f"np.ones_like({names.value(t.root)})"
    lines.append(f"    {g_root} = {seed}")
    current[t.root] = g_root
    for node in _backward_order(t.root):
        if node not in needs or not node._prev:
            continue
        g = current[node]
        for index, p in enumerate(node._prev):
            if p not in needs:
                continue
            if node._op == "cross_entropy":
                lines += _cross_entropy_backward(node, g, names)
                expr, comment = f"{g}_z", "(softmax(z) - onehot)/n"
            else:
                expr, comment = _share(node, index, g, names, namespace, commenting)
            expr = _fitted(expr, node, p)
            if p not in current and expr.isidentifier() and names.generated(p):
                current[p] = expr
                continue
            target = names.grad(p)
            line = f"{target} = {expr}" if p not in current else f"{target} = {current[p]} + {expr}"
            current[p] = target
            lines.append(f"    {line}")
            if commenting:
                comments[len(lines) - 1] = comment
    grads = tuple(p for p in t.params if p in needs)
    returned = ", ".join(current.get(p, "None") for p in grads)
    returned = f"{names.value(t.root)}, ({returned}{',' if len(grads) == 1 else ''})"
    if t.aux:  # what fn returned beside the loss
        returned += (
            f", ({', '.join(names.value(v) for v in t.aux)}{',' if len(t.aux) == 1 else ''})"
        )
    lines.append(f"    return {returned}")
    commented = [
        f"{line}  # {comments[i]}" if comments.get(i) else line for i, line in enumerate(lines)
    ]
    source, runnable = ("\n".join(text) + "\n" for text in (commented, lines))
    return Program(source, runnable, namespace, arg_names, grads)


def _cross_entropy_forward(node, names, labels, namespace):
    """nn.cross_entropy's lines: log_softmax, each row's label picked, the mean's negative; the
    labels are an argument of the program if the trace was given them, else a constant."""
    (z,) = node._prev
    n, c = z.shape
    rule, a = node.rule, names.value(node)
    given = rule.at_label - np.arange(0, n * c, c)
    source = next((names.value(y) for y in labels if y.shape == (n,) and (y == given).all()), None)
    if source is None:
        source = f"_c{len([k for k in namespace if k.startswith('_c')])}"
        namespace[source] = given
    namespace.setdefault("log_softmax", ACTIVATIONS["log_softmax"].forward)
    zn = names.value(z)
    return [
        f"    {a}_logp = log_softmax({zn})",
        f"    {a}_at = np.arange(0, {n * c}, {c}) + {source}  # each row's label, flattened",
        f"    {a} = np.array(-float({a}_logp.take({a}_at).sum()) / {n}, dtype={z.dtype.name!r})",
    ]


def _cross_entropy_backward(node, g, names):
    a = names.value(node)
    n = node._prev[0].shape[0]
    return [
        f"    {g}_z = np.exp({a}_logp)  # softmax(z)",
        f"    {g}_z.reshape(-1)[{a}_at] -= 1  # - onehot",
        f"    {g}_z *= float({g}) / {n}",
    ]


def _needing_gradient(t):
    """The nodes on a path from the loss down to a parameter: only they get a gradient line."""
    params = {id(p) for p in t.params}
    needs = set()
    for node in t.nodes:  # inputs before the nodes that use them
        if id(node) in params or any(p in needs for p in node._prev):
            needs.add(node)
    return needs


def _backward_order(root):
    """The nodes in the order the engine's pass pops them (Kahn's algorithm, last ready first),
    so the shares of a node used twice are summed in the engine's order."""
    uses = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node._prev:
            if p.requires_grad:
                uses[p] = uses.get(p, 0) + 1
                if uses[p] == 1:
                    stack.append(p)
    ready = [root]
    while ready:
        node = ready.pop()
        yield node
        for p in node._prev:
            if p.requires_grad:
                uses[p] -= 1
                if not uses[p]:
                    ready.append(p)


def _forward(node, names, namespace):
    op, rule = node._op, node.rule
    x = names.value(node._prev[0])
    y = names.value(node._prev[1]) if len(node._prev) > 1 else None
    if op in FORWARD:
        if op == "@" and not (node._prev[0].ndim == 2 and node._prev[1].ndim == 2):
            raise UnsupportedOp("compile writes @ of two matrices only")
        return FORWARD[op].format(x=x, y=y)
    if op.startswith("**") and op != "**":
        return f"pow_({x}, {rule.p!r})"
    if op in ("sum", "mean"):
        return f"{x}.{op}(axis={rule.axis!r}, keepdims={rule.keepdims!r})"
    if op == "transpose":
        return f"{x}.transpose({_inverse(rule.inverse)!r})"
    if op == "reshape":
        return f"{x}.reshape({node.shape!r})"
    if op == "[]":
        return f"{x}[{_index(rule.index, namespace)}]"
    spec = ACTIVATIONS.get(op)
    if spec is not None and spec.derivative is not None:
        namespace.setdefault(op, spec.forward)
        plain = not node.is_scalar or type(spec.forward(node._prev[0].data)) is float
        cast = "{}" if plain else "float({})"
        return cast.format(f"{op}({x}{_keywords(rule)})")
    raise UnsupportedOp(
        f"compile does not write the op {op!r} yet; it writes {', '.join(SUPPORTED)} and the "
        "elementwise activations (call the function uncompiled for the others)"
    )


def _keywords(rule):
    params = getattr(rule, "params", None) or {}
    return "".join(f", {k}={v!r}" for k, v in params.items())


def _index(index, namespace):
    """An index written out if it is ints and plain slices, else a name in the namespace."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(
        type(p) is int
        or type(p) is slice
        and all(type(b) in (int, type(None)) for b in (p.start, p.stop, p.step))
        for p in parts
    ):
        text = ", ".join(_slice_text(p) for p in parts)
        return (
            text
            if isinstance(index, tuple) and len(parts) > 1
            else text + ("," if isinstance(index, tuple) else "")
        )
    name = f"_i{sum(k.startswith('_i') and k[2:].isdigit() for k in namespace)}"
    namespace[name] = index
    return name


def _slice_text(p):
    if type(p) is int:
        return repr(p)
    ends = ["" if b is None else repr(b) for b in (p.start, p.stop)]
    return ":".join(ends) + ("" if p.step is None else f":{p.step!r}")


def _inverse(axes):
    return tuple(int(i) for i in np.argsort(axes))


def _share(node, index, g, names, namespace, commenting=True):
    """(the share of input `index` as an expression, the local derivative's formula as a comment)."""
    op, rule = node._op, node.rule
    symbols = {"g": g, "a": names.value(node), "x": names.value(node._prev[0])}
    if len(node._prev) > 1:
        symbols["y"] = names.value(node._prev[1])
    comment = _comment(node, index, names) if commenting else None
    if op in BACKWARD:
        return BACKWARD[op][index].format(**symbols), comment
    x = symbols["x"]
    if op.startswith("**") and op != "**":
        return f"{g} * {rule.p!r} * pow_({x}, {rule.p_minus_1!r})", comment
    if op in ("sum", "mean"):
        shape = node._prev[0].shape
        if rule.keepdims or rule.axis is None:
            share = f"np.broadcast_to({g}, {shape!r})"
        else:  # the reduced axes put back as ones first
            share = f"expand({g}, {shape!r}, {rule.axis!r}, False)"
        return (share if rule.scale == 1 else f"{share} * {rule.scale!r}"), comment
    if op == "transpose":
        return f"{g}.transpose({tuple(int(i) for i in rule.inverse)!r})", comment
    if op == "reshape":
        return f"{g}.reshape({node._prev[0].shape!r})", comment
    if op == "[]":
        index = _index(rule.index, namespace)
        index = index if index.isidentifier() else f"np.s_[{index}]"
        return f"scatter({g}, {index}, {node._prev[0].shape!r})", comment
    spec = ACTIVATIONS[op]
    written = _slide_as_python(spec, node)
    if written is None:  # the slide's words (a mask, σ) as the registry's function g'(z, a)
        namespace.setdefault(f"{op}_prime", spec.derivative)
        written = f"{op}_prime({x}, {symbols['a']}{_keywords(rule)})"
    else:
        put = {"z": x, "a": symbols["a"]}
        written = "(" + _SYMBOL.sub(lambda m: put[m.group()], written) + ")"
    return (
        f"{g} * {written}",
        f"{op}' = {spec.local_formula(**(getattr(rule, 'params', None) or {}))}",
    )


def _comment(node, index, names):
    """The op's local derivative from the table of formulas, in the program's names: ∂v3/∂x = -v2/x²."""
    op, params = formula_key(node._op, node.rule)
    if op in ACTIVATIONS:
        return None
    template = _formula_template(op, index, len(node._prev), tuple(sorted(params.items())))
    if template is None:
        return None
    put = {"x": names.value(node._prev[0]), "a": names.value(node)}
    put["y" if len(node._prev) > 1 else "z"] = names.value(node._prev[-1])
    text = _MARK.sub(lambda m: put[m.group(1)], template)
    return f"∂{names.value(node)}/∂{names.value(node._prev[index])} = {text}"


_MARK = re.compile("\x01(.)\x02")


@functools.cache
def _formula_template(op, index, n_inputs, params):
    """The table's formula with a mark for each symbol, made once per op (a graph has many nodes)."""
    marks = [Name(f"\x01{s}\x02", ATOM) for s in "xy"[:n_inputs]]
    symbols = formula_symbols(marks, Name("\x01a\x02", ATOM))
    if n_inputs == 1:
        symbols["z"] = Name("\x01z\x02", ATOM)
    text = formula_text(op, index, symbols, dict(params))
    return None if text in (None, "1", "-1") else text


_SYMBOL = re.compile(r"\b[za]\b")
_IMPLICIT = re.compile(r"(?<=[a-z0-9)])(?=[a(])")


def _slide_as_python(spec, node):
    """The slide's g' (``a(1-a)``, ``1-a²``) as Python over z and a, if it is plain arithmetic that
    gives the registry's derivative bit for bit on the traced values; else None."""
    params = getattr(node.rule, "params", None) or {}
    text = _IMPLICIT.sub("*", spec.local_formula(**params).replace("²", "**2"))
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    allowed = (ast.Expression, ast.BinOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub)
    allowed += (ast.Mult, ast.Pow)
    if not all(isinstance(n, allowed) for n in ast.walk(tree)):
        return None
    if {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {"z", "a"}:
        return None
    code = ast.unparse(tree).replace(" ** ", "**")
    z, a = node._prev[0].data, node.data
    with np.errstate(all="ignore"):
        mine = eval(code, {}, {"z": z, "a": a})  # noqa: S307 (the registry's own formula, parsed above)
        theirs = spec.derivative(z, a, **params)
    if np.asarray(mine).tobytes() != np.asarray(theirs).tobytes():
        return None
    return code


def _fitted(expr, node, p):
    """The share summed back to its input's shape where the op broadcast it (the engine's sum_to,
    written out): ``db1 = dZ1.sum(axis=1, keepdims=True)``."""
    if node._op not in _ELEMENTWISE:
        return expr
    shape, out = p.shape, node.shape
    if p.is_scalar and not node.is_scalar:
        return f"float(np.sum({expr}))"
    if shape == out:
        return expr
    inner = expr if _is_atom(expr) else f"({expr})"
    lead = len(out) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and out[lead + i] != 1
    )
    axis = axes[0] if len(axes) == 1 else axes
    if lead == 0:
        return f"{inner}.sum(axis={axis!r}, keepdims=True)"
    if out[lead:] == shape:
        return f"{inner}.sum(axis={axis!r})"
    return f"{inner}.sum(axis={axis!r}).reshape({shape!r})"


def _is_atom(expr):
    return expr.isidentifier()


class _Names:
    """Each node's value and gradient name: its label where that is a plain identifier (A1, dA1),
    else a short generated one (v7, dv7)."""

    def __init__(self, t):
        self._value, self._grad, self._taken = {}, {}, set(_RESERVED)
        self._taken |= {*ACTIVATIONS, *(f"{name}_prime" for name in ACTIVATIONS)}
        self._count = 0
        order = [*t.args, *t.params, *t.nodes]
        given = _parameter_names(t.fn)
        for i, a in enumerate(t.args):
            fallback = given[i] if i < len(given) else f"x{i}"
            label = a.label if isinstance(a, Value) else ""
            self._value[id(a)] = self._fresh(label, fallback if _usable(fallback) else f"x{i}")
        params = {id(p) for p in t.params}
        for v in order:
            if isinstance(v, Value) and id(v) not in self._value and (v._prev or id(v) in params):
                self._value[id(v)] = self._fresh(v.label, None)
        for v in t.nodes:
            if id(v) in self._value:
                self._grad[id(v)] = self._fresh("d" + self._value[id(v)], None)

    def _fresh(self, label, fallback):
        if _usable(label) and label not in self._taken:
            name = label
        elif fallback is not None and fallback not in self._taken:
            name = fallback
        else:
            while f"v{self._count}" in self._taken:
                self._count += 1
            name = f"v{self._count}"
        self._taken.add(name)
        return name

    def generated(self, node):
        """Whether the node's name was made up (v7), not its label: its gradient may go unnamed."""
        return not (isinstance(node, Value) and node.label == self._value.get(id(node)))

    def bind(self, node, text):
        self._value[id(node)] = text

    def value(self, node):
        return self._value[id(node)]

    def grad(self, node):
        return self._grad[id(node)]


def _usable(text):
    """A label that can be a name: an identifier, no keyword, not private (constants are _c0, _i0)."""
    return text.isidentifier() and not keyword.iskeyword(text) and not text.startswith("_")


def _parameter_names(fn):
    """The names of fn's positional parameters (X, Y), for the arguments the trace was given."""
    try:
        found = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in found if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


class _Constants:
    """A constant as a literal if it is a plain number, else as a name in the namespace."""

    def __init__(self, namespace):
        self._namespace, self._count = namespace, 0

    def of(self, data):
        if type(data) is float and np.isfinite(data):
            return f"({data!r})" if data < 0 else repr(data)
        name = f"_c{self._count}"
        self._count += 1
        self._namespace[name] = data
        return name
