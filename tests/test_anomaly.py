"""Anomaly mode: the first op whose value or gradient is nan or inf is named, with the user's line."""

import inspect
import os
import threading

import numpy as np
import pytest

from tinygrad_act import AnomalyError, Value, anomaly, detect_anomaly, find_anomaly, grad, observe

HERE = os.path.relpath(__file__)


def _line_after():
    """The line number after the caller's current line: where the statement under test is."""
    return inspect.currentframe().f_back.f_lineno + 1


def test_anomaly_error_is_an_arithmetic_error():
    assert issubclass(AnomalyError, ArithmeticError)


def test_tanh_written_with_exp_overflows_and_names_exp_forward_and_the_line():
    x = Value(np.array([0.5, 400.0]), label="x")
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        line = _line_after()
        e = (x * 2).exp()  # e^800 overflows
        (e - 1) / (e + 1)
    err = caught.value
    assert (err.op, err.phase, err.where) == ("exp", "forward", f"{HERE}:{line}")
    assert str(err) == f"exp gave inf (1 of 2 entries) in the forward pass, at {HERE}:{line}"
    assert "\n" not in str(err)
    assert "e = (x * 2).exp()  # e^800 overflows" in err.trace  # the whole creation stack
    assert err.node.data[1] == np.inf


def test_log_of_zero_in_the_forward_pass():
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        z = Value(0.0, label="z")
        line = _line_after()
        z.log()
    assert caught.value.op == "log" and caught.value.phase == "forward"
    assert str(caught.value) == f"log gave -inf in the forward pass, at {HERE}:{line}"


def test_a_nan_only_in_backward_names_the_op_and_where_it_was_made():
    z = Value(np.array([0.0, 4.0]), label="z")
    with detect_anomaly():
        line = _line_after()
        root = (z**0.5).sum()  # sqrt(0) = 0 is fine going forward
        with pytest.raises(AnomalyError) as caught:
            root.backward()  # its slope 0.5 / sqrt(0) is not
    err = caught.value
    assert (err.op, err.phase, err.where) == ("**0.5", "backward", f"{HERE}:{line}")
    assert "backward pass (the gradient of its input z)" in str(err)
    assert "root = (z**0.5).sum()" in err.trace


def test_the_backward_check_names_the_op_in_a_recorded_backward_pass_too():
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        grad(grad(lambda v: v**1.5))(Value(0.0))  # 0.75 / sqrt(0) in the second derivative
    assert caught.value.phase == "backward" and caught.value.op == "**0.5"


def test_a_division_by_a_zero_sum():
    x = Value(np.array([1.0, -1.0]))
    with pytest.raises(
        AnomalyError, match=r"^/ gave inf and -inf \(2 of 2 entries\) in the forward pass"
    ):
        with detect_anomaly():
            x / x.sum()


def test_a_node_made_outside_the_block_is_checked_but_has_no_line():
    z = Value(0.0)
    y = z**0.5
    with pytest.raises(AnomalyError, match=r"made outside detect_anomaly\(\), so its line"):
        with detect_anomaly():
            y.backward()


def test_a_constants_share_is_not_checked():
    # x ** y with a negative base: the exponent's share a·log x is nan, but y is a constant.
    x = Value(-2.0)
    with detect_anomaly():
        (x ** Value(2.0, requires_grad=False)).backward()
    assert x.grad == -4.0


def test_outside_the_block_nothing_is_recorded_or_checked():
    assert observe.watcher is None and observe.backward_watcher() is None
    before = len(anomaly._made_at)
    y = Value(0.0).log()  # -inf, and no error
    (Value(0.0) ** 0.5).backward()
    assert y.data == -np.inf and len(anomaly._made_at) == before
    with detect_anomaly():
        Value(1.0).exp()
    assert observe.watcher is None and observe.backward_watcher() is None


def test_anomaly_mode_is_per_thread():
    entered, done, errors = threading.Event(), threading.Event(), []

    def watched():
        with detect_anomaly():
            entered.set()
            done.wait(5)

    thread = threading.Thread(target=watched)
    thread.start()
    entered.wait(5)
    try:
        Value(0.0).log()  # this thread is not in anomaly mode
    except AnomalyError as err:
        errors.append(err)
    finally:
        done.set()
        thread.join()
    assert not errors


def test_find_anomaly_names_the_first_op_that_made_a_non_finite_value():
    x = Value(np.array([1.0, 0.0]), label="x")
    y = (x.log() * 2).exp()
    problem = find_anomaly(y)
    assert (problem.op, problem.phase, problem.node._op) == ("log", "forward", "log")
    assert str(problem) == "log gave -inf (1 of 2 entries) in the forward pass"
    assert find_anomaly(x.exp().sum()) is None


def test_find_anomaly_finds_a_non_finite_gradient_after_backward():
    z = Value(np.array([0.0, 1.0]), label="z")
    root = (z**0.5).sum()
    assert find_anomaly(root) is None  # every value is finite
    root.backward()
    problem = find_anomaly(root)
    assert (problem.op, problem.phase) == ("**0.5", "backward")


def test_find_anomaly_names_an_input_that_holds_inf():
    x = Value(np.inf, label="x")
    problem = find_anomaly(x * 2)
    assert str(problem) == "the input x holds inf (a leaf: the data it was given)"
