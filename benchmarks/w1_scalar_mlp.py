"""W1: micrograd's own demo step: MLP(2, [16, 16, 1]) over 100 moons points, SVM hinge loss + L2.

One forward (every point through the net, the loss) and one backward, as micrograd's demo notebook
does it. The same model code runs on both engines, so both build the same graph (~65k nodes).
"""

from __future__ import annotations

import random

from benchmarks.data import moons
from benchmarks.harness import Case, Row, fmt_time, paired_ratio, verdict
from benchmarks.machine import peer

NAME = "W1"
TARGETS = {"gc on": 5.0, "gc off": 1.5}  # micrograd time / tinygrad_act time, at least


class Neuron:
    """micrograd.nn.Neuron, for any Value class: sum(w_i x_i) + b, ReLU unless it is the last layer."""

    def __init__(self, value, nin, nonlin=True):
        self.w = [value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class MLP:
    """micrograd.nn.MLP for any Value class."""

    def __init__(self, value, nin, nouts):
        sizes = [nin] + list(nouts)
        last = len(nouts) - 1
        self.layers = [
            [Neuron(value, sizes[i], nonlin=i != last) for _ in range(sizes[i + 1])]
            for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            out = [n(x) for n in layer]
            x = out[0] if len(out) == 1 else out
        return x

    def parameters(self):
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def tinygrad_model():
    """tinygrad_act.nn.MLP when that module exists with micrograd's signature, else the local port."""
    from tinygrad_act import Value

    random.seed(0)
    try:
        from tinygrad_act import nn

        try:
            model = nn.MLP(2, [16, 16, 1], rng=random.Random(0))
        except TypeError:
            model = nn.MLP(2, [16, 16, 1])
        out = model([Value(0.5), Value(-0.5)])
        if not isinstance(out, Value) or not callable(getattr(model, "parameters", None)):
            raise TypeError("tinygrad_act.nn.MLP does not follow micrograd's interface")
        return model, Value, "tinygrad_act.nn.MLP"
    except (ImportError, AttributeError, TypeError):
        random.seed(0)
        return MLP(Value, 2, [16, 16, 1]), Value, "local scalar MLP on tinygrad_act.Value"


def micrograd_model():
    from micrograd.engine import Value
    from micrograd.nn import MLP as MicroMLP

    random.seed(0)
    return MicroMLP(2, [16, 16, 1]), Value


def demo_loss(model, value):
    """The demo notebook's loss(): the max-margin loss over 100 moons plus L2, one scalar graph."""
    X, y = moons(100)
    rows, labels = X.tolist(), y.tolist()
    params = model.parameters()

    def loss():
        inputs = [list(map(value, row)) for row in rows]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(labels, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in params)
        return data_loss + reg_loss

    return loss


def make_step(model, value):
    """The demo notebook's loss() + zero_grad() + backward(), as one callable."""
    loss = demo_loss(model, value)
    params = model.parameters()

    def step():
        total = loss()
        for p in params:
            p.grad = 0.0
        total.backward()
        return total

    return step


TRACE_SECONDS = {}  # the compiled case's trace and code generation, measured in its setup
COMPILED_TARGET = 3.0  # graph step / compiled step, at least
PAYBACK_TARGET = 50  # steps for the trace to pay for itself, at most


def make_compiled_step(model, value):
    """The same step through `tinygrad_act.compile`: traced once (in the untimed setup), then the
    generated code; zero_grad + the compiled call, as the graph step's zero_grad + backward."""
    import time

    from tinygrad_act import compile

    params = model.parameters()
    compiled = compile(demo_loss(model, value))
    start = time.perf_counter()
    compiled.trace()
    TRACE_SECONDS[NAME] = time.perf_counter() - start

    def step():
        for p in params:
            p.grad = 0.0
        return compiled()

    return step


def count_nodes(root):
    """Nodes of a graph by an iterative walk over _prev (works for both engines)."""
    seen, stack = {id(root)}, [root]
    while stack:
        for p in stack.pop()._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def cases(quick):
    out = []
    engines = [("tinygrad_act", lambda: make_step(*tinygrad_model()[:2]))]
    engines.append(("tinygrad_act-compiled", lambda: make_compiled_step(*tinygrad_model()[:2])))
    if peer("micrograd") is not None:
        engines.append(("micrograd", lambda: make_step(*micrograd_model())))
    for cell, gc_off in (("gc on", False), ("gc off", True)):
        for engine, setup in engines:
            out.append(Case(NAME, cell, engine, setup, gc_off=gc_off))
    return out


def notes():
    model, value, kind = tinygrad_model()
    lines = [
        f"W1 tinygrad_act model: {kind}; graph of one step: {count_nodes(make_step(model, value)())} nodes"
    ]
    if peer("micrograd") is None:
        lines.append("W1 micrograd not installed: no ratio")
    else:
        lines.append(
            f"W1 micrograd graph of one step: {count_nodes(make_step(*micrograd_model())())} nodes"
        )
    return lines


def report(results):
    rows = []
    for cell, target in TARGETS.items():
        ours = results.get((NAME, cell, "tinygrad_act"))
        theirs = results.get((NAME, cell, "micrograd"))
        if ours is not None:
            rows.append(
                Row(
                    NAME,
                    cell,
                    "tinygrad_act",
                    fmt_time(ours.median) if ours.samples else ours.error,
                )
            )
        compiled = results.get((NAME, cell, "tinygrad_act-compiled"))
        if compiled is not None and compiled.samples and ours is not None and ours.samples:
            ratio = paired_ratio(ours, compiled)
            rows.append(
                Row(NAME, cell, "tinygrad_act-compiled", fmt_time(compiled.median),
                    f"graph/compiled = {ratio:.2f}x", f">= {COMPILED_TARGET:g}x",
                    verdict(ratio >= COMPILED_TARGET))
            )  # fmt: skip
            if NAME in TRACE_SECONDS:
                payback = (TRACE_SECONDS[NAME] - ours.median) / (ours.median - compiled.median)
                rows.append(
                    Row(NAME, cell, "tinygrad_act-compiled",
                        f"trace {TRACE_SECONDS[NAME]:.2f} s", f"paid back in {payback:.0f} steps",
                        f"<= {PAYBACK_TARGET}", verdict(payback <= PAYBACK_TARGET))
                )  # fmt: skip
        if theirs is None:
            continue
        if not theirs.samples or ours is None or not ours.samples:
            rows.append(Row(NAME, cell, "micrograd", theirs.error or "-"))
            continue
        ratio = paired_ratio(theirs, ours)
        rows.append(
            Row(
                NAME,
                cell,
                "micrograd",
                fmt_time(theirs.median),
                f"micrograd/tinygrad_act = {ratio:.2f}x",
                f">= {target:g}x",
                verdict(ratio >= target),
            )
        )
    return rows
