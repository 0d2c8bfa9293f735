"""Every activation, checked: the whole registry (and one we register) against central differences."""

import math

import numpy as np
import pytest

from tinygrad_act import (
    ACTIVATIONS,
    Value,
    register_activation,
    sigmoid,
    unregister_activation,
)
from tinygrad_act.activations import BUILTIN, cases
from tinygrad_act.gradcheck import (
    GradcheckError,
    check_activations,
    gradcheck,
    gradgradcheck,
)

OWN = "gc_softsign"  # registered by this module, in the fixture below
NAMES = list(dict.fromkeys([*ACTIVATIONS, OWN]))


def _softsign(z):
    return z / (1 + abs(z))


def _softsign_derivative(z, a):
    # 1/(1+|z|)² = (1-|a|)², written with the output like the lecture's formulas
    return cases(a, 1 + a, 1 - a) ** 2


@pytest.fixture(scope="module", autouse=True)
def own_activation(request):
    register_activation(OWN, _softsign, _softsign_derivative, formula="(1-|a|)²")
    request.addfinalizer(lambda: unregister_activation(OWN))


def _away_from_kinks(name, points, margin=0.01):
    points = np.asarray(points, dtype=np.float64)
    for k in ACTIVATIONS[name].kinks:
        points = points[np.abs(points - k) > margin]
    return points


def test_the_parametrization_covers_the_whole_registry():
    assert set(BUILTIN) <= set(NAMES)
    assert set(ACTIVATIONS) <= set(NAMES)
    assert OWN in ACTIVATIONS


# ---- each activation, scalar and tensor ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_scalar_activation_passes_gradcheck_at_many_random_points(name):
    if ACTIVATIONS[name].tensor_only:
        with pytest.raises(TypeError, match=f"{name} needs a tensor Value"):
            Value(0.5).activate(name)
        return
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for z in _away_from_kinks(name, rng.uniform(-5, 5, 25)):
        assert gradcheck(lambda v: v.activate(name), Value(float(z), label="z"))


@pytest.mark.parametrize("name", NAMES)
def test_tensor_activation_passes_gradcheck_on_its_full_jacobian(name):
    rng = np.random.default_rng(7)
    data = _away_from_kinks(name, rng.uniform(-5, 5, 40))[:24].reshape(4, 6)
    z = Value(data, label="z")
    assert gradcheck(lambda v: v.activate(name), z)  # 24 x 24 Jacobian, zeros off the diagonal too
    assert gradcheck(lambda v: (v.activate(name) * Value(np.arange(24.0).reshape(4, 6))).sum(), z)


@pytest.mark.parametrize(
    "name, params",
    [("leaky_relu", {"slope": 0.2}), ("elu", {"alpha": 0.5}), ("softmax", {"axis": 0})],
)
def test_activations_with_parameters_pass_gradcheck(name, params):
    rng = np.random.default_rng(3)
    z = Value(_away_from_kinks(name, rng.uniform(-3, 3, 20))[:12].reshape(3, 4), label="z")
    assert gradcheck(lambda v: v.activate(name, **params), z)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("z", [-10.0, 0.0, 10.0])
def test_the_slides_points_pass_gradcheck(name, z):
    assert gradcheck(lambda v: v.activate(name), Value(z, label="z"))


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_the_slides_points_pass_gradcheck_as_one_vector(name):
    assert gradcheck(lambda v: v.activate(name), Value([-10.0, 0.0, 10.0], label="z"))


def test_the_slides_values_at_those_points_are_the_lectures():
    # g'(0) = 1/4 for sigmoid and 1 for tanh; at ±10 both are nearly flat.
    from tinygrad_act.engine import gradients

    for name, at_zero in (("sigmoid", 0.25), ("tanh", 1.0)):
        for z, expect in ((-10.0, 0.0), (0.0, at_zero), (10.0, 0.0)):
            v = Value(z)
            (g,) = gradients(v.activate(name), [v])
            assert g == pytest.approx(expect, abs=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_check_activations_passes_each_registered_activation(name):
    assert check_activations([name]) == {name: None}


# ---- the check can fail ----------------------------------------------------------------------------


@pytest.fixture
def wrong_sigmoid(request):
    # The classic slip: a(1+a) where the lecture has a(1-a).
    register_activation("gc_wrong_sigmoid", lambda z: sigmoid(z), lambda z, a: a * (1 + a))
    request.addfinalizer(lambda: unregister_activation("gc_wrong_sigmoid"))
    return "gc_wrong_sigmoid"


def test_a_wrong_local_gradient_is_rejected_and_the_wrong_entries_are_named(wrong_sigmoid):
    points = np.array([-12.0, -2.0, 0.0, 0.5, 3.0])
    z = Value(points, label="z")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: v.gc_wrong_sigmoid().sum(), z)
    err = info.value
    # Independently: backprop gives a(1+a), the truth is a(1-a); they differ by 2a².
    a = 1 / (1 + np.exp(-points))
    wrong = np.abs(2 * a**2) > 1e-5 + 1e-3 * a * (1 - a)
    expected = {f"z[{i}]" for i in np.flatnonzero(wrong)}
    assert expected == {"z[1]", "z[2]", "z[3]", "z[4]"}  # at -12, a ≈ 6e-6: 2a² is below atol
    assert {m.where for m in err.mismatches} == expected
    for m in err.mismatches:
        i = m.index[0]
        assert m.analytic == pytest.approx(a[i] * (1 + a[i]))
        assert m.numeric == pytest.approx(a[i] * (1 - a[i]), rel=1e-6)
    # ... and the table names them, worst first: input, index, analytic, numeric, errors
    table = [line.split() for line in str(err).splitlines()[2:]]
    assert [f"{row[0]}{row[1]}" for row in table] == [m.where for m in err.mismatches]
    assert [row[1] for row in table] == ["[4]", "[3]", "[2]", "[1]"]  # the error 2a² grows with z
    assert err.kinks == []  # no kink: a real mismatch, reported as one


def test_the_registry_check_reports_a_wrong_activation_in_one_line(wrong_sigmoid):
    results = check_activations()
    assert results["sigmoid"] is None
    problem = results[wrong_sigmoid]
    assert problem is not None and "\n" not in problem
    assert problem.startswith("z = 0.0: backprop 0.75, numeric 0.25")  # a(1+a) vs a(1-a) at a = 1/2


def test_a_wrong_second_derivative_is_caught_by_gradgradcheck_only():
    # g'(z) = a(1-a) computed from the raw data: right at first order everywhere, but the backward
    # graph cannot see it depend on z, so its derivative (sigmoid'') comes out as 0.
    def detached(z, a):
        return a.data * (1 - a.data) if isinstance(a, Value) else a * (1 - a)

    register_activation("gc_detached_sigmoid", lambda z: sigmoid(z), detached)
    try:
        z = Value([-2.0, -0.5, 0.7, 3.0], label="z")
        assert gradcheck(lambda v: v.gc_detached_sigmoid(), z)
        assert check_activations(["gc_detached_sigmoid"]) == {"gc_detached_sigmoid": None}
        with pytest.raises(GradcheckError) as info:
            gradgradcheck(lambda v: v.gc_detached_sigmoid().sum(), z)
    finally:
        unregister_activation("gc_detached_sigmoid")
    a = 1 / (1 + np.exp(-z.data))
    second = a * (1 - a) * (1 - 2 * a)  # the true sigmoid''
    for m in info.value.mismatches:
        assert m.analytic == 0.0
        assert m.numeric == pytest.approx(second[m.index[0]], rel=1e-5)
    assert len(info.value.mismatches) == 4


def test_a_wrong_first_derivative_is_rejected_by_both_checks(wrong_sigmoid):
    z = Value([-1.0, 0.5, 2.0], label="z")
    assert gradcheck(lambda v: v.gc_wrong_sigmoid().sum(), z, raise_exception=False) is False
    assert gradgradcheck(lambda v: v.gc_wrong_sigmoid().sum(), z, raise_exception=False) is False


# ---- composite expressions -------------------------------------------------------------------------


def test_a_neuron_passes_gradcheck():
    # The lecture's neuron: a = tanh(x1·w1 + x2·w2 + b)
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    assert gradcheck(lambda x1, x2, w1, w2, b: (x1 * w1 + x2 * w2 + b).tanh(), [x1, x2, w1, w2, b])


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", OWN])
def test_a_two_layer_mlp_loss_written_with_value_ops_passes_gradcheck(act):
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    params = [
        Value(rng.normal(size=(3, 5)), label="W1"),
        Value(rng.normal(size=5) * 0.1, label="b1"),
        Value(rng.normal(size=(5, 2)), label="W2"),
        Value(rng.normal(size=2) * 0.1, label="b2"),
    ]

    def loss(W1, b1, W2, b2):
        h = (Value(X) @ W1 + b1).activate(act)
        return ((h @ W2 + b2 - Y) ** 2).mean()

    assert gradcheck(loss, params)


def test_softmax_cross_entropy_with_integer_array_indexing_passes_gradcheck():
    rng = np.random.default_rng(5)
    logits = Value(rng.normal(size=(6, 4)), label="logits")
    targets = np.array([0, 3, 1, 1, 2, 0])

    def cross_entropy(logits):
        logp = logits.log_softmax(axis=-1)
        return -logp[np.arange(6), targets].mean()

    assert gradcheck(cross_entropy, logits)
    # and through softmax itself: -log softmax at the targets
    assert gradcheck(lambda z: -(z.softmax(axis=-1)[np.arange(6), targets].log()).mean(), logits)


def test_broadcasting_sums_pass_gradcheck():
    rng = np.random.default_rng(9)
    a = Value(rng.normal(size=(3, 1)), label="a")
    b = Value(rng.normal(size=4), label="b")
    c = Value(rng.normal(size=(2, 3, 4)), label="c")
    s = Value(0.7, label="s")
    assert gradcheck(lambda a, b, c, s: ((a + b) * c * s).sum(axis=(0, 2)), [a, b, c, s])
    assert gradcheck(lambda a, b: (a * b).sigmoid().mean(axis=0, keepdims=True), [a, b])


# ---- second derivatives ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradgradcheck_passes_on_each_activation(name):
    rng = np.random.default_rng(4)
    data = _away_from_kinks(name, rng.uniform(-4, 4, 20))[:12].reshape(3, 4)
    assert gradgradcheck(lambda v: v.activate(name), Value(data, label="z"))
    if not ACTIVATIONS[name].tensor_only:
        for z in _away_from_kinks(name, [-2.5, -0.3, 0.4, 1.7]):
            assert gradgradcheck(lambda v: v.activate(name), Value(float(z), label="z"))


def test_relu_second_derivative_is_zero_on_both_sides_and_gradgradcheck_agrees():
    z = Value([-1.5, -0.2, 0.3, 2.0], label="z")
    assert gradgradcheck(lambda v: (v.relu() ** 2).sum(), z)  # (relu²)'' = 2 for z > 0, 0 below


def test_tanh_third_order_through_gradgradcheck_of_its_derivative():
    from tinygrad_act.engine import gradients

    # gradgradcheck on z -> tanh'(z) checks tanh'' against central differences of tanh''.
    def tanh_prime(v):
        (g,) = gradients(v.tanh(), [v], create_graph=True)
        return g

    z = Value(0.6, label="z")
    assert gradgradcheck(tanh_prime, z)
    t = math.tanh(0.6)
    assert gradients(tanh_prime(z), [z])[0] == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)


# ---- dtypes: the engine trusts the built-in rows to keep shape and dtype -------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", BUILTIN)
def test_each_builtin_keeps_shape_and_dtype_forward_and_backward(name, dtype):
    # The backward pass skips its shape and dtype check for these rules (engine._FITTED_RULES),
    # so this is the check: output, input gradient and the gradient's values.
    from tinygrad_act.backprop import FITTED_RULES as _FITTED_RULES

    assert ACTIVATIONS[name].rule in _FITTED_RULES
    z64 = np.linspace(-2.0, 2.0, 12).reshape(3, 4) + 0.05  # no point at a kink
    z = Value(z64.astype(dtype))
    out = z.activate(name)
    assert out.data.dtype == dtype and out.shape == (3, 4)
    upstream = np.random.default_rng(0).normal(size=(3, 4))
    out.backward(upstream.astype(dtype))
    assert z.grad.dtype == dtype and z.grad.shape == (3, 4)
    ref = Value(z64)
    ref.activate(name).backward(upstream)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(z.grad, ref.grad, rtol=tol, atol=tol)


def test_a_registered_activation_that_changes_the_dtype_is_fitted_back():
    # A user's forward and derivative that return float64 for float32 input: the engine casts.
    register_activation(
        "upcast_square",
        lambda z: np.asarray(z, dtype=np.float64) ** 2,
        lambda z, a: 2 * np.asarray(z, dtype=np.float64),
    )
    try:
        z = Value(np.array([1.0, -2.0, 3.0], dtype=np.float32))
        out = z.upcast_square()
        assert out.data.dtype == np.float32
        out.sum().backward()
        assert z.grad.dtype == np.float32
        np.testing.assert_array_equal(z.grad, [2.0, -4.0, 6.0])
    finally:
        unregister_activation("upcast_square")


def test_a_float64_parameter_does_not_upcast_a_float32_activation():
    z = Value(np.array([-1.0, 2.0], dtype=np.float32))
    out = z.leaky_relu(slope=np.float64(0.1))  # numpy would promote slope * z to float64
    assert out.data.dtype == np.float32
    out.sum().backward()
    assert z.grad.dtype == np.float32
    np.testing.assert_allclose(z.grad, [0.1, 1.0], rtol=1e-6)
