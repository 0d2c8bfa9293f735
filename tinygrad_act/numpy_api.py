"""numpy's own functions on Values: ``np.tanh(Z)``, ``np.dot(W, A)``, ``np.sum(A, axis=1)``.

numpy lets a class answer its calls itself (NEP 13 for ufuncs such as ``np.tanh`` and ``+``,
NEP 18 for functions such as ``np.sum``); `Value` hands both calls here. Two tables map each
numpy name to the engine's op, so a student's numpy code builds the same graph as the method
calls: ``np.tanh(Z)`` is ``Z.tanh()``, ``np.sum(A, axis=1, keepdims=True)`` is
``A.sum(axis=1, keepdims=True)``. Numbers and plain arrays among the arguments are constants, as
in an expression. A numpy name with no row, or an ``out=`` argument, is a TypeError that names it:
never an array of Python objects, never the numbers copied without their graph.

    >>> import numpy as np
    >>> from tinygrad_act import Value
    >>> W, X = Value([[1.0, -1.0]]), np.array([[2.0], [0.5]])
    >>> A = np.tanh(np.dot(W, X))
    >>> np.sum(A).backward()
    >>> W.grad.round(4).tolist()
    [[0.3614, 0.0904]]

This module never imports the engine: it calls the Values' own methods.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from tinygrad_act import inputs
from tinygrad_act.inputs import is_node

# --------------------------------------------------------------------------------------------------
# Ufuncs: numpy's elementwise functions, and the operators when a numpy object is on the left.


def _binary(name):
    """x <op> y through the Value's operator: x's own, or y's reflected one when x is a constant."""
    own, reflected = f"__{name}__", f"__r{name}__"
    return lambda x, y: getattr(x, own)(y) if is_node(x) else getattr(y, reflected)(x)


def _compare(op):
    """A comparison gives the comparison of the data (bools), as the Value operators do."""
    return lambda x, y: op(_data(x), _data(y))


def _pair(name):
    """maximum and minimum: a constant on the left becomes a constant Value first."""
    return lambda x, y: getattr(x if is_node(x) else _constant(x, y), name)(y)


UFUNCS = {
    np.add: _binary("add"),
    np.subtract: _binary("sub"),
    np.multiply: _binary("mul"),
    np.divide: _binary("truediv"),  # np.true_divide is np.divide
    np.power: _binary("pow"),
    np.matmul: _binary("matmul"),
    np.negative: lambda z: -z,
    np.square: lambda z: z**2,
    np.sqrt: lambda z: z.sqrt(),
    np.exp: lambda z: z.exp(),
    np.log: lambda z: z.log(),
    np.tanh: lambda z: z.tanh(),
    np.absolute: lambda z: z.abs(),
    np.maximum: _pair("maximum"),
    np.minimum: _pair("minimum"),
    np.less: _compare(np.less),
    np.less_equal: _compare(np.less_equal),
    np.greater: _compare(np.greater),
    np.greater_equal: _compare(np.greater_equal),
}


def array_ufunc(value, ufunc, method, *args, **kwargs):
    """``Value.__array_ufunc__``: run the ufunc's row of `UFUNCS` on its arguments (`value` is
    one of them)."""
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if "out" in kwargs:
        raise TypeError(
            f"{name} with out=: a Value cannot be written into an array (the result is a new "
            f"node of the graph); write the result to a name instead, as in a = a + v"
        )
    fn = UFUNCS.get(ufunc) if method == "__call__" else None
    if fn is None:
        _no_rule(name, "ufuncs", sorted(f"np.{u.__name__}" for u in UFUNCS))
    if kwargs:
        raise TypeError(f"{name} on a Value takes no keywords; got {', '.join(sorted(kwargs))}")
    return fn(*args)


# --------------------------------------------------------------------------------------------------
# Functions: numpy's name -> the Value method, with numpy's keywords.


def _dot(a, b):
    """np.dot: a product with a number, the inner product of vectors, or a matrix product."""
    if np.ndim(_data(a)) == 0 or np.ndim(_data(b)) == 0:
        return _binary("mul")(a, b)
    if max(np.ndim(_data(a)), np.ndim(_data(b))) > 2:
        raise TypeError("np.dot of arrays with more than 2 dimensions has no rule; use np.matmul")
    return _binary("matmul")(a, b)


def _outer(a, b):
    """np.outer: every entry of a times every entry of b, both flattened."""
    a, b = (_as_value(x, a, b) for x in (a, b))
    return a.reshape(-1, 1) * b.reshape(1, -1)


def _where(condition, x=None, y=None):
    if not is_node(x) and not is_node(y):  # the Value is the condition: refused by name
        inputs.condition(condition, "np.where")
    return (x if is_node(x) else _constant(x, y)).where(condition, y)


def _clip(a, a_min=None, a_max=None, *, min=None, max=None):
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    return a.clip(lo, hi)


def _concatenate(arrays, axis=0):
    if axis is None:  # numpy's axis=None: flattened first
        return cat([_as_value(x, *arrays).reshape(-1) for x in arrays])
    return cat(arrays, dim=axis)


def _reduction(name):
    """sum, mean, max, min and their like: numpy's axis and keepdims (and ddof) as keywords."""

    def call(a, axis=None, keepdims=False, **rest):
        return getattr(a, name)(axis=axis, keepdims=keepdims, **rest)

    return call


FUNCTIONS = {
    np.dot: _dot,
    np.outer: _outer,
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.var: _reduction("var"),
    np.std: _reduction("std"),
    np.max: _reduction("max"),
    np.amax: _reduction("max"),
    np.min: _reduction("min"),
    np.amin: _reduction("min"),
    np.argmax: _reduction("argmax"),
    np.argmin: _reduction("argmin"),
    np.transpose: lambda a, axes=None: a.transpose(*(() if axes is None else (axes,))),
    np.reshape: lambda a, shape: a.reshape(shape),
    np.squeeze: lambda a, axis=None: a.squeeze(axis),
    np.expand_dims: lambda a, axis: a.expand_dims(axis),
    np.concatenate: _concatenate,
    np.stack: lambda arrays, axis=0: stack(arrays, dim=axis),
    np.where: _where,
    np.clip: _clip,
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
}

# numpy's keywords that a Value's op has no use for: accepted at numpy's own defaults only.
_UNUSED = frozenset({"dtype", "out", "order", "initial", "where", "casting", "copy"})


def array_function(value, func, types, args, kwargs):
    """``Value.__array_function__``: run the function's row of `FUNCTIONS` (`value` is one of
    its arguments)."""
    module = getattr(func, "__module__", None) or "numpy"
    name = f"{module.replace('numpy', 'np', 1)}.{func.__name__}"  # np.sum, np.linalg.norm
    fn = FUNCTIONS.get(func)
    if fn is None:
        _no_rule(name, "functions", sorted(f"np.{f.__name__}" for f in FUNCTIONS))
    if len(args) <= _plain_positions(func) and _UNUSED.isdisjoint(kwargs):
        return fn(*args, **kwargs)  # the usual call: nothing to refuse, no binding needed
    try:
        bound = _signature(func).bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
    given = bound.arguments
    for key in _UNUSED:
        if key in given and not _is_default(given[key], bound.signature.parameters[key].default):
            if key == "out":
                raise TypeError(
                    f"{name} with out=: a Value cannot be written into an array; "
                    "use the result it returns"
                )
            raise TypeError(f"{name} on a Value takes no {key}= (got {given[key]!r})")
    return fn(**{k: v for k, v in given.items() if k not in _UNUSED})


def _is_default(value, default):
    return value is default or (isinstance(value, str) and value == default)


@functools.cache
def _signature(func):  # (read once per function: inspect.signature costs as much as a small op)
    return inspect.signature(func)


@functools.cache
def _plain_positions(func):
    """How many of the function's leading parameters come before the first one in `_UNUSED`."""
    names = list(_signature(func).parameters)
    return next((i for i, name in enumerate(names) if name in _UNUSED), len(names))


def _no_rule(name, kind, known):
    raise TypeError(
        f"{name} has no rule for a Value: its result would lose the graph. The numpy {kind} with "
        f"a rule: {', '.join(known)}; for a constant, call it on the data (v.data)"
    )


def refuse_conversion(value, dtype=None, copy=None):
    """``Value.__array__``, what ``np.asarray(v)`` meets: a Value does not become a plain array."""
    raise TypeError(
        f"a Value (shape {value.shape}) cannot become a plain numpy array: the copy would lose its "
        "graph. Use v.data for the numbers (a constant), or a numpy function with a rule on v"
    )


# --------------------------------------------------------------------------------------------------
# PyTorch's functions that join Values: tinygrad_act.cat and tinygrad_act.stack.


def cat(tensors, dim=0):
    """The Values joined along the existing axis `dim`, as ``torch.cat`` (and ``np.concatenate``);
    arrays among them are constants. Each input gets its own slice of the gradient.

    >>> from tinygrad_act import Value
    >>> x = Value([[1.0, 2.0]])
    >>> out = cat([x, x * 10], dim=0)
    >>> out.data.tolist()
    [[1.0, 2.0], [10.0, 20.0]]
    >>> (out * Value([[1.0, 1.0], [2.0, 2.0]])).sum().backward()
    >>> x.grad.tolist()
    [[21.0, 21.0]]
    """
    tensors = list(_sequence(tensors, "cat"))
    first = _first_value(*tensors, op="cat")
    parts = [_as_value(t, first) for t in tensors]
    return parts[0].cat(*parts[1:], dim=dim)


def stack(tensors, dim=0):
    """The Values, all of one shape, stacked along a new axis `dim`, as ``torch.stack``.

    >>> from tinygrad_act import Value
    >>> stack([Value([1.0, 2.0]), Value([3.0, 4.0])], dim=1).data.tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    """
    tensors = list(_sequence(tensors, "stack"))
    first = _first_value(*tensors, op="stack")
    parts = [_as_value(t, first) for t in tensors]
    shapes = {p.shape for p in parts}
    if len(shapes) > 1:
        raise ValueError(f"stack: the Values must have one shape; got {sorted(shapes)}")
    return cat([p.unsqueeze(dim) for p in parts], dim=dim)


# --------------------------------------------------------------------------------------------------
# Helpers


def _data(x):
    return x.data if is_node(x) else x


def _sequence(tensors, op):
    if is_node(tensors) or isinstance(tensors, np.ndarray) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{op} takes a list or tuple of Values, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op} needs at least one Value")
    return tensors


def _first_value(*args, op):
    for x in args:
        if is_node(x):
            return x
    raise TypeError(f"{op} needs a Value among its inputs (for arrays only, use numpy's)")


def _as_value(x, *others):
    """x if it is a Value, else x as a constant beside the first Value among `others`."""
    return x if is_node(x) else _constant(x, _first_value(*others, op="numpy"))


def _constant(x, like):
    """A number or plain array as a constant Value; an array takes the dtype of the tensor it meets."""
    if isinstance(x, np.ndarray) and like.ndim and x.dtype != like.dtype and x.dtype.kind in "iuf":
        with np.errstate(over="ignore"):
            x = x.astype(like.dtype)
    return type(like)(x, requires_grad=False)
