"""The expression panel: an expression and its variables' values in, the drawing and every
node's numbers out, the backward pass as step frames, and the whole pass as code.

The expression is the ``graph`` command's safe language (`tinygrad_act.expression`, never
``eval``); the drawing is `tinygrad_act.viz.draw_dot` with the local derivative on every edge.
"""

from __future__ import annotations

import collections
import itertools
import logging
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from tinygrad_act.backprop import backward_steps
from tinygrad_act.expression import ExpressionError, parse_expression
from tinygrad_act.expression import variable_names as expression_variables
from tinygrad_act.expression_code import expression_code
from tinygrad_act.formatting import PRECISE, number
from tinygrad_act.lab import limits
from tinygrad_act.lab.explain import drawing_order, explain_graph
from tinygrad_act.lab.schema import LabError
from tinygrad_act.viz import draw_backward_steps, draw_dot

log = logging.getLogger("tinygrad_act.lab")

_DRAWING = threading.BoundedSemaphore(limits.CONCURRENT_DRAWINGS)
_FRAMES = collections.OrderedDict()  # (expression, values) -> frames, least recently used first
_FRAMES_LOCK = threading.Lock()


def variable_names(expression):
    """The names an expression uses as values, in the order they first appear: the expression
    language's own list (`tinygrad_act.expression.variable_names`), so the panel and the library
    cannot disagree; a text it refuses is a `LabError` with its message.

    >>> variable_names("tanh(x1*w1 + x2*w2 + b)")
    ['x1', 'w1', 'x2', 'w2', 'b']
    """
    _check_length(expression)
    try:
        return expression_variables(expression)
    except ExpressionError as err:
        raise LabError(err) from None


def graph_view(expression, values, step=None):
    """Everything the panel shows for `expression` at `values` ({name: float}).

    Variables without a value start at `limits.DEFAULT_VALUE`; values of names the expression
    does not use are left out. With `step` (0 .. ``steps``) the answer carries that step frame.
    ``code`` is the forward and backward pass as Python (`expression_code`), or None with
    ``code_notice`` saying why.
    """
    names = variable_names(expression)
    if len(names) > limits.MAX_VARIABLES:
        raise LabError(f"the expression has {len(names)} variables (limit {limits.MAX_VARIABLES})")
    chosen = {name: values.get(name, limits.DEFAULT_VALUE) for name in names}
    root = _build(expression, chosen)
    _name_output(root, names)
    order = drawing_order(root)
    if len(order) > limits.MAX_GRAPH_NODES:
        raise LabError(
            f"the graph has {len(order)} nodes (the lab draws at most {limits.MAX_GRAPH_NODES})"
        )
    root.backward()
    steps = sum(1 for node in order if node._prev)
    nodes = explain_graph(root)
    variables = []
    for name in names:
        grad = _grad_of(order, name)
        variables.append(
            {"name": name, "value": chosen[name], "grad": grad, "grad_text": precise(grad)}
        )
    view = {
        "expression": expression,
        "output": nodes[-1]["name"],
        "value": float(root.data),
        "value_text": precise(root.data),
        "variables": variables,
        "nodes": nodes,
        "steps": steps,
        "slider_range": list(limits.SLIDER_RANGE),
        "svg": None,
        "notice": None,
        "frame": None,
        **_code(expression, chosen, root.label),  # the output named as the drawing names it
    }
    if step is not None:
        view["frame"] = _frame(expression, chosen, step, steps)
        reached = _grads_at_step(root, step)
        view["frame"]["variables"] = [_leaf_grad(order, name, reached) for name in names]
    try:
        view["svg"] = render(draw_dot(root, show_local=True).source)
        if step is not None:
            view["frame"]["svg"] = render(view["frame"].pop("source"))
    except DrawingError as err:  # the numbers still work without the drawing
        view["notice"] = str(err)
        if view["frame"] is not None:
            view["frame"].pop("source", None)
            view["frame"]["svg"] = None
    return view


def _code(expression, values, output):
    try:
        code = expression_code(expression, values, output=output)
    except Exception as err:  # a bug in the code view: logged, and the drawing and numbers stay
        log.exception("lab: no code for %r", expression)
        return {"code": None, "code_notice": f"no code: internal error ({type(err).__name__})"}
    notice = None if code.refusal is None else f"no code for this expression: {code.refusal}"
    return {"code": code.text, "code_notice": notice}


def precise(x):
    """A number for the summary line: 6 significant digits, as the ``graph`` command prints."""
    return number(x, PRECISE)


def _check_length(expression):
    if len(expression) > limits.MAX_EXPRESSION_LENGTH:
        raise LabError(
            f"expression too long: {len(expression)} characters "
            f"(limit {limits.MAX_EXPRESSION_LENGTH})"
        )


def _build(expression, values):
    _check_length(expression)
    try:
        return parse_expression(expression, values)
    except ExpressionError as err:
        raise LabError(err) from None


def _name_output(root, taken):
    """The lecture calls the output o: so does the drawing, unless a variable is called that."""
    if not root.label:
        root.label = next(n for n in ("o", "out", "output", "result") if n not in taken)


def _grads_at_step(root, step):
    """Each value's gradient as step frame `step` shows it: the engine's walk
    (`tinygrad_act.backprop.backward_steps`, the one the frames draw) after its first `step` ops,
    from the output down. A value backward has not reached is left out."""
    grads = {root: 1.0}  # step 0: the seed
    ops = (done for done in backward_steps(root) if done.node.rule is not None)
    for done in itertools.islice(ops, step):  # stops without asking the walk for one more
        grads = done.grads
    return dict(grads)  # a copy of the walk's view, which moves on with the walk


def _leaf_grad(order, name, grads):
    """A variable's gradient in a step frame, as the slider beside it shows it ('–': not yet)."""
    grad = next((grads.get(n) for n in order if n.label == name and not n._prev), None)
    return {"name": name, "grad": grad, "grad_text": "–" if grad is None else precise(grad)}


def _grad_of(order, name):
    for node in order:
        if node.label == name and not node._prev:
            return float(node.grad)
    return 0.0


class DrawingError(Exception):
    """No drawing this time (Graphviz missing, or too slow for this graph): the numbers remain."""


def render(source):
    """Graphviz's SVG of a DOT source, without its XML prologue, drawn in bounded time.

    ``dot`` is run directly rather than through ``graphviz.pipe`` for the timeout: a value used
    by many nodes (x+x+...+x) can keep its layout busy for minutes.
    """
    if not _DRAWING.acquire(timeout=limits.DRAWING_WAIT_SECONDS):
        raise LabError("the server is busy drawing other graphs; try again in a moment", 429)
    try:
        done = subprocess.run(
            ["dot", "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=limits.DRAWING_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise DrawingError(
            "no drawing: Graphviz's `dot` program is not installed (apt-get install graphviz "
            "or brew install graphviz); the numbers below are the engine's all the same"
        ) from None
    except subprocess.TimeoutExpired:
        raise DrawingError(
            f"no drawing: Graphviz took more than {limits.DRAWING_SECONDS:g} s to lay this graph "
            "out (a value used by many nodes does that); the numbers below are the engine's"
        ) from None
    except OSError as err:  # the machine could not start it (no processes or memory left)
        log.error("lab: could not run dot: %s", err)
        raise DrawingError(
            f"no drawing: Graphviz could not be started ({err.strerror or err}); the numbers "
            "below are the engine's all the same"
        ) from None
    finally:
        _DRAWING.release()
    if done.returncode != 0:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[0]
        raise DrawingError(f"no drawing: Graphviz failed ({first})")
    return _strip(done.stdout.decode("utf-8"))


def _frame(expression, values, step, steps):
    if steps > limits.MAX_STEP_FRAME_OPS:
        raise LabError(
            f"step frames are drawn for graphs of at most {limits.MAX_STEP_FRAME_OPS} ops; "
            f"this one has {steps}"
        )
    frames = _frames(expression, values)
    if not 0 <= step < len(frames):
        raise LabError(f"step must lie in 0..{len(frames) - 1}, got {step}")
    source = frames[step]
    return {
        "index": step,
        "count": len(frames),
        "source": source,
        "highlight": _highlighted(source),
    }


def _frames(expression, values):
    """The DOT source of every step frame, made once per expression and values (a small cache);
    a frame is drawn only when it is shown."""
    key = (expression, tuple(values.items()))
    with _FRAMES_LOCK:
        if key in _FRAMES:
            _FRAMES.move_to_end(key)
            return _FRAMES[key]
    root = parse_expression(expression, values)  # a graph of its own: the frames run backward
    _name_output(root, values)
    with tempfile.TemporaryDirectory(prefix="tinygrad-act-lab-") as folder:
        paths = draw_backward_steps(root, folder, fmt="dot")
        frames = [Path(p).read_text(encoding="utf-8") for p in paths]
    with _FRAMES_LOCK:
        _FRAMES[key] = frames
        while len(_FRAMES) > limits.FRAME_CACHE_SIZE:
            _FRAMES.popitem(last=False)
    return frames


def _strip(text):
    return text[text.index("<svg") :]


_HIGHLIGHT = re.compile(r"^\s*(\w+) \[.*\bclass=highlight\b", re.MULTILINE)


def _highlighted(source):
    """The ids of the nodes a frame highlights (the op of this step and the value it made)."""
    return _HIGHLIGHT.findall(source)
