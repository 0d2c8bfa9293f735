"""The lecture's table, g(z) and g'(z) three ways (formula, backprop, central differences), and
`check_activations`, which gradchecks the whole registry (the `derivatives` and `check` commands)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from tinygrad_act import activations as _registry
from tinygrad_act.checks.common import ATOL, DEFAULT_EPS, RTOL, SLIDE_POINTS, num, slope
from tinygrad_act.checks.gradcheck import GradcheckError, gradcheck
from tinygrad_act.checks.kinks import one_sided
from tinygrad_act.engine import Value, enable_grad, gradients
from tinygrad_act.formatting import number, true_operands

__all__ = [
    "DerivativeRow",
    "SLIDE_POINTS",
    "TABLE_HEADER",
    "derivative_table",
    "table_cells",
    "format_derivative_table",
    "check_activations",
]

_UNDERFLOW = 1e-300  # a float64 spacing below this is g ≈ 0, where a zero slope can be exact


@dataclass(frozen=True)
class DerivativeRow:
    """One line of the lecture's table: g(z) and g'(z) three ways at one z.

    ``formula`` is the registry's g'(z) evaluated directly, ``backprop`` what backward through a
    Value gives, ``numeric`` the central difference. ``agree``: formula == backprop, and numeric
    agrees too unless z is a kink (``kink``: there it averages the two one-sided slopes, ``note``
    says which). ``written`` is g' as the lecture writes it.

    >>> row = derivative_table([0.0], ["sigmoid"])[0]
    >>> row.g, row.formula, row.backprop, row.agree, row.written
    (0.5, 0.25, 0.25, True, 'a(1-a)')
    """

    name: str
    z: float
    g: float
    formula: float
    backprop: float
    numeric: float
    agree: bool
    kink: bool = False
    written: str = ""
    note: str = ""


def derivative_table(points=None, names=None, eps=None):
    """The lecture's table: for each elementwise activation and each z, g(z) and g'(z) three ways.

    `points` default to the slide's -10, 0, 10; `names` to every registered elementwise activation,
    with its default parameters. The numeric column's step is `eps`, or ``1e-6·max(1, |z|)`` when eps is
    None, so that huge z still get a true slope. softmax and log_softmax (``tensor_only``) map a vector to a vector:
    their derivative is a Jacobian, not a slope g'(z), so they are left out (asking for one is a
    ValueError); ``check_activations`` gradchecks them.

    >>> [(r.z, round(r.g, 5), round(r.formula, 5)) for r in derivative_table(names=["sigmoid"])]
    [(-10.0, 5e-05, 5e-05), (0.0, 0.5, 0.25), (10.0, 0.99995, 5e-05)]
    >>> row = derivative_table([0], ["relu"])[0]
    >>> row.formula, row.numeric, row.kink, row.agree
    (1.0, 0.5, True, True)
    """
    points = _points(points)
    specs = _elementwise(names)
    return [_row(spec, z, eps) for spec in specs for z in points]


TABLE_HEADER = (
    "activation", "g'(z) written", "z", "g(z)", "g'(z) formula", "g'(z) backprop", "g'(z) numeric", "agree",
)  # fmt: skip


def table_cells(rows):
    """The rows as text cells under `TABLE_HEADER`, and the kink footnotes the cells point to.

    >>> cells, notes = table_cells(derivative_table([0.0], ["relu"]))
    >>> cells[0][-1], notes[0][:30]
    ('kink [1]', 'relu has a kink at z = 0.0: le')
    """
    cells, notes = [], []
    for r in rows:
        if not r.agree:
            verdict = "NO"
        elif r.note:
            notes.append(r.note)
            verdict = f"{'kink' if r.kink else 'yes'} [{len(notes)}]"
        else:
            verdict = "yes"
        z, g = _true_z_and_g(r)
        numbers = [z, g] + [number(x, 6) for x in (r.formula, r.backprop, r.numeric)]
        cells.append([r.name, r.written, *numbers, verdict])
    return cells, notes


def _true_z_and_g(row):
    """z and g(z) with the digits it takes for the written formula, on them as printed, to give
    the formula column as printed: tanh at z = 10 shows g(z) = 0.999999995877693 beside
    1-a² = 8.24461e-09, never 1 beside it."""
    spec = _registry.ACTIVATIONS.get(row.name)
    if spec is None or spec.derivative is None:
        z, g = number(row.z, 6), number(row.g, 6)
    else:
        params = spec.defaults
        (z, g), _ = true_operands(
            lambda z, g: spec.derivative(float(z), float(g), **params),
            [row.z, row.g],
            row.formula,
            digits=6,
        )
    return (z if any(c in z for c in ".enai") else z + ".0"), g


def format_derivative_table(rows):
    """The rows as an aligned text table, with a footnote for each kink.

    >>> print(format_derivative_table(derivative_table([0.0], ["tanh"])))
    activation  g'(z) written    z  g(z)  g'(z) formula  g'(z) backprop  g'(z) numeric  agree
    tanh        1-a²           0.0     0              1               1              1  yes
    """
    if not rows:
        return "(no rows)"
    body, notes = table_cells(rows)
    table = [list(TABLE_HEADER), *body]
    widths = [max(len(t[c]) for t in table) for c in range(len(TABLE_HEADER))]
    lines = []
    for t in table:
        cells = [
            cell.rjust(w) if 2 <= c <= 6 else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(t, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines += [f"[{n}] {note}" for n, note in enumerate(notes, 1)]
    return "\n".join(lines)


def check_activations(names=None):
    """gradcheck every registered activation (or `names`): name -> None if it passes, else the problem.

    Each elementwise activation is checked on scalars (the slide's points and random ones) and on a
    vector (the full Jacobian, off-diagonal zeros included); a tensor-only one (softmax) on a matrix
    along its last axis. Points within 0.05 of a kink are skipped. The problem is one line.

    >>> check_activations(["sigmoid", "softmax"])
    {'sigmoid': None, 'softmax': None}
    """
    if isinstance(names, str):
        names = [names]
    specs = list(_registry.ACTIVATIONS.values()) if names is None else [_lookup(n) for n in names]
    results = {}
    for spec in specs:
        try:
            results[spec.name] = _check_activation(spec)
        except GradcheckError as err:
            results[spec.name] = _one_line(err)
        except (
            Exception
        ) as err:  # a user's forward or derivative that crashes is a failure to report
            results[spec.name] = f"raised {type(err).__name__}: {err}".splitlines()[0]
    return results


def _check_activation(spec):
    rng = np.random.default_rng(0)
    if spec.tensor_only:
        z = Value(rng.uniform(-3, 3, size=(3, 4)), label="z")
        gradcheck(lambda z: z.activate(spec.name), [z])
        return None
    points = _away_from_kinks(np.concatenate([SLIDE_POINTS, rng.uniform(-4, 4, 6)]), spec.kinks)
    for p in points:
        gradcheck(lambda z: z.activate(spec.name), [Value(float(p), label="z")])
    vector = _away_from_kinks(rng.uniform(-4, 4, 10), spec.kinks)
    gradcheck(lambda z: z.activate(spec.name), [Value(vector, label="z")])
    return None


def _away_from_kinks(points, kinks, margin=0.05):
    points = np.asarray(points, dtype=np.float64)
    for k in kinks:
        points = points[np.abs(points - k) > margin]
    return points


def _one_line(err):
    worst = err.mismatches[0]
    where = f"{worst.where} = {num(worst.x)}"
    if worst.output:
        where += f" (output {worst.output})"
    text = (
        f"{where}: backprop {worst.analytic:.6g}, numeric {worst.numeric:.6g} "
        f"({len(err.mismatches)} of {err.total} Jacobian entries disagree)"
    )
    return text + (f"; {err.kinks[0]}" if err.kinks else "")


def _lookup(name):
    if not isinstance(name, str):
        raise ValueError(f"activation names are strings, got {type(name).__name__} ({name!r})")
    return _registry.lookup(name)


def _elementwise(names):
    if names is None:
        return [s for s in _registry.ACTIVATIONS.values() if not s.tensor_only]
    if isinstance(names, str):
        names = [names]
    specs = [_lookup(n) for n in names]
    for s in specs:
        if s.tensor_only:
            raise ValueError(
                f"{s.name} maps a vector to a vector: its derivative is a Jacobian, not a slope "
                f"g'(z), so it has no row in this table (`tinygrad-act check --activation {s.name}` "
                "gradchecks it)"
            )
    return specs


def _points(points):
    if points is None:
        return list(SLIDE_POINTS)
    if isinstance(points, (numbers.Real, np.generic)) and not isinstance(points, bool):
        points = [points]
    if isinstance(points, (str, bytes)) or not hasattr(points, "__iter__"):
        raise ValueError(
            f"points must be a list of numbers, got {type(points).__name__} ({points!r})"
        )
    result = []
    for p in points:
        ok = isinstance(p, (numbers.Real, np.generic)) and not isinstance(p, (bool, np.bool_))
        if not ok or not math.isfinite(float(p)):
            raise ValueError(f"points must be finite numbers, got {p!r}")
        result.append(float(p))
    if not result:
        raise ValueError("points is empty; give at least one z")
    return result


def _row(spec, z, eps):
    params = spec.defaults
    g = float(spec.forward(z, **params))
    formula = float(spec.derivative(z, g, **params))
    leaf = Value(z)
    with enable_grad():
        (backprop,) = gradients(leaf.activate(spec.name), [leaf])
    h = DEFAULT_EPS * max(1.0, abs(z)) if eps is None else eps
    up, down = float(spec.forward(z + h, **params)), float(spec.forward(z - h, **params))
    numeric = (up - down) / (2 * h)
    kink = z in spec.kinks
    same = formula == backprop or math.isclose(formula, backprop, rel_tol=1e-12)
    numeric_ok = abs(formula - numeric) <= ATOL + RTOL * abs(numeric)
    note = ""
    if kink and not numeric_ok:
        left, right, _ = one_sided(spec, params, z, h)
        note = (
            f"{spec.name} has a kink at z = {num(z)}: left slope {slope(left)}, right slope "
            f"{slope(right)}; the central difference averages them ({numeric:.6g}), "
            f"the lecture's formula picks {formula:g}"
        )
    # The smallest slope the central difference can show: one step of g's float64 spacing over 2h.
    resolution = float(np.spacing(max(abs(up), abs(down)))) / (2 * h)
    if not note and abs(formula) < resolution and resolution > _UNDERFLOW:
        note = (
            f"{spec.name} at z = {num(z)}: g(z) rounds to {number(g, 6)} in float64, so the "
            f"formula on that g(z) and backprop give {number(formula, 6)}; the central "
            f"difference (step h = {number(h, 2)}) cannot see a slope below "
            f"{number(resolution, 2)} here. All three say only that the slope is below what "
            "float64 resolves, not what it is"
        )
    return DerivativeRow(
        name=spec.name,
        z=z,
        g=g,
        formula=formula,
        backprop=float(backprop),
        numeric=numeric,
        agree=same and (numeric_ok or kink),
        kink=kink,
        written=spec.local_formula(),
        note=note,
    )
