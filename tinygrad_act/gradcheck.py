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

The lecture's table, g(z) and g'(z) three ways (formula, backprop, central differences), is
`derivative_table`; `check_activations` gradchecks the whole registry (``tinygrad-act check``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from tinygrad_act import activations as _registry
from tinygrad_act.backprop import topological_order
from tinygrad_act.engine import Value, enable_grad, gradients
from tinygrad_act.formatting import number, true_operands
from tinygrad_act.functional import jvp

__all__ = [
    "GradcheckError",
    "Mismatch",
    "DerivativeRow",
    "SLIDE_POINTS",
    "DEFAULT_EPS",
    "MAX_DENSE_PASSES",
    "MAX_DENSE_ENTRIES",
    "numerical_grad",
    "gradcheck",
    "gradgradcheck",
    "derivative_table",
    "format_derivative_table",
    "check_activations",
]

SLIDE_POINTS = (-10.0, 0.0, 10.0)  # the z the slide works through for sigmoid and tanh
_UNDERFLOW = 1e-300  # a float64 spacing below this is g ≈ 0, where a zero slope can be exact
DEFAULT_EPS = 1e-6  # the relative step, when no eps is given
ATOL, RTOL = 1e-5, 1e-3  # the default tolerances: |analytic - numeric| <= ATOL + RTOL·|numeric|
MAX_DENSE_PASSES = 20_000  # evaluations of fn plus backward passes a dense check may take
MAX_DENSE_ENTRIES = 4_000_000  # entries of a dense Jacobian (32 MB in float64)
_SHOWN = 10  # rows of the failure table, and kink explanations, shown at most


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
        return _at(self.input, self.index)


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
            k = _positions(wrong)[0]
            where = _at(problem.out_names[o], k)
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
                for idx in _positions(wrong):
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
            output = "" if single else _at(self.out_names[o], k)
            x = self.base[i] if not j else float(self.base[i][j])
            mismatches.append(_mismatch(self.names[i], j, x, output, a, n))
        entries = list(dict.fromkeys((i, j) for _, _, _, i, j, _, _ in bad))
        kinks = self.explain_kinks(entries[:_SHOWN], leaves, outs)
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
        sites = _kink_sites(_graph_order(outs), DEFAULT_EPS if self.eps is None else self.eps)
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

    # ---- kinks ------------------------------------------------------------------------------------

    def explain_kinks(self, entries, leaves, outs):
        """Sentences for the disagreeing entries (input i, element j) that move a node across its kink."""
        order = _graph_order(outs)
        sites = _kink_sites(order, DEFAULT_EPS if self.eps is None else self.eps)
        if not sites:
            return []
        sentences = []
        for i, j in entries:
            h = float(np.broadcast_to(self.step(self.base[i]), np.shape(self.base[i]))[j])
            plus = _graph_order(self.evaluate(self.leaves(i, j, h)))
            minus = _graph_order(self.evaluate(self.leaves(i, j, -h)))
            same_graph = [n._op for n in plus] == [n._op for n in order] == [n._op for n in minus]
            x = self.base[i] if not j else float(self.base[i][j])
            for site in sites:
                if same_graph and not _moves(site, plus, minus):
                    continue
                direct = order[site.pos]._prev[0] is leaves[i] and site.element == j
                sentence = site.sentence(f"{_at(self.names[i], j)} = {_num(x)}", direct)
                if sentence not in sentences:
                    sentences.append(sentence)
        return sentences


@dataclass(frozen=True)
class _KinkSite:
    """An element of a node's input sitting exactly on that node's kink."""

    pos: int  # the node's place in the topological order
    element: tuple  # the element of the node's input
    op: str
    at: float
    left: float
    right: float
    chosen: float | None
    ties: int = 0

    def sentence(self, subject, direct):
        slopes = f"left slope {_slope(self.left)}, right slope {_slope(self.right)}"
        if self.chosen is not None:
            slopes += f", backward chose {_slope(self.chosen)}"
        if self.op == "max":
            others = self.ties - 1
            if direct:
                return (
                    f"{subject} ties for the max with {others} other "
                    f"entr{'y' if others == 1 else 'ies'}, a kink of max: {slopes}"
                )
            return f"{subject} makes {self.ties} entries tie at {_num(self.at)} in a max: {slopes}"
        if direct:
            return f"{subject} is a kink of {self.op}: {slopes}"
        where = f"{self.op}'s input{_idx(self.element)}"
        return f"{subject} puts {where} at {_num(self.at)}, a kink of {self.op}: {slopes}"


def _kink_sites(order, h):
    sites = []
    for pos, node in enumerate(order):
        rule = node.rule
        if rule is None or not node._prev:
            continue
        spec = getattr(rule, "spec", None)
        z = node._prev[0].data
        if spec is not None and spec.kinks:
            for k in spec.kinks:
                hits = _positions(np.asarray(z) == k)
                if not hits:
                    continue
                try:
                    left, right, chosen = _one_sided(spec, rule.params, k, h)
                except (TypeError, ValueError, ArithmeticError):
                    continue  # a user's forward that only takes floats: no explanation, still a failure
                for e in hits:
                    sites.append(_KinkSite(pos, e, spec.name, k, left, right, chosen))
        elif node._op == "max" and hasattr(rule, "axis"):
            a = node.data
            if not rule.keepdims and rule.axis is not None:
                a = np.expand_dims(a, rule.axis)
            top = z == a
            count = np.broadcast_to(top.sum(axis=rule.axis, keepdims=True), z.shape)
            for e in _positions(top & (count > 1)):
                n = int(count[e])
                sites.append(_KinkSite(pos, e, "max", float(z[e]), 0.0, 1.0, 1.0 / n, n))
    return sites


def _one_sided(spec, params, k, h):
    """The slopes of g just left and right of the kink k (forward differences), and backward's choice."""
    g = np.asarray(spec.forward(np.array([k - h, k, k + h]), **params), dtype=np.float64)
    left, right = (g[1] - g[0]) / h, (g[2] - g[1]) / h
    chosen = None
    if spec.derivative is not None:
        chosen = np.asarray(spec.derivative(np.array([k]), g[1:2], **params), dtype=np.float64)
        chosen = float(chosen.reshape(-1)[0])
    return float(left), float(right), chosen


def _moves(site, plus, minus):
    """Whether the site's input element differs between the graphs at x+eps and x-eps."""
    up, down = plus[site.pos]._prev[0].data, minus[site.pos]._prev[0].data
    if site.element:
        up, down = up[site.element], down[site.element]
    return up != down


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


def _positions(mask):
    """The indices where a boolean mask holds; () for a true 0-d mask (a scalar)."""
    mask = np.asarray(mask)
    if mask.ndim == 0:
        return [()] if mask else []
    return [tuple(int(i) for i in idx) for idx in zip(*np.nonzero(mask), strict=True)]


def _graph_order(outs):
    """Every node behind the outputs, inputs first, each once."""
    order, seen = [], set()
    for out in outs:
        if isinstance(out, Value):
            for node in topological_order(out):
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
    return order


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


def _idx(j):
    return "[" + ", ".join(map(str, j)) + "]" if j else ""


def _at(name, j):
    return f"{name}{_idx(j)}"


def _num(x):
    """A float as a person writes it: 0.0, -0.5, 1e-07."""
    text = f"{float(x):.6g}"
    return text if any(c in text for c in ".enai") else text + ".0"


def _slope(x):
    x = round(float(x), 6)  # a one-sided difference of a linear piece is exact to ~1e-10
    return f"{x + 0.0:.4g}"


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
    for m in mismatches[:_SHOWN]:
        row = [m.input, _idx(m.index) or "-"] + ([m.output] if with_output else [])
        row += [f"{m.analytic:.6g}", f"{m.numeric:.6g}", f"{m.abs_err:.3g}", f"{m.rel_err:.3g}"]
        rows.append(row)
    lines = [head, *_table(rows, numeric_from=len(header) - 4)]
    if len(mismatches) > _SHOWN:
        lines.append(f"  ... and {len(mismatches) - _SHOWN} more")
    if kinks:
        lines.append(
            "Non-differentiable points (the central difference averages the two one-sided slopes):"
        )
        lines += [f"  {k}" for k in kinks[:_SHOWN]]
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
    for m in mismatches[:_SHOWN]:
        row = [m.input] + ([m.output] if with_output else [])
        row += [f"{m.analytic:.6g}", f"{m.numeric:.6g}", f"{m.abs_err:.3g}", f"{m.rel_err:.3g}"]
        rows.append(row)
    lines = [head, *_table(rows, numeric_from=len(header) - 4)]
    lines += [f"Note: {n}" for n in notes]
    lines.append(
        "The dense check (fast_mode=False) names the Jacobian entries that disagree, "
        "for inputs small enough to afford it."
    )
    return "\n".join(lines)


def _table(rows, numeric_from):
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    cells = lambda r: [  # noqa: E731
        cell.rjust(w) if c >= numeric_from else cell.ljust(w)
        for c, (cell, w) in enumerate(zip(r, widths, strict=True))
    ]
    return ["  " + "  ".join(cells(r)).rstrip() for r in rows]


# --------------------------------------------------------------------------------------------------
# The lecture's table and the registry check (the `derivatives` and `check` commands)


@dataclass(frozen=True)
class DerivativeRow:
    """One line of the lecture's table: g(z) and g'(z) three ways at one z.

    ``formula`` is the registry's g'(z) evaluated directly, ``backprop`` what backward through a
    Value gives, ``numeric`` the central difference. ``agree``: formula == backprop, and numeric
    agrees too unless z is a kink (``kink``: there it averages the two one-sided slopes, ``note``
    says which). ``written`` is g' as the lecture writes it.

    >>> row = derivative_table([0.0], ["sigmoid"])[0]
    >>> row.g, row.formula, row.backprop, row.agree, row.written
    (0.5, 0.25, 0.25, True, 'a(1-a)')
    """

    name: str
    z: float
    g: float
    formula: float
    backprop: float
    numeric: float
    agree: bool
    kink: bool = False
    written: str = ""
    note: str = ""


def derivative_table(points=None, names=None, eps=None):
    """The lecture's table: for each elementwise activation and each z, g(z) and g'(z) three ways.

    `points` default to the slide's -10, 0, 10; `names` to every registered elementwise activation,
    with its default parameters. The numeric column's step is `eps`, or ``1e-6·max(1, |z|)`` when eps is
    None, so that huge z still get a true slope. softmax and log_softmax (``tensor_only``) map a vector to a vector:
    their derivative is a Jacobian, not a slope g'(z), so they are left out (asking for one is a
    ValueError); ``check_activations`` gradchecks them.

    >>> [(r.z, round(r.g, 5), round(r.formula, 5)) for r in derivative_table(names=["sigmoid"])]
    [(-10.0, 5e-05, 5e-05), (0.0, 0.5, 0.25), (10.0, 0.99995, 5e-05)]
    >>> row = derivative_table([0], ["relu"])[0]
    >>> row.formula, row.numeric, row.kink, row.agree
    (1.0, 0.5, True, True)
    """
    points = _points(points)
    specs = _elementwise(names)
    return [_row(spec, z, eps) for spec in specs for z in points]


TABLE_HEADER = (
    "activation", "g'(z) written", "z", "g(z)", "g'(z) formula", "g'(z) backprop", "g'(z) numeric", "agree",
)  # fmt: skip


def table_cells(rows):
    """The rows as text cells under `TABLE_HEADER`, and the kink footnotes the cells point to.

    >>> cells, notes = table_cells(derivative_table([0.0], ["relu"]))
    >>> cells[0][-1], notes[0][:30]
    ('kink [1]', 'relu has a kink at z = 0.0: le')
    """
    cells, notes = [], []
    for r in rows:
        if not r.agree:
            verdict = "NO"
        elif r.note:
            notes.append(r.note)
            verdict = f"{'kink' if r.kink else 'yes'} [{len(notes)}]"
        else:
            verdict = "yes"
        z, g = _true_z_and_g(r)
        numbers = [z, g] + [number(x, 6) for x in (r.formula, r.backprop, r.numeric)]
        cells.append([r.name, r.written, *numbers, verdict])
    return cells, notes


def _true_z_and_g(row):
    """z and g(z) with the digits it takes for the written formula, on them as printed, to give
    the formula column as printed: tanh at z = 10 shows g(z) = 0.999999995877693 beside
    1-a² = 8.24461e-09, never 1 beside it."""
    spec = _registry.ACTIVATIONS.get(row.name)
    if spec is None or spec.derivative is None:
        z, g = number(row.z, 6), number(row.g, 6)
    else:
        params = spec.defaults
        (z, g), _ = true_operands(
            lambda z, g: spec.derivative(float(z), float(g), **params),
            [row.z, row.g],
            row.formula,
            digits=6,
        )
    return (z if any(c in z for c in ".enai") else z + ".0"), g


def format_derivative_table(rows):
    """The rows as an aligned text table, with a footnote for each kink.

    >>> print(format_derivative_table(derivative_table([0.0], ["tanh"])))
    activation  g'(z) written    z  g(z)  g'(z) formula  g'(z) backprop  g'(z) numeric  agree
    tanh        1-a²           0.0     0              1               1              1  yes
    """
    if not rows:
        return "(no rows)"
    body, notes = table_cells(rows)
    table = [list(TABLE_HEADER), *body]
    widths = [max(len(t[c]) for t in table) for c in range(len(TABLE_HEADER))]
    lines = []
    for t in table:
        cells = [
            cell.rjust(w) if 2 <= c <= 6 else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(t, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines += [f"[{n}] {note}" for n, note in enumerate(notes, 1)]
    return "\n".join(lines)


def check_activations(names=None):
    """gradcheck every registered activation (or `names`): name -> None if it passes, else the problem.

    Each elementwise activation is checked on scalars (the slide's points and random ones) and on a
    vector (the full Jacobian, off-diagonal zeros included); a tensor-only one (softmax) on a matrix
    along its last axis. Points within 0.05 of a kink are skipped. The problem is one line.

    >>> check_activations(["sigmoid", "softmax"])
    {'sigmoid': None, 'softmax': None}
    """
    if isinstance(names, str):
        names = [names]
    specs = list(_registry.ACTIVATIONS.values()) if names is None else [_lookup(n) for n in names]
    results = {}
    for spec in specs:
        try:
            results[spec.name] = _check_activation(spec)
        except GradcheckError as err:
            results[spec.name] = _one_line(err)
        except (
            Exception
        ) as err:  # a user's forward or derivative that crashes is a failure to report
            results[spec.name] = f"raised {type(err).__name__}: {err}".splitlines()[0]
    return results


def _check_activation(spec):
    rng = np.random.default_rng(0)
    if spec.tensor_only:
        z = Value(rng.uniform(-3, 3, size=(3, 4)), label="z")
        gradcheck(lambda z: z.activate(spec.name), [z])
        return None
    points = _away_from_kinks(np.concatenate([SLIDE_POINTS, rng.uniform(-4, 4, 6)]), spec.kinks)
    for p in points:
        gradcheck(lambda z: z.activate(spec.name), [Value(float(p), label="z")])
    vector = _away_from_kinks(rng.uniform(-4, 4, 10), spec.kinks)
    gradcheck(lambda z: z.activate(spec.name), [Value(vector, label="z")])
    return None


def _away_from_kinks(points, kinks, margin=0.05):
    points = np.asarray(points, dtype=np.float64)
    for k in kinks:
        points = points[np.abs(points - k) > margin]
    return points


def _one_line(err):
    worst = err.mismatches[0]
    where = f"{worst.where} = {_num(worst.x)}"
    if worst.output:
        where += f" (output {worst.output})"
    text = (
        f"{where}: backprop {worst.analytic:.6g}, numeric {worst.numeric:.6g} "
        f"({len(err.mismatches)} of {err.total} Jacobian entries disagree)"
    )
    return text + (f"; {err.kinks[0]}" if err.kinks else "")


def _lookup(name):
    if not isinstance(name, str):
        raise ValueError(f"activation names are strings, got {type(name).__name__} ({name!r})")
    return _registry.lookup(name)


def _elementwise(names):
    if names is None:
        return [s for s in _registry.ACTIVATIONS.values() if not s.tensor_only]
    if isinstance(names, str):
        names = [names]
    specs = [_lookup(n) for n in names]
    for s in specs:
        if s.tensor_only:
            raise ValueError(
                f"{s.name} maps a vector to a vector: its derivative is a Jacobian, not a slope "
                f"g'(z), so it has no row in this table (`tinygrad-act check --activation {s.name}` "
                "gradchecks it)"
            )
    return specs


def _points(points):
    if points is None:
        return list(SLIDE_POINTS)
    if isinstance(points, (numbers.Real, np.generic)) and not isinstance(points, bool):
        points = [points]
    if isinstance(points, (str, bytes)) or not hasattr(points, "__iter__"):
        raise ValueError(
            f"points must be a list of numbers, got {type(points).__name__} ({points!r})"
        )
    result = []
    for p in points:
        ok = isinstance(p, (numbers.Real, np.generic)) and not isinstance(p, (bool, np.bool_))
        if not ok or not math.isfinite(float(p)):
            raise ValueError(f"points must be finite numbers, got {p!r}")
        result.append(float(p))
    if not result:
        raise ValueError("points is empty; give at least one z")
    return result


def _row(spec, z, eps):
    params = spec.defaults
    g = float(spec.forward(z, **params))
    formula = float(spec.derivative(z, g, **params))
    leaf = Value(z)
    with enable_grad():
        (backprop,) = gradients(leaf.activate(spec.name), [leaf])
    h = DEFAULT_EPS * max(1.0, abs(z)) if eps is None else eps
    up, down = float(spec.forward(z + h, **params)), float(spec.forward(z - h, **params))
    numeric = (up - down) / (2 * h)
    kink = z in spec.kinks
    same = formula == backprop or math.isclose(formula, backprop, rel_tol=1e-12)
    numeric_ok = abs(formula - numeric) <= ATOL + RTOL * abs(numeric)
    note = ""
    if kink and not numeric_ok:
        left, right, _ = _one_sided(spec, params, z, h)
        note = (
            f"{spec.name} has a kink at z = {_num(z)}: left slope {_slope(left)}, right slope "
            f"{_slope(right)}; the central difference averages them ({numeric:.6g}), "
            f"the lecture's formula picks {formula:g}"
        )
    # The smallest slope the central difference can show: one step of g's float64 spacing over 2h.
    resolution = float(np.spacing(max(abs(up), abs(down)))) / (2 * h)
    if not note and abs(formula) < resolution and resolution > _UNDERFLOW:
        note = (
            f"{spec.name} at z = {_num(z)}: g(z) rounds to {number(g, 6)} in float64, so the "
            f"formula on that g(z) and backprop give {number(formula, 6)}; the central "
            f"difference (step h = {number(h, 2)}) cannot see a slope below "
            f"{number(resolution, 2)} here. All three say only that the slope is below what "
            "float64 resolves, not what it is"
        )
    return DerivativeRow(
        name=spec.name,
        z=z,
        g=g,
        formula=formula,
        backprop=float(backprop),
        numeric=numeric,
        agree=same and (numeric_ok or kink),
        kink=kink,
        written=spec.local_formula(),
        note=note,
    )
