"""Step frames: the backward pass, and forward mode, drawn one op at a time.

Every frame is the same picture (`tinygrad_act.viz.drawing`) with other numbers in its records and
a title; the numbers come from the engine's own walks, `tinygrad_act.backprop.backward_steps` and
forward mode's `tinygrad_act.forward.tangent`, never from a pass of this module's own.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from tinygrad_act.backprop import backward_steps, local_derivatives, topological_order
from tinygrad_act.engine import Value
from tinygrad_act.forward import tangent
from tinygrad_act.viz.drawing import (
    PENDING,
    TITLE_SIZE,
    Picture,
    after_d,
    check_args,
    check_format,
    edge_text,
    named_formulas,
    render,
    what_a_is,
)
from tinygrad_act.viz.text import printable, short, text_width


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
    check_args(root, rankdir, max_nodes)
    _check_max_steps(max_steps)
    fmt = check_format(fmt)
    if root.size != 1:
        raise ValueError(
            f"draw_backward_steps needs a root with one element; this one has shape {root.shape}"
        )
    backward_steps(root)  # a root that backward refuses (it needs no gradient) is refused now
    picture = Picture(root, max_nodes, model)
    steps = sum(1 for n in topological_order(root) if n.rule is not None)
    # The titles first, so every frame reserves the width of the widest: a title wider than the
    # graph centres the graph under it, and the nodes would move from frame to frame.
    titles = [title for *_, title in _backward_frames(root, steps, picture.names, max_steps)]
    title_width = max(
        text_width(printable(line), TITLE_SIZE) for t in titles for line in t.split("\n")
    )
    frames = _backward_frames(root, steps, picture.names, max_steps)
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
    check_args(root, rankdir, max_nodes)
    fmt = check_format(fmt)
    _check_max_steps(max_steps)
    order = topological_order(root)
    seeds = _forward_seeds(tangents, order)
    picture = Picture(root, max_nodes)
    steps = sum(1 for n in order if n._prev and n not in seeds)
    # Every frame reserves the widest title's width, so the nodes stay in place (as backward's).
    titles = [title for *_, title in _forward_frames(order, seeds, steps, picture.names, max_steps)]
    title_width = max(text_width(line, TITLE_SIZE) for t in titles for line in t.split("\n"))
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
            lambda n, numbers=numbers: numbers.get(n, PENDING),
            show_local=True,
            highlight=node,
            title=(title, title_width),
            field=field,
        )
        path = out_dir / f"{prefix}-{k:0{width}d}.{fmt}"
        render(dot, path, fmt)
        paths.append(path)
    return paths


# ---- the backward pass, frame by frame -------------------------------------------------------------


def _backward_frames(root, steps, names, max_steps):
    """(step number, gradients so far, node, title): the start, then the state after each op's
    step of the engine's walk (`backward_steps`): the first ``max_steps - 1`` steps and the last."""
    walk = backward_steps(root)
    first = next(walk)  # the root's, with the seed
    name = names[root]
    yield (
        0,
        {root: first.grad},
        None,
        (
            f"step 0 of {steps}: the start of backward\n"
            f"the seed: {name.text}'s grad = 1 (d{after_d(name)}/d{after_d(name)})\n"
            "every other grad: – (not computed yet)"
        ),
    )
    k = 0
    for step in itertools.chain([first], walk):  # lazily: each frame shows its step's state
        node = step.node
        if node.rule is None:
            continue  # a leaf: nothing to apply
        k += 1
        if max_steps <= k < steps:
            continue  # applied, not drawn
        out = names[node]
        formulas, locals_ = named_formulas(node, names), local_derivatives(node)
        derivatives = ", ".join(
            edge_text(names[p], formula, local, what_a_is(node, names))
            for p, formula, local in zip(node._prev, formulas, locals_, strict=True)
            if local is not None
        )
        last = f"; done: all {len(step.grads)} gradients are filled in" if k == steps else ""
        title = (
            f"step {k} of {steps}: backward through {node._op}, which makes {out.text}{last}\n"
            f"local gradient{'s' if len(node._prev) > 1 else ''}: {derivatives}\n"
            f"each input's grad += {out.text}'s grad {short(step.grad)} × its local gradient"
        )
        if k == steps > max_steps:
            title += _left_out(steps, max_steps, "applied")
        yield k, step.grads, node, title


# ---- forward mode, frame by frame --------------------------------------------------------------------


def _forward_frames(order, seeds, steps, names, max_steps):
    """(frame number, tangents so far, node, title) after each op's forward step, in topological
    order: the first ``max_steps - 1`` steps, the last one, and the end."""
    dots = {n: seeds.get(n, _zero(n)) for n in order if not n._prev or n in seeds}
    shown = ", ".join(f"{names[n].text} = {short(dots[n])}" for n in seeds)
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
        if node.rule is None or all(t is None for t in moving):  # constant along the direction
            dots[node] = _zero(node)
        else:
            x, y = (*inputs, None)[:2]
            ydata = None if y is None else y.data
            dx, dy = (*moving, None)[:2]
            dots[node] = tangent(node.rule, node._op, node.data, x.data, ydata, dx, dy)
        if max_steps <= k < steps:
            continue  # computed, not drawn: each frame runs Graphviz once
        locals_ = local_derivatives(node)
        equations = [
            edge_text(names[p], formula, local, what_a_is(node, names))
            for p, formula, local in zip(inputs, named_formulas(node, names), locals_, strict=True)
            if local is not None
        ]
        terms = [
            f"{short(d)} × {short(t)}" for d, t in zip(locals_, given, strict=True) if d is not None
        ]
        title = (
            f"forward step {k} of {steps}: {node._op}, which makes {names[node].text}\n"
            f"local derivative{'s (one per input)' if len(inputs) > 1 else ''} "
            f"{', '.join(equations)}\n"
            f"its tangent = {'Σ ' if len(terms) > 1 else ''}local derivative × input's tangent: "
            f"{' + '.join(terms)} = {short(dots[node])}"
        )
        if k == steps > max_steps:
            title += _left_out(steps, max_steps, "computed")
        yield k, dots, node, title
    root, done = order[-1], f"forward done: the root's tangent is {short(dots[order[-1]])}"
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
