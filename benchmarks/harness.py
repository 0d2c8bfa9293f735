"""Interleaved timing: every case of a workload runs once per round, rounds alternate the engines.

The machine is shared and noisy, so a peer and tinygrad_act are never timed minutes apart: a burst
of load hits one round of every engine alike, and ratios are medians of per-round ratios.
"""

from __future__ import annotations

import gc
import math
import resource
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Case:
    """One timed thing: `setup()` (untimed) returns the thunk that is timed.

    `gc_off` times with Python's cycle collector disabled. `max_repeat` caps the rounds of a case
    that takes seconds per call (the 1,000,000-node chain), so a full run stays bounded.
    """

    workload: str
    cell: str
    engine: str
    setup: object
    gc_off: bool = False
    max_repeat: int | None = None
    samples: list = field(default_factory=list)
    faults: list = field(default_factory=list)  # minor page faults per call, one per sample
    loops: int = 1
    error: str = ""

    @property
    def key(self):
        return (self.workload, self.cell, self.engine)

    @property
    def median(self):
        return statistics.median(self.samples) if self.samples else math.nan


def _minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _time_once(thunk, loops, gc_off):
    # What the thunks return (their graphs) is kept until the timer stops and freed after it, for
    # every engine alike: the workloads time building and differentiating a graph, not tearing it
    # down (with gc off, micrograd's cyclic graphs would be freed outside the timer anyway).
    # Garbage left by the previous case is collected here, outside the timer too.
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        faults = _minor_faults()
        start = time.perf_counter()
        kept = [thunk() for _ in range(loops)]
        elapsed = time.perf_counter() - start
        faults = _minor_faults() - faults
        del kept
        return elapsed / loops, faults / loops
    finally:
        gc.enable()


def _warm_up(thunk, min_time):
    """Call the thunk until the allocator and caches settle (~2 min_time, 1 to 10 calls); last call's time.

    The first calls of a tensor step pay page faults for fresh buffers (glibc's mmap threshold adapts
    after the first large free), which would inflate the first sample of whichever engine runs first.
    """
    calls, spent, once = 0, 0.0, 0.0
    while calls < 1 or (spent < 2 * min_time and calls < 10):
        start = time.perf_counter()
        thunk()
        once = time.perf_counter() - start
        spent += once
        calls += 1
    return once


def run_interleaved(cases, repeat, min_time):
    """Time every case `repeat` times, round-robin, rotating the order each round.

    Each case first runs untimed (warm-up, and a measure of how many calls make a sample last
    `min_time` seconds). A case whose setup or warm-up raises keeps the error text and no samples.
    """
    live = []
    for case in cases:
        try:
            thunk = case.setup()
            once = _warm_up(thunk, min_time)
        except Exception as err:  # a peer failing is a finding to print, not a crash of the run
            case.error = f"{type(err).__name__}: {err}"
            continue
        case.loops = max(1, math.ceil(min_time / max(once, 1e-9)))
        live.append((case, thunk))
    # Everything alive now (torch, matplotlib, the other engines' modules, the models) moves to
    # the permanent generation, which the cycle collector never scans: a full collection during a
    # timed step then costs what the step's own objects cost, as in a process that imported only
    # that engine. (With torch imported, one full collection costs ~90 ms on its own here.)
    gc.collect()
    gc.freeze()
    try:
        for r in range(repeat):
            shift = r % max(len(live), 1)
            for case, thunk in live[shift:] + live[:shift]:
                if case.max_repeat is not None and len(case.samples) >= case.max_repeat:
                    continue
                seconds, faults = _time_once(thunk, case.loops, case.gc_off)
                case.samples.append(seconds)
                case.faults.append(faults)
    finally:
        gc.unfreeze()
    return cases


def paired_ratio(case, base):
    """case / base as the median of the per-round ratios: each pair of samples was timed seconds
    apart in the same round, so a slow minute of the shared machine cancels out of the ratio
    instead of landing on one engine's median. (Ratio of medians if the rounds do not pair up.)"""
    if not case.samples or not base.samples:
        return math.nan
    if len(case.samples) != len(base.samples):
        return case.median / base.median
    return statistics.median(a / b for a, b in zip(case.samples, base.samples, strict=True))


def paired_difference(case, base):
    """case - base in seconds, as the median of the per-round differences (see `paired_ratio`)."""
    if not case.samples or not base.samples:
        return math.nan
    if len(case.samples) != len(base.samples):
        return case.median - base.median
    return statistics.median(a - b for a, b in zip(case.samples, base.samples, strict=True))


def fmt_time(seconds):
    """A duration with a unit that keeps three significant digits: '680 ms', '5.61 us'."""
    if seconds != seconds:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


@dataclass
class Row:
    """One line of the printed table."""

    workload: str
    cell: str
    engine: str
    value: str
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def print_table(rows, out):
    heads = ("workload", "cell", "engine", "median", "ratio", "target", "")
    table = [heads] + [
        (r.workload, r.cell, r.engine, r.value, r.ratio, r.target, r.verdict) for r in rows
    ]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(heads))]
    for n, line in enumerate(table):
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), file=out
        )
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def verdict(ok):
    return "ok" if ok else "MISS"
