"""The text in a picture: numbers as a node shows them, how wide text is, and text dot can take.

Numbers are `tinygrad_act.formatting.number`'s (4 significant digits, never ``-0``), the lab's too.
Widths are measured here, not by Graphviz, so that a record or a title can reserve the width of
the widest text it will ever show, and the nodes stay in place from picture to picture.
"""

from __future__ import annotations

import re

import numpy as np

from tinygrad_act.formatting import number
from tinygrad_act.numeric import data_of

WIDEST = -8.888e-188  # the widest number `show` writes (4 digits, signs, an exponent)


def show(x):
    """4 significant digits for a scalar; a tensor's values up to 6 elements, else min/mean/max.

    >>> show(-0.0), show(np.array([0.5, -2.0])), show(np.arange(10.0))
    ('0', '[0.5, -2]', 'min 0 mean 4.5 max 9')
    """
    x = data_of(x)  # a create_graph gradient is a Value
    if isinstance(x, (float, int, np.floating)):
        return number(x)
    x = np.asarray(x)
    if x.size <= 6:
        text = np.array2string(x, formatter={"all": number}, separator=", ")
        return " ".join(text.split())
    with np.errstate(all="ignore"):
        return f"min {number(x.min())} mean {number(x.mean())} max {number(x.max())}"


def short(x):
    """`show` for a scalar or a small tensor, '(tensor)' for a larger one (in a title)."""
    return show(x) if isinstance(x, (float, int, np.floating)) or np.size(x) <= 6 else "(tensor)"


def text_width(text, size):
    """Points `text` takes at `size`, over-estimated a little: Helvetica's widths as Graphviz
    measures them (it rounds glyphs up), and any other character as wide as an M."""
    return size * sum(_char_width(c) for c in text)


def _char_width(c):
    if c in "fijlrt.,:;'|!()[] ":
        return 0.34
    if c in "mw":
        return 1.0
    if c in "MW":
        return 1.1
    if c.isupper():
        return 0.8
    if c.isascii():
        return 0.62
    return 1.0


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_TEXT = 200  # characters of one piece of text in a picture: dot chokes on huge strings


def printable(text):
    """Any text as dot can take it: runs of spaces collapsed, control characters (a NUL ends dot's
    strings) and lone surrogates written as escapes, cut to `_MAX_TEXT` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(text.split()))
    if len(text) > _MAX_TEXT:
        text = f"{text[: _MAX_TEXT - 30]}… ({len(text):,} characters)"
    return text


def quoted(text):
    """Text safe inside a quoted DOT string: printable, backslashes and quotes escaped."""
    return printable(text).replace("\\", "\\\\").replace('"', '\\"')


def record_field(text):
    """A record field: record syntax characters escaped too."""
    return re.sub(r"([{}|<>])", r"\\\1", quoted(text))
