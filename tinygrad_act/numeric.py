"""Math that works on a float, an array or a `Value` alike, with IEEE answers instead of exceptions.

The op rules and the activation table are written once for all three: a plain backward pass hands
them floats and arrays, a ``create_graph`` pass hands them Values, which record the graph. These
helpers never import `Value`: anything that is not raw data (a float or a numpy object) is treated
as a graph node and asked for its own method (``x.exp()``, ``x.data``).

>>> exp(1000.0), log(0.0), pow_(0.0, -1.0)
(inf, -inf, inf)
"""

from __future__ import annotations

import math

import numpy as np

RAW = (float, int, np.ndarray, np.generic)  # data, as opposed to a graph node


def data_of(x):
    """The raw data of a Value, or x itself: masks and other constants of a rule come from here."""
    return x if isinstance(x, RAW) else x.data


def quietly(fn, *args, **kwargs):
    """fn(*args) with numpy's floating-point warnings off: its IEEE answer (inf, nan), unremarked.

    The ops call it after numpy raised a RuntimeWarning (inf - inf, an overflow), which happens
    when warnings are errors (``python -W error``, pytest's ``filterwarnings = error``): the answer
    is the same, and the usual path pays nothing (entering ``np.errstate`` costs about as much as a
    small op itself).
    """
    with np.errstate(all="ignore"):
        return fn(*args, **kwargs)


def ieee(ufunc, *args):
    """numpy's IEEE answer (inf, -inf or nan) where Python's float math raises."""
    with np.errstate(all="ignore"):
        return float(ufunc(*args))


def on_numpy_floats(fn, *args):
    """fn(*args) with each Python float given as a numpy float64, which answers inf and nan where
    Python's float math raises (x/0, an overflow): how a rule is redone after an ArithmeticError.

    >>> on_numpy_floats(lambda g, y: g / y, 1.0, 0.0)
    np.float64(inf)
    """
    with np.errstate(all="ignore"):
        return fn(*(np.float64(x) if type(x) is float else x for x in args))


def _scalar_pow(x, p):
    try:
        r = x**p
    except ArithmeticError:  # 0.0 ** -1, 9.0 ** 400
        return ieee(np.power, x, p)
    return math.nan if type(r) is complex else float(r)  # (-8.0) ** (1/3) is nan, as in numpy


def pow_(x, p):
    """x ** p on a float, an array or a Value."""
    if type(x) is float and not isinstance(p, np.ndarray):
        return _scalar_pow(x, float(p))
    if not isinstance(x, RAW) or not isinstance(p, RAW):
        return x**p
    with np.errstate(all="ignore"):
        return np.power(x, p)


def exp(x):
    """e^x; inf on overflow."""
    if type(x) is float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf
    if not isinstance(x, RAW):
        return x.exp()
    with np.errstate(over="ignore"):
        return np.exp(x)


def sqrt(x):
    """√x; nan for a negative x, as in numpy."""
    if type(x) is float:
        return math.sqrt(x) if x >= 0 else math.nan  # a negative number (or nan) gives nan
    if not isinstance(x, RAW):
        return x.sqrt()
    with np.errstate(invalid="ignore"):
        return np.sqrt(x)


def log(x):
    """Natural log; log(0) = -inf and log of a negative number is nan, as in numpy."""
    if type(x) is float:
        try:
            return math.log(x)
        except ValueError:  # log(0) = -inf, log(negative) = nan
            return ieee(np.log, x)
    if not isinstance(x, RAW):
        return x.log()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)
