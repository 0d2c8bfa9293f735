"""Instruction counts of the hot paths, and the guard that keeps them from growing (`make bench-check`).

    benchmarks/icount.py                # measure, compare with benchmarks/icount_baseline.json
    benchmarks/icount.py --update       # measure and store the figures as the new baseline
    benchmarks/icount.py --only W5      # some workloads only (W1, W4, W5)

W4's "compiled tanh b64 float32" probe counts the step through `tinygrad_act.compile` (traced in
the untimed warm-up) against the in-place numpy floor it aims at.

Wall-clock times on a shared 2-core machine swing by up to 2x within a minute; the number of
instructions a step executes does not. Each probe (a W1 step, a W4 batch-64 step, a W5 chain of
1,000 activations) runs under valgrind's callgrind, which counts instructions only inside
``operator.call(...)`` (``--toggle-collect``) and writes the count after each such call
(``--dump-after``): interpreter start-up and imports are never counted, and every probe runs in
one process. Counts are deterministic to a few hundred instructions with ``PYTHONHASHSEED=0``,
one BLAS thread and address randomization off (``setarch -R``).

Every probe runs for tinygrad_act and for its peer in the same process: the hand-written numpy
floor (W4, W5) or micrograd (W1). The guard compares the ratio tinygrad_act / peer with the ratio
stored in the baseline and fails when one grew by more than 5%: a change that slows the hot path
is caught before it lands, and an upgrade of numpy or Python, which moves both counts, is not
mistaken for one. Refresh the baseline on purpose (``make bench-baseline``) when a change makes
the engine faster, or costs what it is worth, and commit the file with that change.
"""

from __future__ import annotations

import argparse
import gc
import json
import operator
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path[0] = str(ROOT)  # run as a script: import this directory as the `benchmarks` package

BASELINE = Path(__file__).with_name("icount_baseline.json")
TOLERANCE = 0.05  # a ratio may grow by this much before the guard fails
W4_CELLS = ("tanh b64 float32", "tanh b64 float64", "relu b64 float32", "relu b64 float64")
COMPILED_CELL = "tanh b64 float32"  # one W4 cell also probed through tinygrad_act.compile
W5_ACTS = ("tanh", "sigmoid", "relu", "leaky_relu")
WARM_UP = 12  # untimed calls of a W4 or W5 probe before it is counted


def probes(only):
    """(workload, probe, engine, units per call, factory of the thunk), in the order they run."""
    from benchmarks import w1_scalar_mlp, w4_tensor_mlp, w5_op_overhead
    from benchmarks.data import mlp_params, mnist_like

    out = []
    if "W1" in only:
        out.append(("W1", "step", "tinygrad_act", 1, lambda: _w1(w1_scalar_mlp.tinygrad_model)))
        out.append(("W1", "step", "micrograd", 1, lambda: _w1(w1_scalar_mlp.micrograd_model)))
    if "W4" in only:
        for cell in W4_CELLS:
            act, batch, dtype = cell.split()

            def w4(engine, act=act, batch=int(batch[1:]), dtype=dtype):
                import numpy as np

                X, labels, onehot = mnist_like(batch, np.dtype(dtype))
                params = mlp_params(np.dtype(dtype))
                return w4_tensor_mlp.FACTORIES[engine](params, X, labels, onehot, act)[1]

            for engine in ("tinygrad_act", "numpy"):
                out.append(("W4", cell, engine, 1, lambda w4=w4, engine=engine: w4(engine)))
            if cell == COMPILED_CELL:  # the compiled step against the in-place floor it aims at
                out.append(
                    (
                        "W4",
                        f"compiled {cell}",
                        "numpy-inplace",
                        1,
                        lambda w4=w4: w4("numpy-inplace"),
                    )
                )
                out.append(
                    (
                        "W4",
                        f"compiled {cell}",
                        "tinygrad_act",
                        1,
                        lambda w4=w4: w4("tinygrad_act-compiled"),
                    )
                )
    if "W5" in only:
        for act in W5_ACTS:
            for engine in ("tinygrad_act", "numpy"):
                chain = w5_op_overhead.FACTORIES[engine]
                out.append(("W5", act, engine, w5_op_overhead.DEPTH, lambda c=chain, a=act: c(a)))
    return out


def _w1(model_factory):
    from benchmarks import w1_scalar_mlp

    return w1_scalar_mlp.make_step(*model_factory()[:2])


def _child(only, names_file):
    """Run inside callgrind: each probe's thunk untimed until CPython has specialized its code, then
    once inside operator.call."""
    listing = []
    # The peers first, before tinygrad_act is imported: their counts then do not move with
    # tinygrad_act's code (what it allocates changes the allocator's state for what runs after).
    ordered = sorted(probes(only), key=lambda p: p[2] == "tinygrad_act")
    for workload, probe, engine, units, factory in ordered:
        thunk = factory()
        # CPython 3.11 specializes a function's bytecode after about 8 calls or loop iterations;
        # a loop that only jumps back conditionally (`while ready:`) warms up on calls alone.
        # Counting before that would measure the unspecialized interpreter. (One W1 step makes
        # thousands of calls of every function it uses.)
        for _ in range(2 if workload == "W1" else WARM_UP):
            thunk()
        gc.collect()
        gc.freeze()  # as in the timed runs: a collection scans the step's objects only
        operator.call(thunk)  # counted: callgrind collects inside operator.call only
        gc.unfreeze()
        listing.append({"workload": workload, "probe": probe, "engine": engine, "units": units})
    Path(names_file).write_text(json.dumps(listing))


def _totals(path):
    for line in Path(path).read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals line in {path}")


def measure(only):
    """{(workload, probe): {engine: instructions per unit}}, measured under callgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit(
            "valgrind is missing: `apt-get install valgrind` (make bench-check does it)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        names = Path(tmp, "probes.json")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--toggle-collect=_operator_call",
            "--dump-after=_operator_call",
            f"--callgrind-out-file={tmp}/cg.out",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(names),
            "--only",
            ",".join(only),
        ]
        if shutil.which("setarch"):
            cmd = ["setarch", platform.machine(), "-R", *cmd]
        env = dict(
            os.environ,
            PYTHONHASHSEED="0",
            OPENBLAS_NUM_THREADS="1",
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode != 0 or not names.exists():
            raise SystemExit(f"the probes failed under valgrind:\n{run.stderr[-3000:]}")
        listing = json.loads(names.read_text())
        dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) != len(listing):
            raise SystemExit(f"expected {len(listing)} callgrind dumps, found {len(dumps)}")
        counts = {}
        for entry, dump in zip(listing, dumps, strict=True):
            key = f"{entry['workload']} {entry['probe']}"
            total = _totals(dump)
            if not total:
                raise SystemExit(
                    f"callgrind counted no instruction for {key}: this Python's library may lack the "
                    "symbol _operator_call that --toggle-collect names"
                )
            counts.setdefault(key, {})[entry["engine"]] = total / entry["units"]
        return counts


def environment():
    import numpy as np

    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "valgrind": valgrind.strip(),
        "machine": platform.machine(),
    }


def compare(counts, baseline, tolerance=TOLERANCE):
    """One row per probe: tinygrad_act's and its peer's instructions per unit, their ratio, the
    baseline's ratio and the change; ``worse`` when the ratio grew by more than `tolerance`."""
    old = (baseline or {}).get("counts", {})
    rows = []
    for key, by_engine in counts.items():
        ours = by_engine["tinygrad_act"]
        peer = next(e for e in by_engine if e != "tinygrad_act")
        row = {"probe": key, "ours": ours, "peer": peer, "theirs": by_engine[peer]}
        row["ratio"] = ours / row["theirs"]
        row["base"] = row["change"] = None
        if key in old and peer in old[key]:
            row["base"] = old[key]["tinygrad_act"] / old[key][peer]
            row["change"] = row["ratio"] / row["base"] - 1
        row["worse"] = row["change"] is not None and row["change"] > tolerance
        rows.append(row)
    return rows


def report(rows, out=sys.stdout):
    head = ("probe", "tinygrad_act", "peer", "above peer", "ratio", "baseline", "change")
    print(
        f"{head[0]:<21} {head[1]:>13} {head[2]:>26} {head[3]:>12} {head[4]:>6} {head[5]:>8} {head[6]:>7}",
        file=out,
    )
    for r in rows:
        peer = f"{r['peer']} {r['theirs']:,.0f}"
        line = f"{r['probe']:<21} {r['ours']:>13,.0f} {peer:>26} {r['ours'] - r['theirs']:>12,.0f} {r['ratio']:>6.3f}"
        if r["base"] is None:
            line += f" {'-':>8} {'new':>7}"
        else:
            line += f" {r['base']:>8.3f} {r['change']:>+7.1%}" + ("  WORSE" if r["worse"] else "")
        print(line, file=out)


def main(argv=None):
    p = argparse.ArgumentParser(prog="benchmarks/icount.py", description=__doc__.splitlines()[0])
    p.add_argument("--update", action="store_true", help="store the figures as the baseline")
    p.add_argument("--only", default="W1,W4,W5", help="comma-separated workloads: W1,W4,W5")
    p.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline file")
    p.add_argument("--child", help=argparse.SUPPRESS)  # the process callgrind runs
    args = p.parse_args(argv)
    only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in only if w not in ("W1", "W4", "W5")]
    if unknown or not only:
        p.error(f"--only takes W1, W4 and W5; got {args.only!r}")
    if args.child:
        _child(only, args.child)
        return 0

    counts = measure(only)
    env = environment()
    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() else None
    print(f"Instructions per unit under callgrind (W1 and W4: one step; W5: one op); {env}")
    rows = compare(counts, baseline)
    report(rows)
    worse = [r["probe"] for r in rows if r["worse"]]
    if args.update:
        stored = dict(baseline or {}, environment=env)
        stored["counts"] = {**stored.get("counts", {}), **counts}
        args.baseline.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        print(f"baseline written to {args.baseline}")
        return 0
    if baseline is None:
        print(f"no baseline at {args.baseline}: run `make bench-baseline` to store one")
        return 1
    if baseline.get("environment") != env:
        print(f"note: the baseline was measured with {baseline.get('environment')}")
    if worse:
        print(
            f"FAIL: {', '.join(worse)} grew by more than {TOLERANCE:.0%} against the baseline "
            "(tinygrad_act's instructions over its peer's). If that is intended, refresh the "
            "baseline with `make bench-baseline` and commit it with the change."
        )
        return 1
    print(f"ok: no ratio grew by more than {TOLERANCE:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
