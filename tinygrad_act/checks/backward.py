"""Check my backprop: a student's hand-derived gradients against the engine's, the first wrong one
named and explained.

`check_backward(loss_fn, params, hand_grads)` runs the student's forward pass on `Value`s, takes
the engine's gradient of every parameter and named intermediate, and compares. Where a gradient
disagrees it asks which plausible mistake makes exactly the student's numbers:

- a constant factor (the batch size m, -1, 2, 1/2): the ratio hand / engine is the same everywhere;
- a transpose, or a shape mismatch (a sum over the wrong axis, a missing ``keepdims``);
- the wrong activation slope: backprop rerun with one activation's g'(z) replaced by another row of
  the registry (sigmoid's a(1-a) where tanh's 1-a² belongs, ReLU's mask, 1 for a forgotten slope);
- conventions, which are not mistakes: ReLU'(0) taken as 0 (the lecture takes 1), and the course's
  dZ = m·dLoss/dZ for intermediates (it applies 1/m only in dW and db).

The reruns apply each node's rule through `backprop.apply_rule`; the graph is never changed.
"""

from __future__ import annotations

import html
import math
import numbers
import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.backprop import apply_rule, gradients, topological_order
from tinygrad_act.checks.common import num, slope, text_table
from tinygrad_act.checks.kinks import one_sided
from tinygrad_act.engine import Value

__all__ = ["BackwardReport", "GradientRow", "check_backward", "compare"]

STATUSES = ("exact", "close", "wrong", "shape", "convention", "missing")
_AGREE = ("exact", "close", "convention")
_SHOWN_POSITIONS = 3  # the largest differences a "wrong" diagnosis lists
_WIDTH = 76  # the sentences under the table wrap here, to read in a terminal and on a phone
_NAMED_FACTORS = {-1.0: "-1 (a sign)", 2.0: "2", 0.5: "1/2"}


@dataclass
class GradientRow:
    """One gradient compared: `name` as the student gave it, `status` one of "exact", "close",
    "wrong", "shape", "convention", "missing", the largest absolute and relative differences, and
    the sentence that explains a row that is not exact."""

    name: str
    status: str
    max_abs_diff: float = math.nan
    max_rel_diff: float = math.nan
    diagnosis: str = ""
    course_factor: bool = field(
        default=False, repr=False
    )  # m times dLoss/dZ, as the course writes dZ

    @property
    def ok(self):
        return self.status in _AGREE


@dataclass
class BackwardReport:
    """What `check_backward` found: ``rows`` in backward order (nearest the loss first), ``ok``,
    ``first_wrong`` (the name of the first row that disagrees, or None) and its ``diagnosis``."""

    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        return all(row.ok for row in self.rows)

    @property
    def first_wrong(self):
        row = self._first_wrong_row()
        return None if row is None else row.name

    @property
    def diagnosis(self):
        """One or two sentences about the first wrong gradient ("" when every gradient agrees)."""
        row = self._first_wrong_row()
        return "" if row is None else row.diagnosis

    def _first_wrong_row(self):
        # A gradient given and wrong comes before one not given: a partial check still points
        # at the mistake it contains.
        wrong = [row for row in self.rows if not row.ok]
        given = [row for row in wrong if row.status != "missing"]
        return (given or wrong or [None])[0]

    def assert_ok(self):
        """Raise AssertionError with the report's text unless every gradient agrees (for graders)."""
        if not self.ok:
            raise AssertionError(str(self))

    def _lines(self):
        if self.ok:
            head = "Every gradient agrees with the engine's."
        else:
            head = f"First wrong: {self.first_wrong}. {self.diagnosis}"
        return [head, *self.notes]

    def __str__(self):
        header = ["gradient", "status", "max abs diff", "max rel diff"]
        body = [[r.name, r.status, _diff(r.max_abs_diff), _diff(r.max_rel_diff)] for r in self.rows]
        wrapped = [part for line in self._lines() for part in textwrap.wrap(line, _WIDTH)]
        return "\n".join([*text_table([header, *body], numeric_from=2), *wrapped])

    def _repr_html_(self):
        cells = "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{r.status}</td>"
            f"<td>{_diff(r.max_abs_diff)}</td><td>{_diff(r.max_rel_diff)}</td></tr>"
            for r in self.rows
        )
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in self._lines())
        return (
            "<table><thead><tr><th>gradient</th><th>status</th><th>max abs diff</th>"
            f"<th>max rel diff</th></tr></thead><tbody>{cells}</tbody></table>{lines}"
        )


def check_backward(loss_fn, params, hand_grads, *, rtol=1e-6, atol=1e-9, m=None):
    """Compare hand-derived gradients with the engine's; name the first wrong one and say why.

    ``loss_fn(params)`` receives a dict of `Value`s (each labelled with its key) and returns the
    loss, or ``(loss, cache)`` with ``cache`` a dict, or a tuple holding dicts, of named
    intermediates. ``hand_grads["dW1"]`` (or ``["W1"]``) is the student's dLoss/dW1,
    ``hand_grads["dZ1"]`` their dLoss/d(the cache's Z1). A gradient agrees when
    ``|hand - engine| <= atol + rtol·|engine|`` everywhere. ``m``, the batch size that names a
    factor "1/m", is read off the graph when not given.

    >>> import numpy as np
    >>> def loss_fn(p):
    ...     z = p["w"] * 2.0
    ...     return (z * z).sum(), {"z": z}
    >>> report = check_backward(loss_fn, {"w": np.array([1.0, 3.0])}, {"dz": [4.0, 12.0], "dw": [8.0, 24.0]})
    >>> report.ok, [(r.name, r.status) for r in report.rows]
    (True, [('dz', 'exact'), ('dw', 'exact')])
    >>> check_backward(loss_fn, {"w": np.array([1.0, 3.0])}, {"dw": [-8.0, -24.0]}).diagnosis
    "dw is -1 (a sign) times the engine's dLoss/dw everywhere: a sign flipped."
    """
    _check_tolerances(rtol, atol)
    _check_m(m)
    leaves = _leaves(params)
    loss, cache = _run(loss_fn, leaves)
    targets = _targets(hand_grads, leaves, cache)
    nodes = [node for _, _, node in targets]
    truth = gradients(loss, nodes)
    order = _backward_order(loss)
    m = _batch_size(loss, leaves) if m is None else m
    ctx = _Context(_Reruns(loss, nodes), m, rtol, atol, {id(leaf) for leaf in leaves.values()})
    rows = [
        _row(name, hand, np.asarray(true, dtype=np.float64), node, ctx)
        for (name, hand, node), true in zip(targets, truth, strict=True)
    ]
    _settle_course_convention(rows, nodes, leaves, cache, m)
    report = BackwardReport()
    ranks = [order.get(node, math.inf) for node in nodes]
    report.rows = [row for _, _, row in sorted(zip(ranks, range(len(rows)), rows, strict=True))]
    for row in report.rows:
        if row.status == "convention" and row.diagnosis not in report.notes:
            report.notes.append(row.diagnosis)
    return report


def compare(name, hand, value, *, rtol=1e-6, atol=1e-9, m=None):
    """One gradient: the student's `hand` against ``value``'s gradient after backward, printed as
    Karpathy's ``cmp`` prints it (exact, approximate, maxdiff) with the diagnosis; returns the line.

    >>> from tinygrad_act import Value
    >>> x = Value([1.0, 2.0])
    >>> (x * x).sum().backward()
    >>> line = compare("dx", [1.0, 2.0], x)
    dx              | exact: False | approximate: False | maxdiff: 2 | dx is 1/2 times the engine's dLoss/dx everywhere: a factor 1/2.
    """
    if not isinstance(value, Value):
        raise TypeError(
            f"compare: value must be a Value after backward, got {type(value).__name__}"
        )
    true = value.grad_data
    if true is None:
        raise ValueError(f"compare: {name} has no gradient yet; run backward() on the loss first")
    _check_tolerances(rtol, atol)
    _check_m(m)
    hand = _as_array(hand, "compare: hand")
    ctx = _Context(None, m, rtol, atol, frozenset())
    row = _row(name, hand, np.asarray(true, dtype=np.float64), None, ctx)
    exact = row.status == "exact"
    approximate = row.status in ("exact", "close")
    line = (
        f"{name:15s} | exact: {exact} | approximate: {approximate} | "
        f"maxdiff: {_diff(row.max_abs_diff)}"
    )
    if row.diagnosis:
        line += f" | {row.diagnosis}"
    print(line)
    return line


# --------------------------------------------------------------------------------------------------
# One row: the comparison, then the mistakes that could explain a disagreement


class _Context(NamedTuple):
    """What every row is checked with: the reruns (None for `compare`, which has no graph), m,
    the tolerances, and which nodes are parameters."""

    passes: object
    m: int | None
    rtol: float
    atol: float
    params: frozenset


def _row(name, hand, true, node, ctx):
    passes, m, rtol, atol = ctx.passes, ctx.m, ctx.rtol, ctx.atol
    is_param = id(node) in ctx.params
    if hand is None:
        return GradientRow(name, "missing", diagnosis=f"{name} was not given.")
    if hand.shape != true.shape:
        return GradientRow(name, "shape", diagnosis=_shape_diagnosis(name, hand, true))
    abs_diff, rel_diff = _diffs(hand, true)
    if np.array_equal(hand, true):
        return GradientRow(name, "exact", abs_diff, rel_diff)
    if _agrees(hand, true, rtol, atol):
        return GradientRow(name, "close", abs_diff, rel_diff)
    row = GradientRow(name, "wrong", abs_diff, rel_diff)
    scales = (1.0,) if is_param or m is None else (1.0, float(m))
    kink = None if passes is None else passes.kink_convention(node)
    if kink is not None:
        for scale in scales:
            if _agrees(hand, scale * kink, rtol, atol):
                row.status = "convention"
                row.diagnosis = (
                    f"{name} differs only where an activation's input is exactly at its kink: "
                    f"{passes.kink_text}. A convention, not a mistake."
                )
                if scale != 1.0:
                    row.diagnosis += " " + _course_text(name, m)
                return row
    if not is_param and m is not None and _agrees(hand, m * true, rtol, atol):
        row.status = "convention"  # settled against the parameters' rows by check_backward
        row.course_factor = True
        row.diagnosis = _course_text(name, m)
        return row
    row.diagnosis = (
        _factor_diagnosis(name, hand, true, m, rtol, atol)
        or _transpose_diagnosis(name, hand, true, rtol, atol)
        or (passes and _slope_diagnosis(name, hand, node, passes, scales, m, rtol, atol))
        or _positions_diagnosis(name, hand, true)
    )
    return row


def _course_text(name, m):
    return (
        f"{name} is m = {m} times dLoss/d{_bare(name)} of the averaged cost: the course's "
        "convention (dZ2 = A2 - Y, with 1/m applied only in dW and db), not a mistake."
    )


def _settle_course_convention(rows, nodes, leaves, cache, m):
    """A factor m on an intermediate is the course's convention while the parameter gradients
    right under it (down to the next cached intermediate) agree; where every one of them
    disagrees too, the factor m is where the mistake starts: a missing 1/m."""
    given = {
        id(node): row for row, node in zip(rows, nodes, strict=True) if row.status != "missing"
    }
    stops = {id(v) for v in cache.values()}
    params = {id(leaf) for leaf in leaves.values()}
    for row, node in zip(rows, nodes, strict=True):
        if not row.course_factor:
            continue
        under = [given[i] for i in _reached(node, stops) if i in params and i in given]
        if under and not any(r.ok for r in under):
            row.status = "wrong"
            row.diagnosis = (
                f"{row.name} is m = {m} times the engine's dLoss/d{_bare(row.name)} everywhere, "
                f"and the parameter gradients under it disagree too: missing 1/m (m = {m}, the "
                "batch size)."
            )


def _reached(node, stops):
    """id of every node under `node`, not looking past another cached intermediate."""
    seen, stack = set(), [node]
    while stack:
        for p in stack.pop()._prev:
            if id(p) not in seen:
                seen.add(id(p))
                if id(p) not in stops:
                    stack.append(p)
    return seen


def _factor_diagnosis(name, hand, true, m, rtol, atol):
    ratio = _constant_ratio(hand, true, rtol, atol)
    if ratio is None:
        return ""
    said = f"{name} is {{}} times the engine's dLoss/d{_bare(name)} everywhere: {{}}."
    if m is not None and math.isclose(ratio, m, rel_tol=1e-9):
        return said.format(f"m = {m}", f"missing 1/m (m = {m}, the batch size)")
    if m is not None and math.isclose(ratio, 1 / m, rel_tol=1e-9):
        return said.format(f"1/m = 1/{m}", f"an extra 1/m (m = {m}, the batch size)")
    for factor, text in _NAMED_FACTORS.items():
        if math.isclose(ratio, factor, rel_tol=1e-9):
            return said.format(text, "a sign flipped" if factor == -1 else f"a factor {text}")
    return said.format(num(ratio), f"a constant factor {num(ratio)}")


def _constant_ratio(hand, true, rtol, atol):
    """hand / true when it is one number everywhere (zeros where true is zero), else None."""
    nonzero = np.abs(true) > atol
    if not nonzero.any():
        return None
    ratio = float(np.median(hand[nonzero] / true[nonzero]))
    if ratio == 0 or not math.isfinite(ratio):
        return None
    return ratio if _agrees(hand, ratio * true, rtol, atol) else None


def _transpose_diagnosis(name, hand, true, rtol, atol):
    if hand.ndim == 2 and _agrees(hand.T, true, rtol, atol):
        return f"{name}.T agrees with the engine's dLoss/d{_bare(name)}: a transpose."
    return ""


def _shape_diagnosis(name, hand, true):
    said = (
        f"{name} has shape {hand.shape}; the engine's dLoss/d{_bare(name)} has shape {true.shape}"
    )
    if hand.ndim == 2 and hand.shape == true.shape[::-1]:
        if _agrees(hand.T, true, 1e-6, 1e-9):
            return f"{said}: a transpose ({name}.T agrees)."
        return f"{said}: a transposed product, or a transposed operand in it."
    squeezed = tuple(n for n in true.shape if n != 1)
    if hand.shape == squeezed and hand.ndim < true.ndim:
        return f"{said}: a missing keepdims=True in the sum that made it."
    wrong_axis = [k for k, n in enumerate(hand.shape) if n == 1]
    right_axis = [k for k, n in enumerate(true.shape) if n == 1]
    if hand.ndim == true.ndim and wrong_axis and right_axis and wrong_axis != right_axis:
        return (
            f"{said}: a sum over the wrong axis (axis={wrong_axis[0]} where "
            f"axis={right_axis[0]} belongs)."
        )
    if hand.ndim == true.ndim and right_axis and not wrong_axis:
        return (
            f"{said}: a missing sum over axis {right_axis[0]} (a broadcast parameter's gradient "
            "is summed over the axis it was broadcast along)."
        )
    return f"{said}."


def _slope_diagnosis(name, hand, node, passes, scales, m, rtol, atol):
    for spec, alt_text, grads in passes.swapped():
        for scale in scales:
            if _agrees(hand, scale * grads[id(node)], rtol, atol):
                said = (
                    f"{name} equals backprop with {spec.name}'s slope taken as {alt_text}; "
                    f"the slide's {spec.name}' is {spec.local_formula()}."
                )
                if scale != 1.0:
                    said += f" (Scaled by m = {m}, as the course writes dZ: a convention.)"
                return said
    return ""


def _positions_diagnosis(name, hand, true):
    diff = np.abs(hand - true)
    flat = np.argsort(diff, axis=None, kind="stable")[::-1][:_SHOWN_POSITIONS]
    spots = []
    for k in flat:
        at = np.unravel_index(k, diff.shape)
        where = f"[{', '.join(map(str, at))}]" if at else ""
        spots.append(f"{name}{where}: {num(hand[at])} against {num(true[at])}")
    return (
        "No constant factor, transpose or activation slope explains it; the largest "
        f"differences: {'; '.join(spots)}."
    )


# --------------------------------------------------------------------------------------------------
# Backprop rerun with one activation's slope swapped (the graph is read, never changed)


class _Reruns:
    """The gradients of the targets when one activation's slope g'(z) is replaced by another's."""

    def __init__(self, loss, targets):
        self.loss, self.targets = loss, targets
        self.order = topological_order(loss)
        self.activations = {}  # name -> spec, for the activations in this graph
        for node in self.order:
            spec = getattr(node.rule, "spec", None)
            if spec is not None and not spec.tensor_only and spec.derivative is not None:
                self.activations.setdefault(spec.name, spec)
        self._kink = "unset"
        self.kink_text = ""
        self._swapped = None

    def swapped(self):
        """(an activation in the graph, how its slope was taken, the targets' gradients then):
        each other elementwise row of the registry, and 1 for a slope forgotten; run once."""
        if self._swapped is None:
            self._swapped = []
            forgotten = lambda z, a: np.ones_like(np.asarray(a, dtype=np.float64))  # noqa: E731
            for spec in self.activations.values():
                swaps = [
                    (_slope_of(other), f"{other.local_formula()}, {other.name}'s")
                    for other in ACTIVATIONS.values()
                    if not other.tensor_only and other.derivative is not None and other is not spec
                ]
                for slope, said in [*swaps, (forgotten, "1 (the slope forgotten)")]:
                    grads = self.with_slope(spec, slope)
                    if grads is not None:
                        self._swapped.append((spec, said, grads))
        return self._swapped

    def with_slope(self, spec, slope):
        """id(target) -> its gradient, with every `spec` node's local gradient taken as slope(z, a)."""

        def swap(node, g):
            if getattr(node.rule, "spec", None) is not spec:
                return None
            return (g * slope(node._prev[0].data, node.data),)

        try:
            with np.errstate(all="ignore"):
                return self._pass(swap)
        except (TypeError, ValueError, ArithmeticError):
            return None  # a user's row that only takes floats: that swap cannot be tried

    def kink_convention(self, node):
        """The target's gradient with each kink's other one-sided slope (ReLU'(0) = 0), or None
        when no activation input sits exactly on a kink."""
        if self._kink == "unset":
            self._kink = self._kink_pass()
        return None if self._kink is None else self._kink[id(node)]

    def _kink_pass(self):
        swaps, texts = {}, []
        for node in self.order:
            spec = getattr(node.rule, "spec", None)
            if spec is None or not spec.kinks or spec.derivative is None:
                continue
            z = np.asarray(node._prev[0].data, dtype=np.float64)
            for k in spec.kinks:
                on = z == k
                if not on.any():
                    continue
                left, right, chosen = one_sided(spec, node.rule.params, k, 1e-6)
                other = left if math.isclose(chosen, right, abs_tol=1e-6) else right
                other = round(other, 6) + 0.0
                swaps.setdefault(id(node), []).append((on, other))
                text = f"{spec.name}'({num(k)}) = {slope(other)} where the lecture takes {slope(chosen)}"
                if text not in texts:
                    texts.append(text)
        if not swaps:
            return None
        self.kink_text = "; ".join(texts)

        def swap(node, g):
            if id(node) not in swaps:
                return None
            local = np.array(
                node.rule.spec.derivative(node._prev[0].data, node.data, **node.rule.params),
                dtype=np.float64,
            )
            for on, other in swaps[id(node)]:
                local = np.where(on, other, local)
            return (g * local,)

        return self._pass(swap)

    def _pass(self, swap):
        """The backward pass of `backprop.reference_backward`, into a dict: swap(node, g) may
        give a node's shares instead of its rule."""
        uses = dict.fromkeys(self.order, 0)
        for node in self.order:
            for p in node._prev:
                uses[p] += 1
        seed = 1.0 if type(self.loss.data) is float else np.ones_like(self.loss.data)
        pending, ready, found = {self.loss: seed}, [self.loss], {}
        while ready:
            node = ready.pop()
            g = pending.pop(node)
            found[id(node)] = np.asarray(g, dtype=np.float64)
            shares = swap(node, g) or apply_rule(node, g)
            for p, share in zip(node._prev, shares, strict=True):
                if share is not None and p.requires_grad:
                    pending[p] = pending[p] + share if p in pending else share
                uses[p] -= 1
                if not uses[p] and p in pending:
                    ready.append(p)
        return {id(t): found.get(id(t), np.zeros(np.shape(t.data))) for t in self.targets}


def _slope_of(spec):
    params = spec.defaults
    return lambda z, a: spec.derivative(z, a, **params)


# --------------------------------------------------------------------------------------------------
# The student's inputs


def _leaves(params):
    if not isinstance(params, dict) or not params:
        raise TypeError(
            "check_backward: params must be a non-empty dict of name -> numpy array or float, "
            f"got {type(params).__name__}"
        )
    leaves = {}
    for name, data in params.items():
        if not isinstance(name, str):
            raise TypeError(f"check_backward: parameter names are strings, got {name!r}")
        if isinstance(data, Value):
            data = data.data
        if isinstance(data, numbers.Real) and not isinstance(data, bool):
            leaves[name] = Value(float(data), label=name)
            continue
        try:
            array = np.array(
                data, dtype=np.float64
            )  # a copy: the student's arrays stay as they are
        except (TypeError, ValueError):
            raise TypeError(
                f"check_backward: params[{name!r}] must be a numpy array or a float, "
                f"got {type(data).__name__}"
            ) from None
        leaves[name] = Value(array, label=name)
    return leaves


def _run(loss_fn, leaves):
    if not callable(loss_fn):
        raise TypeError(f"check_backward: loss_fn must be callable, got {type(loss_fn).__name__}")
    out = loss_fn(dict(leaves))
    cache = {}
    if isinstance(out, tuple) and len(out) == 2:
        out, raw = out
        _collect(raw, cache)
    if not isinstance(out, Value):
        raise TypeError(
            "check_backward: loss_fn must return the loss as a Value, or (loss, cache); "
            f"it returned {type(out).__name__}"
        )
    if np.size(out.data) != 1:
        raise ValueError(
            f"check_backward: the loss must be one number, got shape {np.shape(out.data)}"
        )
    return out, cache


def _collect(raw, cache):
    """The named Values of a cache: a dict, or a tuple (the course's) holding dicts."""
    if isinstance(raw, dict):
        for key, v in raw.items():
            if isinstance(v, Value) and isinstance(key, str):
                cache.setdefault(key, v)
    elif isinstance(raw, (tuple, list)):
        for item in raw:
            _collect(item, cache)
    else:
        raise TypeError(
            "check_backward: the cache must be a dict of named Values or a tuple holding dicts, "
            f"got {type(raw).__name__}"
        )


def _targets(hand_grads, leaves, cache):
    """(the student's name, their array, the node it is the gradient of), in the order given;
    then every parameter with no gradient given, as a missing row."""
    if not isinstance(hand_grads, dict):
        raise TypeError(
            f"check_backward: hand_grads must be a dict of name -> array, got {type(hand_grads).__name__}"
        )
    named = {**cache, **leaves}
    targets, covered = [], set()
    for key, hand in hand_grads.items():
        if not isinstance(key, str):
            raise TypeError(f"check_backward: gradient names are strings, got {key!r}")
        node = named.get(_bare(key)) if key.startswith("d") else None
        if node is None:
            node = named.get(key)  # "W1" for dLoss/dW1, as the issue allows
        if node is None:
            accepted = ", ".join([f"d{k}" for k in leaves] + [f"d{k}" for k in cache])
            raise ValueError(
                f"check_backward: hand_grads has {key!r}, which names no parameter and no cached "
                f"intermediate; accepted: {accepted}"
            )
        array = None if hand is None else _as_array(hand, f"check_backward: hand_grads[{key!r}]")
        covered.add(id(node))
        targets.append((key, array, node))
    for key, leaf in leaves.items():
        if id(leaf) not in covered:
            targets.append((f"d{key}", None, leaf))
    return targets


def _as_array(hand, what):
    try:
        return np.array(getattr(hand, "data", hand), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an array or a number, got {type(hand).__name__}") from None


def _bare(name):
    """dW1 -> W1: what a gradient's name is the gradient of."""
    return name[1:] if name.startswith("d") and len(name) > 1 else name


def _backward_order(loss):
    """Node -> its place in the backward pass: a node's gradient is complete once every node that
    uses it has passed its share, so a parameter comes right after its last user."""
    order = topological_order(loss)[::-1]
    rank = {}
    for i, node in enumerate(order):
        rank.setdefault(node, i)
        for p in node._prev:
            rank[p] = max(rank.get(p, 0), i + 0.5)
    return rank


def _batch_size(loss, leaves):
    """m, the number of examples: an axis length of the graph's arrays that no parameter has."""
    param_sizes = {n for leaf in leaves.values() for n in np.shape(leaf.data)}
    sizes = {}
    for node in topological_order(loss):
        for n in np.shape(node.data):
            if n > 2 and n not in param_sizes:  # 1 and 2 are too common to name m by
                sizes[n] = sizes.get(n, 0) + 1
    return max(sizes, key=sizes.get) if sizes else None


def _check_m(m):
    if m is not None and (not isinstance(m, numbers.Integral) or isinstance(m, bool) or m < 1):
        raise ValueError(f"check_backward: m, the batch size, must be a positive int, got {m!r}")


def _check_tolerances(rtol, atol):
    for key, value in (("rtol", rtol), ("atol", atol)):
        ok = (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        )
        if not ok or value < 0:
            raise ValueError(
                f"check_backward: {key} must be a non-negative finite number, got {value!r}"
            )


def _agrees(hand, true, rtol, atol):
    if np.shape(hand) != np.shape(true):
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(hand - true) <= atol + rtol * np.abs(true)))


def _diffs(hand, true):
    with np.errstate(all="ignore"):
        diff = np.abs(hand - true)
        rel = np.where(diff == 0, 0.0, diff / np.abs(true))
    return float(diff.max(initial=0.0)), float(rel.max(initial=0.0))


def _diff(x):
    return "-" if math.isnan(x) else f"{x:.3g}"
