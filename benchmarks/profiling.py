"""Where tinygrad_act spends its time and memory: cProfile of W1, W4 (batch 64) and W5, and a
tracemalloc breakdown of W3's graph by the line that allocated it."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
import tracemalloc

import numpy as np

from benchmarks import w1_scalar_mlp, w3_memory, w4_tensor_mlp, w5_op_overhead
from benchmarks.data import mlp_params, mnist_like


def _thunks():
    yield "W1 (gc on)", w1_scalar_mlp.make_step(*w1_scalar_mlp.tinygrad_model()[:2]), 5
    for act in ("tanh", "relu"):
        dt = np.dtype("float64")
        X, labels, onehot = mnist_like(64, dt)
        step = w4_tensor_mlp.tinygrad_engine(mlp_params(dt), X, labels, onehot, act)[1]
        yield f"W4 {act} b64 float64", step, 200
    yield "W5 tanh", w5_op_overhead.tinygrad_chain("tanh"), 50


def profile_times(only, out, top=18):
    for name, thunk, calls in _thunks():
        if name.split()[0] not in only:
            continue
        thunk()
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(calls):
            thunk()
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
        print(
            f"\n==== cProfile: tinygrad_act {name}, {calls} calls, sorted by own time ====",
            file=out,
        )
        stats.print_stats(top)
        print(
            "\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:6000], file=out
        )


def profile_memory(out, n=50_000, top=12):
    """What the W3 graph is made of: tracemalloc grouped by allocating line, after the forward."""
    import random

    rng = random.Random(0)
    xs = [rng.random() for _ in range(n)]
    ys = [rng.random() for _ in range(n)]
    gc.collect()
    gc.disable()
    tracemalloc.start(25)
    try:
        a, b, s = w3_memory._build("tinygrad_act", xs, ys)
        snap = tracemalloc.take_snapshot()
        graph = tracemalloc.get_traced_memory()[0]
        s.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()
    nodes = 4 * n - 1
    print(f"\n==== tracemalloc: W3 tinygrad_act graph, N={n:,} ({nodes:,} nodes) ====", file=out)
    print(
        f"graph {graph / nodes:.0f} B/node after the forward, peak {peak / nodes:.0f} B/node with backward",
        file=out,
    )
    stats = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)]).statistics(
        "lineno"
    )
    for stat in stats[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size / nodes:7.1f} B/node  {stat.count:>8,} blocks  {frame.filename.split('/')[-1]}:{frame.lineno}",
            file=out,
        )
    del a, b, s


class _GcClock:
    """Collections by generation and the time spent in them, through gc.callbacks."""

    def __init__(self):
        self.count, self.seconds, self._start = [0, 0, 0], [0.0, 0.0, 0.0], 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._start

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)

    def __str__(self):
        return ", ".join(
            f"gen{g}: {self.count[g]} x = {self.seconds[g] * 1e3:.1f} ms" for g in range(3)
        )


def _phases(build, backward, gc_off):
    """(forward seconds, backward seconds, gc clock) of one graph."""
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        with _GcClock() as clock:
            start = time.perf_counter()
            root = build()
            mid = time.perf_counter()
            backward(root)
            end = time.perf_counter()
    finally:
        gc.enable()
    return mid - start, end - mid, clock


def profile_gc(only, out, repeat=3):
    """How much of W1 and W2 is the cycle collector, split into forward and backward."""
    from tinygrad_act import Value

    jobs = []
    if "W1" in only:
        model, value, _ = w1_scalar_mlp.tinygrad_model()
        X, y = w1_scalar_mlp.moons(100)

        def build_w1():
            scores = [model([value(a), value(b)]) for a, b in X.tolist()]
            losses = [(1 + -yi * si).relu() for yi, si in zip(y.tolist(), scores, strict=True)]
            return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())

        jobs.append(("W1 step", build_w1, lambda r: r.backward()))
    if "W2" in only:
        for n in (10_000, 100_000, 1_000_000):

            def build_w2(n=n):
                y = Value(0.5)
                for _ in range(n):
                    y = y.tanh()
                return y

            jobs.append((f"W2 N={n:,}", build_w2, lambda r: r.backward()))
    for frozen in (False, True):
        gc.collect()
        if frozen:
            gc.freeze()
        print(
            f"\n==== gc share: threshold {gc.get_threshold()}, {len(gc.get_objects()):,} objects "
            f"visible to the collector before ({'after gc.freeze(), as the timings run' if frozen else 'no freeze'}) ====",
            file=out,
        )
        for name, build, backward in jobs:
            for gc_off in (False, True):
                runs = sorted(
                    (_phases(build, backward, gc_off) for _ in range(repeat)),
                    key=lambda r: r[0] + r[1],
                )
                fwd, bwd, clock = runs[len(runs) // 2]
                label = "gc off" if gc_off else "gc on "
                extra = f"; collections {clock}" if not gc_off else ""
                print(
                    f"  {name:<14} {label}: forward {fwd * 1e3:7.1f} ms, backward {bwd * 1e3:7.1f} ms{extra}",
                    file=out,
                )
        gc.unfreeze()
