"""Activation health: saturated units, dead units and vanishing gradients, measured with g'(z).

The lecture's point is the slope: sigmoid' = a(1-a) and tanh' = 1-a² are nearly 0 at z = ±10, and
ReLU' = 0 for every z < 0. A unit whose local gradient is nearly 0 passes almost nothing back, so
the measure here is the registry's own derivative, the slide's formula:

- an entry z is *saturated* where |g'(z)| < threshold · peak, with peak the largest |g'| over
  z in [-10, 10] (1/4 for sigmoid, 1 for tanh and ReLU); at the default threshold 0.01 that is
  |a| > 0.995 for tanh, a(1-a) < 0.0025 for sigmoid, z < 0 for ReLU, and never for Leaky ReLU
  (its slope 0.01 is not *below* 1% of 1);
- a unit is *dead* when it is saturated for every example of a batch: no example can train it.

`Monitor` records these, per activation layer of a network, with the layer outputs' gradients
(caught by `Value.register_hook`) and the weights' grad:data and update:data ratios (the checks of
Karpathy's makemore part 3). The plots and the table are `tinygrad_act.health.plots`.
"""

from __future__ import annotations

import numpy as np

from tinygrad_act.activations import lookup
from tinygrad_act.engine import Value
from tinygrad_act.nn import Activation, Layer, Linear, Module, Neuron

PEAK_RANGE = (-10.0, 10.0)  # where the peak slope is looked for: the slide's z = -10 ... 10
POOLED_FORWARDS = 32  # forwards per layer kept for the next record(); the oldest goes first
ROW_KEYS = (
    "layer",
    "activation",
    "saturated",
    "dead",
    "out_mean",
    "out_std",
    "grad_mean",
    "grad_std",
    "grad_to_data",
    "update_to_data",
)

# --------------------------------------------------------------------------------------------------
# Saturation, from the registry's g'(z)


def _elementwise(activation):
    spec = lookup(activation)  # an unknown name raises, listing the registered ones
    if spec.derivative is None:
        raise ValueError(
            f"activation {spec.name!r} is not elementwise (its gradient is a vector-Jacobian "
            "product), so a single unit has no slope g'(z); saturation needs an elementwise "
            "activation such as sigmoid, tanh, relu or leaky_relu"
        )
    return spec


def _slopes(spec, z, params):
    """|g'(z)| by the registry's derivative, as float64 of z's shape."""
    with np.errstate(all="ignore"):  # sigmoid at z = 1000 is exactly 0 or 1: no warning needed
        d = spec.derivative(z, spec.forward(z, **params), **params)
    return np.broadcast_to(np.abs(np.asarray(d, dtype=np.float64)), z.shape)


_PEAKS = {}


def peak_slope(activation, **params):
    """The largest ``|g'(z)|`` over z in [-10, 10] (z = 0 included): what "small" is measured by.

    >>> peak_slope("sigmoid"), peak_slope("tanh"), peak_slope("relu"), peak_slope("leaky_relu")
    (0.25, 1.0, 1.0, 1.0)
    """
    spec = _elementwise(activation)
    params = spec.bind(params)
    key = (spec.forward, spec.derivative, tuple(sorted(params.items())))
    if key not in _PEAKS:
        grid = np.union1d(np.linspace(*PEAK_RANGE, 20001), [0.0])
        _PEAKS[key] = float(_slopes(spec, grid, params).max())
    return _PEAKS[key]


def _entries(z, what):
    """z (a number, an array or a Value) as a float64 array."""
    data = z.data if isinstance(z, Value) else z
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} takes numbers (a float, an array or a Value), got {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{what}: z is empty, so there is no fraction to take")
    return arr.astype(np.float64)


def _check_threshold(threshold):
    ok = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    if not (ok and 0 <= threshold <= 1):
        raise ValueError(
            f"threshold is a fraction of the peak slope, a number in [0, 1]; got {threshold!r}"
        )


def _saturated(spec, z, threshold, params):
    """The boolean mask |g'(z)| < threshold · peak (strictly below: Leaky ReLU's 0.01 is not)."""
    return _slopes(spec, z, params) < threshold * peak_slope(spec.name, **params)


def saturated_fraction(activation, z, threshold=0.01, **params):
    """The fraction of entries of `z` where ``|g'(z)| < threshold * peak`` (peak: see `peak_slope`).

    g' is the registry's derivative, the slide's formula: sigmoid a(1-a), tanh 1-a², ReLU and
    Leaky ReLU by cases. `z` is the activation's input: a float, an array or a `Value`.

    >>> saturated_fraction("tanh", [0.0, 2.0, 3.0, 10.0])  # 1-a² < 0.01 where |a| > 0.995
    0.5
    >>> saturated_fraction("relu", [-1.0, 0.0, 2.0])  # the lecture's slope at exactly 0 is 1
    0.3333333333333333
    >>> saturated_fraction("leaky_relu", [-5.0, -1.0])  # 0.01 is not below 1% of 1
    0.0
    >>> saturated_fraction("tanh", 2.5, threshold=0.06)  # Karpathy's |a| > 0.97
    1.0
    """
    spec = _elementwise(activation)
    params = spec.bind(params)
    _check_threshold(threshold)
    z = _entries(z, "saturated_fraction")
    return float(np.mean(_saturated(spec, z, threshold, params)))


def _units(z, what):
    if z.ndim > 2:
        raise ValueError(f"{what} takes z of shape (examples, units), got shape {z.shape}")
    return np.atleast_2d(z)  # a number or a vector is one example


def dead_fraction(activation, z, threshold=0.01, **params):
    """The fraction of units saturated for every example of the batch `z` (examples, units).

    Such a unit is dead: a ReLU whose z < 0 for every example, or a sigmoid stuck at 0 or 1; no
    example can move it. A number or a 1-D `z` is one example.

    >>> z = [[-1.0, 2.0, -3.0],
    ...      [-2.0, -1.0, 0.0]]
    >>> dead_fraction("relu", z)  # only the first unit is negative for both examples
    0.3333333333333333
    >>> dead_fraction("leaky_relu", z)
    0.0
    """
    spec = _elementwise(activation)
    params = spec.bind(params)
    _check_threshold(threshold)
    z = _units(_entries(z, "dead_fraction"), "dead_fraction")
    return float(np.mean(_saturated(spec, z, threshold, params).all(axis=0)))


# --------------------------------------------------------------------------------------------------
# The monitor


class _Watched:
    """One activation layer of the model: where it is, what it applies, and the weights feeding it."""

    def __init__(self, name, module, activation, params, weights, scalar):
        self.name = name or type(module).__name__  # the model itself is a layer: its class name
        self.module, self.scalar = module, scalar
        self.spec = _elementwise(activation)
        self.params = self.spec.bind(params)
        self.weights = weights  # Values: a Linear's weight, or a Layer's neuron weights
        self.captures = []  # the forwards since the last record()


class _Capture:
    """One forward of one layer: z and a as (examples, units), and its outputs, whose gradients
    dL/da are read after backward from what the pass stored in their ``.grad``.

    Reading ``.grad`` rather than keeping what the hooks see makes a failed pass count for nothing,
    as it does for every ``.grad``: a pass interrupted midway (an exception, Ctrl-C) stores no
    gradient, and a retry stores it once. The hooks only say that a pass got to the outputs.
    """

    def __init__(self, outputs, scalar):
        self.scalar = scalar
        self.z = self._table([v._prev[0].data for v in outputs])
        self.a = self._table([v.data for v in outputs])
        self.outputs = outputs
        self.hit = [False] * len(outputs)  # a backward pass has got to output i
        self.handles = [v.register_hook(_marker(self.hit, i)) for i, v in enumerate(outputs)]

    def _table(self, columns):
        if self.scalar:  # one Value per neuron: a float, or a tensor over the batch
            arr = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=-1)
            return arr.reshape(-1, len(columns))
        arr = np.asarray(columns[0], dtype=np.float64)
        return arr.reshape(-1, arr.shape[-1] if arr.ndim else 1)

    def _grad(self, i):
        """Output i's gradient as a finished pass stored it, or None. (A float output's ``.grad``
        is 0.0 from the start: there the hook's word counts; a tensor's is None until stored.)"""
        if not self.hit[i]:
            return None
        return self.outputs[i].grad_data

    @property
    def reached(self):
        return any(self._grad(i) is not None for i in range(len(self.outputs)))

    def tables(self):
        """z, a and dL/da as (examples, units); an output the backward did not reach gets 0."""
        grads = [self._grad(i) for i in range(len(self.outputs))]
        cols = [np.zeros(self.a.shape[0]) if g is None else g for g in grads]
        return self.z, self.a, self._table(cols)

    def release(self):
        for handle in self.handles:
            handle.remove()
        self.handles, self.outputs = [], []


def _marker(hit, i):
    """A gradient hook that notes the pass got to output i. It holds the list `hit` only: a hook
    holding its own Value would keep it alive in the hook table for good."""

    def hook(g):
        hit[i] = True  # returning None: the gradient passes on unchanged

    return hook


def _find_layers(module, name, found, previous=None):
    """Every activation layer under `module`, from the input side, each with the weights feeding it."""
    if isinstance(module, Activation):
        if lookup(module.name).derivative is not None:  # softmax at the end is no hidden layer
            weights = [previous.weight] if isinstance(previous, Linear) else []
            found.append(_Watched(name, module, module.name, module.params, weights, False))
    elif isinstance(module, Layer):
        kinds = {(n.nonlin, n.activation) for n in module.neurons}
        if len(kinds) > 1:
            raise ValueError(f"Monitor: the neurons of layer {name!r} differ: {sorted(kinds)}")
        if module.neurons and module.neurons[0].nonlin:
            weights = [w for n in module.neurons for w in n.w]
            found.append(_Watched(name, module, module.neurons[0].activation, {}, weights, True))
    elif isinstance(module, Neuron):
        if module.nonlin:
            found.append(_Watched(name, module, module.activation, {}, list(module.w), True))
    else:
        _find_in_members(list(module._members()), name, found)


def _find_in_members(members, prefix, found):
    before = None
    for key, member in members:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(member, Module):
            _find_layers(member, path, found, before)
        elif isinstance(member, (list, tuple)):
            _find_in_members(list(enumerate(member)), path, found)
        before = member


def _flat(values, grad=False):
    parts = []
    for v in values:
        x = v.grad_data if grad else v.data
        parts.append(np.ravel(np.asarray(0.0 if x is None else x, dtype=np.float64)))
    return np.concatenate(parts) if parts else np.zeros(0)


def _ratio(top, bottom):
    with np.errstate(all="ignore"):  # weights all equal: the ratio is inf (or nan), not a warning
        return float(np.float64(top) / np.float64(bottom))


class Monitor:
    """Watches every activation layer of an `nn` model; ``record()`` after each ``backward()``.

    Per layer it stores the saturated and dead fractions of the layer's inputs z (by the
    registry's g'), the mean and standard deviation of its outputs a and of their gradients dL/da
    (caught with `Value.register_hook`), the std of its weights' gradient over the std of their
    data, and the std of the last optimizer step's change of the weights over the std of the
    weights before it. Standard deviations are numpy's (ddof 0). `report()` gives the latest
    step's rows, from the input side; `history` holds every step's. `remove()`, or leaving a
    ``with`` block, unhooks it and leaves the model as it was.

    >>> from tinygrad_act.nn import mlp
    >>> net = mlp([2, 8, 8, 1], "tanh", rng=0)
    >>> with Monitor(net) as monitor:
    ...     net(Value(np.ones((4, 2)))).sum().backward()
    ...     rows = monitor.record()
    >>> [(row["layer"], row["activation"]) for row in rows]
    [('1', 'tanh'), ('3', 'tanh')]
    >>> rows[0]["update_to_data"] is None  # no optimizer step has been made yet
    True
    """

    def __init__(self, model, threshold=0.01):
        if not isinstance(model, Module):
            raise TypeError(f"Monitor watches a tinygrad_act.nn Module, got {type(model).__name__}")
        _check_threshold(threshold)
        layers = []
        _find_layers(model, "", layers)
        if not layers:
            raise ValueError(
                f"Monitor: {type(model).__name__} has no elementwise activation layer to watch"
            )
        modules = [layer.module for layer in layers]
        for m in modules:
            if sum(x is m for x in modules) > 1:
                places = [layer.name for layer in layers if layer.module is m]
                raise ValueError(
                    f"Monitor: one module is used at {', '.join(places)}; give each place its own"
                )
        self.model, self.threshold, self.layers = model, threshold, layers
        self.history = []
        self._params = model.parameters()
        self._before = [np.array(p.data, dtype=np.float64) for p in self._params]
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._latest = []  # (a, dL/da) per layer of the latest record, for the histograms
        self._handles = [layer.module.register_forward_hook(self._hook(layer)) for layer in layers]

    def _hook(self, layer):
        def capture(module, x, out):
            outputs = out if isinstance(out, list) else [out]
            # Only a forward that records a graph can be backpropagated; evaluation is skipped.
            if all(isinstance(v, Value) and v.requires_grad and v._prev for v in outputs):
                layer.captures.append(_Capture(outputs, layer.scalar))
                if len(layer.captures) > POOLED_FORWARDS:  # forwards nobody backpropagates
                    stale = next((c for c in layer.captures if not c.reached), layer.captures[0])
                    stale.release()
                    layer.captures.remove(stale)

        return capture

    # ---- recording ---------------------------------------------------------------------------------

    def record(self):
        """Store this step's numbers (call it after ``backward()``); returns the rows, as `report`."""
        if self._handles is None:
            raise ValueError("Monitor.record(): this monitor was removed from its model")
        missing = [
            layer.name for layer in self.layers if not any(c.reached for c in layer.captures)
        ]
        if missing:
            raise ValueError(
                "Monitor.record(): no backward pass has gone through layer "
                f"{', '.join(missing)} since the last record(); call it after loss.backward()"
            )
        empty = [
            layer.name
            for layer in self.layers
            if not sum(c.a.shape[0] for c in layer.captures if c.reached)
        ]
        if empty:
            raise ValueError(
                f"Monitor.record(): the batch reaching layer {', '.join(empty)} was empty "
                "(0 examples), so there is no fraction or mean to record; give it at least one"
            )
        now = [np.array(p.data, dtype=np.float64) for p in self._params]
        stepped = any(not np.array_equal(a, b) for a, b in zip(now, self._before, strict=True))
        rows, latest = [], []
        with np.errstate(all="ignore"):  # a diverging run gives inf and nan rows, not an error
            for layer in self.layers:
                reached = [c for c in layer.captures if c.reached]
                z, a, g = (
                    np.concatenate(part)
                    for part in zip(*(c.tables() for c in reached), strict=True)
                )
                for c in layer.captures:
                    c.release()
                layer.captures = []
                rows.append(self._row(layer, z, a, g, stepped))
                latest.append((a.ravel(), g.ravel()))
        self._before, self._latest = now, latest
        self.history.append(rows)
        return self.report()

    def _row(self, layer, z, a, g, stepped):
        mask = _saturated(layer.spec, z, self.threshold, layer.params)
        row = {
            "layer": layer.name,
            "activation": layer.spec.name,
            "saturated": float(mask.mean()),
            "dead": float(mask.all(axis=0).mean()),
            "out_mean": float(a.mean()),
            "out_std": float(a.std()),
            "grad_mean": float(g.mean()),
            "grad_std": float(g.std()),
            "grad_to_data": None,
            "update_to_data": None,
        }
        if layer.weights:
            data = _flat(layer.weights)
            row["grad_to_data"] = _ratio(_flat(layer.weights, grad=True).std(), data.std())
            if stepped:  # the weights changed since the last record: an optimizer step was made
                before = np.concatenate(
                    [np.ravel(self._before[self._index[id(w)]]) for w in layer.weights]
                )
                row["update_to_data"] = _ratio((data - before).std(), before.std())
        return row

    def report(self):
        """The latest step: one dict per activation layer, from the input side to the output.

        Keys: ``layer``, ``activation``, ``saturated``, ``dead``, ``out_mean``, ``out_std``,
        ``grad_mean``, ``grad_std`` (of dL/da, the gradient of the layer's outputs),
        ``grad_to_data`` (of its weights) and ``update_to_data`` (None before the first step).

        >>> from tinygrad_act.nn import mlp
        >>> net = mlp([3, 4, 1], "relu", rng=0)
        >>> monitor = Monitor(net)
        >>> net(Value(np.ones((2, 3)))).sum().backward()
        >>> sorted(monitor.record()[0]) == sorted(ROW_KEYS)
        True
        >>> monitor.remove()
        """
        if not self.history:
            raise ValueError(
                "Monitor.report(): nothing recorded yet; call record() after backward()"
            )
        return [dict(row) for row in self.history[-1]]

    # ---- detaching ---------------------------------------------------------------------------------

    def remove(self):
        """Unhook from the model (forward hooks and any pending gradient hooks); the numbers stay.

        >>> from tinygrad_act.nn import mlp
        >>> net = mlp([2, 3, 1], "sigmoid", rng=0)
        >>> monitor = Monitor(net)
        >>> monitor.remove()
        >>> "_forward_hooks" in vars(net[1])
        False
        """
        if self._handles is None:
            return
        for handle in self._handles:
            handle.remove()
        for layer in self.layers:
            for c in layer.captures:
                c.release()
            layer.captures = []
        self._handles = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def __repr__(self):
        layers = ", ".join(f"{layer.name} ({layer.spec.name})" for layer in self.layers)
        return f"Monitor(layers=[{layers}], steps={len(self.history)})"

    # ---- plots -------------------------------------------------------------------------------------

    def plot(self, path, title=None):
        """Write the four health plots of this monitor into one PNG figure; returns the path.

        Activation and gradient histograms per layer (the latest step), the saturated fraction
        per layer over training, and log10 update:data per layer over training with the -3 guide.
        """
        from tinygrad_act.health.plots import plot_health  # plots import this module: not above

        title = title or ", ".join(dict.fromkeys(layer.spec.name for layer in self.layers))
        return plot_health({title: self}, path)
