"""The engine: `Value`, a node of a computation graph, and reverse-mode backprop over it.

A `Value` holds a scalar (a Python ``float``) or a tensor (an ``np.ndarray``). Every op records
its inputs (read as the tuple ``_prev``, in a stable order), its name in ``_op``, and a backward
rule in ``_backward``. The inputs live in two slots rather than a tuple: one object per node is
half the work for Python's cycle collector, which scans every live node as a graph grows.

Notation, as in the lecture and in every rule below:
    z    an op's input (x, y for the two inputs of a binary op)
    a    its output, ``out``
    g    the upstream gradient dL/da

A backward rule is a plain function ``rule(g, a, *inputs) -> (dL/dinput, ...)`` that returns one
gradient per input. The engine calls it with raw data (floats and arrays: the fast path) or with
`Value`\\ s (``backward(create_graph=True)``: the backward pass is itself recorded, so gradients can
be differentiated again). Each formula is therefore written once, with operators that work on both.
Rules are shared by all nodes of an op and receive the output as an argument instead of closing over
it, so a graph holds no reference cycles and is freed by reference counting alone.
"""

from __future__ import annotations

import math
import numbers
import threading
from contextlib import contextmanager

import numpy as np

# --------------------------------------------------------------------------------------------------
# Grad mode: `no_grad()` turns off graph recording for the current thread.


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()

# How many threads have recording off. Reading the thread-local flag costs more than the rest of
# an op's recording decision, so every op first reads this plain counter: at 0, every thread records.
_threads_not_recording = 0
_counter_lock = threading.Lock()


def _set_recording(flag):
    """Turn graph recording on or off for this thread; returns the previous setting."""
    global _threads_not_recording
    previous = _grad_mode.enabled
    if flag != previous:
        if not flag:  # count first, then switch: the counter never lags behind a thread
            with _counter_lock:
                _threads_not_recording += 1
        _grad_mode.enabled = flag
        if flag:
            with _counter_lock:
                _threads_not_recording -= 1
    return previous


@contextmanager
def no_grad():
    """Record no graph inside the block (per thread), as ``torch.no_grad``.

    >>> x = Value(2.0)
    >>> with no_grad():
    ...     y = x * 3
    >>> y._prev
    ()
    """
    previous = _set_recording(False)
    try:
        yield
    finally:
        _set_recording(previous)


@contextmanager
def enable_grad():
    """Record the graph inside the block even within `no_grad`.

    >>> x = Value(2.0)
    >>> with no_grad():
    ...     with enable_grad():
    ...         y = x * 3
    >>> y._prev[0] is x
    True
    """
    previous = _set_recording(True)
    try:
        yield
    finally:
        _set_recording(previous)


def is_grad_enabled():
    """Whether ops on this thread record a graph.

    >>> is_grad_enabled()
    True
    >>> with no_grad():
    ...     is_grad_enabled()
    False
    """
    return _grad_mode.enabled


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
    if kind in "biuf":
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
        and x.dtype.kind in "biuf"
    ):
        x = x.astype(like.data.dtype)
    return Value(x, requires_grad=False)


def _ieee(ufunc, *args):
    """numpy's IEEE answer (inf, -inf or nan) where Python's float math raises."""
    with np.errstate(all="ignore"):
        return float(ufunc(*args))


def _scalar_pow(x, p):
    try:
        r = x**p
    except ArithmeticError:  # 0.0 ** -1, 9.0 ** 400
        return _ieee(np.power, x, p)
    return math.nan if type(r) is complex else float(r)  # (-8.0) ** (1/3) is nan, as in numpy


def _pow(x, p):
    """x ** p on a float, an array or a Value, with IEEE results instead of Python exceptions."""
    if type(x) is float and not isinstance(p, np.ndarray):
        return _scalar_pow(x, float(p))
    if isinstance(x, Value) or isinstance(p, Value):
        return x**p
    with np.errstate(all="ignore"):
        return np.power(x, p)


def _exp(x):
    if isinstance(x, Value):
        return x.exp()
    if type(x) is float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf
    with np.errstate(over="ignore"):
        return np.exp(x)


def _log(x):
    if isinstance(x, Value):
        return x.log()
    if type(x) is float:
        try:
            return math.log(x)
        except ValueError:  # log(0) = -inf, log(negative) = nan
            return _ieee(np.log, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def _data(x):
    """The raw data of a Value, or x itself: masks and other constants of a rule come from here."""
    return x.data if isinstance(x, Value) else x


# --------------------------------------------------------------------------------------------------
# Shape helpers used by the backward rules. Each works on arrays and on Values alike.


def _sum_to(g, shape):
    """Sum a broadcast gradient back to `shape`: the adjoint of broadcasting is summation."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if g.shape[lead:] == shape:  # the common case: only leading axes were added (a bias)
        return g.sum(axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    return g.sum(axis=axes).reshape(shape)


def _expand(g, shape, axis, keepdims):
    """Broadcast the gradient of a reduction over `axis` back to the input's `shape`."""
    if not keepdims and axis is not None:
        axes = (axis,) if isinstance(axis, int) else axis
        kept = [1 if i in {a % len(shape) for a in axes} else n for i, n in enumerate(shape)]
        g = g.reshape(tuple(kept))
    if isinstance(g, Value):
        return g.broadcast_to(shape)
    return np.broadcast_to(g, shape)


def _scatter(g, index, shape):
    """The gradient of x[index]: g added into zeros of x's shape (repeated indices accumulate)."""
    if isinstance(g, Value):
        return g._scatter(index, shape)
    out = np.zeros(shape, dtype=g.dtype if hasattr(g, "dtype") else np.float64)
    np.add.at(out, index, g)
    return out


def _swap_last(x):
    return x.swapaxes(-1, -2)


# --------------------------------------------------------------------------------------------------
# Backward rules of the arithmetic and tensor ops: rule(g, a, *inputs) -> gradients of the inputs.
# One function per op, shared by every node of that op (no closure per node).


def _add_rule(g, a, x, y):
    return g, g


def _sub_rule(g, a, x, y):
    return g, -g


def _mul_rule(g, a, x, y):
    return g * y, g * x


def _div_rule(g, a, x, y):
    return g / y, -g * a / y


def _neg_rule(g, a, x):
    return (-g,)


def _exp_rule(g, a, z):
    return (g * a,)


def _log_rule(g, a, z):
    return (g / z,)


def _pow_value_rule(g, a, base, exponent):
    # d(b^e)/db = e * b^(e-1);  d(b^e)/de = b^e * log(b)
    return g * exponent * _pow(base, exponent - 1), g * a * _log(base)


class _MatmulRule:
    """d(x @ y)/dx = g @ yᵀ and d(x @ y)/dy = xᵀ @ g, each computed only if its input needs it:
    for a batch of data x, g @ yᵀ is as costly as the weight gradient and nobody reads it."""

    __slots__ = ("need_x", "need_y")

    def __init__(self, need_x, need_y):
        self.need_x, self.need_y = need_x, need_y

    def __call__(self, g, a, x, y):
        if x.ndim == 2 and y.ndim == 2:
            return (g @ y.T if self.need_x else None, x.T @ g if self.need_y else None)
        if x.ndim == 1 and y.ndim == 1:
            return g * y, g * x
        # Promote 1-D operands to matrices as numpy does, then drop the added axis again.
        x2 = x.reshape((1,) + x.shape) if x.ndim == 1 else x
        y2 = y.reshape(y.shape + (1,)) if y.ndim == 1 else y
        batch = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
        g2 = g.reshape(batch + (x2.shape[-2], y2.shape[-1]))
        gx = gy = None
        if self.need_x:
            gx = g2 @ _swap_last(y2)
            if x.ndim == 1:
                gx = gx.reshape(gx.shape[:-2] + gx.shape[-1:])
        if self.need_y:
            gy = _swap_last(x2) @ g2
            if y.ndim == 1:
                gy = gy.reshape(gy.shape[:-1])
        return gx, gy


_MATMUL_RULES = {(nx, ny): _MatmulRule(nx, ny) for nx in (True, False) for ny in (True, False)}

# Rules whose gradient always has its input's shape and dtype, so the backward pass need not check
# (reading an array's shape and dtype is a tenth of a small op's cost). The built-in activations add
# their rules in activations.py; tests check every one in float32 and float64.
_FITTED_RULES = {_neg_rule, _exp_rule, _log_rule}


def _reshape_rule(g, a, z):
    return (g.reshape(z.shape),)


def _broadcast_rule(g, a, z):
    return (_sum_to(g, z.shape),)


class _PowRule:
    """d(z^p)/dz = p * z^(p-1), for a constant exponent p."""

    __slots__ = ("p",)

    def __init__(self, p):
        self.p = p

    def __call__(self, g, a, z):
        return (g * self.p * _pow(z, self.p - 1),)


class _ReductionRule:
    """sum and mean: the upstream gradient spreads back over the reduced axes (divided by n for mean)."""

    __slots__ = ("axis", "keepdims", "scale")

    def __init__(self, axis, keepdims, scale):
        self.axis, self.keepdims, self.scale = axis, keepdims, scale

    def __call__(self, g, a, z):
        dz = _expand(g, z.shape, self.axis, self.keepdims)
        return (dz * self.scale if self.scale != 1 else dz,)


class _MaxRule:
    """The gradient goes to the maximal entries, split evenly among ties (as torch.amax)."""

    __slots__ = ("axis", "keepdims")

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def __call__(self, g, a, z):
        zd, ad = _data(z), _data(a)
        if not self.keepdims and self.axis is not None:
            ad = np.expand_dims(ad, self.axis)
        mask = zd == ad
        share = mask / mask.sum(axis=self.axis, keepdims=True)  # a constant: ties split evenly
        return (_expand(g, zd.shape, self.axis, self.keepdims) * share,)


class _TransposeRule:
    __slots__ = ("inverse",)

    def __init__(self, axes):
        self.inverse = tuple(np.argsort(axes))

    def __call__(self, g, a, z):
        return (g.transpose(self.inverse),)


class _GetitemRule:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __call__(self, g, a, z):
        return (_scatter(g, self.index, z.shape),)


class _ScatterRule:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __call__(self, g, a, z):
        return (g[self.index],)


def _activation_rule(spec, params):
    """Backward of a registered activation: g * g'(z), with g'(z) written as in the lecture.

    The rule keeps its registry row and parameters (``rule.spec``, ``rule.params``) so drawings and
    gradcheck can show the formula that was used.
    """
    derivative, vjp = spec.derivative, spec.vjp
    if vjp is not None:  # not elementwise (softmax): the rule maps g to dL/dz itself

        def rule(g, a, z):
            return (vjp(g, z, a, **params),)

    elif params:

        def rule(g, a, z):
            return (g * derivative(z, a, **params),)

    else:

        def rule(g, a, z):
            return (g * derivative(z, a),)

    rule.spec, rule.params = spec, params
    return rule


# --------------------------------------------------------------------------------------------------


_new_value = object.__new__


def _make(data, x, y, op, rule):
    """A new output node of inputs x (and y). It records them and its rule only if one of them
    needs a gradient (and not under `no_grad`); otherwise it is a leaf that needs none."""
    out = _new_value(Value)
    if type(data) is float:
        out._grad = 0.0
    else:
        if type(data) is not np.ndarray:
            data = np.asarray(data)  # numpy gives scalars for 0-d results; a tensor op a tensor
        out._grad = None
    out.data = data
    out.label = ""
    out._g, out._uses = None, 0
    if (
        (not _threads_not_recording or _grad_mode.enabled)
        and x is not None
        and (x.requires_grad or (y is not None and y.requires_grad))
    ):
        out._x, out._y, out._op, out._backward = x, y, op, rule
        out.requires_grad = True
    else:
        out._x = out._y = out._backward = None
        out._op = ""
        out.requires_grad = False
    return out


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
        "label",
        "_x",
        "_y",
        "_op",
        "_backward",
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
        self._backward = None
        self._g, self._uses = None, 0  # bookkeeping of a backward pass while it runs
        self.label = label

    @property
    def _prev(self):
        """The inputs this value was computed from, in order: (), (x,) or (x, y)."""
        x = self._x
        if x is None:
            return ()
        y = self._y
        return (x,) if y is None else (x, y)

    # ---- gradient ---------------------------------------------------------------------------------

    @property
    def grad(self):
        """dL/d(this value), accumulated by `backward`: a float, or an array of `data`'s shape."""
        if self._grad is None:
            self._grad = np.zeros_like(self.data)
        return self._grad

    @grad.setter
    def grad(self, value):
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

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        if type(self.data) is float:
            return f"Value(data={self.data:.6g}, grad={_short(self.grad)}{label})"
        return f"Value(shape={self.shape}, dtype={self.dtype}, data={_short(self.data)}{label})"

    # Comparisons give the raw comparison of the data (a bool or a bool array), never a graph node.
    def __lt__(self, other):
        return self.data < _data(other)

    def __le__(self, other):
        return self.data <= _data(other)

    def __gt__(self, other):
        return self.data > _data(other)

    def __ge__(self, other):
        return self.data >= _data(other)

    # ---- arithmetic ---------------------------------------------------------------------------------

    def __add__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data + other.data
        except ValueError:
            raise _shape_error("+", self, other) from None
        return _make(data, self, other, "+", _add_rule)

    def __sub__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data - other.data
        except ValueError:
            raise _shape_error("-", self, other) from None
        return _make(data, self, other, "-", _sub_rule)

    def __mul__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data * other.data
        except ValueError:
            raise _shape_error("*", self, other) from None
        return _make(data, self, other, "*", _mul_rule)

    def __truediv__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        x, y = self.data, other.data
        if type(x) is float and type(y) is float:
            data = x / y if y != 0.0 else _ieee(np.divide, x, y)
        else:
            try:
                with np.errstate(divide="ignore", invalid="ignore"):
                    data = x / y
            except ValueError:
                raise _shape_error("/", self, other) from None
        return _make(data, self, other, "/", _div_rule)

    def __pow__(self, other):
        if isinstance(other, Value):
            return self._pow_value(other)
        if not isinstance(other, numbers.Real) or isinstance(other, bool):
            raise TypeError(
                f"** takes a number or a Value as the exponent, not {type(other).__name__}"
            )
        p = float(other)
        return _make(_pow(self.data, p), self, None, f"**{other:g}", _PowRule(p))

    def _pow_value(self, exponent):
        try:
            data = _pow(self.data, exponent.data)
        except ValueError:
            raise _shape_error("**", self, exponent) from None
        return _make(data, self, exponent, "**", _pow_value_rule)

    def __neg__(self):
        return _make(-self.data, self, None, "neg", _neg_rule)

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
        return _make(_exp(self.data), self, None, "exp", _exp_rule)

    def log(self):
        """Natural log; log(0) = -inf and log of a negative number is nan, as in numpy."""
        return _make(_log(self.data), self, None, "log", _log_rule)

    # ---- tensor ops ---------------------------------------------------------------------------------

    def _need_tensor(self, op):
        if type(self.data) is float:
            raise TypeError(f"{op} needs a tensor Value; this one is a scalar ({self.data:g})")

    def __matmul__(self, other):
        if type(other) is not Value:
            other = _lift(other, self)
        try:
            data = self.data @ other.data
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
        rule = _MATMUL_RULES[self.requires_grad, other.requires_grad]
        return _make(data, self, other, "@", rule)

    def __rmatmul__(self, other):
        return _lift(other, self) @ self

    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (all axes by default); a full sum is a 0-d tensor Value."""
        self._need_tensor("sum")
        axis = _check_axis(axis, self.ndim, "sum")
        data = self.data.sum(axis=axis, keepdims=keepdims)
        return _make(data, self, None, "sum", _ReductionRule(axis, keepdims, 1))

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis` (all axes by default)."""
        self._need_tensor("mean")
        axis = _check_axis(axis, self.ndim, "mean")
        data = self.data.mean(axis=axis, keepdims=keepdims)
        n = self.data.size // max(np.size(data), 1)  # how many entries each mean averages
        return _make(data, self, None, "mean", _ReductionRule(axis, keepdims, 1.0 / n))

    def max(self, axis=None, keepdims=False):
        """Maximum over `axis`; the gradient is split evenly among tied maxima (as torch.amax)."""
        self._need_tensor("max")
        axis = _check_axis(axis, self.ndim, "max")
        if self.data.size == 0:
            raise ValueError("max: the Value is empty")
        data = self.data.max(axis=axis, keepdims=keepdims)
        return _make(data, self, None, "max", _MaxRule(axis, keepdims))

    def reshape(self, *shape):
        """The same data in a new shape: ``v.reshape(2, 3)`` or ``v.reshape((2, 3))``."""
        self._need_tensor("reshape")
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} into {shape}") from None
        return _make(data, self, None, "reshape", _reshape_rule)

    def transpose(self, *axes):
        """Permute the axes (reverse them by default), as ``np.transpose``."""
        self._need_tensor("transpose")
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = axes or tuple(reversed(range(self.ndim)))
        try:
            data = self.data.transpose(axes)
        except ValueError:
            raise ValueError(f"transpose: axes {axes} do not fit shape {self.shape}") from None
        return _make(data, self, None, "transpose", _TransposeRule(axes))

    @property
    def T(self):
        return self.transpose()

    def swapaxes(self, axis1, axis2):
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(tuple(axes))

    def broadcast_to(self, shape):
        """Broadcast to `shape`; the gradient is summed back."""
        try:
            data = np.broadcast_to(self.data, shape)
        except ValueError:
            raise ValueError(
                f"broadcast_to: cannot broadcast shape {self.shape} to {shape}"
            ) from None
        return _make(np.array(data), self, None, "broadcast", _broadcast_rule)

    def __getitem__(self, index):
        self._need_tensor("indexing")
        if isinstance(index, Value):
            index = index.data.astype(np.intp)
        elif isinstance(index, list):
            index = np.asarray(index)
        data = self.data[index]
        return _make(np.array(data, copy=True), self, None, "[]", _GetitemRule(index))

    def _scatter(self, index, shape):
        out = np.zeros(shape, dtype=self.dtype)
        np.add.at(out, index, self.data)
        return _make(out, self, None, "scatter", _ScatterRule(index))

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
        if params and params != spec.defaults:
            params = spec.bind(params)
            a = spec.forward(z, **params)
            rule = _activation_rule(spec, params)
        else:
            forward = spec.forward  # an attribute, not a method: LOAD_ATTR is the fast lookup
            a = forward(z)  # the forward's own defaults are the row's defaults
            rule = spec.rule
        if type(z) is float:
            if type(a) is not float:
                a = float(a)
        elif rule not in _FITTED_RULES and (type(a) is not np.ndarray or a.dtype is not z.dtype):
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
        _backprop(self, _seed(self, grad, create_graph), create_graph)

    def detach(self):
        """A new leaf sharing this value's data, cut from the graph (it needs no gradient)."""
        return _make(self.data, None, None, "", None)


# --------------------------------------------------------------------------------------------------
# Backprop


def _topological_order(root):
    """Nodes with every input before the nodes that use it; iterative, so deep graphs are fine."""
    order, visited = [], set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None:  # the marker below: all of this node's inputs are placed
            order.append(stack.pop())
        elif node not in visited:
            visited.add(node)
            stack += (node, None)
            stack += [p for p in node._prev if p not in visited]
    return order


def _seed(root, grad, create_graph):
    if not root.requires_grad:
        raise ValueError(
            "backward: this Value needs no gradient (it was made under no_grad, by detach(), "
            "with requires_grad=False, or from constants only), so there is no graph to go back through"
        )
    if grad is None:
        if root.size != 1:
            raise ValueError(
                f"backward: the root has shape {root.shape}; a root with more than one element "
                f"needs an explicit grad of that shape, e.g. root.backward(np.ones({root.shape}))"
            )
        seed = 1.0 if root.is_scalar else np.ones(root.shape, dtype=root.dtype)
    elif isinstance(grad, Value) and create_graph:
        seed = grad
    else:
        seed = _as_data(grad)  # a copy: the pass may add into a leaf's gradient in place
    if _shape_of(seed) != root.shape:
        raise ValueError(
            f"backward: grad has shape {_shape_of(seed)} but the root has shape {root.shape}"
        )
    if isinstance(seed, Value):
        return seed
    # Fitted to the root like every gradient of the pass: a float for a scalar, else root's dtype.
    seed = float(seed) if root.is_scalar else np.asarray(seed, dtype=root.dtype)
    return Value(seed) if create_graph else seed


def _shape_of(x):
    return x.shape if hasattr(x, "shape") else ()


def _reduce_to(g, node):
    """Fit a gradient to its node: sum away broadcast axes, keep floats for scalar nodes."""
    data = node.data
    if type(g) is np.ndarray and type(data) is np.ndarray:
        if g.shape == data.shape and g.dtype == data.dtype:
            return g
        g = _sum_to(g, data.shape)
        return g if g.dtype == data.dtype else g.astype(data.dtype)
    if type(data) is float:
        if type(g) is float:
            return g
        if isinstance(g, Value):
            return g if g.size == 1 and g.ndim == 0 else g.sum()
        return float(np.sum(g))
    if type(g) is float:
        return np.full(data.shape, g, dtype=data.dtype)
    return _sum_to(g, data.shape)


def _count_uses(root):
    """Count, in each node's ``_uses`` slot, the edges that lead into it from below the root.

    Slots rather than a dict or a set: this and the loop of `_backprop` are the hot path.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        for p in (node._x, node._y):
            if p is not None and p.requires_grad:  # constants get no gradient: skip them
                uses = p._uses
                p._uses = uses + 1
                if not uses:
                    stack.append(p)


def _reset(root):
    """Clear the bookkeeping of an interrupted pass, so the next one starts clean."""
    for node in _topological_order(root):
        node._g, node._uses = None, 0


def _backprop(root, seed, create_graph, visit=None):
    """Propagate dL/dnode from the root down, handing each node's complete gradient to `visit`.

    A node is ready once every node that uses it has passed its share down (Kahn's order: a
    reverse topological order, found without recursion), so its gradient is complete before its own
    rule runs. This pass's gradients wait in the ``_g`` slot; without `visit` each is added to the
    node's ``.grad``, which is what ``backward()`` does.
    """
    recording = _set_recording(create_graph)  # the pass records a graph only if asked to
    try:
        _count_uses(root)
        root._g = seed
        ready = [root]
        with np.errstate(all="ignore"):
            while ready:
                node = ready.pop()
                g = node._g
                node._g = None
                if visit is not None:
                    visit(node, g)
                elif type(g) is float and type(node._grad) is float:
                    node._grad += g
                elif node._grad is None:
                    node._grad = g  # a tensor's first gradient: keep the array the pass made
                else:
                    _accumulate(node, g)
                rule = node._backward
                if rule is None:
                    continue
                x, y = node._x, node._y
                inputs = (x,) if y is None else (x, y)
                try:
                    if create_graph:
                        input_grads = rule(g, node, *inputs)
                    elif y is None:
                        input_grads = rule(g, node.data, x.data)
                    else:
                        input_grads = rule(g, node.data, x.data, y.data)
                except ArithmeticError:  # float math hit x/0 or overflow: redo it the IEEE way
                    input_grads = _ieee_rule(rule, g, node.data, [p.data for p in inputs])
                tensor = type(g) is not float
                fit = tensor and rule not in _FITTED_RULES  # may need broadcast sums or a cast
                # zip without strict=: the keyword alone costs a fifth of a scalar backward pass
                for p, pg in zip(inputs, input_grads):  # noqa: B905
                    if p.requires_grad:
                        pending = p._g
                        if fit:
                            data = p.data
                            if (  # (`is not`: dtypes are singletons; an equal copy only detours)
                                type(pg) is not np.ndarray
                                or type(data) is float
                                or pg.shape != data.shape
                                or pg.dtype is not data.dtype
                            ):
                                pg = _reduce_to(pg, p)  # sum broadcast axes away, match the dtype
                        if tensor and pending is None and p._backward is None:
                            if _borrowed(pg, g, node):
                                pg = pg.copy()  # a leaf owns its gradient: no shared memory
                        p._g = pg if pending is None else pending + pg
                        p._uses = uses = p._uses - 1
                        if not uses:  # every use has passed its share down: p is ready
                            ready.append(p)
    except BaseException:
        _reset(root)
        raise
    finally:
        _set_recording(recording)


def _ieee_rule(rule, g, a, inputs):
    """Rerun a rule on numpy scalars, which give inf and nan where Python floats raise."""
    as_np = [np.float64(x) if type(x) is float else x for x in (g, a, *inputs)]
    return [_plain(r) for r in rule(*as_np)]


def _plain(x):
    return float(x) if isinstance(x, np.floating) else x


def _borrowed(array, g, node):
    """Whether a rule's output may share memory with arrays the graph holds: the upstream gradient
    (passed on as is by +, -), a view of it (reshape, transpose, broadcast), or the node's data."""
    if type(array) is not np.ndarray:
        return False
    return (
        array.base is not None
        or array is g
        or array is node.data
        or array is node._x.data
        or (node._y is not None and array is node._y.data)
    )


def _accumulate(node, g):
    """Add a later pass's gradient into ``node.grad`` (the pass stores a first one as it is).

    A leaf owns its gradient array: the pass hands it an array nothing else holds (copied where a
    rule passed one on), and later passes add into it in place. An intermediate node keeps the array
    the pass computed: it is there to be read (drawings, teaching) and may share memory with its
    neighbours' gradients, so later passes add to it out of place.
    """
    current = node._grad
    if node._backward is None and type(current) is np.ndarray and type(g) is np.ndarray:
        np.add(current, g, out=current)
    else:
        node._grad = current + g


def gradients(root, inputs, grad=None, create_graph=False):
    """d(root)/d(input) for each of `inputs`, without touching any ``.grad`` (``torch.autograd.grad``).

    An input the root does not depend on gets a zero gradient.

    >>> x = Value(3.0)
    >>> gradients(x * x, [x])
    [6.0]
    """
    seed = _seed(root, grad, create_graph)
    wanted = {}
    for i, v in enumerate(inputs):
        wanted.setdefault(id(v), []).append(i)
    found = [None] * len(inputs)

    def visit(node, g):
        for i in wanted.get(id(node), ()):
            found[i] = g

    _backprop(root, seed, create_graph, visit)
    for i, v in enumerate(inputs):
        if found[i] is None:
            zero = 0.0 if v.is_scalar else np.zeros_like(v.data)
            found[i] = Value(zero) if create_graph else zero
        elif not create_graph and not v.is_scalar:
            found[i] = np.array(found[i], dtype=v.dtype)
    return found


def _check_axis(axis, ndim, op):
    axes = (axis,) if isinstance(axis, int) else axis
    if axes is not None:
        for a in axes:
            if not -ndim <= a < max(ndim, 1):
                raise ValueError(
                    f"{op}: axis {a} is out of range for a Value with {ndim} dimensions"
                )
    return tuple(axis) if isinstance(axis, list) else axis


def _short(x):
    if type(x) is float:
        return f"{x:.6g}"
    if isinstance(x, Value):
        return repr(x)
    return np.array2string(np.asarray(x), precision=4, threshold=8, edgeitems=2)


from tinygrad_act import activations as _registry  # noqa: E402  (the registry uses Value)
