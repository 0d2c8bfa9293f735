"""PyTorch as the oracle: the same expressions in both engines, in float64, compared value by value."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_act import ACTIVATIONS, Value
from tinygrad_act.activations import BUILTIN

torch = pytest.importorskip("torch")
F = torch.nn.functional

# Each activation as PyTorch spells it.
TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "softplus": F.softplus,
    "elu": F.elu,
    "silu": F.silu,
    "gelu": lambda t: F.gelu(t, approximate="tanh"),
    "softmax": lambda t: torch.softmax(t, dim=-1),
    "log_softmax": lambda t: torch.log_softmax(t, dim=-1),
}


def test_every_builtin_activation_has_an_oracle():
    assert set(TORCH_ACTIVATIONS) == set(BUILTIN) <= set(ACTIVATIONS)


def _away_from_kinks(rng, shape, scale=3.0):
    x = rng.uniform(-scale, scale, shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)  # relu, leaky_relu and elu jump at 0


def _torch(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
def test_activation_values_and_gradients_match_torch(name, shape, rng):
    x = _away_from_kinks(rng, shape)
    upstream = rng.standard_normal(shape)
    v = Value(x)
    out = v.activate(name)
    (out * Value(upstream)).sum().backward()
    t = _torch(x)
    tout = TORCH_ACTIVATIONS[name](t)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "name", [n for n in sorted(TORCH_ACTIVATIONS) if n not in ("softmax", "log_softmax")]
)
def test_scalar_activations_match_torch(name, rng):
    for z in _away_from_kinks(rng, (10,), scale=6.0):
        v = Value(float(z))
        a = v.activate(name)
        a.backward()
        t = _torch(z)
        TORCH_ACTIVATIONS[name](t).backward()
        assert a.data == pytest.approx(TORCH_ACTIVATIONS[name](t).item(), rel=1e-12, abs=1e-14)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12)


def test_relu_and_leaky_relu_at_zero_follow_the_lecture_not_torch():
    # The documented divergence: the slide's g'(0) = 1; PyTorch picks 0 for ReLU and the slope for Leaky ReLU.
    for name, torch_slope in (("relu", 0.0), ("leaky_relu", 0.01)):
        v = Value(0.0)
        v.activate(name).backward()
        t = _torch(0.0)
        TORCH_ACTIVATIONS[name](t).backward()
        assert v.grad == 1.0
        assert t.grad.item() == torch_slope


def _mlp_loss_ours(X, W1, b1, W2, b2, labels, act):
    h = getattr(X @ W1 + b1, act)()
    logits = h @ W2 + b2
    logp = logits.log_softmax(axis=1)
    return -logp[np.arange(len(labels)), labels].mean()


def _mlp_loss_torch(X, W1, b1, W2, b2, labels, act):
    h = TORCH_ACTIVATIONS[act](X @ W1 + b1)
    return F.cross_entropy(h @ W2 + b2, torch.tensor(labels))


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "gelu"])
def test_a_two_layer_network_loss_and_gradients_match_torch(act, rng):
    arrays = [
        rng.standard_normal((16, 5)),
        rng.standard_normal((5, 8)) * 0.5,
        rng.standard_normal(8) * 0.1,
        rng.standard_normal((8, 3)) * 0.5,
        rng.standard_normal(3) * 0.1,
    ]
    labels = rng.integers(0, 3, 16)
    ours = [Value(a) for a in arrays]
    theirs = [_torch(a) for a in arrays]
    loss = _mlp_loss_ours(*ours, labels, act)
    loss.backward()
    tloss = _mlp_loss_torch(*theirs, labels, act)
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for v, t in zip(ours, theirs, strict=False):
        np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)


EXPRESSIONS = {
    "polynomial": lambda a, b, lib: (a * b + a**2 - b / (a * a + 1.0)).sum(),
    "exp_log": lambda a, b, lib: ((a * a + 1.0).log() * (b * 0.3).exp()).sum(),
    "reductions": lambda a, b, lib: _max(a, lib) * _mean(b, lib) + _sum(a * b, lib),
    "value_pow": lambda a, b, lib: ((a * a + 0.5) ** (b * 0.2)).sum(),
    "chain": lambda a, b, lib: _act(_act(a * b, "tanh", lib) + a, "sigmoid", lib).sum(),
}


def _sum(x, lib):
    return x.sum(0) if lib == "torch" else x.sum(axis=0)


def _mean(x, lib):
    return x.mean()


def _max(x, lib):
    return x.amax(0) if lib == "torch" else x.max(axis=0)


def _act(x, name, lib):
    return TORCH_ACTIVATIONS[name](x) if lib == "torch" else x.activate(name)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
@pytest.mark.parametrize(
    ("shape_a", "shape_b"), [((4, 3), (4, 3)), ((4, 3), (3,)), ((4, 1), (1, 3))]
)
def test_random_expressions_match_torch(name, shape_a, shape_b, rng):
    a, b = rng.uniform(0.2, 2.0, shape_a), rng.uniform(0.2, 2.0, shape_b)
    f = EXPRESSIONS[name]
    va, vb = Value(a), Value(b)
    out = f(va, vb, "ours")
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream) if out.size > 1 else (out * float(upstream.sum())).backward()
    ta, tb = _torch(a), _torch(b)
    tout = f(ta, tb, "torch")
    tout.backward(
        torch.tensor(upstream if out.size > 1 else float(upstream.sum()), dtype=torch.float64)
    )
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(va.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vb.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [
        ((3,), (3,)),
        ((2, 3), (3, 4)),
        ((3,), (3, 4)),
        ((2, 3), (3,)),
        ((5, 2, 3), (3, 4)),
        ((3,), (5, 3, 4)),
    ],
)
def test_matmul_matches_torch(shape_a, shape_b, rng):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    va, vb = Value(a), Value(b)
    out = va @ vb
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    ta, tb = _torch(a), _torch(b)
    (ta @ tb).backward(torch.tensor(upstream))
    np.testing.assert_allclose(va.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vb.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_indexing_with_repeats_matches_torch(rng):
    x = rng.standard_normal((5, 3))
    rows = np.array([0, 4, 4, 2, 0, 0])
    upstream = rng.standard_normal((6, 3))
    v = Value(x)
    v[rows].backward(upstream)
    t = _torch(x)
    t[torch.tensor(rows)].backward(torch.tensor(upstream))
    np.testing.assert_allclose(v.grad, t.grad.numpy())


def test_max_ties_split_like_torch_amax():
    x = np.array([[1.0, 4.0, 4.0], [2.0, 2.0, 2.0]])
    v = Value(x)
    v.max(axis=1).backward(np.array([1.0, 3.0]))
    t = _torch(x)
    t.amax(1).backward(torch.tensor([1.0, 3.0], dtype=torch.float64))
    np.testing.assert_allclose(v.grad, t.grad.numpy())


# A broadcastable pair of shapes: a base shape, and the other operand with some axes set to 1 or dropped.
@st.composite
def broadcast_pair(draw):
    base = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    other = [draw(st.sampled_from([n, 1])) for n in base]
    drop = draw(st.integers(0, len(other)))
    return tuple(base), tuple(other[drop:])


@given(
    shapes=broadcast_pair(),
    op=st.sampled_from(["+", "-", "*", "/"]),
    swap=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_broadcast_gradients_match_torch_for_random_shapes(shapes, op, swap, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes[::-1] if swap else shapes
    a, b = rng.uniform(0.5, 2.0, shape_a), rng.uniform(0.5, 2.0, shape_b)
    fn = {
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
        "/": lambda x, y: x / y,
    }[op]
    va, vb = Value(a), Value(b)
    out = fn(va, vb)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    ta, tb = _torch(a), _torch(b)
    fn(ta, tb).backward(torch.tensor(upstream))
    assert va.grad.shape == a.shape and vb.grad.shape == b.shape
    np.testing.assert_allclose(va.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vb.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)
