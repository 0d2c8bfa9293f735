"""`Value.register_hook`: torch.Tensor.register_hook's semantics, with PyTorch as the oracle."""

import numpy as np
import pytest

from tinygrad_act import Value, gradients

torch = pytest.importorskip("torch")


def _both(make_hooks):
    """Run the same graph and hooks in tinygrad_act and torch; return both sets of gradients."""
    results = []
    for lib in ("ours", "torch"):
        if lib == "ours":
            x = Value(np.array([0.5, -1.0, 2.0]))
            w = Value(np.array([1.5, 0.25, -0.5]))
        else:
            x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
            w = torch.tensor([1.5, 0.25, -0.5], dtype=torch.float64, requires_grad=True)
        h = x * w
        a = h.tanh()
        calls = []
        make_hooks(x, h, a, calls, lib)
        ((a + 1) ** 2).sum().backward()  # a non-uniform upstream gradient
        grads = [np.asarray(t.grad.detach().numpy() if lib == "torch" else t.grad) for t in (x, w)]
        results.append((grads, calls))
    return results


def _arr(g):
    return np.array(g.detach().numpy() if hasattr(g, "detach") else g, copy=True)


def test_hook_on_an_intermediate_sees_its_complete_gradient_and_can_replace_it():
    def hooks(x, h, a, calls, lib):
        h.register_hook(lambda g: calls.append(("h", _arr(g))) or g * 3)

    (ours, our_calls), (theirs, their_calls) = _both(hooks)
    np.testing.assert_allclose(our_calls[0][1], their_calls[0][1], rtol=1e-12)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)


def test_several_hooks_run_in_registration_order_each_given_the_previous_result():
    def hooks(x, h, a, calls, lib):
        a.register_hook(lambda g: calls.append(("first", _arr(g))) or g + 1)
        a.register_hook(lambda g: calls.append(("second", _arr(g))) or None)
        a.register_hook(lambda g: calls.append(("third", _arr(g))) or g * 0.5)

    (ours, our_calls), (theirs, their_calls) = _both(hooks)
    assert [c[0] for c in our_calls] == [c[0] for c in their_calls] == ["first", "second", "third"]
    for (_, o), (_, t) in zip(our_calls, their_calls, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)


def test_a_hook_on_a_leaf_replaces_what_is_accumulated():
    def hooks(x, h, a, calls, lib):
        x.register_hook(lambda g: g * -2)

    (ours, _), (theirs, _) = _both(hooks)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)


def test_a_removed_hook_no_longer_runs():
    def hooks(x, h, a, calls, lib):
        handle = h.register_hook(lambda g: calls.append("removed") or g * 100)
        handle.remove()
        handle.remove()  # twice is harmless, as in torch

    (ours, our_calls), (theirs, their_calls) = _both(hooks)
    assert our_calls == their_calls == []
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)


def test_hooks_run_in_create_graph_passes_with_a_value():
    x = Value(0.3)
    sq = x * x
    seen = []
    sq.register_hook(lambda g: seen.append(type(g).__name__) or g * 2)
    (dx,) = gradients(sq.tanh(), [x], create_graph=True)
    assert seen == ["Value"]
    tx = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    tsq = tx * tx
    tsq.register_hook(lambda g: g * 2)
    (tdx,) = torch.autograd.grad(tsq.tanh(), [tx], create_graph=True)
    assert dx.data == pytest.approx(tdx.item(), rel=1e-12)
    (d2,) = gradients(dx, [x])  # the hook's doubling is part of the recorded gradient
    (td2,) = torch.autograd.grad(tdx, [tx])
    assert d2 == pytest.approx(td2.item(), rel=1e-12)


def test_hook_results_of_the_wrong_shape_or_type_are_clear_errors():
    x = Value(np.ones(3))
    y = x * 2
    y.register_hook(lambda g: np.ones(4))
    with pytest.raises(ValueError, match=r"shape \(4,\) for a Value of shape \(3,\)"):
        y.sum().backward()
    assert np.array_equal(x.grad, np.zeros(3))  # the failed pass left the gradients as they were
    with pytest.raises(TypeError, match="function"):
        x.register_hook(3)
    with pytest.raises(ValueError, match="needs no gradient"):
        Value(1.0, requires_grad=False).register_hook(print)


def test_a_hook_dies_with_its_node():
    import gc
    import weakref

    from tinygrad_act import backprop

    x = Value(2.0)
    y = x * 3
    y.register_hook(lambda g: g)
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None and len(backprop._HOOKS) == 0


# ---- issue 23, item 8: a gradient changed in place ---------------------------------------------------


def _doubles_in_place(g):
    g *= 2


def _sets_an_entry(g):
    g[0] = 5.0


@pytest.mark.parametrize("hook", [_doubles_in_place, _sets_an_entry])
def test_a_hook_that_changes_its_gradient_in_place_is_told_to_return_it(hook):
    x = Value(np.array([1.0, 2.0]))
    w = Value(np.array([3.0, -1.0]))
    s = x + w  # add hands x and w one shared array: changed in place, w's gradient would change too
    x.register_hook(hook)
    with pytest.raises(ValueError, match="a hook changed its gradient in place; return the new"):
        (s * s).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])  # the failed pass left nothing behind
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])


def test_a_hook_that_returns_its_change_gets_torchs_gradients():
    def ours(x, h, a, calls, lib):
        h.register_hook(lambda g: g * 2 if lib == "ours" else None)
        if lib == "torch":  # torch's in-place change, which ours asks to be a return
            h.register_hook(lambda g: g.mul_(2))

    (ours_grads, _), (torch_grads, _) = _both(ours)
    for mine, theirs in zip(ours_grads, torch_grads, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
