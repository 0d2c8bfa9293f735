"""gradcheck, numerical_grad and gradgradcheck: semantics, the failure report, kinks, bad input."""

import math
import warnings

import numpy as np
import pytest

from tinygrad_act import Value, no_grad, register_activation, sigmoid, unregister_activation
from tinygrad_act.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad

# ---- numerical_grad ---------------------------------------------------------------------------------


def test_numerical_grad_of_a_scalar_function_is_a_float_per_scalar_input():
    x, y = Value(2.0), Value(-3.0)
    gx, gy = numerical_grad(lambda x, y: x * y + x**2, [x, y])
    assert isinstance(gx, float) and isinstance(gy, float)
    assert gx == pytest.approx(2 * 2.0 + -3.0, abs=1e-8)  # d/dx (xy + x²) = y + 2x
    assert gy == pytest.approx(2.0, abs=1e-8)


def test_numerical_grad_of_a_single_element_output_is_shaped_like_the_input(rng):
    x = Value(rng.normal(size=(2, 3)))
    (g,) = numerical_grad(lambda x: (x * x).sum(), x)
    assert g.shape == (2, 3) and g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * x.data, atol=1e-8)
    (g1,) = numerical_grad(lambda x: (x * x).sum(axis=(0, 1), keepdims=True), x)  # shape (1, 1)
    assert g1.shape == (2, 3)


def test_numerical_grad_of_a_tensor_output_is_the_jacobian_shaped_out_plus_in(rng):
    x = Value(rng.normal(size=3))
    (jac,) = numerical_grad(lambda x: x.tanh(), x)
    assert jac.shape == (3, 3)
    np.testing.assert_allclose(jac, np.diag(1 - np.tanh(x.data) ** 2), atol=1e-9)
    s = Value(0.7)
    (js,) = numerical_grad(lambda s: s * Value(np.arange(4.0)), s)  # scalar in, vector out
    np.testing.assert_allclose(js, np.arange(4.0), atol=1e-8)


def test_numerical_grad_accepts_a_function_returning_plain_numbers():
    x = Value(3.0)
    assert numerical_grad(lambda x: x.data**3, x)[0] == pytest.approx(27.0, rel=1e-8)


def test_numerical_grad_matches_torch_jacobian_on_a_composite(rng):
    torch = pytest.importorskip("torch")
    a_data, b_data = rng.normal(size=(2, 3)), rng.normal(size=3)

    def ours(a, b):
        return ((a * b).sigmoid() + a.exp()).sum(axis=0)

    def theirs(a, b):
        return (torch.sigmoid(a * b) + torch.exp(a)).sum(dim=0)

    ja, jb = numerical_grad(ours, [Value(a_data), Value(b_data)])
    ta, tb = torch.autograd.functional.jacobian(
        theirs, (torch.tensor(a_data), torch.tensor(b_data))
    )
    np.testing.assert_allclose(ja, ta.numpy(), atol=1e-8)
    np.testing.assert_allclose(jb, tb.numpy(), atol=1e-8)


# ---- gradcheck: verdicts ----------------------------------------------------------------------------


def test_gradcheck_passes_a_correct_backward_and_returns_true(rng):
    x = Value(rng.normal(size=(3, 4)), label="x")
    w = Value(rng.normal(size=(4, 2)), label="w")
    assert gradcheck(lambda x, w: (x @ w).tanh(), [x, w]) is True


def test_gradcheck_checks_every_jacobian_entry_including_off_diagonal_ones():
    # A backward that gets the diagonal right but leaks into the wrong output must be caught:
    # reversing the vector makes the Jacobian anti-diagonal.
    x = Value([1.0, 2.0, 3.0], label="x")
    assert gradcheck(lambda x: x[np.array([2, 1, 0])] * 2, x)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x[np.array([2, 1, 0])] * 2 + Value(np.arange(3.0)) * x.data.sum(), x)
    err = info.value
    assert err.total == 9  # 3 outputs x 3 input elements, all compared
    # out[k] = 2·x[2-k] + k·sum(x): the hidden k·sum(x) puts k into every entry of row k.
    found = {(m.output, m.where) for m in err.mismatches}
    assert found == {(f"out[{k}]", f"x[{j}]") for k in (1, 2) for j in range(3)}


def test_gradcheck_failure_is_a_runtime_error_or_false_without_raising():
    x = Value(3.0, label="x")
    assert issubclass(GradcheckError, RuntimeError)
    assert gradcheck(lambda x: x.data * x, x, raise_exception=False) is False
    with pytest.raises(RuntimeError, match="gradcheck failed"):
        gradcheck(lambda x: x.data * x, x)


def test_gradcheck_tolerance_is_atol_plus_rtol_times_numeric():
    # backprop says 2, the truth is 2.005: |error| = 5e-3 against atol + rtol·2.005.
    def f(x):
        return x * 2 + Value(5e-3 * x.data)  # the second term is a constant to backprop

    x = Value(1.0)
    assert gradcheck(f, x, raise_exception=False) is False  # 1e-5 + 1e-3·2.005 ≈ 2e-3
    assert gradcheck(f, x, rtol=2e-3, atol=0.0, raise_exception=False) is False  # ≈ 4e-3
    assert gradcheck(f, x, rtol=3e-3, atol=0.0) is True  # ≈ 6e-3
    assert gradcheck(f, x, rtol=0.0, atol=4e-3, raise_exception=False) is False
    assert gradcheck(f, x, rtol=0.0, atol=6e-3) is True


def test_gradcheck_accepts_a_single_value_or_a_tuple():
    x = Value(0.3)
    assert gradcheck(lambda x: x.sigmoid(), x)
    assert gradcheck(lambda x, y: x * y, (x, Value(2.0)))


def test_gradcheck_runs_the_backward_pass_even_inside_no_grad():
    x = Value([0.5, -1.0])
    with no_grad():
        assert gradcheck(lambda x: (x * x).sum(), x)


def test_gradcheck_treats_an_input_the_output_ignores_as_zero_gradient():
    x, unused = Value(2.0), Value([1.0, 2.0])
    assert gradcheck(lambda x, u: x * x, [x, unused])


# ---- gradcheck: the inputs are left alone ------------------------------------------------------------


def _state(v):
    return (
        v.data if v.is_scalar else v.data.copy(),
        v.dtype,
        v.grad if v.is_scalar else np.array(v.grad),
        v.label,
    )


def _same(before, after):
    for b, a in zip(before, after, strict=True):
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        else:
            assert a == b


@pytest.mark.parametrize("correct", [True, False])
def test_inputs_keep_their_data_and_grad_whether_the_check_passes_or_fails(correct, rng):
    x = Value(rng.normal(size=(2, 3)), label="x")
    s = Value(0.25, label="s")
    x.grad = np.full((2, 3), 7.0)
    s.grad = -4.0
    before = [_state(x), _state(s)]

    def f(x, s):
        y = (x * s).tanh().sum()
        # Wrong at both orders: the factor hides a dependence on x from backprop.
        return y if correct else y * Value(x.data.sum())

    assert gradcheck(f, [x, s], raise_exception=False) is correct
    assert gradgradcheck(f, [x, s], raise_exception=False) is correct
    numerical_grad(f, [x, s])
    _same(before[0], _state(x))
    _same(before[1], _state(s))


def test_a_tensor_input_whose_grad_was_never_read_still_has_none():
    x = Value([1.0, 2.0])
    gradcheck(lambda x: (x * x).sum(), x)
    # The engine creates a tensor's grad lazily; gradcheck must not have created it.
    assert x._grad is None


def test_a_function_returning_an_input_itself_does_not_see_the_perturbation_leak():
    x = Value([1.0, 2.0], label="x")
    assert gradcheck(lambda x: x, x)
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


# ---- float32 ---------------------------------------------------------------------------------------


def test_float32_inputs_are_checked_in_float64_with_a_warning_and_stay_float32():
    x = Value(np.array([0.1, -0.7, 2.0], dtype=np.float32), label="x")
    with pytest.warns(UserWarning, match="float32 inputs \\(x\\) are checked in float64"):
        assert gradcheck(lambda x: x.sigmoid(), x)
    assert x.dtype == np.float32
    with pytest.warns(UserWarning, match="checked in float64"):
        (g,) = numerical_grad(lambda x: x.sigmoid().sum(), x)
    assert g.dtype == np.float64
    a = 1 / (1 + np.exp(-x.data.astype(np.float64)))
    np.testing.assert_allclose(g, a * (1 - a), atol=1e-9)  # float64 accuracy, not float32's


def test_the_float32_warning_is_given_once_per_call():
    x = Value(np.ones(4, dtype=np.float32))
    with pytest.warns(UserWarning) as record:
        gradcheck(lambda x: x.tanh(), x)
    assert len(record) == 1


# ---- the report ------------------------------------------------------------------------------------


def test_the_report_is_a_table_of_the_worst_entries_with_both_numbers_and_errors():
    x = Value([0.5, 1.0, 2.0, 4.0], label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: (x * x).sum() + Value((x.data**3).sum()), x)  # misses 3x²
    err = info.value
    lines = str(err).splitlines()
    assert lines[0].startswith("gradcheck failed: 4 of 4 Jacobian entries disagree")
    assert lines[1].split() == ["input", "index", "analytic", "numeric", "abs", "err", "rel", "err"]
    worst = lines[2].split()
    assert worst[:2] == ["x", "[3]"]  # the largest error comes first: 3·4² = 48
    assert float(worst[2]) == pytest.approx(8.0)
    assert float(worst[3]) == pytest.approx(8.0 + 48.0, rel=1e-6)
    assert float(worst[4]) == pytest.approx(48.0, rel=1e-3)
    assert float(worst[5]) == pytest.approx(48.0 / 56.0, rel=1e-2)
    assert [m.where for m in err.mismatches] == ["x[3]", "x[2]", "x[1]", "x[0]"]


def test_unlabelled_inputs_are_named_x0_x1_and_a_tensor_output_gets_an_output_column():
    a, b = Value(1.5), Value([1.0, -2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: b * Value(a.data), [a, b])  # misses d/da
    text = str(info.value)
    assert "output" in text.splitlines()[1]
    rows = [line.split() for line in text.splitlines()[2:4]]
    assert {(r[0], r[1], r[2]) for r in rows} == {("x0", "-", "out[0]"), ("x0", "-", "out[1]")}


def test_the_table_shows_at_most_ten_rows_and_counts_the_rest():
    x = Value(np.linspace(1, 2, 25), label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: Value(x.data**2).sum() + x.sum() * 0, x)
    text = str(info.value)
    assert "25 of 25" in text and "... and 15 more" in text
    assert len(info.value.mismatches) == 25


def test_nan_from_either_side_counts_as_a_disagreement():
    x = Value(-1.0, label="x")
    assert gradcheck(lambda x: x.log(), x, raise_exception=False) is False


def test_a_function_returning_a_number_is_reported_as_having_no_graph():
    with pytest.raises(GradcheckError, match="float, not a Value: there is no graph"):
        gradcheck(lambda x: x.data**2, Value(3.0))


# ---- kinks -----------------------------------------------------------------------------------------


def test_relu_at_zero_is_explained_as_a_kink_with_both_slopes():
    x = Value([-1.0, 2.0, 0.5, 0.0], label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x.relu(), x)
    err = info.value
    assert err.kinks == [
        "x[3] = 0.0 is a kink of relu: left slope 0, right slope 1, backward chose 1"
    ]
    assert [m.where for m in err.mismatches] == ["x[3]"]  # only the kink disagrees
    assert err.mismatches[0].analytic == 1.0  # the lecture's ReLU'(0) = 1
    assert err.mismatches[0].numeric == pytest.approx(0.5)  # the average of the two sides
    assert err.kinks[0] in str(err)


def test_relu_away_from_zero_passes():
    assert gradcheck(lambda x: x.relu(), Value([-1.0, 2.0, 0.5, -0.01], label="x"))


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_at_zero_names_its_slope(slope):
    x = Value(0.0, label="z")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x.leaky_relu(slope=slope), x)
    assert info.value.kinks == [
        f"z = 0.0 is a kink of leaky_relu: left slope {slope:g}, right slope 1, backward chose 1"
    ]


def test_max_with_three_tied_entries_is_explained_for_each_of_them():
    # Backprop splits the gradient evenly (1/3 each); nudging one tied entry up makes it the max
    # (slope 1), nudging it down drops it (slope 0): the central difference sees 1/2.
    x = Value([2.0, 1.0, 2.0, 2.0], label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x.max(), x)
    err = info.value
    assert sorted(m.where for m in err.mismatches) == ["x[0]", "x[2]", "x[3]"]
    assert (
        "x[2] = 2.0 ties for the max with 2 other entries, a kink of max: "
        "left slope 0, right slope 1, backward chose 0.3333"
    ) in err.kinks
    assert not any(k.startswith("x[1]") for k in err.kinks)


def test_max_ties_along_an_axis_only_explain_the_tied_row():
    x = Value([[3.0, 3.0, 3.0], [1.0, 5.0, 0.0]], label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x.max(axis=1).sum(), x)
    assert sorted(m.where for m in info.value.mismatches) == ["x[0, 0]", "x[0, 1]", "x[0, 2]"]
    assert len(info.value.kinks) == 3
    assert all("ties for the max with 2 other entries" in k for k in info.value.kinks)


def test_a_kink_reached_through_other_ops_names_the_input_that_moves_it():
    x, w = Value(0.5, label="x"), Value(0.0, label="w")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, w: (x * w).relu(), [x, w])
    err = info.value
    assert [m.where for m in err.mismatches] == ["w"]  # d/dx = w·relu' = 0 on both sides
    assert err.kinks == [
        "w = 0.0 puts relu's input at 0.0, a kink of relu: "
        "left slope 0, right slope 1, backward chose 1"
    ]


def test_a_bare_mismatch_has_no_kink_sentence():
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x.relu() + Value(x.data), Value(1.0))
    assert info.value.kinks == []
    assert "Non-differentiable" not in str(info.value)


# ---- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [gradcheck, numerical_grad, gradgradcheck])
def test_inputs_that_are_not_values_are_rejected_by_name(check):
    with pytest.raises(
        TypeError, match=r"inputs must be a Value or a list/tuple of Values, got float"
    ):
        check(lambda x: x, 3.0)
    with pytest.raises(TypeError, match=r"input 1 is a float \(2\.0\)"):
        check(lambda x, y: x * y, [Value(1.0), 2.0])
    with pytest.raises(ValueError, match="inputs is empty"):
        check(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        check(3, [Value(1.0)])


@pytest.mark.parametrize(
    "kwargs", [{"eps": 0.0}, {"eps": -1e-6}, {"atol": -1.0}, {"rtol": math.nan}]
)
def test_bad_tolerances_are_rejected(kwargs):
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be"):
        gradcheck(lambda x: x, Value(1.0), **kwargs)


def test_a_function_returning_something_else_is_rejected():
    with pytest.raises(
        TypeError, match="fn must return a Value, a number or an array; it returned str"
    ):
        gradcheck(lambda x: "oops", Value(1.0))


# ---- gradgradcheck ---------------------------------------------------------------------------------


def _mlp_problem(rng):
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    params = [
        Value(rng.normal(size=(3, 4)), label="W1"),
        Value(rng.normal(size=4), label="b1"),
        Value(rng.normal(size=(4, 1)), label="W2"),
        Value(rng.normal(size=1), label="b2"),
    ]

    def loss(W1, b1, W2, b2):
        h = (X @ W1 + b1).tanh()
        return ((h @ W2 + b2 - Y) ** 2).mean()

    return loss, params


def test_gradgradcheck_passes_on_a_two_layer_tanh_mlp_loss(rng):
    loss, params = _mlp_problem(rng)
    assert gradcheck(loss, params)
    assert gradgradcheck(loss, params)


def test_gradgradcheck_second_derivative_agrees_with_torch_hessian(rng):
    # The check's verdict rests on numbers: the engine's Hessian-vector products are torch's too.
    torch = pytest.importorskip("torch")
    from tinygrad_act.engine import gradients

    z = rng.normal(size=5)
    v = Value(z)
    (g,) = gradients(v.tanh().sigmoid().sum(), [v], create_graph=True)
    (hv,) = gradients(g, [v], grad=np.ones(5))
    t = torch.tensor(z)
    hess = torch.autograd.functional.hessian(lambda t: torch.sigmoid(torch.tanh(t)).sum(), t)
    np.testing.assert_allclose(hv, hess.sum(dim=0).numpy(), rtol=1e-10, atol=1e-12)


def test_gradgradcheck_contracts_a_tensor_output_with_grad_outputs(rng):
    x = Value(rng.normal(size=(2, 3)), label="x")
    assert gradgradcheck(lambda x: x.sigmoid(), x)  # seeded random grad_outputs
    assert gradgradcheck(lambda x: x.sigmoid(), x, grad_outputs=np.ones((2, 3)))
    assert gradgradcheck(lambda x: x.sigmoid(), x, grad_outputs=[Value(rng.normal(size=(2, 3)))])
    with pytest.raises(
        ValueError, match=r"grad_outputs has shape \(3,\), the output has shape \(2, 3\)"
    ):
        gradgradcheck(lambda x: x.sigmoid(), x, grad_outputs=np.ones(3))


def test_gradgradcheck_needs_a_value_output():
    with pytest.raises(TypeError, match="fn must return a Value"):
        gradgradcheck(lambda x: 1.0, Value(2.0))


def test_gradgradcheck_reports_in_the_same_table_naming_the_gradient_entry():
    from tinygrad_act import register_activation, sigmoid, unregister_activation

    # a(1-a) computed from raw data: right at first order, but invisible to the second.
    register_activation(
        "gc_detached_sigmoid",
        lambda z: sigmoid(z),
        lambda z, a: a.data * (1 - a.data) if isinstance(a, Value) else a * (1 - a),
    )
    try:
        z = Value([-1.0, 0.0, 2.0], label="z")
        assert gradcheck(lambda z: z.gc_detached_sigmoid().sum(), z)
        with pytest.raises(GradcheckError) as info:
            gradgradcheck(lambda z: z.gc_detached_sigmoid().sum(), z)
    finally:
        unregister_activation("gc_detached_sigmoid")
    text = str(info.value)
    assert text.startswith("gradgradcheck failed: 2 of 9 Jacobian entries disagree")
    assert "d/dz[0]" in text and "d/dz[2]" in text  # at z = 0, sigmoid'' = 0 and the frozen 0 agree
    assert {m.where for m in info.value.mismatches} == {"z[0]", "z[2]"}


def test_inputs_sharing_a_label_are_explained_by_position_not_by_name():
    a, b = Value(1.0, label="x"), Value([2.0, 0.0], label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: (a * b).relu().sum(), [a, b])
    assert [m.where for m in info.value.mismatches] == ["x[1]"]
    assert info.value.kinks == [
        "x[1] = 0.0 puts relu's input[1] at 0.0, a kink of relu: "
        "left slope 0, right slope 1, backward chose 1"
    ]


# ---- issue 13: the step relative to |x|, no warnings at 1e308, bounded work -----------------------


def test_the_default_step_is_relative_so_huge_inputs_get_a_true_slope():
    # An absolute 1e-6 is below the resolution of 1e12 (spacing 1.2e-4): x ± eps == x and every
    # numeric slope would read 0.
    x = Value(np.array([1e12, -1e12, 1e308, 3.0]), label="x")
    assert gradcheck(lambda x: x.relu() + x * 0.5, [x])
    (jacobian,) = numerical_grad(lambda x: x * 0.5, [x])
    np.testing.assert_allclose(jacobian, np.diag([0.5] * 4), rtol=1e-9)
    assert numerical_grad(lambda z: z * 3.0, Value(1e15)) == [pytest.approx(3.0, rel=1e-9)]


def test_an_explicit_eps_is_still_an_absolute_step():
    (g,) = numerical_grad(lambda z: z * z, Value(1.0), eps=0.5)
    assert g == 2.0  # ((1.5)² - (0.5)²) / 1 is exact for a quadratic whatever the step
    with pytest.raises(GradcheckError):
        gradcheck(lambda z: z.relu(), Value(1e12), eps=1e-6)  # the absolute step vanishes


@pytest.mark.parametrize(
    "fn, x, passes",
    [
        (lambda x: x * 2, Value(1e308), False),  # 2e308 overflows to inf: the check fails
        (lambda x: x.exp(), Value(1e308), False),
        (lambda x: x * x, Value(1e308), False),
        (lambda x: x + 1, Value(np.array([1e308, -1e308])), True),
        (lambda x: x + 1, Value(np.array([1.7976931348623157e308])), False),  # x + h is inf
        (lambda x: x.tanh(), Value(np.array([1e308, -1e308])), True),
        (lambda x: x.relu().sum(), Value(np.array([1e308, -1e308])), True),
    ],
)
def test_gradcheck_at_1e308_emits_no_runtime_warning(fn, x, passes):
    # A RuntimeWarning from gradcheck's own arithmetic (inf - inf in the differences or in the
    # errors) is an error here, as under `python -W error`.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(fn, x, raise_exception=False) is passes


def test_a_dense_check_too_large_is_refused_saying_how_large_before_any_work():
    calls = []

    def f(z):
        calls.append(1)
        return z.tanh().sum()

    with pytest.raises(
        ValueError,
        match=r"100,000 input elements and 1 output elements takes 200,001 passes.*fast_mode=True",
    ):
        gradcheck(f, Value(np.zeros(100_000)))
    assert len(calls) == 1  # one evaluation to learn the output's size, nothing more
    with pytest.raises(ValueError, match=r"3,000 x 3,000 = 9,000,000 entries"):
        gradcheck(lambda z: z.tanh(), Value(np.zeros(3000)))
    with pytest.raises(ValueError, match="numerical_grad: a dense check of 100,000 input"):
        numerical_grad(lambda z: z.sum(), Value(np.zeros(100_000)))
    with pytest.raises(ValueError, match="gradgradcheck: a dense check"):
        gradgradcheck(lambda z: z.sigmoid(), Value(np.zeros(20_000)))


def test_fast_mode_passes_a_correct_gradient_on_a_large_input():
    rng = np.random.default_rng(0)
    x = Value(rng.normal(size=(200, 50)), label="x")
    w = Value(rng.normal(size=(50, 30)) * 0.1, label="w")
    assert gradcheck(lambda x, w: (x @ w).tanh().sigmoid(), [x, w], fast_mode=True)
    big = Value(np.linspace(-3, 3, 100_000))
    assert gradcheck(lambda z: (z.sigmoid() * z).mean(), [big], fast_mode=True)
    assert gradgradcheck(lambda z: z.tanh(), [Value(np.linspace(-2, 2, 30_000))], fast_mode=True)


def test_fast_mode_catches_a_wrong_derivative_and_reports_both_projections():
    register_activation("gc_fast_wrong", lambda z: sigmoid(z), lambda z, a: a * (1 + a))
    try:
        z = Value(np.linspace(-3, 3, 50_000), label="z")
        with pytest.raises(
            GradcheckError, match=r"gradcheck failed \(fast_mode\): vᵀJu disagrees for 1 of 1"
        ) as info:
            gradcheck(lambda z: z.gc_fast_wrong(), [z], fast_mode=True)
    finally:
        unregister_activation("gc_fast_wrong")
    (m,) = info.value.mismatches
    assert m.input == "z" and m.analytic > 2 * m.numeric > 0
    assert "analytic vᵀJu" in str(info.value)


def test_fast_mode_agrees_with_the_dense_check_on_small_cases():
    rng = np.random.default_rng(3)
    frozen = lambda z, a: a.data * (1 - a.data) if isinstance(a, Value) else a * (1 - a)  # noqa: E731
    register_activation("gc_fast_frozen", lambda z: sigmoid(z), frozen)
    try:
        cases = [
            (gradcheck, lambda z: z.tanh() * z, True),
            (gradcheck, lambda z: z.relu(), False),  # on the kink at 0
            (gradcheck, lambda z: z.max(axis=0), True),
            (gradgradcheck, lambda z: z.sigmoid(), True),
            (gradgradcheck, lambda z: z.gc_fast_frozen(), False),  # second derivative frozen
        ]
        for check, fn, expected in cases:
            z = Value(rng.normal(size=(4, 3)), label="z")
            z.data[0, 0] = 0.0
            dense = check(fn, [z], raise_exception=False)
            fast = check(fn, [z], raise_exception=False, fast_mode=True)
            assert dense is fast is expected
    finally:
        unregister_activation("gc_fast_frozen")
