"""Numbers as text, and the arithmetic shown with them kept true.

`number` writes a number as the drawings do (4 significant digits, no ``-0``). Where a formula is
shown with its numbers, ``1-a² = 1-0.7071² = 0.5``, `true_operands` prints each operand with as
many digits as it takes for the printed expression to give the printed result: near a = 1,
``1-0.9999999958777² = 8.245e-09``, never ``1-1² = 8.245e-09``.

>>> number(0.70710678), number(-0.0), number(float("nan"))
('0.7071', '0', 'nan')
>>> true_operands(lambda a: 1 - a * a, [0.9999999958776927], 8.244614768671e-09)
(['0.9999999958777'], '8.245e-09')
"""

from __future__ import annotations

import math

import numpy as np

DIGITS = 4  # significant digits of a number in a drawing or an explanation
PRECISE = 6  # significant digits of a result line: the graph command's summary, the lab's values
MOST = 17  # digits that write any float64 exactly


def number(x, digits=DIGITS):
    """`x` to `digits` significant digits: '0.7071', '-1.5', '1e+06', 'inf', 'nan'; never '-0'."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    return f"{x + 0.0:.{digits}g}"  # + 0.0: -0.0 becomes 0.0


def true_operands(evaluate, operands, result, digits=DIGITS):
    """(the operands as text, the result as text) such that ``evaluate`` of the operands as
    printed, rounded to `digits`, is the printed result.

    The result is written with `digits` digits; the operands with `digits`, or with more where
    fewer would make the shown arithmetic false (up to 17, which writes a float exactly: then the
    printed operands are the true ones and evaluating them is the computation itself).
    """
    shown = number(result, digits)
    for k in range(digits, MOST + 1):
        texts = [number(v, k) for v in operands]
        if _evaluates_to(evaluate, texts, shown, digits):
            return texts, shown
    return [number(v, MOST) for v in operands], shown


def _evaluates_to(evaluate, texts, shown, digits):
    with np.errstate(all="ignore"):
        try:
            value = evaluate(*(np.float64(t) for t in texts))
        except (ArithmeticError, ValueError):
            return False
    return number(value, digits) == shown
