"""Training runs on two small datasets, with a progress bar and plots of what happened.

- moons: scikit-learn's ``make_moons`` (100 points, noise 0.1) and micrograd's demo network, the
  scalar ``MLP(2, [16, 16, 1])``, trained by its recipe: SVM max-margin loss plus an L2 penalty,
  full-batch SGD with the learning rate decaying from 1.0 to 0.1.
- digits: scikit-learn's bundled 8x8 digits (no download), a tensor MLP 64-128-10 trained with
  softmax cross-entropy and Adam on a stratified train/test split.

`compare_activations` trains the same network from the same seed once per activation and records
the mean gradient magnitude of each layer at every step: where g'(z) is near 0, the gradients
reaching the early layers shrink and learning stalls, which is the lecture's point.

Every run compiles its step by default (`tinygrad_act.training.CompiledStep`: the forward and
backward traced once, then run as generated code, with the graph's numbers bit for bit);
``compile=False`` builds the graph at every step. A run with ``health=True`` takes its steps on
the graph, which the health monitor reads.

scikit-learn, matplotlib and tqdm are imported inside the functions that need them, so importing
``tinygrad_act`` does not pull them in.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinygrad_act.activations import LECTURE
from tinygrad_act.engine import Value, no_grad
from tinygrad_act.figures import new_figure, save_png
from tinygrad_act.health import Monitor, plot_health
from tinygrad_act.nn import MLP, SGD, Adam, Linear, cross_entropy, l2_penalty, mlp, svm_hinge_loss
from tinygrad_act.settings import DEFAULT_EPOCHS, check
from tinygrad_act.training import (
    CompiledStep,
    accuracy,
    boundary_grid,
    one_blas_thread,
    plane,
    right,
    step,
)


@dataclass
class Run:
    """What one training run did: per-step loss, accuracy and mean |grad| of each layer."""

    dataset: str
    activation: str
    seed: int
    model: object = None
    losses: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)
    grad_magnitudes: list = field(default_factory=list)  # one row per step, one entry per layer
    train_accuracy: float = float("nan")
    test_accuracy: float | None = None
    seconds: float = 0.0
    interrupted: bool = False
    data: tuple = ()  # (X, y) the model was trained on, for the decision boundary
    health: Monitor | None = None  # with health=True: what the monitor recorded at every step
    compiled: bool = False  # the steps ran as generated code (a CompiledStep), not on the graph
    uncompiled_because: str | None = None  # why a run asked to compile took the graph instead

    @property
    def steps(self):
        return len(self.losses)

    @property
    def steps_per_second(self):
        """Training steps a second over the whole run (a compiled run's tracing included)."""
        return self.steps / self.seconds if self.seconds > 0 else float("nan")

    def note_compiled(self, compiled):
        """Record how the steps ran: `compiled` is the run's CompiledStep, or None."""
        self.compiled = compiled is not None and compiled.compiling
        self.uncompiled_because = None if compiled is None else compiled.uncompiled_because


# --------------------------------------------------------------------------------------------------
# Stopping cleanly on Ctrl-C


class _StopFlag:
    def __init__(self):
        self._set = False

    def set(self):
        self._set = True

    def __call__(self):
        return self._set


@contextmanager
def stop_on_interrupt():
    """Within the block, the first Ctrl-C only sets the yielded flag (the loop stops after its step);
    a second one interrupts at once. Outside the main thread no handler is installed.

    >>> with stop_on_interrupt() as stop:
    ...     stop()
    False
    """
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag():
            raise KeyboardInterrupt
        flag.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------------------------------
# Data


def load_moons(n_samples=100, noise=0.1, seed=0):
    """micrograd's demo data: two interleaved half circles, labels -1 and +1.

    >>> X, y = load_moons()
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [-1, 1])
    """
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return X, y * 2 - 1


def load_digits_split(seed=0, test_size=0.2):
    """scikit-learn's bundled 8x8 digits, pixels scaled to [0, 1], split stratified by class.

    >>> X_train, X_test, y_train, y_test = load_digits_split()
    >>> X_train.shape, X_test.shape
    ((1437, 64), (360, 64))
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data / 16.0
    return train_test_split(
        X, digits.target, test_size=test_size, random_state=seed, stratify=digits.target
    )


# --------------------------------------------------------------------------------------------------
# Training loops


def check_settings(dataset, activation, epochs, seed=0):
    """Refuse, by name, what a training run cannot take: before any data is loaded or folder made.
    Returns the settings as the run takes them; the messages are `tinygrad_act.settings.check`'s.

    >>> check_settings("moons", "tanh", 0)
    Traceback (most recent call last):
    ...
    tinygrad_act.settings.SettingError: epochs must be a whole number from 1 to 100000, got 0
    """
    return (
        check("dataset", dataset),
        check("activation", activation),
        check("epochs", epochs),
        check("seed", seed),
    )


def _progress(total, desc, enabled):
    """A tqdm bar on a terminal; on anything else (a log file, a pipe) a few plain lines, since
    tqdm's redrawn bar would be thousands of updates in one line of the log."""
    if enabled and not _is_terminal(sys.stderr):
        return _LineProgress(total, desc, unit="epoch")
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="epoch", disable=not enabled, leave=True, mininterval=0.2
    )


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _LineProgress:
    """tqdm's calls (``update``, ``set_postfix``), printed as one line at the start (as tqdm's bar
    shows 0/N at once), at the first step, at every tenth of the run, at least every `QUIET_SECONDS`
    and at the end: ``moons relu: 10/100 epochs, loss=0.3312, acc=88%``."""

    QUIET_SECONDS = 30  # a long run's tenths are far apart: the log still says it is alive

    def __init__(self, total, desc, unit):
        self.total, self.desc, self.unit = total, desc, unit
        self.n, self.postfix, self.shown = 0, {}, 0
        self.every = max(1, total // 10)
        self.last = time.monotonic()

    def __enter__(self):
        self._line()
        return self

    def __exit__(self, *exc):
        if self.n != self.shown:  # stopped between two lines: say where
            self._line()

    def set_postfix(self, **values):
        self.postfix = values

    def update(self, n=1):
        self.n += n
        quiet = time.monotonic() - self.last >= self.QUIET_SECONDS
        if self.n == 1 or self.n % self.every == 0 or self.n == self.total or quiet:
            self._line()

    def _line(self):
        values = "".join(f", {k}={v}" for k, v in self.postfix.items())
        print(
            f"{self.desc}: {self.n}/{self.total} {self.unit}s{values}", file=sys.stderr, flush=True
        )
        self.shown, self.last = self.n, time.monotonic()


def _layer_magnitudes(layers):
    out = []
    for params in layers:
        # A scalar's |grad| without a trip through numpy: the same number, several times faster
        # (the moons network has 337 scalar weights: through numpy, a sixth of a compiled run).
        total = sum(
            abs(g) if type(g := p.grad) is float else float(np.abs(g).sum()) for p in params
        )
        out.append(total / sum(p.size for p in params))
    return out


def moons_scores(model, X):
    """The scalar MLP's scores for every row of X, in one pass (each input column as a tensor)."""
    return model(_columns(X))


def _columns(X):
    return [Value(X[:, 0]), Value(X[:, 1])]


def train_moons(
    activation="relu",
    epochs=100,
    seed=0,
    *,
    per_point=False,
    progress=True,
    stop=None,
    alpha=1e-4,
    health=False,
    compile=True,
):
    """Train micrograd's demo network on the moons; returns a `Run`.

    The scalar MLP sees the whole batch at once: each input column is a tensor and every weight a
    scalar `Value`, so the graph has one node per weight-op instead of one per weight-op per point.
    ``per_point=True`` builds micrograd's graph literally (one scalar forward per point); both give
    the same numbers up to float rounding, the batched one about 50 times faster on the graph.
    With `compile` (the default) the step runs as generated code unless `health` watches it.

    >>> run = train_moons(epochs=3, progress=False)
    >>> run.steps, len(run.grad_magnitudes[0])
    (3, 3)
    """
    _, activation, epochs, seed = check_settings("moons", activation, epochs, seed)
    compile = check("compile", compile)
    X, y = load_moons(seed=seed)
    model = MLP(2, [16, 16, 1], activation=activation, rng=random.Random(seed))
    params = model.parameters()
    layers = [layer.parameters() for layer in model.layers]
    opt = SGD(params, lr=1.0)
    run = Run("moons", activation, seed, model=model, data=(X, y))
    monitor = run.health = Monitor(model) if health else None

    def per_point_scores(points):  # micrograd's graph, literally: one scalar forward per point
        return [model(point) for point in points]

    def loss_fn(scores, labels):
        return svm_hinge_loss(scores, labels) + l2_penalty(params, alpha)

    if per_point:  # each point a list of scalar Values, data that needs no gradient
        points = [[Value(x, requires_grad=False) for x in row] for row in X.tolist()]
        forward, inputs = per_point_scores, points
    else:
        forward, inputs = model, _columns(X)
    compiled = CompiledStep(forward, loss_fn) if compile and monitor is None else None
    start = time.perf_counter()
    with _progress(epochs, f"moons {activation}", progress) as bar:
        for k in range(epochs):
            opt.lr = 1.0 - 0.9 * k / epochs  # micrograd's schedule: 1.0 down to 0.1
            loss, scores = step(forward, inputs, y, loss_fn, opt, monitor, compiled)
            run.losses.append(float(loss.data))
            run.accuracies.append(accuracy(scores, y))
            run.grad_magnitudes.append(_layer_magnitudes(layers))
            bar.set_postfix(loss=f"{run.losses[-1]:.4f}", acc=f"{run.accuracies[-1]:.0%}")
            bar.update()
            if stop is not None and stop():
                run.interrupted = True
                break
    run.seconds = time.perf_counter() - start
    run.note_compiled(compiled)
    if monitor is not None:
        monitor.remove()
    run.train_accuracy = moons_accuracy(model, X, y)
    return run


def moons_accuracy(model, X, y):
    """Share of points on the right side of the model's decision boundary."""
    with no_grad():
        return accuracy(moons_scores(model, X), y)


def train_digits(
    activation="relu",
    epochs=20,
    seed=0,
    *,
    hidden=128,
    batch_size=64,
    lr=3e-3,
    progress=True,
    stop=None,
    health=False,
    compile=True,
):
    """Train a 64-`hidden`-10 tensor MLP on the digits with Adam; returns a `Run` with test accuracy.
    With `compile` (the default) the step runs as generated code unless `health` watches it; the
    last smaller batch of an epoch has a program of its own.

    >>> run = train_digits(epochs=1, progress=False)
    >>> run.test_accuracy > 0.8
    True
    """
    _, activation, epochs, seed = check_settings("digits", activation, epochs, seed)
    compile = check("compile", compile)
    hidden, batch_size, lr = (
        check("hidden", hidden),
        check("batch_size", batch_size),
        check("lr", lr),
    )
    X_train, X_test, y_train, y_test = load_digits_split(seed=seed)
    rng = np.random.default_rng(seed)
    model = mlp([64, hidden, 10], activation, rng=rng)
    opt = Adam(model.parameters(), lr=lr)
    layers = [m.parameters() for m in model if isinstance(m, Linear)]
    run = Run("digits", activation, seed, model=model, data=(X_train, y_train))
    monitor = run.health = Monitor(model) if health else None
    compiled = CompiledStep(model, cross_entropy) if compile and monitor is None else None
    n = len(X_train)
    start = time.perf_counter()
    with _progress(epochs, f"digits {activation}", progress) as bar, one_blas_thread():
        for _ in range(epochs):
            order = rng.permutation(n)
            correct = 0
            for i in range(0, n, batch_size):
                batch = order[i : i + batch_size]
                y = y_train[batch]
                loss, logits = step(
                    model, Value(X_train[batch]), y, cross_entropy, opt, monitor, compiled
                )
                correct += int(right(logits, y).sum())
                run.losses.append(loss.item())
                run.grad_magnitudes.append(_layer_magnitudes(layers))
                if stop is not None and stop():
                    run.interrupted = True
                    break
            run.accuracies.append(correct / n)
            bar.set_postfix(loss=f"{run.losses[-1]:.4f}", acc=f"{run.accuracies[-1]:.1%}")
            bar.update()
            if run.interrupted:
                break
    run.seconds = time.perf_counter() - start
    run.note_compiled(compiled)
    if monitor is not None:
        monitor.remove()
    run.train_accuracy = digits_accuracy(model, X_train, y_train)
    run.test_accuracy = digits_accuracy(model, X_test, y_test)
    return run


def digits_accuracy(model, X, y):
    """Share of digits whose largest logit is the right class."""
    with no_grad():
        return accuracy(model(Value(X)), y)


def train(dataset, activation="relu", epochs=None, seed=0, *, compile=True, **kwargs):
    """Train on `dataset` ("moons" or "digits") with its default number of epochs unless given;
    the step compiled unless ``compile=False`` (or ``health=True``, which needs the graph)."""
    dataset = check("dataset", dataset)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    loop = train_moons if dataset == "moons" else train_digits
    return loop(activation, epochs, seed, compile=compile, **kwargs)


def compare_activations(
    dataset,
    names=LECTURE,
    epochs=None,
    seed=0,
    *,
    progress=True,
    stop=None,
    health=False,
    compile=True,
):
    """The same network from the same seed, once per activation; returns {name: Run}.

    After a stop request the remaining activations are skipped.
    """
    for name in names:
        check_settings(
            dataset, name, DEFAULT_EPOCHS.get(dataset, 1) if epochs is None else epochs, seed
        )
    runs = {}
    for name in names:
        runs[name] = train(
            dataset,
            name,
            epochs,
            seed,
            progress=progress,
            stop=stop,
            health=health,
            compile=compile,
        )
        if runs[name].interrupted:
            break
    return runs


# --------------------------------------------------------------------------------------------------
# Plots (matplotlib's object API on the Agg canvas: no pyplot state, no display needed)


def _save(fig, path):
    return save_png(fig, path, dpi=150)  # dpi 150: sharp on high-density screens


def plot_run(run, path):
    """Loss and training accuracy of one run, as a PNG, both against the same unit.

    moons trains full-batch, so a step is an epoch and both panels count steps; digits records a
    loss per mini-batch and an accuracy per epoch, so both panels count epochs.
    """
    fig = new_figure(9, 3.4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    if run.dataset == "digits":
        per_epoch = run.steps / max(1, len(run.accuracies))
        loss_x, unit = np.arange(1, run.steps + 1) / per_epoch, "epoch"
    else:
        loss_x, unit = np.arange(1, run.steps + 1), "step"
    ax_loss.plot(loss_x, run.losses, color="tab:blue")
    ax_loss.set(xlabel=unit, ylabel="loss", title=f"{run.dataset}, {run.activation}: loss")
    if run.dataset == "digits":
        ax_loss.set_yscale("log")
    ax_acc.plot(np.arange(1, len(run.accuracies) + 1), run.accuracies, color="tab:green")
    ax_acc.set(
        xlabel=unit,
        ylabel="training accuracy",
        ylim=(0, 1.02),
        title=f"final train {run.train_accuracy:.1%}"
        + (f", test {run.test_accuracy:.1%}" if run.test_accuracy is not None else ""),
    )
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_decision_boundary(model, X, y, path, resolution=200):
    """The scalar moons model's decision regions with the training points, as a PNG."""
    xx, yy, points = boundary_grid(plane(X), resolution)
    with no_grad():
        scores = moons_scores(model, points).data.reshape(xx.shape)
    fig = new_figure(5, 4.2)
    ax = fig.subplots()
    ax.contourf(xx, yy, scores > 0, levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6dbef"])
    ax.contour(xx, yy, scores, levels=[0.0], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm_r", s=22, edgecolors="k", linewidths=0.5)
    ax.set(
        title=f"decision boundary ({moons_accuracy(model, X, y):.0%} of training points right)",
        xlabel="x1",
        ylabel="x2",
    )
    return _save(fig, path)


def plot_comparison(runs, path):
    """Loss curves of every run together, then one panel per layer with its mean |grad| per step."""
    runs = {name: run for name, run in runs.items() if run.steps}
    n_layers = max(len(run.grad_magnitudes[0]) for run in runs.values())
    cols = min(2, 1 + n_layers)
    rows = -(-(1 + n_layers) // cols)
    fig = new_figure(5 * cols, 3.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    ax_loss = axes[0]
    dataset = next(iter(runs.values())).dataset
    for name, run in runs.items():
        steps = np.arange(1, run.steps + 1)
        (line,) = ax_loss.plot(steps, run.losses, label=f"{name} ({run.train_accuracy:.0%})")
        grads = np.array(run.grad_magnitudes)
        for layer in range(grads.shape[1]):
            axes[1 + layer].plot(steps, grads[:, layer], color=line.get_color(), label=name)
    ax_loss.set(xlabel="step", ylabel="loss", title=f"{dataset}: loss by activation (train acc.)")
    ax_loss.set_yscale("log")
    ax_loss.legend(fontsize=8)
    for layer in range(n_layers):
        ax = axes[1 + layer]
        last = " (output)" if layer == n_layers - 1 else ""
        ax.set(xlabel="step", ylabel="mean |grad|", title=f"layer {layer + 1}{last}: gradient size")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    for ax in axes[: 1 + n_layers]:
        ax.grid(alpha=0.3, which="both")
    for ax in axes[1 + n_layers :]:
        ax.set_visible(False)
    return _save(fig, path)


# --------------------------------------------------------------------------------------------------
# What `tinygrad-act train` does


@dataclass
class Outcome:
    """The runs of one `run` call, the files it wrote, and whether Ctrl-C stopped it."""

    main: Run
    runs: dict
    paths: list
    interrupted: bool


def run(
    dataset="moons",
    activation=None,
    epochs=None,
    seed=0,
    out="train-out",
    compare=False,
    progress=True,
    health=False,
    compile=True,
):
    """Train (and with `compare`, train once per lecture activation too), then write the plots.

    The main run uses `activation` (relu by default); the comparison trains every lecture activation
    plus that one from the same seed. Ctrl-C stops after the current step; plots of what was done
    are still written and ``Outcome.interrupted`` is set. With `health`, every step is
    recorded by a `health.Monitor` (on the graph) and ``health.png`` shows each run's activation
    health. `compile` compiles the steps (see `train`).
    """
    activation = activation or "relu"
    epochs = DEFAULT_EPOCHS.get(dataset, 1) if epochs is None else epochs
    check_settings(dataset, activation, epochs, seed)
    out = Path(out)
    with stop_on_interrupt() as stop:
        if compare:
            names = list(LECTURE) + ([activation] if activation not in LECTURE else [])
            runs = compare_activations(
                dataset,
                names,
                epochs,
                seed,
                progress=progress,
                stop=stop,
                health=health,
                compile=compile,
            )
            main = runs.get(activation) or next(reversed(runs.values()))
        else:
            main = train(
                dataset,
                activation,
                epochs,
                seed,
                progress=progress,
                stop=stop,
                health=health,
                compile=compile,
            )
            runs = {activation: main}
        interrupted = stop()
    paths = []
    if main.steps:
        paths.append(plot_run(main, out / f"{dataset}-loss.png"))
        if dataset == "moons":
            X, y = main.data
            paths.append(plot_decision_boundary(main.model, X, y, out / "moons-boundary.png"))
    if compare and any(r.steps for r in runs.values()):
        paths.append(plot_comparison(runs, out / f"{dataset}-compare.png"))
    monitors = {name: r.health for name, r in runs.items() if r.health and r.health.history}
    if monitors:
        paths.append(plot_health(monitors, out / "health.png"))
    return Outcome(main, runs, paths, interrupted)
