"""W3: memory per node of a wide scalar graph, s = a_0*b_0 + a_1*b_1 + ... + a_{N-1}*b_{N-1}.

The graph has 4N-1 nodes: 2N leaves, N products, N-1 sums. Each engine is measured in a fresh
subprocess (``python -m benchmarks.w3_memory ENGINE N MODE``), so nothing allocated by another
workload or engine is counted, in two ways:

- ``tracemalloc``: Python-level allocations. Exact for the pure-Python engines (tinygrad_act,
  micrograd); blind to PyTorch's C++ allocations, so it is not reported for torch.
- ``rss``: the process's resident set size, before the graph and at its high-water mark (the kernel's
  VmHWM, reset through /proc/self/clear_refs just before building). It sees every allocation,
  C++ included, at page granularity and with the allocator's slack; used for all engines.

"graph" is what the graph holds after the forward pass; "peak" adds what backward needs on top
(the topological order, the visited set, the gradient table). micrograd's recursive topological
sort needs a recursion limit above the chain's depth; it is raised in its subprocess only.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

from benchmarks.harness import Row, verdict
from benchmarks.machine import peer

NAME = "W3"
TARGET = 250  # bytes per node, tinygrad_act scalar path
ROOT = Path(__file__).resolve().parent.parent


def sizes(quick):
    """N for tinygrad_act's tracemalloc run and for the other runs (torch takes ~1.2 kB a node)."""
    return (20_000, 20_000) if quick else (1_000_000, 200_000)


def _build(engine, xs, ys):
    if engine == "tinygrad_act":
        from tinygrad_act import Value

        def leaf(v):
            return Value(v)
    elif engine == "micrograd":
        from micrograd.engine import Value

        def leaf(v):
            return Value(v)
    elif engine == "torch":
        import torch

        def leaf(v):
            return torch.tensor(v, dtype=torch.float64, requires_grad=True)
    else:
        raise ValueError(f"unknown engine {engine!r}; known: tinygrad_act, micrograd, torch")
    a = [leaf(v) for v in xs]
    b = [leaf(v) for v in ys]
    s = a[0] * b[0]
    for i in range(1, len(a)):
        s = s + a[i] * b[i]
    return a, b, s


def _status(field):
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def measure(engine, n, mode):
    """Bytes of the graph and peak bytes of build + backward, in this process."""
    import random

    rng = random.Random(0)
    xs = [rng.random() for _ in range(n)]  # the input floats exist before measuring starts
    ys = [rng.random() for _ in range(n)]
    if engine == "micrograd":
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * n + 1000))
    _build(engine, xs[:10], ys[:10])[2].backward()  # imports and first-call caches, not counted
    gc.collect()
    gc.disable()  # nothing here is garbage; the collector would only rescan the growing graph
    if mode == "tracemalloc":
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        a, b, s = _build(engine, xs, ys)
        graph = tracemalloc.get_traced_memory()[0] - base
        s.backward()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    elif mode == "rss":
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        base = _status("VmRSS")
        a, b, s = _build(engine, xs, ys)
        graph = _status("VmRSS") - base
        s.backward()
        peak = _status("VmHWM") - base
    else:
        raise ValueError(f"unknown mode {mode!r}; known: tracemalloc, rss")
    del a, b, s
    return {
        "engine": engine,
        "n": n,
        "mode": mode,
        "nodes": 4 * n - 1,
        "graph": graph,
        "peak": peak,
    }


def run_subprocess(engine, n, mode, timeout=600):
    """measure() in a fresh interpreter; a dict, or one with an 'error' key."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.w3_memory", engine, str(n), mode],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"engine": engine, "n": n, "mode": mode, "error": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["exit code " + str(proc.returncode)])[-1]
        return {"engine": engine, "n": n, "mode": mode, "error": last}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def engines():
    return ["tinygrad_act"] + [e for e in ("micrograd", "torch") if peer(e) is not None]


def run(quick):
    """All measurements of W3: a list of result dicts."""
    n_traced, n_rss = sizes(quick)
    results = []
    rss_ok = os.path.exists("/proc/self/clear_refs")
    for engine in engines():
        if engine == "tinygrad_act":
            results.append(run_subprocess(engine, n_traced, "tracemalloc"))
        elif engine == "micrograd":
            # micrograd's deep recursive topological sort under tracemalloc turns pathological
            # past ~100,000 levels (over 10 minutes at 200,000); its bytes per node are flat below.
            results.append(run_subprocess(engine, min(n_rss, 100_000), "tracemalloc"))
        if rss_ok:
            results.append(run_subprocess(engine, n_rss, "rss"))
    return results


def report(measured):
    rows = []
    for m in measured:
        cell = f"{m['mode']} N={m['n']:,}"
        if "error" in m:
            rows.append(Row(NAME, cell, m["engine"], m["error"]))
            continue
        graph, peak = m["graph"] / m["nodes"], m["peak"] / m["nodes"]
        target = ok = ""
        if m["engine"] == "tinygrad_act":
            target, ok = f"peak <= {TARGET} B/node", verdict(peak <= TARGET)
        rows.append(
            Row(
                NAME,
                cell,
                m["engine"],
                f"graph {graph:.0f} B/node, peak {peak:.0f} B/node",
                "",
                target,
                ok,
            )
        )
    return rows


def main(argv):
    engine, n, mode = argv
    print(json.dumps(measure(engine, int(n), mode)))


if __name__ == "__main__":
    main(sys.argv[1:])
