"""Modules: the `Module` base (parameters by name, forward hooks, state dicts, save and load), the
scalar networks in micrograd's vocabulary (`Neuron`, `Layer`, `MLP`) and the tensor networks in
PyTorch's (`Linear`, `Sequential`, the activation modules, `mlp`).

The file format of `Module.save` and `Module.load` is `tinygrad_act.nn.checkpoint`'s.
"""

from __future__ import annotations

import math
import numbers
import random

import numpy as np

from tinygrad_act.activations import lookup
from tinygrad_act.engine import Value
from tinygrad_act.files import check_path, open_regular_file
from tinygrad_act.nn.checkpoint import ARCHIVE_ERRORS, name_problems, read_checked_npz, write_npz

# --------------------------------------------------------------------------------------------------
# Module


class Module:
    """Base of every network piece: finds its parameters, resets their gradients, saves and loads them.

    Parameters are the `Value`\\ s held in attributes, directly, in sub-modules, or in lists of either;
    their names are the attribute paths, e.g. ``layers.0.neurons.1.w.0`` or ``0.weight``. A Value
    with ``requires_grad=False`` is not a parameter (no optimizer moves it), but `state_dict`,
    `save` and `load` keep it, as PyTorch keeps buffers.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         self.w, self.b = Value(2.0), Value(0.5)
    ...     def __call__(self, x):
    ...         return self.w * x + self.b
    >>> model = Affine()
    >>> [name for name, _ in model.named_parameters()]
    ['w', 'b']
    >>> model(3.0).backward()
    >>> model.w.grad
    3.0
    >>> model.zero_grad()
    >>> model.w.grad
    0.0
    """

    _forward_hooks = None  # a dict of this module's forward hooks, made by the first one

    def _members(self):
        return vars(self).items()

    def register_forward_hook(self, hook):
        """Run ``hook(module, input, output)`` after each call, as torch's ``register_forward_hook``.

        A result other than None replaces the output. Returns a handle: ``handle.remove()``
        unregisters the hook, and once the last one is gone the module is exactly as before. Every
        module of `tinygrad_act.nn` runs its hooks (`health.Monitor` watches activation layers so).

        >>> layer = Linear(2, 3, rng=0)
        >>> seen = []
        >>> handle = layer.register_forward_hook(lambda m, x, out: seen.append(out.shape))
        >>> _ = layer(Value(np.ones((4, 2))))
        >>> handle.remove()
        >>> _ = layer(Value(np.ones((5, 2))))
        >>> seen
        [(4, 3)]
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook takes a callable, got {type(hook).__name__}")
        if self._forward_hooks is None:
            self._forward_hooks = {}
        handle = _ForwardHookHandle(self)
        self._forward_hooks[handle] = hook
        return handle

    def _hooked(self, x, out):
        """The output after this module's forward hooks (called only when it has some)."""
        for hook in list(self._forward_hooks.values()):
            result = hook(self, x, out)
            if result is not None:
                out = result
        return out

    def named_parameters(self):
        """(name, Value) pairs in a stable order; a Value shared by two places is listed once.

        Values with ``requires_grad=False`` are left out: they are data, not parameters.
        """
        return [(name, v) for name, v in self._named_values() if v.requires_grad]

    def _named_values(self):
        """Every Value held, trainable or not: what `state_dict` saves."""
        seen, found = set(), []
        _collect(self, "", seen, found)
        return found

    def parameters(self):
        """The trainable Values, in a stable order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        """Reset the gradient of every parameter (micrograd's ``p.grad = 0``)."""
        for p in self.parameters():
            p.zero_grad()

    def state_dict(self):
        """A copy of every Value held as a numpy array, by name (a scalar becomes a 0-d array).

        >>> Neuron(2, rng=random.Random(0)).state_dict()["b"]
        array(0.)
        """
        return {name: np.array(p.data, copy=True) for name, p in self._named_values()}

    def load_state_dict(self, state):
        """Copy parameters in from `state` (name -> array); nothing changes unless every name and shape fits.

        >>> a, b = Neuron(3, rng=random.Random(1)), Neuron(3, rng=random.Random(2))
        >>> b.load_state_dict(a.state_dict())
        >>> [p.data for p in b.parameters()] == [p.data for p in a.parameters()]
        True
        """
        params = dict(self._named_values())
        problems = name_problems(params, state)
        arrays = {}
        for name, p in params.items():
            if name not in state:
                continue
            arr = np.asarray(state[name])
            if arr.dtype.kind not in "biuf":
                problems.append(f"{name} holds dtype {arr.dtype}, not real numbers")
            elif arr.shape != p.shape:
                problems.append(f"{name} has shape {arr.shape}, the model expects {p.shape}")
            arrays[name] = arr
        if problems:
            raise ValueError(
                f"load_state_dict: the state does not fit {type(self).__name__}: "
                + "; ".join(problems)
            )
        for name, p in params.items():
            if p.is_scalar:
                p.data = float(arrays[name])
            else:
                p.data[...] = arrays[name]  # in place: whoever holds the array sees the new values

    def save(self, path):
        """Write the parameters to `path` as an ``.npz`` archive (plain arrays, no pickle); returns path.

        The archive is written to a temporary file in the same folder and then renamed over `path`,
        so a failed write (a full disk, Ctrl-C) leaves the previous file at `path` as it was.
        """
        write_npz(check_path(path, "Module.save"), self.state_dict())
        return path

    def load(self, path):
        """Read parameters written by `save`; returns self.

        The file is read with ``allow_pickle=False``: a pickle or any object array is refused, never
        executed. A corrupt file, a ``.npy`` array, or wrong names, dtypes or shapes give a
        `ValueError`; names, dtypes and shapes are checked from the archive's headers before any
        array is decompressed. A folder, a FIFO or a device is a `ValueError` too (it is never read),
        a file descriptor number a `TypeError`.
        """
        with open_regular_file(path, "Module.load") as f:
            try:
                state = read_checked_npz(f, dict(self._named_values()), type(self).__name__)
            except ARCHIVE_ERRORS as err:
                raise ValueError(f"cannot load parameters from {path}: {err}") from None
        self.load_state_dict(state)
        return self


class _ForwardHookHandle:
    """What `Module.register_forward_hook` returns; ``remove()`` unregisters the hook."""

    __slots__ = ("module",)

    def __init__(self, module):
        self.module = module

    def remove(self):
        hooks = vars(self.module).get("_forward_hooks")
        if hooks is not None:
            hooks.pop(self, None)
            if not hooks:
                del self.module._forward_hooks  # back to the class default: nothing left behind


def _collect(obj, prefix, seen, found):
    for name, member in obj._members():
        _collect_member(member, prefix + str(name), seen, found)


def _collect_member(member, name, seen, found):
    if isinstance(member, Value):
        if id(member) not in seen:
            seen.add(id(member))
            found.append((name, member))
    elif isinstance(member, Module):
        _collect(member, name + ".", seen, found)
    elif isinstance(member, (list, tuple)):
        for i, item in enumerate(member):
            _collect_member(item, f"{name}.{i}", seen, found)


def _size(owner, name, value):
    """A layer size: a whole number of at least 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be a whole number, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be at least 1, got {value}")
    return int(value)


def _sizes(owner, name, values):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{owner}: {name} must be a list of sizes, got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{owner}: {name} is empty; give at least one layer size")
    return [_size(owner, f"{name}[{i}]", v) for i, v in enumerate(values)]


# --------------------------------------------------------------------------------------------------
# Scalar networks, micrograd-compatible: Neuron(nin, nonlin=True), Layer(nin, nout), MLP(nin, nouts)

_DISPLAY = {
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softplus": "Softplus",
    "elu": "ELU",
    "silu": "SiLU",
    "gelu": "GELU",
}


def _display_name(name):
    return _DISPLAY.get(name, name.title().replace("_", ""))


def _elementwise(activation):
    spec = lookup(activation)
    if spec.tensor_only:
        raise ValueError(
            f"activation {activation!r} works on whole tensors only; a neuron needs an "
            "elementwise one such as relu, tanh, sigmoid or leaky_relu"
        )
    return spec.name


class Neuron(Module):
    """One neuron: activation(w·x + b), weights uniform in [-1, 1] and bias 0 as in micrograd.

    `rng` is a ``random.Random`` (Python's global generator by default, so ``random.seed`` gives
    micrograd's weights). `x` is a list of scalar Values or numbers, or of tensors (a whole batch).

    >>> n = Neuron(2, activation="tanh", rng=random.Random(0))
    >>> n
    TanhNeuron(2)
    >>> out = n([1.0, -2.0])
    >>> round(out.data, 6) == round(math.tanh(n.w[0].data - 2 * n.w[1].data), 6)
    True
    """

    def __init__(self, nin, nonlin=True, activation="relu", rng=None):
        nin = _size("Neuron", "nin", nin)
        rng = random if rng is None else rng
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin
        self.activation = _elementwise(activation)

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"{self!r} takes {len(self.w)} inputs, got {len(x)}")
        # The same sum, in the same order, as micrograd: b + w0*x0 + w1*x1 + ...
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        out = act.activate(self.activation) if self.nonlin else act
        return out if self._forward_hooks is None else self._hooked(x, out)

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        kind = _display_name(self.activation) if self.nonlin else "Linear"
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons on the same inputs; one output is returned bare, as in micrograd.

    >>> Layer(3, 2, activation="sigmoid", rng=random.Random(0))
    Layer of [SigmoidNeuron(3), SigmoidNeuron(3)]
    """

    def __init__(self, nin, nout, **kwargs):
        nin, nout = _size("Layer", "nin", nin), _size("Layer", "nout", nout)
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        out = out[0] if len(out) == 1 else out
        return out if self._forward_hooks is None else self._hooked(x, out)

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of neurons; every layer but the last uses `activation` (relu by default, as micrograd).

    >>> model = MLP(2, [3, 1], activation="tanh", rng=random.Random(0))
    >>> model
    MLP of [Layer of [TanhNeuron(2), TanhNeuron(2), TanhNeuron(2)], Layer of [LinearNeuron(3)]]
    """

    def __init__(self, nin, nouts, activation="relu", rng=None):
        nin, nouts = _size("MLP", "nin", nin), _sizes("MLP", "nouts", nouts)
        sz = [nin] + nouts
        last = len(nouts) - 1
        self.layers = [
            Layer(sz[i], sz[i + 1], nonlin=i != last, activation=activation, rng=rng)
            for i in range(len(nouts))
        ]

    def __call__(self, x):
        out = x
        for layer in self.layers:
            out = layer(out)
        return out if self._forward_hooks is None else self._hooked(x, out)

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# --------------------------------------------------------------------------------------------------
# Tensor networks, PyTorch's vocabulary

# Xavier/Glorot keeps the variance of tanh and sigmoid layers (near-linear around 0) steady; He
# doubles it for the ReLU family, which zeroes half of its inputs.
_XAVIER = ("sigmoid", "tanh")


def init_for(activation):
    """The initialisation suited to an activation: ``"xavier"`` for tanh/sigmoid, ``"he"`` otherwise.

    >>> init_for("tanh"), init_for("relu")
    ('xavier', 'he')
    """
    name = lookup(activation).name
    return "xavier" if name in _XAVIER else "he"


def _generator(rng):
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng takes a numpy Generator, an int seed or None, not {type(rng).__name__}")


class Linear(Module):
    """y = x @ weight + bias, with weight of shape (nin, nout) (x's rows are samples).

    `init` is ``"he"`` (normal, std √(2/nin)), ``"xavier"`` (uniform ±√(6/(nin+nout))) or the name
    of the activation that follows (then `init_for` picks). `rng` is a numpy Generator or a seed.

    >>> layer = Linear(3, 2, init="tanh", rng=0)
    >>> layer
    Linear(nin=3, nout=2, bias=True)
    >>> layer(Value(np.ones((5, 3)))).shape
    (5, 2)
    """

    def __init__(self, nin, nout, bias=True, *, init="he", rng=None, dtype=np.float64):
        nin, nout = _size("Linear", "nin", nin), _size("Linear", "nout", nout)
        dtype = _float_dtype("Linear", dtype)
        rng = _generator(rng)
        kind = init if init in ("he", "xavier") else _init_name(init)
        if kind == "he":
            w = rng.normal(0.0, math.sqrt(2.0 / nin), size=(nin, nout))
        else:
            bound = math.sqrt(6.0 / (nin + nout))
            w = rng.uniform(-bound, bound, size=(nin, nout))
        self.weight = Value(w.astype(dtype), label="weight")
        self.bias = Value(np.zeros(nout, dtype=dtype), label="bias") if bias else None
        self.nin, self.nout = nin, nout

    def __call__(self, x):
        out = x @ self.weight
        out = out + self.bias if self.bias is not None else out
        return out if self._forward_hooks is None else self._hooked(x, out)

    def __repr__(self):
        return f"Linear(nin={self.nin}, nout={self.nout}, bias={self.bias is not None})"


def _float_dtype(owner, dtype):
    """float32 or float64, the dtypes the engine computes in; anything else is refused."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        got = repr(dtype) if dt is None else str(dt)
        raise ValueError(f"{owner}: dtype must be float32 or float64, got {got}")
    return dt


def _init_name(init):
    try:
        return init_for(init)
    except ValueError:
        raise ValueError(f"init takes 'he', 'xavier' or an activation name, got {init!r}") from None


class Activation(Module):
    """Any registered activation as a module: ``Activation("elu", alpha=0.5)(x)``.

    >>> Activation("leaky_relu", slope=0.1)(Value(np.array([-1.0, 2.0]))).data
    array([-0.1,  2. ])
    """

    def __init__(self, name, **params):
        spec = lookup(name)
        try:
            spec.bind(params)
        except TypeError as err:
            raise ValueError(str(err)) from None
        self.name, self.params = spec.name, dict(params)

    def __call__(self, x):
        out = x.activate(self.name, **self.params)
        return out if self._forward_hooks is None else self._hooked(x, out)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{', ' + args if args else ''})"


class Sigmoid(Activation):
    """a = 1/(1+e^-z); local gradient a(1-a).

    >>> Sigmoid()(Value([0.0])).data
    array([0.5])
    """

    def __init__(self):
        super().__init__("sigmoid")

    def __repr__(self):
        return "Sigmoid()"


class Tanh(Activation):
    """a = tanh z; local gradient 1-a².

    >>> Tanh()(Value([0.0])).data
    array([0.])
    """

    def __init__(self):
        super().__init__("tanh")

    def __repr__(self):
        return "Tanh()"


class ReLU(Activation):
    """a = max(0, z); local gradient 1 if z≥0 else 0 (the lecture takes 1 at z = 0).

    >>> ReLU()(Value([-2.0, 3.0])).data
    array([0., 3.])
    """

    def __init__(self):
        super().__init__("relu")

    def __repr__(self):
        return "ReLU()"


class LeakyReLU(Activation):
    """a = max(slope·z, z); local gradient 1 if z≥0 else slope.

    >>> LeakyReLU(slope=0.1)(Value([-2.0, 3.0])).data
    array([-0.2,  3. ])
    """

    def __init__(self, slope=0.01):
        super().__init__("leaky_relu", slope=slope)

    def __repr__(self):
        return f"LeakyReLU(slope={self.params['slope']!r})"


class Sequential(Module):
    """Modules applied in order; parameters are named ``0.weight``, ``0.bias``, ... as in PyTorch.

    >>> net = Sequential(Linear(2, 4, rng=0), ReLU(), Linear(4, 1, rng=1))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules):
        for m in modules:
            if not callable(m):
                raise TypeError(f"Sequential takes modules (callables), got {type(m).__name__}")
        self.modules = list(modules)

    def _members(self):
        return enumerate(self.modules)

    def __call__(self, x):
        out = x
        for m in self.modules:
            out = m(out)
        return out if self._forward_hooks is None else self._hooked(x, out)

    def __getitem__(self, i):
        return self.modules[i]

    def __len__(self):
        return len(self.modules)

    def __iter__(self):
        return iter(self.modules)

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self.modules))
        return f"Sequential({inner}\n)"


def mlp(sizes, activation="relu", *, rng=None, dtype=np.float64):
    """A tensor MLP: Linear layers of `sizes` with `activation` between them, initialised to suit it.

    >>> mlp([64, 32, 10], "tanh", rng=0)
    Sequential(
      (0): Linear(nin=64, nout=32, bias=True)
      (1): Activation('tanh')
      (2): Linear(nin=32, nout=10, bias=True)
    )
    """
    sizes = _sizes("mlp", "sizes", sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs an input and an output size, got {sizes}")
    rng = _generator(rng)
    init = init_for(activation)
    modules = []
    for i, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        modules.append(Linear(nin, nout, init=init, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            modules.append(Activation(activation))
    return Sequential(*modules)
