"""`Value`, a node of a computation graph, and the recording of that graph as expressions are built.

A `Value` holds a scalar (a Python ``float``) or a tensor (an ``np.ndarray``). Every op computes its
result, then records its inputs (read as the tuple ``_prev``, in a stable order), its name in
``_op``, and its local-gradient rule in ``_rule``: a row of the op table (`rules`) or of the
activation table (`activations`). The inputs live in two slots rather than a tuple: one object per
node is half the work for Python's cycle collector, which scans every live node as a graph grows.

The graph's public face, for everything outside the engine (drawings, the lab, checks, generated
code): ``_prev`` and ``_op`` (micrograd's names, which the lecture's notebooks read), ``rule``,
``grad_data``, ``label``, ``data`` and ``requires_grad``; `make_node` records a node for an op
defined elsewhere; `backprop` applies rules and walks the pass. The other underscored slots are the
engine's own (a test keeps the rest of the package off them).

Where the rest lives: grad mode in `grad_mode`, the backward pass and `gradients` in `backprop`.
This module re-exports them, so ``from tinygrad_act.engine import Value, no_grad, gradients`` works.
"""

from __future__ import annotations

import operator
from collections import namedtuple

import numpy as np

from tinygrad_act import activations as _registry
from tinygrad_act import backprop, display, grad_mode, inputs, numpy_api, observe
from tinygrad_act.backprop import FITTED_RULES, gradients
from tinygrad_act.grad_mode import enable_grad, is_grad_enabled, no_grad
from tinygrad_act.inputs import as_data, count, one_axis, reduction_axis
from tinygrad_act.numeric import data_of, exp, ieee, log, pow_, quietly, sqrt
from tinygrad_act.rules import (
    MATMUL_RULES,
    ClipRule,
    ConcatRule,
    GetitemRule,
    MaxRule,
    PowRule,
    ReductionRule,
    ScatterRule,
    TransposeRule,
    VarRule,
    WhereRule,
    abs_rule,
    add_rule,
    broadcast_rule,
    div_rule,
    exp_rule,
    index_along,
    log_rule,
    maximum_rule,
    minimum_rule,
    mul_rule,
    neg_rule,
    pow_value_rule,
    reshape_rule,
    sqrt_rule,
    sub_rule,
)

__all__ = ["Value", "enable_grad", "gradients", "is_grad_enabled", "no_grad"]


def _lift(x, like):
    """Wrap a number or array operand as a constant leaf: data that needs no gradient (as in
    PyTorch); an array takes the dtype of the tensor it meets."""
    if isinstance(x, Value):
        return x
    if isinstance(x, np.ndarray) and type(like.data) is np.ndarray:
        x = inputs.in_dtype(x, like.data.dtype)
    return Value(x, requires_grad=False)


_new_value = object.__new__
_ndarray = np.ndarray


def _make(data, x, y, op, rule):
    """A new node holding `data`, made by the op named `op` from x (and y; None for one input),
    whose backward rule is ``rule(g, a, *inputs)``. It records its inputs and rule only if one of
    them needs a gradient (and not under `no_grad`); otherwise it is a leaf that needs none."""
    out = _new_value(Value)
    if type(data) is float:
        out._grad = 0.0
    elif type(data) is _ndarray:
        out._grad = None
    else:
        data = np.asarray(data)  # numpy gives scalars for 0-d results; a tensor op a tensor
        out._grad = None
    out.data = data
    out._label = ""
    out._g = None
    out._uses = 0
    if (
        (not grad_mode._threads_not_recording or grad_mode._grad_mode.enabled)
        and x is not None
        and (x.requires_grad or (y is not None and y.requires_grad))
    ):
        out._x = x  # (one slot at a time: a 4-tuple assignment builds a tuple first)
        out._y = y
        out._op = op
        out._rule = rule
        out.requires_grad = True
    else:
        out._x = out._y = out._rule = None
        out._op = ""
        out.requires_grad = False
    if observe.watcher is not None:  # forward mode or anomaly mode is on (on some thread)
        observe.watcher(out, x, y, op, rule)
    return out


# The public name of `_make`, for an op defined outside the engine (nn's cross_entropy): the ops
# here call it by the short name.
make_node = _make


class Value:
    """A scalar or a tensor that records the graph of the expressions built from it.

    >>> x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    >>> n = (x * w + b).tanh()
    >>> n.backward()
    >>> round(x.grad, 6), round(w.grad, 6)
    (-1.5, 1.0)

    ``requires_grad=False`` marks data that needs no gradient (numbers and arrays mixed into an
    expression are such constants); an op on constants only records no graph.

    >>> X = Value([[1.0, 2.0]], requires_grad=False)
    >>> W = Value([[3.0], [4.0]])
    >>> (X @ W).sum().backward()
    >>> W.grad.ravel().tolist(), X.grad.ravel().tolist()
    ([1.0, 2.0], [0.0, 0.0])
    """

    __slots__ = ("data", "_grad", "_label", "_x", "_y", "_op", "_rule", "_g", "_uses")
    __slots__ += ("requires_grad", "__weakref__")

    def __init__(self, data, _children=(), _op="", label="", requires_grad=True):
        if type(data) is not float:  # (a float is taken as it is: the scalar path's constants)
            data = as_data(data.data if isinstance(data, Value) else data)  # a copy: a new leaf
        self.data = data
        self.requires_grad = bool(requires_grad)
        self._grad = 0.0 if type(self.data) is float else None
        children = tuple(_children)
        if len(children) > 2:
            raise ValueError(f"a Value records at most two inputs, got {len(children)}")
        self._x, self._y = (*children, None, None)[:2]
        self._op = _op
        self._rule = None
        self._g, self._uses = None, 0  # bookkeeping of a backward pass while it runs
        if type(label) is not str:
            inputs.check_label(label)
        self._label = label

    @property
    def label(self):
        """The name drawings and messages use for this value ("" for none)."""
        return self._label

    @label.setter
    def label(self, text):
        inputs.check_label(text)
        self._label = text

    @property
    def _prev(self):
        """The inputs this value was computed from, in order: (), (x,) or (x, y). Public, as
        micrograd's ``_prev`` and ``_op`` (the name of the op that made it, "" for a leaf)."""
        x = self._x
        if x is None:
            return ()
        y = self._y
        return (x,) if y is None else (x, y)

    @property
    def rule(self):
        """The local-gradient rule that made this value, ``rule(g, a, *inputs) -> one share per
        input``: a row of `rules` or of `activations`; None for a leaf. `backprop.apply_rule`
        applies it as the backward pass does."""
        return self._rule

    @property
    def grad_data(self):
        """The stored gradient as raw data (a float, an array, or a ``create_graph`` gradient's
        data), or None for a tensor no backward pass has reached: unlike ``.grad``, reading it
        allocates no zeros.

        >>> Value([1.0, 2.0]).grad_data is None, Value(1.0).grad_data
        (True, 0.0)
        """
        grad = self._grad
        return None if grad is None else data_of(grad)

    # ---- gradient ---------------------------------------------------------------------------------

    @property
    def grad(self):
        """dL/d(this value), accumulated by `backward`: a float, or an array of `data`'s shape."""
        if self._grad is None:
            self._grad = np.zeros_like(self.data)
        return self._grad

    @grad.setter
    def grad(self, value):
        if (
            value is None
        ):  # PyTorch's reset idiom: reads give zeros, the next backward starts afresh
            self.zero_grad()
        else:
            self._grad = value if isinstance(value, Value) else inputs.as_grad(value, self.data)

    def zero_grad(self):
        """Reset this value's gradient to zero."""
        self._grad = 0.0 if type(self.data) is float else None

    # ---- facts --------------------------------------------------------------------------------------

    @property
    def shape(self):
        return () if type(self.data) is float else self.data.shape

    @property
    def ndim(self):
        return 0 if type(self.data) is float else self.data.ndim

    @property
    def size(self):
        return 1 if type(self.data) is float else self.data.size

    @property
    def dtype(self):
        return np.dtype(np.float64) if type(self.data) is float else self.data.dtype

    @property
    def is_scalar(self):
        """True for a scalar Value (data is a Python float), False for a tensor."""
        return type(self.data) is float

    def item(self):
        """The value as a Python float (a tensor must hold exactly one element)."""
        if type(self.data) is float:
            return self.data
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a Value with one element; this one has shape {self.shape}"
            )
        return float(self.data.reshape(()))

    def __float__(self):
        return self.item()

    def __len__(self):
        if type(self.data) is float:
            raise TypeError("a scalar Value has no len()")
        return len(self.data)

    def __bool__(self):
        raise TypeError(
            "a Value has no truth value (it is a node of a graph, not a condition): compare its "
            "data, e.g. `if v.data > 0:` or `if v.item() != 0:`, or test `v is not None`"
        )

    def __repr__(self):
        return display.text(self.data, self._grad, self.label)

    def _repr_html_(self):
        """Jupyter shows a Value as a one-row table, as a node of the lecture's graph is drawn."""
        return display.html_row(self.data, self._grad, self.label, self._op)

    # numpy's protocols: np.tanh(v), np.sum(v, axis=0), np.ones(3) + v run the engine's ops.
    __array_ufunc__ = numpy_api.array_ufunc
    __array_function__ = numpy_api.array_function
    __array__ = numpy_api.refuse_conversion  # np.asarray(v) would drop the graph

    # Comparisons give the raw comparison of the data (a bool or a bool array), never a graph node.
    def __lt__(self, other):
        return self.data < data_of(other)

    def __le__(self, other):
        return self.data <= data_of(other)

    def __gt__(self, other):
        return self.data > data_of(other)

    def __ge__(self, other):
        return self.data >= data_of(other)

    # ---- arithmetic ---------------------------------------------------------------------------------

    def __add__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data + other.data
        except ValueError:
            raise inputs.shape_error("+", self, other) from None
        except RuntimeWarning:  # inf + -inf or an overflow, with warnings as errors
            data = quietly(operator.add, self.data, other.data)
        return _make(data, self, other, "+", add_rule)

    def __sub__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data - other.data
        except ValueError:
            raise inputs.shape_error("-", self, other) from None
        except RuntimeWarning:  # inf - inf or an overflow, with warnings as errors
            data = quietly(operator.sub, self.data, other.data)
        return _make(data, self, other, "-", sub_rule)

    def __mul__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data * other.data
        except ValueError:
            raise inputs.shape_error("*", self, other) from None
        except RuntimeWarning:  # inf * 0 or an overflow, with warnings as errors
            data = quietly(operator.mul, self.data, other.data)
        return _make(data, self, other, "*", mul_rule)

    def __truediv__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        x, y = self.data, other.data
        if type(x) is float and type(y) is float:
            data = x / y if y != 0.0 else ieee(np.divide, x, y)
        else:
            try:
                with np.errstate(divide="ignore", invalid="ignore"):
                    data = x / y
            except ValueError:
                raise inputs.shape_error("/", self, other) from None
        return _make(data, self, other, "/", div_rule)

    def __pow__(self, other):
        if isinstance(other, Value):
            return self._pow_value(other)
        p = inputs.exponent(other)
        return _make(pow_(self.data, p), self, None, f"**{p:g}", PowRule(p))

    def _pow_value(self, exponent):
        try:
            data = pow_(self.data, exponent.data)
        except ValueError:
            raise inputs.shape_error("**", self, exponent) from None
        return _make(data, self, exponent, "**", pow_value_rule)

    def __neg__(self):
        return _make(-self.data, self, None, "neg", neg_rule)

    def __radd__(self, other):
        return _lift(other, self) + self

    def __rsub__(self, other):
        return _lift(other, self) - self

    def __rmul__(self, other):
        return _lift(other, self) * self

    def __rtruediv__(self, other):
        return _lift(other, self) / self

    def __rpow__(self, other):
        return _lift(other, self)._pow_value(self)

    def exp(self):
        """e^z; its local gradient is the output itself: d/dz e^z = a."""
        return _make(exp(self.data), self, None, "exp", exp_rule)

    def log(self):
        """Natural log; log(0) = -inf and log of a negative number is nan, as in numpy."""
        return _make(log(self.data), self, None, "log", log_rule)

    def sqrt(self):
        """√z; local gradient 1/(2a) (inf at z = 0, as in PyTorch)."""
        return _make(sqrt(self.data), self, None, "sqrt", sqrt_rule)

    def abs(self):
        """The absolute value of z; local gradient sign z, 0 at the kink z = 0 (as in PyTorch)."""
        return _make(abs(self.data), self, None, "abs", abs_rule)

    __abs__ = abs

    def maximum(self, other):
        """The larger of the two, elementwise (np.maximum); a tie gives each half the gradient."""
        return self._pick(other, "maximum", np.maximum, maximum_rule)

    def minimum(self, other):
        """The smaller of the two, elementwise (np.minimum); a tie gives each half the gradient."""
        return self._pick(other, "minimum", np.minimum, minimum_rule)

    def where(self, condition, other):
        """This value where `condition` holds, `other` elsewhere, as ``torch.where(condition, self,
        other)``; each gets g where it was chosen. The condition is bools, such as ``z > 0``."""
        condition = inputs.condition(condition, "where")
        return self._pick(
            other, "where", lambda x, y: np.where(condition, x, y), WhereRule(condition)
        )

    def _pick(self, other, op, fn, rule):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = fn(self.data, other.data)
        except ValueError:
            raise inputs.shape_error(op, self, other) from None
        if data.ndim == 0 and type(self.data) is float and type(other.data) is float:
            data = float(data)  # scalars stay Python floats
        return _make(data, self, other, op, rule)

    def clip(self, min=None, max=None):
        """z held within [min, max] (np.clip, torch.clamp): slope 1 inside and at the bounds
        themselves (as PyTorch), 0 outside. The bounds are constants: numbers or arrays."""
        lo, hi = (inputs.bound(b, self, "clip") for b in (min, max))
        data = self.data if lo is None else np.maximum(self.data, lo)
        data = data if hi is None else np.minimum(data, hi)
        if type(self.data) is float and np.ndim(data) == 0:
            data = float(data)
        return _make(data, self, None, "clip", ClipRule(lo, hi))

    clamp = clip  # PyTorch's name

    # ---- tensor ops ---------------------------------------------------------------------------------

    def __matmul__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data @ other.data
        except RuntimeWarning:  # an overflow, with warnings as errors
            data = quietly(operator.matmul, self.data, other.data)
        except (ValueError, TypeError):  # explained there, off the hot path
            raise inputs.matmul_error(self.shape, other.shape) from None
        rule = MATMUL_RULES[self.requires_grad, other.requires_grad]
        return _make(data, self, other, "@", rule)

    def __rmatmul__(self, other):
        return _lift(other, self) @ self

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Sum over `axis` (all axes by default; ``dim=``, ``keepdim=`` as in PyTorch): a Value."""
        inputs.need_tensor(self.data, "sum")
        axis, keepdims, _ = reduction_axis("sum", self.ndim, axis, keepdims, dim, keepdim)
        try:
            data = self.data.sum(axis=axis, keepdims=keepdims)
        except RuntimeWarning:  # inf + -inf, with warnings as errors
            data = quietly(self.data.sum, axis=axis, keepdims=keepdims)
        return _make(data, self, None, "sum", ReductionRule(axis, keepdims, 1))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Mean over `axis` (all axes by default); ``dim=``, ``keepdim=`` as in PyTorch."""
        inputs.need_tensor(self.data, "mean")
        axis, keepdims, _ = reduction_axis("mean", self.ndim, axis, keepdims, dim, keepdim)
        n = count(self.shape, axis)  # how many entries each mean averages
        if n == 0:  # nan, numpy's value, without its "Mean of empty slice" warning
            data = quietly(np.divide, self.data.sum(axis=axis, keepdims=keepdims), 0)
            return _make(data, self, None, "mean", ReductionRule(axis, keepdims, 0.0))
        try:
            data = self.data.mean(axis=axis, keepdims=keepdims)
        except RuntimeWarning:  # inf + -inf, with warnings as errors
            data = quietly(self.data.mean, axis=axis, keepdims=keepdims)
        return _make(data, self, None, "mean", ReductionRule(axis, keepdims, 1.0 / n))

    def var(self, axis=None, keepdims=False, ddof=None, *, dim=None, keepdim=None, unbiased=None, correction=None):  # fmt: skip
        """Variance over `axis`, Σ(z-mean)²/(n-ddof); local gradient 2(z-mean)/(n-ddof).

        The spelling decides the divisor: numpy's (``axis``, ``keepdims``, ``ddof``) divides by
        n unless ddof says otherwise; PyTorch's (``dim``, ``keepdim``, ``unbiased``,
        ``correction``) by n - 1 unless told otherwise. ``v.var(0)`` is numpy's spelling.

        >>> v = Value([1.0, 2.0, 3.0, 4.0])
        >>> v.var().item(), v.var(dim=0).item(), v.var(ddof=1).item()
        (1.25, 1.6666666666666667, 1.6666666666666667)
        """
        return self._spread("var", axis, keepdims, ddof, dim, keepdim, unbiased, correction)

    def std(self, axis=None, keepdims=False, ddof=None, *, dim=None, keepdim=None, unbiased=None, correction=None):  # fmt: skip
        """Standard deviation, √var, with var's keywords and divisors; its slope is 0 where it is 0."""
        return self._spread("std", axis, keepdims, ddof, dim, keepdim, unbiased, correction)

    def _spread(self, op, axis, keepdims, ddof, dim, keepdim, unbiased, correction):
        inputs.need_tensor(self.data, op)
        axis, keepdims, torch = reduction_axis(op, self.ndim, axis, keepdims, dim, keepdim)
        offset = inputs.divisor_offset(op, ddof, unbiased, correction, torch)
        divisor = count(self.shape, axis) - offset
        data = quietly(self.data.var, axis=axis, keepdims=keepdims, ddof=offset)
        data = np.sqrt(data) if op == "std" else data
        return _make(data, self, None, op, VarRule(axis, keepdims, divisor, root=op == "std"))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Maximum over `axis`, the gradient split evenly among tied maxima (as torch.amax).

        Spelled PyTorch's way, ``x.max(dim, keepdim=...)`` or ``x.max(dim=...)`` returns what
        torch does: ``(values, indices)``, the gradient going to the index picked.

        >>> x = Value([[1.0, 3.0], [5.0, 2.0]])
        >>> x.max(1).data, x.max(1, keepdim=False).indices
        (array([3., 5.]), array([1, 0]))
        """
        return self._extreme("max", np.argmax, axis, keepdims, dim, keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Minimum over `axis`: as `max`, spelled numpy's or PyTorch's way."""
        return self._extreme("min", np.argmin, axis, keepdims, dim, keepdim)

    def _extreme(self, op, arg, axis, keepdims, dim, keepdim):
        inputs.need_tensor(self.data, op)
        axis, keepdims, torch = reduction_axis(op, self.ndim, axis, keepdims, dim, keepdim)
        if self.data.size == 0:
            raise ValueError(f"{op}: the Value is empty")
        if (
            torch and type(axis) is int
        ):  # torch's values and indices: the gradient goes to the index
            index = index_along(arg(self.data, axis=axis, keepdims=True), axis, keepdims)
            values = _make(self.data[index], self, None, op, GetitemRule(index))
            return MaxMin(values, index[axis])
        data = self.data.max(axis=axis, keepdims=keepdims) if op == "max" else self.data.min(axis=axis, keepdims=keepdims)  # fmt: skip
        return _make(data, self, None, op, MaxRule(axis, keepdims))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The index of the maximum (a plain int array: an index has no gradient)."""
        axis, keep, _ = reduction_axis("argmax", self.ndim, axis, keepdims, dim, keepdim)
        return np.argmax(self.data, axis, keepdims=keep)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The index of the minimum (a plain int array)."""
        axis, keep, _ = reduction_axis("argmin", self.ndim, axis, keepdims, dim, keepdim)
        return np.argmin(self.data, axis, keepdims=keep)

    def reshape(self, *shape):
        """The same data in a new shape: ``v.reshape(2, 3)`` or ``v.reshape((2, 3))``."""
        inputs.need_tensor(self.data, "reshape")
        return _make(inputs.reshaped(self.data, shape), self, None, "reshape", reshape_rule)

    view = reshape  # PyTorch's name: emb.view(32, -1)

    def flatten(self, start_dim=0, end_dim=-1):
        """Axes start_dim..end_dim merged into one (all of them by default), as torch.flatten."""
        inputs.need_tensor(self.data, "flatten")
        i, j = (one_axis(a, self.ndim, "flatten") % self.ndim for a in (start_dim, end_dim))
        return self._reshaped(self.shape[:i] + (-1,) + self.shape[j + 1 :], "flatten")

    def squeeze(self, axis=None, *, dim=None):
        """Axes of length 1 dropped: all of them, or `axis` (numpy: an error if it is not of
        length 1) or `dim` (PyTorch: then left as it is)."""
        inputs.need_tensor(self.data, "squeeze")
        axis, _, torch = reduction_axis("squeeze", self.ndim, axis, False, dim, None)
        return self._reshaped(inputs.squeezed(self.shape, axis, torch), "squeeze")

    def unsqueeze(self, dim):
        """A new axis of length 1 at position `dim` (np.expand_dims, torch.unsqueeze)."""
        inputs.need_tensor(self.data, "unsqueeze")
        at = one_axis(dim, self.ndim + 1, "unsqueeze") % (self.ndim + 1)
        return self._reshaped(self.shape[:at] + (1,) + self.shape[at:], "unsqueeze")

    def expand_dims(self, axis):
        """numpy's name for `unsqueeze`: a new axis of length 1 at position `axis`."""
        return self.unsqueeze(axis)

    def _reshaped(self, shape, op):
        return _make(self.data.reshape(shape), self, None, op, reshape_rule)

    def transpose(self, *axes):
        """Permute the axes (reverse them by default), as ``np.transpose``."""
        inputs.need_tensor(self.data, "transpose")
        axes = inputs.permutation(axes, self.shape)
        return _make(self.data.transpose(axes), self, None, "transpose", TransposeRule(axes))

    @property
    def T(self):
        return self.transpose()

    def swapaxes(self, axis1, axis2):
        """Exchange two axes, as ``np.swapaxes``."""
        inputs.need_tensor(self.data, "swapaxes")
        return self.transpose(inputs.swapped(self.ndim, axis1, axis2))

    def broadcast_to(self, shape):
        """Broadcast to `shape`; the gradient is summed back."""
        return _make(inputs.broadcast(self.data, shape), self, None, "broadcast", broadcast_rule)

    def __getitem__(self, index):
        inputs.need_tensor(self.data, "indexing")
        index = inputs.own_index(index)  # our copy: the caller may change theirs
        data = self.data[index]
        return _make(np.array(data, copy=True), self, None, "[]", GetitemRule(index))

    def cat(self, *others, dim=0):
        """This value and `others` joined along axis `dim` (torch.cat, np.concatenate); each gets
        its own slice of the gradient back. A node records at most two inputs, so more than two
        join two at a time, in a balanced tree of "cat" nodes (see `tinygrad_act.cat`)."""
        inputs.need_tensor(self.data, "cat")
        axis = one_axis(dim, self.ndim, "cat") % self.ndim
        parts = [self, *(p if type(p) is Value else _lift(p, self) for p in others)]
        inputs.check_join([p.shape for p in parts], axis, "cat")
        while len(parts) > 1:
            pairs = [parts[i : i + 2] for i in range(0, len(parts), 2)]
            parts = [_cat2(*pair, axis) if len(pair) == 2 else pair[0] for pair in pairs]
        return parts[0]

    def _scatter(self, index, shape):
        out = np.zeros(shape, dtype=self.dtype)
        np.add.at(out, index, self.data)
        return _make(out, self, None, "scatter", ScatterRule(index))

    # ---- activations: forward and local gradient live in activations.py ----------------------------

    def activate(self, name, **params):
        """Apply the registered activation `name`, e.g. ``v.activate("leaky_relu", slope=0.1)``."""
        try:
            spec = _registry.ACTIVATIONS[name]
        except (KeyError, TypeError):
            spec = _registry.lookup(name)  # raises, naming the registered activations
        if spec.tensor_only:
            inputs.need_tensor(self.data, name)
        z = self.data
        if params:
            try:  # the methods pass their own defaults: the fast path is one comparison
                plain = params == spec.defaults
            except (ValueError, TypeError):  # an array's == gives no answer: bind names it
                plain = False
            params = spec.defaults if plain else spec.bind(params)  # bind checks each one
        try:
            if params and params is not spec.defaults:
                a = spec.forward(z, **params)
                rule = _registry.activation_rule(spec, params)
            else:
                forward = spec.forward  # an attribute, not a method: LOAD_ATTR is the fast lookup
                a = forward(z)  # the forward's own defaults are the row's defaults
                rule = spec.rule
        except RuntimeWarning:  # silu(-inf) is nan, softmax of an inf row nan: warnings as errors
            a = quietly(spec.forward, z, **(params or {}))
            rule = _registry.activation_rule(spec, params) if params else spec.rule
        if type(z) is float:
            if type(a) is not float:
                a = float(a)
        elif rule not in FITTED_RULES and (type(a) is not np.ndarray or a.dtype is not z.dtype):
            a = np.asarray(a, dtype=z.dtype)  # a registered forward may change the dtype
        return _make(a, self, None, name, rule)

    def sigmoid(self):
        """a = 1/(1+e^-z); local gradient a(1-a)."""
        return self.activate("sigmoid")

    def tanh(self):
        """a = tanh z; local gradient 1-a²."""
        return self.activate("tanh")

    def relu(self):
        """a = max(0, z); local gradient 0 if z<0, 1 if z>=0 (the lecture's choice at 0)."""
        return self.activate("relu")

    def leaky_relu(self, slope=0.01):
        """a = max(slope·z, z); local gradient slope if z<0, 1 if z>=0."""
        return self.activate("leaky_relu", slope=slope)

    def softplus(self):
        """a = log(1+e^z); local gradient sigmoid(z)."""
        return self.activate("softplus")

    def elu(self, alpha=1.0):
        """a = z if z>0 else alpha(e^z-1); local gradient 1 if z>=0 else a+alpha."""
        return self.activate("elu", alpha=alpha)

    def silu(self):
        """a = z·sigmoid(z); local gradient s(1+z(1-s)) with s = sigmoid(z)."""
        return self.activate("silu")

    def gelu(self):
        """GELU, tanh approximation: a = z/2·(1+tanh(√(2/π)(z+0.044715z³)))."""
        return self.activate("gelu")

    def softmax(self, axis=-1, *, dim=None):
        """a = e^z / Σe^z along `axis` (or PyTorch's `dim`), computed stably; tensors only."""
        return self.activate("softmax", axis=axis if dim is None else dim)

    def log_softmax(self, axis=-1, *, dim=None):
        """a = z - log Σe^z along `axis` (or PyTorch's `dim`), computed stably; tensors only."""
        return self.activate("log_softmax", axis=axis if dim is None else dim)

    # ---- backward -----------------------------------------------------------------------------------

    def backward(self, grad=None, create_graph=False):
        """Add d(self)/d(node) to the ``.grad`` of every node of the graph (leaves and intermediates).

        A scalar (or one-element) root is seeded with 1; a larger tensor root needs `grad` of its shape.
        Calling it twice adds the gradients twice, as PyTorch does with ``retain_graph=True``.
        With ``create_graph=True`` the gradients are Values with a graph of their own, so they can be
        differentiated again; as in PyTorch, a leaf's ``.grad`` then refers to a graph that refers
        back to the leaf (a reference cycle): `gradients` or `grad` avoid it.
        """
        backprop.backward(self, grad, create_graph)

    def _backward(self):
        """One chain-rule step by hand, as in micrograd's lecture: each input's ``grad`` += its local
        derivative × ``self.grad``. A leaf has no inputs: nothing happens.

        Called on every node in reverse topological order after setting the root's grad to 1,
        it gives the gradients ``backward()`` gives.

        >>> x, w = Value(2.0), Value(-3.0)
        >>> y = x * w
        >>> y.grad = 1.0
        >>> y._backward()
        >>> x.grad, w.grad
        (-3.0, 2.0)
        """
        backprop.backward_step(self)

    def register_hook(self, fn):
        """Call ``fn(grad)`` during backward once this node's gradient is complete, as
        ``torch.Tensor.register_hook``: a float or an array (a `Value` in a ``create_graph`` pass).

        If `fn` returns something other than None, that replaces the gradient that is stored in
        ``.grad`` and passed on to the inputs. Several hooks run in the order they were registered,
        each given what the previous one left. Returns a handle whose ``remove()`` unregisters it.
        An array gradient is handed over read-only (the pass may share it between nodes): change it
        by returning the new one (``return g * 2``), not in place (``g *= 2`` is a ValueError).

        >>> x = Value(3.0)
        >>> y = x * x
        >>> handle = y.register_hook(lambda g: g * 10)
        >>> y.backward()
        >>> y.grad, x.grad
        (10.0, 60.0)
        >>> handle.remove()
        """
        return backprop.add_hook(self, fn)

    def detach(self):
        """A new leaf sharing this value's data, cut from the graph (it needs no gradient)."""
        return _make(self.data, None, None, "", None)


_registry.add_methods_to(Value)  # a user's registered activation becomes a Value method


MaxMin = namedtuple("MaxMin", "values indices")  # what torch's max(dim) and min(dim) return


def _cat2(x, y, axis):
    data = np.concatenate((x.data, y.data), axis=axis)
    return _make(data, x, y, "cat", ConcatRule(axis, x.shape[axis]))
