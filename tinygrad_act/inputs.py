"""What a user gives, checked and turned into what the engine takes: data, axes and keywords.

Data becomes a Python float (a scalar) or a float ndarray of our own (a tensor); anything else is
refused by name. An axis is numpy's: None, an int or a tuple of ints, each in range. A reduction
takes numpy's keywords (``axis=``, ``keepdims=``) or PyTorch's (``dim=``, ``keepdim=``): the
spelling decides the meaning where the two libraries differ (``var``'s default divisor, what
``max`` returns), so `reduction_axis` reports which spelling was used.

This module never imports the engine: it knows a `Value` as a graph node, by micrograd's ``_prev``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_act.numeric import quietly

ACCEPTED = "a real number (int, float, numpy scalar) or an array-like of real numbers"


def as_data(x):
    """x as a Value holds it: a float, or a float32/float64 array of its own (a copy).

    >>> as_data(2), as_data([1, 2]).dtype
    (2.0, dtype('float64'))
    """
    if type(x) is float:
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"Value takes {ACCEPTED}, not a bool ({x!r})")
    if isinstance(x, (bytearray, memoryview)):  # numpy would read their bytes as numbers
        raise TypeError(
            f"Value takes {ACCEPTED}, not a {type(x).__name__}; "
            "for numbers held in a buffer, give np.frombuffer(buffer, dtype=...)"
        )
    if isinstance(x, np.ma.MaskedArray):  # the mask would be dropped silently
        raise TypeError(
            f"Value takes {ACCEPTED}, not a masked array (its mask would be lost); "
            "give x.filled(value) or x.compressed()"
        )
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:
            raise ValueError(f"Value got {x!r}, which is too large for a float") from None
    if x is None or isinstance(x, (str, bytes, numbers.Complex)):
        raise TypeError(f"Value takes {ACCEPTED}, not {type(x).__name__} ({x!r})")
    try:
        arr = np.asarray(x)
    except TypeError as err:  # a Value inside a list refuses to become an array
        raise TypeError(f"Value takes {ACCEPTED}; in this {type(x).__name__}, {err}") from None
    except ValueError as err:
        raise ValueError(
            f"Value takes {ACCEPTED}; got a ragged or malformed {type(x).__name__}: {err}"
        ) from None
    kind = arr.dtype.kind
    if arr.dtype in (np.float32, np.float64):
        # Our own copy: in-place updates (optimizers) never touch the caller's array.
        return np.array(arr, copy=True)
    if kind == "b":  # refused like a bool scalar: True is not the number 1 here
        raise TypeError(
            f"Value takes {ACCEPTED}, not an array of bools; give x.astype(float) for 0s and 1s"
        )
    if kind in "iuf":
        return arr.astype(np.float64)
    raise TypeError(f"Value takes {ACCEPTED}; got an array of dtype {arr.dtype}")


def is_node(x):
    """True for a graph node (a `Value`): its class has micrograd's ``_prev``."""
    return hasattr(type(x), "_prev")  # (the class's: asking the node would build the tuple)


def need_tensor(data, op):
    """Ops over axes and shapes need a tensor; a scalar Value's data is a float."""
    if type(data) is float:
        raise TypeError(f"{op} needs a tensor Value; this one is a scalar ({data:g})")


def shape_error(op, x, y):
    """The error of an elementwise op whose operands' shapes do not broadcast together."""
    return ValueError(f"{op}: shapes {x.shape} and {y.shape} do not broadcast together")


def in_dtype(x, dtype):
    """A plain int or float array in the float type of the tensor it meets (a constant operand)."""
    if x.dtype == dtype or x.dtype.kind not in "iuf":
        return x
    try:
        return x.astype(dtype)
    except RuntimeWarning:  # 1e300 into float32 is inf; numpy warns (an error under -W error)
        return quietly(x.astype, dtype)


def reshaped(data, shape):
    """`data` in a new shape, given as ``(2, 3)`` or as ``2, 3`` (-1 for the rest).

    >>> reshaped(np.arange(6.0), (2, -1)).shape, reshaped(np.arange(6.0), ((3, 2),)).shape
    ((2, 3), (3, 2))
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return data.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape shape {data.shape} into {shape}") from None


def permutation(axes, shape):
    """transpose's axes: given as ``(1, 0)`` or ``1, 0``; all of them reversed when none are given.

    >>> permutation((), (2, 3, 4)), permutation(((0, 2, 1),), (2, 3, 4))
    ((2, 1, 0), (0, 2, 1))
    """
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    ndim = len(shape)
    axes = axes or tuple(reversed(range(ndim)))
    if sorted(one_axis(a, ndim, "transpose") % max(ndim, 1) for a in axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} do not fit shape {shape}")
    return axes


def swapped(ndim, axis1, axis2):
    """The permutation that exchanges two axes, as ``np.swapaxes``."""
    axes = list(range(ndim))
    i, j = (one_axis(a, ndim, "swapaxes") for a in (axis1, axis2))
    axes[i], axes[j] = axes[j], axes[i]
    return tuple(axes)


def broadcast(data, shape):
    """`data` broadcast to `shape`, as an array of its own."""
    try:
        return np.array(np.broadcast_to(data, shape))
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast {np.shape(data)} to {shape}") from None


def check_label(label):
    """A label is a str (drawings and messages print it)."""
    if type(label) is not str:
        raise TypeError(f"a Value's label is a str, not {type(label).__name__} ({label!r})")


def as_grad(value, data):
    """A gradient set by hand (``v.grad = ...``) as the Value keeps it: a float for a scalar, an
    array of `data`'s shape and dtype (our own copy, broadcast if need be) for a tensor."""
    if type(data) is float:
        return float(value)
    arr = np.asarray(value, dtype=data.dtype)
    return np.broadcast_to(arr, data.shape).copy()


def exponent(p):
    """A constant exponent as a float: any real number (int, Fraction, numpy scalar), not a bool."""
    if not isinstance(p, numbers.Real) or isinstance(p, (bool, np.bool_)):
        raise TypeError(
            f"** takes a real number or a Value as the exponent, not {type(p).__name__}"
        )
    try:
        return float(p)
    except OverflowError:
        raise ValueError(
            "**: the exponent is too large for a float (its magnitude is above 1.8e308)"
        ) from None


def own_index(index):
    """An index the graph can keep: arrays copied, lists as arrays; a Value is refused."""
    parts = index if type(index) is tuple else (index,)
    if any(is_node(part) for part in parts):
        raise TypeError(
            "a Value cannot index a Value (its gradient would be lost, and 0.7 would truncate "
            "to 0); index with ints, slices, or an integer or boolean array such as v.data.astype(int)"
        )
    owned = tuple(np.array(p) if isinstance(p, (list, np.ndarray)) else p for p in parts)
    return owned if type(index) is tuple else owned[0]


def condition(cond, op):
    """where's condition: bools (our own copy, kept by the rule); a Value is refused."""
    if is_node(cond):
        raise TypeError(
            f"{op}: the condition is a Value; give the comparison of its data (v > 0 or "
            "v.data > 0 is an array of bools): no gradient flows through a choice"
        )
    return np.array(cond, dtype=bool)


def bound(b, like, op):
    """A bound of clip: None, a number, or an array in `like`'s float type; a Value is refused."""
    if b is None or type(b) is float:
        return b
    if is_node(b):
        raise TypeError(
            f"{op}: a bound is a constant (a number or an array), not a Value; for a bound that "
            "needs a gradient write x.maximum(lo).minimum(hi)"
        )
    data = as_data(b)
    return data.astype(like.dtype) if type(data) is np.ndarray and like.ndim else data


def matmul_error(xshape, yshape):
    """Why x @ y failed, for shapes that numpy refused."""
    for shape in (xshape, yshape):
        if not shape:
            return ValueError(f"@: needs operands with at least 1 dimension, got shape {shape}")
    rows = yshape[-2 if len(yshape) > 1 else 0]
    return ValueError(
        f"@: shapes {xshape} and {yshape} do not align ({xshape[-1]} columns against {rows} rows)"
    )


def check_join(shapes, axis, op):
    """Shapes that cat can join along `axis`: the same but for that axis."""
    first = shapes[0]
    for shape in shapes[1:]:
        if len(shape) != len(first) or shape[:axis] + shape[axis + 1 :] != first[:axis] + first[axis + 1 :]:  # fmt: skip
            raise ValueError(f"{op}: shapes {first} and {shape} do not join along axis {axis}")


# --------------------------------------------------------------------------------------------------
# Axes, as numpy takes them, and PyTorch's names for them


def check_axis(axis, ndim, op):
    """`axis` as numpy takes it, None, an int or a tuple of ints (numpy integers count), each in
    range and none twice; anything else is a TypeError, a bad axis a ValueError, naming axis."""
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        axes = tuple(one_axis(a, ndim, op, axis) for a in axis)
        if len(set(a % max(ndim, 1) for a in axes)) != len(axes):
            raise ValueError(f"{op}: axis {tuple(axis)} names the same axis twice")
        return axes
    return one_axis(axis, ndim, op)


def one_axis(a, ndim, op, whole=None):
    """One axis: an int in range for `ndim` dimensions (negative counts from the end)."""
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


def count(shape, axis):
    """How many entries a reduction over `axis` (a checked axis) combines into each result."""
    if axis is None:
        return math.prod(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in axes) if shape else 1


def reduction_axis(op, ndim, axis, keepdims, dim, keepdim):
    """(axis, keepdims, torch): the checked axis, whether it is kept, and whether PyTorch's
    keywords spelled it (``dim=`` or ``keepdim=``); mixing the two spellings of one thing is refused.

    >>> reduction_axis("sum", 2, 0, False, None, True)
    (0, True, True)
    """
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis= (numpy's name) or dim= (PyTorch's), not both")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(
                f"{op}: give keepdims= (numpy's name) or keepdim= (PyTorch's), not both"
            )
        keepdims = keepdim
    torch = dim is not None or keepdim is not None
    return check_axis(axis, ndim, op), bool(keepdims), torch


def squeezed(shape, axis, torch):
    """`shape` without its axes of length 1: all of them, or those of `axis`, where numpy's
    spelling refuses an axis of another length and PyTorch's leaves it.

    >>> squeezed((1, 3, 1), None, False), squeezed((1, 3), 1, True)
    ((3,), (1, 3))
    """
    axes = range(len(shape)) if axis is None else axis if type(axis) is tuple else (axis,)
    if axis is not None and not torch and any(shape[a] != 1 for a in axes):
        raise ValueError(f"squeeze: axis {axis} of shape {shape} is not of length 1")
    drop = {a % len(shape) for a in axes if shape[a] == 1}
    return tuple(n for a, n in enumerate(shape) if a not in drop)


def divisor_offset(op, ddof, unbiased, correction, torch):
    """What var and std subtract from n: numpy's ``ddof`` (default 0) or PyTorch's ``correction``
    (default 1, ``unbiased=False`` for 0); PyTorch's keywords mean PyTorch's default.

    >>> divisor_offset("var", None, None, None, False), divisor_offset("var", None, None, None, True)
    (0, 1)
    """
    given = [name for name, v in (("ddof", ddof), ("unbiased", unbiased), ("correction", correction)) if v is not None]  # fmt: skip
    if len(given) > 1:
        raise TypeError(f"{op}: give one of ddof= (numpy), unbiased= or correction= (PyTorch), not {' and '.join(given)}")  # fmt: skip
    if unbiased is not None:
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"{op}: unbiased takes True or False, got {unbiased!r}")
        return int(unbiased)
    offset = ddof if ddof is not None else correction
    if offset is None:
        return 1 if torch else 0
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, numbers.Real):
        raise TypeError(
            f"{op}: {given[0]} takes a number, got {type(offset).__name__} ({offset!r})"
        )
    return offset
