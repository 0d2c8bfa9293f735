"""The Value engine: construction, ops, broadcasting, backward semantics, bad input."""

import gc
import math
import threading
import tracemalloc
import weakref

import numpy as np
import pytest
from conftest import central_difference

from tinygrad_act import Value, grad_mode, no_grad
from tinygrad_act.activations import register_activation, unregister_activation
from tinygrad_act.engine import enable_grad, gradients, is_grad_enabled

# ---- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [2, 2.0, np.float64(2.0), np.float32(2.0), np.int64(2)])
def test_a_real_number_makes_a_scalar_with_python_float_data(number):
    v = Value(number)
    assert type(v.data) is float and v.data == 2.0
    assert type(v.grad) is float and v.grad == 0.0
    assert v.shape == () and v.ndim == 0 and v.size == 1 and v.is_scalar


def test_an_array_like_makes_a_tensor_float64_by_default():
    v = Value([[1, 2], [3, 4]])
    assert isinstance(v.data, np.ndarray) and v.data.dtype == np.float64
    assert v.shape == (2, 2) and v.ndim == 2 and v.size == 4 and v.dtype == np.float64
    assert isinstance(v.grad, np.ndarray) and v.grad.shape == (2, 2) and not v.grad.any()


def test_float32_stays_float32_and_its_grad_too():
    v = Value(np.ones(3, dtype=np.float32))
    (v * 2.0).sum().backward()
    assert v.data.dtype == np.float32 and v.grad.dtype == np.float32
    np.testing.assert_array_equal(v.grad, [2, 2, 2])


def test_integer_arrays_become_float64():
    assert Value(np.arange(3)).dtype == np.float64


def test_constructor_copies_the_callers_array():
    a = np.zeros(3)
    v = Value(a)
    v.data += 1
    assert not a.any()


@pytest.mark.parametrize(
    ("bad", "error", "words"),
    [
        (True, TypeError, "bool"),
        ("abc", TypeError, "str"),
        (None, TypeError, "NoneType"),
        (1 + 2j, TypeError, "complex"),
        ([[1, 2], [3]], ValueError, "ragged"),
        (np.array(["a", "b"]), TypeError, "dtype"),
        (np.array([1, None], dtype=object), TypeError, "dtype object"),
    ],
)
def test_bad_data_is_refused_naming_what_was_given_and_what_is_accepted(bad, error, words):
    with pytest.raises(error) as info:
        Value(bad)
    assert words in str(info.value) and "real number" in str(info.value)


def test_repr_is_useful():
    assert repr(Value(2.0, label="x")) == "Value(data=2, grad=0, label='x')"
    assert "shape=(2, 3)" in repr(Value(np.zeros((2, 3))))


# ---- the lecture's example and backward semantics -----------------------------------------------


def test_the_neuron_from_the_issue():
    x, w, b = Value(2.0), Value(-3.0), Value(6.8813735870195432)
    n = (x * w + b).tanh()
    n.backward()
    assert type(x.grad) is float
    assert x.grad == pytest.approx(-1.5) and w.grad == pytest.approx(1.0)
    assert b.grad == pytest.approx(1 - n.data**2)


def test_tensor_example_from_the_issue(rng):
    X = Value(rng.standard_normal((32, 4)))
    W = Value(rng.standard_normal((4, 8)))
    loss = (X @ W).sigmoid().mean()
    loss.backward()
    assert isinstance(W.grad, np.ndarray) and W.grad.shape == (4, 8)
    a = 1 / (1 + np.exp(-(X.data @ W.data)))
    np.testing.assert_allclose(W.grad, X.data.T @ (a * (1 - a) / a.size), rtol=1e-12)


def test_a_node_used_twice_receives_both_contributions():
    a = Value(3.0)
    b = a + a
    c = b * b  # 4a^2
    c.backward()
    assert a.grad == 24.0


def test_backward_twice_doubles_every_gradient_and_never_more():
    # micrograd gives 27 then 72 here, because it re-propagates the intermediates' old gradients.
    x = Value(3.0)
    y = x * x * x
    y.backward()
    assert x.grad == 27.0
    y.backward()
    assert x.grad == 54.0
    inner = y._prev[0]  # x*x
    assert inner.grad == 2 * 3.0


def test_intermediate_nodes_get_their_gradients():
    x = Value(2.0)
    h = x * 3.0
    y = h.tanh()
    y.backward()
    assert h.grad == pytest.approx(1 - math.tanh(6.0) ** 2)
    assert y.grad == 1.0


def test_zero_grad_clears_a_values_gradient():
    x = Value(np.ones(3))
    (x * 2).sum().backward()
    x.zero_grad()
    assert not x.grad.any()
    s = Value(1.0)
    (s * 2).backward()
    s.zero_grad()
    assert s.grad == 0.0


def test_a_100000_deep_chain_of_tanh_backpropagates_without_recursion():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y.tanh()
    y.backward()
    # Each step multiplies by 1 - a_k^2; check against the product computed directly.
    a, slope = 0.5, 1.0
    for _ in range(100_000):
        a = math.tanh(a)
        slope *= 1 - a * a
    assert x.grad == pytest.approx(slope, rel=1e-9)


def test_a_tensor_root_needs_an_explicit_grad():
    v = Value(np.ones((2, 3)))
    y = v * 2
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*explicit grad"):
        y.backward()
    y.backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(v.grad, 2 * np.arange(6.0).reshape(2, 3))


def test_a_wrong_shaped_explicit_grad_names_both_shapes():
    y = Value(np.ones((2, 3))) * 2
    with pytest.raises(ValueError, match=r"backward.*\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


def test_a_one_element_tensor_root_is_seeded_with_one():
    v = Value(np.array([2.0]))
    (v * v).backward()
    np.testing.assert_array_equal(v.grad, [4.0])


def test_an_explicit_grad_is_fitted_to_the_root_and_never_shared():
    # float64 seed for a float32 root: the root's gradient keeps the root's dtype, as in torch
    v = Value(np.ones(3, dtype=np.float32))
    v.backward(np.array([1.0, 2.0, 3.0]))
    assert v.grad.dtype == np.float32
    np.testing.assert_array_equal(v.grad, [1.0, 2.0, 3.0])
    # a seed given as a Value is copied: accumulating into the leaf leaves the seed alone
    seed = Value([1.0, 1.0, 1.0])
    w = Value(np.zeros(3))
    w.backward(seed)
    w.backward(seed)
    np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(seed.data, [1.0, 1.0, 1.0])
    # a 0-d seed for a scalar root: the gradients stay Python floats
    x = Value(3.0)
    (x * x).backward(np.float64(2.0))
    assert type(x.grad) is float and x.grad == 12.0


def test_full_reductions_are_0d_tensor_values():
    v = Value(np.arange(6.0).reshape(2, 3))
    for r in (v.sum(), v.mean(), v.max()):
        assert isinstance(r.data, np.ndarray) and r.shape == () and not r.is_scalar
    assert v.sum().item() == 15.0 and type(v.sum().item()) is float


def test_gradients_returns_without_touching_grad():
    x = Value(np.array([1.0, 2.0]))
    y = (x * x).sum()
    (g,) = gradients(y, [x])
    np.testing.assert_array_equal(g, [2.0, 4.0])
    assert not x.grad.any()


# ---- ops against central differences -------------------------------------------------------------

UNARY = {
    "exp": (lambda v: v.exp(), np.exp),
    "log": (lambda v: v.log(), np.log),
    "square": (lambda v: v**2, np.square),
    "pow_half": (lambda v: v**0.5, np.sqrt),
    "neg": (lambda v: -v, np.negative),
    "reciprocal": (lambda v: 1 / v, np.reciprocal),
    "rpow": (lambda v: 2.0**v, lambda x: 2.0**x),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_match_central_differences_scalar_and_tensor(name, rng):
    op, ref = UNARY[name]
    x = rng.uniform(0.5, 2.0, size=(3, 2))
    v = Value(x)
    upstream = rng.standard_normal((3, 2))  # non-uniform, so a wrong chain rule cannot hide
    op(v).backward(upstream)
    np.testing.assert_allclose(op(v).data, ref(x), rtol=1e-12)
    expected = central_difference(lambda t: ref(t) * upstream, x)
    np.testing.assert_allclose(v.grad, expected, rtol=1e-6, atol=1e-8)
    s = Value(float(x[0, 0]))
    op(s).backward()
    assert s.grad == pytest.approx(central_difference(lambda t: float(ref(t)), float(x[0, 0])))


BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (3,))],
)
def test_binary_ops_broadcast_and_reduce_gradients_to_each_operand(op, shape_a, shape_b, rng):
    f = BINARY[op]
    a, b = rng.uniform(0.5, 2.0, shape_a), rng.uniform(0.5, 2.0, shape_b)
    va, vb = Value(a), Value(b)
    out = f(va, vb)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    assert va.grad.shape == shape_a and vb.grad.shape == shape_b
    ga = central_difference(lambda t: f(t, b) * upstream, a)
    gb = central_difference(lambda t: f(a, t) * upstream, b)
    np.testing.assert_allclose(va.grad, ga, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(vb.grad, gb, rtol=1e-6, atol=1e-8)


def test_scalars_mix_with_tensors_and_get_float_gradients(rng):
    s = Value(1.5)
    t = Value(rng.standard_normal(4))
    (s * t + s).sum().backward()
    assert type(s.grad) is float
    assert s.grad == pytest.approx(t.data.sum() + 4)
    np.testing.assert_allclose(t.grad, np.full(4, 1.5))


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3,), (3,)), ((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)),
     ((5, 2, 3), (5, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)), ((1, 2, 3), (4, 3, 2))],
)  # fmt: skip
def test_matmul_gradients_for_1d_2d_and_batched(shape_a, shape_b, rng):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    va, vb = Value(a), Value(b)
    out = va @ vb
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(
        va.grad, central_difference(lambda t: (t @ b) * upstream, a), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        vb.grad, central_difference(lambda t: (a @ t) * upstream, b), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reductions(reduction, axis, keepdims, rng):
    x = rng.standard_normal((2, 3, 4))
    v = Value(x)
    out = getattr(v, reduction)(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, getattr(x, reduction)(axis=axis, keepdims=keepdims))
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected = central_difference(
        lambda t: getattr(t, reduction)(axis=axis, keepdims=keepdims) * upstream, x
    )
    np.testing.assert_allclose(v.grad, expected, rtol=1e-6, atol=1e-8)


def test_max_splits_the_gradient_evenly_among_ties():
    v = Value(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    v.max(axis=1).backward(np.array([1.0, 6.0]))
    np.testing.assert_allclose(v.grad, [[0, 0.5, 0.5], [2, 2, 2]])
    w = Value(np.array([5.0, 5.0, 1.0, 5.0]))
    w.max().backward()
    np.testing.assert_allclose(w.grad, [1 / 3, 1 / 3, 0, 1 / 3])


def test_reshape_transpose_and_T(rng):
    x = rng.standard_normal((2, 3, 4))
    v = Value(x)
    out = v.reshape(4, 6).T.reshape((3, 2, 4)).transpose(2, 0, 1)
    expected_fn = lambda t: t.reshape(4, 6).T.reshape(3, 2, 4).transpose(2, 0, 1)  # noqa: E731
    np.testing.assert_array_equal(out.data, expected_fn(x))
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(v.grad, central_difference(lambda t: expected_fn(t) * upstream, x))


@pytest.mark.parametrize(
    "index",
    [1, slice(1, 3), (slice(None), 2), (Ellipsis, 0), np.array([0, 2, 2, 0]), [1, 1, 1],
     (np.array([0, 1, 1]), np.array([2, 2, 2])), np.array([True, False, True])],
)  # fmt: skip
def test_indexing_scatters_gradients_back_accumulating_repeats(index, rng):
    x = rng.standard_normal((3, 4))
    v = Value(x)
    out = v[index]
    np.testing.assert_array_equal(out.data, x[index])
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(v.grad, central_difference(lambda t: t[index] * upstream, x))


# ---- numerics: overflow, zero, nan -----------------------------------------------------------------


@pytest.mark.parametrize("z", [1000.0, -1000.0, 1e308, -1e308])
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturated_sigmoid_and_tanh_give_exact_limits_and_zero_slope(name, z):
    limit = {"sigmoid": (1.0, 0.0), "tanh": (1.0, -1.0)}[name][0 if z > 0 else 1]
    s = Value(z)
    a = getattr(s, name)()
    a.backward()
    assert a.data == limit and s.grad == 0.0
    t = Value(np.array([z, z]))
    b = getattr(t, name)()
    b.sum().backward()
    np.testing.assert_array_equal(b.data, [limit, limit])
    np.testing.assert_array_equal(t.grad, [0.0, 0.0])


def test_overflow_and_zero_give_ieee_results_never_python_exceptions():
    assert (Value(9.0) ** 400).data == math.inf
    assert (Value(0.0) ** -1).data == math.inf
    assert (Value(1.0) / 0.0).data == math.inf
    assert math.isnan((Value(0.0) / 0.0).data)
    assert (Value(1000.0).exp()).data == math.inf
    assert (Value(0.0).log()).data == -math.inf
    assert math.isnan(Value(-1.0).log().data)
    assert math.isnan((Value(-8.0) ** (1 / 3)).data)
    t = Value(np.array([0.0, 1000.0]))
    np.testing.assert_array_equal(t.exp().data, [1.0, math.inf])
    np.testing.assert_array_equal(t.log().data, [-math.inf, math.log(1000.0)])
    np.testing.assert_array_equal((Value(np.array([1.0, -1.0])) / 0.0).data, [math.inf, -math.inf])


def test_backward_through_a_division_by_zero_gives_ieee_gradients():
    x, y = Value(1.0), Value(0.0)
    (x / y).backward()
    assert x.grad == math.inf and y.grad == -math.inf
    z = Value(0.0)
    (z**-1).backward()
    assert z.grad == -math.inf


def test_nan_propagates():
    x = Value(math.nan)
    y = (x * 2).sigmoid()
    y.backward()
    assert math.isnan(y.data) and math.isnan(x.grad)


# ---- numpy interop --------------------------------------------------------------------------------


def test_numpy_operands_on_the_left_give_values_not_object_arrays():
    v = Value(np.array([1.0, 2.0, 3.0]))
    for out in (
        np.float64(2.0) * v,
        np.ones(3) + v,
        np.ones(3) - v,
        np.ones(3) / v,
        np.ones(3) @ v,
    ):
        assert isinstance(out, Value)
    s = Value(2.0)
    assert isinstance(np.float64(2.0) * s, Value) and (np.float64(2.0) * s).data == 4.0


def test_reflected_ops_with_numbers():
    x = Value(2.0)
    assert (3 + x).data == 5 and (3 - x).data == 1 and (3 * x).data == 6 and (3 / x).data == 1.5
    assert (2**x).data == 4 and (-x).data == -2
    assert sum([x, x, x]).data == 6  # starts from 0 + x


# ---- bad input to ops -----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "@"])
def test_shape_mismatch_names_the_op_and_both_shapes_and_leaves_operands_untouched(op):
    a, b = Value(np.ones((2, 3))), Value(np.ones((4, 5)))
    prev_a, prev_b = a._prev, b._prev
    f = {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__, "@": a.__matmul__}[op]
    with pytest.raises(ValueError) as info:
        f(b)
    message = str(info.value)
    assert message.startswith(op) and "(2, 3)" in message and "(4, 5)" in message
    assert a._prev is prev_a and b._prev is prev_b and not a.grad.any() and not b.grad.any()


def test_tensor_ops_on_a_scalar_say_they_need_a_tensor():
    with pytest.raises(TypeError, match="sum needs a tensor"):
        Value(1.0).sum()
    with pytest.raises(TypeError, match="softmax needs a tensor"):
        Value(1.0).softmax()


def test_pow_takes_a_number_or_value_exponent():
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** "3"


# ---- no_grad, detach, threads ----------------------------------------------------------------------


def test_no_grad_records_no_graph_and_is_thread_local():
    x = Value(2.0)
    seen = {}

    def other_thread():
        seen["y"] = x * 3  # recorded: no_grad in the main thread does not reach here

    with no_grad():
        y = x * 3
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert y._prev == () and y._rule is None
    assert seen["y"]._prev == (x, seen["y"]._prev[1])
    assert (x * 3)._prev[0] is x


def test_no_grad_in_another_thread_leaves_this_thread_recording():
    # The other thread sits inside no_grad while this one builds a graph, and the other way round.
    x = Value(2.0)
    inside, release, seen = threading.Event(), threading.Event(), {}

    def other_thread():
        with no_grad():
            inside.set()
            release.wait(timeout=10)
            seen["y"] = x * 3

    t = threading.Thread(target=other_thread)
    t.start()
    assert inside.wait(timeout=10)
    recorded = x * 3  # this thread still records
    with no_grad():
        not_recorded = x * 3
    release.set()
    t.join()
    assert recorded._prev[0] is x and not_recorded._prev == ()
    assert seen["y"]._prev == ()
    assert grad_mode._threads_not_recording == 0  # every block has been left


def test_grad_mode_is_restored_after_nested_blocks_and_failed_passes():
    x = Value(2.0)
    with no_grad():
        with enable_grad():
            with no_grad():
                assert not is_grad_enabled()
            assert is_grad_enabled()
        assert not is_grad_enabled()

    def broken(z, a):
        raise RuntimeError("broken derivative")

    register_activation("broken_slope", lambda z: z, broken)
    try:
        with pytest.raises(RuntimeError, match="broken derivative"):
            x.broken_slope().backward()  # fails inside the pass, which had turned recording off
    finally:
        unregister_activation("broken_slope")
    assert is_grad_enabled() and grad_mode._threads_not_recording == 0
    assert (x * x)._prev[0] is x


def test_detach_cuts_the_graph_and_shares_data():
    x = Value(np.ones(2))
    d = (x * 2).detach()
    assert d._prev == () and d._rule is None
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


# ---- memory: graphs are freed by reference counting alone ------------------------------------------


def _mlp_graph(rng_state):
    w1 = [[Value(rng_state.uniform(-1, 1)) for _ in range(2)] for _ in range(8)]
    w2 = [Value(rng_state.uniform(-1, 1)) for _ in range(8)]
    x = [Value(0.5), Value(-1.5)]
    hidden = [
        sum((wi * xi for wi, xi in zip(row, x, strict=False)), Value(0.0)).tanh() for row in w1
    ]
    out = sum((w * h for w, h in zip(w2, hidden, strict=False)), Value(0.0)).sigmoid()
    out.backward()


def test_graphs_have_no_reference_cycles_memory_stays_flat_with_gc_disabled():
    import random

    state = random.Random(0)
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        for _ in range(50):
            _mlp_graph(state)
        warm = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            _mlp_graph(state)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        gc.enable()
    assert after - warm < 64 * 1024, f"memory grew by {after - warm} bytes over 1,000 graphs"


def test_a_dropped_output_is_freed_at_once():
    x = Value(np.ones(3))
    y = (x * 2).tanh().sum()
    y.backward()
    ref = weakref.ref(y)
    gc.disable()
    try:
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_a_backward_pass_that_fails_midway_leaves_the_graph_clean_for_the_next_one():
    from tinygrad_act import register_activation, unregister_activation

    calls = {"n": 0}

    def flaky_derivative(z, a):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("interrupted")
        return 2 * z

    register_activation("flaky_square", lambda z: z * z, flaky_derivative)
    try:
        x = Value(3.0)
        y = (x * 2.0).flaky_square() + x
        with pytest.raises(RuntimeError, match="interrupted"):
            y.backward()
        x.zero_grad()
        y.backward()
        assert x.grad == 2 * 6.0 * 2 + 1  # d/dx [(2x)^2 + x] at 3
    finally:
        unregister_activation("flaky_square")


# ---- requires_grad: data gets no gradient ----------------------------------------------------------


def test_arrays_mixed_into_an_expression_are_data_and_get_no_gradient(rng):
    W = Value(rng.standard_normal((4, 3)))
    X = rng.standard_normal((5, 4))
    out = (X @ W).tanh().sum()
    out.backward()
    const = out._prev[0]._prev[0]._prev[0]  # the lifted X
    assert not const.requires_grad and not const.grad.any()
    a = np.tanh(X @ W.data)
    np.testing.assert_allclose(W.grad, X.T @ (1 - a**2))


def test_numbers_mixed_in_are_constants_too():
    x = Value(3.0)
    y = x * 2.0
    y.backward()
    assert not y._prev[1].requires_grad and y._prev[1].grad == 0.0 and x.grad == 2.0


def test_requires_grad_false_skips_the_input_gradient_of_matmul(rng):
    X = Value(rng.standard_normal((5, 4)), requires_grad=False)
    W = Value(rng.standard_normal((4, 3)))
    (X @ W).sum().backward()
    assert not X.grad.any()
    np.testing.assert_allclose(W.grad, X.data.T @ np.ones((5, 3)))


def test_ops_on_values_that_need_no_gradient_record_no_graph():
    a = Value(np.ones(3), requires_grad=False)
    b = (a * 2).exp()
    assert b._prev == () and not b.requires_grad
    with pytest.raises(ValueError, match="needs no gradient"):
        b.sum().backward()


def test_no_grad_and_detach_give_values_that_need_no_gradient():
    x = Value(2.0)
    with no_grad():
        y = x * 3
    assert not y.requires_grad and not x.detach().requires_grad


# ---- gradient arrays: leaves own theirs --------------------------------------------------------


def test_leaf_gradients_never_share_memory_with_other_gradients(rng):
    a, b = Value(rng.standard_normal(3)), Value(rng.standard_normal(3))
    s = a + b  # the rule of + hands the same upstream array to both inputs
    r = s.reshape(3, 1).transpose().reshape(3)  # views of views
    total = r * 1.0
    total.backward(np.array([1.0, 2.0, 3.0]))
    arrays = [a.grad, b.grad, s.grad, r.grad, total.grad]
    for leaf in (a.grad, b.grad):
        assert sum(np.shares_memory(leaf, other) for other in arrays) == 1  # only itself
    a.grad[0] = 100.0  # an optimizer may change a leaf's gradient in place
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])
    total.backward(np.array([1.0, 2.0, 3.0]))  # the second pass adds exactly once more
    np.testing.assert_array_equal(a.grad, [101.0, 4.0, 6.0])
    np.testing.assert_array_equal(b.grad, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(s.grad, [2.0, 4.0, 6.0])


def test_a_leaf_used_directly_as_the_root_gets_its_own_gradient():
    seed = np.array([1.0, 2.0])
    v = Value(np.zeros(2))
    v.backward(seed)
    seed[0] = 50.0
    np.testing.assert_array_equal(v.grad, [1.0, 2.0])


def test_relu_gradient_of_float32_stays_float32_and_takes_slope_one_at_zero():
    z = Value(np.array([-1.0, 0.0, 2.0], dtype=np.float32))
    out = z.relu()
    out.backward(np.ones(3, dtype=np.float32))
    assert z.grad.dtype == np.float32
    np.testing.assert_array_equal(z.grad, [0.0, 1.0, 1.0])
