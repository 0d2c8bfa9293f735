"""The activation explorer: g(z) and g'(z) over a range, the tangent line at z, and g'(z) three
ways: the slide's formula (the registry's derivative), backprop through a `Value`, and a central
difference (`tinygrad_act.numerical_grad`), with the note where g' jumps.

>>> view = explore("relu", 0.0)
>>> view["at"]["formula"], view["at"]["backprop"], round(view["at"]["numeric"], 6)
(1.0, 1.0, 0.5)
>>> view["kink"]["note"].split(":")[0]
'relu has a kink at z = 0'
"""

from __future__ import annotations

import numpy as np

from tinygrad_act import Value, gradients, numerical_grad
from tinygrad_act.activations import (
    elementwise_activations,  # noqa: F401 (the menu: lab.app)
    lookup,
)
from tinygrad_act.formatting import number, true_operands
from tinygrad_act.formulas import formula_numbers, uses_output
from tinygrad_act.gradcheck import ATOL, RTOL, SLIDE_POINTS
from tinygrad_act.gradcheck import DEFAULT_EPS as EPS  # the central difference's step
from tinygrad_act.lab import limits
from tinygrad_act.lab.schema import LabError

SIDE = 1e-9  # how far beside a kink the one-sided slopes are read
_OTHERS = {  # what other libraries pick at the kink, where students will meet it
    "relu": " (PyTorch and micrograd pick 0)",
    "leaky_relu": " (PyTorch picks the slope)",
}


def describe(spec):
    """One activation as the page's menu needs it: name, formula, kinks and parameter sliders."""
    return {
        "name": spec.name,
        "formula": spec.formula,
        "kinks": list(spec.kinks),
        "parameters": [
            {"name": name, "default": default, "range": list(parameter_range(name))}
            for name, default in spec.defaults.items()
        ],
    }


def parameter_range(name):
    return limits.PARAMETER_RANGES.get(name, limits.OTHER_PARAMETER_RANGE)


def slide_points():
    """The points the slide works through, one click away in the explorer: sigmoid and tanh at
    z = -10, 0 and 10."""
    return [{"name": name, "z": z} for name in ("sigmoid", "tanh") for z in SLIDE_POINTS]


def plot_half_width(z):
    """The narrowest of the plot's spans [-w, w] that shows z with a margin.

    >>> plot_half_width(1.5), plot_half_width(-10.0), plot_half_width(20.0)
    (6.0, 12.0, 24.0)
    """
    spans = limits.PLOT_WIDENING
    return next((w for w in spans if abs(z) <= 0.9 * w), spans[-1])


def explore(name, z, params=None, half_width=None):
    """Everything the explorer shows for activation `name` at `z`, plotted over [-w, w]
    (by default the narrowest span that shows z)."""
    spec = _lookup(name)
    half_width = plot_half_width(z) if half_width is None else half_width
    params = _params(spec, params or {})
    leaf = Value(z, label="z")
    out = leaf.activate(spec.name, **params)
    out.label = "a"
    out.backward()
    a = float(out.data)
    zs = np.linspace(-half_width, half_width, limits.PLOT_POINTS)
    curve, slopes = _backprop_curve(spec, zs, params)
    at = {
        "z": z,
        "a": a,
        "formula": float(spec.derivative(z, a, **params)),
        "backprop": float(leaf.grad),
        "numeric": float(
            numerical_grad(lambda v: v.activate(spec.name, **params), [Value(z)], eps=EPS)[0]
        ),
    }
    written = spec.local_formula(**params)
    a_text, formula_text = _arithmetic(spec, written, z, a, at["formula"], params)
    at["texts"] = {
        "a": f"a = {spec.name}({_exact(z)}) = {a_text}",
        "formula": formula_text,  # the slide's formula, numbers plugged in
        "backprop": f"z.grad after a.backward() = {number(at['backprop'])}",
        "numeric": f"(g(z+h) - g(z-h)) / 2h with h = {EPS:g}: {number(at['numeric'])}",
    }
    at["texts"]["agreement"] = _agreement(at) + _saturated(spec.name, a, at["formula"])
    slope = at["backprop"]
    ends = [zs[0], zs[-1]]
    return {
        "name": spec.name,
        "params": params,
        "written": written,
        "at": at,
        "curve": {"z": zs.tolist(), "g": _finite(curve), "slope": _finite(slopes)},
        # The tangent a + g'(z)(t - z), at the ends of the plot: two points the page joins.
        "tangent": [[float(t), _clip(a + slope * (t - z))] for t in ends],
        "kink": _kink(spec, z, params, at),
    }


def _lookup(name):
    """The registry's elementwise activation `name`; its refusal, a `LabError`."""
    try:
        return lookup(name, elementwise=True)
    except ValueError as err:
        raise LabError(err) from None


def _params(spec, given):
    """The registry's binding of `given` (names and kinds checked, defaults filled in), then the
    explorer's own limit: each parameter within its slider's range."""
    try:
        params = dict(spec.bind(given))
    except (TypeError, ValueError) as err:
        raise LabError(err) from None
    for key in given:
        low, high = parameter_range(key)
        if not low <= params[key] <= high:
            raise LabError(f"params.{key} must lie in [{low:g}, {high:g}], got {params[key]:g}")
    return params


def _forward(spec, z, params):
    return float(Value(z).activate(spec.name, **params).data)


def _backprop_curve(spec, zs, params):
    """g and g' over the plot in one pass: a tensor Value through the activation, backward."""
    leaf = Value(zs.copy())
    out = leaf.activate(spec.name, **params)
    (slopes,) = gradients(out.sum(), [leaf])
    return np.asarray(out.data, dtype=np.float64), np.asarray(slopes, dtype=np.float64)


def _kink(spec, z, params, at):
    """The kink nearest z, with the slopes either side, and a note when z sits on it."""
    if not spec.kinks:
        return None
    k = min(spec.kinks, key=lambda k: abs(k - z))
    left = float(spec.derivative(k - SIDE, _forward(spec, k - SIDE, params), **params))
    right = float(spec.derivative(k + SIDE, _forward(spec, k + SIDE, params), **params))
    on_it = abs(z - k) <= EPS
    if abs(left - right) <= 1e-9 * max(1.0, abs(left)):
        note = (
            f"{spec.name}'s formula changes at z = {number(k)}, but with these parameters its "
            f"slope is {number(left)} on both sides: no jump"
        )
        return {"at": k, "left": left, "right": right, "on_it": on_it, "note": note}
    note = (
        f"{spec.name} has a kink at z = {number(k)}: the slope is {number(left)} just left of it "
        f"and {number(right)} just right; at z = {number(k)} itself the lecture's formula picks "
        f"{number(float(spec.derivative(k, _forward(spec, k, params), **params)))}"
        + _OTHERS.get(spec.name, "")
    )
    if on_it:
        note += f", and the central difference averages the two sides: {number(at['numeric'])}"
    return {"at": k, "left": left, "right": right, "on_it": on_it, "note": note}


def _arithmetic(spec, written, z, a, value, params):
    """a, and the formula with z and a put in, printed so that the arithmetic shown is true:
    ``1-a² = 1-0.9999999958777² = 8.245e-09`` at tanh(10), never ``1-1² = 8.245e-09``.

    The formula's numbers come from `formulas.formula_numbers`, as the hover explanations' do;
    a gets the digits that the formula needs (`formatting.true_operands`), z is printed exactly.
    """
    a_text = number(a)
    if uses_output(spec.name) and np.isfinite(a) and np.isfinite(value):
        (a_text,), _ = true_operands(lambda a_: spec.derivative(z, a_, **params), [a], value)
    plugged = formula_numbers(spec.name, 0, {"z": z, "a": a}, value, params)
    parts = [written] + ([plugged] if plugged and plugged != written else []) + [number(value)]
    return a_text, " = ".join(parts)


def _exact(z):
    """z as given: the shortest text that reads back as the same float ('1.5', '10', '0.1')."""
    text = repr(float(z) + 0.0)
    return text[:-2] if text.endswith(".0") else text


def _saturated(spec_name, a, value):
    """A note where a is exactly ±1 in float64 and a formula in a gives 0: true arithmetic, but
    the slope is float64's, not the exact one (tanh(20) is 1 - 8.5e-18, stored as 1)."""
    if abs(a) != 1.0 or value != 0.0 or not uses_output(spec_name):
        return ""
    return (
        f"; here a is exactly {number(a)} in float64, whose 16 digits cannot hold the tiny rest, "
        "so the formula gives 0: the exact slope is not 0 but smaller than about 2e-16"
    )


def _agreement(at):
    same = at["formula"] == at["backprop"]
    close = abs(at["formula"] - at["numeric"]) <= ATOL + RTOL * abs(at["numeric"])
    first = "the formula and backprop give the same number" if same else "formula ≠ backprop"
    second = "the central difference agrees" if close else "the central difference differs"
    return f"{first}; {second}"


def _finite(values):
    """A list JSON can carry: non-finite entries become None (a gap in the plotted line)."""
    return [float(v) if np.isfinite(v) else None for v in values]


def _clip(y):
    return float(np.clip(y, -1e6, 1e6))
