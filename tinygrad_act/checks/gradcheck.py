"""Gradient checking: every backward pass against central differences, disagreements explained.

`gradcheck` has the semantics of ``torch.autograd.gradcheck``: the full Jacobian of ``fn`` at the
inputs, computed twice, once by backprop (one backward pass per output element, through
`tinygrad_act.engine.gradients`, which leaves every ``.grad`` alone) and once by central
differences (f(x+h) - f(x-h)) / 2h, element by element. They must agree everywhere:
|analytic - numeric| <= atol + rtol·|numeric|. The step h is ``eps`` when given; by default it is
``1e-6·max(1, |x|)``, relative to each element, so that x ± h still moves a huge x (at x = 1e12 an
absolute 1e-6 is below float64's resolution and every slope would read 0).

A dense Jacobian costs two evaluations of fn per input element and one backward pass per output
element; past `MAX_DENSE_PASSES` passes or `MAX_DENSE_ENTRIES` entries gradcheck refuses and points
to ``fast_mode=True`` (PyTorch's name), which compares random projections vᵀJu instead: one
backward pass per output and two evaluations per input, whatever their sizes.

Both run in float64 on fresh copies of the inputs, so the inputs keep their data and their grads,
pass or fail; float32 inputs are checked in float64 (with a warning), because a central difference
with eps = 1e-6 is below float32's resolution.

At a kink (ReLU or Leaky ReLU at exactly 0, ``max`` with tied entries) g' jumps: the central
difference averages the two one-sided slopes while backprop picks one of them (the lecture picks 1
for ReLU at 0). gradcheck then still fails, as torch does, but says so by name:
"x[3] = 0.0 is a kink of relu: left slope 0, right slope 1, backward chose 1".

The kinks are explained by `tinygrad_act.checks.kinks`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from tinygrad_act.checks.common import (
    ATOL,
    DEFAULT_EPS,
    RTOL,
    SHOWN,
    at,
    graph_order,
    positions,
    subscript,
    text_table,
)
from tinygrad_act.checks.kinks import explain_kinks, kink_sites
from tinygrad_act.engine import Value, enable_grad, gradients
from tinygrad_act.functional import jvp

__all__ = [
    "GradcheckError",
    "Mismatch",
    "DEFAULT_EPS",
    "MAX_DENSE_PASSES",
    "MAX_DENSE_ENTRIES",
    "numerical_grad",
    "gradcheck",
    "gradgradcheck",
]

MAX_DENSE_PASSES = 20_000  # evaluations of fn plus backward passes a dense check may take
MAX_DENSE_ENTRIES = 4_000_000  # entries of a dense Jacobian (32 MB in float64)


class GradcheckError(RuntimeError):
    """Backprop and central differences disagree (a ``RuntimeError``, as in torch).

    ``mismatches`` holds the disagreeing entries worst first (`Mismatch`), ``kinks`` the sentences
    explaining the entries that sit on a non-differentiable point.

    >>> try:
    ...     gradcheck(lambda x: x.relu(), Value(0.0, label="x"))
    ... except GradcheckError as err:
    ...     print(err.kinks[0])
    x = 0.0 is a kink of relu: left slope 0, right slope 1, backward chose 1
    """

    def __init__(self, message, mismatches=(), kinks=(), total=0):
        super().__init__(message)
        self.mismatches = list(mismatches)
        self.kinks = list(kinks)
        self.total = total


@dataclass(frozen=True)
class Mismatch:
    """One Jacobian entry where backprop and central differences disagree.

    ``input`` names the input (its label, else x0, x1, ...), ``index`` the element of that input
    (``()`` for a scalar), ``x`` its value, ``output`` the output element as text ("" for a single
    output element).

    >>> m = Mismatch("x", (3,), 0.0, "", 1.0, 0.5, 0.5, 1.0)
    >>> m.where
    'x[3]'
    """

    input: str
    index: tuple
    x: float
    output: str
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float

    @property
    def where(self):
        return at(self.input, self.index)


# --------------------------------------------------------------------------------------------------
# Public checks


def numerical_grad(fn, inputs, eps=None):
    """d fn(*inputs) / d input by central differences, one list entry per input.

    The step is `eps`, or ``1e-6·max(1, |x|)`` for each element when eps is None.

    For a single-element output each entry is shaped like its input (a float for a scalar input);
    for a tensor output it is the Jacobian, shaped ``output.shape + input.shape``. Always float64.

    >>> x = Value([1.0, 2.0, 3.0], label="x")
    >>> [g.round(6).tolist() for g in numerical_grad(lambda x: (x * x).sum(), [x])]
    [[2.0, 4.0, 6.0]]
    >>> [round(g, 6) for g in numerical_grad(lambda z: z.tanh(), Value(0.0))]
    [1.0]
    """
    inputs = _inputs(inputs, "numerical_grad")
    _check_tolerances("numerical_grad", eps)
    problem = _Problem(_single(fn, "numerical_grad"), inputs, ["out"], eps)
    _warn_float32("numerical_grad", inputs, problem.names, eps)
    base = problem.outputs(problem.leaves())
    problem.check_dense_size("numerical_grad", fast_mode_hint=False)
    (jacobians,) = problem.numeric(base)
    out_shape = problem.out_shapes[0]
    result = []
    for v, jac in zip(inputs, jacobians, strict=True):
        if math.prod(out_shape) == 1:
            jac = jac.reshape(v.shape)
            result.append(float(jac) if v.is_scalar else jac)
        else:
            result.append(jac)
    return result


def gradcheck(
    fn,
    inputs,
    eps=None,
    atol=ATOL,
    rtol=RTOL,
    raise_exception=True,
    check_forward_ad=False,
    fast_mode=False,
):
    """True when backprop matches central differences on every Jacobian entry of fn at inputs.

    `fn(*inputs)` returns a scalar or tensor `Value` (or a number/array: then there is no graph and
    every analytic entry is 0). `inputs` is a `Value` or a sequence of them; fn is called on fresh
    float64 copies of them, so it must compute from its arguments, not from Values it closes over
    (those are constants to the check). On a disagreement it raises `GradcheckError` with a table
    of the worst entries, or returns False when ``raise_exception=False``.
    ``check_forward_ad=True`` (PyTorch's name) checks forward mode too: J·u from one `jvp` along
    a random direction u against central differences along u, and vᵀ(J·u) against backprop's
    (vᵀJ)·u for a random v.

    ``fast_mode=True`` checks vᵀJu, for random non-negative unit vectors u (per input) and v (per
    output), by one backward pass seeded with v and one central difference along u: O(N) work
    instead of the dense O(N²), for inputs too large for the dense Jacobian.

    >>> x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    >>> gradcheck(lambda x, w, b: (x * w + b).tanh(), [x, w, b])
    True
    >>> gradcheck(lambda z: z.relu(), Value([-1.0, 0.0, 2.0], label="z"), raise_exception=False)
    False
    >>> gradcheck(lambda z: z.tanh().sum(), Value(np.linspace(-3, 3, 100_000)), fast_mode=True)
    True
    >>> gradcheck(lambda z: z.softmax(), Value([0.5, -1.0, 2.0]), check_forward_ad=True)
    True
    """
    inputs = _inputs(inputs, "gradcheck")
    _check_tolerances("gradcheck", eps, atol, rtol)
    problem = _Problem(_single(fn, "gradcheck"), inputs, ["out"], eps)
    _warn_float32("gradcheck", inputs, problem.names, eps)
    ok = problem.check("gradcheck", atol, rtol, raise_exception, fast_mode)
    if ok and check_forward_ad:
        return _check_forward_ad(problem, "gradcheck", atol, rtol, raise_exception)
    return ok


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    eps=None,
    atol=ATOL,
    rtol=RTOL,
    raise_exception=True,
    check_forward_ad=False,
    fast_mode=False,
):
    """True when the engine's second derivatives match central differences of its first ones.

    The first derivative is ``gradients(fn(*inputs), inputs, grad=grad_outputs, create_graph=True)``,
    one gradient per input; gradgradcheck runs `gradcheck` on it, as a function of the inputs.
    `grad_outputs` contracts a tensor output (vᵀJ); when None it is seeded random normal for a
    tensor output and 1 for a single-element one. The second derivative with respect to
    `grad_outputs` is not checked: the gradient is linear in it. Same report as `gradcheck`, and
    the same ``fast_mode``. ``check_forward_ad=True`` also checks forward mode through the
    recorded backward pass (forward over reverse, as `tinygrad_act.hessian` computes).

    >>> z = Value([-1.0, 0.5, 2.0], label="z")
    >>> gradgradcheck(lambda z: z.sigmoid(), [z])
    True
    >>> from tinygrad_act import register_activation, sigmoid, unregister_activation
    >>> frozen = lambda z, a: a.data * (1 - a.data) if isinstance(a, Value) else a * (1 - a)
    >>> _ = register_activation("frozen_sigmoid", lambda z: sigmoid(z), frozen)
    >>> gradcheck(lambda z: z.frozen_sigmoid(), [z])  # first order: right
    True
    >>> gradgradcheck(lambda z: z.frozen_sigmoid(), [z], raise_exception=False)  # a(1-a) is frozen
    False
    >>> unregister_activation("frozen_sigmoid")
    """
    inputs = _inputs(inputs, "gradgradcheck")
    _check_tolerances("gradgradcheck", eps, atol, rtol)
    if not callable(fn):
        raise TypeError(f"gradgradcheck: fn must be callable, got {type(fn).__name__}")
    names = [_name(v, i) for i, v in enumerate(inputs)]
    _warn_float32("gradgradcheck", inputs, names, eps)

    probe = _Problem(lambda *xs: [fn(*xs)], inputs, ["out"], eps)
    with enable_grad():
        out = fn(*probe.leaves())
    if not isinstance(out, Value):
        raise TypeError(
            f"gradgradcheck: fn must return a Value (its gradient is differentiated again), "
            f"it returned {type(out).__name__}"
        )
    seed = _grad_outputs(grad_outputs, out.shape)

    def first_derivative(*xs):
        root = fn(*xs)
        return gradients(root, xs, grad=seed, create_graph=True)

    problem = _Problem(first_derivative, inputs, [f"d/d{n}" for n in names], eps)
    ok = problem.check("gradgradcheck", atol, rtol, raise_exception, fast_mode)
    if ok and check_forward_ad:
        return _check_forward_ad(problem, "gradgradcheck", atol, rtol, raise_exception)
    return ok


def _check_forward_ad(problem, caller, atol, rtol, raise_exception):
    """Forward mode against central differences and against reverse mode, along random directions.

    With seeded random normal directions u (one per input) and v (one per output): J·u from one
    `tinygrad_act.jvp` must match the central difference (f(x + eps·u) - f(x - eps·u)) / 2eps entry
    by entry, and vᵀ(J·u) must equal (vᵀJ)·u, backprop's gradient of vᵀf dotted with u.
    """
    rng = np.random.default_rng(0)
    h = DEFAULT_EPS if problem.eps is None else problem.eps
    u = []
    for b in problem.base:  # a direction per input, in its form: a float for a scalar
        d = rng.standard_normal(np.shape(b))
        if problem.eps is None:  # the default step is relative: h·u moves x by about h·|x|
            d = d * np.maximum(1.0, np.abs(b))
        u.append(float(d) if type(b) is float else d)

    def moved(step):
        pairs = zip(problem.base, u, problem.labels, strict=True)
        return [Value(b + step * d, label=label) for b, d, label in pairs]

    _, dots = jvp(lambda *xs: tuple(problem.evaluate(list(xs))), tuple(moved(0.0)), tuple(u))
    plus, minus = problem.outputs(moved(h)), problem.outputs(moved(-h))
    for o, (dot, p, m) in enumerate(zip(dots, plus, minus, strict=True)):
        dot = np.asarray(dot, dtype=np.float64)
        with np.errstate(all="ignore"):
            numeric = (p - m) / (2 * h)
            wrong = ~(np.abs(dot - numeric) <= atol + rtol * np.abs(numeric))
        if wrong.any():
            k = positions(wrong)[0]
            where = at(problem.out_names[o], k)
            return _forward_ad_failed(
                caller,
                f"along a random direction u, jvp gives J·u = {float(dot[k]):.6g} at {where} but "
                f"central differences give {float(numeric[k]):.6g} ({int(wrong.sum())} of "
                f"{wrong.size} entries disagree)",
                raise_exception,
            )
    leaves = problem.leaves()
    v = [rng.standard_normal(np.shape(d)) for d in dots]
    by_forward = sum(float(np.sum(vo * np.asarray(d))) for vo, d in zip(v, dots, strict=True))
    by_reverse = 0.0
    for out, vo in zip(problem.evaluate(leaves), v, strict=True):
        if isinstance(out, Value) and out.requires_grad:
            seed = float(vo) if out.is_scalar else vo
            grads = gradients(out, leaves, grad=seed)
            by_reverse += sum(float(np.sum(g * d)) for g, d in zip(grads, u, strict=True))
    if not abs(by_forward - by_reverse) <= atol + rtol * abs(by_reverse):
        return _forward_ad_failed(
            caller,
            f"forward and reverse mode disagree: vᵀ(J·u) = {by_forward:.6g} by jvp but "
            f"(vᵀJ)·u = {by_reverse:.6g} by backprop, for random directions u and v",
            raise_exception,
        )
    return True


def _forward_ad_failed(caller, text, raise_exception):
    if raise_exception:
        raise GradcheckError(f"{caller} failed (check_forward_ad): {text}")
    return False


# --------------------------------------------------------------------------------------------------
# The machinery: fresh float64 copies, the two Jacobians, the comparison and the report


class _Problem:
    """fn, the inputs' float64 data, and the two ways of computing fn's Jacobian from it."""

    def __init__(self, fn, inputs, out_names, eps):
        self.fn = fn  # fn(*leaves) -> a list of outputs
        self.base = [v.data if v.is_scalar else np.array(v.data, dtype=np.float64) for v in inputs]
        self.labels = [v.label for v in inputs]
        self.names = [_name(v, i) for i, v in enumerate(inputs)]
        self.out_names = out_names
        self.eps = eps
        self.out_shapes = None

    def step(self, x):
        """The central-difference step at x: eps, or DEFAULT_EPS relative to |x|."""
        if self.eps is not None:
            return self.eps
        return DEFAULT_EPS * np.maximum(1.0, np.abs(x))

    def leaves(self, i=None, j=(), delta=0.0):
        """Fresh leaf Values of the inputs, with element j of input i moved by delta
        (j=None: the whole input moved by the array delta)."""
        leaves = []
        for k, (data, label) in enumerate(zip(self.base, self.labels, strict=True)):
            if k == i:
                if type(data) is float:
                    data = data + float(delta)
                else:
                    with np.errstate(over="ignore"):  # x + h past the largest float is inf
                        if j is None:
                            data = data + delta
                        else:
                            data = data.copy()
                            data[j] += delta
            leaves.append(Value(data, label=label))
        return leaves

    def evaluate(self, leaves):
        # Record the graph even inside no_grad: backprop needs it, and gradgradcheck's fn runs
        # a backward pass of its own.
        with enable_grad():
            outs = self.fn(*leaves)
        if len(outs) != len(self.out_names):
            raise ValueError(f"expected {len(self.out_names)} outputs, got {len(outs)}")
        return outs

    def outputs(self, leaves):
        """The outputs' data as float64 arrays (copies: fn may return an input itself)."""
        arrays = [_output_array(out) for out in self.evaluate(leaves)]
        shapes = [a.shape for a in arrays]
        if self.out_shapes is None:
            self.out_shapes = shapes
        elif shapes != self.out_shapes:
            raise ValueError(
                f"fn's output shape changed from {self.out_shapes} to {shapes} when an input "
                f"moved by a central-difference step; gradcheck needs a fixed output shape"
            )
        return arrays

    def check_dense_size(self, caller, fast_mode_hint=True):
        """Refuse a dense Jacobian too large to build, saying how large (after one evaluation)."""
        n_in = sum(int(np.size(d)) for d in self.base)
        n_out = sum(math.prod(shape) for shape in self.out_shapes)
        passes, entries = 2 * n_in + n_out, n_in * n_out
        if passes > MAX_DENSE_PASSES:
            problem = (
                f"a dense check of {n_in:,} input elements and {n_out:,} output elements takes "
                f"{passes:,} passes (2 evaluations of fn per input element, 1 backward pass per "
                f"output element), more than MAX_DENSE_PASSES = {MAX_DENSE_PASSES:,}"
            )
        elif entries > MAX_DENSE_ENTRIES:
            problem = (
                f"the dense Jacobian would hold {n_out:,} x {n_in:,} = {entries:,} entries, "
                f"more than MAX_DENSE_ENTRIES = {MAX_DENSE_ENTRIES:,}"
            )
        else:
            return
        hint = (
            "; pass fast_mode=True to compare random projections vᵀJu instead "
            f"({2 * len(self.base) + len(self.out_shapes)} passes)"
        )
        raise ValueError(f"{caller}: {problem}{hint if fast_mode_hint else ''}")

    def numeric(self, base):
        """Per output, per input: the central-difference Jacobian, shaped out.shape + in.shape."""
        jac = [[np.zeros(b.shape + np.shape(d)) for d in self.base] for b in base]
        for i, data in enumerate(self.base):
            steps = np.broadcast_to(self.step(data), np.shape(data))
            for j in np.ndindex(np.shape(data)):
                h = float(steps[j])
                plus = self.outputs(self.leaves(i, j, h))
                minus = self.outputs(self.leaves(i, j, -h))
                with np.errstate(all="ignore"):  # inf - inf at huge x is a nan entry, reported
                    for o in range(len(base)):
                        jac[o][i][(Ellipsis, *j)] = (plus[o] - minus[o]) / (2 * h)
        return jac

    def projections(self):
        """fast_mode: per (output, input), vᵀJu by backprop and by one central difference along u.

        u and v are random non-negative unit vectors, as in PyTorch, so that the tolerance of
        the dense check carries over: an all-atol error matrix E gives vᵀEu = atol·Σu·Σv.
        """
        rng = np.random.default_rng(0)
        leaves = self.leaves()
        outs = self.evaluate(leaves)
        base = [_output_array(out) for out in outs]
        self.out_shapes = [b.shape for b in base]
        us = [_unit_vector(rng, np.shape(d)) for d in self.base]
        vs = [_unit_vector(rng, b.shape) for b in base]
        # Directions in units of the step: moving by h0·d moves element j by its own step.
        h0 = DEFAULT_EPS if self.eps is None else self.eps
        ds = [u * (self.step(d) / h0) for u, d in zip(us, self.base, strict=True)]
        analytic = np.zeros((len(outs), len(self.base)))
        notes = []
        with np.errstate(all="ignore"):
            for o, out in enumerate(outs):
                if not isinstance(out, Value):
                    notes.append(
                        f"{self.out_names[o]} is a {type(out).__name__}, not a Value: there is no "
                        "graph to backprop through, so every analytic projection is 0"
                    )
                    continue
                seed = float(vs[o]) if out.is_scalar else vs[o].astype(out.dtype)
                for i, g in enumerate(gradients(out, leaves, grad=seed)):
                    analytic[o, i] = np.sum(np.asarray(g, dtype=np.float64) * ds[i])
            numeric = np.zeros_like(analytic)
            for i, d in enumerate(ds):
                plus = self.outputs(self.leaves(i, None, h0 * d))
                minus = self.outputs(self.leaves(i, None, -h0 * d))
                for o, v in enumerate(vs):
                    numeric[o, i] = np.sum(v * (plus[o] - minus[o])) / (2 * h0)
        scale = np.array([[v.sum() * np.abs(d).sum() for d in ds] for v in vs])
        return analytic, numeric, scale, leaves, outs, notes

    def analytic(self):
        """Backprop's Jacobian (one backward pass per output element), and the graph it came from."""
        leaves = self.leaves()
        outs = self.evaluate(leaves)
        jac, notes = [], []
        for o, out in enumerate(outs):
            shape = _output_array(out).shape
            rows = [np.zeros(shape + np.shape(d)) for d in self.base]
            if not isinstance(out, Value):
                notes.append(
                    f"{self.out_names[o]} is a {type(out).__name__}, not a Value: there is no "
                    "graph to backprop through, so every analytic entry is 0"
                )
            else:
                for k in np.ndindex(shape):
                    seed = None
                    if not out.is_scalar:
                        seed = np.zeros(shape)
                        seed[k] = 1.0
                    for i, g in enumerate(gradients(out, leaves, grad=seed)):
                        rows[i][(*k, Ellipsis)] = g
            jac.append(rows)
        return jac, leaves, outs, notes

    def check(self, caller, atol, rtol, raise_exception, fast_mode=False):
        if fast_mode:
            return self.check_fast(caller, atol, rtol, raise_exception)
        base = self.outputs(self.leaves())
        self.check_dense_size(caller)
        numeric = self.numeric(base)
        analytic, leaves, outs, notes = self.analytic()
        bad, total = [], 0
        for o, out_shape in enumerate(self.out_shapes):
            for i in range(len(self.base)):
                a, n = analytic[o][i], numeric[o][i]
                total += a.size
                with np.errstate(all="ignore"):  # an inf or nan entry never agrees
                    err = np.abs(a - n)
                    tol = atol + rtol * np.abs(n)
                    wrong = ~((err <= tol) & np.isfinite(err))
                cut = len(out_shape)  # a Jacobian index is (output element, input element)
                for idx in positions(wrong):
                    k, j = idx[:cut], idx[cut:]
                    excess = float(err[idx]) - float(tol[idx])  # floats: inf - inf is nan, quietly
                    bad.append(
                        (-math.inf if math.isnan(excess) else -excess, o, k, i, j, a[idx], n[idx])
                    )
        if not bad:
            return True
        bad.sort(key=lambda b: b[0])
        single = len(self.out_shapes) == 1 and math.prod(self.out_shapes[0]) == 1
        mismatches = []
        for _, o, k, i, j, a, n in bad:
            output = "" if single else at(self.out_names[o], k)
            x = self.base[i] if not j else float(self.base[i][j])
            mismatches.append(_mismatch(self.names[i], j, x, output, a, n))
        entries = list(dict.fromkeys((i, j) for _, _, _, i, j, _, _ in bad))
        kinks = explain_kinks(self, entries[:SHOWN], leaves, outs)
        message = _report(caller, mismatches, total, atol, rtol, kinks, notes)
        if raise_exception:
            raise GradcheckError(message, mismatches, kinks, total)
        return False

    def check_fast(self, caller, atol, rtol, raise_exception):
        analytic, numeric, scale, leaves, outs, notes = self.projections()
        with np.errstate(all="ignore"):
            err = np.abs(analytic - numeric)
            tol = atol * scale + rtol * np.abs(numeric)
            wrong = ~((err <= tol) & np.isfinite(err))
            excess = np.nan_to_num(err - tol, nan=np.inf)  # nan first, then the worst
        if not wrong.any():
            return True
        single = len(self.out_shapes) == 1
        pairs = sorted(zip(*np.nonzero(wrong), strict=True), key=lambda p: -excess[p])
        mismatches = [
            _mismatch(
                self.names[i], None, math.nan, "" if single else self.out_names[o],
                analytic[o, i], numeric[o, i],
            )
            for o, i in pairs
        ]  # fmt: skip
        sites = kink_sites(graph_order(outs), DEFAULT_EPS if self.eps is None else self.eps)
        if sites:
            ops = ", ".join(dict.fromkeys(site.op for site in sites))
            notes.append(
                f"{len(sites)} element(s) sit exactly on a kink of {ops}, where the central "
                "difference averages the two one-sided slopes"
            )
        message = _report_fast(caller, mismatches, wrong.size, atol, rtol, notes)
        if raise_exception:
            raise GradcheckError(message, mismatches, [], wrong.size)
        return False


def _unit_vector(rng, shape):
    """A random non-negative vector of unit length (a float for a scalar), as PyTorch draws u, v."""
    u = rng.random(shape)
    norm = np.sqrt(np.sum(u * u))
    return u / norm if norm > 0 else np.ones(shape)


def _mismatch(name, index, x, output, a, n):
    a, n = float(a), float(n)
    abs_err = abs(a - n)
    with np.errstate(all="ignore"):
        rel_err = abs_err / abs(n) if n != 0 else (0.0 if abs_err == 0 else math.inf)
    return Mismatch(name, index, x, output, a, n, abs_err, rel_err)


# --------------------------------------------------------------------------------------------------
# Input checking and formatting


def _inputs(inputs, caller):
    if isinstance(inputs, Value):
        return [inputs]
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(
            f"{caller}: inputs must be a Value or a list/tuple of Values, "
            f"got {type(inputs).__name__}"
        )
    if not inputs:
        raise ValueError(f"{caller}: inputs is empty; give at least one Value")
    for i, v in enumerate(inputs):
        if not isinstance(v, Value):
            raise TypeError(
                f"{caller}: input {i} is a {type(v).__name__} ({_short(v)}); "
                "inputs must be Values (wrap numbers and arrays in Value(...))"
            )
    return list(inputs)


def _single(fn, caller):
    if not callable(fn):
        raise TypeError(f"{caller}: fn must be callable, got {type(fn).__name__}")
    return lambda *xs: [fn(*xs)]


def _check_tolerances(caller, eps, atol=0.0, rtol=0.0):
    checks = [("atol", atol, False), ("rtol", rtol, False)]
    if eps is not None:  # None: the default step, relative to each element
        checks.insert(0, ("eps", eps, True))
    for name, value, positive in checks:
        ok = (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        )
        if not ok or value < 0 or (positive and value == 0):
            kind = "a positive" if positive else "a non-negative"
            raise ValueError(f"{caller}: {name} must be {kind} finite number, got {value!r}")


def _warn_float32(caller, inputs, names, eps):
    low = [n for v, n in zip(inputs, names, strict=True) if v.dtype != np.float64]
    if low:
        step = f"eps={eps:g}" if eps is not None else f"a step of {DEFAULT_EPS:g}·max(1, |x|)"
        warnings.warn(
            f"{caller}: float32 inputs ({', '.join(low)}) are checked in float64 on copies: "
            f"a central difference with {step} is below float32's resolution",
            UserWarning,
            stacklevel=3,
        )


def _grad_outputs(grad_outputs, shape):
    if grad_outputs is None:
        if math.prod(shape) == 1:
            return None
        return np.random.default_rng(0).standard_normal(shape)
    if isinstance(grad_outputs, (list, tuple)) and len(grad_outputs) == 1:
        grad_outputs = grad_outputs[0]  # torch style: one grad_output per output, and fn has one
    if isinstance(grad_outputs, Value):
        grad_outputs = grad_outputs.data
    try:
        seed = np.array(grad_outputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"gradgradcheck: grad_outputs must be a number or an array of the output's shape "
            f"{shape}, got {type(grad_outputs).__name__}"
        ) from None
    if seed.shape != shape and not (seed.size == 1 and math.prod(shape) == 1):
        raise ValueError(
            f"gradgradcheck: grad_outputs has shape {seed.shape}, the output has shape {shape}"
        )
    return float(seed.reshape(())) if shape == () else seed.reshape(shape)


def _output_array(out):
    if isinstance(out, Value):
        return np.array(out.data, dtype=np.float64)
    if isinstance(out, (numbers.Real, np.ndarray, np.generic)) and not isinstance(out, bool):
        return np.array(out, dtype=np.float64)
    raise TypeError(
        f"fn must return a Value, a number or an array; it returned {type(out).__name__}"
    )


def _name(v, i):
    return v.label or f"x{i}"


def _short(x):
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _report(caller, mismatches, total, atol, rtol, kinks, notes):
    head = (
        f"{caller} failed: {len(mismatches)} of {total} Jacobian entries disagree "
        f"(|analytic - numeric| > atol + rtol·|numeric|, atol={atol:g}, rtol={rtol:g}); worst first:"
    )
    with_output = any(m.output for m in mismatches)
    header = ["input", "index"] + (["output"] if with_output else [])
    header += ["analytic", "numeric", "abs err", "rel err"]
    rows = [header]
    for m in mismatches[:SHOWN]:
        row = [m.input, subscript(m.index) or "-"] + ([m.output] if with_output else [])
        row += [f"{m.analytic:.6g}", f"{m.numeric:.6g}", f"{m.abs_err:.3g}", f"{m.rel_err:.3g}"]
        rows.append(row)
    lines = [head, *text_table(rows, numeric_from=len(header) - 4)]
    if len(mismatches) > SHOWN:
        lines.append(f"  ... and {len(mismatches) - SHOWN} more")
    if kinks:
        lines.append(
            "Non-differentiable points (the central difference averages the two one-sided slopes):"
        )
        lines += [f"  {k}" for k in kinks[:SHOWN]]
    lines += [f"Note: {n}" for n in notes]
    return "\n".join(lines)


def _report_fast(caller, mismatches, total, atol, rtol, notes):
    head = (
        f"{caller} failed (fast_mode): vᵀJu disagrees for {len(mismatches)} of {total} "
        f"(input, output) pairs, u and v random non-negative unit vectors (|analytic - numeric| > "
        f"atol·Σu·Σv + rtol·|numeric|, atol={atol:g}, rtol={rtol:g}); worst first:"
    )
    with_output = any(m.output for m in mismatches)
    header = ["input"] + (["output"] if with_output else [])
    header += ["analytic vᵀJu", "numeric vᵀJu", "abs err", "rel err"]
    rows = [header]
    for m in mismatches[:SHOWN]:
        row = [m.input] + ([m.output] if with_output else [])
        row += [f"{m.analytic:.6g}", f"{m.numeric:.6g}", f"{m.abs_err:.3g}", f"{m.rel_err:.3g}"]
        rows.append(row)
    lines = [head, *text_table(rows, numeric_from=len(header) - 4)]
    lines += [f"Note: {n}" for n in notes]
    lines.append(
        "The dense check (fast_mode=False) names the Jacobian entries that disagree, "
        "for inputs small enough to afford it."
    )
    return "\n".join(lines)
