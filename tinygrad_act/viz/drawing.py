"""The picture of a graph: a record per value, a small node per op, the local derivative on each
edge, and the files Graphviz renders it to.

Each value is a record node ``name | data | grad`` (a tensor adds ``shape dtype``); each op is a
small separate node between its inputs and its output. Leaves are blue (constants grey), the root
green with a thick border, activation ops amber. Node ids follow the topological order (``v0`` is an
input, the root comes last), so the same graph always gives byte-identical DOT source, and a record
is as wide as its widest possible gradient, so pictures of the same graph before, during and after
backward put every node in the same place.
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

from tinygrad_act.backprop import local_derivatives, topological_order
from tinygrad_act.engine import Value
from tinygrad_act.files import write_atomically
from tinygrad_act.formulas import formula_key, formula_symbols, formula_text, uses_output
from tinygrad_act.node_names import ATOM, graph_names
from tinygrad_act.viz.text import (
    WIDEST,
    printable,
    quoted,
    record_field,
    show,
    text_width,
)

FORMATS = ("svg", "png", "pdf", "dot")
RANKDIRS = ("LR", "TB", "RL", "BT")

_LEAF, _CONSTANT, _ROOT, _INNER = "#dbeafe", "#f3f4f6", "#dcfce7", "#ffffff"
_ACTIVATION, _OP, _NOTE, _HIGHLIGHT = "#fde68a", "#ffffff", "#fee2e2", "red"
PENDING = object()  # a gradient the backward pass has not reached yet (step frames)
_NODE_SIZE, _EDGE_SIZE, TITLE_SIZE = 11, 10, 12  # font sizes in points
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
    check_args(root, rankdir, max_nodes)
    format = _check_draw_format(format)
    picture = Picture(root, max_nodes, model)
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
    render(draw_dot(root, **draw_kwargs), path, fmt)
    return path


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


# ---- the picture -----------------------------------------------------------------------------------


class _Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose inline SVG in Jupyter shrinks to the cell's width."""

    def _repr_image_svg_xml(self):
        return _responsive(super()._repr_image_svg_xml())


def _responsive(svg):
    """The SVG at its own size, or narrower when its container is: height follows the viewBox."""
    return re.sub(r"<svg\b", '<svg style="max-width: 100%; height: auto"', svg, count=1)


class Picture:
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
            n: dataclasses.replace(name, text=printable(name.text))
            for n, name in graph_names(order, model).items()
        }
        self.nodes = [n for n in order if n in kept]
        self.ids = {n: f"v{i}" for i, n in enumerate(self.nodes)}
        self.left_out = len(order) - len(self.nodes)
        self.max_nodes = max_nodes

    def digraph(self, rankdir, grad_of, show_local, highlight=None, title=None, field="grad"):
        """The ``graphviz.Digraph``: `grad_of(node)` gives the number in each record's `field`
        (`PENDING` for one not known yet; no field when `grad_of` is None), `title` is (text,
        width reserved), `highlight` a node drawn in red with its op and edges."""
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
            dot.node(oid, graphviz.nohtml(quoted(node._op or "?")), **_op_style(node, highlight))
            dot.edge(oid, vid)
            locals_ = local_derivatives(node) if show_local else [None] * len(node._prev)
            formulas = named_formulas(node, self.names)
            for j, p in enumerate(node._prev):
                if p not in self.ids:
                    cut.append(oid)
                    continue
                attrs = {}
                if locals_[j] is not None:
                    where = what_a_is(node, self.names)
                    text = edge_text(self.names[p], formulas[j], locals_[j], where)
                    attrs["label"] = graphviz.nohtml(quoted(text))
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
    if getattr(node.rule, "spec", None) is not None:
        style.update(fillcolor=_ACTIVATION, fontname="Helvetica-Bold")
    if node is highlight:
        style.update({"color": _HIGHLIGHT, "penwidth": "3", "class": "highlight"})
    return style


def _record_fields(node, name, grad_text):
    fields = [name]
    if not node.is_scalar:
        fields.append(f"{node.shape} {node.dtype}")
    fields.append(f"data {show(node.data)}")
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
            grad_text = f"{field} –" if grad is PENDING else f"{field} {show(grad)}"
    fields = " | ".join(record_field(f) for f in _record_fields(node, name, grad_text))
    return f"{{ {fields} }}" if rankdir in ("TB", "BT") else fields


def _record_width(node, name):
    """Points wide enough for the record with any gradient: the widest numbers `show` writes."""
    widest = np.full(node.shape, WIDEST) if node.shape else WIDEST
    grad_text = "no grad" if not node.requires_grad else f"grad {show(widest)}"
    fields = _record_fields(node, name, grad_text)
    return max(text_width(f, _NODE_SIZE) for f in fields) + _FIELD_PADDING


def _title_label(title, width):
    """A left-aligned title in a cell of the given width (HTML-like label: one line each)."""
    lines = '<BR ALIGN="LEFT"/>'.join(html.escape(printable(line)) for line in title.split("\n"))
    return (
        f'<<TABLE BORDER="0" CELLPADDING="2"><TR><TD WIDTH="{math.ceil(width)}" ALIGN="LEFT">'
        f'<FONT POINT-SIZE="{TITLE_SIZE}">{lines}<BR ALIGN="LEFT"/></FONT></TD></TR></TABLE>>'
    )


def _current_grad(node):
    grad = node.grad_data  # not .grad: reading that would create the zeros it stands for
    return np.zeros_like(node.data) if grad is None else grad


# ---- an edge's local derivative, as text -------------------------------------------------------------


def edge_text(name, formula, local, where=None):
    """'∂/∂n = 1-a² = 0.5 (a = o)': the input's name, the formula, its value (the formula once if
    it is already the number), what a is; 'local = ...' for an input without a short name."""
    number = show(local)
    value = number if formula in (number, "?") else f"{formula} = {number}"
    if where is not None and formula != "?":
        value += f" ({where})"
    return f"∂/∂{after_d(name)} = {value}" if name.composable else f"local = {value}"


def after_d(name):
    """A name after ∂/∂ or d/d: bracketed unless it is one symbol."""
    return name.operand(ATOM - 1)


def named_formulas(node, names):
    """Each input's local derivative as text, from the one table (`tinygrad_act.formulas`), with
    the graph's names put in: x1*w1 gives ∂/∂x1 = w1, log(x) gives 1/x; "?" where an input's name
    cannot stand in a formula."""
    key, params = formula_key(node._op, node.rule)
    symbols = formula_symbols([names[p] for p in node._prev], names[node])
    return tuple(formula_text(key, j, symbols, params) or "?" for j in range(len(node._prev)))


def what_a_is(node, names):
    """What an activation's a is, said beside its formula: 'a = tanh(n)'."""
    return f"a = {names[node].text}" if uses_output(node._op) else None


# ---- files --------------------------------------------------------------------------------------------


def check_args(root, rankdir, max_nodes):
    if not isinstance(root, Value):
        raise TypeError(f"draw a Value, not {type(root).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")


def check_format(fmt):
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


def render(dot, path, fmt):
    """Write the picture to `path` in `fmt` (``dot`` is the source; the others run Graphviz)."""
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
