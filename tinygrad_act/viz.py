"""Drawing a `Value` graph with Graphviz: data, gradients, local derivatives, and backprop step by step.

Import it as a submodule (``from tinygrad_act.viz import draw_dot``): the engine never imports it,
and ``import tinygrad_act`` does not load Graphviz.

Each value is a record node ``name | data | grad`` (a tensor adds ``shape dtype``); each op is a
small separate node between its inputs and its output. A node without a label is named by
`tinygrad_act.node_names` (``x1*w1``, ``tanh(n)``, ``layers.0.w``). Leaves are blue (constants
grey), the root green with a thick border, activation ops amber. Node ids follow the topological
order (``v0`` is an input, the root comes last), so the same graph always gives byte-identical DOT
source, and a record is as wide as its widest possible gradient, so pictures of the same graph
before, during and after backward put every node in the same place.
"""

from __future__ import annotations

import collections
import dataclasses
import html
import math
import os
import re
from pathlib import Path

import graphviz
import numpy as np

from tinygrad_act.backprop import topological_order
from tinygrad_act.engine import Value
from tinygrad_act.files import write_atomically
from tinygrad_act.formulas import formula_key, formula_symbols, formula_text, uses_output
from tinygrad_act.forward import tangent
from tinygrad_act.node_names import ATOM, graph_names

FORMATS = ("svg", "png", "pdf", "dot")
RANKDIRS = ("LR", "TB", "RL", "BT")

_LEAF, _CONSTANT, _ROOT, _INNER = "#dbeafe", "#f3f4f6", "#dcfce7", "#ffffff"
_ACTIVATION, _OP, _NOTE, _HIGHLIGHT = "#fde68a", "#ffffff", "#fee2e2", "red"
_PENDING = object()  # a gradient the backward pass has not reached yet (step frames)
_NODE_SIZE, _EDGE_SIZE, _TITLE_SIZE = 11, 10, 12  # font sizes in points
_WIDEST = -8.888e-188  # the widest number `_show` writes (4 digits, signs, an exponent)
_FIELD_PADDING = 17  # points Graphviz adds beside a record field's text


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed (the Python package only wraps it)."""


def draw_dot(
    root,
    format="svg",
    rankdir="LR",
    show_grad=True,
    max_nodes=200,
    show_local=False,
    *,
    model=None,
):
    """The graph ending at `root` as a ``graphviz.Digraph`` (it displays inline in Jupyter).

    The first three parameters are micrograd's: ``draw_dot(root, format="svg", rankdir="LR")``.
    Every node is named: by its own ``label``, else by `model`'s ``named_parameters()`` (pass the
    `nn` model whose parameters are in the graph), else by its expression when that is short
    (``x*w``, ``tanh(n)``), else by its op and shape. At most `max_nodes` values are drawn, the
    ones nearest the root (breadth-first); a note in the picture says how many were left out.
    ``show_local=True`` labels each edge into an op with the local derivative backprop multiplies
    along it, e.g. ``∂/∂n = 1-a² = 0.5`` into a tanh, ``∂/∂x = w = -3`` into ``x*w``. In Jupyter
    a graph wider than the cell shrinks to fit it.

    >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    >>> dot = draw_dot((x * w).tanh())
    >>> [line.split(" [")[0].strip() for line in dot.source.splitlines() if "record" in line]
    ['v0', 'v1', 'v2', 'v3']
    >>> dot.source.split('v2 [label="')[1].split('"')[0]  # the unlabelled x*w, named for it
    'x*w | data -6 | grad 0'

    """
    _check_args(root, rankdir, max_nodes)
    format = _check_draw_format(format)
    picture = _Picture(root, max_nodes, model)
    dot = picture.digraph(rankdir, _current_grad if show_grad else None, show_local)
    dot.format = format
    return dot


def save_graph(root, path, **draw_kwargs):
    """Draw `root`'s graph into `path`; the format follows the extension (.svg .png .pdf .dot).

    Writing ``.dot`` needs no Graphviz program; the other formats run ``dot``. `draw_kwargs` are
    `draw_dot`'s (``rankdir``, ``show_local``, ``model``, ...). Returns the path.

    >>> import os, tempfile
    >>> out = save_graph(Value(1.0, label="x").exp(), os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> out.read_text().startswith("digraph")
    True
    """
    if "format" in draw_kwargs:
        raise TypeError("save_graph takes the format from the file's extension, not format=")
    path = Path(path)
    fmt = _format_of(path)
    _render(draw_dot(root, **draw_kwargs), path, fmt)
    return path


def draw_backward_steps(
    root, out_dir, fmt="svg", *, rankdir="LR", max_nodes=200, model=None, max_steps=200
):
    """Write one frame per backward step, then run the real ``root.backward()``; return the paths.

    Frame ``step-000`` is the start (only the root's gradient, the seed 1, is known); frame
    ``step-k`` shows the graph after step k of N, one step per op in reverse topological order:
    it highlights the op whose local gradient is applied, names its formula (``a(1-a)``,
    ``1-a²``, ...) in a title that starts "step k of N", and shows the gradients filled in so far.
    Every edge carries its local derivative, and every node stays in the same place in all frames
    (and in `save_graph` pictures of the same graph with ``show_local=True``). The frames are
    computed on a dictionary of their own; afterwards the graph's ``.grad`` values are exactly
    what a plain ``root.backward()`` gives.

    Each frame runs Graphviz once, so at most `max_steps` step frames are drawn: the first
    ``max_steps - 1`` steps and the last one (files keep their step numbers), whose title says
    how many steps were applied but not drawn.

    >>> import tempfile
    >>> x = Value(0.0, label="x")
    >>> paths = draw_backward_steps((x * 2).sigmoid(), tempfile.mkdtemp(), fmt="dot")
    >>> [p.name for p in paths], x.grad
    (['step-000.dot', 'step-001.dot', 'step-002.dot'], 0.5)
    """
    _check_args(root, rankdir, max_nodes)
    _check_max_steps(max_steps)
    fmt = _check_format(fmt)
    seed = _seed(root)
    picture = _Picture(root, max_nodes, model)
    order = list(reversed(topological_order(root)))
    steps = sum(1 for n in order if n._rule is not None)
    # The titles first, so every frame reserves the width of the widest: a title wider than the
    # graph centres the graph under it, and the nodes would move from frame to frame.
    titles = [title for *_, title in _backward_frames(order, seed, steps, picture.names, max_steps)]
    title_width = max(
        _text_width(_printable(line), _TITLE_SIZE) for t in titles for line in t.split("\n")
    )
    frames = _backward_frames(order, seed, steps, picture.names, max_steps)
    paths = _write_frames(
        picture, frames, out_dir, "step", len(str(steps)), fmt, rankdir, title_width
    )
    root.backward()
    return paths


def draw_forward_steps(
    root, tangents, out_dir, fmt="svg", *, rankdir="LR", max_nodes=200, max_steps=200
):
    """Write one frame per step of forward mode, each node's value beside its tangent; return the paths.

    `tangents` is the direction: ``{input: its tangent}`` (inputs left out have tangent 0), or one
    input `Value`, meaning tangent 1 for it, so the root's tangent comes out as d(root)/d(input).
    Frames ``forward-000.svg``, ``forward-001.svg``, ... follow the topological order: the first
    shows the inputs' tangents, then one per op, highlighting the op whose tangent is computed, with
    the local derivative on each of its edges (the same numbers `draw_backward_steps` multiplies
    into the gradient) and the sum local derivative × input tangent in its title; the last frame
    shows every tangent and every edge's local derivative. The tangents are computed by the
    forward-mode table (`tinygrad_act.forward`), as `tinygrad_act.jvp` computes them; the graph
    itself is not changed. As for `draw_backward_steps`, at most `max_steps` op frames are drawn:
    the first ``max_steps - 1`` and the last, whose title says how many were left out.

    >>> import tempfile
    >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    >>> y = (x * w).tanh()
    >>> paths = draw_forward_steps(y, x, tempfile.mkdtemp(), fmt="dot")
    >>> [p.name for p in paths]
    ['forward-000.dot', 'forward-001.dot', 'forward-002.dot', 'forward-003.dot']
    >>> "tangent" in paths[-1].read_text()
    True
    """
    _check_args(root, rankdir, max_nodes)
    fmt = _check_format(fmt)
    _check_max_steps(max_steps)
    order = topological_order(root)
    seeds = _forward_seeds(tangents, order)
    picture = _Picture(root, max_nodes)
    steps = sum(1 for n in order if n._prev and n not in seeds)
    # Every frame reserves the widest title's width, so the nodes stay in place (as backward's).
    titles = [title for *_, title in _forward_frames(order, seeds, steps, picture.names, max_steps)]
    title_width = max(_text_width(line, _TITLE_SIZE) for t in titles for line in t.split("\n"))
    frames = _forward_frames(order, seeds, steps, picture.names, max_steps)
    return _write_frames(
        picture,
        frames,
        out_dir,
        "forward",
        len(str(steps + 1)),
        fmt,
        rankdir,
        title_width,
        "tangent",
    )


def _check_max_steps(max_steps):
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")


def _write_frames(
    picture, frames, out_dir, prefix, digits, fmt, rankdir, title_width, field="grad"
):
    """Render each (k, {node: number}, highlighted node, title) frame to prefix-00k.fmt.

    Every edge shows its local derivative in every frame, and every title reserves the widest
    one's width, so the layout, and the nodes in it, stay the same from frame to frame.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(3, digits)
    paths = []
    for k, numbers, node, title in frames:
        dot = picture.digraph(
            rankdir,
            lambda n, numbers=numbers: numbers.get(n, _PENDING),
            show_local=True,
            highlight=node,
            title=(title, title_width),
            field=field,
        )
        path = out_dir / f"{prefix}-{k:0{width}d}.{fmt}"
        _render(dot, path, fmt)
        paths.append(path)
    return paths


# ---- forward mode, frame by frame --------------------------------------------------------------------


def _forward_frames(order, seeds, steps, names, max_steps):
    """(frame number, tangents so far, node, title) after each op's forward step, in topological
    order: the first ``max_steps - 1`` steps, the last one, and the end."""
    dots = {n: seeds.get(n, _zero(n)) for n in order if not n._prev or n in seeds}
    shown = ", ".join(f"{names[n].text} = {_short(dots[n])}" for n in seeds)
    yield (
        0,
        dots,
        None,
        f"forward mode: the direction is the inputs' tangents: {shown} (the others 0)",
    )
    k = 0
    for node in order:
        if node in dots:
            continue
        k += 1
        inputs = node._prev
        given = [dots[p] for p in inputs]
        moving = [None if _is_zero(t) else t for t in given]  # None: a zero tangent, no term
        if node._rule is None or all(t is None for t in moving):  # constant along the direction
            dots[node] = _zero(node)
        else:
            x, y = (*inputs, None)[:2]
            ydata = None if y is None else y.data
            dx, dy = (*moving, None)[:2]
            dots[node] = tangent(node._rule, node._op, node.data, x.data, ydata, dx, dy)
        if max_steps <= k < steps:
            continue  # computed, not drawn: each frame runs Graphviz once
        locals_ = _locals(node)
        equations = [
            _edge_text(names[p], formula, local, _where(node, names))
            for p, formula, local in zip(inputs, _named_formulas(node, names), locals_, strict=True)
            if local is not None
        ]
        terms = [
            f"{_short(d)} × {_short(t)}"
            for d, t in zip(locals_, given, strict=True)
            if d is not None
        ]
        title = (
            f"forward step {k} of {steps}: {node._op}, which makes {names[node].text}\n"
            f"local derivative{'s (one per input)' if len(inputs) > 1 else ''} "
            f"{', '.join(equations)}\n"
            f"its tangent = {'Σ ' if len(terms) > 1 else ''}local derivative × input's tangent: "
            f"{' + '.join(terms)} = {_short(dots[node])}"
        )
        if k == steps > max_steps:
            title += _left_out(steps, max_steps, "computed")
        yield k, dots, node, title
    root, done = order[-1], f"forward done: the root's tangent is {_short(dots[order[-1]])}"
    if len(seeds) == 1 and _is_one(next(iter(seeds.values()))):
        leaf = next(iter(seeds))
        done += f" = ∂{names[root].text}/∂{names[leaf].text}"
    yield steps + 1, dots, None, done


def _left_out(steps, max_steps, done):
    """The last frame's note on the steps that were `done` (applied, computed) but not drawn."""
    left = steps - max_steps
    which = f"steps {max_steps} to {steps - 1}" if left > 1 else f"step {max_steps}"
    return f"\n({which} {done} but not drawn: {left} left out, max_steps={max_steps})"


def _forward_seeds(tangents, order):
    """The direction as {leaf: tangent in its form}; a single Value means tangent 1 for it."""
    if isinstance(tangents, Value):
        tangents = {tangents: 1.0}
    if not isinstance(tangents, dict):
        raise TypeError(
            f"tangents must be an input Value or a dict {{input Value: tangent}}, "
            f"got {type(tangents).__name__}"
        )
    members = set(order)
    seeds = {}
    for leaf, t in tangents.items():
        if not isinstance(leaf, Value) or leaf not in members:
            raise ValueError(f"tangents names {leaf!r}, which is not a node of root's graph")
        if leaf._prev:
            raise ValueError(f"tangents go to inputs (leaves); {leaf!r} is made by {leaf._op!r}")
        data = Value(t, requires_grad=False).data
        if np.shape(data) != leaf.shape:
            raise ValueError(
                f"the tangent of {leaf.label or 'an input'} has shape {np.shape(data)}, "
                f"the input has shape {leaf.shape}"
            )
        seeds[leaf] = float(data) if leaf.is_scalar else np.asarray(data, dtype=leaf.dtype)
    return seeds


def _zero(node):
    return 0.0 if node.is_scalar else np.zeros_like(node.data)


def _is_zero(t):
    return not np.any(t)


def _is_one(t):
    return np.size(t) == 1 and float(np.sum(t)) == 1.0


def node_ids(root):
    """{node: id} for every node of `root`'s graph, as the drawings name them: ``v0`` (an input)
    to the root, in topological order; the op that makes ``v<i>`` is ``o<i>``.

    The ids are the DOT node names, which are also each node's ``<title>`` in an SVG, in
    `draw_dot` and in every step frame, as long as no node is left out (`max_nodes`).

    >>> x = Value(2.0, label="x")
    >>> y = x * 3
    >>> [node_ids(y)[v] for v in (x, y)]
    ['v0', 'v2']
    """
    return {node: f"v{i}" for i, node in enumerate(topological_order(root))}


# ---- the backward pass, frame by frame -------------------------------------------------------------


def _backward_frames(order, seed, steps, names, max_steps):
    """(step number, gradients so far, node, title): the start, then the state after each op's
    step, as the engine's backprop loop runs: the first ``max_steps - 1`` steps and the last.

    Gradients are summed into new objects, never in place, so the graph's own ``.grad`` and the
    arrays a rule returns are never touched.
    """
    root = names[order[0]]
    grads = {order[0]: seed}
    yield (
        0,
        grads,
        None,
        (
            f"step 0 of {steps}: the start of backward\n"
            f"the seed: {root.text}'s grad = 1 (d{_d(root)}/d{_d(root)})\n"
            "every other grad: – (not computed yet)"
        ),
    )
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
        if max_steps <= k < steps:
            continue  # applied, not drawn
        out = names[node]
        formulas, locals_ = _named_formulas(node, names), _locals(node)
        derivatives = ", ".join(
            _edge_text(names[p], formula, local, _where(node, names))
            for p, formula, local in zip(node._prev, formulas, locals_, strict=True)
            if local is not None
        )
        last = f"; done: all {len(grads)} gradients are filled in" if k == steps else ""
        title = (
            f"step {k} of {steps}: backward through {node._op}, which makes {out.text}{last}\n"
            f"local gradient{'s' if len(node._prev) > 1 else ''}: {derivatives}\n"
            f"each input's grad += {out.text}'s grad {_short(g)} × its local gradient"
        )
        if k == steps > max_steps:
            title += _left_out(steps, max_steps, "applied")
        yield k, grads, node, title


# ---- the picture -----------------------------------------------------------------------------------


class _Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose inline SVG in Jupyter shrinks to the cell's width."""

    def _repr_image_svg_xml(self):
        return _responsive(super()._repr_image_svg_xml())


def _responsive(svg):
    """The SVG at its own size, or narrower when its container is: height follows the viewBox."""
    return re.sub(r"<svg\b", '<svg style="max-width: 100%; height: auto"', svg, count=1)


class _Picture:
    """The nodes kept for drawing, numbered in topological order, their names, and the note about
    the rest."""

    def __init__(self, root, max_nodes, model=None):
        self.root = root
        kept = {root}
        queue = collections.deque([root])
        while queue and len(kept) < max_nodes:
            for p in queue.popleft()._prev:
                if p not in kept and len(kept) < max_nodes:
                    kept.add(p)
                    queue.append(p)
        order = topological_order(root)
        # Names made printable once: a user's label may hold anything (a NUL, 100,000 characters).
        self.names = {
            n: dataclasses.replace(name, text=_printable(name.text))
            for n, name in graph_names(order, model).items()
        }
        self.nodes = [n for n in order if n in kept]
        self.ids = {n: f"v{i}" for i, n in enumerate(self.nodes)}
        self.left_out = len(order) - len(self.nodes)
        self.max_nodes = max_nodes

    def digraph(self, rankdir, grad_of, show_local, highlight=None, title=None, field="grad"):
        dot = _Digraph(name="tinygrad_act", format="svg")
        dot.attr(rankdir=rankdir, fontname="Helvetica", ordering="in")
        if title is not None:
            dot.attr(label=_title_label(*title), labelloc="t", labeljust="l")
        dot.attr("node", fontname="Helvetica", fontsize=str(_NODE_SIZE))
        dot.attr("edge", fontname="Helvetica", fontsize=str(_EDGE_SIZE), color="#555555")
        cut = []
        for i, node in enumerate(self.nodes):
            vid = self.ids[node]
            name = self.names[node]
            style = {"shape": "record", "style": "filled", "fillcolor": self._fill(node)}
            if grad_of is not None:  # the same size whatever the gradients: nodes stay in place
                style["width"] = f"{_record_width(node, name.text) / 72:.3f}"
            if node is self.root:
                style["penwidth"] = "2"
            if node is highlight:
                style.update({"color": _HIGHLIGHT, "penwidth": "3", "class": "highlight"})
            dot.node(
                vid, graphviz.nohtml(_record(node, name.text, grad_of, rankdir, field)), **style
            )
            if not node._prev:
                continue
            oid = f"o{i}"
            dot.node(oid, graphviz.nohtml(_plain(node._op or "?")), **_op_style(node, highlight))
            dot.edge(oid, vid)
            locals_ = _locals(node) if show_local else [None] * len(node._prev)
            formulas = _named_formulas(node, self.names)
            for j, p in enumerate(node._prev):
                if p not in self.ids:
                    cut.append(oid)
                    continue
                attrs = {}
                if locals_[j] is not None:
                    where = _where(node, self.names)
                    text = _edge_text(self.names[p], formulas[j], locals_[j], where)
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
        return _LEAF if node.requires_grad else _CONSTANT


def _op_style(node, highlight):
    style = {"shape": "ellipse", "style": "filled", "fillcolor": _OP, "fontsize": "10"}
    style.update(width="0.3", height="0.3", margin="0.04")
    if getattr(node._rule, "spec", None) is not None:
        style.update(fillcolor=_ACTIVATION, fontname="Helvetica-Bold")
    if node is highlight:
        style.update({"color": _HIGHLIGHT, "penwidth": "3", "class": "highlight"})
    return style


def _record_fields(node, name, grad_text):
    fields = [name]
    if not node.is_scalar:
        fields.append(f"{node.shape} {node.dtype}")
    fields.append(f"data {_show(node.data)}")
    if grad_text is not None:
        fields.append(grad_text)
    return fields


def _record(node, name, grad_of, rankdir, field="grad"):
    """The record's label: its fields stacked, name on top (Graphviz turns a record's top level
    across the rank direction, so a left-to-right graph stacks fields without braces)."""
    grad_text = None
    if grad_of is not None:
        if not node.requires_grad and field == "grad":
            grad_text = "no grad"  # a constant: nothing flows back into it
        else:
            grad = grad_of(node)
            grad_text = f"{field} –" if grad is _PENDING else f"{field} {_show(grad)}"
    fields = " | ".join(_field(f) for f in _record_fields(node, name, grad_text))
    return f"{{ {fields} }}" if rankdir in ("TB", "BT") else fields


def _record_width(node, name):
    """Points wide enough for the record with any gradient: the widest numbers `_show` writes."""
    widest = np.full(node.shape, _WIDEST) if node.shape else _WIDEST
    grad_text = "no grad" if not node.requires_grad else f"grad {_show(widest)}"
    fields = _record_fields(node, name, grad_text)
    return max(_text_width(f, _NODE_SIZE) for f in fields) + _FIELD_PADDING


def _title_label(title, width):
    """A left-aligned title in a cell of the given width (HTML-like label: one line each)."""
    lines = '<BR ALIGN="LEFT"/>'.join(html.escape(_printable(line)) for line in title.split("\n"))
    return (
        f'<<TABLE BORDER="0" CELLPADDING="2"><TR><TD WIDTH="{math.ceil(width)}" ALIGN="LEFT">'
        f'<FONT POINT-SIZE="{_TITLE_SIZE}">{lines}<BR ALIGN="LEFT"/></FONT></TD></TR></TABLE>>'
    )


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


def _edge_text(name, formula, local, where=None):
    """'∂/∂n = 1-a² = 0.5 (a = o)': the input's name, the formula, its value (the formula once if
    it is already the number), what a is; 'local = ...' for an input without a short name."""
    number = _show(local)
    value = number if formula in (number, "?") else f"{formula} = {number}"
    if where is not None and formula != "?":
        value += f" ({where})"
    return f"∂/∂{_d(name)} = {value}" if name.composable else f"local = {value}"


def _d(name):
    """A name after ∂/∂ or d/d: bracketed unless it is one symbol."""
    return name.operand(ATOM - 1)


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


def _named_formulas(node, names):
    """Each input's local derivative as text, from the one table (`tinygrad_act.formulas`), with
    the graph's names put in: x1*w1 gives ∂/∂x1 = w1, log(x) gives 1/x; "?" where an input's name
    cannot stand in a formula."""
    key, params = formula_key(node._op, node._rule)
    symbols = formula_symbols([names[p] for p in node._prev], names[node])
    return tuple(formula_text(key, j, symbols, params) or "?" for j in range(len(node._prev)))


def _where(node, names):
    """What an activation's a is, said beside its formula: 'a = tanh(n)'."""
    return f"a = {names[node].text}" if uses_output(node._op) else None


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


def _text_width(text, size):
    """Points `text` takes at `size`, over-estimated a little: Helvetica's widths as Graphviz
    measures them (it rounds glyphs up), and any other character as wide as an M."""
    return size * sum(_char_width(c) for c in text)


def _char_width(c):
    if c in "fijlrt.,:;'|!()[] ":
        return 0.34
    if c in "mw":
        return 1.0
    if c in "MW":
        return 1.1
    if c.isupper():
        return 0.8
    if c.isascii():
        return 0.62
    return 1.0


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_TEXT = 200  # characters of one piece of text in a picture: dot chokes on huge strings


def _printable(text):
    """Any text as dot can take it: runs of spaces collapsed, control characters (a NUL ends dot's
    strings) and lone surrogates written as escapes, cut to `_MAX_TEXT` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(text.split()))
    if len(text) > _MAX_TEXT:
        text = f"{text[: _MAX_TEXT - 30]}… ({len(text):,} characters)"
    return text


def _plain(text):
    """Text safe inside a quoted DOT string: printable, backslashes and quotes escaped."""
    return _printable(text).replace("\\", "\\\\").replace('"', '\\"')


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


def _check_draw_format(fmt):
    if not isinstance(fmt, str) or fmt.lower() not in graphviz.FORMATS:
        raise ValueError(
            f"unknown format {fmt!r}; accepted: svg, png, pdf, or another format Graphviz knows"
        )
    return fmt.lower()


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
