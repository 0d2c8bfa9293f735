"""Forward mode from the same rule tables: jvp, jacobian (both modes), hessian and hvp.

PyTorch's torch.func is the oracle; forward and reverse mode must also agree with each other
(uᵀ(Jv) = (uᵀJ)v) on random graphs.
"""

import warnings

import numpy as np
import pytest

import tinygrad_act
from tinygrad_act import (
    ACTIVATIONS,
    GradcheckError,
    Value,
    gradcheck,
    gradgradcheck,
    gradients,
    hessian,
    hvp,
    jacobian,
    jvp,
    no_grad,
    observe,
    register_activation,
    unregister_activation,
)
from tinygrad_act.activations import BUILTIN, LECTURE

torch = pytest.importorskip("torch")
tf = torch.func
with warnings.catch_warnings():  # torch's forward AD imports this on first use; it warns about jit
    warnings.simplefilter("ignore", DeprecationWarning)
    import torch._decomp.decompositions_for_jvp  # noqa: F401
F = torch.nn.functional

DTYPES = {np.float64: torch.float64, np.float32: torch.float32}
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}

# Each activation as PyTorch spells it: the oracle table of tests/test_torch_oracle.py (relu and
# friends are tested away from their kink at 0).
from test_torch_oracle import TORCH_ACTIVATIONS  # noqa: E402


def _inputs(rng, shape, dtype=np.float64, positive=False):
    x = rng.uniform(0.3, 2.0, shape) if positive else rng.uniform(-2.0, 2.0, shape)
    x = np.where(np.abs(x) < 1e-2, 0.5, x)  # away from the kinks at 0
    return x.astype(dtype)


def _torch(x, dtype=np.float64):
    return torch.tensor(np.asarray(x), dtype=DTYPES[dtype])


def _np(t):
    return t.detach().numpy()


def test_every_builtin_activation_has_an_oracle_here():
    assert set(TORCH_ACTIVATIONS) == set(BUILTIN)


# ---- jvp against torch.func.jvp: every activation, scalars and tensors, float32 and float64 -------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_jvp_of_every_activation_matches_torch(name, dtype, rng):
    z, dz = _inputs(rng, (3, 4), dtype), rng.standard_normal((3, 4)).astype(dtype)
    value, tangent = jvp(lambda v: v.activate(name), (z,), (dz,))
    t_value, t_tangent = tf.jvp(TORCH_ACTIVATIONS[name], (_torch(z, dtype),), (_torch(dz, dtype),))
    assert tangent.dtype == dtype and tangent.shape == z.shape
    np.testing.assert_allclose(value, _np(t_value), **TOL[dtype])
    np.testing.assert_allclose(tangent, _np(t_tangent), **TOL[dtype])


@pytest.mark.parametrize("name", [n for n in BUILTIN if not ACTIVATIONS[n].tensor_only])
def test_jvp_of_a_scalar_activation_is_its_slope_times_the_tangent(name):
    for z in (-1.5, 0.25, 3.0):
        value, tangent = jvp(lambda v: v.activate(name), (z,), (2.0,))
        t_value, t_tangent = tf.jvp(TORCH_ACTIVATIONS[name], (_torch(z),), (_torch(2.0),))
        assert type(value) is float and type(tangent) is float
        assert value == pytest.approx(t_value.item(), rel=1e-12)
        assert tangent == pytest.approx(t_tangent.item(), rel=1e-10)


def test_jvp_multiplies_the_lectures_slopes_into_the_tangent():
    for z in (-10.0, 0.0, 10.0):  # the slide's points
        a = 1 / (1 + np.exp(-z))
        assert jvp(lambda v: v.sigmoid(), (z,), (1.0,))[1] == pytest.approx(a * (1 - a), rel=1e-12)
        assert jvp(lambda v: v.tanh(), (z,), (1.0,))[1] == pytest.approx(1 - np.tanh(z) ** 2)
    assert jvp(lambda v: v.relu(), (0.0,), (1.0,))[1] == 1.0  # the lecture's ReLU'(0) = 1
    assert jvp(lambda v: v.leaky_relu(slope=0.2), (-1.0,), (1.0,))[1] == pytest.approx(0.2)


def test_activation_parameters_reach_the_forward_rule(rng):
    z, dz = _inputs(rng, (5,)), rng.standard_normal(5)
    _, t1 = jvp(lambda v: v.leaky_relu(slope=0.2), (z,), (dz,))
    _, t2 = jvp(lambda v: v.elu(alpha=0.5), (z,), (dz,))
    _, t3 = jvp(lambda v: v.softmax(axis=0), (z.reshape(5, 1) * np.ones(2),), (np.ones((5, 2)),))
    np.testing.assert_allclose(t1, _np(tf.jvp(lambda t: F.leaky_relu(t, 0.2), (_torch(z),), (_torch(dz),))[1]))  # fmt: skip
    np.testing.assert_allclose(t2, _np(tf.jvp(lambda t: F.elu(t, 0.5), (_torch(z),), (_torch(dz),))[1]))  # fmt: skip
    t_z = _torch(z.reshape(5, 1) * np.ones(2))
    expected = tf.jvp(lambda t: torch.softmax(t, dim=0), (t_z,), (torch.ones(5, 2, dtype=torch.float64),))  # fmt: skip
    np.testing.assert_allclose(t3, _np(expected[1]), atol=1e-14)


# ---- the arithmetic and tensor ops ------------------------------------------------------------------

M = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-1.0, 1.0, 0.75], [0.2, 0.3, -0.4]])

# (name, our f, torch's f, input shapes, positive inputs)
OPS = [
    ("add broadcast", lambda x, y: x + y, lambda x, y: x + y, [(3, 4), (4,)], False),
    ("sub", lambda x, y: x - y, lambda x, y: x - y, [(3, 4), (3, 4)], False),
    ("mul broadcast", lambda x, y: x * y, lambda x, y: x * y, [(3, 4), (3, 1)], False),
    ("div", lambda x, y: x / y, lambda x, y: x / y, [(3, 4), (4,)], True),
    ("pow constant", lambda x: x**2.5, lambda x: x**2.5, [(3, 4)], True),
    ("pow value", lambda x, y: x**y, lambda x, y: x**y, [(3, 4), (4,)], True),
    ("rpow", lambda x: 2.0**x, lambda x: 2.0**x, [(3, 4)], False),
    ("neg", lambda x: -x, lambda x: -x, [(3, 4)], False),
    ("exp", lambda x: x.exp(), torch.exp, [(3, 4)], False),
    ("log", lambda x: x.log(), torch.log, [(3, 4)], True),
    ("matmul", lambda x, y: x @ y, lambda x, y: x @ y, [(2, 4), (4, 3)], False),
    ("matmul vector", lambda x, y: x @ y, lambda x, y: x @ y, [(4,), (4, 3)], False),
    ("matvec", lambda x, y: x @ y, lambda x, y: x @ y, [(3, 4), (4,)], False),
    ("dot", lambda x, y: x @ y, lambda x, y: x @ y, [(4,), (4,)], False),
    ("batched matmul", lambda x, y: x @ y, lambda x, y: x @ y, [(2, 3, 4), (4, 2)], False),
    ("matmul constant", lambda x: x @ M, lambda x: x @ torch.tensor(M), [(2, 4)], False),
    ("sum", lambda x: x.sum(), lambda x: x.sum(), [(3, 4)], False),
    ("sum axis", lambda x: x.sum(axis=0), lambda x: x.sum(0), [(3, 4)], False),
    (
        "sum keepdims",
        lambda x: x.sum(axis=1, keepdims=True),
        lambda x: x.sum(1, keepdim=True),
        [(3, 4)],
        False,
    ),  # fmt: skip
    ("mean", lambda x: x.mean(axis=(0, 1)), lambda x: x.mean((0, 1)), [(2, 3, 2)], False),
    ("max", lambda x: x.max(), lambda x: x.amax(), [(3, 4)], False),
    ("max axis", lambda x: x.max(axis=1), lambda x: x.amax(1), [(3, 4)], False),
    ("reshape", lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3), [(3, 4)], False),
    ("transpose", lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1), [(2, 3, 4)], False),
    ("T", lambda x: x.T, lambda x: x.T, [(3, 4)], False),
    (
        "broadcast_to",
        lambda x: x.broadcast_to((2, 3, 4)),
        lambda x: x.expand(2, 3, 4),
        [(3, 1)],
        False,
    ),  # fmt: skip
    ("getitem slice", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [(3, 4)], False),
    ("getitem repeated", lambda x: x[[0, 2, 0]], lambda x: x[[0, 2, 0]], [(3, 4)], False),
    (
        "neuron",
        lambda x, w: (x @ w).tanh().sum(axis=1),
        lambda x, w: torch.tanh(x @ w).sum(1),
        [(5, 4), (4, 3)],
        False,
    ),  # fmt: skip
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", OPS, ids=[c[0] for c in OPS])
def test_jvp_of_every_op_matches_torch(case, dtype, rng):
    _, ours, theirs, shapes, positive = case
    xs = [_inputs(rng, s, dtype, positive) for s in shapes]
    dxs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    value, tangent = jvp(ours, tuple(xs), tuple(dxs))
    cast = (lambda f: f) if dtype == np.float64 else (lambda f: lambda *a: f(*[t.double() for t in a]).float())  # fmt: skip
    t_value, t_tangent = tf.jvp(cast(theirs), tuple(_torch(x, dtype) for x in xs), tuple(_torch(d, dtype) for d in dxs))  # fmt: skip
    assert np.shape(tangent) == np.shape(value) == tuple(t_value.shape)
    np.testing.assert_allclose(value, _np(t_value), **TOL[dtype])
    np.testing.assert_allclose(tangent, _np(t_tangent), **TOL[dtype])
    if np.ndim(value):
        assert tangent.dtype == dtype


SCALAR_OPS = [
    ("arithmetic", lambda x, y: (x * y + x / y - y) ** 2, lambda x, y: (x * y + x / y - y) ** 2),
    ("pow value", lambda x, y: x**y, lambda x, y: x**y),
    (
        "exp log",
        lambda x, y: (x * y).exp() + (x * x + 1).log(),
        lambda x, y: torch.exp(x * y) + torch.log(x * x + 1),
    ),  # fmt: skip
    (
        "neuron",
        lambda x, y: (x * -3.0 + y * 0.5 + 6.88).tanh(),
        lambda x, y: torch.tanh(x * -3.0 + y * 0.5 + 6.88),
    ),  # fmt: skip
]


@pytest.mark.parametrize("case", SCALAR_OPS, ids=[c[0] for c in SCALAR_OPS])
def test_jvp_on_scalars_matches_torch_and_gives_floats(case):
    _, ours, theirs = case
    value, tangent = jvp(ours, (1.5, 0.75), (0.5, -2.0))
    t_value, t_tangent = tf.jvp(theirs, (_torch(1.5), _torch(0.75)), (_torch(0.5), _torch(-2.0)))
    assert type(value) is float and type(tangent) is float
    assert value == pytest.approx(t_value.item(), rel=1e-12)
    assert tangent == pytest.approx(t_tangent.item(), rel=1e-10)


def test_jvp_of_a_constant_base_power_ignores_the_nan_slope_of_a_negative_base():
    # x ** y at x < 0: ∂a/∂y = a·log x is nan; for a constant y that term is never computed.
    value, tangent = jvp(lambda x: x ** Value(2.0, requires_grad=False), (-2.0,), (1.0,))
    assert (value, tangent) == (4.0, -4.0)


def test_jvp_of_cross_entropy_matches_torch(rng):
    from tinygrad_act.nn import cross_entropy

    z, dz, labels = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), [0, 2, 1, 1]
    value, tangent = jvp(lambda v: cross_entropy(v, labels), (z,), (dz,))
    expected = tf.jvp(lambda t: F.cross_entropy(t, torch.tensor(labels)), (_torch(z),), (_torch(dz),))  # fmt: skip
    assert float(value) == pytest.approx(expected[0].item(), rel=1e-12)
    assert float(tangent) == pytest.approx(expected[1].item(), rel=1e-10)


def test_jvp_with_tuple_outputs_and_untouched_outputs(rng):
    x, dx = rng.standard_normal(3), rng.standard_normal(3)
    constant = Value(np.ones(2))
    values, tangents = jvp(lambda v: (v.tanh(), v * 2, constant), (x,), (dx,))
    np.testing.assert_allclose(values[0], np.tanh(x))
    np.testing.assert_allclose(tangents[0], (1 - np.tanh(x) ** 2) * dx)
    np.testing.assert_allclose(tangents[1], 2 * dx)
    np.testing.assert_array_equal(tangents[2], np.zeros(2))  # does not depend on x


def test_jvp_works_under_no_grad_and_records_nothing_extra(rng):
    x, dx = rng.standard_normal(3), rng.standard_normal(3)
    with no_grad():
        value, tangent = jvp(lambda v: v.sigmoid(), (x,), (dx,))
    a = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(tangent, a * (1 - a) * dx)
    assert observe.watcher is None  # forward mode is off again: _make pays one test


def test_jvp_runs_no_backward_pass(monkeypatch, rng):
    from tinygrad_act import backprop

    def refuse(*args, **kwargs):
        raise AssertionError("jvp ran a backward pass")

    monkeypatch.setattr(backprop, "_backprop", refuse)
    _, tangent = jvp(lambda v: (v * v).tanh().sum(), (np.ones(3),), (np.ones(3),))
    assert tangent == pytest.approx(3 * (1 - np.tanh(1.0) ** 2) * 2)


def test_jvp_takes_values_and_leaves_them_alone():
    x = Value(np.array([1.0, 2.0]), label="x")
    value, tangent = jvp(lambda v: v * v, (x,), (Value(np.array([1.0, 0.0])),))
    assert tangent.tolist() == [2.0, 0.0]
    assert x.grad.tolist() == [0.0, 0.0] and x._prev == ()


# ---- a user's activation gets forward mode for free ------------------------------------------------


@pytest.fixture
def cube():
    register_activation("cube", lambda z: z * z * z, lambda z, a: 3 * z**2, formula="3z²")
    yield
    unregister_activation("cube")


def test_a_registered_activation_gets_a_correct_jvp_with_no_extra_code(cube, rng):
    z, dz = rng.standard_normal(4), rng.standard_normal(4)
    value, tangent = jvp(lambda v: v.cube(), (z,), (dz,))
    np.testing.assert_allclose(tangent, _np(tf.jvp(lambda t: t**3, (_torch(z),), (_torch(dz),))[1]))
    np.testing.assert_allclose(jacobian(tinygrad_act.cube, mode="forward")(z), np.diag(3 * z**2))
    np.testing.assert_allclose(hessian(lambda v: v.cube().sum())(z), np.diag(6 * z))


def test_a_vjp_only_activation_needs_a_jvp_entry_for_forward_mode(rng):
    def rev(z):
        return z[::-1].copy()

    register_activation("rev", rev, vjp=lambda g, z, a: g[::-1], tensor_only=True)
    try:
        with pytest.raises(NotImplementedError, match="'rev' was registered with vjp= only.*jvp="):
            jvp(lambda v: v.rev(), (np.ones(3),), (np.ones(3),))
    finally:
        unregister_activation("rev")
    register_activation(
        "rev", rev, vjp=lambda g, z, a: g[::-1], jvp=lambda dz, z, a: dz[::-1], tensor_only=True
    )
    try:
        z = np.array([1.0, 2.0, 3.0])
        assert jvp(lambda v: v.rev() * v, (z,), (np.array([1.0, 0.0, 0.0]),))[1].tolist() == [3, 0, 3]  # fmt: skip
        assert gradcheck(lambda v: v.rev() * v, [Value(z)], check_forward_ad=True)
    finally:
        unregister_activation("rev")


def test_register_activation_refuses_a_jvp_that_is_not_callable():
    with pytest.raises(TypeError, match="jvp must be a callable"):
        register_activation("bad", lambda z: z, vjp=lambda g, z, a: g, jvp=3)
    assert "bad" not in ACTIVATIONS


# ---- jacobian, both modes, against jacrev / jacfwd ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_jacobian_of_every_activation_matches_jacrev_and_jacfwd(name, rng):
    z = _inputs(rng, (2, 3))
    reverse = jacobian(lambda v: v.activate(name))(z)
    forward = jacobian(lambda v: v.activate(name), mode="forward")(z)
    expected = _np(tf.jacrev(TORCH_ACTIVATIONS[name])(_torch(z)))
    assert reverse.shape == forward.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(reverse, expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(forward, _np(tf.jacfwd(TORCH_ACTIVATIONS[name])(_torch(z))), rtol=1e-10, atol=1e-13)  # fmt: skip


@pytest.mark.parametrize("name", LECTURE)
def test_the_jacobian_of_a_lecture_activation_is_diagonal_with_the_slides_slope(name):
    z = np.array([-10.0, -1.0, 0.5, 10.0])
    a = ACTIVATIONS[name].forward(z)
    slope = ACTIVATIONS[name].derivative(z, a, **ACTIVATIONS[name].defaults)
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(jacobian(lambda v: v.activate(name), mode=mode)(z), np.diag(slope))  # fmt: skip


@pytest.mark.parametrize("case", OPS, ids=[c[0] for c in OPS])
def test_jacobian_of_every_op_matches_torch_in_both_modes(case, rng):
    _, ours, theirs, shapes, positive = case
    xs = [_inputs(rng, s, positive=positive) for s in shapes]
    argnums = tuple(range(len(xs)))
    expected = tf.jacrev(theirs, argnums=argnums)(*[_torch(x) for x in xs])
    for mode in ("reverse", "forward"):
        found = jacobian(ours, argnums=argnums, mode=mode)(*xs)
        for block, want in zip(found, expected, strict=True):
            np.testing.assert_allclose(block, _np(want), rtol=1e-10, atol=1e-12)


def test_jacobian_in_float32_keeps_float32(rng):
    z = _inputs(rng, (3,), np.float32)
    for mode in ("reverse", "forward"):
        J = jacobian(lambda v: v.tanh(), mode=mode)(z)
        assert J.dtype == np.float32
        np.testing.assert_allclose(J, np.diag(1 - np.tanh(z) ** 2), rtol=1e-6)


def test_jacobian_of_scalars_is_a_float_and_argnums_picks_arguments():
    f = lambda x, w, b: (x * w + b).tanh()  # noqa: E731
    dx = jacobian(f)(2.0, -3.0, 6.88)
    dw, db = jacobian(f, argnums=(1, 2), mode="forward")(2.0, -3.0, 6.88)
    a = np.tanh(2.0 * -3.0 + 6.88)
    assert type(dx) is float and dx == pytest.approx(-3.0 * (1 - a**2))
    assert dw == pytest.approx(2.0 * (1 - a**2)) and db == pytest.approx(1 - a**2)


def test_jacobian_with_tuple_outputs_is_outputs_outside_arguments_inside(rng):
    x, y = rng.standard_normal(2), rng.standard_normal(3)
    for mode in ("reverse", "forward"):
        (jxx, jxy), (jyx, jyy) = jacobian(lambda a, b: (a * 2, b.sum() * a), (0, 1), mode)(x, y)
        np.testing.assert_allclose(jxx, 2 * np.eye(2))
        assert jxy.shape == (2, 3) and not jxy.any()
        np.testing.assert_allclose(jyx, y.sum() * np.eye(2))
        np.testing.assert_allclose(jyy, np.outer(x, np.ones(3)))


# ---- hessian and hvp ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_hessian_of_every_activation_matches_torch(name, rng):
    z, c = _inputs(rng, (2, 3)), rng.standard_normal((2, 3))
    H = hessian(lambda v: (v.activate(name) * c).sum())(z)
    expected = tf.hessian(lambda t: (TORCH_ACTIVATIONS[name](t) * _torch(c)).sum())(_torch(z))
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H, _np(expected), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", LECTURE[:2])
def test_hessian_of_sigmoid_and_tanh_are_the_lectures_second_derivatives(name):
    a = ACTIVATIONS[name].forward(0.5)
    second = a * (1 - a) * (1 - 2 * a) if name == "sigmoid" else -2 * a * (1 - a**2)
    assert hessian(lambda v: v.activate(name))(0.5) == pytest.approx(second, rel=1e-12)


@pytest.mark.parametrize("case", [c for c in OPS if c[0] not in ("max", "max axis")], ids=lambda c: c[0])  # fmt: skip
def test_hessian_through_every_op_matches_torch(case, rng):
    _, ours, theirs, shapes, positive = case
    xs = [_inputs(rng, s, positive=positive) for s in shapes]
    argnums = tuple(range(len(xs)))
    found = hessian(lambda *v: ours(*v).tanh().sum(), argnums)(*xs)
    expected = tf.hessian(lambda *t: torch.tanh(theirs(*t)).sum(), argnums)(
        *[_torch(x) for x in xs]
    )
    for row, want_row in zip(found, expected, strict=True):
        for block, want in zip(row, want_row, strict=True):
            np.testing.assert_allclose(block, _np(want), rtol=1e-9, atol=1e-11)


def test_hessian_of_max_and_of_cross_entropy_match_torch(rng):
    from tinygrad_act.nn import cross_entropy

    z = rng.standard_normal((3, 4))
    H = hessian(lambda v: (v.max(axis=1) ** 2).sum())(z)
    np.testing.assert_allclose(H, _np(tf.hessian(lambda t: (t.amax(1) ** 2).sum())(_torch(z))), atol=1e-12)  # fmt: skip
    labels = [0, 3, 1]
    H = hessian(lambda v: cross_entropy(v, labels))(z)
    expected = tf.hessian(lambda t: F.cross_entropy(t, torch.tensor(labels)))(_torch(z))
    np.testing.assert_allclose(H, _np(expected), rtol=1e-9, atol=1e-12)


def test_hvp_is_the_hessian_times_the_vector(rng):
    x, w, v, u = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)  # fmt: skip
    f = lambda a, b: ((a * b).tanh() * a).sum()  # noqa: E731
    value, (hx, hw) = hvp(f, (x, w), (v, u))
    (hxx, hxw), (hwx, hww) = hessian(f, (0, 1))(x, w)
    assert float(value) == pytest.approx(float(np.sum(np.tanh(x * w) * x)))
    np.testing.assert_allclose(hx, hxx @ v + hxw @ u, atol=1e-12)
    np.testing.assert_allclose(hw, hwx @ v + hww @ u, atol=1e-12)
    t_value, t_hv = torch.autograd.functional.hvp(lambda a, b: (torch.tanh(a * b) * a).sum(), (_torch(x), _torch(w)), (_torch(v), _torch(u)))  # fmt: skip
    np.testing.assert_allclose(hx, _np(t_hv[0]), atol=1e-12)
    np.testing.assert_allclose(hw, _np(t_hv[1]), atol=1e-12)


def test_hessian_in_float32(rng):
    z = _inputs(rng, (3,), np.float32)
    H = hessian(lambda v: v.sigmoid().sum())(z)
    a = 1 / (1 + np.exp(-z.astype(np.float64)))
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, np.diag(a * (1 - a) * (1 - 2 * a)), rtol=1e-5, atol=1e-7)


# ---- random graphs: forward and reverse agree, uᵀ(Jv) = (uᵀJ)v -----------------------------------------

M3 = np.array([[0.5, -1.0, 0.3], [0.2, 0.8, -0.6], [-0.4, 0.1, 0.9]])
UNARY = [
    lambda v: v.tanh(),
    lambda v: v.sigmoid(),
    lambda v: v.silu(),
    lambda v: v.gelu(),
    lambda v: v.softplus(),
    lambda v: v.elu(alpha=0.7),
    lambda v: v.leaky_relu(slope=0.3),
    lambda v: -v,
    lambda v: v.tanh().exp(),
    lambda v: v.softplus().log(),
    lambda v: v**2,
    lambda v: (v * v + 1) ** 0.5,
    lambda v: v[[2, 0, 0]],
    lambda v: (v.reshape(1, 3) @ M3).reshape(3),
    lambda v: v.reshape(3, 1).T.reshape(3),
    lambda v: v * v.max(keepdims=True),
    lambda v: v - v.mean(),
    lambda v: v.softmax(),
    lambda v: v.log_softmax(),
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b.sigmoid() + 0.5),
    lambda a, b: a.sigmoid() ** b.tanh(),
    lambda a, b: a * (a @ b),
]


def _random_graph(seed):
    """A function of two (3,) inputs: a random DAG of ops, values reused (fan-out)."""
    pick = np.random.default_rng(seed)
    plan = []
    for _ in range(10):
        if pick.random() < 0.6:
            plan.append((UNARY[pick.integers(len(UNARY))], int(pick.integers(100))))
        else:
            plan.append((BINARY[pick.integers(len(BINARY))], int(pick.integers(100)), int(pick.integers(100))))  # fmt: skip

    def f(x, y):
        nodes = [x, y]
        for op, *which in plan:
            nodes.append(op(*[nodes[w % len(nodes)] for w in which]))
        return nodes[-1] + nodes[-2] * 0.5

    return f


@pytest.mark.parametrize("seed", range(25))
def test_forward_and_reverse_mode_agree_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    f = _random_graph(seed)
    x, y = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
    v = (rng.standard_normal(3), rng.standard_normal(3))
    u = rng.standard_normal(3)
    _, jv = jvp(f, (x, y), v)
    leaves = [Value(x), Value(y)]
    ujx, ujy = gradients(f(*leaves), leaves, grad=u)
    assert np.isfinite(jv).all()
    assert float(u @ jv) == pytest.approx(float(ujx @ v[0] + ujy @ v[1]), rel=1e-10, abs=1e-10)


# ---- gradcheck(check_forward_ad=True) ------------------------------------------------------------------


def test_gradcheck_checks_forward_mode_too(rng):
    z = Value(rng.standard_normal((2, 3)), label="z")
    w = Value(rng.standard_normal((3, 2)), label="w")
    assert gradcheck(lambda z, w: (z @ w).tanh().log_softmax(), [z, w], check_forward_ad=True)
    assert gradgradcheck(lambda z: z.sigmoid() * z, [z], check_forward_ad=True)


def test_gradcheck_check_forward_ad_catches_a_wrong_jvp():
    register_activation(
        "bad_jvp",
        lambda z: z[::-1] * 2,
        vjp=lambda g, z, a: g[::-1] * 2,
        jvp=lambda dz, z, a: dz * 2,  # forgot the reversal
        tensor_only=True,
    )
    try:
        z = Value(np.array([1.0, 2.0, 3.0]), label="z")
        assert gradcheck(lambda v: v.bad_jvp(), [z])  # reverse mode is right
        with pytest.raises(GradcheckError, match=r"check_forward_ad.*central differences"):
            gradcheck(lambda v: v.bad_jvp(), [z], check_forward_ad=True)
        assert not gradcheck(lambda v: v.bad_jvp(), [z], check_forward_ad=True, raise_exception=False)  # fmt: skip
    finally:
        unregister_activation("bad_jvp")


# ---- bad arguments: clear errors ----------------------------------------------------------------------


def test_jacobian_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match=r"mode must be 'reverse' or 'forward', got 'sideways'"):
        jacobian(lambda v: v, mode="sideways")


@pytest.mark.parametrize(
    "primals, tangents, error, match",
    [
        (1.0, (1.0,), TypeError, r"primals must be a tuple.*got float; for one argument write \(primal,\)"),
        ((1.0,), 1.0, TypeError, r"tangents must be a tuple"),
        ((1.0, 2.0), (1.0,), ValueError, r"2 primals but 1 tangents"),
        ((), (), ValueError, r"primals is empty"),
        ((np.ones(3),), (np.ones(2),), ValueError, r"tangent 0 has shape \(2,\) but its primal has shape \(3,\)"),
        ((1.0,), (np.ones(2),), ValueError, r"tangent 0 has shape \(2,\) but its primal has shape \(\)"),
        (("x",), (1.0,), TypeError, r"jvp: primal 0: Value takes"),
        ((1.0,), ("x",), TypeError, r"jvp: tangent 0: Value takes"),
    ],
)  # fmt: skip
def test_jvp_refuses_mismatched_primals_and_tangents(primals, tangents, error, match):
    with pytest.raises(error, match=match):
        jvp(lambda *v: v[0], primals, tangents)
    assert observe.watcher is None


def test_jvp_and_jacobian_refuse_bad_functions_and_argnums():
    with pytest.raises(TypeError, match="f must be callable"):
        jvp(3, (1.0,), (1.0,))
    with pytest.raises(TypeError, match="f must return a Value or a tuple of Values, got str"):
        jvp(lambda v: "no", (1.0,), (1.0,))
    with pytest.raises(TypeError, match="argnums must be an int or a non-empty tuple"):
        jacobian(lambda v: v, argnums="0")
    with pytest.raises(ValueError, match="names an argument twice"):
        jacobian(lambda v: v, argnums=(0, 0))
    with pytest.raises(ValueError, match="argnums 1 is out of range for 1 argument"):
        jacobian(lambda v: v, argnums=1)(1.0)
    with pytest.raises(ValueError, match="hessian needs f to return one number"):
        hessian(lambda v: v * 2)(np.ones(2))


def test_forward_mode_does_not_nest():
    with pytest.raises(RuntimeError, match="forward mode does not nest"):
        jvp(lambda x: Value(jvp(lambda y: y * x, (1.0,), (1.0,))[1]), (2.0,), (1.0,))
    assert observe.watcher is None
