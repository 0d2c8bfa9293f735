"""The one training step (on the graph or compiled), accuracy and decision-boundary grid that the
CLI's runs, the lab's runs and the demo's deep runs share."""

import ast
from pathlib import Path

import numpy as np
import pytest

from tinygrad_act import Value
from tinygrad_act.compiler import codegen
from tinygrad_act.health import Monitor
from tinygrad_act.nn import SGD, Adam, Linear, cross_entropy, mlp, mse_loss, svm_hinge_loss
from tinygrad_act.training import (
    CompiledStep,
    accuracy,
    boundary_grid,
    logistic_loss,
    plane,
    right,
    step,
)

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


# ---- the compiled step ---------------------------------------------------------------------------


def _train_twice(make_model, loss_fn, batches, make_optimizer):
    """The same run from the same weights, on the graph and compiled: (losses, outputs, weights)
    of each, and the compiled run's CompiledStep."""
    results = []
    for compiled_run in (False, True):
        model = make_model()
        opt = make_optimizer(model)
        compiled = CompiledStep(model, loss_fn) if compiled_run else None
        losses, outputs = [], []
        for X, y in batches:
            loss, out = step(model, Value(X), y, loss_fn, opt, compiled=compiled)
            losses.append(loss.data)
            outputs.append(out.data)
        results.append((losses, outputs, [p.data.copy() for p in model.parameters()]))
    return results, compiled


def _assert_same_bits(a, b):
    for x, y in zip(a, b, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def test_a_compiled_step_gives_the_graph_steps_bits_on_minibatches_and_a_last_smaller_one():
    rng = np.random.default_rng(5)
    X, labels = rng.normal(size=(45, 6)), rng.integers(0, 3, size=45)
    batches = [(X[i : i + 16], labels[i : i + 16]) for i in range(0, 45, 16)] * 3  # 16, 16, 13
    (graph, compiled_run), compiled = _train_twice(
        lambda: mlp([6, 8, 3], "tanh", rng=1), cross_entropy, batches, lambda m: Adam(m, lr=0.05)
    )
    assert compiled.compiling and len(compiled.programs) == 2  # batches of 16, and of 13
    assert len(graph[0]) == 9
    assert graph[0][0] != graph[0][3]  # the run learns: equal bits are not equal constants
    for got, want in zip(compiled_run, graph, strict=True):
        _assert_same_bits(got, want)


def test_targets_a_loss_folds_in_as_constants_are_not_reused_for_other_targets():
    # svm_hinge_loss writes its ±1 labels into the graph as constants: a program traced for one
    # batch's labels must not be run with another's, which has the same shape.
    rng = np.random.default_rng(2)
    batches = [(rng.normal(size=(10, 3)), rng.choice([-1, 1], size=10)) for _ in range(4)]
    assert len({y.tobytes() for _, y in batches}) == 4
    (graph, compiled_run), compiled = _train_twice(
        lambda: Linear(3, 1, rng=0),
        svm_hinge_loss,
        batches + batches[:1],  # the first batch again: its labels come back
        lambda m: SGD(m.parameters(), lr=0.1),
    )
    assert compiled.compiling
    for got, want in zip(compiled_run, graph, strict=True):
        _assert_same_bits(got, want)


def test_an_op_the_code_generator_cannot_write_makes_the_run_take_the_graph(monkeypatch):
    monkeypatch.delitem(codegen.FORWARD, "@")  # as if the generator had never learnt @
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(4, 2)), rng.integers(0, 2, size=4)) for _ in range(3)]
    (graph, compiled_run), compiled = _train_twice(
        lambda: mlp([2, 3, 2], "relu", rng=0), cross_entropy, batches, lambda m: SGD(m, lr=0.5)
    )
    assert not compiled.compiling and "'@'" in compiled.uncompiled_because
    for got, want in zip(compiled_run, graph, strict=True):
        _assert_same_bits(got, want)


def test_a_monitor_or_a_gradient_hook_makes_the_step_take_the_graph():
    X, y = np.array([[0.5, -1.0], [2.0, 0.3]]), np.array([1, 0])
    model = mlp([2, 4, 1], "tanh", rng=0)
    opt = SGD(model.parameters(), lr=0.5)
    compiled = CompiledStep(model, logistic_loss)
    with Monitor(model) as monitor:
        step(model, Value(X), y, logistic_loss, opt, monitor, compiled)
    assert len(monitor.history) == 1 and not compiled.programs  # never traced
    seen = []
    handle = model[0].weight.register_hook(lambda g: seen.append(g.copy()))
    try:
        step(model, Value(X), y, logistic_loss, opt, compiled=compiled)  # a compiled call refuses
    finally:
        handle.remove()
    assert len(seen) == 1 and not compiled.programs
    step(model, Value(X), y, logistic_loss, opt, compiled=compiled)
    assert compiled.compiling and len(compiled.programs) == 1


def test_a_compiled_step_for_another_model_or_loss_is_refused():
    model, other = Linear(2, 1, rng=0), Linear(2, 1, rng=1)
    opt = SGD(model.parameters(), lr=0.1)
    X, y = np.ones((3, 2)), np.zeros((3, 1))
    before = model.weight.data.copy()
    for compiled in (CompiledStep(other, mse_loss), CompiledStep(model, logistic_loss)):
        with pytest.raises(ValueError, match="made for another model or loss function"):
            step(model, Value(X), y, mse_loss, opt, compiled=compiled)
    np.testing.assert_array_equal(model.weight.data, before)
    with pytest.raises(TypeError, match="takes a model and a loss function, got Linear and int"):
        CompiledStep(model, 3)
