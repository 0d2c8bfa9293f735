"""Grad mode: whether ops record a graph, per thread (`no_grad`, `enable_grad`, `is_grad_enabled`).

Graph recording reads this on every op, so the check is made cheap: see `_threads_not_recording`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()

# How many threads have recording off. Reading the thread-local flag costs more than the rest of
# an op's recording decision, so every op first reads this plain counter: at 0, every thread records.
_threads_not_recording = 0
_counter_lock = threading.Lock()


def _set_recording(flag):
    """Turn graph recording on or off for this thread; returns the previous setting."""
    global _threads_not_recording
    previous = _grad_mode.enabled
    if flag != previous:
        if not flag:  # count first, then switch: the counter never lags behind a thread
            with _counter_lock:
                _threads_not_recording += 1
        _grad_mode.enabled = flag
        if flag:
            with _counter_lock:
                _threads_not_recording -= 1
    return previous


@contextmanager
def no_grad():
    """Record no graph inside the block (per thread), as ``torch.no_grad``.

    >>> from tinygrad_act import Value
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     y = x * 3
    >>> y._prev
    ()
    """
    previous = _set_recording(False)
    try:
        yield
    finally:
        _set_recording(previous)


@contextmanager
def enable_grad():
    """Record the graph inside the block even within `no_grad`.

    >>> from tinygrad_act import Value
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     with enable_grad():
    ...         y = x * 3
    >>> y._prev[0] is x
    True
    """
    previous = _set_recording(True)
    try:
        yield
    finally:
        _set_recording(previous)


def is_grad_enabled():
    """Whether ops on this thread record a graph.

    >>> is_grad_enabled()
    True
    >>> with no_grad():
    ...     is_grad_enabled()
    False
    """
    return _grad_mode.enabled
