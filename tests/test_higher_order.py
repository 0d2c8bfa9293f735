"""Higher-order gradients: the lecture's formulas, differentiated again by the same engine."""

import math

import numpy as np
import pytest

from tinygrad_act import Value, grad, value_and_grad
from tinygrad_act.engine import gradients


def _sig(z):
    return 1 / (1 + math.exp(-z))


# Second derivatives in closed form, from the first derivatives the lecture gives.
SECOND = {
    "sigmoid": lambda z: _sig(z) * (1 - _sig(z)) * (1 - 2 * _sig(z)),  # a(1-a)(1-2a)
    "tanh": lambda z: -2 * math.tanh(z) * (1 - math.tanh(z) ** 2),  # -2a(1-a²)
    "relu": lambda z: 0.0,  # away from 0
    "leaky_relu": lambda z: 0.0,
    "softplus": lambda z: _sig(z) * (1 - _sig(z)),  # softplus'' = sigmoid'
    "elu": lambda z: math.exp(z) if z < 0 else 0.0,
    "silu": lambda z: _sig(z) * (1 - _sig(z)) * (2 + z * (1 - 2 * _sig(z))),
}
POINTS = [-3.1, -1.2, -0.4, 0.3, 0.9, 2.5]


@pytest.mark.parametrize("name", sorted(SECOND))
@pytest.mark.parametrize("z", POINTS)
def test_second_derivative_of_each_activation_matches_its_closed_form(name, z):
    dd = grad(grad(lambda v: v.activate(name)))
    assert dd(z) == pytest.approx(SECOND[name](z), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivative_on_tensors_matches_closed_form(name):
    z = np.array(POINTS)
    # d/dz of sum(g'(z)) is g''(z) elementwise.
    dd = grad(lambda v: grad(lambda u: u.activate(name).sum())(v).sum())
    np.testing.assert_allclose(dd(z), [SECOND[name](p) for p in POINTS], rtol=1e-10, atol=1e-14)


def test_the_issue_example_backward_create_graph_then_backward_again():
    z = Value(0.5)
    a = z.sigmoid()
    a.backward(create_graph=True)
    assert isinstance(z.grad, Value)
    s = _sig(0.5)
    assert z.grad.data == pytest.approx(s * (1 - s))
    first = z.grad
    z.zero_grad()  # keep only the second derivative: backward adds into .grad, as in PyTorch
    first.backward()
    assert z.grad == pytest.approx(s * (1 - s) * (1 - 2 * s))


@pytest.mark.filterwarnings("ignore:Using backward.. with create_graph=True:UserWarning")
def test_backward_again_accumulates_onto_the_first_derivative_like_pytorch():
    torch = pytest.importorskip("torch")
    z = Value(0.5)
    z.sigmoid().backward(create_graph=True)
    z.grad.backward()
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    torch.sigmoid(t).backward(create_graph=True)
    t.grad.backward()
    assert float(z.grad.data) == pytest.approx(t.grad.item(), rel=1e-12)


def test_third_derivative_of_tanh():
    ddd = grad(grad(grad(lambda v: v.tanh())))
    for z in POINTS:
        a = math.tanh(z)
        assert ddd(z) == pytest.approx((1 - a * a) * (6 * a * a - 2), rel=1e-10)


def test_grad_functions_compose_and_return_plain_numbers():
    d = grad(lambda v: v.sigmoid())
    assert type(d(0.0)) is float and d(0.0) == 0.25
    value, slope = value_and_grad(lambda v: v.tanh())(0.0)
    assert (value, slope) == (0.0, 1.0)
    g = grad(lambda x: (x * x).sum())(np.array([1.0, 2.0]))
    assert isinstance(g, np.ndarray)
    np.testing.assert_array_equal(g, [2.0, 4.0])


def test_grad_with_respect_to_several_arguments():
    f = lambda x, w: (x * w).tanh()  # noqa: E731
    gx, gw = grad(f, argnums=(0, 1))(2.0, -0.5)
    slope = 1 - math.tanh(-1.0) ** 2
    assert gx == pytest.approx(slope * -0.5) and gw == pytest.approx(slope * 2.0)


def test_grad_of_a_value_argument_keeps_the_graph():
    x = Value(0.7)
    g = grad(lambda v: v.tanh())(x)
    assert isinstance(g, Value)
    g.backward()
    assert x.grad == pytest.approx(-2 * math.tanh(0.7) * (1 - math.tanh(0.7) ** 2))


def test_grad_rejects_non_scalar_outputs_and_non_values():
    with pytest.raises(ValueError, match=r"one number.*\(2,\)"):
        grad(lambda x: x * 2)(np.ones(2))
    with pytest.raises(TypeError, match="return a Value"):
        grad(lambda x: 3.0)(1.0)


def test_an_unused_input_gets_zero_second_derivative():
    assert grad(grad(lambda x: x * 3.0))(1.0) == 0.0


def test_plain_backward_builds_no_graph_for_gradients():
    x = Value(np.array([0.2, -0.3]))
    (x.tanh() * x).sum().backward()
    assert isinstance(x.grad, np.ndarray)


def _hvp_ours(f, arrays, vectors):
    values = [Value(a) for a in arrays]
    grads = gradients(f(*values), values, create_graph=True)
    total = sum(((g * Value(v)).sum() for g, v in zip(grads, vectors, strict=True)), Value(0.0))
    total.backward()
    return [v.grad for v in values]


def _hvp_torch(torch, f, arrays, vectors):
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    grads = torch.autograd.grad(f(*tensors), tensors, create_graph=True)
    total = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vectors, strict=True))
    total.backward()
    return [t.grad.numpy() for t in tensors]


COMPOSITES = {
    "neuron": lambda lib: lambda x, w, b: _act(lib, "tanh", x @ w + b).sum(),
    "mlp_softmax": lambda lib: lambda x, w, b: _logsm(lib, _act(lib, "sigmoid", x @ w) + b).sum(),
    "exp_log_pow": lambda lib: lambda x, w, b: ((x @ w).exp() + 1.0).log().sum() * (b * b).sum(),
    "gelu_silu": lambda lib: (
        lambda x, w, b: (_act(lib, "gelu", x @ w) * _act(lib, "silu", b)).sum()
    ),
    "softplus_div": lambda lib: (
        lambda x, w, b: (_act(lib, "softplus", x @ w) / (b * b + 1.0)).sum()
    ),
}


def _act(lib, name, x):
    if lib == "ours":
        return x.activate(name)
    import torch

    return {
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "gelu": lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
        "silu": torch.nn.functional.silu,
        "softplus": torch.nn.functional.softplus,
    }[name](x)


def _logsm(lib, x):
    if lib == "ours":
        return x.log_softmax(axis=-1) * x
    return x.log_softmax(dim=-1) * x


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_hessian_vector_products_match_pytorch_double_backward(name, rng):
    torch = pytest.importorskip("torch")
    arrays = [
        rng.standard_normal((4, 3)),
        rng.standard_normal((3, 2)) * 0.7,
        rng.standard_normal(2),
    ]
    vectors = [rng.standard_normal(a.shape) for a in arrays]
    ours = _hvp_ours(COMPOSITES[name]("ours"), arrays, vectors)
    theirs = _hvp_torch(torch, COMPOSITES[name]("torch"), arrays, vectors)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-12)
