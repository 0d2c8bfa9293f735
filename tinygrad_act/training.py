"""What every training loop here shares: one step (on the graph or compiled), one accuracy, one
grid for a decision boundary, one limit on BLAS threads.

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
import itertools
import re

import numpy as np

from tinygrad_act import compiler
from tinygrad_act.compiler.codegen import UnsupportedOp
from tinygrad_act.compiler.runner import watched
from tinygrad_act.compiler.tracing import signature
from tinygrad_act.engine import Value
from tinygrad_act.nn import binary_cross_entropy_with_logits


def step(model, inputs, targets, loss_fn, optimizer, monitor=None, compiled=None):
    """One training step: ``outputs = model(inputs)``, ``loss = loss_fn(outputs, targets)``, the
    gradients zeroed, ``loss.backward()``, the health `monitor`'s record (if one watches), the
    optimizer's update. Returns ``(loss, outputs)``, the outputs as they were before the update.

    With `compiled`, a `CompiledStep` of this model and loss, the forward and backward run as its
    generated code instead (the same numbers, bit for bit). A `monitor` reads the graph's values
    (each layer's z, a and dL/da), which a compiled step never builds: while one watches, the
    step is taken on the graph, as it is while a gradient hook, `detect_anomaly()` or forward
    mode is on.

    >>> from tinygrad_act.nn import SGD, Linear, mse_loss
    >>> model = Linear(1, 1, bias=False, rng=0)
    >>> model.weight.data[:] = 1.0
    >>> loss, outputs = step(model, Value(np.array([[2.0]])), np.array([[0.0]]), mse_loss,
    ...                      SGD(model.parameters(), lr=0.1))
    >>> loss.item(), outputs.data.item(), model.weight.data.item()  # dL/dw = 2·(2w - 0)·2 = 8
    (4.0, 2.0, 0.19999999999999996)
    """
    taken = None
    if compiled is not None and monitor is None and watched(optimizer.params) is None:
        compiled.check(model, loss_fn)
        optimizer.zero_grad()  # the compiled call adds into .grad, as backward() does
        taken = compiled(inputs, targets)  # None once the code generator met an op it lacks
    if taken is None:
        taken = graph_pass(model, inputs, targets, loss_fn, optimizer, monitor)
    optimizer.step()
    return taken


def graph_pass(model, inputs, targets, loss_fn, optimizer, monitor=None):
    """`step` without the update, on the graph: the forward, the gradients zeroed, the backward,
    the `monitor`'s record. Returns ``(loss, outputs)``; the parameters are left as they were and
    their ``.grad`` holds this pass's gradients. The lab measures a step's health with it.

    >>> from tinygrad_act.nn import SGD, Linear, mse_loss
    >>> model = Linear(1, 1, bias=False, rng=0)
    >>> model.weight.data[:] = 1.0
    >>> loss, _ = graph_pass(model, Value(np.array([[2.0]])), np.array([[0.0]]), mse_loss,
    ...                      SGD(model.parameters(), lr=0.1))
    >>> loss.item(), model.weight.grad.item(), model.weight.data.item()  # dL/dw = 2·2w·2 = 8
    (4.0, 8.0, 1.0)
    """
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    optimizer.zero_grad()
    loss.backward()
    if monitor is not None:
        monitor.record()
    return loss, outputs


class CompiledStep:
    """The forward and backward of `step` for one `model` and `loss_fn`, compiled: traced on the
    first call (again for each new shape: a last smaller batch traces once more), then run as
    the generated code of `tinygrad_act.compile`, whose numbers are the graph's bit for bit.

    Called as ``compiled(inputs, targets)``, it adds the gradients into the parameters' ``.grad``
    and returns ``(loss, outputs)`` as `step` does. `inputs` is what the model takes: a Value or
    an array, or a list of them (the scalar MLP's input columns), or a list of such lists (one
    per point); each is data, read on every call. Targets that the loss folds into its graph as
    constants (`nn.svm_hinge_loss` and `nn.binary_cross_entropy_with_logits` do, where
    `nn.cross_entropy` reads its labels on every call) are checked: other targets trace again.

    If the code generator cannot write an op of the model or loss (`UnsupportedOp`), the call
    returns None and `step` takes the graph for the rest of the run; ``uncompiled_because``
    then says why, and ``compiling`` is False.

    >>> from tinygrad_act.nn import SGD, mlp, mse_loss
    >>> X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [-1.0]])
    >>> model = mlp([2, 4, 1], "tanh", rng=0)
    >>> opt = SGD(model.parameters(), lr=0.1)
    >>> compiled = CompiledStep(model, mse_loss)
    >>> first, _ = step(model, Value(X), y, mse_loss, opt, compiled=compiled)
    >>> second, outputs = step(model, Value(X), y, mse_loss, opt, compiled=compiled)
    >>> second.item() < first.item(), accuracy(outputs, y), compiled.compiling
    (True, 1.0, True)
    """

    def __init__(self, model, loss_fn):
        if not callable(model) or not callable(loss_fn):
            raise TypeError(
                f"CompiledStep takes a model and a loss function, got {type(model).__name__} "
                f"and {type(loss_fn).__name__}"
            )
        self.model, self.loss_fn = model, loss_fn
        self.uncompiled_because = None  # the code generator's words, once it has failed
        self._compiled = compiler.compile(self._loss_and_outputs)
        self._inputs = None  # how the inputs nest, for the model while it is traced
        self._outputs = {}  # signature -> how the model's outputs nest: a Value, or a list
        self._folded = {}  # signature -> the targets its program took as constants, or None
        self._traced_outputs = None  # what the model returned while it was traced

    @property
    def compiling(self):
        return self.uncompiled_because is None

    @property
    def programs(self):
        """The programs traced so far, one per signature (as `tinygrad_act.compile` keeps them)."""
        return self._compiled.programs

    def check(self, model, loss_fn):
        """Refuse a model or loss other than the ones this step was compiled for."""
        if model is not self.model or loss_fn is not self.loss_fn:
            raise ValueError(
                "step: `compiled` was made for another model or loss function; make a "
                "CompiledStep(model, loss_fn) for this one"
            )

    def __call__(self, inputs, targets):
        if not self.compiling:
            return None
        args = (*(_data(x) for x in _leaves(inputs)), targets)
        key = signature(args)
        folded = self._folded.get(key)
        if folded is not None and not _same(folded, targets):  # its program has other targets
            del self._compiled.programs[key]
        try:
            if key not in self._compiled.programs:
                self._trace(key, inputs, args)
            loss, *outputs = self._compiled(*args)
        except UnsupportedOp as err:
            self.uncompiled_because = str(err)
            return None
        return loss, _rebuild(self._outputs[key], iter(outputs))

    def _trace(self, key, inputs, args):
        """Trace for `args`, noting how the outputs nest and whether the program reads its
        targets (a loss may fold them in as constants: then they are kept to compare)."""
        self._inputs = inputs
        program = self._compiled.trace(*args).program
        self._outputs[key] = _rebuild(self._traced_outputs, itertools.repeat(None))
        self._traced_outputs = None
        body = program.runnable.split("\n", 1)[1]  # past the def line, which names every argument
        reads = re.search(rf"\b{re.escape(program.arg_names[len(args) - 1])}\b", body)
        self._folded[key] = None if reads else np.array(args[-1], copy=True)

    def _loss_and_outputs(self, *args):
        *leaves, targets = args
        outputs = self.model(_rebuild(self._inputs, iter(leaves)))
        self._traced_outputs = outputs
        return (self.loss_fn(outputs, targets), *_leaves(outputs))


def _leaves(tree):
    """The Values and arrays of a list of lists (or of one), in order."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def _rebuild(tree, leaves):
    """`tree`'s nesting, with the next of `leaves` in place of each of its own."""
    if isinstance(tree, (list, tuple)):
        return [_rebuild(item, leaves) for item in tree]
    return next(leaves)


def _data(x):
    return x.data if isinstance(x, Value) else x


def _same(a, b):
    b = np.asarray(_data(b))
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


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
