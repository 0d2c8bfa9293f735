"""What numpy's spelling costs: a numpy function or ufunc on a Value against the method call.

    python benchmarks/numpy_dispatch.py

``np.tanh(v)`` reaches the engine through numpy's protocol (``Value.__array_ufunc__``) and
`tinygrad_act.numpy_api`'s table; ``v.tanh()`` calls the op directly. Both build the same node;
the difference is the dispatch. Each pair is timed on a 16-element vector (where the dispatch
shows) and on a 256×256 matrix (where the arithmetic hides it), forward only, best of several
interleaved repeats, in microseconds of CPU time per call.
"""

from __future__ import annotations

import sys
import time
import timeit
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import numpy as np

from tinygrad_act import Value

PAIRS = [
    ("tanh", lambda v, w, a: np.tanh(v), lambda v, w, a: v.tanh()),
    ("exp", lambda v, w, a: np.exp(v), lambda v, w, a: v.exp()),
    ("multiply", lambda v, w, a: np.multiply(v, w), lambda v, w, a: v * w),
    ("array + Value", lambda v, w, a: a + v, lambda v, w, a: v.__radd__(a)),
    ("maximum(0, z)", lambda v, w, a: np.maximum(0, v), lambda v, w, a: v.maximum(0.0)),
    ("sum axis 0", lambda v, w, a: np.sum(v, axis=0), lambda v, w, a: v.sum(axis=0)),
    ("dot", lambda v, w, a: np.dot(v, w.T), lambda v, w, a: v @ w.T),
]


def time_pair(first, second, args, number, repeat=9):
    """Best microseconds per call of each, their runs interleaved (a busy machine slows both
    alike), in CPU time of this process (time spent descheduled is not counted)."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, fn in enumerate((first, second)):
            t = timeit.timeit(lambda fn=fn: fn(*args), number=number, timer=time.process_time)
            best[i] = min(best[i], t / number * 1e6)
    return best


def main():
    rng = np.random.default_rng(0)
    print(f"{'op':<16}{'shape':>10}{'numpy (µs)':>14}{'method (µs)':>14}{'extra (µs)':>12}")
    for shape, number in (((1, 16), 20_000), ((256, 256), 200)):
        v, w = Value(rng.standard_normal(shape)), Value(rng.standard_normal(shape))
        a = rng.standard_normal(shape)
        for name, with_numpy, with_method in PAIRS:
            t_np, t_m = time_pair(with_numpy, with_method, (v, w, a), number)
            size = "x".join(map(str, shape))
            print(f"{name:<16}{size:>10}{t_np:>14.2f}{t_m:>14.2f}{t_np - t_m:>12.2f}")


if __name__ == "__main__":
    main()
