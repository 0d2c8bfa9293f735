"""Reverse-mode backprop: walk the graph from the root down, composing each node's local rule.

The whole algorithm, before the details that make it fast:

    count, for every node, the edges that lead into it from below the root     (its uses)
    the root's gradient is the seed (1 for a scalar)
    ready = [root]
    while ready:
        pop a node: every node that uses it has passed its share down, so its gradient is complete
        add that gradient to node.grad
        apply the node's rule: its inputs' shares, local derivative × the node's gradient
        add each share to the input's pending gradient; an input with no uses left is ready

That is Kahn's algorithm: it visits the nodes in a reverse topological order without recursion, so
a million-node chain works. The counts and the pending gradients live in two slots of each node
(``_uses``, ``_g``) rather than in a dict: hashing objects was the slowest part of the loop.

This module never imports `Value`: it reads the nodes' slots, and the root's own class builds
any node it needs (a seed under ``create_graph``).

Readers of a graph (drawings, the lab's explanations, generated code) take the same pass through
the public functions at the end: `apply_rule` (one node's rule, with the pass's IEEE fallback and
broadcast reduction), `local_derivatives`, and `backward_steps` (the pass one node at a time,
leaving every ``.grad`` alone).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from tinygrad_act import grad_mode, observe
from tinygrad_act.activations import FITTED as _FITTED_ACTIVATIONS
from tinygrad_act.numeric import RAW, data_of, on_numpy_floats
from tinygrad_act.rules import FITTED as _FITTED_OPS
from tinygrad_act.rules import sum_to

# Rules whose gradients need no shape or dtype check: they always match their input.
FITTED_RULES = _FITTED_OPS | _FITTED_ACTIVATIONS


def backward(root, grad=None, create_graph=False):
    """What ``root.backward(grad, create_graph)`` does: add d(root)/d(node) to every node's grad."""
    _backprop(root, _seed(root, grad, create_graph), create_graph)


def reference_backward(root, grad=None):
    """The pass of the module docstring, written plainly, for reading: it fills every ``.grad``
    as ``root.backward(grad)`` does (no hooks, no ``create_graph``), and the tests keep the two equal.

    >>> from tinygrad_act import Value
    >>> x = Value(3.0)
    >>> reference_backward(x * x + x)
    >>> x.grad
    7.0
    """
    nodes = topological_order(root)
    uses = dict.fromkeys(nodes, 0)  # edges into each node from the nodes that use it
    for node in nodes:
        for p in node._prev:
            uses[p] += 1
    pending = {root: _seed(root, grad, create_graph=False)}  # the gradients arrived so far
    ready = [root]
    with grad_mode.no_grad(), np.errstate(all="ignore"):
        while ready:
            node = ready.pop()  # every node that uses it has passed its share: g is complete
            g = pending.pop(node)
            node.grad = node.grad + g
            # Each input's share, local derivative x g, fitted to it (broadcast axes summed away)
            # by the helper the fast pass uses; a leaf has none.
            for p, share in zip(node._prev, apply_rule(node, g), strict=True):
                if p.requires_grad:
                    pending[p] = pending[p] + share if p in pending else share
                uses[p] -= 1
                if not uses[p] and p in pending:
                    ready.append(p)


def _backprop(root, seed, create_graph, visit=None):
    """Propagate dL/dnode from the root down, handing each node's complete gradient to `visit`.

    Without `visit` each gradient is added to the node's ``.grad``, which is what ``backward()``
    does; `gradients` passes a `visit` that collects the ones it was asked for instead.
    """
    with _ONE_PASS_AT_A_TIME:
        recording = grad_mode._set_recording(create_graph)  # the pass records a graph only if asked
        hooks = _HOOKS or None  # read once: with no hook anywhere the loop pays one `is` per node
        check = (
            observe.backward_watcher()
        )  # None unless detect_anomaly() is on: it checks each share
        fresh, finished = [], []
        try:
            _count_uses(root)
            root._g = seed
            ready = [root]
            with np.errstate(all="ignore"):
                while True:  # (see _count_uses for why not `while ready:`)
                    if not ready:
                        break
                    # Pop a ready node: its gradient is complete.
                    node = ready.pop()
                    g = node._g
                    if hooks is not None and node in hooks:
                        node._g = g = _run_hooks(node, g, hooks[node], create_graph)
                    if visit is not None:
                        node._g = None
                        visit(node, g)
                    elif node._grad is None:  # a tensor's first gradient: kept as the pass made it
                        node._g = None
                        node._grad = g
                        fresh.append(node)  # (a failed pass resets these to None)
                    else:
                        finished.append(node)  # added to .grad once the whole pass succeeded
                    rule = node._rule
                    if rule is None:
                        continue  # a leaf
                    # Apply its rule: one share per input, local derivative × g.
                    x, y = node._x, node._y
                    try:
                        if create_graph:
                            shares = rule(g, node, x) if y is None else rule(g, node, x, y)
                        elif y is None:
                            shares = rule(g, node.data, x.data)
                        else:
                            shares = rule(g, node.data, x.data, y.data)
                    except ArithmeticError:  # float math hit x/0 or overflow: redo it the IEEE way
                        shares = _ieee_rule(rule, g, node.data, [p.data for p in node._prev])
                    if check is not None:
                        check(node, g, shares)
                    # Pass each share down; an input whose uses have all passed theirs is ready.
                    # (a fitted rule's shares match their inputs; others may need sums or a cast)
                    fit = type(g) is not float and rule not in FITTED_RULES
                    p, pg = x, shares[0]
                    while True:  # x's share, then y's: no zip, whose tuples cost a tenth of an op
                        if p.requires_grad:
                            pending = p._g
                            if fit:
                                data = p.data
                                if (  # (`is not`: dtypes are singletons; an equal copy only detours)
                                    type(pg) is not np.ndarray
                                    or type(data) is float
                                    or pg.shape != data.shape
                                    or pg.dtype is not data.dtype
                                ):
                                    pg = _reduce_to(pg, p)  # sum broadcast axes away, match dtype
                            if pending is None and p._rule is None and type(g) is not float:
                                if _borrowed(pg, g, node):
                                    pg = pg.copy()  # a leaf owns its gradient: no shared memory
                            p._g = pg if pending is None else pending + pg
                            p._uses = uses = p._uses - 1
                            if not uses:
                                ready.append(p)
                        if y is None:
                            break
                        p, pg, y = y, shares[1], None
        except BaseException:
            for node in fresh:
                node._grad = None
            _reset(root)  # and no .grad has changed: a failed pass leaves them as they were
            raise
        finally:
            grad_mode._set_recording(recording)
        _store(finished)


# Backward passes run one at a time: their bookkeeping (`_uses`, `_g`) lives on the nodes, and
# graphs built by different threads may share nodes (the same weights). Taken once per pass.
_ONE_PASS_AT_A_TIME = threading.RLock()  # reentrant: a hook may run a backward pass of its own


def _store(nodes):
    """Add each node's gradient of the pass to its ``.grad``, after the whole pass succeeded."""
    for node in nodes:  # store_grad, written out: a call per node is a few percent of W1's pass
        g = node._g
        node._g = None
        if type(g) is float and type(node._grad) is float:
            node._grad += g
        elif node._grad is None:
            node._grad = g  # a tensor's first gradient: keep the array the pass made
        else:
            _accumulate(node, g)


def store_grad(node, g):
    """Add `g` to ``node.grad`` as a pass does: a tensor's first gradient kept as it is (`g` must be
    an array nothing else holds), a later one added to it. A compiled program (`tinygrad_act.compile`),
    which runs no pass, stores its gradients so."""
    if type(g) is float and type(node._grad) is float:
        node._grad += g
    elif node._grad is None:
        node._grad = g  # a tensor's first gradient: keep the array the pass made
    else:
        _accumulate(node, g)


# --------------------------------------------------------------------------------------------------
# Hooks: fn(grad) runs once a node's gradient is complete, and may replace it (torch's register_hook).

_HOOKS = weakref.WeakKeyDictionary()  # node -> its hooks in registration order; dies with the node


class HookHandle:
    """What `Value.register_hook` returns: ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_node", "_fn")

    def __init__(self, node, fn):
        self._node, self._fn = weakref.ref(node), fn

    def remove(self):
        """Unregister the hook; removing it twice is harmless."""
        node = self._node()
        fns = _HOOKS.get(node) if node is not None else None
        if fns and self._fn in fns:
            fns.remove(self._fn)
            if not fns:
                del _HOOKS[node]


def add_hook(node, fn):
    if not callable(fn):
        raise TypeError(f"register_hook takes a function of the gradient, not {fn!r}")
    if not node.requires_grad:
        raise ValueError("register_hook: this Value needs no gradient, so no hook would ever run")
    _HOOKS.setdefault(node, []).append(fn)
    return HookHandle(node, fn)


def _run_hooks(node, g, fns, create_graph):
    """Call the node's hooks in order, each with the gradient the previous one left."""
    for fn in list(fns):  # a copy: a hook may remove itself
        out = _call_hook(fn, g)
        if out is not None:
            g = _hook_result(node, out, create_graph)
    return g


_NUMPY_READ_ONLY = ("output array is read-only", "assignment destination is read-only")


def _call_hook(fn, g):
    """fn(g), with an array g handed over read-only: the pass may share it between nodes (x + y
    gives both inputs the same array), so a hook returns its change instead of making it in place."""
    if not isinstance(g, np.ndarray):
        return fn(g)
    if g.flags.writeable:
        g = g.view()
        g.flags.writeable = False
    try:
        return fn(g)
    except ValueError as err:
        if str(err) not in _NUMPY_READ_ONLY:
            raise
        raise ValueError(
            "a hook changed its gradient in place; return the new gradient instead "
            "(`return g * 2`, not `g *= 2`; `g = g.copy(); g[0] = 0; return g`)"
        ) from None


def _hook_result(node, out, create_graph):
    """A hook's replacement gradient, checked and fitted to the node like any gradient."""
    cls = type(node)
    if isinstance(out, cls):
        if create_graph:
            if out.shape != node.shape:
                raise ValueError(
                    f"a hook returned a gradient of shape {out.shape} for a Value of shape {node.shape}"
                )
            return out
        out = out.data
    try:
        data = cls(out, requires_grad=False).data  # the Value's own checks of numbers and arrays
    except (TypeError, ValueError) as err:
        raise TypeError(f"a hook must return None or a gradient like its argument: {err}") from None
    if _shape_of(data) != node.shape:
        raise ValueError(
            f"a hook returned a gradient of shape {_shape_of(data)} for a Value of shape {node.shape}"
        )
    data = float(data) if node.is_scalar else np.asarray(data, dtype=node.dtype)
    return cls(data) if create_graph else data


def backward_step(node):
    """The pass's work for one node, done on its own: add each input's share of ``node.grad``.

    The lecture calls this by hand on each node (``node._backward()``) to show one chain-rule step
    at a time; `_backprop` does the same for every node in one loop.
    """
    if node._rule is None:
        return  # a leaf
    g = data_of(node.grad)
    shares = apply_rule(node, g)
    check = observe.backward_watcher()  # None unless detect_anomaly() is on
    if check is not None:
        check(node, g, shares)
    for p, share in zip(node._prev, shares, strict=True):
        if p.requires_grad and share is not None:
            total = p.grad + share  # out of place: no memory shared with `node`
            p._grad = total if p.is_scalar else np.asarray(total, dtype=p.dtype)


def _count_uses(root):
    """Count, in each node's ``_uses`` slot, the edges that lead into it from below the root.

    A node is ready once that many shares have reached it. Slots rather than a dict or a set: this
    and the loop of `_backprop` are the hot path.
    """
    stack = [root]
    # `while True`, not `while stack:`: CPython 3.11 specializes a function's bytecode once it has
    # run ~8 calls or unconditional jumps back, and `while stack:` jumps back conditionally, so a
    # single pass over a long chain would run unspecialized from start to end.
    while True:
        if not stack:
            break
        node = stack.pop()
        x = node._x
        if x is None:
            continue  # a leaf
        if x.requires_grad:
            uses = x._uses
            x._uses = uses + 1
            if not uses:
                stack.append(x)
        y = node._y
        if y is not None and y.requires_grad:
            uses = y._uses
            y._uses = uses + 1
            if not uses:
                stack.append(y)


def _seed(root, grad, create_graph):
    """The root's gradient: 1 for a one-element root, else the caller's `grad`, fitted to the root."""
    if not root.requires_grad:
        raise ValueError(
            "backward: this Value needs no gradient (it was made under no_grad, by detach(), "
            "with requires_grad=False, or from constants only), so there is no graph to go back through"
        )
    if grad is None:
        data = root.data
        if type(data) is float:
            seed = 1.0
        elif data.size == 1:
            seed = np.empty_like(data)  # (np.ones is a Python function: three times the cost)
            seed.fill(1)
        else:
            raise ValueError(
                f"backward: the root has shape {root.shape}; a root with more than one element "
                f"needs an explicit grad of that shape, e.g. root.backward(np.ones({root.shape}))"
            )
        return type(root)(seed) if create_graph else seed  # fitted to the root already
    if create_graph and isinstance(grad, type(root)):
        seed = grad  # a Value: the seed's own graph is part of what gets differentiated
    else:
        # The root's class checks and copies the caller's grad: the pass may add into it in place.
        seed = type(root)(grad, requires_grad=False).data
    if _shape_of(seed) != root.shape:
        raise ValueError(
            f"backward: grad has shape {_shape_of(seed)} but the root has shape {root.shape}"
        )
    if isinstance(seed, type(root)):
        return seed
    # Fitted to the root like every gradient of the pass: a float for a scalar, else root's dtype.
    seed = float(seed) if root.is_scalar else np.asarray(seed, dtype=root.dtype)
    return type(root)(seed) if create_graph else seed


def _shape_of(x):
    return x.shape if hasattr(x, "shape") else ()


def _ieee_rule(rule, g, a, inputs):
    """Rerun a rule on numpy scalars, which give inf and nan where Python floats raise."""
    return [_plain(r) for r in on_numpy_floats(rule, g, a, *inputs)]


def _plain(x):
    return float(x) if isinstance(x, np.floating) else x


def _reduce_to(g, node):
    """Fit a gradient to its node: sum away broadcast axes, keep floats for scalar nodes."""
    data = node.data
    if type(g) is np.ndarray and type(data) is np.ndarray:
        if g.shape == data.shape and g.dtype == data.dtype:
            return g
        g = sum_to(g, data.shape)
        return g if g.dtype == data.dtype else g.astype(data.dtype)
    if type(data) is float:
        if type(g) is float:
            return g
        if not isinstance(g, RAW):  # a Value, in a create_graph pass
            return g if g.size == 1 and g.ndim == 0 else g.sum()
        return float(np.sum(g))
    if type(g) is float:
        return np.full(data.shape, g, dtype=data.dtype)
    return sum_to(g, data.shape)


def _borrowed(array, g, node):
    """Whether a rule's output may share memory with arrays the graph holds: the upstream gradient
    (passed on as is by +, -), a view of it (reshape, transpose, broadcast), or the node's data."""
    if type(array) is not np.ndarray:
        return False
    return (
        array.base is not None
        or array is g
        or array is node.data
        or array is node._x.data
        or (node._y is not None and array is node._y.data)
    )


def _accumulate(node, g):
    """Add a later pass's gradient into ``node.grad`` (the pass stores a first one as it is).

    A leaf owns its gradient array: the pass hands it an array nothing else holds (copied where a
    rule passed one on), and later passes add into it in place. An intermediate node keeps the array
    the pass computed: it is there to be read (drawings, teaching) and may share memory with its
    neighbours' gradients, so later passes add to it out of place.
    """
    current = node._grad
    if node._rule is None and type(current) is np.ndarray and type(g) is np.ndarray:
        np.add(current, g, out=current)
    else:
        node._grad = current + g


def _reset(root):
    """Clear the bookkeeping of an interrupted pass, so the next one starts clean."""
    for node in topological_order(root):
        node._g, node._uses = None, 0


def topological_order(root):
    """Nodes with every input before the nodes that use it, each node's inputs in `_prev` order
    (x before w), as micrograd's build_topo lists them; iterative, so deep graphs are fine. The
    drawings number their nodes in this order."""
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


def gradients(root, inputs, grad=None, create_graph=False):
    """d(root)/d(input) for each of `inputs`, without touching any ``.grad`` (``torch.autograd.grad``).

    An input the root does not depend on gets a zero gradient.

    >>> from tinygrad_act import Value
    >>> x = Value(3.0)
    >>> gradients(x * x, [x])
    [6.0]
    """
    seed = _seed(root, grad, create_graph)
    wanted = {}
    for i, v in enumerate(inputs):
        wanted.setdefault(id(v), []).append(i)
    found = [None] * len(inputs)

    def visit(node, g):
        for i in wanted.get(id(node), ()):
            found[i] = g

    _backprop(root, seed, create_graph, visit)
    for i, v in enumerate(inputs):
        if found[i] is None:
            zero = 0.0 if v.is_scalar else np.zeros_like(v.data)
            found[i] = type(v)(zero) if create_graph else zero
        elif not create_graph and not v.is_scalar:
            found[i] = np.array(found[i], dtype=v.dtype)
    return found


# --------------------------------------------------------------------------------------------------
# The pass for readers: drawings, the lab's explanations, generated code. Off the hot path.


def apply_rule(node, g):
    """What `node`'s rule passes to each input, in ``_prev`` order, for the upstream gradient `g`:
    local derivative × g, fitted to the input as the pass fits it (broadcast axes summed away, a
    float for a scalar); None where the rule gives an input nothing (every input of a node made
    without a rule), () for a leaf. Raw data in and
    out; where Python's float math raises (x/0, an overflow) the rule is redone on numpy floats,
    whose answers are inf and nan, as in the pass.

    >>> from tinygrad_act import Value
    >>> x, w = Value(2.0), Value(-3.0)
    >>> apply_rule(x * w, 0.5)
    (-1.5, 1.0)
    >>> apply_rule(x / Value(0.0), 1.0)
    (inf, -inf)
    """
    rule, inputs = node._rule, node._prev
    if rule is None:
        return (None,) * len(inputs)
    data = [p.data for p in inputs]
    try:
        with np.errstate(all="ignore"):
            shares = rule(g, node.data, *data)
    except ArithmeticError:  # float math hit x/0 or overflow: redo it the IEEE way
        shares = _ieee_rule(rule, g, node.data, data)
    return tuple(
        None if share is None else _reduce_to(share, p)
        for p, share in zip(inputs, shares, strict=True)
    )


def local_derivatives(node):
    """The local derivative along each input edge of `node` (∂node/∂input, in ``_prev`` order):
    its rule applied to an upstream gradient of 1; () for a leaf.

    >>> from tinygrad_act import Value
    >>> z = Value(0.0)
    >>> local_derivatives(z.tanh()), local_derivatives(z * 3)
    ((1.0,), (3.0, 0.0))
    """
    one = 1.0 if type(node.data) is float else np.ones_like(node.data)
    return apply_rule(node, one)


class BackwardStep(NamedTuple):
    """One node's turn in `backward_steps`."""

    node: object  # every node that uses it has passed its share down
    grad: object  # so this is its complete gradient dL/dnode
    shares: tuple  # what it passes to each input (`_prev` order); None where nothing flows
    grads: Mapping  # every gradient known after this step (a view the walk keeps updating)


def backward_steps(root, grad=None):
    """The backward pass one node at a time: a `BackwardStep` for the root, then for each node that
    a gradient reaches, in the drawings' order (reversed `topological_order`: a node comes once
    every node that uses it has come, so its gradient is complete). ``step.grads`` holds, after the
    step, the complete gradients so far and the partial sums of the inputs still waiting for shares.

    The gradients are summed into new objects in a dictionary of the walk's own: no ``.grad``
    changes, and no array is changed in place. The seed is `backward`'s (`grad`, or 1 for a root
    with one element); a bad one is refused here, before the first step.

    >>> from tinygrad_act import Value
    >>> x = Value(3.0, label="x")
    >>> [(step.node.label or step.node._op, step.grad, step.shares) for step in backward_steps(x * x + x)]
    [('+', 1.0, (1.0, 1.0)), ('*', 1.0, (3.0, 3.0)), ('x', 7.0, ())]
    >>> x.grad
    0.0
    """
    return _walk(root, _seed(root, grad, create_graph=False))


def _walk(root, seed):
    grads = {root: seed}
    view = MappingProxyType(grads)
    for node in reversed(topological_order(root)):
        g = grads.get(node)
        if g is None:
            continue  # nothing flows into it (a constant)
        shares = tuple(
            share if p.requires_grad else None
            for p, share in zip(node._prev, apply_rule(node, g), strict=True)
        )
        for p, share in zip(node._prev, shares, strict=True):
            if share is not None:
                grads[p] = grads[p] + share if p in grads else share  # out of place
        yield BackwardStep(node, g, shares, view)


def has_hooks():
    """Whether any Value has a gradient hook."""
    return bool(_HOOKS)


def has_hook(node):
    """Whether `node` has a gradient hook (a compiled program, which runs no pass, refuses to
    compute the gradient of a parameter that has one)."""
    return node in _HOOKS
