"""Where tinygrad_act spends its time and memory: cProfile of W1, W4 (batch 64) and W5, and a
tracemalloc breakdown of W3's graph by the line that allocated it."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
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
