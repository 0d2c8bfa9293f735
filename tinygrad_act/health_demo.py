"""The demo page's section "When the slope is zero": a deeper network, measured by `health.Monitor`.

Two experiments on the moons (200 points), with one network: five hidden layers of 32 units, all
Linear layers Xavier-initialised from the same seed, so every run starts from the same weights.

1. Vanishing gradients: each lecture activation, full-batch SGD (lr 0.5). The gradient reaching
   a layer is multiplied by g'(z) at every layer above it; sigmoid's slope is at most 1/4.
2. Dead units: ReLU and Leaky ReLU with every hidden bias started at -0.3 and Adam (lr 0.03).
   A ReLU unit whose z < 0 for every example has slope 0 and gets no gradient; Leaky ReLU's
   slope 0.01 still passes 1% of it.

`section(out)` runs both, writes the figures and returns the section's HTML. Every number in the
text is read from the runs; nothing is typed in.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinygrad_act.activations import ACTIVATIONS, LECTURE
from tinygrad_act.engine import Value, no_grad
from tinygrad_act.figures import new_figure, save_png
from tinygrad_act.health import Monitor, dead_fraction, peak_slope, plot_health
from tinygrad_act.nn import SGD, Activation, Adam, Linear, Sequential
from tinygrad_act.training import accuracy, logistic_loss, step

DEPTH, WIDTH, POINTS = 5, 32, 200
VANISHING = {"optimizer": "sgd", "lr": 0.5, "bias": 0.0}
DEAD = {"optimizer": "adam", "lr": 0.03, "bias": -0.3}
TITLES = {"sigmoid": "Sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU"}


def deep_net(activation, seed=0, bias=0.0):
    """2 -> 32 x 5 hidden -> 1; the weights depend on the seed only, not on the activation.

    >>> net = deep_net("tanh")
    >>> len(net), net[1]
    (11, Activation('tanh'))
    >>> bool(np.array_equal(net[0].weight.data, deep_net("relu")[0].weight.data))
    True
    """
    rng = np.random.default_rng(seed)
    sizes = [2] + [WIDTH] * DEPTH + [1]
    modules = []
    for i, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = Linear(nin, nout, init="xavier", rng=rng)
        if i < DEPTH:
            linear.bias.data[:] = bias
            modules += [linear, Activation(activation)]
        else:
            modules.append(linear)
    return Sequential(*modules)


@dataclass
class DeepRun:
    """One training run: the monitor's history, the loss per step, and, per step and hidden layer,
    the fraction of units with z < 0 for every example (a ReLU's dead units)."""

    activation: str
    monitor: Monitor
    losses: list = field(default_factory=list)
    negative: list = field(default_factory=list)
    accuracy: float = math.nan


def _negative_sides(model, X):
    """Per hidden layer, the fraction of units with z < 0 for every row of X (one forward)."""
    found = []
    x = Value(X)
    with no_grad():
        for module in model:
            if isinstance(module, Activation):
                found.append(dead_fraction("relu", x))  # ReLU's slope 0 exactly where z < 0
            x = module(x)
    return found


def train_deep(activation, steps, X, y, *, optimizer="sgd", lr=0.5, bias=0.0, seed=0):
    """Train `deep_net` full-batch with the logistic loss, monitoring every step; a `DeepRun`."""
    model = deep_net(activation, seed, bias)
    opt = (SGD if optimizer == "sgd" else Adam)(model.parameters(), lr=lr)
    run = DeepRun(activation, Monitor(model))
    with run.monitor:
        for _ in range(steps):
            run.negative.append(_negative_sides(model, X))
            loss, _ = step(model, Value(X), y, logistic_loss, opt, run.monitor)
            run.losses.append(loss.item())
    run.negative.append(_negative_sides(model, X))  # after the last step
    with no_grad():
        run.accuracy = accuracy(model(Value(X)), y)
    return run


def experiment(quick=False, seed=0):
    """Both experiments: ({activation: DeepRun} for vanishing, {activation: DeepRun} for dead)."""
    from tinygrad_act.train import load_moons

    X, labels = load_moons(n_samples=POINTS, seed=seed)
    y = (labels > 0).astype(np.float64)
    steps = 100 if quick else 300
    vanishing = {a: train_deep(a, steps, X, y, seed=seed, **VANISHING) for a in LECTURE}
    dead = {a: train_deep(a, steps, X, y, seed=seed, **DEAD) for a in ("relu", "leaky_relu")}
    return vanishing, dead


# --------------------------------------------------------------------------------------------------
# The figure


def _column(history, key, layer):
    return np.array([step[layer][key] for step in history], dtype=float)


def _figure():
    fig = new_figure(5.6, 3.9)
    return fig, fig.subplots()


def _save(fig, ax, path):
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_png(fig, path)


def plot_gradients(vanishing, path):
    """The std of dL/da reaching each hidden layer at step 1, one line per activation, log axis."""
    fig, ax = _figure()
    layers = np.arange(1, DEPTH + 1)
    for name, run in vanishing.items():
        ax.plot(layers, [r["grad_std"] for r in run.monitor.history[0]], "o-", label=TITLES[name])
    ax.set_yscale("log")
    ax.set(xticks=layers, xlabel="hidden layer (1 = next to the input)",
           ylabel="std of dL/da at step 1", title="Gradient reaching each layer, same weights")  # fmt: skip
    return _save(fig, ax, path)


def plot_losses(runs, path, title, colors=None):
    """The loss per step of each run, with ln 2 (a network that says 1/2 for every point)."""
    fig, ax = _figure()
    for name, run in runs.items():
        ax.plot(np.arange(1, len(run.losses) + 1), run.losses, lw=1.4,
                color=(colors or {}).get(name), label=f"{TITLES[name]} ({run.accuracy:.0%} right)")  # fmt: skip
    ax.axhline(math.log(2), color="0.4", ls=":", lw=1, label="ln 2: 1/2 for every point")
    ax.set(xlabel="step", ylabel="loss", title=title)
    return _save(fig, ax, path)


def plot_negative(dead, path, colors):
    """The share of hidden units with z < 0 for every example, before each step."""
    fig, ax = _figure()
    for name, run in dead.items():
        share = np.array(run.negative).mean(axis=1) * 100
        ax.plot(np.arange(len(share)), share, lw=1.6, color=colors[name], label=TITLES[name])
    ax.set(xlabel="step", ylabel="% of hidden units", ylim=(-3, 103),
           title=f"Units with z < 0 for every example (biases start at {DEAD['bias']})")  # fmt: skip
    return _save(fig, ax, path)


# --------------------------------------------------------------------------------------------------
# The section


def _e(text):
    return html.escape(str(text), quote=True)


def _sci(x):
    return f"{x:.2g}" if x else "0"


def _pct(x):
    return f"{x:.0%}" if x == 0 or x >= 0.01 else f"{x:.1%}"


# Each column's name when the table stacks on a phone (its header cells are hidden there).
STACKED_LABELS = (
    "activation",
    "std of dL/da at step 1, layer 1",
    "std of dL/da at step 1, layer 5",
    "layer 1 / layer 5",
    "saturated, last step (worst layer)",
    "dead, last step (worst layer)",
    "final loss",
    "points right",
)


def _vanishing_rows(vanishing):
    rows = []
    for name, run in vanishing.items():
        first, last = run.monitor.history[0], run.monitor.history[-1]
        low, high = first[0]["grad_std"], first[-1]["grad_std"]
        saturated = max(r["saturated"] for r in last)
        rows.append(
            f"<tr><td>{_e(TITLES[name])}</td><td>{_sci(low)}</td><td>{_sci(high)}</td>"
            f"<td>{_sci(low / high)}</td><td>{_pct(saturated)}</td>"
            f"<td>{_pct(max(r['dead'] for r in last))}</td>"
            f"<td>{run.losses[-1]:.3f}</td><td>{run.accuracy:.0%}</td></tr>"
        )
    return "".join(rows)


def _vanishing_text(vanishing):
    sig = vanishing["sigmoid"]
    first = sig.monitor.history[0]
    low, high = first[0]["grad_std"], first[-1]["grad_std"]
    tanh = vanishing["tanh"].monitor.history[0]
    t_ratio = tanh[0]["grad_std"] / tanh[-1]["grad_std"]
    sat = max(r["saturated"] for step in sig.monitor.history for r in step)
    saturation = (
        "none of sigmoid's units is saturated at any step"
        if sat == 0
        else f"at most {_pct(sat)} of sigmoid's units are saturated at any step"
    )
    stuck = abs(sig.losses[-1] - math.log(2)) < 0.01
    best = min(vanishing, key=lambda n: vanishing[n].losses[-1])
    return (
        "<p>At the first step, with the same weights for all four, sigmoid's first hidden layer "
        f"receives a gradient of standard deviation {_sci(low)}, its last one {_sci(high)}: "
        f"{math.log10(high / low):.1f} orders of magnitude less next to the input. Each layer on "
        f"the way down multiplies the gradient by g'(z) = a(1-a), never more than "
        f"{peak_slope('sigmoid'):g}; with tanh, whose slope 1-a² reaches "
        f"{peak_slope('tanh'):g} at z = 0, the first layer gets {t_ratio:.2g} times what the "
        f"last one gets. Here {saturation}: the gradient shrinks because a(1-a) is small "
        "everywhere, not only at z = ±10. "
        + (
            f"After {len(sig.losses)} steps sigmoid's loss is still {sig.losses[-1]:.3f}, about "
            f"ln 2 = {math.log(2):.3f}, the loss of a network that says 1/2 for every point: "
            "its output has hardly moved from 0"
            if stuck
            else f"After {len(sig.losses)} steps sigmoid's loss is {sig.losses[-1]:.3f}"
        )
        + f"; {_e(TITLES[best])} reaches {vanishing[best].losses[-1]:.3f}.</p>\n"
    )


def _dead_text(dead):
    relu, leaky = dead["relu"], dead["leaky_relu"]
    start, r_end = np.mean(relu.negative[0]), np.mean(relu.negative[-1])
    l_start, l_end = np.mean(leaky.negative[0]), np.mean(leaky.negative[-1])
    first = relu.monitor.history[0]
    layers = [i + 1 for i, r in enumerate(first) if r["dead"] == 1.0]
    steps = len(relu.losses)
    same = np.allclose([r["dead"] for r in first], relu.negative[0])
    counted = " (the monitor's dead fraction for ReLU counts exactly these units)" if same else ""
    many = len(layers) > 1
    blocked = (
        f"In layer{'s' if many else ''} {', '.join(map(str, layers))} every unit is dead, so "
        f"below {'them' if many else 'it'} no gradient arrives at all: the first layer's "
        f"gradient has standard deviation {_sci(first[0]['grad_std'])}. "
        if layers
        else ""
    )
    slope = ACTIVATIONS["leaky_relu"].defaults["slope"]
    never = all(r["dead"] == 0 for step in leaky.monitor.history for r in step)
    return (
        f"<p>Every hidden bias starts at {DEAD['bias']}. With ReLU, {_pct(start)} of the hidden "
        f"units then have z &lt; 0 for all {POINTS} examples: slope 0, dead{counted}. "
        f"{blocked}After {steps} steps of Adam (lr {DEAD['lr']}) {_pct(r_end)} are dead and the "
        f"loss is {relu.losses[-1]:.3f}. Leaky ReLU starts from the same weights with "
        f"{_pct(l_start)} of its units on the negative side for every example, but its slope "
        f"there is {slope:g}, not 0, so they still receive gradient: after {steps} steps "
        f"{_pct(l_end)} {'are' if l_end != 1 else 'is'} left there, the loss is "
        f"{leaky.losses[-1]:.3f} and {leaky.accuracy:.0%} of the points are right."
        + (
            f" By the monitor's measure Leaky ReLU has no dead unit at any step: {slope:g} is "
            f"not below {leaky.monitor.threshold:.0%} of its peak slope "
            f"{peak_slope('leaky_relu'):g}."
            if never
            else ""
        )
        + "</p>\n"
    )


def _names(vanishing):
    names = [layer.name for layer in vanishing["sigmoid"].monitor.layers]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _negative_caption(dead):
    parts = [
        f"{TITLES[name]} {_pct(np.mean(run.negative[0]))} at the start, "
        f"{_pct(np.mean(run.negative[-1]))} after step {len(run.losses)}"
        for name, run in dead.items()
    ]
    return (
        "Units with z &lt; 0 for every example, over the hidden layers: " + "; ".join(parts) + "."
    )


def _figures(*items):
    return (
        '<div class="grid">'
        + "".join(
            f'<figure style="flex: 1 1 400px; max-width: 540px"><a href="{_e(path.name)}">'
            f"{_img(path.name, alt, 520)}</a>"
            f"<figcaption>{caption}</figcaption></figure>"
            for path, alt, caption in items
        )
        + "</div>\n"
    )


def section(out, quick=False, seed=0, number=5):
    """Run the experiments, write the figures into `out`, and return the section's HTML."""
    vanishing, dead = experiment(quick=quick, seed=seed)
    return render(out, vanishing, dead, number)


def render(out, vanishing, dead, number=5):
    """The section's HTML for the runs of `experiment`, with its figures written into `out`."""
    out = Path(out)
    colors = {"relu": "tab:green", "leaky_relu": "tab:red"}
    gradients = plot_gradients(vanishing, out / "slope-zero-gradients.png")
    losses = plot_losses(vanishing, out / "slope-zero-loss.png", f"Loss, SGD lr {VANISHING['lr']}")
    negative = plot_negative(dead, out / "slope-zero-dead.png", colors)
    dead_losses = plot_losses(dead, out / "slope-zero-dead-loss.png",
                              f"Loss, Adam lr {DEAD['lr']}, biases start at {DEAD['bias']}", colors)  # fmt: skip
    health = plot_health({TITLES[n]: r.monitor for n, r in vanishing.items()},
                         out / "slope-zero-health.png")  # fmt: skip
    steps = len(vanishing["sigmoid"].losses)
    return (
        f'<section id="slope-zero"><h2>{number}. When the slope is zero</h2>\n'
        f"<p>A deeper network: {DEPTH} hidden layers of {WIDTH} units on {POINTS} moons points, "
        "trained once per lecture activation from the same seed and the same Xavier-initialised "
        f"weights, full-batch SGD (lr {VANISHING['lr']}), {steps} steps. "
        "<code>tinygrad_act.health.Monitor</code> records every step: the gradient dL/da "
        "reaching each layer's outputs, and the share of units whose slope g'(z) is below "
        f"{vanishing['sigmoid'].monitor.threshold:.0%} of the activation's largest slope "
        "(saturated; dead when that holds for every example).</p>\n"
        + _vanishing_text(vanishing)
        + '<div style="overflow-x: auto"><table class="stack"><thead><tr><th>activation</th>'
        "<th>std of dL/da at step 1: layer 1</th><th>layer 5</th><th>layer 1 / layer 5</th>"
        "<th>saturated, last step (worst layer)</th><th>dead, last step (worst layer)</th>"
        "<th>final loss</th><th>points right</th></tr></thead>"
        f"<tbody>{_vanishing_rows(vanishing)}</tbody></table></div>\n"
        + _figures(
            (
                gradients,
                "gradient per layer, log axis",
                "The gradient each layer receives at step "
                "1 (log axis): every layer on the way down multiplies it by g'(z).",
            ),
            (losses, "loss per step", "The loss of each run."),
        )  # fmt: skip
        + "<h3>Dead ReLUs, and Leaky ReLU's 0.01</h3>\n"
        + _dead_text(dead)
        + _figures(
            (
                negative,
                "units on the negative side",
                _negative_caption(dead),
            ),
            (dead_losses, "loss per step, negative biases", "The loss of the two runs."),
        )  # fmt: skip
        + "<h3>What the monitor shows for each activation</h3>\n"
        "<p>What <code>tinygrad-act train --health</code> draws, here for the four SGD runs "
        "above: histograms of the activations and of their gradients per layer (last step), the "
        "saturated share per layer over training, and log10 of each layer's update:data ratio "
        "against the -3 guide. The monitor names each layer by its place in the "
        f"<code>Sequential</code>: {_names(vanishing)} are hidden layers 1 to {DEPTH}. "
        "Click to enlarge.</p>\n"
        f'<figure class="health-grid"><a href="{_e(health.name)}">'
        f"{_img(health.name, 'activation health of the four runs', 1000)}</a>"
        '<figcaption class="phone-only">One column per activation: scroll sideways.'
        "</figcaption></figure>"
        "</section>"
    )


def _img(src, alt, width):
    return f'<img src="{_e(src)}" alt="{_e(alt)}" width="{width}">'
