"""Strict request bodies: JSON objects whose every field is named, typed and bounded.

A request is refused with a `LabError` (a status and one line) when its body is not JSON, holds
``NaN`` or ``Infinity``, has a field nobody asked for, misses a required one, or carries a value of
the wrong type or out of range. Checkers are small functions ``check(value, where) -> value``.

>>> fields({"z": 1.5}, {"z": number(-10, 10)})
{'z': 1.5}
>>> fields({"z": 1.5, "zz": 0}, {"z": number(-10, 10)})
Traceback (most recent call last):
...
tinygrad_act.lab.schema.LabError: unknown field 'zz' (accepted: z)
"""

from __future__ import annotations

import json
import math

from tinygrad_act.lab import limits


class LabError(Exception):
    """A request the lab refuses: the HTTP status and a one-line message the page shows."""

    def __init__(self, message, status=400):
        super().__init__(" ".join(str(message).split()))
        self.status = status


def parse_json(raw):
    """The body as a JSON object; refuses oversized bodies, bad JSON, NaN and Infinity."""
    if len(raw) > limits.MAX_BODY_BYTES:
        raise LabError(
            f"request body too large: {len(raw)} bytes (limit {limits.MAX_BODY_BYTES})", 413
        )
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise LabError("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise LabError(f"malformed JSON: {err.msg} at character {err.pos}") from None
    except RecursionError:
        raise LabError("malformed JSON: nested too deeply") from None
    except ValueError as err:  # NaN or Infinity, an integer of 5,000 digits
        raise LabError(f"malformed JSON: {err}") from None
    if not isinstance(body, dict):
        raise LabError(f"the body must be a JSON object, got {_kind(body)}")
    return body


def _no_constant(name):
    raise ValueError(f"{name} is not a number the lab accepts (give a finite number)")


def fields(body, required, optional=None):
    """Check every field of `body` with its checker; the checked values, defaults left out."""
    optional = optional or {}
    accepted = {**required, **optional}
    unknown = [key for key in body if key not in accepted]
    if unknown:
        raise LabError(f"unknown field {unknown[0]!r} (accepted: {', '.join(accepted) or 'none'})")
    missing = [key for key in required if key not in body]
    if missing:
        raise LabError(f"missing field {missing[0]!r}")
    return {key: accepted[key](value, key) for key, value in body.items()}


# ---- checkers ------------------------------------------------------------------------------------


def number(low=-limits.MAX_NUMBER, high=limits.MAX_NUMBER):
    """A finite JSON number in [low, high] (true/false are not numbers), as a float."""

    def check(value, where):
        _present(value, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LabError(f"{where} must be a number, got {_kind(value)}")
        try:
            x = float(value)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x):
            raise LabError(f"{where} must be a finite number, got {_short(value)}")
        if not low <= x <= high:
            raise LabError(f"{where} must lie in [{low:g}, {high:g}], got {x:g}")
        return x

    return check


def integer(low, high):
    """A whole JSON number in [low, high] (2.0 is accepted as 2, 2.5 is not)."""

    def check(value, where):
        _present(value, where)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise LabError(f"{where} must be a whole number, got {_kind(value)}")
        if not low <= value <= high:
            raise LabError(f"{where} must lie in {low}..{high}, got {_short(value)}")
        return value

    return check


def text(max_length):
    """A JSON string of at most `max_length` characters."""

    def check(value, where):
        if not isinstance(value, str):
            raise LabError(f"{where} must be a string, got {_kind(value)}")
        if len(value) > max_length:
            raise LabError(f"{where} too long: {len(value)} characters (limit {max_length})")
        return value

    return check


def choice(options):
    """One of the strings in `options`."""

    def check(value, where):
        if not isinstance(value, str) or value not in options:
            raise LabError(f"{where} must be one of {', '.join(options)}; got {_short(value)}")
        return value

    return check


def record(required, optional=None):
    """A JSON object inside a body, its fields checked as `fields` checks a body's."""

    def check(value, where):
        if not isinstance(value, dict):
            raise LabError(f"{where} must be an object, got {_kind(value)}")
        try:
            return fields(value, required, optional)
        except LabError as err:
            raise LabError(f"{where}: {err}", err.status) from None

    return check


def optional(checker):
    """`checker`, or JSON null (None)."""

    def check(value, where):
        return None if value is None else checker(value, where)

    return check


def mapping(value_checker, max_items, key_ok=str.isidentifier, key_kind="a name"):
    """A JSON object of at most `max_items` entries, each key `key_ok`, each value checked."""

    def check(value, where):
        if not isinstance(value, dict):
            raise LabError(f"{where} must be an object, got {_kind(value)}")
        if len(value) > max_items:
            raise LabError(f"{where} has {len(value)} entries (limit {max_items})")
        for key in value:
            if not key_ok(key):
                raise LabError(f"{where}: {_short(key)} is not {key_kind}")
        return {key: value_checker(item, f"{where}.{key}") for key, item in value.items()}

    return check


def sequence(item_checker, min_items, max_items):
    """A JSON array of `min_items` to `max_items` entries, each checked."""

    def check(value, where):
        if not isinstance(value, list):
            raise LabError(f"{where} must be an array, got {_kind(value)}")
        if not min_items <= len(value) <= max_items:
            raise LabError(
                f"{where} must have {min_items} to {max_items} entries, got {len(value)}"
            )
        return [item_checker(item, f"{where}[{i}]") for i, item in enumerate(value)]

    return check


def _present(value, where):
    """null where a number goes is a missing number (the page sends an empty box as null)."""
    if value is None:
        raise LabError(f"{where} is missing: give a number")


def _kind(value):
    names = {bool: "true/false", type(None): "null", str: "a string", dict: "an object"}
    names.update({list: "an array", int: "a number", float: "a number"})
    kind = names.get(type(value), type(value).__name__)
    return f"{kind} ({_short(value)})" if isinstance(value, str) else kind


def _short(value, width=40):
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
