"""check_backward and compare: a student's hand-derived gradients against the engine's, each typical
mistake made on purpose and named. The networks are written here, course-style in numpy and
PyTorch-style; the correct hand gradients are the lecture's formulas, checked against PyTorch."""

import numpy as np
import pytest
import torch

from tinygrad_act import (
    Value,
    check_backward,
    compare,
    register_activation,
    unregister_activation,
)

N_X, N_H, M = 2, 4, 7


@pytest.fixture
def data():
    rng = np.random.default_rng(26)
    X = rng.standard_normal((N_X, M))
    Y = (rng.random((1, M)) > 0.5).astype(float)
    params = {
        "W1": rng.standard_normal((N_H, N_X)) * 0.5,
        "b1": rng.standard_normal((N_H, 1)) * 0.1,
        "W2": rng.standard_normal((1, N_H)) * 0.5,
        "b2": np.full((1, 1), 0.1),
    }
    return X, Y, params


def course_network(X, Y, hidden=np.tanh):
    """The student's forward pass and cost, as the course writes them (columns are examples)."""

    def forward_propagation(p):
        Z1 = np.dot(p["W1"], X) + p["b1"]
        A1 = hidden(Z1)
        Z2 = np.dot(p["W2"], A1) + p["b2"]
        A2 = 1 / (1 + np.exp(-Z2))
        m = Y.shape[1]
        cost = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
        return cost, ({"Z1": Z1, "A1": A1}, {"Z2": Z2, "A2": A2})

    return forward_propagation


def hand_backward(X, Y, p, slope=lambda A1, Z1: 1 - A1**2, course=True, dw1_scale=1 / M):
    """The student's backward pass: the lecture's formulas, with the mistakes the tests put in."""
    Z1 = p["W1"] @ X + p["b1"]
    A1 = np.tanh(Z1)
    A2 = 1 / (1 + np.exp(-(p["W2"] @ A1 + p["b2"])))
    dZ2 = (A2 - Y) if course else (A2 - Y) / M
    k = 1 / M if course else 1.0
    dW2 = k * dZ2 @ A1.T
    db2 = k * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = (p["W2"].T @ dZ2) * slope(A1, Z1)
    dW1 = (dw1_scale * M * k) * dZ1 @ X.T
    db1 = k * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ2": dZ2, "dW2": dW2, "db2": db2, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def _status(report):
    return {row.name: row.status for row in report.rows}


# ---- correct gradients ----------------------------------------------------------------------------


def test_the_lectures_formulas_agree_with_pytorch_so_they_are_a_fair_student(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    A1 = torch.tanh(t["W1"] @ torch.tensor(X) + t["b1"])
    A2 = torch.sigmoid(t["W2"] @ A1 + t["b2"])
    torch.nn.functional.binary_cross_entropy(A2, torch.tensor(Y)).backward()
    for k in p:
        np.testing.assert_allclose(grads[f"d{k}"], t[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_correct_gradients_in_the_averaged_convention_agree_exactly_or_closely(data):
    X, Y, p = data
    report = check_backward(course_network(X, Y), p, hand_backward(X, Y, p, course=False))
    assert report.ok and report.first_wrong is None and report.diagnosis == ""
    assert set(_status(report).values()) <= {"exact", "close"}
    assert all(row.max_abs_diff < 1e-12 for row in report.rows)
    report.assert_ok()


def test_the_courses_dz_equals_a2_minus_y_is_a_convention_and_ok_stays_true(data):
    X, Y, p = data
    report = check_backward(course_network(X, Y), p, hand_backward(X, Y, p))
    assert report.ok
    assert _status(report)["dZ2"] == "convention" and _status(report)["dZ1"] == "convention"
    assert {_status(report)[k] for k in ("dW1", "db1", "dW2", "db2")} <= {"exact", "close"}
    assert "course's convention" in str(report) and "m = 7" in str(report)


def test_the_params_are_not_changed(data):
    X, Y, p = data
    before = {k: v.copy() for k, v in p.items()}
    check_backward(course_network(X, Y), p, hand_backward(X, Y, p))
    for k in p:
        assert np.array_equal(p[k], before[k])


def test_rows_come_in_backward_order_nearest_the_loss_first(data):
    X, Y, p = data
    names = [
        row.name for row in check_backward(course_network(X, Y), p, hand_backward(X, Y, p)).rows
    ]
    assert names.index("dZ2") < names.index("dW2") < names.index("dZ1") < names.index("dW1")


# ---- constant factors -----------------------------------------------------------------------------


def test_a_missing_one_over_m_in_dw1_is_named(data):
    X, Y, p = data
    report = check_backward(course_network(X, Y), p, hand_backward(X, Y, p, dw1_scale=1.0))
    assert not report.ok and report.first_wrong == "dW1"
    assert "missing 1/m" in report.diagnosis and "m = 7" in report.diagnosis
    assert _status(report)["dZ1"] == "convention"  # its own parameter gradient db1 agrees


def test_m_may_be_given_when_the_graph_cannot_tell(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, course=False)
    grads["dW2"] = grads["dW2"] * 3
    assert "a constant factor 3" in check_backward(course_network(X, Y), p, grads).diagnosis
    assert "missing 1/m (m = 3" in check_backward(course_network(X, Y), p, grads, m=3).diagnosis


def test_an_extra_one_over_m_is_named(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    grads["db2"] = grads["db2"] / M
    report = check_backward(course_network(X, Y), p, grads)
    assert report.first_wrong == "db2" and "an extra 1/m" in report.diagnosis


def test_a_factor_m_on_dz_is_a_mistake_when_the_parameters_under_it_disagree_too(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, course=False)
    for k in ("dZ2", "dW2", "db2"):
        grads[k] = grads[k] * M  # never divided by m
    report = check_backward(course_network(X, Y), p, grads)
    assert report.first_wrong == "dZ2" and _status(report)["dZ2"] == "wrong"
    assert "missing 1/m" in report.diagnosis


@pytest.mark.parametrize(
    ("factor", "said"), [(-1.0, "a sign flipped"), (2.0, "a factor 2"), (0.5, "a factor 1/2")]
)
def test_a_sign_a_two_and_a_half_are_named(data, factor, said):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    grads["dW2"] = grads["dW2"] * factor
    report = check_backward(course_network(X, Y), p, grads)
    assert report.first_wrong == "dW2" and said in report.diagnosis


# ---- transposes and shapes ------------------------------------------------------------------------


def test_a_transposed_gradient_is_a_shape_row_that_says_transpose(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    grads["dW1"] = grads["dW1"].T
    report = check_backward(course_network(X, Y), p, grads)
    assert _status(report)["dW1"] == "shape" and report.first_wrong == "dW1"
    assert "(2, 4)" in report.diagnosis and "(4, 2)" in report.diagnosis
    assert "a transpose" in report.diagnosis


def test_a_square_transpose_is_found_by_compare(capsys):
    w = Value(np.array([[1.0, 2.0], [3.0, 5.0]]))
    (w @ np.array([[1.0, -1.0], [2.0, 0.5]])).sum().backward()
    line = compare("dW", w.grad.T, w)
    assert "transpose" in line and "exact: False" in line
    assert capsys.readouterr().out.strip() == line


def test_a_missing_keepdims_is_named(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    grads["db1"] = grads["db1"].reshape(-1)
    report = check_backward(course_network(X, Y), p, grads)
    assert report.first_wrong == "db1" and "keepdims" in report.diagnosis


def test_a_sum_over_the_wrong_axis_is_named(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    grads["db1"] = np.sum(grads["dZ1"], axis=0, keepdims=True) / M
    report = check_backward(course_network(X, Y), p, grads)
    assert _status(report)["db1"] == "shape"
    assert "(1, 7)" in report.diagnosis and "(4, 1)" in report.diagnosis
    assert "wrong axis (axis=0 where axis=1 belongs)" in report.diagnosis


# ---- the wrong activation slope -------------------------------------------------------------------


def test_sigmoids_slope_for_tanh_is_named_at_dz1_the_first_wrong(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, slope=lambda A1, Z1: A1 * (1 - A1))
    report = check_backward(course_network(X, Y), p, grads)
    assert report.first_wrong == "dZ1" and _status(report)["dW1"] == "wrong"
    assert (
        "dZ1 equals backprop with tanh's slope taken as a(1-a), sigmoid's; "
        "the slide's tanh' is 1-a²" in report.diagnosis
    )


def test_a_forgotten_slope_is_named(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, slope=lambda A1, Z1: 1.0)
    report = check_backward(course_network(X, Y), p, {"dW1": grads["dW1"]})
    assert report.first_wrong == "dW1" and "taken as 1 (the slope forgotten)" in report.diagnosis


def test_relus_mask_for_tanh_is_named(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, slope=lambda A1, Z1: (Z1 >= 0).astype(float))
    report = check_backward(course_network(X, Y), p, {"dZ1": grads["dZ1"]})
    assert "relu's" in report.diagnosis


def test_a_users_registered_activation_is_covered_both_ways(data):
    X, Y, p = data
    register_activation(
        "softsign_test",
        lambda z: z / (1 + abs(z)),
        lambda z, a: (1 - abs(a)) ** 2,
        formula="(1-|a|)²",
    )
    try:
        network = course_network(X, Y, hidden=lambda z: z.activate("softsign_test"))
        # the student used tanh's 1-a² where the registered (1-|a|)² belongs
        grads = hand_backward(X, Y, p, slope=lambda A1, Z1: 1 - A1**2)
        A1 = (p["W1"] @ X + p["b1"]) / (1 + abs(p["W1"] @ X + p["b1"]))
        A2 = 1 / (1 + np.exp(-(p["W2"] @ A1 + p["b2"])))
        dZ1 = (p["W2"].T @ (A2 - Y)) * (1 - A1**2)
        report = check_backward(network, p, {"dZ1": dZ1})
        assert "softsign_test's slope taken as 1-a², tanh's" in report.diagnosis
        assert "(1-|a|)²" in report.diagnosis
        # and the registered row is an alternative for tanh
        grads = hand_backward(X, Y, p, slope=lambda A1, Z1: (1 - abs(A1)) ** 2)
        report = check_backward(course_network(X, Y), p, {"dZ1": grads["dZ1"]})
        assert "taken as (1-|a|)², softsign_test's" in report.diagnosis
    finally:
        unregister_activation("softsign_test")


# ---- the ReLU convention at 0 ---------------------------------------------------------------------


def test_relu_slope_zero_at_zero_is_a_convention_and_ok_stays_true(data):
    X, Y, p = data
    X = X.copy()
    X[:, 2] = 0.0  # example 2 puts every hidden unit's z at exactly b1 = 0
    p = {**p, "b1": np.zeros((N_H, 1))}
    network = course_network(X, Y, hidden=lambda z: z.relu())
    Z1 = p["W1"] @ X + p["b1"]
    A1 = np.maximum(Z1, 0)
    A2 = 1 / (1 + np.exp(-(p["W2"] @ A1 + p["b2"])))
    dZ2 = A2 - Y
    dZ1 = (p["W2"].T @ dZ2) * (Z1 > 0)  # the course's code: ReLU'(0) = 0
    grads = {"dZ1": dZ1, "dW1": dZ1 @ X.T / M, "db1": np.sum(dZ1, axis=1, keepdims=True) / M}
    grads |= {"dW2": dZ2 @ A1.T / M, "db2": np.sum(dZ2, axis=1, keepdims=True) / M}
    report = check_backward(network, p, grads)
    assert report.ok
    assert _status(report)["dZ1"] == "convention" and _status(report)["db1"] == "convention"
    assert "relu'(0.0) = 0 where the lecture takes 1" in str(report)


# ---- everything else ------------------------------------------------------------------------------


def test_anything_else_is_wrong_with_the_largest_differences_placed(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    grads["dW2"] = grads["dW2"].copy()
    grads["dW2"][0, 3] += 0.5
    report = check_backward(course_network(X, Y), p, grads)
    assert _status(report)["dW2"] == "wrong" and report.first_wrong == "dW2"
    assert "dW2[0, 3]" in report.diagnosis
    assert report.rows[[r.name for r in report.rows].index("dW2")].max_abs_diff == pytest.approx(
        0.5
    )


def test_a_parameter_with_no_gradient_given_is_missing(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    del grads["db1"]
    report = check_backward(course_network(X, Y), p, grads)
    assert _status(report)["db1"] == "missing" and not report.ok
    assert report.first_wrong == "db1" and report.diagnosis == "db1 was not given."


def test_the_report_reads_as_a_table_as_html_and_as_an_assertion(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, slope=lambda A1, Z1: A1 * (1 - A1))
    report = check_backward(course_network(X, Y), p, grads)
    text = str(report)
    assert text.splitlines()[0].split() == [
        "gradient",
        "status",
        "max",
        "abs",
        "diff",
        "max",
        "rel",
        "diff",
    ]
    assert "First wrong: dZ1." in text
    assert "<table>" in report._repr_html_() and "First wrong: dZ1." in report._repr_html_()
    with pytest.raises(AssertionError, match="tanh's slope taken as a\\(1-a\\)"):
        report.assert_ok()


def test_tolerances_are_keywords(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p, course=False)
    grads["dW2"] = grads["dW2"] * (1 + 1e-4)
    assert not check_backward(course_network(X, Y), p, grads).ok
    assert check_backward(course_network(X, Y), p, grads, rtol=1e-3).ok


# ---- PyTorch spelling -----------------------------------------------------------------------------


def test_a_pytorch_spelled_network_is_checked_the_same_way(data):
    X, Y, p = data
    X, Y = X.T, Y.T  # rows are examples, as in PyTorch
    tp = {"W1": p["W1"], "b1": p["b1"].reshape(-1), "W2": p["W2"], "b2": p["b2"].reshape(-1)}

    def loss_fn(p):
        z1 = X @ p["W1"].T + p["b1"]
        h = z1.tanh()
        out = (h @ p["W2"].T + p["b2"]).sigmoid()
        loss = -(Y * out.log() + (1 - Y) * (1 - out).log()).mean()
        return loss, {"z1": z1}

    # the student's gradients, from the lecture's formulas with rows as examples
    z1 = X @ tp["W1"].T + tp["b1"]
    h = np.tanh(z1)
    out = 1 / (1 + np.exp(-(h @ tp["W2"].T + tp["b2"])))
    dlogits = (out - Y) / M
    dz1 = dlogits @ tp["W2"] * (1 - h**2)
    grads = {
        "W2": dlogits.T @ h,
        "b2": dlogits.sum(0),
        "z1": dz1,
        "W1": dz1.T @ X,
        "b1": dz1.sum(0),
    }
    report = check_backward(loss_fn, tp, grads)
    assert report.ok, str(report)
    grads["z1"] = dlogits @ tp["W2"] * h * (1 - h)
    report = check_backward(loss_fn, tp, grads)
    assert report.first_wrong == "z1" and "tanh's slope taken as a(1-a)" in report.diagnosis


# ---- bad input ------------------------------------------------------------------------------------


def test_an_unknown_gradient_name_is_refused_naming_the_accepted_ones(data):
    X, Y, p = data
    with pytest.raises(
        ValueError, match=r"'dW3'.*accepted: dW1, db1, dW2, db2, dZ1, dA1, dZ2, dA2"
    ):
        check_backward(course_network(X, Y), p, {"dW3": np.zeros((1, 1))})


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("not callable", {"w": 1.0}, {}), TypeError, "loss_fn must be callable, got str"),
        ((lambda p: p["w"] * 2, [1.0], {}), TypeError, "params must be a non-empty dict.*got list"),
        ((lambda p: p["w"] * 2, {"w": "x"}, {}), TypeError, r"params\['w'\] must be a numpy array"),
        (
            (lambda p: p["w"] * 2, {"w": 1.0}, [1.0]),
            TypeError,
            "hand_grads must be a dict.*got list",
        ),
        (
            (lambda p: 3.0, {"w": 1.0}, {}),
            TypeError,
            "must return the loss as a Value.*returned float",
        ),
        (
            (lambda p: p["w"] * 2, {"w": [1.0, 2.0]}, {}),
            ValueError,
            r"one number, got shape \(2,\)",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(args, error, match):
    with pytest.raises(error, match=match):
        check_backward(*args)


def test_bad_tolerances_and_a_value_without_a_gradient_are_refused():
    with pytest.raises(ValueError, match="rtol must be a non-negative finite number, got -1"):
        check_backward(lambda p: p["w"] * 2, {"w": 1.0}, {}, rtol=-1)
    with pytest.raises(ValueError, match="m, the batch size, must be a positive int, got 0.5"):
        check_backward(lambda p: p["w"] * 2, {"w": 1.0}, {}, m=0.5)
    with pytest.raises(ValueError, match="no gradient yet"):
        compare("dx", [1.0], Value([1.0]))


def test_a_parameters_gradient_may_be_named_with_or_without_the_d(data):
    X, Y, p = data
    grads = hand_backward(X, Y, p)
    plain = {"W1": grads["dW1"], "db1": grads["db1"], "W2": grads["dW2"], "b2": grads["db2"]}
    report = check_backward(course_network(X, Y), p, plain)
    assert report.ok and [r.name for r in report.rows] == ["b2", "W2", "db1", "W1"]
    with pytest.raises(TypeError, match="gradient names are strings, got 3"):
        check_backward(course_network(X, Y), p, {3: grads["dW1"]})
