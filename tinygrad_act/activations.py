"""The lecture's table: every activation's forward formula g(z) and its local gradient g'(z).

Notation, as on the slide ("Derivatives of activation functions", deeplearning.ai C1W3L08):

    z    the activation's input
    a    its output, a = g(z)
    g'   the local gradient da/dz, written with `a` wherever the lecture does: the forward pass
         already computed a, so the backward pass gets the slope almost for free

The engine multiplies g' by the upstream gradient; the table holds only the local slope. Forward
mode (`tinygrad_act.jvp`) multiplies the same g' by the tangent flowing forward, g'(z)·ż, so every
row written with g' works in both directions; a row given as a vjp (softmax) adds its jvp.
A derivative runs on floats and arrays in a plain backward pass and on `Value`s when
``backward(create_graph=True)`` differentiates the backward pass itself, so the formulas use
arithmetic operators and the helpers ``exp``, ``tanh``, ``sigmoid`` and ``cases`` below, which work
on all three. A branch mask such as ``z >= 0`` is a constant: no gradient flows through the choice.

The table never imports the engine: its helpers ask a `Value` for its own methods, and the engine
reads the table (`activation_rule` turns a row into the rule a graph node runs).
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import sys
from dataclasses import dataclass, field

import numpy as np

from tinygrad_act import numeric
from tinygrad_act.numeric import RAW, data_of

# --------------------------------------------------------------------------------------------------
# Forward formulas on raw data: a Python float (scalar path) or an ndarray.


class _InDtype(dict):
    """A number as a read-only 0-d array of float32 and of float64: ``table[dtype]``; any other
    dtype gets the plain number. An array op with a Python number converts the number on every
    call, which on a small array costs as much as the arithmetic; with an array of the data's own
    dtype the result keeps that dtype too. (A dict subclass: indexing it is one C call.)"""

    def __init__(self, number):
        super().__init__()
        self.number = number
        for kind in (np.float32, np.float64):
            array = np.array(number, dtype=kind)
            array.flags.writeable = False
            self[np.dtype(kind)] = array

    def __missing__(self, dtype):
        return self.number


_ndarray = np.ndarray
# The ufuncs called directly, not through the operators, which take a detour first.
_exp, _minimum, _maximum = np.exp, np.minimum, np.maximum
_add, _subtract, _divide = np.add, np.subtract, np.divide
_SIGMOID_CAP = 40.0  # past z = 40, sigmoid(z) rounds to 1.0 in float64 and in float32
_CAP, _ZERO, _ONE = _InDtype(_SIGMOID_CAP), _InDtype(0.0), _InDtype(1.0)


def _sigmoid(z):
    # a = e^z / (e^z + 1): one exponential of z itself keeps a within 2-3 ulp of the exact value for
    # every z, down to the subnormal tail (z = -745) where 1 / (1 + e^-z) would overflow. z is capped
    # at 40 so that e^z never overflows either; above the cap a is 1.0 anyway.
    if type(z) is float:
        e = math.exp(_SIGMOID_CAP if z > _SIGMOID_CAP else z)  # (a NaN passes through)
        return e / (e + 1.0)
    dtype = z.dtype
    e = _exp(_minimum(z, _CAP[dtype]))
    return _divide(e, _add(e, _ONE[dtype]))


def _tanh(z):
    return math.tanh(z) if type(z) is float else np.tanh(z)


_LEAKY_DEFAULT = 0.01
_LEAKY_SLOPE = _InDtype(_LEAKY_DEFAULT)


def _relu(z):
    if type(z) is float:
        return max(z, 0.0)
    return _maximum(z, _ZERO[z.dtype])


def _leaky_relu(z, slope=_LEAKY_DEFAULT):
    if type(z) is float:
        return z if z >= 0 else slope * z
    if slope == _LEAKY_DEFAULT:
        return _maximum(z, _LEAKY_SLOPE[z.dtype] * z)  # the slide's max(0.01z, z)
    if 0 < slope <= 1:  # max(slope·z, z) is the same function for any slope in (0, 1]
        return np.maximum(z, slope * z)
    return np.where(z >= 0, z, slope * z)


def _softplus(z):
    # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no overflow for large z, no cancellation.
    if type(z) is float:
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _elu(z, alpha=1.0):
    if type(z) is float:
        return z if z > 0 else alpha * math.expm1(z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def _silu(z):
    return z * _sigmoid(z)


_GELU_C = math.sqrt(2 / math.pi)
_GELU_K = 0.044715


def _gelu(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * z * (1 + tanh(_GELU_C * (z + _GELU_K * z * z * z)))


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))  # shifting by the max keeps e^z finite
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(z, axis=-1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------------------------------
# Math that works on a float, an array or a Value (then it records the graph).


def exp(x):
    """e^x of a float, an array or a Value (then with its graph); inf on overflow, never an error.

    >>> exp(0.0), exp(1000.0)
    (1.0, inf)
    """
    return numeric.exp(x)


def tanh(x):
    """tanh of a float, an array or a Value (then with its graph); local gradient 1-a².

    >>> from tinygrad_act import Value
    >>> tanh(0.0)
    0.0
    >>> tanh(Value(0.0)).data
    0.0
    """
    return _tanh(x) if isinstance(x, RAW) else x.tanh()


def sigmoid(x):
    """1/(1+e^-x) of a float, an array or a Value, computed stably for any x.

    >>> from tinygrad_act import Value
    >>> sigmoid(0.0)
    0.5
    >>> sigmoid(Value(0.0))
    Value(data=0.5, grad=0)
    """
    return _sigmoid(x) if isinstance(x, RAW) else x.sigmoid()


def one_minus(a):
    """1 - a, the slide's "1 -" in a(1-a) and 1-a²; an array keeps its dtype.

    numpy converts a Python number operand on every call, which on a small array costs more than
    the subtraction itself, so an array is subtracted from a 1 of its own dtype, made once.

    >>> one_minus(0.25)
    0.75
    >>> one_minus(np.array([0.5, 0.25], dtype=np.float32))
    array([0.5 , 0.75], dtype=float32)
    """
    if type(a) is _ndarray:
        return _subtract(_ONE[a.dtype], a)
    return 1.0 - a


def cases(z, negative, nonnegative):
    """The slide's "by cases": `negative` where z < 0, `nonnegative` where z >= 0.

    The case is picked from z's value and is a constant (no gradient flows through the choice);
    exactly at z = 0 it is the `nonnegative` case, as the lecture takes it. Either case may be a
    number, an array or a Value; an array result keeps z's dtype.

    >>> cases(-2.0, 0.01, 1.0), cases(0.0, 0.01, 1.0)
    (0.01, 1.0)
    >>> cases(np.array([-1.0, 2.0], dtype=np.float32), 0.01, 1.0)
    array([0.01, 1.  ], dtype=float32)
    """
    if type(z) is _ndarray:
        zd = z
    else:
        zd = data_of(z)
        if not isinstance(zd, np.ndarray):
            return nonnegative if zd >= 0 else negative
    dtype = zd.dtype
    mask = zd >= _ZERO[dtype]
    if type(negative) is float and type(nonnegative) is float and nonnegative == 1:
        if negative == 0:
            if z is not zd:  # a Value (create_graph): a constant of numbers, not bools
                return mask.astype(dtype)
            return mask  # ReLU's 0 or 1 is the mask itself: multiplying by it is one pass less
        if 0 < negative < 1:
            # Leaky ReLU's 1 or slope is the larger of the 0/1 mask and the slope: one numpy call
            # where np.where takes three (a Python float keeps a float32 mask float32).
            if negative == _LEAKY_DEFAULT and dtype in _LEAKY_SLOPE:
                return _maximum(mask, _LEAKY_SLOPE[dtype])  # 0-d of z's dtype: the mask takes it
            return _maximum(mask.astype(dtype), negative)
    if not isinstance(negative, RAW) or not isinstance(nonnegative, RAW):  # a Value case
        keep = mask.astype(zd.dtype)  # Values take numbers, not bools
        return nonnegative * keep + negative * (1 - keep)
    kind = zd.dtype.type  # np.where would make float64 of Python numbers, upcasting float32 grads
    pick = [kind(c) if isinstance(c, (int, float)) else c for c in (nonnegative, negative)]
    return np.where(mask, *pick)


# --------------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Activation:
    """One row of the table: the forward formula, its local gradient, and how to show it.

    >>> row = ACTIVATIONS["sigmoid"]
    >>> row.formula, row.derivative(0.0, row.forward(0.0))
    ('a(1-a)', 0.25)

    derivative(z, a, **params) -> g'(z), elementwise; or, for an activation that is not elementwise
    (softmax), vjp(g, z, a, **params) -> dL/dz. `formula` is g' as the lecture writes it, shown in
    drawings and tables; `kinks` lists the inputs where g' jumps (gradcheck explains them).
    jvp(dz, z, a, **params) -> da is the forward-mode rule: the tangent of a given the tangent dz of
    z. An elementwise row needs none (forward mode uses g'(z)·dz); a vjp row needs it for `jvp`.
    """

    name: str
    forward: object
    derivative: object = None
    vjp: object = None
    formula: str = ""
    kinks: tuple = ()
    tensor_only: bool = False
    defaults: dict = field(default_factory=dict)
    jvp: object = None
    rule: object = field(default=None, repr=False, compare=False)

    def bind(self, params):
        """The parameters of one call, each checked against its default, the defaults filled in.

        A number's parameter (slope, alpha) takes a finite real number, ``axis`` an int; a string,
        an array, a complex number or a `Value` is refused by name. A Value would be read as a
        constant (no gradient reaches a parameter), so it is refused rather than half-used.

        >>> ACTIVATIONS["leaky_relu"].bind({"slope": "a"})
        Traceback (most recent call last):
        ...
        TypeError: leaky_relu: slope takes a real number, got str ('a')
        """
        unknown = set(params) - set(self.defaults)
        if unknown:
            accepted = ", ".join(self.defaults) or "no parameters"
            raise TypeError(f"{self.name} takes {accepted}; got {', '.join(sorted(unknown))}")
        if not params:
            return self.defaults
        checked = {k: _parameter(self.name, k, v, self.defaults[k]) for k, v in params.items()}
        return {**self.defaults, **checked}

    def local_formula(self, **params):
        """g'(z) as text, e.g. 'a(1-a)' or '1 if z≥0 else 0.01'.

        >>> ACTIVATIONS["leaky_relu"].local_formula(slope=0.2)
        '1 if z≥0 else 0.2'
        """
        return self.formula.format(**self.bind(params))


def _parameter(name, key, value, default):
    """One parameter of a call, checked against the kind of its default (numbers only)."""
    if type(value) is float and type(default) is float and math.isfinite(value):
        return value  # the usual case, first
    numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
    if not numeric and key != "axis":
        return value  # a user's row with a parameter of its own kind: its forward checks it
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        kind = "an int" if key == "axis" else "a real number"
        if isinstance(value, RAW) or not hasattr(value, "data"):
            got = type(value).__name__
            got += f" of shape {value.shape}" if isinstance(value, np.ndarray) else f" ({value!r})"
        else:  # a Value: constants only, no gradient would reach it
            got = "a Value: parameters are constants (no gradient reaches them), give a number"
        raise TypeError(f"{name}: {key} takes {kind}, got {got}")
    if key == "axis":
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: axis takes an int, got {type(value).__name__} ({value!r})")
        return int(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: {key} must be a finite number, got {value!r}")
    return float(value) if isinstance(default, float) else value


def activation_rule(spec, params):
    """The backward rule of a graph node made by row `spec`: g * g'(z), g'(z) as the lecture writes it.

    The rule keeps its row and parameters (``rule.spec``, ``rule.params``) so drawings and
    gradcheck can show the formula that was used.
    """
    derivative, vjp = spec.derivative, spec.vjp
    one = _only_parameter(vjp or derivative, params, 3 if vjp is not None else 2)
    if vjp is not None:  # not elementwise (softmax): the rule maps g to dL/dz itself
        if one is not None:
            (value,) = one

            def rule(g, a, z):  # the parameter by position: a keyword dict costs a tenth of an op
                return (vjp(g, z, a, value),)

        else:

            def rule(g, a, z):
                return (vjp(g, z, a, **params),)

    elif one is not None:
        (value,) = one

        def rule(g, a, z):
            return (g * derivative(z, a, value),)

    elif params:

        def rule(g, a, z):
            return (g * derivative(z, a, **params),)

    else:

        def rule(g, a, z):
            return (g * derivative(z, a),)

    rule.spec, rule.params = spec, params
    return rule


_PARAMETERS = {}  # function -> the names of the parameters it can take by position, read once


def _only_parameter(fn, params, skip):
    """(value,) when `params` is one parameter that `fn` takes by position next after its first
    `skip`, else None (then it goes by name)."""
    if len(params) != 1:
        return None
    names = _PARAMETERS.get(fn)
    if names is None:
        try:
            found = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # a builtin that shows no signature
            found = ()
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        names = _PARAMETERS[fn] = tuple(p.name for p in found if p.kind in positional)
    ((name, value),) = params.items()
    return (value,) if names[skip : skip + 1] == (name,) else None


# The classes that get a method for each activation a user registers: the engine adds `Value` when
# it loads. The table never imports the engine, so the engine tells it where methods go.
_METHOD_HOSTS = []


def add_methods_to(cls):
    """Give `cls` a method for every activation registered from now on (the engine passes Value)."""
    _METHOD_HOSTS.append(cls)


ACTIVATIONS: dict[str, Activation] = {}
BUILTIN = (
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softplus",
    "elu",
    "silu",
    "gelu",
    "softmax",
    "log_softmax",
)
LECTURE = ("sigmoid", "tanh", "relu", "leaky_relu")  # the four on the slide


def lookup(name, *, elementwise=False):
    """The registered activation called `name` (a clear error naming the known ones otherwise,
    with the closest name when one is close: a typo such as ``tanhh``). With ``elementwise=True``
    only one with a slope g'(z) is accepted (softmax maps a vector to a vector), and the error
    names those.

    >>> lookup("tanhh")
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'tanhh'; registered: sigmoid, tanh, relu, leaky_relu, softplus, elu, silu, gelu, softmax, log_softmax; did you mean tanh?
    >>> lookup("softmax", elementwise=True)
    Traceback (most recent call last):
    ...
    ValueError: softmax maps a vector to a vector: its derivative is a Jacobian, not a slope g'(z)
    """
    try:
        spec = ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = [s.name for s in elementwise_activations()] if elementwise else list(ACTIVATIONS)
        close = difflib.get_close_matches(name, known, n=1) if isinstance(name, str) else []
        hint = f"; did you mean {close[0]}?" if close else ""
        which = "registered elementwise activations" if elementwise else "registered"
        raise ValueError(
            f"unknown activation {name!r}; {which}: {', '.join(known)}{hint}"
        ) from None
    if elementwise and spec.tensor_only:
        raise ValueError(
            f"{spec.name} maps a vector to a vector: its derivative is a Jacobian, not a slope g'(z)"
        )
    return spec


def elementwise_activations():
    """The registered activations that have a slope g'(z), in the order they were registered.

    >>> [spec.name for spec in elementwise_activations()][:4]
    ['sigmoid', 'tanh', 'relu', 'leaky_relu']
    """
    return [spec for spec in ACTIVATIONS.values() if not spec.tensor_only]


def register_activation(
    name,
    forward=None,
    derivative=None,
    *,
    vjp=None,
    formula=None,
    kinks=(),
    tensor_only=False,
    jvp=None,
):
    """Register an activation: its forward g(z) on floats and arrays, and its local gradient g'(z, a).

    It becomes a `Value` method, a function in ``tinygrad_act``, and a row of `ACTIVATIONS`, which
    gradcheck, the command line and the drawings read. Usable as a decorator on the forward.
    Forward mode needs nothing more for a `derivative`: the tangent is g'(z)·ż. An activation given
    by a `vjp` (not elementwise) also gives ``jvp(dz, z, a, **params)`` to work in forward mode.

    >>> from tinygrad_act import Value
    >>> @register_activation("cube", derivative=lambda z, a: 3 * z**2, formula="3z²")
    ... def cube(z):
    ...     return z * z * z
    >>> x = Value(2.0)
    >>> y = x.cube()
    >>> y.backward()
    >>> y.data, x.grad
    (8.0, 12.0)
    >>> unregister_activation("cube")
    """
    if forward is None:
        return lambda fn: register_activation(
            name,
            fn,
            derivative,
            vjp=vjp,
            formula=formula,
            kinks=kinks,
            tensor_only=tensor_only,
            jvp=jvp,
        )
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an activation name must be a Python identifier, got {name!r}")
    if name in ACTIVATIONS:
        raise ValueError(f"activation {name!r} is already registered")
    if (derivative is None) == (vjp is None):
        raise TypeError(f"activation {name!r} needs exactly one of derivative= or vjp=")
    if name not in BUILTIN and any(hasattr(cls, name) for cls in _METHOD_HOSTS):
        raise ValueError(f"{name!r} is already a Value attribute; choose another name")
    if not callable(forward) or not callable(derivative or vjp):
        raise TypeError(f"activation {name!r}: forward and the gradient must be callables")
    if jvp is not None and not callable(jvp):
        raise TypeError(f"activation {name!r}: jvp must be a callable jvp(dz, z, a), got {jvp!r}")
    defaults = {
        p.name: p.default
        for p in list(inspect.signature(forward).parameters.values())[1:]
        if p.default is not inspect.Parameter.empty
    }
    spec = Activation(
        name,
        forward,
        derivative,
        vjp,
        formula if formula is not None else name + "'",
        tuple(float(k) for k in kinks),
        tensor_only,
        defaults,
        jvp,
    )
    object.__setattr__(spec, "rule", activation_rule(spec, defaults))
    ACTIVATIONS[name] = spec
    function = _function(name)
    if name not in BUILTIN:  # user activations: a method and a package-level function, like ours
        for cls in _METHOD_HOSTS:
            setattr(cls, name, _method(name))
        setattr(sys.modules["tinygrad_act"], name, function)
    return function


def unregister_activation(name):
    """Remove an activation registered by `register_activation` (the built-in ones stay).

    >>> _ = register_activation("double", lambda z: 2 * z, lambda z, a: 2.0)
    >>> "double" in ACTIVATIONS
    True
    >>> unregister_activation("double")
    >>> "double" in ACTIVATIONS
    False
    """
    if name in BUILTIN:
        raise ValueError(f"{name!r} is built in and cannot be unregistered")
    lookup(name)
    del ACTIVATIONS[name]
    for cls in _METHOD_HOSTS:
        delattr(cls, name)
    package = sys.modules["tinygrad_act"]
    if getattr(package, name, None) is not None:
        delattr(package, name)


def _method(name):
    def method(self, **params):
        return self.activate(name, **params)

    method.__name__ = name
    method.__doc__ = f"Apply the registered activation {name!r}."
    return method


def _function(name):
    def function(z, **params):
        return _apply(name, z, **params)

    function.__name__ = name
    function.__doc__ = f"{name}(z): a Value for a Value (with its graph), plain math for numbers."
    return function


def _gelu_derivative(z, a):
    t = tanh(_GELU_C * (z + _GELU_K * z * z * z))
    # s = (1-t²)z is exactly 0 once t rounds to ±1 (|z| > about 20), and multiplying z in one factor
    # at a time keeps it 0: z² overflows past 1e154, and 0·inf would make the limit slopes 1 and 0 nan.
    s = (1 - t * t) * z
    return 0.5 * (1 + t) + 0.5 * _GELU_C * (s + 3 * _GELU_K * s * z * z)


# --------------------------------------------------------------------------------------------------
# The table. Read it against the slide: sigmoid' = a(1-a), tanh' = 1-a², ReLU' and Leaky ReLU' by cases.
# NOTE: at exactly z = 0 the lecture takes the ReLU and Leaky ReLU slope to be 1 (z >= 0);
# PyTorch and micrograd use 0 for ReLU and PyTorch uses the slope for Leaky ReLU.
# (one_minus(a) is the slide's 1 - a, and cases takes 1.0 rather than 1: numpy converts a Python
# number operand on every call, a float faster than an int, and on small arrays that conversion
# costs as much as the arithmetic; see one_minus.)

# fmt: off
register_activation("sigmoid",     _sigmoid,     lambda z, a: a * one_minus(a),                  formula="a(1-a)")
register_activation("tanh",        _tanh,        lambda z, a: one_minus(a**2),                   formula="1-a²")
register_activation("relu",        _relu,        lambda z, a: cases(z, 0.0, 1.0),                formula="1 if z≥0 else 0",         kinks=[0])
register_activation("leaky_relu",  _leaky_relu,  lambda z, a, slope: cases(z, slope, 1.0),       formula="1 if z≥0 else {slope}",   kinks=[0])
register_activation("softplus",    _softplus,    lambda z, a: sigmoid(z),                        formula="σ(z)")
register_activation("elu",         _elu,         lambda z, a, alpha: cases(z, a + alpha, 1.0),  formula="1 if z≥0 else a+{alpha}", kinks=[0])
register_activation("silu",        _silu,        lambda z, a: sigmoid(z) * (1 + z * (1 - sigmoid(z))), formula="σ(z)(1+z(1-σ(z)))")
register_activation("gelu",        _gelu,        _gelu_derivative,                               formula="½(1+t)+½z(1-t²)√(2/π)(1+3·0.044715z²)")
register_activation("softmax",     _softmax,     vjp=lambda g, z, a, axis: a * (g - (g * a).sum(axis=axis, keepdims=True)),
                    jvp=lambda dz, z, a, axis: a * (dz - (a * dz).sum(axis=axis, keepdims=True)),
                    formula="a(g-Σga)", tensor_only=True)
register_activation("log_softmax", _log_softmax, vjp=lambda g, z, a, axis: g - exp(a) * g.sum(axis=axis, keepdims=True),
                    jvp=lambda dz, z, a, axis: dz - (exp(a) * dz).sum(axis=axis, keepdims=True),
                    formula="g-e^a·Σg", tensor_only=True)
# fmt: on

# The built-in rows keep their input's shape and dtype, forward and backward (with their default
# parameters), so the engine skips checking them on every node.
FITTED = frozenset(ACTIVATIONS[name].rule for name in BUILTIN)

# The public functions: tinygrad_act.relu(v) is v.relu() for a Value, plain math for numbers.


def _apply(name, z, **params):
    if not isinstance(z, RAW):  # a Value: with its graph
        return z.activate(name, **params)
    spec = lookup(name)
    return spec.forward(float(z) if isinstance(z, (int, float)) else np.asarray(z), **params)


def relu(z):
    """max(0, z); slope 0 if z<0, 1 if z>=0 (the lecture's choice at exactly 0).

    >>> relu(-2.0), relu(3.0)
    (0.0, 3.0)
    >>> from tinygrad_act import Value
    >>> x = Value(0.0)
    >>> relu(x).backward()
    >>> x.grad
    1.0
    """
    return _apply("relu", z)


def leaky_relu(z, slope=0.01):
    """max(slope·z, z); slope `slope` if z<0, 1 if z>=0.

    >>> leaky_relu(-2.0), leaky_relu(3.0)
    (-0.02, 3.0)
    """
    return _apply("leaky_relu", z, slope=slope)


def softplus(z):
    """log(1+e^z), stable for any z; its slope is sigmoid(z).

    >>> round(softplus(0.0), 6)
    0.693147
    """
    return _apply("softplus", z)


def elu(z, alpha=1.0):
    """z if z>0 else alpha(e^z-1); slope 1 if z>=0 else a+alpha.

    >>> elu(2.0), round(elu(-1.0), 6)
    (2.0, -0.632121)
    """
    return _apply("elu", z, alpha=alpha)


def silu(z):
    """z·sigmoid(z) (also called swish).

    >>> silu(0.0)
    0.0
    """
    return _apply("silu", z)


def gelu(z):
    """GELU, tanh approximation: z/2·(1+tanh(√(2/π)(z+0.044715z³))).

    >>> gelu(0.0), round(gelu(1.0), 6)
    (0.0, 0.841192)
    """
    return _apply("gelu", z)


def softmax(z, axis=-1):
    """e^z / Σe^z along `axis`, shifted by the maximum so it never overflows; tensors only.

    >>> from tinygrad_act import Value
    >>> softmax(Value([0.0, 0.0])).data
    array([0.5, 0.5])
    """
    return _apply("softmax", z, axis=axis)


def log_softmax(z, axis=-1):
    """z - log Σe^z along `axis`, computed stably; tensors only.

    >>> from tinygrad_act import Value
    >>> log_softmax(Value([0.0, 0.0])).data.round(6)
    array([-0.693147, -0.693147])
    """
    return _apply("log_softmax", z, axis=axis)
