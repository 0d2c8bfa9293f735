"""Drawing a `Value` graph with Graphviz: data, gradients, local derivatives, and backprop step by step.

Import it as a submodule (``from tinygrad_act.viz import draw_dot``): the engine never imports it,
and ``import tinygrad_act`` does not load Graphviz.

Each value is a record node ``label | data | grad`` (a tensor adds ``shape dtype``); each op is a
small separate node between its inputs and its output. Leaves are blue (constants grey), the root
green with a thick border, activation ops amber. Node ids follow the topological order (``v0`` is
an input, the root comes last), so the same graph always gives byte-identical DOT source.
"""

from __future__ import annotations

import collections
import math
import os
import re
from pathlib import Path

import graphviz
import numpy as np

from tinygrad_act.engine import Value
from tinygrad_act.files import write_atomically

FORMATS = ("svg", "png", "pdf", "dot")
RANKDIRS = ("LR", "TB", "RL", "BT")

_LEAF, _CONSTANT, _ROOT, _INNER = "#dbeafe", "#f3f4f6", "#dcfce7", "#ffffff"
_ACTIVATION, _OP, _NOTE, _HIGHLIGHT = "#fde68a", "#ffffff", "#fee2e2", "red"
_PENDING = object()  # a gradient the backward pass has not reached yet (step frames)

# The local derivative of each input, in the engine's notation: x, y the inputs, a the output.
_FORMULAS = {
    "+": ("1", "1"),
    "-": ("1", "-1"),
    "*": ("y", "x"),
    "/": ("1/y", "-a/y"),
    "neg": ("-1",),
    "exp": ("a",),
    "log": ("1/z",),
    "**": ("e·b^(e-1)", "a·log b"),
    "@": ("g@yᵀ", "xᵀ@g"),
    "sum": ("1",),
    "mean": ("1/n",),
    "max": ("1 at the max",),
    "reshape": ("g reshaped back",),
    "transpose": ("g transposed back",),
    "broadcast": ("g summed back",),
    "[]": ("g scattered back",),
    "scatter": ("g[index]",),
}


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed (the Python package only wraps it)."""


def draw_dot(root, rankdir="LR", show_grad=True, max_nodes=200, show_local=False):
    """The graph ending at `root` as a ``graphviz.Digraph`` (it displays inline in Jupyter).

    At most `max_nodes` values are drawn, the ones nearest the root (breadth-first); a note in
    the picture says how many were left out. ``show_local=True`` labels each edge into an op with
    the local derivative backprop multiplies along it, e.g. ``1-a² = 0.5`` into a tanh.

    >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    >>> dot = draw_dot((x * w).tanh())
    >>> dot.source.splitlines()[4].strip()
    'v0 [label="{ x | data 2 | grad 0 }" fillcolor="#dbeafe" shape=record style=filled]'
    """
    _check_args(root, rankdir, max_nodes)
    picture = _Picture(root, max_nodes)
    return picture.digraph(rankdir, _current_grad if show_grad else None, show_local)


def save_graph(root, path, **draw_kwargs):
    """Draw `root`'s graph into `path`; the format follows the extension (.svg .png .pdf .dot).

    Writing ``.dot`` needs no Graphviz program; the other formats run ``dot``. Returns the path.

    >>> import os, tempfile
    >>> out = save_graph(Value(1.0, label="x").exp(), os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> out.read_text().startswith("digraph")
    True
    """
    path = Path(path)
    fmt = _format_of(path)
    _render(draw_dot(root, **draw_kwargs), path, fmt)
    return path


def draw_backward_steps(root, out_dir, fmt="svg", *, rankdir="LR", max_nodes=200, max_steps=200):
    """Write one frame per backward step, then run the real ``root.backward()``; return the paths.

    Frames ``step-000.svg``, ``step-001.svg``, ... follow the reverse topological order, one per op:
    each highlights the op whose local gradient is applied, names its formula (``a(1-a)``,
    ``1-a²``, ...) and shows the gradients this backward pass has filled in so far. The last frame
    shows them all. The frames are computed on a dictionary of their own; afterwards the graph's
    ``.grad`` values are exactly what a plain ``root.backward()`` gives.

    At most `max_steps` step frames are drawn (the first ones, nearest the output), then the last
    frame, which says how many steps were left out: each frame runs Graphviz once.

    >>> import tempfile
    >>> x = Value(0.0, label="x")
    >>> paths = draw_backward_steps((x * 2).sigmoid(), tempfile.mkdtemp(), fmt="dot")
    >>> [p.name for p in paths], x.grad
    (['step-000.dot', 'step-001.dot', 'step-002.dot'], 0.5)
    """
    _check_args(root, rankdir, max_nodes)
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    fmt = _check_format(fmt)
    seed = _seed(root)
    picture = _Picture(root, max_nodes)
    order = list(reversed(_topological_order(root)))
    steps = sum(1 for n in order if n._rule is not None)
    width = max(3, len(str(min(steps, max_steps))))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (grads, node, title) in enumerate(_backward_frames(order, seed, steps, max_steps)):
        dot = picture.digraph(
            rankdir,
            lambda n, grads=grads: grads.get(n, _PENDING),
            show_local=False,
            highlight=node,
            title=title,
        )
        path = out_dir / f"step-{k:0{width}d}.{fmt}"
        _render(dot, path, fmt)
        paths.append(path)
    root.backward()
    return paths


# ---- the backward pass, frame by frame -------------------------------------------------------------


def _backward_frames(order, seed, steps, max_steps):
    """(gradients so far, node, title) after each of the first `max_steps` ops' steps, as the
    engine's backprop loop runs, then the final gradients (every step applied).

    Gradients are summed into new objects, never in place, so the graph's own ``.grad`` and the
    arrays a rule returns are never touched.
    """
    grads = {order[0]: seed}
    k = 0
    for node in order:
        rule = node._rule
        if rule is None:
            continue
        k += 1
        g = grads[node]
        with np.errstate(all="ignore"):
            inputs = _apply(rule, g, node)
            for p, pg in zip(node._prev, inputs, strict=True):
                if not p.requires_grad:
                    continue  # a constant: backward gives it no gradient
                pg = _fit(pg, p)
                grads[p] = grads[p] + pg if p in grads else pg
        if k > max_steps:
            continue  # applied, not drawn
        pairs = zip(_formulas(node), _locals(node), strict=False)
        title = (
            f"backward step {k} of {steps}: {node._op}\n"
            f"local gradient{'s (one per input)' if len(node._prev) > 1 else ''} "
            f"{', '.join(_equation(f, x) for f, x in pairs)}\n"
            f"each input's grad += grad {_short(g)} × local gradient"
        )
        yield grads, node, title
    done = f"backward done: all {len(grads)} gradients filled in"
    if steps > max_steps:
        left = steps - max_steps
        done += f"\n{left} more backward steps applied but not drawn (max_steps={max_steps})"
    yield grads, None, done


def _topological_order(root):
    """Inputs before the nodes that use them, each node's inputs in `_prev` order (x before w).

    Iterative, so a chain of any depth is fine; the numbering of nodes in drawings follows it.
    """
    order, seen = [], {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for p in inputs:
            if p not in seen:
                seen.add(p)
                stack.append((p, iter(p._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


# ---- the picture -----------------------------------------------------------------------------------


class _Picture:
    """The nodes kept for drawing, numbered in topological order, and the note about the rest."""

    def __init__(self, root, max_nodes):
        self.root = root
        kept = {root}
        queue = collections.deque([root])
        while queue and len(kept) < max_nodes:
            for p in queue.popleft()._prev:
                if p not in kept and len(kept) < max_nodes:
                    kept.add(p)
                    queue.append(p)
        order = _topological_order(root)
        self.nodes = [n for n in order if n in kept]
        self.ids = {n: f"v{i}" for i, n in enumerate(self.nodes)}
        self.left_out = len(order) - len(self.nodes)
        self.max_nodes = max_nodes

    def digraph(self, rankdir, grad_of, show_local, highlight=None, title=None):
        dot = graphviz.Digraph(name="tinygrad_act", format="svg")
        dot.attr(rankdir=rankdir, fontname="Helvetica")
        if title is not None:
            dot.attr(label=_plain(title, keep_newlines=True), labelloc="t", fontsize="12")
        dot.attr("node", fontname="Helvetica", fontsize="11")
        dot.attr("edge", fontname="Helvetica", fontsize="9", color="#555555")
        cut = []
        for i, node in enumerate(self.nodes):
            vid = self.ids[node]
            style = {"shape": "record", "style": "filled", "fillcolor": self._fill(node)}
            if node is self.root:
                style["penwidth"] = "2"
            if node is highlight:
                style.update({"color": _HIGHLIGHT, "penwidth": "3", "class": "highlight"})
            dot.node(vid, graphviz.nohtml(_record(node, grad_of)), **style)
            if not node._prev:
                continue
            oid = f"o{i}"
            dot.node(oid, graphviz.nohtml(_plain(node._op or "?")), **_op_style(node, highlight))
            dot.edge(oid, vid)
            locals_ = _locals(node) if (show_local or node is highlight) else None
            named = node is highlight or getattr(node._rule, "spec", None) is not None
            formulas = _formulas(node) if named else None
            for j, p in enumerate(node._prev):
                if p not in self.ids:
                    cut.append(oid)
                    continue
                attrs = {}
                if locals_ is not None and locals_[j] is not None:
                    text = _equation(formulas[j], locals_[j]) if formulas else _show(locals_[j])
                    attrs["label"] = graphviz.nohtml(_plain(text))
                    if node is highlight:
                        attrs.update(fontcolor=_HIGHLIGHT, color=_HIGHLIGHT, penwidth="2")
                dot.edge(self.ids[p], oid, **attrs)
        if self.left_out:
            note = (
                f"… {self.left_out} more nodes left out\\n"
                f"(max_nodes={self.max_nodes}: showing the {len(self.nodes)} nearest the output)"
            )
            dot.node("left_out", note, shape="note", style="filled", fillcolor=_NOTE)
            for oid in dict.fromkeys(cut):
                dot.edge("left_out", oid, style="dashed", arrowhead="none")
        return dot

    def _fill(self, node):
        if node is self.root:
            return _ROOT
        if node._prev:
            return _INNER
        return _LEAF if node.label else _CONSTANT


def _op_style(node, highlight):
    style = {"shape": "ellipse", "style": "filled", "fillcolor": _OP, "fontsize": "10"}
    style.update(width="0.3", height="0.3", margin="0.04")
    if getattr(node._rule, "spec", None) is not None:
        style.update(fillcolor=_ACTIVATION, fontname="Helvetica-Bold")
    if node is highlight:
        style.update({"color": _HIGHLIGHT, "penwidth": "3", "class": "highlight"})
    return style


def _record(node, grad_of):
    fields = [_field(node.label)]
    if not node.is_scalar:
        fields.append(_field(f"{node.shape} {node.dtype}"))
    fields.append(_field(f"data {_show(node.data)}"))
    if grad_of is not None:
        if not node.requires_grad:
            fields.append(_field("no grad"))  # a constant: nothing flows back into it
        else:
            grad = grad_of(node)
            fields.append(_field("grad –" if grad is _PENDING else f"grad {_show(grad)}"))
    return "{ " + " | ".join(fields) + " }"


def _current_grad(node):
    grad = node._grad  # not .grad: reading that would create the zeros it stands for
    if grad is None:
        return np.zeros_like(node.data)
    return grad.data if isinstance(grad, Value) else grad


def _locals(node):
    """The local derivative along each input edge: the node's rule applied to an upstream 1."""
    if node._rule is None:
        return [None] * len(node._prev)
    with np.errstate(all="ignore"):
        grads = _apply(node._rule, _one(node), node)
    return [None if g is None else _fit(g, p) for p, g in zip(node._prev, grads, strict=True)]


def _one(node):
    """An upstream gradient of 1 in the node's form: backprop through it gives the local derivative."""
    return 1.0 if node.is_scalar else np.ones_like(node.data)


def _equation(formula, local):
    """'1-a² = 0.5', or just '1' when the formula is already the number."""
    number = _show(local)
    return number if formula == number else f"{formula} = {number}"


def _apply(rule, g, node):
    """A node's rule on raw data, as a plain backward pass calls it."""
    inputs = [p.data for p in node._prev]
    try:
        return rule(g, node.data, *inputs)
    except ArithmeticError:  # float math raised (x/0, overflow): numpy scalars give inf/nan instead
        as_np = [np.float64(x) if type(x) is float else x for x in (g, node.data, *inputs)]
        return [float(r) if isinstance(r, np.floating) else r for r in rule(*as_np)]


def _fit(g, node):
    """A gradient in its node's form: a float for a scalar, broadcast axes summed away for a tensor."""
    if node.is_scalar:
        return g if type(g) is float else float(np.sum(g))
    g = np.asarray(g, dtype=node.dtype)
    lead = g.ndim - node.ndim
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(node.shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.broadcast_to(g, node.shape) if g.shape != node.shape else g


def _seed(root):
    if root.size != 1:
        raise ValueError(
            f"draw_backward_steps needs a root with one element; this one has shape {root.shape}"
        )
    return 1.0 if root.is_scalar else np.ones(root.shape, dtype=root.dtype)


def _formulas(node):
    """The local derivative of each input as text: the registry's formula for an activation."""
    rule = node._rule
    spec = getattr(rule, "spec", None)
    if spec is not None:
        return (spec.local_formula(**rule.params),)
    p = getattr(rule, "p", None)
    if node._op.startswith("**") and p is not None:
        return (f"{p:g}·z^{p - 1:g}",)
    return _FORMULAS.get(node._op, ("?",) * len(node._prev))


# ---- text --------------------------------------------------------------------------------------------


def _show(x):
    """4 significant digits for a scalar; a tensor's values up to 6 elements, else min/mean/max."""
    if isinstance(x, Value):
        x = x.data
    if isinstance(x, (float, int, np.floating)):
        return _num(x)
    x = np.asarray(x)
    if x.size <= 6:
        text = np.array2string(x, formatter={"all": _num}, separator=", ")
        return " ".join(text.split())
    with np.errstate(all="ignore"):
        return f"min {_num(x.min())} mean {_num(x.mean())} max {_num(x.max())}"


def _short(x):
    return _show(x) if isinstance(x, (float, int, np.floating)) or np.size(x) <= 6 else "(tensor)"


def _num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    return f"{v:.4g}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_LINE = 200  # characters of one line of text in a picture: dot chokes on huge strings


def _plain(text, keep_newlines=False):
    """Text safe inside a quoted DOT string: backslashes and quotes escaped, runs of spaces
    collapsed, control characters (a NUL ends dot's strings) and lone surrogates written as
    escapes, and each line cut to `_MAX_LINE` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    lines = text.split("\n") if keep_newlines else [text]
    text = "\n".join(_shorten(_CONTROL.sub(_escape, " ".join(line.split()))) for line in lines)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape(match):
    return f"\\x{ord(match.group()):02x}"


def _shorten(line):
    if len(line) <= _MAX_LINE:
        return line
    return f"{line[: _MAX_LINE - 30]}… ({len(line):,} characters)"


def _field(text):
    """A record field: record syntax characters escaped too."""
    return re.sub(r"([{}|<>])", r"\\\1", _plain(text))


# ---- files --------------------------------------------------------------------------------------------


def _check_args(root, rankdir, max_nodes):
    if not isinstance(root, Value):
        raise TypeError(f"draw a Value, not {type(root).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")


def _check_format(fmt):
    if not isinstance(fmt, str) or fmt.lower().lstrip(".") not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    return fmt.lower().lstrip(".")


def _format_of(path):
    ext = path.suffix.lower()
    if ext.lstrip(".") not in FORMATS:
        accepted = ", ".join("." + f for f in FORMATS)
        raise ValueError(f"cannot tell the format of {str(path)!r}: use one of {accepted}")
    return ext.lstrip(".")


def _render(dot, path, fmt):
    if fmt == "dot":
        write_atomically(path, lambda f: f.write(dot.source.encode("utf-8")), durable=False)
        return
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            f"cannot write {os.fspath(path)!r}: Graphviz's `dot` program is not on PATH; install it "
            "(`apt-get install graphviz` or `brew install graphviz`), or save as .dot"
        ) from None
    write_atomically(path, lambda f: f.write(data), durable=False)  # never half a picture
