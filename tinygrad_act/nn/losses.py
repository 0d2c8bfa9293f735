"""Losses. Each takes a tensor Value, or a list of scalar Values (then it computes as micrograd would),
and is written with the engine's ops, so its gradient comes from backprop."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_act.activations import ACTIVATIONS, softmax
from tinygrad_act.engine import Value, make_node

_log_softmax = ACTIVATIONS["log_softmax"].forward  # on raw arrays: the loss's forward needs no node


def _numbers(target, what):
    try:
        arr = np.asarray(target.data if isinstance(target, Value) else target)
    except ValueError:  # a ragged list
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numbers, got {_kind(target, arr)}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        first = np.argwhere(np.isnan(arr))[0].tolist()
        raise ValueError(f"{what} contain NaN (first at index {first})")
    return arr


def _kind(x, arr):
    return type(x).__name__ if arr.dtype == object else f"dtype {arr.dtype}"


def _predictions(pred, loss, what):
    """A Value (tensor or scalar) or a non-empty list of Values; the rest is refused by name."""
    if isinstance(pred, Value):
        if pred.size == 0:
            raise ValueError(f"{loss}: the batch is empty ({what} of shape {pred.shape})")
        return pred
    if isinstance(pred, (list, tuple)):
        if not pred:
            raise ValueError(f"{loss}: the batch is empty (no {what})")
        bad = next((p for p in pred if not isinstance(p, Value)), None)
        if bad is None:
            return pred
        got = f"a {type(pred).__name__} holding {type(bad).__name__}"
    else:
        got = type(pred).__name__
    raise TypeError(
        f"{loss} takes {what} as a Value or a list of Values (the outputs of a model), got {got}; "
        "wrap an array in Value(...)"
    )


def _check_same_shape(loss, pred, target):
    if pred.shape != target.shape:
        raise ValueError(
            f"{loss}: predictions have shape {pred.shape} but targets have shape {target.shape}"
        )


def mse_loss(pred, target):
    """Mean squared error, mean((pred - target)²).

    >>> mse_loss(Value(np.array([1.0, 2.0])), np.array([0.0, 0.0])).item()
    2.5
    """
    pred = _predictions(pred, "mse_loss", "predictions")
    if isinstance(pred, (list, tuple)):
        target = list(_numbers(target, "mse_loss targets").ravel())
        if len(pred) != len(target):
            raise ValueError(f"mse_loss: {len(pred)} predictions but {len(target)} targets")
        return sum((p - float(t)) ** 2 for p, t in zip(pred, target, strict=True)) * (
            1.0 / len(pred)
        )
    checked = _numbers(target, "mse_loss targets")
    if not isinstance(target, Value):
        target = checked
    if pred.is_scalar:
        return (pred - target) ** 2
    _check_same_shape("mse_loss", pred, target)
    diff = pred - target
    return (diff * diff).mean()


def binary_cross_entropy_with_logits(logits, targets):
    """Mean of -y·log σ(z) - (1-y)·log(1-σ(z)), computed stably as softplus(z) - y·z.

    softplus(z) = log(1+e^z) never overflows (see activations), so logits of ±1000 give finite
    losses; its gradient is σ(z) - y.

    >>> round(binary_cross_entropy_with_logits(Value(np.array([0.0])), [1.0]).item(), 6)
    0.693147
    """
    logits = _predictions(logits, "binary_cross_entropy_with_logits", "logits")
    y = _numbers(targets, "binary_cross_entropy_with_logits targets")
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"binary_cross_entropy_with_logits: targets must lie in [0, 1], got {y.min():g}..{y.max():g}"
        )
    if isinstance(logits, (list, tuple)):
        ys = [float(t) for t in y.ravel()]
        if len(logits) != len(ys):
            raise ValueError(
                f"binary_cross_entropy_with_logits: {len(logits)} logits but {len(ys)} targets"
            )
        terms = [z.softplus() - z * t for z, t in zip(logits, ys, strict=True)]
        return sum(terms) * (1.0 / len(terms))
    if logits.is_scalar:
        return logits.softplus() - logits * float(y)
    _check_same_shape("binary_cross_entropy_with_logits", logits, y)
    return (logits.softplus() - logits * y).mean()


def cross_entropy(logits, labels):
    """Softmax cross-entropy from logits (N, C) and integer class labels (N,), averaged over N.

    -log softmax(z)[label], computed as log_softmax (shifted by the row max, so it is stable) and
    integer-array indexing: the gradient is softmax(z) - onehot(label), divided by N.

    >>> round(cross_entropy(Value(np.zeros((2, 4))), [0, 3]).item(), 6) == round(math.log(4), 6)
    True
    """
    if not isinstance(logits, Value):
        raise TypeError(
            f"cross_entropy takes logits as a tensor Value of shape (N, C), got "
            f"{type(logits).__name__}; wrap an array in Value(...)"
        )
    _predictions(logits, "cross_entropy", "logits")
    # Our own copy: the backward pass reads the labels, and the caller may reuse its array.
    y = np.array(labels.data if isinstance(labels, Value) else labels, copy=True)
    if y.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: labels must be integer class indices, got dtype {y.dtype}")
    if logits.ndim == 1:
        logits, y = logits.reshape(1, -1), y.reshape(-1)
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ValueError(
            f"cross_entropy: takes logits (N, C) and labels (N,), got shapes {logits.shape} and {y.shape}"
        )
    n, c = logits.shape
    y = y.astype(np.intp, copy=False)
    if n and np.maximum.reduce(y.view(np.uintp)) >= c:  # unsigned: a negative label is huge
        raise ValueError(f"cross_entropy: labels must lie in 0..{c - 1}, got {y.min()}..{y.max()}")
    # One node, as torch's F.cross_entropy: its gradient is (softmax(z) - onehot) / N, which is
    # what log_softmax, the pick and the mean compose to, without a node or a scatter for each.
    z = logits.data
    logp = _log_softmax(z)
    at_label = np.arange(0, n * c, c) + y  # each row's label in the flattened (N, C) array
    total = float(np.add.reduce(logp.take(at_label)))
    loss = np.array(-total / n if n else math.nan, dtype=z.dtype)
    return make_node(loss, logits, None, "cross_entropy", _CrossEntropyRule(logp, at_label))


class _CrossEntropyRule:
    """d(cross_entropy)/dz = (softmax(z) - onehot(labels)) / N. The plain pass takes the softmax
    from the forward's log_softmax and subtracts 1 at each row's label; on Values (create_graph)
    softmax(z) is recorded, so the loss can be differentiated twice. Nothing of it is computed
    unless backward runs."""

    __slots__ = ("logp", "at_label")

    def __init__(self, logp, at_label):
        self.logp, self.at_label = logp, at_label

    def __call__(self, g, a, z):
        n = len(self.at_label)
        if isinstance(z, Value):
            onehot = np.zeros(self.logp.size, dtype=self.logp.dtype)
            onehot[self.at_label] = 1
            return ((softmax(z) - onehot.reshape(self.logp.shape)) * (g * (1.0 / max(n, 1))),)
        probs = np.exp(self.logp)
        probs.reshape(-1)[self.at_label] -= 1  # through a view: the subtraction lands in probs
        probs *= float(g) / max(n, 1)  # g is the loss's: one number
        return (probs,)

    def jvp(self, dz, a, z):
        """Forward mode: the loss's tangent is mean over rows of Σ (softmax(z) - onehot) · ż."""
        n = len(self.at_label)
        picked = dz.reshape(-1)[self.at_label]
        return ((np.exp(self.logp) * dz).sum() - picked.sum()) * (1.0 / max(n, 1))


def svm_hinge_loss(scores, labels):
    """The max-margin loss of micrograd's demo: mean of relu(1 - y·score), labels ±1.

    For a list of scalar Values it computes exactly what the demo writes:
    ``sum((1 + -yi*scorei).relu() for ...) * (1.0 / n)``.

    >>> svm_hinge_loss([Value(2.0), Value(0.5)], [1, 1]).data
    0.25
    """
    scores = _predictions(scores, "svm_hinge_loss", "scores")
    y = _numbers(labels, "svm_hinge_loss labels")
    if not np.isin(y, (-1, 1)).all():
        raise ValueError(f"svm_hinge_loss: labels must be -1 or +1, got {np.unique(y).tolist()}")
    if isinstance(scores, (list, tuple)):
        ys = y.ravel().tolist()
        if len(scores) != len(ys):
            raise ValueError(f"svm_hinge_loss: {len(scores)} scores but {len(ys)} labels")
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(ys, scores, strict=True)]
        return sum(losses) * (1.0 / len(losses))
    if scores.is_scalar:
        return (1 + -float(y) * scores).relu()
    if scores.ndim == 2 and scores.shape[1] == 1 and y.ndim == 1:
        scores = scores.reshape(-1)
    _check_same_shape("svm_hinge_loss", scores, y)
    return (1 + -y * scores).relu().mean()


def l2_penalty(params, alpha=1e-4):
    """alpha · Σ p², the weight penalty of micrograd's demo.

    >>> l2_penalty([Value(1.0), Value(2.0)], alpha=0.5).data
    2.5
    """
    return alpha * sum((p * p if p.is_scalar else (p * p).sum()) for p in params)
