"""Watching the engine work: forward mode and anomaly mode see each node as it is made.

The engine's ``_make`` hands every new node to `watcher`, and the backward pass asks
`backward_watcher` once per pass for a check of each rule's output. Both are off (None) unless a
`jvp` or a ``detect_anomaly()`` block runs: then the engine pays one module-global test per op,
and nothing more, when neither is on. Who watches is kept per thread, so a jvp on one thread
never sees another thread's ops.

This module knows nothing of the engine, of forward mode or of anomaly mode: they plug in here.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

watcher = None  # what _make calls with (out, x, y, op, rule): `_dispatch` while anyone watches


class _Watchers(threading.local):
    forward = None  # forward mode's tracer: computes the new node's tangent
    anomaly = None  # anomaly mode: records where the node was made, checks its value
    backward = None  # anomaly mode's check of a rule's output: check(node, input_grads)


_mine = _Watchers()
_watching = 0  # how many watchers are on, over all threads
_lock = threading.Lock()


def _dispatch(out, x, y, op, rule):
    mine = _mine
    if mine.anomaly is not None:  # first: a non-finite value is reported before anything uses it
        mine.anomaly(out, x, y, op, rule)
    if mine.forward is not None:
        mine.forward(out, x, y, op, rule)


def current(kind):
    """This thread's watcher of `kind` ("forward", "anomaly" or "backward"), or None.

    >>> current("forward") is None
    True
    """
    return getattr(_mine, kind)


def backward_watcher():
    """The check a backward pass runs on each rule's output in this thread, or None (the usual case).

    >>> backward_watcher() is None
    True
    """
    return _mine.backward


@contextmanager
def watch(kind, fn):
    """Inside the block, this thread's watcher of `kind` is `fn` (the previous one comes back after).

    >>> seen = []
    >>> with watch("forward", lambda out, x, y, op, rule: seen.append(op)):
    ...     current("forward") is not None
    True
    >>> current("forward") is None
    True
    """
    global watcher, _watching
    if kind not in ("forward", "anomaly", "backward"):
        raise ValueError(f"unknown watcher kind {kind!r}; accepted: forward, anomaly, backward")
    previous = getattr(_mine, kind)
    with _lock:
        _watching += 1
        watcher = _dispatch
    setattr(_mine, kind, fn)
    try:
        yield
    finally:
        setattr(_mine, kind, previous)
        with _lock:
            _watching -= 1
            if not _watching:
                watcher = None
