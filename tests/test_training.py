"""The one training step, accuracy and decision-boundary grid that the CLI's runs, the lab's runs
and the demo's deep runs share."""

import ast
from pathlib import Path

import numpy as np
import pytest

from tinygrad_act import Value
from tinygrad_act.health import Monitor
from tinygrad_act.nn import SGD, Linear, mlp, mse_loss
from tinygrad_act.training import accuracy, boundary_grid, logistic_loss, plane, right, step

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_act"


def test_a_step_is_one_sgd_update_by_the_gradient_of_the_loss_computed_by_hand():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    model = Linear(3, 2, rng=0)
    W, b = model.weight.data.copy(), model.bias.data.copy()
    model.weight.grad = np.full((3, 2), 7.0)  # a stale gradient: the step must zero it first
    loss, outputs = step(model, Value(X), y, mse_loss, SGD(model.parameters(), lr=0.1))
    residual = X @ W + b - y  # mean((XW + b - y)²): dL/dW = 2 Xᵀ r / size, dL/db = 2 Σ r / size
    assert loss.item() == pytest.approx(np.mean(residual**2))
    np.testing.assert_allclose(outputs.data, X @ W + b)  # the outputs before the update
    np.testing.assert_allclose(model.weight.data, W - 0.1 * 2 * X.T @ residual / residual.size)
    np.testing.assert_allclose(model.bias.data, b - 0.1 * 2 * residual.sum(axis=0) / residual.size)


def test_a_step_records_the_monitor_after_backward_and_before_the_update():
    model = mlp([2, 4, 1], "tanh", rng=0)
    X, y = np.array([[0.5, -1.0], [2.0, 0.3], [-1.0, 1.0]]), np.array([1.0, 0.0, 1.0])
    opt = SGD(model.parameters(), lr=0.5)
    with Monitor(model) as monitor:
        for _ in range(3):
            step(model, Value(X), y, logistic_loss, opt, monitor)
    assert len(monitor.history) == 3
    assert monitor.history[0][0]["update_to_data"] is None  # recorded before the first update
    assert monitor.history[1][0]["update_to_data"] > 0


def test_right_reads_signs_for_one_score_and_the_largest_for_several():
    assert right(np.array([0.2, -0.1, 3.0]), np.array([1, -1, -1])).tolist() == [True, True, False]
    assert right(np.array([[0.2], [-0.1]]), np.array([1, 0])).tolist() == [True, True]
    assert right([Value(1.0), Value(-2.0)], [1, 1]).tolist() == [True, False]
    logits = Value(np.array([[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]]))
    assert right(logits, np.array([1, 0])).tolist() == [True, False]
    assert accuracy(logits, np.array([1, 2])) == 1.0
    assert accuracy(np.array([1.0, -1.0, 1.0, 1.0]), np.array([1, 1, 1, 1])) == 0.75


def test_the_boundary_grid_spans_the_padded_plane_up_or_from_the_top():
    X = np.array([[0.0, -1.0], [2.0, 1.0]])
    extent = plane(X, pad=0.5)
    assert extent == [-0.5, 2.5, -1.5, 1.5]
    xx, yy, points = boundary_grid(extent, 4)
    assert xx.shape == yy.shape == (4, 4) and points.shape == (16, 2)
    assert yy[:, 0].tolist() == [-1.5, -0.5, 0.5, 1.5] and xx[0].tolist() == [-0.5, 0.5, 1.5, 2.5]
    np.testing.assert_array_equal(points[5], [xx[1, 1], yy[1, 1]])  # row by row
    _, top_down, _ = boundary_grid(extent, 4, top_down=True)
    assert top_down[:, 0].tolist() == [1.5, 0.5, -0.5, -1.5]


@pytest.mark.parametrize("module", ["train.py", "lab/training.py", "health_demo.py"])
def test_the_training_loops_go_through_the_one_step(module):
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    calls = [
        node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
    ]
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "tinygrad_act.training"
        for alias in node.names
    }
    assert "step" in imported
    assert "backward" not in calls and "zero_grad" not in calls and "record" not in calls
