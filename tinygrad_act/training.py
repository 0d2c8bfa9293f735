"""What every training loop here shares: one step, one accuracy, one grid for a decision boundary,
one limit on BLAS threads.

The CLI's runs (`tinygrad_act.train`), the lab's live runs (`tinygrad_act.lab.training`) and the
demo's deep runs (`tinygrad_act.health_demo`) differ in their data, model, loss and optimizer, and
train through the same `step`:

>>> from tinygrad_act.nn import SGD, mse_loss, mlp
>>> X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [-1.0]])
>>> model = mlp([2, 4, 1], "tanh", rng=0)
>>> opt = SGD(model.parameters(), lr=0.1)
>>> first, _ = step(model, Value(X), y, mse_loss, opt)
>>> second, outputs = step(model, Value(X), y, mse_loss, opt)
>>> second.item() < first.item(), accuracy(outputs, y)
(True, 1.0)
"""

from __future__ import annotations

import contextlib

import numpy as np

from tinygrad_act.engine import Value
from tinygrad_act.nn import binary_cross_entropy_with_logits


def step(model, inputs, targets, loss_fn, optimizer, monitor=None):
    """One training step: ``outputs = model(inputs)``, ``loss = loss_fn(outputs, targets)``, the
    gradients zeroed, ``loss.backward()``, the health `monitor`'s record (if one watches), the
    optimizer's update. Returns ``(loss, outputs)``, the outputs as they were before the update.

    >>> from tinygrad_act.nn import SGD, Linear, mse_loss
    >>> model = Linear(1, 1, bias=False, rng=0)
    >>> model.weight.data[:] = 1.0
    >>> loss, outputs = step(model, Value(np.array([[2.0]])), np.array([[0.0]]), mse_loss,
    ...                      SGD(model.parameters(), lr=0.1))
    >>> loss.item(), outputs.data.item(), model.weight.data.item()  # dL/dw = 2·(2w - 0)·2 = 8
    (4.0, 2.0, 0.19999999999999996)
    """
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    optimizer.zero_grad()
    loss.backward()
    if monitor is not None:
        monitor.record()
    optimizer.step()
    return loss, outputs


def logistic_loss(outputs, labels):
    """Binary cross-entropy on each example's one logit: `outputs` a column (examples, 1), as a
    network with one output unit gives it, and `labels` 0 or 1.

    >>> round(logistic_loss(Value(np.array([[0.0], [0.0]])), np.array([1, 0])).item(), 6)  # ln 2
    0.693147
    """
    return binary_cross_entropy_with_logits(outputs.reshape(-1), labels)


def right(outputs, labels):
    """Which examples the outputs classify right, as booleans.

    One score per example (a vector, a column, or a list of scalar Values) is right when its sign
    is the label's (labels -1/+1 or 0/1); a row of class scores when its largest is the label.

    >>> right(np.array([[2.0, -1.0], [0.5, 3.0]]), [0, 0]).tolist()
    [True, False]
    >>> right(np.array([0.3, -2.0, 1.5]), [1, -1, 0]).tolist()
    [True, True, False]
    """
    if isinstance(outputs, (list, tuple)):
        outputs = [v.data if isinstance(v, Value) else v for v in outputs]
    scores = np.asarray(outputs.data if isinstance(outputs, Value) else outputs)
    labels = np.asarray(labels)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1) == labels
    return (scores.reshape(-1) > 0) == (labels.reshape(-1) > 0)


def accuracy(outputs, labels):
    """The share of examples classified right (see `right`).

    >>> accuracy(np.array([0.5, -0.5, 2.0, -1.0]), np.array([1, 1, 1, -1]))
    0.75
    """
    return float(np.mean(right(outputs, labels)))


def plane(X, pad=0.5):
    """The box around the 2-D points `X`, `pad` beyond them on each side: [x1 from, x1 to,
    x2 from, x2 to], where a decision boundary is drawn.

    >>> plane(np.array([[0.0, 1.0], [2.0, 3.0]]))
    [-0.5, 2.5, 0.5, 3.5]
    """
    return [
        float(X[:, 0].min() - pad),
        float(X[:, 0].max() + pad),
        float(X[:, 1].min() - pad),
        float(X[:, 1].max() + pad),
    ]


def boundary_grid(extent, resolution, top_down=False):
    """A `resolution` x `resolution` grid over `extent` (as `plane` gives it): ``(xx, yy, points)``,
    ``xx`` and ``yy`` as `np.meshgrid` makes them and ``points`` their (x1, x2) rows, row by row;
    rows run up the x2 axis, or down from its top with `top_down` (as an image is stored).

    >>> xx, yy, points = boundary_grid([0.0, 1.0, 0.0, 2.0], 3)
    >>> points.shape, yy[:, 0].tolist()
    ((9, 2), [0.0, 1.0, 2.0])
    """
    x0, x1, y0, y1 = extent
    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y1, y0, resolution) if top_down else np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.c_[xx.ravel(), yy.ravel()]


def one_blas_thread():
    """Limit BLAS to one thread: for good when called, until the block ends in a ``with``.

    The matrices trained here are tiny (at most 64x128): a multi-threaded BLAS spends more time
    handing them between threads than computing, and on a loaded machine it is several times
    slower. threadpoolctl comes with scikit-learn; without it nothing is limited.

    >>> with one_blas_thread():
    ...     product = np.ones((64, 128)) @ np.ones((128, 10))
    >>> float(product[0, 0])
    128.0
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
