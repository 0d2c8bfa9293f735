"""Issue 13's engine items: empty means, axes, numpy warnings, activation parameters, exponents,
labels and what a Value accepts. PyTorch is the oracle where it defines the answer.

pytest runs with ``filterwarnings = error``: a numpy RuntimeWarning escaping an op fails here as
it would under ``python -W error``.
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from tinygrad_act import Value
from tinygrad_act.nn import Activation

torch = pytest.importorskip("torch")
F = torch.nn.functional
INF = math.inf


def grad_of(fn, x):
    """(value, gradient of the sum) of fn at x, by tinygrad_act."""
    v = Value(np.array(x, dtype=np.float64))
    out = fn(v)
    (out.sum() if out.ndim else out).backward()
    return out.data, v.grad


def torch_grad_of(fn, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(t)
    out.sum().backward()
    return out.detach().numpy(), t.grad.numpy()


def same(ours, theirs):
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


# ---- 13: the mean of nothing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "axis"), [((0,), None), ((0, 3), 0), ((0, 3), 1), ((2, 0), None), ((2, 0), 1)]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_mean_of_an_empty_tensor_is_nan_without_a_warning_as_torch(shape, axis, dtype):
    v = Value(np.zeros(shape, dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = v.mean(axis=axis)
        expected = torch.zeros(shape, dtype=torch.float64).mean(dim=axis)
        same(m.data, expected.numpy())
        assert m.dtype == dtype
        if m.size:
            m.sum().backward()
        else:
            m.backward(np.zeros(m.shape)) if m.ndim else m.backward()
    assert v.grad.shape == shape


# ---- 14: axes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        lambda v, a: v.sum(axis=a),
        lambda v, a: v.mean(axis=a, keepdims=True),
        lambda v, a: v.max(axis=a),
        lambda v, a: v.sum(axis=(a, 2)),
        lambda v, a: v.softmax(axis=a),
        lambda v, a: v.log_softmax(axis=a),
        lambda v, a: v.swapaxes(a, 2),
        lambda v, a: v.transpose(a, 2, 0),
    ],
)
@pytest.mark.parametrize("kind", [np.int64, np.int32, np.intp, np.uint8])
def test_an_axis_may_be_a_numpy_integer(op, kind):
    x = np.arange(24.0).reshape(2, 3, 4)
    with_int = op(Value(x), 1)
    with_numpy = op(Value(x), kind(1))
    same(with_numpy.data, with_int.data)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda v: v.sum(axis="1"), TypeError, r"sum: axis must be an int.*got str \('1'\)"),
        (lambda v: v.sum(axis=1.0), TypeError, r"sum: axis must be an int.*got float \(1.0\)"),
        (lambda v: v.mean(axis=True), TypeError, r"mean: axis must be an int.*got bool"),
        (lambda v: v.max(axis=[0, "x"]), TypeError, r"max: axis must be an int.*got list"),
        (lambda v: v.sum(axis=2), ValueError, "sum: axis 2 is out of range for a Value with 2 dimensions"),
        (lambda v: v.mean(axis=(0, -2)), ValueError, r"mean: axis \(0, -2\) names the same axis twice"),
        (lambda v: v.swapaxes(0, 5), ValueError, "swapaxes: axis 5 is out of range"),
        (lambda v: v.swapaxes("a", 1), TypeError, "swapaxes: axis must be an int"),
        (lambda v: v.swapaxes(0, 1.5), TypeError, "swapaxes: axis must be an int"),
        (lambda v: v.transpose(0, "a"), TypeError, "transpose: axis must be an int"),
        (lambda v: v.softmax(axis="x"), TypeError, r"softmax: axis takes an int, got str \('x'\)"),
        (lambda v: v.log_softmax(axis=0.5), TypeError, "log_softmax: axis takes an int, got float"),
        (lambda v: v.softmax(axis=5), ValueError, "axis 5 is out of bounds"),
    ],
)  # fmt: skip
def test_a_bad_axis_is_a_type_or_value_error_naming_axis(call, error, message):
    with pytest.raises(error, match=message):
        call(Value(np.ones((2, 3))))


# ---- 16: no numpy RuntimeWarning escapes; the IEEE answers are PyTorch's ------------------------

_ROWS = [[INF, 1.0], [-INF, 0.0], [-INF, -INF], [INF, INF], [1e308, -1e308], [1e308, 1e308]]


@pytest.mark.parametrize(
    ("ours", "theirs", "x"),
    [
        (lambda v: v.silu(), F.silu, [-INF, INF, -1e308, 1.0]),
        (lambda v: v.softmax() * np.array([1.0, 2.0]), lambda t: F.softmax(t, -1) * torch.tensor([1.0, 2.0], dtype=torch.float64), _ROWS),
        (lambda v: v.log_softmax() * np.array([1.0, 2.0]), lambda t: F.log_softmax(t, -1) * torch.tensor([1.0, 2.0], dtype=torch.float64), _ROWS),
        (lambda v: v.sum(), lambda t: t.sum(), [INF, -INF]),
        (lambda v: v.mean(), lambda t: t.mean(), [INF, -INF]),
        (lambda v: v * 0.0, lambda t: t * 0.0, [INF, 1.0]),
        (lambda v: v - INF, lambda t: t - INF, [INF, 1.0]),
        (lambda v: v + -INF, lambda t: t + -INF, [INF, 1.0]),
        (lambda v: v * 10.0, lambda t: t * 10.0, [1e308, 1.0]),
        (lambda v: v @ np.array([10.0, 10.0]), lambda t: t @ torch.tensor([10.0, 10.0], dtype=torch.float64), [1e308, 1e308]),
    ],
)  # fmt: skip
def test_no_runtime_warning_escapes_and_the_values_are_pytorchs(ours, theirs, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as python -W error
        value, grad = grad_of(ours, x)
    t_value, t_grad = torch_grad_of(theirs, x)
    same(value, t_value)
    same(grad, t_grad)


def test_a_float32_tensor_times_a_huge_float64_array_is_inf_without_a_warning():
    # An array operand takes the tensor's dtype (as a Python number does in torch): 1e300 is inf.
    v = Value(np.ones(2, dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = v * np.array([1e300, 2.0])
        out.sum().backward()
    assert out.dtype == np.float32 and out.data.tolist() == [INF, 2.0]
    assert v.grad.tolist() == [INF, 2.0]


# ---- 17: activation parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda v: v.leaky_relu(slope="a"), TypeError, r"leaky_relu: slope takes a real number, got str \('a'\)"),
        (lambda v: v.leaky_relu(slope=np.ones(3)), TypeError, r"slope takes a real number, got ndarray of shape \(3,\)"),
        (lambda v: v.leaky_relu(slope=1j), TypeError, r"slope takes a real number, got complex \(1j\)"),
        (lambda v: v.leaky_relu(slope=True), TypeError, "slope takes a real number, got bool"),
        (lambda v: v.leaky_relu(slope=math.nan), ValueError, "leaky_relu: slope must be a finite number, got nan"),
        (lambda v: v.elu(alpha="a"), TypeError, "elu: alpha takes a real number, got str"),
        (lambda v: v.elu(alpha=np.ones(2)), TypeError, r"elu: alpha takes a real number, got ndarray of shape \(2,\)"),
        (lambda v: v.elu(alpha=1j), TypeError, "elu: alpha takes a real number, got complex"),
        (lambda v: v.elu(alpha=-math.inf), ValueError, "elu: alpha must be a finite number"),
        (lambda v: v.activate("leaky_relu", slope=None), TypeError, "slope takes a real number, got NoneType"),
        (lambda v: v.activate("leaky_relu", slop=0.1), TypeError, "leaky_relu takes slope; got slop"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("data", [-1.5, [-1.5, 2.0]])
def test_activation_parameters_are_checked_by_name(call, error, message, data):
    with pytest.raises(error, match=message):
        call(Value(data))


@pytest.mark.parametrize("data", [-1.5, [-1.5, 2.0]])
def test_a_value_as_a_parameter_is_refused_before_a_plain_backward_could_use_it(data):
    # It used to be taken as a constant, and the plain backward then stored a Value in .grad.
    v = Value(data)
    with pytest.raises(
        TypeError, match="slope takes a real number, got a Value: parameters are constants"
    ):
        v.leaky_relu(slope=Value(0.1))
    with pytest.raises(TypeError, match="alpha takes a real number, got a Value"):
        v.elu(alpha=Value(np.ones(2)))


def test_an_activation_module_refuses_a_bad_parameter_when_built():
    with pytest.raises(ValueError, match="leaky_relu: slope takes a real number, got str"):
        Activation("leaky_relu", slope="0.1")


@pytest.mark.parametrize("slope", [np.float32(0.2), np.float64(0.2), 1, Fraction(1, 5)])
def test_numpy_and_other_real_parameters_work_as_in_pytorch(slope):
    x = [-2.0, -0.5, 0.0, 3.0]
    value, grad = grad_of(lambda v: v.leaky_relu(slope=slope), x)
    t_value, t_grad = torch_grad_of(lambda t: F.leaky_relu(t, float(slope)), x)
    np.testing.assert_allclose(value, t_value, rtol=1e-15)
    # the lecture takes slope 1 at z = 0 where torch takes the leak: compare away from the kink
    np.testing.assert_allclose(np.delete(grad, 2), np.delete(t_grad, 2), rtol=1e-15)
    assert grad[2] == 1.0


# ---- 19: exponents -------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [Fraction(1, 2), Fraction(-3, 2), np.float32(0.5), np.int64(3)])
@pytest.mark.parametrize("x", [2.0, [2.0, 0.5, 9.0]])
def test_any_real_exponent_works_as_in_pytorch(p, x):
    value, grad = grad_of(lambda v: v**p, x)
    t_value, t_grad = torch_grad_of(lambda t: t ** float(p), x if isinstance(x, list) else [x])
    np.testing.assert_allclose(np.ravel(value), t_value, rtol=1e-12)
    np.testing.assert_allclose(np.ravel(grad), t_grad, rtol=1e-12)
    assert (Value(2.0) ** p)._op == f"**{float(p):g}"


@pytest.mark.parametrize("p", [10**400, -(10**400), Fraction(10**400, 3)])
def test_an_exponent_too_large_for_a_float_is_a_clear_error(p):
    with pytest.raises(ValueError, match=r"\*\*: the exponent is too large for a float"):
        Value(2.0) ** p


def test_an_exponent_that_is_not_real_is_a_type_error():
    from decimal import Decimal

    for p in (Decimal("0.5"), 1j, "2", True):
        with pytest.raises(TypeError, match=r"\*\* takes a real number or a Value as the exponent"):
            Value(2.0) ** p


# ---- 20: labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [3, None, b"x", ["x"]])
def test_a_label_must_be_a_str(label):
    with pytest.raises(TypeError, match="a Value's label is a str, not"):
        Value(1.0, label=label)
    v = Value(1.0, label="x")
    with pytest.raises(TypeError, match="a Value's label is a str, not"):
        v.label = label
    assert v.label == "x"
    v.label = "any text\x00, " + "y" * 100_000  # any str: drawings escape and shorten it
    assert len(v.label) == 100_011


# ---- 22: what a Value accepts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (np.array([True, False]), "not an array of bools"),
        ([True, False], "not an array of bools"),
        (np.bool_(True), "not a bool"),
        (bytearray(b"ab"), "not a bytearray"),
        (memoryview(b"ab"), "not a memoryview"),
        (memoryview(np.ones(2)), "not a memoryview"),
        (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "not a masked array"),
    ],
)
def test_bools_buffers_and_masked_arrays_are_refused(data, named):
    with pytest.raises(TypeError, match=named):
        Value(data)
    with pytest.raises(TypeError, match=named):
        Value(np.ones(2)) + data  # an operand is coerced the same way


def test_a_mask_as_numbers_still_works():
    v = Value(np.array([-1.0, 2.0]))
    (v * (v.data > 0).astype(float)).sum().backward()
    assert v.grad.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("v", [Value(1.0), Value(0.0), Value(np.ones(3)), Value(np.zeros(1))])
def test_the_truth_of_a_value_says_what_to_do_instead(v):
    with pytest.raises(
        TypeError, match=r"a Value has no truth value.*compare its data, e.g. `if v.data > 0:`"
    ):
        bool(v)
