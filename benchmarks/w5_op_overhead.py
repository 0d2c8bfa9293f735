"""W5: per-op overhead: 1,000 elementwise activations chained on a 16-element vector, forward+backward.

With 16 elements the arithmetic is nothing; what is timed is what an engine does per op (creating
nodes, dispatching, recording, and the backward loop). Reported in microseconds per activation
(the total divided by 1,000). The floor is numpy by hand: the forward keeps each output, the
backward multiplies by the lecture's local gradient (1-a² for tanh, a(1-a) for sigmoid).
autograd has no sigmoid primitive; its sigmoid is composed of four primitives, which shows.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Case, Row, paired_ratio, verdict
from benchmarks.machine import peer

NAME = "W5"
DEPTH = 1_000
SIZE = 16
TARGET_US = 3.5
TARGET_VS_TORCH = 1.5
ACTS = ("tanh", "sigmoid")
ENGINES = ("numpy", "tinygrad_act", "torch", "autograd", "mygrad")


def _x():
    return np.random.default_rng(0).normal(size=SIZE)


def numpy_chain(act):
    x = _x()

    def forward(z):
        return np.tanh(z) if act == "tanh" else 1 / (1 + np.exp(-z))

    def local(a):
        return 1 - a * a if act == "tanh" else a * (1 - a)

    def run():
        outs = [x]
        for _ in range(DEPTH):
            outs.append(forward(outs[-1]))
        g = np.ones(SIZE)  # d(sum)/d(last)
        for a in reversed(outs[1:]):
            g = g * local(a)
        return g

    return run


def tinygrad_chain(act):
    from tinygrad_act import Value

    x = Value(_x())

    def run():
        y = x
        for _ in range(DEPTH):
            y = y.activate(act)
        x.zero_grad()
        y.sum().backward()
        return x.grad

    return run


def torch_chain(act):
    import torch

    x = torch.tensor(_x(), requires_grad=True)
    f = torch.tanh if act == "tanh" else torch.sigmoid

    def run():
        y = x
        for _ in range(DEPTH):
            y = f(y)
        x.grad = None
        y.sum().backward()
        return x.grad

    return run


def autograd_chain(act):
    import autograd
    import autograd.numpy as anp

    def f(z):
        return anp.tanh(z) if act == "tanh" else 1 / (1 + anp.exp(-z))

    def chain(z):
        for _ in range(DEPTH):
            z = f(z)
        return anp.sum(z)

    gradient = autograd.grad(chain)
    x = _x()
    return lambda: gradient(x)


def mygrad_chain(act):
    import mygrad as mg

    x = mg.tensor(_x())
    f = mg.tanh if act == "tanh" else mg.nnet.sigmoid

    def run():
        y = x
        for _ in range(DEPTH):
            y = f(y)
        y.sum().backward()
        return x.grad

    return run


FACTORIES = {
    "numpy": numpy_chain,
    "tinygrad_act": tinygrad_chain,
    "torch": torch_chain,
    "autograd": autograd_chain,
    "mygrad": mygrad_chain,
}


def installed():
    return [e for e in ENGINES if e in ("numpy", "tinygrad_act") or peer(e) is not None]


def _checked(engine, act):
    """The engine's gradient against the numpy floor's, then the chain to time."""

    def setup():
        want = numpy_chain(act)()
        got = np.asarray(FACTORIES[engine](act)())
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"W5 {engine} {act}")
        return FACTORIES[engine](act)

    return setup


def cases(quick):
    return [Case(NAME, act, e, _checked(e, act)) for act in ACTS for e in installed()]


def report(results):
    rows = []
    for act in ACTS:
        ours = results.get((NAME, act, "tinygrad_act"))
        torch_case = results.get((NAME, act, "torch"))
        floor = results.get((NAME, act, "numpy"))
        for engine in installed():
            case = results[(NAME, act, engine)]
            if not case.samples:
                rows.append(Row(NAME, act, engine, case.error[:90], verdict="FAIL"))
                continue
            us = case.median / DEPTH * 1e6
            ratio = target = ok = ""
            if engine != "numpy" and floor and floor.samples:
                ratio = f"{paired_ratio(case, floor):.2f}x numpy"
            if engine == "tinygrad_act" and act == "tanh":  # the issue sets targets on tanh
                target, ok = f"<= {TARGET_US} us/op", verdict(us <= TARGET_US)
            rows.append(Row(NAME, act, engine, f"{us:.2f} us/op", ratio, target, ok))
        if ours and ours.samples and torch_case and torch_case.samples:
            speedup = paired_ratio(torch_case, ours)
            targeted = act == "tanh"
            rows.append(
                Row(
                    NAME,
                    act,
                    "torch vs tinygrad_act",
                    "",
                    f"torch/tinygrad_act = {speedup:.2f}x",
                    f">= {TARGET_VS_TORCH}x" if targeted else "",
                    verdict(speedup >= TARGET_VS_TORCH) if targeted else "",
                )
            )
    return rows
