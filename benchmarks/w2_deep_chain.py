"""W2: a deep chain, x -> tanh -> tanh -> ... (N times), then backward from the end.

It tests that backprop is iterative (micrograd's recursive topological sort hits Python's recursion
limit near N = 1,000) and that the cost per node stays flat as N grows.
"""

from __future__ import annotations

import sys

from benchmarks.harness import Case, Row, fmt_time, verdict
from benchmarks.machine import peer

NAME = "W2"
TORCH_N = 100_000
MICROGRAD_PROBE = (500, 1_000, 2_000)


def sizes(quick):
    return (1_000, 10_000, 100_000) if quick else (1_000, 10_000, 100_000, 1_000_000, 3_000_000)


def tinygrad_chain(n):
    from tinygrad_act import Value

    def run():
        y = x = Value(0.5)
        for _ in range(n):
            y = y.tanh()
        y.backward()
        return x.grad

    return run


def torch_chain(n):
    import torch

    def run():
        x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(n):
            y = torch.tanh(y)
        y.backward()
        return x.grad

    return run


def micrograd_chain(n):
    from micrograd.engine import Value

    # micrograd 0.1.0 (the release on PyPI) has no tanh; relu is its one activation and builds the
    # same chain, one node per step.
    def run():
        y = x = Value(0.5)
        for _ in range(n):
            y = y.relu() if not hasattr(y, "tanh") else y.tanh()
        y.backward()
        return x.grad

    return run


def cases(quick):
    out = []
    for n in sizes(quick):
        cap = 3 if n >= 1_000_000 else None
        out.append(
            Case(NAME, f"N={n:,}", "tinygrad_act", lambda n=n: tinygrad_chain(n), max_repeat=cap)
        )
    # The same chain with the cycle collector off: how much of the growth per node is gc passes
    # over the ever larger set of live nodes.
    big = sizes(quick)[-1]
    out.append(
        Case(
            NAME,
            f"N={big:,}",
            "tinygrad_act gc off",
            lambda: tinygrad_chain(big),
            gc_off=True,
            max_repeat=3,
        )
    )
    if peer("torch") is not None:
        for n in (10_000, TORCH_N):
            out.append(Case(NAME, f"N={n:,}", "torch", lambda n=n: torch_chain(n)))
    if peer("micrograd") is not None:
        out.append(
            Case(NAME, f"N={MICROGRAD_PROBE[0]:,}", "micrograd", lambda: micrograd_chain(500))
        )
    return out


def micrograd_limit():
    """The first N of the probe at which micrograd's backward raises RecursionError, or None."""
    if peer("micrograd") is None:
        return "micrograd not installed"
    for n in MICROGRAD_PROBE:
        try:
            micrograd_chain(n)()
        except RecursionError:
            return n
    return None


def per_node(results, engine):
    """[(N, seconds per node)] for the engine's cases, in increasing N."""
    out = []
    for (w, cell, e), case in results.items():
        if w == NAME and e == engine and case.samples:
            n = int(cell[2:].replace(",", ""))
            out.append((n, case.median / n))
    return sorted(out)


def report(results):
    rows = []
    ours = dict(per_node(results, "tinygrad_act"))
    theirs = dict(per_node(results, "torch"))
    for (w, cell, engine), case in results.items():
        if w != NAME or engine != "tinygrad_act":
            continue
        n = int(cell[2:].replace(",", ""))
        if not case.samples:
            rows.append(Row(NAME, cell, engine, case.error, target="works", verdict="MISS"))
            continue
        extra = f"{ours[n] * 1e6:.2f} us/node"
        ratio = f"torch/tinygrad_act = {theirs[n] / ours[n]:.2f}x" if n in theirs else ""
        rows.append(Row(NAME, cell, engine, f"{fmt_time(case.median)} ({extra})", ratio))
    for n, cost in per_node(results, "tinygrad_act gc off"):
        median = results[(NAME, f"N={n:,}", "tinygrad_act gc off")].median
        growth = f"{cost / ours[n]:.2f}x the gc-on cost" if n in ours else ""
        rows.append(
            Row(
                NAME,
                f"N={n:,}",
                "tinygrad_act gc off",
                f"{fmt_time(median)} ({cost * 1e6:.2f} us/node)",
                growth,
            )
        )
    for n, cost in sorted(theirs.items()):
        median = results[(NAME, f"N={n:,}", "torch")].median
        rows.append(
            Row(NAME, f"N={n:,}", "torch", f"{fmt_time(median)} ({cost * 1e6:.2f} us/node)")
        )
    mg = results.get((NAME, f"N={MICROGRAD_PROBE[0]:,}", "micrograd"))
    if mg is not None and mg.samples:
        cost = mg.median / MICROGRAD_PROBE[0]
        rows.append(
            Row(
                NAME,
                f"N={MICROGRAD_PROBE[0]:,}",
                "micrograd",
                f"{fmt_time(mg.median)} ({cost * 1e6:.2f} us/node)",
            )
        )
    if len(ours) >= 2:
        # Linear means a flat cost per node: compare the largest N against N = 10,000 (N = 1,000 is
        # too short to time without the fixed costs showing).
        small = 10_000 if 10_000 in ours else min(ours)
        big = max(ours)
        rows.append(_linearity(ours, big, small))
        if big > 1_000_000 and 1_000_000 in ours:
            # Past N ~ 100,000 CPython's full collections set in (each rescans every live node,
            # and they come after every 25% of growth); once they run, the cost per node is flat.
            rows.append(_linearity(ours, big, 1_000_000))
        if 1_000_000 in ours:
            rows.append(
                Row(
                    NAME,
                    "N=1,000,000",
                    "tinygrad_act",
                    "works",
                    target="N = 1,000,000 works",
                    verdict="ok",
                )
            )
        else:
            rows.append(Row(NAME, "N=1,000,000", "tinygrad_act", "not run (--quick)"))
    return rows


def _linearity(ours, big, small):
    """Linear means a flat cost per node: the per-node cost at N = big against N = small."""
    growth = ours[big] / ours[small]
    return Row(
        NAME,
        "linearity",
        "tinygrad_act",
        f"per-node cost at N={big:,} / at N={small:,}",
        f"{growth:.2f}x",
        "<= 1.5x (linear)",
        verdict(growth <= 1.5),
    )


def notes():
    limit = micrograd_limit()
    if isinstance(limit, str):
        return [f"W2 {limit}"]
    if limit is None:
        return [f"W2 micrograd: no RecursionError up to N={MICROGRAD_PROBE[-1]:,}"]
    return [
        f"W2 micrograd: RecursionError at N={limit:,} (recursive topological sort; "
        f"sys.getrecursionlimit() = {sys.getrecursionlimit()}), timed at N={MICROGRAD_PROBE[0]:,}"
    ]
