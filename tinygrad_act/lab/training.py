"""Live training runs: one or two networks on the same data from the same seed, a step at a time.

Each network is a tensor MLP (`tinygrad_act.nn.mlp`) trained by full-batch gradient descent
(`SGD` at a constant learning rate): moons with binary cross-entropy on one logit, digits with
softmax cross-entropy on ten. Every step records the loss and the accuracy; a snapshot adds the
decision boundary (moons) and the activation health of every hidden layer (`tinygrad_act.health`).

The steps run compiled (`tinygrad_act.training.CompiledStep`) unless the settings say
``compile=False``. Health needs the graph (each layer's z, a and dL/da), which a compiled step
never builds, and the page shows it for the latest step only: so a snapshot measures it by
taking the latest step's forward and backward again on the graph, from the weights that step
started from, with a `Monitor` watching. Its numbers are those the step itself would have
recorded, compiled or not, and the steps the page never shows the health of pay nothing for it.

>>> run = Run(Settings(depth=2, width=8, activations=("sigmoid", "relu")))
>>> run.advance(max_steps=3)
3
>>> [len(net.losses) for net in run.networks]
[3, 3]
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from tinygrad_act import Value, no_grad
from tinygrad_act.health import Monitor
from tinygrad_act.lab import limits
from tinygrad_act.nn import SGD, cross_entropy, mlp
from tinygrad_act.settings import FIELDS, SettingError, check
from tinygrad_act.training import (
    CompiledStep,
    accuracy,
    boundary_grid,
    graph_pass,
    logistic_loss,
    plane,
)
from tinygrad_act.training import step as training_step


@dataclass(frozen=True)
class Settings:
    """What a teacher picks: the data, the network's size, one activation per network, the rate,
    and whether the steps run compiled.

    Each is checked on creation by the library's `tinygrad_act.settings.check`, whose message
    names the field and what it accepts; only the number of networks is the lab's own bound.

    >>> Settings(width=2.5)
    Traceback (most recent call last):
    ...
    tinygrad_act.settings.SettingError: width must be a whole number from 1 to 32, got 2.5
    """

    dataset: str = "moons"
    depth: int = 3  # hidden layers
    width: int = 16  # units per hidden layer
    activations: tuple = ("sigmoid", "relu")
    lr: float = 0.3
    seed: int = 0
    compile: bool = True  # the steps as generated code (tinygrad_act.compile), or on the graph

    def __post_init__(self):
        for name in ("dataset", "depth", "width", "lr", "seed", "compile"):
            object.__setattr__(self, name, check(name, getattr(self, name)))
        names = self.activations
        if not isinstance(names, (list, tuple)) or not 1 <= len(names) <= limits.MAX_NETWORKS:
            raise SettingError(
                "activations", f"a list of 1 to {limits.MAX_NETWORKS} entries", names
            )
        checked = [FIELDS["activation"].check(f"activations[{i}]", a) for i, a in enumerate(names)]
        object.__setattr__(self, "activations", tuple(checked))

    def as_dict(self):
        out = asdict(self)
        out["activations"] = list(self.activations)
        return out


class Data:
    """The training set (and for digits the test set), loaded once per run, as float64 arrays."""

    def __init__(self, dataset, seed):
        from tinygrad_act.train import load_digits_split, load_moons

        self.dataset = dataset
        if dataset == "moons":
            X, y = load_moons(seed=seed)
            self.X, self.y = X, (y > 0).astype(np.int64)  # labels 0 and 1
            self.X_test = self.y_test = None
            self.inputs, self.outputs = 2, 1
            self.extent = plane(X)
        else:
            self.X, self.X_test, self.y, self.y_test = load_digits_split(seed=seed)
            self.inputs, self.outputs = 64, 10
            self.extent = None
        self.loss_fn = logistic_loss if dataset == "moons" else cross_entropy

    def points(self):
        """The moons as [x1, x2, label] rows for the scatter plot (none for 64-pixel digits)."""
        if self.dataset != "moons":
            return None
        return [[float(a), float(b), int(c)] for (a, b), c in zip(self.X, self.y, strict=True)]


class Network:
    """One MLP with its optimizer, its compiled step, and the curves of its run so far."""

    def __init__(self, settings, activation, data):
        self.activation = activation
        self.data = data
        sizes = [data.inputs] + [settings.width] * settings.depth + [data.outputs]
        self.model = mlp(sizes, activation, rng=settings.seed)
        self.params = self.model.parameters()
        self.optimizer = SGD(self.params, lr=settings.lr)
        self.compiled = CompiledStep(self.model, data.loss_fn) if settings.compile else None
        self.started_from = None  # the weights the latest step started from, for its health
        self._health = (0, [])  # (the step it was measured at, the rows)
        self.losses, self.accuracies = [], []
        self.diverged = False

    def step(self):
        """One full-batch step: forward, loss, backward, update the weights."""
        with np.errstate(all="ignore"):  # a diverging run gives inf and nan: it is then stopped
            self._step()

    def _step(self):
        data = self.data
        if self.started_from is None:
            self.started_from = [p.data.copy() for p in self.params]
        else:
            for kept, p in zip(self.started_from, self.params, strict=True):
                np.copyto(kept, p.data)
        loss, logits = training_step(
            self.model, Value(data.X), data.y, data.loss_fn, self.optimizer, compiled=self.compiled
        )
        value = loss.item()
        self.losses.append(value)
        self.accuracies.append(accuracy(logits, data.y))
        self.diverged = not math.isfinite(value)

    def test_accuracy(self):
        if self.data.X_test is None:
            return None
        with no_grad(), np.errstate(all="ignore"):
            return accuracy(self.model(Value(self.data.X_test)), self.data.y_test)

    def boundary(self):
        """P(class 1) on a grid over the moons, as whole percents row by row (y from the top)."""
        if self.data.extent is None:
            return None
        n = limits.BOUNDARY_GRID
        _, _, grid = boundary_grid(self.data.extent, n, top_down=True)
        with no_grad(), np.errstate(all="ignore"):
            p = self.model(Value(grid)).reshape(-1).sigmoid().data
        return {"size": n, "percent": np.nan_to_num(np.round(100 * p)).astype(int).tolist()}

    def health(self):
        """Per hidden layer at the latest step: saturated and dead fractions and the gradient size
        dL/da (log10 too), measured once per step that asks for them."""
        if self._health[0] != len(self.losses):
            self._health = (len(self.losses), self._measure_health())
        return self._health[1]

    def _measure_health(self):
        """The latest step's forward and backward again, on the graph from the weights it started
        from, with a Monitor watching; the weights are then put back as they are now."""
        now = [p.data.copy() for p in self.params]
        try:
            for p, before in zip(self.params, self.started_from, strict=True):
                np.copyto(p.data, before)
            with Monitor(self.model) as monitor, np.errstate(all="ignore"):
                data = self.data
                graph_pass(self.model, Value(data.X), data.y, data.loss_fn, self.optimizer, monitor)
        finally:
            for p, current in zip(self.params, now, strict=True):
                np.copyto(p.data, current)
        rows = []
        for k, row in enumerate(monitor.report(), 1):
            grad = row["grad_std"]
            rows.append(
                {
                    "layer": f"hidden {k}",
                    "activation": row["activation"],
                    "saturated": _finite(row["saturated"]),
                    "dead": _finite(row["dead"]),
                    "grad": _finite(grad),
                    "log10_grad": math.log10(grad) if _finite(grad) and grad > 0 else None,
                }
            )
        return rows

    def snapshot(self, since):
        """The curves from step `since` on, and the boundary and health of now."""
        return {
            "activation": self.activation,
            "from": since,
            "losses": [_finite(v) for v in self.losses[since:]],
            "accuracies": self.accuracies[since:],
            "test_accuracy": self.test_accuracy(),
            "boundary": self.boundary(),
            "health": self.health(),
        }


class Run:
    """The networks of one session, trained in lockstep; bounded in steps and compute time."""

    def __init__(self, settings):
        self.settings = settings
        self.data = Data(settings.dataset, settings.seed)
        self.networks = [Network(settings, a, self.data) for a in settings.activations]
        self.steps = 0
        self.seconds = 0.0

    @property
    def finished(self):
        """Why the run can go no further (a step or time limit, a diverged loss), or None."""
        if self.steps >= limits.MAX_STEPS:
            return f"reached the limit of {limits.MAX_STEPS} steps; reset to train again"
        if self.seconds >= limits.MAX_RUN_SECONDS:
            return f"reached the limit of {limits.MAX_RUN_SECONDS:g} s of training; reset to train again"
        if all(net.diverged for net in self.networks):
            return "the loss is no longer a number: the learning rate is too large; reset with a smaller one"
        return None

    def advance(self, max_steps, budget_seconds=math.inf):
        """Train up to `max_steps` steps, within `budget_seconds` and the run's limits; returns
        the number of steps made."""
        start = time.perf_counter()
        done = 0
        while done < max_steps and self.finished is None:
            began = time.perf_counter()
            for net in self.networks:
                if not net.diverged:
                    net.step()
            self.seconds += time.perf_counter() - began
            done += 1
            self.steps += 1
            if time.perf_counter() - start >= budget_seconds:
                break
        return done

    def snapshot(self, since=0):
        """What the page needs to draw the run, with the curves from step `since` on."""
        return {
            "settings": self.settings.as_dict(),
            "step": self.steps,
            "max_steps": limits.MAX_STEPS,
            "finished": self.finished,
            "extent": self.data.extent,
            "points": self.data.points() if since == 0 else None,
            "networks": [net.snapshot(since) for net in self.networks],
        }


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None
