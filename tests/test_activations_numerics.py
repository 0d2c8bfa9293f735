"""The activations' numerics: sigmoid's accuracy in ulp against mpmath, no overflow or warning at any
z, dtypes kept, and the fast forms of ReLU and Leaky ReLU equal to their definitions bit for bit."""

import math

import mpmath
import numpy as np
import pytest

from tinygrad_act import Value, gradients, leaky_relu, relu, sigmoid
from tinygrad_act.activations import one_minus

DTYPES = [np.float32, np.float64]


def _exact_sigmoid(z):
    """sigmoid(z) and its slope sigmoid(z)·sigmoid(-z), to 100 bits, rounded to float64."""
    with mpmath.workprec(100):
        s = [1 / (1 + mpmath.exp(-mpmath.mpf(float(x)))) for x in z]
        return np.array([float(v) for v in s]), np.array([float(v * (1 - v)) for v in s])


def _ulps(got, exact, dtype):
    """|got - exact| in units of the last place of `exact` rounded to `dtype` (subnormals included)."""
    spacing = np.spacing(np.abs(exact.astype(dtype))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


# The tails (float64's subnormal outputs below -708.4, float32's below -87.3), the cap at 40 and 0.
EDGES = [-745.0, -709.79, -708.4, -103.9, -88.8, -40.0, -1e-300, 0.0, 1e-300, 36.7, 40.0, 745.0]


def _points(dtype):
    rng = np.random.default_rng(18)
    z = np.concatenate(
        [
            np.linspace(-745, 745, 1491),  # the whole range, down to sigmoid's smallest subnormal
            rng.uniform(-745, 745, 500),
            rng.uniform(-40, 40, 500),  # where 1 - a is tiny for z > 0
            rng.normal(size=300),
            EDGES,
        ]
    )
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_within_4_ulp_of_the_exact_value_for_z_from_minus_745_to_745(dtype):
    z = _points(dtype)
    exact, _ = _exact_sigmoid(z)
    a = Value(z).sigmoid().data
    assert a.dtype == dtype
    worst = _ulps(a, exact, dtype)
    assert worst.max() <= 4, f"{worst.max():.2f} ulp at z = {z[worst.argmax()]}"
    assert _ulps(sigmoid(z), exact, dtype).max() <= 4  # the public function on an array
    if dtype is np.float64:  # the scalar path, on Python floats
        scalar = np.array([Value(float(x)).sigmoid().data for x in z])
        assert _ulps(scalar, exact, dtype).max() <= 4
    # The tail is right, not flushed to zero: sigmoid(-745) is float64's smallest subnormal.
    assert Value(-745.0).sigmoid().data == 5e-324


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_slope_a_times_1_minus_a_is_as_accurate_as_the_lectures_formula_allows(dtype):
    z = _points(dtype)
    _, exact_slope = _exact_sigmoid(z)
    v = Value(z)
    v.sigmoid().backward(np.ones_like(z))
    assert v.grad.dtype == dtype
    negative = z <= 0
    # For z <= 0, a <= 1/2 and a(1-a) keeps a's relative accuracy.
    assert _ulps(v.grad[negative], exact_slope[negative], dtype).max() <= 4
    # For z > 0, 1 - a loses what rounding a to the dtype lost: a(1-a) is then accurate to a
    # fraction of the dtype's epsilon, as with a correctly rounded a (and as in torch).
    eps = np.finfo(dtype).eps
    err = np.abs(v.grad[~negative].astype(np.float64) - exact_slope[~negative])
    assert err.max() <= eps


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_never_overflows_or_warns_at_any_z_and_keeps_its_limits(dtype):
    big = np.finfo(dtype).max
    z = np.array(
        [-np.inf, -big, -746, -745, -709.79, -88.8, -0.0, 0.0, 88.8, 709.79, big, np.inf, np.nan],
        dtype=dtype,
    )
    # No floating-point error at all (and pytest turns any warning into an error).
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        v = Value(z)
        a = v.sigmoid()
        a.backward(np.ones_like(z))
        scalar = [Value(float(x)).sigmoid() for x in z]
    assert a.data.dtype == dtype and v.grad.dtype == dtype
    assert a.data[0] == 0 and a.data[-2] == 1 and np.isnan(a.data[-1])
    assert np.all((a.data[:-1] >= 0) & (a.data[:-1] <= 1))
    assert a.data[5] > 0  # e^-88.8 is a subnormal in float32, not 0
    assert (a.data[4] > 0) == (dtype is np.float64)  # e^-709.79 is one in float64, 0 in float32
    np.testing.assert_array_equal(v.grad[:-1], (a.data * (1 - a.data))[:-1])
    scalar_data = [s.data for s in scalar[:-1]]
    assert scalar_data == pytest.approx(a.data[:-1].tolist(), rel=4e-7, abs=1e-300)
    assert math.isnan(scalar[-1].data) and type(scalar[0].data) is float


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_keeps_float32_and_float64_through_plain_and_create_graph_backward(dtype):
    z = Value(np.array([-3.0, 0.0, 2.5], dtype=dtype))
    (slope,) = gradients(z.sigmoid().sum(), [z], create_graph=True)
    assert isinstance(slope, Value) and slope.data.dtype == dtype
    a = 1 / (1 + np.exp(-z.data.astype(np.float64)))
    np.testing.assert_allclose(slope.data, a * (1 - a), rtol=1e-6)
    (curvature,) = gradients(slope.sum(), [z])  # sigmoid'' = a(1-a)(1-2a)
    assert curvature.dtype == dtype
    np.testing.assert_allclose(curvature, a * (1 - a) * (1 - 2 * a), rtol=1e-5, atol=1e-7)
    zero_d = Value(np.array(0.5, dtype=dtype)).sigmoid()  # a 0-d tensor stays a 0-d tensor
    assert type(zero_d.data) is np.ndarray and zero_d.data.dtype == dtype


# ---- one_minus: the slide's "1 -" in a(1-a) and 1-a² ---------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_minus_is_one_minus_a_exactly_and_keeps_the_arrays_dtype(dtype):
    a = np.concatenate([np.linspace(-2, 2, 41), [0.0, 1.0, 1e-30, np.inf, np.nan]]).astype(dtype)
    got = one_minus(a)
    assert type(got) is np.ndarray and got.dtype == dtype
    np.testing.assert_array_equal(got, dtype(1) - a)  # bit for bit what numpy's 1 - a gives
    zero_d = one_minus(np.array(0.25, dtype=dtype))
    assert zero_d == 0.75 and np.asarray(zero_d).dtype == dtype
    assert one_minus(0.25) == 0.75 and type(one_minus(0.25)) is float
    np.testing.assert_array_equal(one_minus(np.array([1, 3])), [0.0, -2.0])  # other dtypes: 1 - a


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_slope_one_minus_a_squared_keeps_its_dtype_plain_and_create_graph(dtype):
    z = Value(np.array([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=dtype))
    z.tanh().sum().backward()
    exact = 1 / np.cosh(z.data.astype(np.float64)) ** 2  # tanh' = sech², an independent formula
    assert z.grad.dtype == dtype
    # 1 - a² cancels near |a| = 1: an absolute error of about one ulp of 1 is the formula's own
    tiny = np.finfo(dtype).eps
    np.testing.assert_allclose(z.grad, exact, rtol=4 * tiny, atol=2 * tiny)
    (slope,) = gradients(z.tanh().sum(), [z], create_graph=True)
    assert isinstance(slope, Value) and slope.data.dtype == dtype
    (curvature,) = gradients(slope.sum(), [z])  # tanh'' = -2a(1-a²)
    a = np.tanh(z.data.astype(np.float64))
    np.testing.assert_allclose(curvature, -2 * a * (1 - a * a), rtol=1e-5, atol=1e-6)
    assert curvature.dtype == dtype


# ---- ReLU and Leaky ReLU: the fast forms are the definitions --------------------------------------


def _edge_points(dtype):
    rng = np.random.default_rng(3)
    special = [0.0, -0.0, 1e-40, -1e-40, np.inf, -np.inf, np.nan]
    z = np.concatenate([rng.normal(size=64) * 3, special])
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.01, 0.2, 1.0, 1.5, -0.5])
def test_leaky_relu_equals_its_definition_forward_and_backward(dtype, slope):
    z = _edge_points(dtype)
    want = np.where(z >= 0, z, dtype(slope) * z)
    v = Value(z)
    a = v.leaky_relu(slope=slope)
    a.backward(np.ones_like(z))
    assert a.data.dtype == dtype and v.grad.dtype == dtype
    np.testing.assert_array_equal(a.data, want)
    np.testing.assert_array_equal(np.signbit(a.data), np.signbit(want))  # -0.0 stays -0.0
    np.testing.assert_array_equal(v.grad, np.where(z >= 0, 1.0, slope).astype(dtype))
    np.testing.assert_array_equal(leaky_relu(z, slope=slope), want)  # the public function
    for x in z[:8]:  # the scalar path agrees
        s = Value(float(x))
        s.leaky_relu(slope=slope).backward()
        assert s.grad == (1.0 if x >= 0 else slope)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_equals_its_definition_with_slope_one_at_zero(dtype):
    z = _edge_points(dtype)
    v = Value(z)
    a = v.relu()
    a.backward(np.ones_like(z))
    assert a.data.dtype == dtype and v.grad.dtype == dtype
    np.testing.assert_array_equal(a.data, np.maximum(z, 0))
    np.testing.assert_array_equal(v.grad, (z >= 0).astype(dtype))  # 1 at z = 0, as the lecture
    np.testing.assert_array_equal(relu(z), np.maximum(z, 0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_relu_and_leaky_relu_second_derivative_is_zero_through_create_graph(dtype, name):
    z = Value(np.array([-2.0, 0.0, 3.0], dtype=dtype))
    (slope,) = gradients(z.activate(name).sum(), [z], create_graph=True)
    left = 0.0 if name == "relu" else 0.01
    np.testing.assert_allclose(slope.data, [left, 1.0, 1.0])
    assert slope.data.dtype == dtype
    (curvature,) = gradients(slope.sum(), [z])
    np.testing.assert_array_equal(curvature, [0.0, 0.0, 0.0])
    assert curvature.dtype == dtype


# ---- issue 23, item 8: GELU's slope keeps its limits ------------------------------------------------------


def _exact_gelu_slope(z):
    """The tanh-approximated GELU's slope at z, from mpmath's derivative of its definition."""
    c, k = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf("0.044715")
    with mpmath.workprec(200):
        return float(mpmath.diff(lambda x: x / 2 * (1 + mpmath.tanh(c * (x + k * x**3))), z))


HUGE = [1e154, 1e200, 1e308, -1e154, -1e200, -1e308]


@pytest.mark.parametrize("create_graph", [False, True])
def test_gelu_slope_is_its_limit_at_huge_z_not_nan(create_graph):
    z = Value(np.array(HUGE))
    z.gelu().sum().backward(create_graph=create_graph)
    grad = z.grad.data if create_graph else z.grad
    np.testing.assert_array_equal(grad, [1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    for x, slope in zip(HUGE, grad, strict=True):
        s = Value(x)
        s.gelu().backward()
        assert s.grad == slope


@pytest.mark.parametrize("z", [-6.0, -2.5, -0.7, 0.0, 0.3, 1.5, 4.0, 12.0])
def test_gelu_slope_is_unchanged_where_it_is_not_saturated(z):
    x = Value(z)
    x.gelu().backward()
    # abs: where t is near -1, ½(1+t) cancels and holds no more than float64's 1e-16 near 1
    assert x.grad == pytest.approx(_exact_gelu_slope(z), rel=1e-13, abs=1e-15)


def test_gelu_passes_the_derivative_table_at_1e308():
    from tinygrad_act.gradcheck import derivative_table

    rows = derivative_table([1e308, -1e308, 1e200], ["gelu"])
    assert [(r.formula, r.backprop, r.agree) for r in rows] == [
        (1.0, 1.0, True),
        (0.0, 0.0, True),
        (1.0, 1.0, True),
    ]
