"""Forward mode: each op's tangent rule, and the tracer that carries a tangent beside each value.

Notation, as in the two backward tables (`rules`, `activations`):

    x, y        an op's inputs (z for a one-input op); a its output
    dx, dy, dz  their tangents ẋ, ẏ, ż: how fast each value moves along the direction a `jvp` was given
    da          the output's tangent ȧ = (∂a/∂x)·ẋ + (∂a/∂y)·ẏ

Reverse mode multiplies a local derivative into the gradient flowing back, g·g'(z); forward mode
multiplies the same local derivative into the tangent flowing forward, g'(z)·ż. For an elementwise
op the local Jacobian is diagonal, so it is its own transpose, and **the backward rule is the
forward rule**: hand it ż in place of g and its share for z is g'(z)·ż. That is how every
elementwise op of `rules` and every activation written with a ``derivative`` (a user's too) works
in forward mode with no rule of its own. The other ops move values between positions (matmul,
reductions, shapes, softmax): their forward rules are written out below. The tangents are raw data
(floats and arrays), one beside each value, kept in a side table for one call, not on the nodes.

This module knows nothing of the engine: it reads the nodes' data and the rules the engine recorded.
"""

from __future__ import annotations

import numpy as np

from tinygrad_act.numeric import on_numpy_floats
from tinygrad_act.rules import (
    ClipRule,
    ConcatRule,
    GetitemRule,
    MatmulRule,
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
    log_rule,
    maximum_rule,
    minimum_rule,
    mul_rule,
    neg_rule,
    pow_value_rule,
    reshape_rule,
    scatter,
    sqrt_rule,
    sub_rule,
)

# --------------------------------------------------------------------------------------------------
# Elementwise ops: the backward rule, given the tangent of one input, returns that input's term of ȧ.

ELEMENTWISE = frozenset(
    {add_rule, sub_rule, mul_rule, div_rule, pow_value_rule, neg_rule, exp_rule, log_rule}
    | {sqrt_rule, abs_rule, maximum_rule, minimum_rule}
)
# Rules with a setting: z ** p for a constant p, clip's bounds, where's condition.
ELEMENTWISE_KINDS = (PowRule, ClipRule, WhereRule)

# --------------------------------------------------------------------------------------------------
# The other ops move values between positions. Each rule is linear in the tangent; most apply the
# op itself to it.


def reduction_jvp(rule, dz, a, z):  # sum, and mean: rule.scale is 1/n
    return dz.sum(axis=rule.axis, keepdims=rule.keepdims) * rule.scale


def max_jvp(rule, dz, a, z):  # the maximum's tangent; ties share it evenly, as backward splits g
    return (rule.share(z, a) * dz).sum(axis=rule.axis, keepdims=rule.keepdims)


def var_jvp(rule, dz, a, z):  # var and std: Σ a'(z)·ż over the axis (backward at g = 1 is a'(z))
    (slope,) = rule(np.ones_like(a), a, z)
    return (slope * dz).sum(axis=rule.axis, keepdims=rule.keepdims)


def reshape_jvp(rule, dz, a, z):
    return dz.reshape(np.shape(a))


def transpose_jvp(rule, dz, a, z):
    return dz.transpose(np.argsort(rule.inverse))


def broadcast_jvp(rule, dz, a, z):
    return np.broadcast_to(dz, np.shape(a))


def getitem_jvp(rule, dz, a, z):
    return dz[rule.index]


def scatter_jvp(rule, dz, a, z):
    return scatter(dz, rule.index, np.shape(a))


def concat_jvp(rule, dx, dy, a, x, y):  # the tangents joined as the values were (0 for a constant)
    dx, dy = (np.zeros_like(v) if d is None else np.broadcast_to(d, v.shape) for d, v in ((dx, x), (dy, y)))  # fmt: skip
    return np.concatenate((dx, dy), axis=rule.axis)


def matmul_jvp(rule, dx, dy, a, x, y):  # d(x @ y) = ẋ @ y + x @ ẏ, a term per input that moves
    if dy is None:
        return dx @ y
    return x @ dy if dx is None else dx @ y + x @ dy


ONE_INPUT = {
    ReductionRule: reduction_jvp,
    MaxRule: max_jvp,
    VarRule: var_jvp,
    reshape_rule: reshape_jvp,
    TransposeRule: transpose_jvp,
    broadcast_rule: broadcast_jvp,
    GetitemRule: getitem_jvp,
    ScatterRule: scatter_jvp,
}
TWO_INPUTS = {MatmulRule: matmul_jvp, ConcatRule: concat_jvp}


# --------------------------------------------------------------------------------------------------
# One node's tangent


def tangent(rule, op, a, x, y, dx, dy):
    """ȧ of a node made by `rule` (op name `op`) with output data a from inputs x (and y), raw data.

    dx, dy are the inputs' tangents, None for an input that has none (a constant: its term is never
    computed, so x**y at a negative x, whose ∂a/∂y is nan, gives a clean ȧ for a constant y).

    >>> tangent(mul_rule, "*", 6.0, 2.0, 3.0, 1.0, None)  # d(x·y) along ẋ = 1: y
    3.0
    """
    with np.errstate(all="ignore"):
        try:
            da = _tangent(rule, op, a, x, y, dx, dy)
        except ArithmeticError:  # float math hit x/0 or overflow: redo it the IEEE way
            da = on_numpy_floats(_tangent, rule, op, a, x, y, dx, dy)
    return _fit(da, a)


def _tangent(rule, op, a, x, y, dx, dy):
    inputs = (x,) if y is None else (x, y)
    if rule in ELEMENTWISE or isinstance(rule, ELEMENTWISE_KINDS):
        return _elementwise(rule, a, inputs, dx, dy)
    spec = getattr(rule, "spec", None)
    if spec is not None:  # a row of the activation table
        if spec.jvp is not None:
            return spec.jvp(dx, x, a, **rule.params)
        if spec.derivative is not None:
            return _elementwise(rule, a, inputs, dx, dy)  # g'(z)·ż, by the rule backward runs
        raise NotImplementedError(
            f"forward mode: activation {spec.name!r} was registered with vjp= only; register it "
            f"with jvp=... too (jvp(dz, z, a) -> the tangent of a) to use it in jvp, "
            f"jacobian(mode='forward') or hessian"
        )
    kind = type(rule)
    if y is None:
        rule_jvp = ONE_INPUT.get(rule) or ONE_INPUT.get(kind)
        if rule_jvp is not None:
            return rule_jvp(rule, dx, a, x)
        own = getattr(rule, "jvp", None)  # a rule defined elsewhere may carry its own forward rule
        if own is not None:
            return own(dx, a, x)
    else:
        rule_jvp = TWO_INPUTS.get(kind)
        if rule_jvp is not None:
            return rule_jvp(rule, dx, dy, a, x, y)
        own = getattr(rule, "jvp", None)
        if own is not None:
            return own(dx, dy, a, x, y)
    raise NotImplementedError(f"forward mode: the op {op!r} has no forward rule")


def _elementwise(rule, a, inputs, dx, dy):
    """ȧ = ∂a/∂x·ẋ + ∂a/∂y·ẏ: the backward rule given each tangent in place of g, its own share."""
    da = None if dx is None else rule(dx, a, *inputs)[0]
    if dy is not None:
        term = rule(dy, a, *inputs)[1]
        da = term if da is None else da + term
    return da


def _fit(da, a):
    """A tangent in its value's form: a float for a scalar; an array of a's shape and dtype."""
    if type(a) is float:
        return float(da)
    if type(da) is not np.ndarray or da.dtype != a.dtype:
        da = np.asarray(da, dtype=a.dtype)
    if da.shape != a.shape:  # an input's term before broadcasting (x + y with y a bias)
        da = np.broadcast_to(da, a.shape)
    return da


# --------------------------------------------------------------------------------------------------
# The tracer: one jvp's tangents, computed as each node is made


class Tracer:
    """The tangents of one forward-mode call: node -> ȧ, for the seeded inputs and every node made
    from them while the call runs (the engine hands it each new node). A node it has no tangent
    for is a constant along the direction: its tangent is zero.

    >>> tracer = Tracer()
    >>> tracer.tangent_of("any node") is None
    True
    """

    __slots__ = ("tangents",)

    def __init__(self):
        self.tangents = {}

    def seed(self, leaf, da):
        """Give an input of the call its tangent."""
        self.tangents[leaf] = da

    def tangent_of(self, node):
        """The node's tangent, or None when it is zero (the node does not depend on the inputs)."""
        return self.tangents.get(node)

    def __call__(self, out, x, y, op, rule):
        tangents = self.tangents
        dx, dy = tangents.get(x), tangents.get(y)
        if dx is None and dy is None:
            return  # made from constants only: ȧ = 0
        ydata = None if y is None else y.data
        tangents[out] = tangent(rule, op, out.data, x.data, ydata, dx, dy)
