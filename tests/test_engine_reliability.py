"""Reliability of the engine (issue 13, items 1-5 and 15): nothing silently wrong, nothing lost."""

import threading

import numpy as np
import pytest

from tinygrad_act import Value, register_activation, unregister_activation

torch = pytest.importorskip("torch")


# ---- 1. `p.grad = None` resets, as in PyTorch ------------------------------------------------------


@pytest.mark.parametrize("data", [2.0, np.array([1.0, -2.0])])
def test_setting_grad_to_none_resets_it(data):
    p = Value(data)
    (p * p).sum().backward() if not p.is_scalar else (p * p).backward()
    p.grad = None
    assert np.array_equal(p.grad, np.zeros_like(data))
    (p * 3.0).sum().backward() if not p.is_scalar else (p * 3.0).backward()
    assert np.array_equal(p.grad, np.full_like(data, 3.0))


# ---- 2. the power rule at base 0 and exponent 0 --------------------------------------------------------


def _torch_grads(base, exponent, make):
    tb = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    te = torch.tensor(exponent, dtype=torch.float64, requires_grad=True)
    make(tb, te).sum().backward()
    return tb.grad.numpy(), te.grad.numpy()


CASES = [  # (base, exponent): PyTorch defines the slope where 0·inf or 0·log 0 would be nan
    (0.0, 2.0),
    (0.0, 0.0),
    (0.0, 0.5),
    ([0.0, 0.5, 2.0], [2.0, 0.0, 1.5]),
    ([0.0, 0.0, 3.0], [0.0, -1.0, 0.0]),
]


@pytest.mark.parametrize(("base", "exponent"), CASES)
def test_power_rule_at_base_zero_matches_pytorch(base, exponent):
    b, e = Value(base), Value(exponent)
    out = b**e
    (out if b.is_scalar else out.sum()).backward()
    tb, te = _torch_grads(base, exponent, lambda x, y: x**y)
    np.testing.assert_allclose(b.grad, tb, rtol=1e-12, atol=0)
    np.testing.assert_allclose(e.grad, te, rtol=1e-12, atol=0)


@pytest.mark.parametrize("p", [0, 0.0, 2, 0.5])
def test_constant_exponent_at_base_zero_matches_pytorch(p):
    z = Value(np.array([0.0, 1.5]))
    (z**p).sum().backward()
    tz = torch.tensor([0.0, 1.5], dtype=torch.float64, requires_grad=True)
    (tz**p).sum().backward()
    np.testing.assert_allclose(z.grad, tz.grad.numpy(), rtol=1e-12)


def test_relu_to_a_value_power_does_not_poison_the_exponent():
    x, p = Value(np.array([-1.0, 0.5])), Value(1.5)
    (x.relu() ** p).sum().backward()
    tx = torch.tensor([-1.0, 0.5], dtype=torch.float64, requires_grad=True)
    tp = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (tx.relu() ** tp).sum().backward()
    assert p.grad == pytest.approx(tp.grad.item(), rel=1e-12)
    assert round(p.grad, 3) == -0.245
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("base", "exponent"), CASES)
def test_power_rule_at_base_zero_in_create_graph_backward(base, exponent):
    from tinygrad_act import gradients

    b, e = Value(base), Value(exponent)
    out = b**e
    db, de = gradients(out if b.is_scalar else out.sum(), [b, e], create_graph=True)
    tb, te = _torch_grads(base, exponent, lambda x, y: x**y)
    np.testing.assert_allclose(db.data, tb, rtol=1e-12, atol=0)
    np.testing.assert_allclose(de.data, te, rtol=1e-12, atol=0)


def test_float32_power_gradients_stay_float32():
    b = Value(np.array([0.0, 2.0], dtype=np.float32))
    e = Value(np.array([2.0, 0.0], dtype=np.float32))
    (b**e).sum().backward()
    assert b.grad.dtype == np.float32 and e.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])
    np.testing.assert_allclose(e.grad, [0.0, np.log(2.0)], rtol=1e-6)


# ---- 3. concurrent backward on graphs that share nodes ----------------------------------------------


def test_concurrent_backward_passes_on_shared_nodes_lose_nothing():
    w = Value(0.3)
    (w * 1.5 + w * 2.0).tanh().backward()
    single = w.grad
    w.grad = None
    errors = []

    def work():
        try:
            for _ in range(2000):
                (w * 1.5 + w * 2.0).tanh().backward()
        except Exception as err:  # noqa: BLE001  (any error fails the test below)
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert w.grad == pytest.approx(8000 * single, rel=1e-12)


# ---- 4. a pass that fails part-way leaves every .grad as it was -------------------------------------


@pytest.mark.parametrize("error", [RuntimeError("broken rule"), KeyboardInterrupt(), MemoryError()])
def test_a_failed_pass_leaves_every_grad_as_it_was(error):
    calls = {"n": 0}

    def flaky(z, a):
        calls["n"] += 1
        if calls["n"] == 3:  # the first node of the second pass
            raise error
        return 2 * z

    register_activation("flaky_sq", lambda z: z * z, flaky)
    try:
        x = Value(np.array([1.0, 2.0]))
        y = Value(3.0)
        out = (x.flaky_sq() * y).sum() + (x * 0.5).flaky_sq().sum()
        out.backward()  # the first pass succeeds
        before = [np.array(v.grad, copy=True) for v in (x, y)] + [out.grad]
        with pytest.raises(type(error)):
            out.backward()
        after = [np.array(v.grad, copy=True) for v in (x, y)] + [out.grad]
        for b, a in zip(before, after, strict=True):
            np.testing.assert_array_equal(a, b)
        out.backward()  # a third full pass counts exactly once more
        np.testing.assert_allclose(x.grad, 2 * before[0])
    finally:
        unregister_activation("flaky_sq")


# ---- 5. backward uses the inputs as they were at forward time ---------------------------------------


def test_an_index_array_changed_after_the_forward_pass_changes_nothing():
    x = Value(np.arange(4.0))
    idx = np.array([0, 1])
    y = x[idx]
    idx[:] = [3, 3]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0, 0.0])


def test_a_list_index_changed_after_the_forward_pass_changes_nothing():
    x = Value(np.arange(4.0))
    idx = [0, 2]
    y = x[idx]
    idx[0] = 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0, 0.0])


# ---- 15. a Value as an index is refused ---------------------------------------------------------------


def test_a_value_used_as_an_index_is_refused_clearly():
    x = Value(np.arange(3.0))
    with pytest.raises(TypeError, match="cannot index"):
        x[Value(np.array([0.7, 1.9]))]
    with pytest.raises(TypeError, match="cannot index"):
        x[Value(1.0), ...]


def test_cross_entropy_labels_changed_after_the_forward_pass_change_nothing():
    from tinygrad_act import nn

    logits = Value(np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]))
    labels = np.array([0, 1])
    loss = nn.cross_entropy(logits, labels)
    labels[:] = 2
    loss.backward()
    t = torch.tensor(logits.data, requires_grad=True)
    torch.nn.functional.cross_entropy(t, torch.tensor([0, 1])).backward()
    np.testing.assert_allclose(logits.grad, t.grad.numpy(), rtol=1e-12)


# ---- issue 23, item 8: x**0 at x = 0 in every spelling, and the exponent's mixed partial ---------------

ZERO_EXPONENTS = {
    "x**0": lambda x: x**0,
    "x**0.0": lambda x: x**0.0,
    "x**Value(0)": lambda x: x ** Value(0),
    "x**Value(0.0)": lambda x: x ** Value(0.0),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("data", [0.0, [0.0, -0.0, 2.0]], ids=["scalar", "tensor"])
@pytest.mark.parametrize("spelling", ZERO_EXPONENTS)
def test_the_slope_of_x_to_the_power_zero_at_zero_is_pytorchs_zero(spelling, data, create_graph):
    x = Value(np.array(data) if isinstance(data, list) else data)
    out = ZERO_EXPONENTS[spelling](x)
    (out if x.is_scalar else out.sum()).backward(create_graph=create_graph)
    tx = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    (tx**0).sum().backward()
    grad = x.grad.data if create_graph else x.grad
    np.testing.assert_array_equal(grad, tx.grad.numpy())
    assert np.array_equal(grad, np.zeros_like(np.asarray(data)))


@pytest.mark.parametrize(("base", "exponent"), [(2.0, 0.0), (0.5, 0.0), (2.0, 1.5)])
def test_mixed_partials_of_x_to_the_y_are_equal_and_true(base, exponent):
    from tinygrad_act import gradients

    x, y = Value(base), Value(exponent)
    dx, dy = gradients(x**y, [x, y], create_graph=True)
    dxy = gradients(dx, [y])[0]  # ∂/∂y (y·x^(y-1))
    dyx = gradients(dy, [x])[0]  # ∂/∂x (x^y·log x)
    truth = base ** (exponent - 1) * (1 + exponent * np.log(base))
    assert dxy == pytest.approx(truth, rel=1e-12) and dyx == pytest.approx(truth, rel=1e-12)
