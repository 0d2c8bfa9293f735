"""The local gradients of the arithmetic and tensor ops: one table, read like a page of calculus.

Notation, as in the lecture and in the activation table:

    x, y   an op's inputs (z for a one-input op)
    a      its output
    g      the upstream gradient dL/da

A rule is ``rule(g, a, *inputs) -> (dL/dinput, ...)``, one gradient per input; ``None`` where an
input needs none. The backward pass calls it with raw data (floats and arrays) or, when it is
itself recorded (``backward(create_graph=True)``), with `Value`\\ s, so each formula is written
once with operators that work on both. A rule is shared by every node of its op and receives the
output as an argument instead of closing over it: a graph holds no reference cycles.
Ops with a setting (an axis, an exponent, an index) get a small class whose instance holds it.

This module knows nothing of the engine: the engine reads the table.
"""

from __future__ import annotations

import numpy as np

from tinygrad_act.numeric import RAW, data_of, log, pow_

# --------------------------------------------------------------------------------------------------
# Arithmetic: each rule returns (dL/dx, dL/dy), or (dL/dz,) for one input.


# fmt: off
def add_rule(g, a, x, y):        return g, g
def sub_rule(g, a, x, y):        return g, -g
def mul_rule(g, a, x, y):        return g * y, g * x
def div_rule(g, a, x, y):        return g / y, -g * a / y                         # -x/y² from the output
def neg_rule(g, a, z):           return (-g,)
def exp_rule(g, a, z):           return (g * a,)                                  # e^z is the output
def log_rule(g, a, z):           return (g / z,)
def sqrt_rule(g, a, z):          return (g / (2 * a),)                            # 1/(2√z) from the output
def abs_rule(g, a, z):           return (g * sign(z),)                            # sign z; 0 at the kink z = 0
# fmt: on


# The same local derivatives as formulas, one per input, for what shows them (drawings, the lab's
# explanations) and what will generate code from them: Python syntax over the notation above, plus
# p, a constant exponent. `tinygrad_act.formulas` puts a graph's names or numbers in. A rule may
# compute its formula another way (x/y's -x/y² as -a/y); the tests check that both agree.
# fmt: off
FORMULAS = {
    "+":   ("1",          "1"),
    "-":   ("1",          "-1"),
    "*":   ("y",          "x"),
    "/":   ("1/y",        "-x/y**2"),
    "neg": ("-1",),
    "exp": ("exp(z)",),
    "log": ("1/z",),
    "**":  ("y*x**(y-1)", "x**y*log(x)"),                                         # x**y, y a Value
    "**p": ("p*z**(p-1)",),                                                        # z**p, p a number
    "sqrt": ("1/(2*z**0.5)",),                                                     # √z
}

# The tensor ops, in words: what the backward pass does with the upstream gradient g.
IN_WORDS = {
    "@":         ("g@yᵀ", "xᵀ@g"),
    "sum":       ("1",),
    "mean":      ("1/n",),
    "max":       ("1 at the max",),
    "reshape":   ("g reshaped back",),
    "transpose": ("g transposed back",),
    "broadcast": ("g summed back",),
    "[]":        ("g scattered back",),
    "scatter":   ("g[index]",),
    "abs":       ("±1 by the sign, 0 at 0",),
    "maximum":   ("1 if larger, ½ at a tie", "1 if larger, ½ at a tie"),
    "minimum":   ("1 if smaller, ½ at a tie", "1 if smaller, ½ at a tie"),
    "where":     ("1 where chosen", "1 where chosen"),
    "clip":      ("1 within the bounds, 0 outside",),
    "var":       ("2·(entry - mean)/(n - ddof)",),
    "std":       ("(entry - mean)/((n - ddof)·std)",),
    "min":       ("1 at the min",),
    "cat":       ("its slice of g", "its slice of g"),
    "squeeze":   ("g reshaped back",),
    "unsqueeze": ("g reshaped back",),
    "flatten":   ("g reshaped back",),
}
# fmt: on
# NOTE: |z| has a kink at 0, where its slope jumps from -1 to 1; the rule takes sign(0) = 0 there,
# as PyTorch and numpy's sign do (the lecture's ReLU takes 1 at its kink; |z| has no lecture row).


def sign(z):
    """-1, 0 or 1 by the sign of z's value: a constant of z's float type (no gradient flows)."""
    zd = data_of(z)
    if isinstance(zd, np.ndarray):
        return np.sign(zd)
    return float((zd > 0) - (zd < 0))


def _tie_share(x, y, larger):
    """x's part of max(x, y) (or of min, for larger=False): 1 where it wins, 1/2 at a tie, 0 where
    it loses. A constant in the inputs' float type."""
    xd, yd = data_of(x), data_of(y)
    wins = xd > yd if larger else xd < yd
    share = _as_mask(wins, xd if isinstance(xd, np.ndarray) else yd)
    return share + 0.5 * _as_mask(xd == yd, share)


# NOTE: at a tie, max(x, y) and min(x, y) have a kink (the slope is 1 on one side and 0 on the
# other for each input); each input then gets half of g, as PyTorch's maximum and minimum do, and
# as the max reduction splits g among tied maxima.
def maximum_rule(g, a, x, y):
    """max(x, y)' = 1 for the larger input, 0 for the other; g/2 each at a tie."""
    share = _tie_share(x, y, larger=True)
    return g * share, g * (1 - share)


def minimum_rule(g, a, x, y):
    """min(x, y)' = 1 for the smaller input, 0 for the other; g/2 each at a tie."""
    share = _tie_share(x, y, larger=False)
    return g * share, g * (1 - share)


class WhereRule:
    """where(c, x, y) passes g to the branch it chose, x where c holds and y elsewhere, and nothing
    to the other: the condition is a constant, so no gradient flows through the choice."""

    __slots__ = ("condition",)

    def __init__(self, condition):
        self.condition = condition

    def __call__(self, g, a, x, y):
        chosen = _as_mask(self.condition, data_of(a))
        return g * chosen, g * (1 - chosen)


class ClipRule:
    """clip(z, lo, hi)' = 1 where lo ≤ z ≤ hi, 0 outside. At the bounds themselves (kinks) the
    slope is 1, as PyTorch's clamp takes it; a bound of None is no bound."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __call__(self, g, a, z):
        zd = data_of(z)
        above = zd >= self.lo if self.lo is not None else True
        below = zd <= self.hi if self.hi is not None else True
        return (g * _as_mask(above & below, data_of(a)),)


def pow_value_rule(g, a, x, y):
    """(x^y)' = y·x^(y-1) for the base, x^y·log x for the exponent, with PyTorch's answers at base 0:
    the base's slope is 0 where x = y = 0 (not 0·0^-1), the exponent's is 0 where x = 0 and y ≥ 0
    (not 0·log 0). Adding the 0/1 masks changes nothing elsewhere, exactly, even at inf; the base's
    mask is only where x = 0 too, so a create_graph pass keeps ∂/∂y of y·x^(y-1) = 1/x at y = 0."""
    xd, yd = data_of(x), data_of(y)
    both_zero = _as_mask((xd == 0) & (yd == 0), yd if isinstance(yd, np.ndarray) else xd)
    x_zero = _as_mask((xd == 0) & (yd >= 0), xd)
    return g * y * pow_(x, y - 1 + both_zero), g * a * log(x + x_zero)


def _as_mask(cond, like):
    """A condition as 0/1 in `like`'s float type: added to a base or an exponent, it moves only
    the entries where the condition holds."""
    if isinstance(cond, (bool, np.bool_)):
        return float(cond)
    return cond.astype(like.dtype if isinstance(like, np.ndarray) else np.float64)


class PowRule:
    """(z^p)' = p·z^(p-1), for a constant exponent p; 0 for p = 0 (as PyTorch, not 0·0^-1)."""

    __slots__ = ("p", "p_minus_1")

    def __init__(self, p):
        self.p = p
        self.p_minus_1 = p - 1 if p != 0 else 0.0  # z^0 = 1, so p·z^0 = 0 even at z = 0

    def __call__(self, g, a, z):
        return (g * self.p * pow_(z, self.p_minus_1),)


class MatmulRule:
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


MATMUL_RULES = {(nx, ny): MatmulRule(nx, ny) for nx in (True, False) for ny in (True, False)}


# --------------------------------------------------------------------------------------------------
# Tensor ops: reductions move the gradient back over the reduced axes, shape ops undo themselves.


class ReductionRule:
    """sum and mean: g spreads back over the reduced axes (times 1/n for mean)."""

    __slots__ = ("axis", "keepdims", "scale")

    def __init__(self, axis, keepdims, scale):
        self.axis, self.keepdims, self.scale = axis, keepdims, scale

    def __call__(self, g, a, z):
        dz = expand(g, z.shape, self.axis, self.keepdims)
        return (dz * self.scale if self.scale != 1 else dz,)


class MaxRule:
    """g goes to the maximal entries, split evenly among ties (as torch.amax)."""

    __slots__ = ("axis", "keepdims")

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def __call__(self, g, a, z):
        share = self.share(z, a)
        return (expand(g, share.shape, self.axis, self.keepdims) * share,)

    def share(self, z, a):
        """Each entry's part of the maximum: 1/k at the k tied maxima, 0 elsewhere (a constant)."""
        zd, ad = data_of(z), data_of(a)
        if not self.keepdims and self.axis is not None:
            ad = np.expand_dims(ad, self.axis)
        mask = zd == ad
        return mask / mask.sum(axis=self.axis, keepdims=True)


class VarRule:
    """var = Σ(z - mean)² / (n - ddof) over `axis`; var' = 2(z - mean) / (n - ddof).

    For std = √var the chain rule divides by 2·std: std' = (z - mean) / ((n - ddof)·a); where
    std is 0 (all entries equal) its slope is taken to be 0, as PyTorch does, not 0/0."""

    __slots__ = ("axis", "keepdims", "divisor", "root")

    def __init__(self, axis, keepdims, divisor, root=False):
        self.axis, self.keepdims, self.divisor, self.root = axis, keepdims, divisor, root

    def __call__(self, g, a, z):
        if self.root:  # std: g/(2a) of the variance's gradient, its 2 cancelled
            ad = data_of(a)
            g = g / (a + _as_mask(ad == 0, ad))  # a = 0 only where z - mean is 0: the share is 0
        else:
            g = g * 2
        centred = z - z.mean(axis=self.axis, keepdims=True)
        scale = 1 / self.divisor if self.divisor > 0 else np.inf  # n ≤ ddof: inf, as numpy's var
        return (expand(g, centred.shape, self.axis, self.keepdims) * centred * scale,)


class ConcatRule:
    """cat(x, y) along `axis`: each input gets back its own slice of g (x's first `split` rows)."""

    __slots__ = ("axis", "split")

    def __init__(self, axis, split):
        self.axis, self.split = axis, split

    def __call__(self, g, a, x, y):
        lead = (slice(None),) * (self.axis % g.ndim)
        return g[lead + (slice(None, self.split),)], g[lead + (slice(self.split, None),)]


def reshape_rule(g, a, z):
    return (g.reshape(z.shape),)


def broadcast_rule(g, a, z):
    return (sum_to(g, z.shape),)  # the adjoint of broadcasting is summation


class TransposeRule:
    __slots__ = ("inverse",)

    def __init__(self, axes):
        self.inverse = tuple(np.argsort(axes))

    def __call__(self, g, a, z):
        return (g.transpose(self.inverse),)


class GetitemRule:
    """d(z[index])/dz: g added into zeros of z's shape (repeated indices accumulate)."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __call__(self, g, a, z):
        return (scatter(g, self.index, z.shape),)


def index_along(index, axis, keepdims):
    """The index that picks the entries at `index` along `axis` (argmax's, with the axis kept):
    torch's max(dim) is z[that index], so its gradient goes to the entry picked, not to its ties."""
    parts = list(np.indices(index.shape, sparse=True))
    parts[axis] = index
    return tuple(parts if keepdims else (np.squeeze(p, axis) for p in parts))


class ScatterRule:
    """The adjoint of indexing is indexing again."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __call__(self, g, a, z):
        return (g[self.index],)


# Rules whose gradient always has its input's shape and dtype, so the backward pass need not check
# (reading an array's shape and dtype is a tenth of a small op's cost). The activation table keeps
# its own such set; tests check every member in float32 and float64.
FITTED = frozenset({neg_rule, exp_rule, log_rule, sqrt_rule, abs_rule})


# --------------------------------------------------------------------------------------------------
# Shape helpers: each works on arrays and on Values alike.


def sum_to(g, shape):
    """Sum a broadcast gradient back to `shape`."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if g.shape[lead:] == shape:  # the common case: only leading axes were added (a bias)
        return g.sum(axis=tuple(range(lead)))
    return g.sum(axis=broadcast_axes(shape, g.shape)).reshape(shape)


def broadcast_axes(shape, out):
    """The axes of `out` that broadcasting `shape` to it added or stretched: what `sum_to` sums."""
    lead = len(out) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and out[lead + i] != 1
    )


def expand(g, shape, axis, keepdims):
    """Broadcast the gradient of a reduction over `axis` back to the input's `shape`."""
    if not keepdims and axis is not None:
        axes = (axis,) if isinstance(axis, int) else axis
        kept = [1 if i in {a % len(shape) for a in axes} else n for i, n in enumerate(shape)]
        g = g.reshape(tuple(kept))
    if isinstance(g, RAW):
        return np.broadcast_to(g, shape)
    return g.broadcast_to(shape)


def scatter(g, index, shape):
    """g added into zeros of `shape` at `index`."""
    if not isinstance(g, RAW):
        return g._scatter(index, shape)
    out = np.zeros(shape, dtype=g.dtype if hasattr(g, "dtype") else np.float64)
    np.add.at(out, index, g)
    return out


def _swap_last(x):
    return x.swapaxes(-1, -2)
