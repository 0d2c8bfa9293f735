"""How a `Value` shows itself: a line for ``repr`` and a one-row table for Jupyter.

This module never imports the engine: the engine hands it the fields to show.
"""

from __future__ import annotations

import html

import numpy as np


def short(x):
    """A number or array in a few characters: 6 significant digits, long arrays elided.

    >>> short(2.0), short(np.arange(10.0))
    ('2', '[0. 1. ... 8. 9.]')
    """
    if type(x) is float:
        return f"{x:.6g}"
    if not isinstance(x, (np.ndarray, np.generic, int)):  # a Value (a create_graph gradient)
        return repr(x)
    return np.array2string(np.asarray(x), precision=4, threshold=8, edgeitems=2)


def text(data, grad, label):
    """What ``repr`` shows: a scalar's data and gradient, a tensor's shape, dtype and data.

    >>> text(2.0, 0.5, "x")
    "Value(data=2, grad=0.5, label='x')"
    """
    label = f", label={label!r}" if label else ""
    if type(data) is float:
        return f"Value(data={data:.6g}, grad={short(grad)}{label})"
    return f"Value(shape={data.shape}, dtype={data.dtype}, data={short(data)}{label})"


def html_row(data, grad, label, op):
    """What Jupyter shows: a one-row table of the label, data, gradient and the op that made it.
    `grad` is the stored one (None for a tensor that has none: shown as zeros, never allocated).

    >>> print(html_row(2.0, 0.0, "x", ""))
    <table><tr><th>label</th><th>data</th><th>grad</th><th>op</th></tr>
    <tr><td>x</td><td>2</td><td>0</td><td>leaf</td></tr></table>
    """
    cells = {"label": str(label)}
    if type(data) is not float:
        cells.update(shape=str(data.shape), dtype=str(data.dtype))
    shown = grad if grad is not None else np.zeros_like(data)
    cells.update(data=short(data), grad=short(shown), op=op or "leaf")
    head = "".join(f"<th>{name}</th>" for name in cells)
    row = "".join(_cell(text) for text in cells.values())
    return f"<table><tr>{head}</tr>\n<tr>{row}</tr></table>"


def _cell(text):
    text = html.escape(text)
    return f"<td><pre>{text}</pre></td>" if "\n" in text else f"<td>{text}</td>"  # an array's rows
