"""Anomaly mode: the first op whose value or gradient turns nan or inf, and the line that made it.

Inside ``with detect_anomaly():`` every node made records the user's file and line (and the whole
stack), every new value is checked (the forward pass) and so is every gradient a rule passes down
(the backward pass). The first one that holds nan or inf raises `AnomalyError`, whose one-line
message names the op, the pass and the line, e.g. ``log gave -inf in the forward pass, at
train.py:12``. Outside the block nothing is recorded or checked: the engine pays one test per op.

`find_anomaly` gives the same diagnosis after the fact, for a graph already built (the ``graph``
command's warning uses it).
"""

from __future__ import annotations

import math
import os
import sys
import traceback
import weakref
from contextlib import contextmanager

import numpy as np

from tinygrad_act import observe
from tinygrad_act.backprop import topological_order
from tinygrad_act.node_names import graph_names
from tinygrad_act.numeric import data_of

__all__ = ["AnomalyError", "detect_anomaly", "find_anomaly"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_made_at = (
    weakref.WeakKeyDictionary()
)  # node -> the stack that made it, for nodes made in the block


class AnomalyError(ArithmeticError):
    """A value or a gradient became nan or inf (an ``ArithmeticError``).

    ``op`` names the op (``"log"``, ``"**0.5"``; ``""`` for an input), ``phase`` the pass
    (``"forward"`` or ``"backward"``), ``where`` the user's ``file:line`` that made the node,
    ``trace`` the stack at that moment (as a traceback prints it, down to the user's line),
    ``node`` the node itself.

    >>> from tinygrad_act import Value
    >>> try:
    ...     with detect_anomaly():
    ...         y = Value(0.0).log()
    ... except AnomalyError as err:
    ...     print(err.op, err.phase)
    log forward
    """

    def __init__(self, message, op="", phase="", where="", trace="", node=None):
        super().__init__(message)
        self.op, self.phase, self.where, self.trace, self.node = op, phase, where, trace, node


@contextmanager
def detect_anomaly():
    """Raise `AnomalyError` at the first op whose value or gradient holds nan or inf (per thread).

    Each node made inside the block records where the user's code made it; the check runs on
    values made inside the block and on every backward pass run inside it. It costs a stack
    capture per node: turn it on to find a problem, not for training.

    >>> from tinygrad_act import Value
    >>> x = Value(0.0, label="x")
    >>> with detect_anomaly():
    ...     y = x**0.5  # sqrt: fine at 0 going forward
    ...     try:
    ...         y.backward()  # but its slope 0.5/sqrt(0) is inf
    ...     except AnomalyError as err:
    ...         print(err.op, err.phase)
    **0.5 backward
    """
    with observe.watch("anomaly", _check_value), observe.watch("backward", _check_shares):
        yield


def find_anomaly(root):
    """The first place in root's graph where a value, else a gradient, is nan or inf; or None.

    Values are searched inputs first, so the op found is the one that produced the first non-finite
    value; then, if backward has run, gradients from the root down, so the op found is the one whose
    backward rule produced the first non-finite gradient. The answer is the `AnomalyError` anomaly
    mode would raise there (not raised): print it, or read its ``op``, ``phase`` and ``node``.

    >>> from tinygrad_act import Value
    >>> x = Value(0.0, label="x")
    >>> y = x.log() * 2
    >>> problem = find_anomaly(y)
    >>> problem.op, problem.phase, str(problem)
    ('log', 'forward', 'log gave -inf in the forward pass')
    >>> find_anomaly(x.exp()) is None
    True
    """
    order = topological_order(root)
    for node in order:
        problem = _nonfinite(node.data)
        if problem:
            return _error(node, "forward", problem, in_mode=False)
    for node in reversed(order):  # the root first: a rule's shares arrive after its own gradient
        if node.rule is None or _nonfinite(_grad_of(node)):
            continue
        for k, p in enumerate(node._prev):
            problem = _nonfinite(_grad_of(p)) if p.requires_grad else ""
            if problem:
                return _error(node, "backward", problem, k, in_mode=False)
    return None


# ---- the checks anomaly mode runs -----------------------------------------------------------------


def _check_value(out, x, y, op, rule):
    """Each new node: remember where it was made; refuse a non-finite value."""
    _made_at[out] = _stack()
    problem = _nonfinite(out.data)
    # Inside a backward pass (create_graph) a rule's own steps are not the user's ops: the rule's
    # output is checked as a whole, and named by the node whose rule it is.
    if problem and not _in_backward_pass():
        raise _error(out, "forward", problem)


def _check_shares(node, g, shares):
    """Each rule's output in a backward pass: refuse a non-finite gradient for an input."""
    for k, (p, share) in enumerate(zip(node._prev, shares)):  # noqa: B905 (one share per input)
        if share is None or not p.requires_grad:
            continue  # a constant's share is dropped: nothing flows on from it
        problem = _nonfinite(data_of(share))
        if problem:
            raise _error(node, "backward", problem, k, upstream=_nonfinite(data_of(g)))


# ---- the diagnosis --------------------------------------------------------------------------------


def _error(node, phase, problem, k=None, upstream="", in_mode=True):
    stack = _made_at.get(node)
    if stack is None and phase == "forward" and observe.current("anomaly") is not None:
        stack = _stack()  # being made right now
    where, trace = _where(stack)
    op = node._op
    if not node._prev:
        # An unlabelled number's name is the number itself, which the message says already.
        name = f"the input {_name(node)}" if node.label or not node.is_scalar else "an input"
        text = f"{name} holds {problem} (a leaf: the data it was given)"
    elif phase == "forward":
        text = f"{_named(node)} gave {problem} in the forward pass"
        before = [_nonfinite(p.data) for p in node._prev]
        if any(before):
            text += f" (its input already held {next(b for b in before if b)})"
    else:
        text = (
            f"{_named(node)} gave {problem} in the backward pass "
            f"(the gradient of its input {_name(node._prev[k])})"
        )
        if upstream:
            text += f"; the gradient arriving from above already held {upstream}"
    if where:
        message = f"{text}, at {where}"
    else:  # anomaly mode met a node made before it was turned on
        message = f"{text} ({_UNRECORDED})" if in_mode else text
    return AnomalyError(message, op, phase, where, trace, node)


_UNRECORDED = "made outside detect_anomaly(), so its line was not recorded"


def _named(node):
    """The op, and the node's name when the user gave it one: 'log (y)'."""
    return f"{node._op} ({_name(node)})" if node.label else node._op


def _name(node):
    """The node's name as the drawings write it (`tinygrad_act.node_names`): its label, else its
    expression ('x*2') or number, else its op and shape."""
    return graph_names(topological_order(node))[node].text


def _grad_of(node):
    grad = node.grad_data  # not .grad: reading that would create the zeros it stands for
    return 0.0 if grad is None else grad


def _nonfinite(data):
    """'' when every entry is finite; else what is wrong: 'inf', 'nan', 'nan and -inf (2 of 16 entries)'."""
    if type(data) is float:
        return "" if math.isfinite(data) else repr(data)
    data = np.asarray(data)
    finite = np.isfinite(data)
    if finite.all():
        return ""
    bad = data[~finite]
    kinds = [
        word
        for word, found in (
            ("nan", np.isnan(bad).any()),
            ("inf", (bad == np.inf).any()),
            ("-inf", (bad == -np.inf).any()),
        )
        if found
    ]
    text = " and ".join(kinds)
    return text if data.size == 1 else f"{text} ({bad.size} of {data.size} entries)"


# ---- where the user's code made a node ------------------------------------------------------------


_OWN = {os.path.abspath(__file__), os.path.abspath(observe.__file__)}


def _stack():
    """The stack that is making a node, innermost last, without anomaly mode's own frames.

    Source lines are read only when the stack is shown."""
    frames = (
        f for f in traceback.walk_stack(sys._getframe(1)) if f[0].f_code.co_filename not in _OWN
    )
    stack = traceback.StackSummary.extract(frames, lookup_lines=False)
    stack.reverse()
    return stack


def _where(stack):
    """The user's file:line (the innermost frame outside this package), and the stack down to it."""
    if not stack:
        return "", ""
    outside = [k for k, f in enumerate(stack) if not f.filename.startswith(_PACKAGE)]
    last = outside[-1] if outside else len(stack) - 1
    user = stack[last]
    shown = traceback.StackSummary.from_list(stack[: last + 1])
    return f"{_short_path(user.filename)}:{user.lineno}", "".join(shown.format())


def _short_path(filename):
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith("..") else relative


def _in_backward_pass():
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "tinygrad_act.backprop":
            return True
        frame = frame.f_back
    return False
