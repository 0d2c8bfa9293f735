"""`compile(fn)`: trace on the first call, then run the generated code instead of the graph."""

from __future__ import annotations

import sys
import threading

import numpy as np

from tinygrad_act import backprop, inputs, observe, syntax
from tinygrad_act.compiler.memory import plan, renew_handed_out
from tinygrad_act.compiler.tracing import signature, trace
from tinygrad_act.engine import Value


class Compiled:
    """`fn` compiled: each call returns the loss as a Value (no graph) and adds the gradient of every
    parameter to its ``.grad``, as ``loss.backward()`` would; if `fn` returns ``(loss, *aux)``, the
    call returns them so, each a Value without a graph. One program per signature (the
    arguments' kinds, shapes and dtypes); a new signature traces again."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"compile takes a function that returns a loss, not {fn!r}")
        self.fn = fn
        # signature -> (trace, compiled function, the shapes and dtypes of the weights it reached)
        self.programs = {}
        self._one_call_at_a_time = threading.Lock()  # a program writes into buffers of its own

    def __call__(self, *args):
        key = signature(args)
        if key not in self.programs:
            self.trace(*args)
        t, run, kinds = self.programs[key]
        reached = t.reached
        _refuse_observers([*(a for a in args if isinstance(a, Value)), *reached])
        data = [a.data if isinstance(a, Value) else a for a in args]
        params = t.program.grads
        weights = [p.data for p in reached]
        if _kinds(weights) != kinds:  # a weight reached from fn changed shape or dtype since
            del self.programs[key]
            return self(*args)
        data += weights
        # numpy's IEEE answers (inf, nan) without its warnings, as the graph's ops give them
        with self._one_call_at_a_time, np.errstate(all="ignore"):
            try:
                loss, grads, *aux = run(*data)
            except ArithmeticError:  # x/0 or an overflow in Python's float math: IEEE's inf too
                loss, grads, *aux = _on_numpy_floats(t.program, data)
        passed = {id(t.args[i]): args[i] for i in range(len(args)) if isinstance(args[i], Value)}
        stored = set()
        store = backprop.store_grad
        for p, g in zip(params, grads, strict=True):
            if passed:  # a parameter passed in: this call's Value, not the one traced
                p = passed.get(id(p), p)
            if type(g) is float and p.is_scalar:  # micrograd's weights: nothing to check
                store(p, g)
            elif g is not None:
                _add_grad(p, g, stored)
        loss = Value(_as_graph_gives(loss), requires_grad=False)
        if not t.aux:
            return loss
        return (loss, *(Value(_as_graph_gives(a), requires_grad=False) for a in aux[0]))

    def trace(self, *args):
        """The `Trace` this compiled function runs for arguments like `args` (tracing them if new)."""
        key = signature(args)
        if key not in self.programs:
            t = trace(self.fn, *args)
            data = [a.data if isinstance(a, Value) else a for a in (*t.args, *t.reached)]
            planned = plan(t.program, data)
            run = _build(planned.source, planned.namespace)
            if planned.handed_out:  # before each call: new buffers where the last are still held
                run = _renewing(run, planned.handed_out)
            kinds = _kinds([p.data for p in t.reached])
            self.programs[key] = (t, run, kinds)
        return self.programs[key][0]


def compile(fn):  # noqa: A001 (the issue's name, as torch.compile)
    """`fn` compiled: traced on the first call (and on each new signature), then run as code.

    >>> from tinygrad_act import Value
    >>> w = Value(0.5)
    >>> step = compile(lambda x: (x * w).tanh())
    >>> loss = step(2.0)
    >>> round(loss.data, 4), round(w.grad, 4)
    (0.7616, 0.8399)
    """
    return Compiled(fn)


def _kinds(weights):
    """What a program assumes of the weights it reads: a float, or an array's shape and dtype."""
    return [(w.shape, w.dtype) if type(w) is np.ndarray else type(w) for w in weights]


def _renewing(run, names):
    namespace = run.__globals__

    def renewed(*data):
        renew_handed_out(namespace, names)
        return run(*data)

    return renewed


def _as_graph_gives(data):
    """numpy's reductions give scalars where the graph holds 0-d arrays."""
    return np.asarray(data) if isinstance(data, np.generic) else data


def _build(source, namespace):
    namespace = dict(namespace)
    exec(syntax.compile_code(source), namespace)  # noqa: S102 (our own generated text: no user text in it)
    return namespace["traced"]


def _on_numpy_floats(program, data):
    """The program run on numpy float64s where it had Python floats (whose math raises at x/0 and
    on an overflow, where numpy answers inf and nan, as the engine does), floats again after."""
    run = _build(program.runnable, {**program.namespace, "float": np.float64})
    with np.errstate(all="ignore"):
        out = run(*(np.float64(d) if type(d) is float else d for d in data))
    return _plain(out)


def _plain(out):
    if isinstance(out, tuple):
        return tuple(_plain(o) for o in out)
    return float(out) if isinstance(out, np.floating) else out


def _add_grad(p, g, stored):
    """Add `g` to ``p.grad`` as the backward pass does: a first gradient is kept (copied if the
    program may share it with another), a later one added in place into the leaf's own array."""
    if type(g) is not float and type(g) is not np.ndarray:
        g = np.asarray(g, dtype=p.dtype) if not p.is_scalar else float(g)
    if type(g) is np.ndarray:
        if g.dtype != p.dtype or g.shape != p.shape:  # a share the graph would have fitted
            g = inputs.as_grad(g, p.data)
        elif p.grad_data is None and (id(g) in stored or _shared(g)):
            g = g.copy()
        stored.add(id(g))
    backprop.store_grad(p, g)


def _shared(g):
    """Whether array `g` may share its memory with what someone can still reach: a read-only view
    (np.broadcast_to's), or a view of an array something else holds (the program's constants,
    another gradient it returned). A view nobody else holds the base of is the gradient's own:
    numpy's matmul returns some products as a transposed view of a fresh array."""
    if not g.flags.writeable:
        return True
    return g.base is not None and sys.getrefcount(g.base) > 2  # g's reference and the call's


def _refuse_observers(params):
    why = watched(params)
    if why is not None:
        raise RuntimeError(f"compile: {why}")


def watched(params):
    """Why a compiled call over the parameters `params` would miss something that watches the
    graph, or None: forward mode or detect_anomaly() on this thread (they see the graph's nodes as
    they are made), or a gradient hook on one of `params` (the pass calls it). Another thread's
    watchers, and hooks on other Values, are no business of this call."""
    if observe.current("forward") is not None or observe.current("anomaly") is not None:
        return (
            "a compiled call runs no graph, so forward mode and detect_anomaly() cannot watch it; "
            "call the function itself (uncompiled) while they are on"
        )
    if backprop.has_hooks() and any(backprop.has_hook(p) for p in params):
        return (
            "a Value has a gradient hook (register_hook), which a compiled call would not run; "
            "remove the hook or call the function uncompiled"
        )
    return None
