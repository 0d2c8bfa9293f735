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

import html
import math
import numbers
import operator

import numpy as np

from tinygrad_act import activations as _registry
from tinygrad_act import backprop, grad_mode, observe
from tinygrad_act.backprop import FITTED_RULES, gradients
from tinygrad_act.grad_mode import enable_grad, is_grad_enabled, no_grad
from tinygrad_act.numeric import data_of, exp, ieee, log, pow_, quietly
from tinygrad_act.rules import (
    MATMUL_RULES,
    GetitemRule,
    MaxRule,
    PowRule,
    ReductionRule,
    ScatterRule,
    TransposeRule,
    add_rule,
    broadcast_rule,
    div_rule,
    exp_rule,
    log_rule,
    mul_rule,
    neg_rule,
    pow_value_rule,
    reshape_rule,
    sub_rule,
)

__all__ = ["Value", "enable_grad", "gradients", "is_grad_enabled", "no_grad"]


# --------------------------------------------------------------------------------------------------
# Turning user input into data: a Python float for scalars, a float ndarray for tensors.

_ACCEPTED = "a real number (int, float, numpy scalar) or an array-like of real numbers"


def _as_data(x):
    if type(x) is float:
        return x
    if isinstance(x, Value):
        return x.data if type(x.data) is float else x.data.copy()
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"Value takes {_ACCEPTED}, not a bool ({x!r})")
    if isinstance(x, (bytearray, memoryview)):  # numpy would read their bytes as numbers
        raise TypeError(
            f"Value takes {_ACCEPTED}, not a {type(x).__name__}; "
            "for numbers held in a buffer, give np.frombuffer(buffer, dtype=...)"
        )
    if isinstance(x, np.ma.MaskedArray):  # the mask would be dropped silently
        raise TypeError(
            f"Value takes {_ACCEPTED}, not a masked array (its mask would be lost); "
            "give x.filled(value) or x.compressed()"
        )
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"Value got {x!r}, which is too large for a float") from None
    if x is None or isinstance(x, (str, bytes, numbers.Complex)):
        raise TypeError(f"Value takes {_ACCEPTED}, not {type(x).__name__} ({x!r})")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"Value takes {_ACCEPTED}; got a ragged or malformed {type(x).__name__}: {err}"
        ) from None
    kind = arr.dtype.kind
    if arr.dtype in (np.float32, np.float64):
        # Our own copy: in-place updates (optimizers) never touch the caller's array.
        return np.array(arr, copy=True)
    if kind == "b":  # refused like a bool scalar: True is not the number 1 here
        raise TypeError(
            f"Value takes {_ACCEPTED}, not an array of bools; give x.astype(float) for 0s and 1s"
        )
    if kind in "iuf":
        return arr.astype(np.float64)
    raise TypeError(f"Value takes {_ACCEPTED}; got an array of dtype {arr.dtype}")


def _lift(x, like):
    """Wrap a number or array operand as a constant leaf: data that needs no gradient (as in
    PyTorch); an array takes the dtype of the tensor it meets."""
    if isinstance(x, Value):
        return x
    if (
        isinstance(x, np.ndarray)
        and type(like.data) is np.ndarray
        and x.dtype != like.data.dtype
        and x.dtype.kind in "iuf"
    ):
        try:
            x = x.astype(like.data.dtype)
        except RuntimeWarning:  # 1e300 into float32 is inf; numpy warns (an error under -W error)
            x = quietly(x.astype, like.data.dtype)
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


def _shape_error(op, x, y):
    return ValueError(f"{op}: shapes {x.shape} and {y.shape} do not broadcast together")


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

    __slots__ = (
        "data",
        "_grad",
        "_label",
        "_x",
        "_y",
        "_op",
        "_rule",
        "_g",
        "_uses",
        "requires_grad",
        "__weakref__",
    )
    __array_ufunc__ = None  # numpy defers to our reflected ops: np.ones(3) + v is a Value

    def __init__(self, data, _children=(), _op="", label="", requires_grad=True):
        self.data = _as_data(data)
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
            _label_error(label)
        self._label = label

    @property
    def label(self):
        """The name drawings and messages use for this value ("" for none)."""
        return self._label

    @label.setter
    def label(self, text):
        if type(text) is not str:
            _label_error(text)
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
            return
        if isinstance(value, Value) or type(self.data) is float:
            self._grad = value if isinstance(value, Value) else float(value)
            return
        arr = np.asarray(value, dtype=self.data.dtype)
        if arr.shape != self.data.shape:
            arr = np.broadcast_to(arr, self.data.shape)
        self._grad = arr.copy()

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
        label = f", label={self.label!r}" if self.label else ""
        if type(self.data) is float:
            return f"Value(data={self.data:.6g}, grad={_short(self.grad)}{label})"
        return f"Value(shape={self.shape}, dtype={self.dtype}, data={_short(self.data)}{label})"

    def _repr_html_(self):
        """Jupyter shows a Value as a one-row table: what a node of the lecture's graph shows.

        >>> print(Value(2.0, label="x")._repr_html_())  # doctest: +NORMALIZE_WHITESPACE
        <table><tr><th>label</th><th>data</th><th>grad</th><th>op</th></tr>
        <tr><td>x</td><td>2</td><td>0</td><td>leaf</td></tr></table>
        """
        # Read the stored gradient: showing a tensor must not allocate its zero gradient.
        grad = self._grad if self._grad is not None else np.zeros_like(self.data)
        cells = {"label": str(self.label)}
        if type(self.data) is not float:
            cells.update(shape=str(self.shape), dtype=str(self.dtype))
        cells.update(data=_short(self.data), grad=_short(grad), op=self._op or "leaf")
        head = "".join(f"<th>{name}</th>" for name in cells)
        row = "".join(_html_cell(text) for text in cells.values())
        return f"<table><tr>{head}</tr>\n<tr>{row}</tr></table>"

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
            raise _shape_error("+", self, other) from None
        except RuntimeWarning:  # inf + -inf or an overflow, with warnings as errors
            data = quietly(operator.add, self.data, other.data)
        return _make(data, self, other, "+", add_rule)

    def __sub__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data - other.data
        except ValueError:
            raise _shape_error("-", self, other) from None
        except RuntimeWarning:  # inf - inf or an overflow, with warnings as errors
            data = quietly(operator.sub, self.data, other.data)
        return _make(data, self, other, "-", sub_rule)

    def __mul__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data * other.data
        except ValueError:
            raise _shape_error("*", self, other) from None
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
                raise _shape_error("/", self, other) from None
        return _make(data, self, other, "/", div_rule)

    def __pow__(self, other):
        if isinstance(other, Value):
            return self._pow_value(other)
        if not isinstance(other, numbers.Real) or isinstance(other, (bool, np.bool_)):
            raise TypeError(
                f"** takes a real number or a Value as the exponent, not {type(other).__name__}"
            )
        try:
            p = float(other)  # any numbers.Real: int, float, Fraction, numpy scalars
        except OverflowError:
            raise ValueError(
                "**: the exponent is too large for a float (its magnitude is above 1.8e308)"
            ) from None
        return _make(pow_(self.data, p), self, None, f"**{p:g}", PowRule(p))

    def _pow_value(self, exponent):
        try:
            data = pow_(self.data, exponent.data)
        except ValueError:
            raise _shape_error("**", self, exponent) from None
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

    # ---- tensor ops ---------------------------------------------------------------------------------

    def _need_tensor(self, op):
        if type(self.data) is float:
            raise TypeError(f"{op} needs a tensor Value; this one is a scalar ({self.data:g})")

    def __matmul__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data @ other.data
        except RuntimeWarning:  # an overflow, with warnings as errors
            data = quietly(operator.matmul, self.data, other.data)
        except (ValueError, TypeError):  # explained here, off the hot path
            for v in (self, other):
                if v.ndim == 0:
                    raise ValueError(
                        f"@: needs operands with at least 1 dimension, got shape {v.shape}"
                    ) from None
            raise ValueError(
                f"@: shapes {self.shape} and {other.shape} do not align "
                f"({self.shape[-1]} columns against {other.shape[-2 if other.ndim > 1 else 0]} rows)"
            ) from None
        rule = MATMUL_RULES[self.requires_grad, other.requires_grad]
        return _make(data, self, other, "@", rule)

    def __rmatmul__(self, other):
        return _lift(other, self) @ self

    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (all axes by default); a full sum is a 0-d tensor Value."""
        self._need_tensor("sum")
        axis = _check_axis(axis, self.ndim, "sum")
        try:
            data = self.data.sum(axis=axis, keepdims=keepdims)
        except RuntimeWarning:  # inf + -inf, with warnings as errors
            data = quietly(self.data.sum, axis=axis, keepdims=keepdims)
        return _make(data, self, None, "sum", ReductionRule(axis, keepdims, 1))

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis` (all axes by default)."""
        self._need_tensor("mean")
        axis = _check_axis(axis, self.ndim, "mean")
        n = _count(self.shape, axis)  # how many entries each mean averages
        if n == 0:  # nan, numpy's value, without its "Mean of empty slice" warning
            data = quietly(np.divide, self.data.sum(axis=axis, keepdims=keepdims), 0)
            return _make(data, self, None, "mean", ReductionRule(axis, keepdims, 0.0))
        try:
            data = self.data.mean(axis=axis, keepdims=keepdims)
        except RuntimeWarning:  # inf + -inf, with warnings as errors
            data = quietly(self.data.mean, axis=axis, keepdims=keepdims)
        return _make(data, self, None, "mean", ReductionRule(axis, keepdims, 1.0 / n))

    def max(self, axis=None, keepdims=False):
        """Maximum over `axis`; the gradient is split evenly among tied maxima (as torch.amax)."""
        self._need_tensor("max")
        axis = _check_axis(axis, self.ndim, "max")
        if self.data.size == 0:
            raise ValueError("max: the Value is empty")
        data = self.data.max(axis=axis, keepdims=keepdims)
        return _make(data, self, None, "max", MaxRule(axis, keepdims))

    def reshape(self, *shape):
        """The same data in a new shape: ``v.reshape(2, 3)`` or ``v.reshape((2, 3))``."""
        self._need_tensor("reshape")
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} into {shape}") from None
        return _make(data, self, None, "reshape", reshape_rule)

    def transpose(self, *axes):
        """Permute the axes (reverse them by default), as ``np.transpose``."""
        self._need_tensor("transpose")
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = axes or tuple(reversed(range(self.ndim)))
        for a in axes:
            _one_axis(a, self.ndim, "transpose")
        try:
            data = self.data.transpose(axes)
        except ValueError:
            raise ValueError(f"transpose: axes {axes} do not fit shape {self.shape}") from None
        return _make(data, self, None, "transpose", TransposeRule(axes))

    @property
    def T(self):
        return self.transpose()

    def swapaxes(self, axis1, axis2):
        """Exchange two axes, as ``np.swapaxes``."""
        self._need_tensor("swapaxes")
        axes = list(range(self.ndim))
        i, j = (_one_axis(a, self.ndim, "swapaxes") for a in (axis1, axis2))
        axes[i], axes[j] = axes[j], axes[i]
        return self.transpose(tuple(axes))

    def broadcast_to(self, shape):
        """Broadcast to `shape`; the gradient is summed back."""
        try:
            data = np.broadcast_to(self.data, shape)
        except ValueError:
            raise ValueError(
                f"broadcast_to: cannot broadcast shape {self.shape} to {shape}"
            ) from None
        return _make(np.array(data), self, None, "broadcast", broadcast_rule)

    def __getitem__(self, index):
        self._need_tensor("indexing")
        index = _own_index(
            index
        )  # a copy: changing the caller's index array must not change backward
        data = self.data[index]
        return _make(np.array(data, copy=True), self, None, "[]", GetitemRule(index))

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
            self._need_tensor(name)
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

    def softmax(self, axis=-1):
        """a = e^z / Σe^z along `axis` (stable); tensors only."""
        return self.activate("softmax", axis=axis)

    def log_softmax(self, axis=-1):
        """a = z - log Σe^z along `axis` (stable); tensors only."""
        return self.activate("log_softmax", axis=axis)

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
        if not callable(fn):
            raise TypeError(f"register_hook takes a function of the gradient, not {fn!r}")
        if not self.requires_grad:
            raise ValueError(
                "register_hook: this Value needs no gradient, so no hook would ever run"
            )
        return backprop.add_hook(self, fn)

    def detach(self):
        """A new leaf sharing this value's data, cut from the graph (it needs no gradient)."""
        return _make(self.data, None, None, "", None)


_registry.add_methods_to(Value)  # a user's registered activation becomes a Value method


def _label_error(label):
    raise TypeError(f"a Value's label is a str, not {type(label).__name__} ({label!r})")


def _own_index(index):
    """An index the graph can keep: arrays copied, lists as arrays; a Value is refused."""
    parts = index if type(index) is tuple else (index,)
    for part in parts:
        if isinstance(part, Value):
            raise TypeError(
                "a Value cannot index a Value (its gradient would be lost, and 0.7 would truncate "
                "to 0); index with ints, slices, or an integer or boolean array such as v.data.astype(int)"
            )
    owned = tuple(np.array(p) if isinstance(p, (list, np.ndarray)) else p for p in parts)
    return owned if type(index) is tuple else owned[0]


def _check_axis(axis, ndim, op):
    """`axis` as numpy takes it, None, an int or a tuple of ints (numpy integers count), each in
    range and none twice; anything else is a TypeError, a bad axis a ValueError, naming axis."""
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        axes = tuple(_one_axis(a, ndim, op, axis) for a in axis)
        if len(set(a % max(ndim, 1) for a in axes)) != len(axes):
            raise ValueError(f"{op}: axis {tuple(axis)} names the same axis twice")
        return axes
    return _one_axis(axis, ndim, op)


def _one_axis(a, ndim, op, whole=None):
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
        given = a if whole is None else whole
        raise TypeError(
            f"{op}: axis must be an int, a tuple of ints or None, got "
            f"{type(given).__name__} ({given!r})"
        )
    a = int(a)
    if not -ndim <= a < max(ndim, 1):
        raise ValueError(f"{op}: axis {a} is out of range for a Value with {ndim} dimensions")
    return a


def _count(shape, axis):
    """How many entries a reduction over `axis` (a checked axis) combines into each result."""
    if axis is None:
        return math.prod(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in axes) if shape else 1


def _html_cell(text):
    text = html.escape(text)
    return f"<td><pre>{text}</pre></td>" if "\n" in text else f"<td>{text}</td>"  # an array's rows


def _short(x):
    if type(x) is float:
        return f"{x:.6g}"
    if isinstance(x, Value):
        return repr(x)
    return np.array2string(np.asarray(x), precision=4, threshold=8, edgeitems=2)
