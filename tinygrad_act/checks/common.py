"""What the checks share: the default step and tolerances, and how they write positions and numbers."""

from __future__ import annotations

import numpy as np

from tinygrad_act.backprop import topological_order
from tinygrad_act.engine import Value

SLIDE_POINTS = (-10.0, 0.0, 10.0)  # the z the slide works through for sigmoid and tanh
DEFAULT_EPS = 1e-6  # the relative step, when no eps is given
ATOL, RTOL = 1e-5, 1e-3  # the default tolerances: |analytic - numeric| <= ATOL + RTOL·|numeric|
SHOWN = 10  # rows of a failure table, and kink explanations, shown at most


def positions(mask):
    """The indices where a boolean mask holds; () for a true 0-d mask (a scalar)."""
    mask = np.asarray(mask)
    if mask.ndim == 0:
        return [()] if mask else []
    return [tuple(int(i) for i in idx) for idx in zip(*np.nonzero(mask), strict=True)]


def graph_order(outs):
    """Every node behind the outputs, inputs first, each once."""
    order, seen = [], set()
    for out in outs:
        if isinstance(out, Value):
            for node in topological_order(out):
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
    return order


def subscript(j):
    return "[" + ", ".join(map(str, j)) + "]" if j else ""


def at(name, j):
    return f"{name}{subscript(j)}"


def num(x):
    """A float as a person writes it: 0.0, -0.5, 1e-07."""
    text = f"{float(x):.6g}"
    return text if any(c in text for c in ".enai") else text + ".0"


def slope(x):
    x = round(float(x), 6)  # a one-sided difference of a linear piece is exact to ~1e-10
    return f"{x + 0.0:.4g}"


def text_table(rows, numeric_from):
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    cells = lambda r: [  # noqa: E731
        cell.rjust(w) if c >= numeric_from else cell.ljust(w)
        for c, (cell, w) in enumerate(zip(r, widths, strict=True))
    ]
    return ["  " + "  ".join(cells(r)).rstrip() for r in rows]
