"""Training settings: what each one accepts, in one table, and the one check that names it.

`tinygrad_act.train` (the CLI's runs), the lab's live runs and the command line all ask `check`,
so a setting is refused with the same words everywhere, naming the field and what it accepts:

>>> check("width", 2.5)
Traceback (most recent call last):
...
tinygrad_act.settings.SettingError: width must be a whole number from 1 to 32, got 2.5
>>> check("lr", None)
Traceback (most recent call last):
...
tinygrad_act.settings.SettingError: lr is missing: give a number from 0.0001 to 10
>>> check("depth", 2.0)  # a whole number written as a float is that number
2

The lab and the CLI wrap a `SettingError` (its ``name``, ``accepted`` and ``got``) in their own
form: a 400 naming the field, or ``--seed takes ...`` and exit code 2.
"""

from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass

from tinygrad_act.activations import ACTIVATIONS

DATASETS = ("moons", "digits")
DEFAULT_EPOCHS = {"moons": 100, "digits": 20}
MAX_SEED = 2**32 - 1  # scikit-learn's and numpy's seeds are 32-bit


class SettingError(ValueError):
    """A setting refused: ``name`` the field, ``accepted`` what it takes, ``got`` what it was given
    (None when it was missing)."""

    def __init__(self, name, accepted, got, missing=False, message=""):
        self.name, self.accepted, self.got = name, accepted, got
        if missing:
            message = f"{name} is missing: give {accepted}"
        super().__init__(message or f"{name} must be {accepted}, got {_short(got)}")


def _short(value, width=40):
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _missing(value):
    return value is None or (isinstance(value, str) and not value.strip())  # an empty box


@dataclass(frozen=True)
class Whole:
    """A whole number from `low` to `high` (2.0 counts as 2; True does not count as 1).

    >>> Whole(1, 4).check("depth", 3.0), Whole(1, 4).accepted
    (3, 'a whole number from 1 to 4')
    """

    low: int
    high: int
    high_text: str = ""  # how the bound is written, when its digits alone do not say why

    @property
    def accepted(self):
        return f"a whole number from {self.low} to {self.high_text or self.high}"

    def check(self, name, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if whole and self.low <= value <= self.high:
            return int(value)
        raise SettingError(name, self.accepted, value, _missing(value))


@dataclass(frozen=True)
class Number:
    """A finite real number from `low` to `high`.

    >>> Number(1e-4, 10.0).check("lr", 1), Number(1e-4, 10.0).accepted
    (1.0, 'a number from 0.0001 to 10')
    """

    low: float
    high: float

    @property
    def accepted(self):
        return f"a number from {self.low:g} to {self.high:g}"

    def check(self, name, value):
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if real and math.isfinite(value) and self.low <= value <= self.high:
            return float(value)
        raise SettingError(name, self.accepted, value, _missing(value))


@dataclass(frozen=True)
class Choice:
    """One of `options`.

    >>> Choice(("moons", "digits")).check("dataset", "digits")
    'digits'
    """

    options: tuple

    @property
    def accepted(self):
        return "one of " + ", ".join(self.options)

    def check(self, name, value):
        if isinstance(value, str) and value in self.options:
            return value
        raise SettingError(name, self.accepted, value, _missing(value))


@dataclass(frozen=True)
class Flag:
    """On or off: true or false (JSON's booleans, Python's bool), nothing else (not 1, not "yes").

    >>> Flag().check("compile", False), Flag().accepted
    (False, 'true or false')
    """

    @property
    def accepted(self):
        return "true or false"

    def check(self, name, value):
        if isinstance(value, bool):
            return value
        raise SettingError(name, self.accepted, value, _missing(value))


class Elementwise:
    """The name of a registered elementwise activation: hidden layers apply it unit by unit.

    >>> Elementwise().check("activation", "tanh")
    'tanh'
    """

    @property
    def names(self):
        return [name for name, spec in ACTIVATIONS.items() if not spec.tensor_only]

    @property
    def accepted(self):
        return "one of the elementwise activations " + ", ".join(self.names)

    def check(self, name, value):
        if _missing(value) or not isinstance(value, str):
            raise SettingError(name, self.accepted, value, _missing(value))
        if value not in ACTIVATIONS:
            close = difflib.get_close_matches(value, self.names, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            message = f"{name}: unknown activation {_short(value)}; give {self.accepted}{hint}"
            raise SettingError(name, self.accepted, value, message=message)
        if ACTIVATIONS[value].tensor_only:
            message = f"{name} must be {self.accepted}, got {value!r}, which is not elementwise"
            raise SettingError(name, self.accepted, value, message=message)
        return value


# fmt: off
FIELDS = {
    "dataset":    Choice(DATASETS),
    "activation": Elementwise(),
    # moons: full-batch steps; digits: passes over the data. 100,000 is about an hour on one core
    # for either (30-40 a second): a typo such as 10000000 would otherwise run for weeks.
    "epochs":     Whole(1, 100_000),
    "seed":       Whole(0, MAX_SEED, "2**32 - 1 (4294967295)"),  # data split and weights
    "depth":      Whole(1, 4),            # hidden layers of a live run
    "width":      Whole(1, 32),           # units per hidden layer of a live run
    "hidden":     Whole(1, 1024),         # units of the digits network's hidden layer
    "batch_size": Whole(1, 4096),         # examples per digits step
    "lr":         Number(1e-4, 10.0),     # the optimizer's learning rate
    "compile":    Flag(),                 # the step compiled (tinygrad_act.compile) or on the graph
}
# fmt: on


def check(name, value):
    """`value` as setting `name` takes it (a whole number as an int), or a `SettingError` naming it.

    >>> check("dataset", "mnist")
    Traceback (most recent call last):
    ...
    tinygrad_act.settings.SettingError: dataset must be one of moons, digits, got 'mnist'
    """
    return FIELDS[name].check(name, value)


def bounds(name):
    """(low, high) of a numeric setting, for a form's limits.

    >>> bounds("width")
    (1, 32)
    """
    field = FIELDS[name]
    return field.low, field.high
