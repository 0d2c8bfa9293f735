"""The tensor ops a student's numpy and PyTorch code needs: var, std, sqrt, abs, min, clip, where,
cat, stack, squeeze, unsqueeze, flatten, view, maximum and minimum of two Values.

PyTorch is the oracle, in float64 and float32, for the values, the gradients under a non-uniform
upstream gradient, the gradients of the gradients (create_graph) and forward mode (jvp); central
differences check them again (gradcheck, gradgradcheck). The kinks are pinned: |z| at 0, max and
min at ties, clip at its bounds, where's unchosen branch, std where it is 0.
"""

import warnings

import numpy as np
import pytest

import tinygrad_act
from tinygrad_act import Value, gradcheck, gradgradcheck, gradients, jvp

torch = pytest.importorskip("torch")
with warnings.catch_warnings():  # torch's forward AD imports this on first use; it warns about jit
    warnings.simplefilter("ignore", DeprecationWarning)
    import torch._decomp.decompositions_for_jvp  # noqa: F401

DTYPES = {np.float64: torch.float64, np.float32: torch.float32}
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
LO, HI = np.array([-0.5, -1.0, 0.0, -0.2]), np.array([0.6, 0.2, 1.5, 0.9])


def _t(x, dtype, grad=True):
    return torch.tensor(np.asarray(x), dtype=DTYPES[dtype], requires_grad=grad)


# (name, ours, torch's, input shapes, kind of input: "any" or "positive")
OPS = [
    ("sqrt", lambda x: x.sqrt(), torch.sqrt, [(3, 4)], "positive"),
    ("abs", lambda x: x.abs(), torch.abs, [(3, 4)], "any"),
    ("abs builtin", lambda x: abs(x), torch.abs, [(3, 4)], "any"),
    ("maximum", lambda x, y: x.maximum(y), torch.maximum, [(3, 4), (4,)], "any"),
    ("minimum", lambda x, y: x.minimum(y), torch.minimum, [(3, 4), (3, 1)], "any"),
    (
        "maximum constant",
        lambda x: x.maximum(0.0),
        lambda t: torch.clamp_min(t, 0.0),
        [(3, 4)],
        "any",
    ),
    (
        "where",
        lambda x, y: x.where(MASK, y),
        lambda x, y: torch.where(torch.tensor(MASK), x, y),
        [(3, 4), (4,)],
        "any",
    ),
    ("clip", lambda x: x.clip(-0.5, 0.7), lambda t: torch.clamp(t, -0.5, 0.7), [(3, 4)], "any"),
    (
        "clip arrays",
        lambda x: x.clip(LO, HI),
        lambda t: torch.clamp(t, torch.tensor(LO, dtype=t.dtype), torch.tensor(HI, dtype=t.dtype)),
        [(3, 4)],
        "any",
    ),
    (
        "clamp lower only",
        lambda x: x.clamp(min=0.1),
        lambda t: torch.clamp(t, min=0.1),
        [(3, 4)],
        "any",
    ),
    ("var numpy", lambda x: x.var(axis=0), lambda t: t.var(0, correction=0), [(5, 4)], "any"),
    ("var all", lambda x: x.var(), lambda t: t.var(correction=0), [(5, 4)], "any"),
    (
        "var torch",
        lambda x: x.var(0, keepdim=True, unbiased=True),
        lambda t: t.var(0, keepdim=True, unbiased=True),
        [(5, 4)],
        "any",
    ),
    (
        "var correction",
        lambda x: x.var(dim=(0, 1), correction=2),
        lambda t: t.var((0, 1), correction=2),
        [(3, 4, 2)],
        "any",
    ),
    (
        "std ddof",
        lambda x: x.std(axis=1, ddof=1),
        lambda t: t.std(1, correction=1),
        [(3, 5)],
        "any",
    ),
    (
        "std torch",
        lambda x: x.std(dim=1, keepdim=True),
        lambda t: t.std(1, keepdim=True),
        [(3, 5)],
        "any",
    ),
    ("min", lambda x: x.min(), lambda t: t.amin(), [(3, 4)], "any"),
    (
        "min axis",
        lambda x: x.min(axis=1, keepdims=True),
        lambda t: t.amin(1, keepdim=True),
        [(3, 4)],
        "any",
    ),
    (
        "max values",
        lambda x: x.max(1, keepdim=True).values,
        lambda t: t.max(1, keepdim=True).values,
        [(3, 4)],
        "any",
    ),
    (
        "min values",
        lambda x: x.min(dim=0).values,
        lambda t: t.min(dim=0).values,
        [(3, 4)],
        "any",
    ),
    (
        "cat",
        lambda x, y: tinygrad_act.cat([x, y], dim=1),
        lambda x, y: torch.cat([x, y], 1),
        [(3, 2), (3, 4)],
        "any",
    ),
    (
        "cat three",
        lambda x, y: tinygrad_act.cat([x, y, x * 2]),
        lambda x, y: torch.cat([x, y, x * 2]),
        [(2, 3), (1, 3)],
        "any",
    ),
    (
        "stack",
        lambda x, y: tinygrad_act.stack([x, y], dim=1),
        lambda x, y: torch.stack([x, y], 1),
        [(3, 4), (3, 4)],
        "any",
    ),
    ("squeeze", lambda x: x.squeeze(1), lambda t: t.squeeze(1), [(3, 1, 4)], "any"),
    ("squeeze all", lambda x: x.squeeze(), lambda t: t.squeeze(), [(1, 3, 1)], "any"),
    ("unsqueeze", lambda x: x.unsqueeze(-1), lambda t: t.unsqueeze(-1), [(3, 4)], "any"),
    ("flatten", lambda x: x.flatten(1), lambda t: t.flatten(1), [(2, 3, 4)], "any"),
    ("view", lambda x: x.view(4, -1), lambda t: t.view(4, -1), [(2, 3, 4)], "any"),
    (
        "batch norm",
        lambda x: (
            (x - x.mean(0, keepdim=True)) * (x.var(0, keepdim=True, unbiased=True) + 1e-5) ** -0.5
        ),
        lambda t: (
            (t - t.mean(0, keepdim=True)) * (t.var(0, keepdim=True, unbiased=True) + 1e-5) ** -0.5
        ),
        [(6, 3)],
        "any",
    ),
]
IDS = [case[0] for case in OPS]


def _inputs(rng, shapes, kind, dtype=np.float64):
    """Inputs away from every kink of the ops above (0, the clip bounds) and from each other, so a
    step of gradcheck never crosses one; a "positive" input stays above 0.3."""
    xs = []
    for shape in shapes:
        if kind == "positive":
            x = rng.uniform(0.3, 2.0, shape)
        else:
            x = rng.uniform(-2.0, 2.0, shape)
            for kink in (0.0, -0.5, 0.7, 0.1, *LO, *HI):
                x = np.where(np.abs(x - kink) < 0.03, kink + 0.05, x)
        xs.append(x.astype(dtype))
    return xs


def _upstream(rng, shape, dtype):
    return rng.uniform(0.5, 2.0, shape).astype(dtype)  # non-uniform: a wrong chain rule shows


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", OPS, ids=IDS)
def test_values_and_gradients_match_torch(case, dtype, rng):
    _, ours, theirs, shapes, kind = case
    xs = _inputs(rng, shapes, kind, dtype)
    vs = [Value(x) for x in xs]
    out = ours(*vs)
    ts = [_t(x, dtype) for x in xs]
    tout = theirs(*ts)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **TOL[dtype])
    assert out.data.dtype == dtype and out.shape == tuple(tout.shape)
    u = _upstream(rng, out.shape, dtype)
    (out * u).sum().backward()
    (tout * torch.tensor(u)).sum().backward()
    for v, t in zip(vs, ts, strict=True):
        assert v.grad.dtype == dtype
        np.testing.assert_allclose(v.grad, t.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("case", OPS, ids=IDS)
def test_gradients_of_gradients_match_torch(case, rng):
    # create_graph: the first gradients are Values; differentiate their weighted sum once more.
    _, ours, theirs, shapes, kind = case
    xs = _inputs(rng, shapes, kind)
    vs = [Value(x) for x in xs]
    out = ours(*vs)
    u = _upstream(rng, out.shape, np.float64)
    firsts = gradients((out * u).sum(), vs, create_graph=True)
    ws = [rng.standard_normal(x.shape) for x in xs]
    seconds = gradients(sum((f * w).sum() for f, w in zip(firsts, ws, strict=True)), vs)
    ts = [_t(x, np.float64) for x in xs]
    tfirsts = torch.autograd.grad((theirs(*ts) * torch.tensor(u)).sum(), ts, create_graph=True)
    tsum = sum((f * torch.tensor(w)).sum() for f, w in zip(tfirsts, ws, strict=True))
    if tsum.requires_grad:
        tseconds = torch.autograd.grad(tsum, ts, allow_unused=True, materialize_grads=True)
    else:  # a linear op: its gradient does not depend on its input, the second derivative is 0
        tseconds = [torch.zeros_like(t) for t in ts]
    for f, tf_, s, ts_ in zip(firsts, tfirsts, seconds, tseconds, strict=True):
        np.testing.assert_allclose(f.data, tf_.numpy(force=True), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(s, ts_.numpy(force=True), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", OPS, ids=IDS)
def test_forward_mode_matches_torch(case, dtype, rng):
    _, ours, theirs, shapes, kind = case
    xs = _inputs(rng, shapes, kind, dtype)
    dxs = [rng.standard_normal(x.shape).astype(dtype) for x in xs]
    value, tangent = jvp(ours, tuple(xs), tuple(dxs))
    if dtype == np.float32:  # torch's forward AD in float32 differs by rounding; compare in float64
        t_value, t_tangent = torch.func.jvp(lambda *a: theirs(*[t.double() for t in a]).float(), tuple(_t(x, dtype, False) for x in xs), tuple(_t(d, dtype, False) for d in dxs))  # fmt: skip
    else:
        t_value, t_tangent = torch.func.jvp(theirs, tuple(_t(x, dtype, False) for x in xs), tuple(_t(d, dtype, False) for d in dxs))  # fmt: skip
    np.testing.assert_allclose(value, t_value.numpy(), **TOL[dtype])
    np.testing.assert_allclose(tangent, t_tangent.numpy(), **TOL[dtype])
    assert tangent.dtype == dtype


@pytest.mark.parametrize("case", OPS, ids=IDS)
def test_gradcheck_and_gradgradcheck_against_central_differences(case, rng):
    _, ours, _, shapes, kind = case
    vs = [Value(x) for x in _inputs(rng, shapes, kind)]
    assert gradcheck(ours, vs, check_forward_ad=True)
    assert gradgradcheck(ours, vs)


# ---- the kinks, stated as ReLU's is, and pinned --------------------------------------------------


def test_abs_slope_at_zero_is_zero_as_pytorch_where_relu_takes_the_lectures_one():
    z = Value(np.array([-2.0, 0.0, 3.0]))
    z.abs().sum().backward()
    t = _t([-2.0, 0.0, 3.0], np.float64)
    t.abs().sum().backward()
    assert z.grad.tolist() == t.grad.tolist() == [-1.0, 0.0, 1.0]
    s = Value(0.0)
    abs(s).backward()
    assert s.grad == 0.0
    r = Value(0.0)
    r.relu().backward()
    assert r.grad == 1.0  # the lecture's ReLU'(0) = 1 is unchanged


def test_maximum_and_minimum_split_the_gradient_at_a_tie_as_pytorch():
    for name in ("maximum", "minimum"):
        x, y = Value([1.0, 2.0, 3.0]), Value([1.0, 5.0, 0.0])
        (getattr(x, name)(y) * Value([2.0, 3.0, 4.0])).sum().backward()
        tx, ty = _t([1.0, 2.0, 3.0], np.float64), _t([1.0, 5.0, 0.0], np.float64)
        (getattr(torch, name)(tx, ty) * torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64)).sum().backward()  # fmt: skip
        assert x.grad.tolist() == tx.grad.tolist() and y.grad.tolist() == ty.grad.tolist()
        assert x.grad[0] == y.grad[0] == 1.0  # half of 2 each


def test_numpy_maximum_with_zero_is_relu_except_at_zero_where_the_tie_splits():
    z = Value(np.array([-1.0, 0.0, 2.0]))
    np.maximum(0, z).sum().backward()
    assert z.grad.tolist() == [0.0, 0.5, 1.0]


def test_clip_passes_the_gradient_inside_and_at_its_bounds_as_pytorch_clamp():
    x = np.array([-1.0, -0.5, 0.0, 0.7, 2.0])
    z = Value(x)
    z.clip(-0.5, 0.7).sum().backward()
    t = _t(x, np.float64)
    torch.clamp(t, -0.5, 0.7).sum().backward()
    assert z.grad.tolist() == t.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_where_passes_the_gradient_to_the_chosen_branch_only():
    x, y = Value(np.full((3, 4), 2.0)), Value(np.full(4, -1.0))
    g = np.arange(12.0).reshape(3, 4) + 1
    (x.where(MASK, y) * g).sum().backward()
    np.testing.assert_array_equal(x.grad, np.where(MASK, g, 0.0))
    np.testing.assert_array_equal(y.grad, np.where(MASK, 0.0, g).sum(axis=0))


def test_where_keeps_its_own_copy_of_the_condition():
    cond = np.array([True, False])
    x = Value([1.0, 2.0])
    out = x.where(cond, 0.0)
    cond[:] = [False, True]  # changing the caller's mask afterwards changes nothing
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]


def test_torch_spelled_max_sends_the_gradient_to_its_index_numpy_spelled_splits_ties():
    x = np.array([[3.0, 1.0, 3.0], [0.0, 2.0, 2.0]])
    a, b = Value(x), Value(x)
    a.max(1, keepdim=True).values.sum().backward()
    b.max(axis=1, keepdims=True).sum().backward()
    ta, tb = _t(x, np.float64), _t(x, np.float64)
    ta.max(1, keepdim=True).values.sum().backward()
    tb.amax(1, keepdim=True).sum().backward()
    assert a.grad.tolist() == ta.grad.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert b.grad.tolist() == tb.grad.tolist() == [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]


def test_std_of_equal_entries_has_slope_zero_as_pytorch_not_nan():
    x = np.array([[1.5, 1.5, 1.5], [0.0, 1.0, 2.0]])
    z = Value(x)
    z.std(dim=1).sum().backward()
    t = _t(x, np.float64)
    t.std(1).sum().backward()
    np.testing.assert_allclose(z.grad, t.grad.numpy(), rtol=1e-12)
    assert z.grad[0].tolist() == [0.0, 0.0, 0.0]


def test_sqrt_at_zero_has_pytorchs_infinite_slope_and_a_negative_input_is_nan():
    z = Value(np.array([0.0, 4.0, -1.0]))
    out = z.sqrt()
    assert np.isnan(out.data[2]) and out.data[:2].tolist() == [0.0, 2.0]
    out.sum().backward()
    assert z.grad[0] == np.inf and z.grad[1] == 0.25
    s = Value(0.0)
    s.sqrt().backward()
    assert s.grad == np.inf and Value(-4.0).sqrt().data != Value(-4.0).sqrt().data  # nan


def test_scalar_values_stay_scalars_through_the_new_elementwise_ops():
    x, y = Value(2.0), Value(-3.0)
    for out in (
        x.sqrt(),
        abs(y),
        x.maximum(y),
        x.minimum(1.0),
        x.clip(0.0, 1.0),
        x.where(False, y),
    ):
        assert type(out.data) is float
    out = x.maximum(y) * y.abs() + x.where(True, y) * x.clip(0.0, 1.0)
    out.backward()
    assert (x.grad, y.grad) == (
        3.0 + 1.0,
        -2.0,
    )  # d/dx: |y| + clip(x)(=1, slope 0 past 1); d/dy: -x


def test_cat_joins_many_values_two_at_a_time_and_gives_each_its_slice():
    parts = [Value(np.full((1, 2), float(i))) for i in range(5)]
    out = tinygrad_act.cat(parts)
    assert out.shape == (5, 2) and out._op == "cat" and len(out._prev) == 2
    (out * np.arange(10.0).reshape(5, 2)).sum().backward()
    for i, p in enumerate(parts):
        assert p.grad.tolist() == [[2.0 * i, 2.0 * i + 1]]


# ---- bad input: a clear error naming what was given, and nothing changes --------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda v: v.var(ddof=1, unbiased=True), TypeError, "var: give one of ddof= .numpy., unbiased= or correction="),  # fmt: skip
        (lambda v: v.std(unbiased=1), TypeError, "std: unbiased takes True or False, got 1"),
        (lambda v: v.var(ddof="1"), TypeError, "var: ddof takes a number, got str"),
        (lambda v: v.sum(axis=0, dim=1), TypeError, r"sum: give axis= \(numpy's name\) or dim= \(PyTorch's\), not both"),  # fmt: skip
        (lambda v: v.mean(keepdims=True, keepdim=True), TypeError, "mean: give keepdims= .numpy's name. or keepdim="),  # fmt: skip
        (lambda v: v.max(dim=2), ValueError, "max: axis 2 is out of range for a Value with 2 dimensions"),  # fmt: skip
        (lambda v: v.squeeze(0), ValueError, r"squeeze: axis 0 of shape \(2, 3\) is not of length 1"),  # fmt: skip
        (lambda v: v.unsqueeze(3), ValueError, "unsqueeze: axis 3 is out of range for a Value with 3 dimensions"),  # fmt: skip
        (lambda v: v.flatten("a"), TypeError, "flatten: axis must be an int"),
        (lambda v: v.clip(Value(0.0), 1.0), TypeError, "clip: a bound is a constant .a number or an array., not a Value"),  # fmt: skip
        (lambda v: v.clip("a"), TypeError, "Value takes a real number"),
        (lambda v: v.where(v > 0, np.ones(4)), ValueError, r"where: shapes \(2, 3\) and \(4,\) do not broadcast together"),  # fmt: skip
        (lambda v: v.where(Value([1.0]), 0.0), TypeError, "where: the condition is a Value"),
        (lambda v: v.maximum(np.ones(4)), ValueError, r"maximum: shapes \(2, 3\) and \(4,\) do not broadcast"),  # fmt: skip
        (lambda v: v.cat(np.ones((2, 2)), dim=0), ValueError, r"cat: shapes \(2, 3\) and \(2, 2\) do not join along axis 0"),  # fmt: skip
        (lambda v: v.cat(v, dim=2), ValueError, "cat: axis 2 is out of range"),
        (lambda v: tinygrad_act.stack([v, v[0]]), ValueError, r"stack: the Values must have one shape; got \[\(2, 3\), \(3,\)\]"),  # fmt: skip
        (lambda v: tinygrad_act.cat([]), ValueError, "cat needs at least one Value"),
        (lambda v: tinygrad_act.cat(v), TypeError, "cat takes a list or tuple of Values, got Value"),
        (lambda v: tinygrad_act.cat([np.ones(2)]), TypeError, "cat needs a Value among its inputs"),
        (lambda v: Value(2.0).var(), TypeError, r"var needs a tensor Value; this one is a scalar \(2\)"),  # fmt: skip
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_and_changes_nothing(call, error, message):
    v = Value(np.arange(6.0).reshape(2, 3))
    with pytest.raises(error, match=message):
        call(v)
    assert v.data.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and not v.grad.any()
