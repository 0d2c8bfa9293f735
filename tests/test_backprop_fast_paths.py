"""The backward pass's fast paths (issue 18) give the gradients the slow ones gave: shares passed to
x then y without zip, a tensor's first gradient stored as soon as it is complete (and undone if the
pass fails), loops written so CPython specializes them, parameters bound by position."""

import numpy as np
import pytest

from tinygrad_act import Value, gradients, register_activation, unregister_activation
from tinygrad_act.activations import cases

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_node_kind_matches_torch_plain_and_with_create_graph(dtype):
    rng = np.random.default_rng(18)
    x, b = rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=3).astype(dtype)

    def ours(v, w):  # one input, two, the same input twice, a constant, a broadcast bias,
        # the lecture's four activations, a parameter by position (slope, axis)
        h = (v * v + w).tanh() * (v @ np.ones((3, 3), dtype=dtype)).sigmoid()
        h = h.relu() + (h - 0.5).leaky_relu(slope=0.2) + h.leaky_relu()
        return (h.softmax(axis=0) * h).sum()

    def theirs(v, w):
        F = torch.nn.functional
        h = torch.tanh(v * v + w) * torch.sigmoid(v @ torch.ones((3, 3), dtype=v.dtype))
        h = torch.relu(h) + F.leaky_relu(h - 0.5, 0.2) + F.leaky_relu(h, 0.01)
        return (torch.softmax(h, dim=0) * h).sum()

    v, w = Value(x), Value(b)
    ours(v, w).backward()
    tv = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(b, requires_grad=True)
    theirs(tv, tw).backward()
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype is np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    assert v.grad.dtype == dtype and w.grad.dtype == dtype
    np.testing.assert_allclose(v.grad, tv.grad.numpy(), **tol)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), **tol)
    # create_graph: the recorded gradients are the plain ones, and differentiate again like torch's
    v2, w2 = Value(x), Value(b)
    gv, gw = gradients(ours(v2, w2), [v2, w2], create_graph=True)
    np.testing.assert_allclose(gv.data, v.grad, **tol)
    (ggv,) = gradients((gv * gv).sum() + gw.sum(), [v2])
    tv2 = torch.tensor(x, requires_grad=True)
    tw2 = torch.tensor(b, requires_grad=True)
    tgv, tgw = torch.autograd.grad(theirs(tv2, tw2), [tv2, tw2], create_graph=True)
    (tggv,) = torch.autograd.grad((tgv * tgv).sum() + tgw.sum(), [tv2])
    np.testing.assert_allclose(ggv, tggv.numpy(), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_same_input_twice_gets_both_shares_scalar_and_tensor(dtype):
    s = Value(3.0)
    (s * s).backward()
    assert s.grad == 6.0
    t = Value(np.array([1.0, -2.0], dtype=dtype))
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad, np.array([2.0, -4.0], dtype=dtype))
    (gt,) = gradients((t * t).sum(), [t], create_graph=True)
    (ggt,) = gradients(gt.sum(), [t])
    np.testing.assert_array_equal(ggt, [2.0, 2.0])


def test_a_pass_that_fails_midway_leaves_every_grad_as_it_was():
    x = Value(np.array([0.5, -1.0]))
    w = Value(np.array([2.0, 3.0]))
    h = (x * w).tanh()
    y = (h * h).sum()
    y.backward()  # a first pass: every node has a gradient now
    before = {id(n): n.grad.copy() for n in (x, w, h, y)}
    fresh_h = (x * w).tanh()  # a new intermediate: no gradient yet (None inside)
    z = (fresh_h + h).sum()

    def boom(g):
        raise RuntimeError("hook failed")

    x.register_hook(boom)  # x is reached last: the nodes above it already have their gradients
    with pytest.raises(RuntimeError, match="hook failed"):
        z.backward()
    for n in (x, w, h, y):
        np.testing.assert_array_equal(n.grad, before[id(n)])
    assert fresh_h._grad is None and z._grad is None  # reset to no gradient at all
    np.testing.assert_array_equal(fresh_h.grad, [0.0, 0.0])
    assert all(n._g is None and n._uses == 0 for n in (x, w, h, fresh_h, z))


def test_a_long_chain_in_one_pass_gives_the_product_of_the_slopes():
    # One pass over 20,000 nodes: the loop must work (and be specialized) within a single call.
    x = Value(np.array([0.3, -0.2]))
    y = x
    for _ in range(20_000):
        y = y.tanh()
    y.sum().backward()
    a, slope = np.array([0.3, -0.2]), np.ones(2)
    for _ in range(20_000):
        a = np.tanh(a)
        slope *= 1.0 - a * a
    np.testing.assert_allclose(x.grad, slope, rtol=1e-9)


def test_a_parameter_goes_by_position_only_when_the_derivative_takes_it_so():
    def by_position(z, a, k):
        return k * cases(z, 0.0, 1.0)

    def by_keyword(z, a, *, k):
        return k * cases(z, 0.0, 1.0)

    try:
        for name, derivative in (("scaled_step_p", by_position), ("scaled_step_k", by_keyword)):

            def forward(z, k=2.0):
                return k * np.maximum(z, 0) if not isinstance(z, float) else k * max(z, 0.0)

            register_activation(name, forward, derivative)
            for k in (2.0, 3.0):  # the default (the row's rule) and another (a rule per call)
                v = Value(np.array([-1.0, 4.0]))
                v.activate(name, k=k).sum().backward()
                np.testing.assert_array_equal(v.grad, [0.0, k])
    finally:
        for name in ("scaled_step_p", "scaled_step_k"):
            unregister_activation(name)
