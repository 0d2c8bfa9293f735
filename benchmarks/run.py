"""Run the five workloads of issue 8 for tinygrad_act and every installed peer, interleaved.

    benchmarks/run.py [--quick] [--only W1,W4] [--repeat N] [--plot PATH] [--json PATH]
    benchmarks/run.py --profile W1,W3,W4,W5       # where tinygrad_act's time and memory go

Prints the machine, a table of medians with ratios against each workload's baseline and the
issue's target, and a one-line verdict per target. ``make bench`` runs it (``make bench
BENCH_ARGS=--quick`` for the short run, under a minute).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # Run as a script: import this directory as the `benchmarks` package, and keep its module
    # names (profiling, plot, data, ...) from shadowing anything else on sys.path.
    sys.path[0] = str(ROOT)

from benchmarks import (  # noqa: E402
    harness,
    machine,
    plot,
    profiling,
    w1_scalar_mlp,
    w2_deep_chain,
    w3_memory,
    w4_tensor_mlp,
    w5_op_overhead,
)

TIMED = {
    "W1": w1_scalar_mlp,
    "W2": w2_deep_chain,
    "W4": w4_tensor_mlp,
    "W5": w5_op_overhead,
}
ALL = ("W1", "W2", "W3", "W4", "W5")


def _names(text):
    names = [n.strip().upper() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown workload {', '.join(unknown) or repr(text)}; choose from {','.join(ALL)}"
        )
    return names


def parse(argv):
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="short run: fewer rounds, smaller N (< 1 min)"
    )
    p.add_argument(
        "--only", type=_names, default=list(ALL), help="comma-separated workloads, e.g. W1,W4"
    )
    p.add_argument(
        "--repeat", type=int, default=None, help="rounds per case (default 3 quick, 7 full)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/torch threads (default 1; 0 = library defaults)",
    )
    p.add_argument(
        "--plot", type=Path, help="write the W2/W4 figure here (e.g. docs/_static/performance.png)"
    )
    p.add_argument("--json", type=Path, help="write every median and sample here")
    p.add_argument(
        "--profile", type=_names, help="profile tinygrad_act on these workloads instead of timing"
    )
    args = p.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        p.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.threads < 0:
        p.error(f"--threads must be 0 (library defaults) or more, got {args.threads}")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    out = sys.stdout
    threads = machine.limit_threads(args.threads)
    if args.profile:
        profiling.profile_times(args.profile, out)
        profiling.profile_gc(args.profile, out)
        if "W3" in args.profile:
            profiling.profile_memory(out)
        return 0

    started = time.perf_counter()
    repeat = args.repeat or (3 if args.quick else 7)
    min_time = 0.03 if args.quick else 0.2
    mode = "quick" if args.quick else "full"
    print(f"tinygrad_act benchmarks ({mode} run, {repeat} interleaved rounds per case)", file=out)
    for name, value in machine.facts() + [("threads", threads)]:
        print(f"  {name:<12} {value}", file=out)

    notes, rows, results = [], [], {}
    for name in args.only:  # one workload at a time: a round lasts seconds, not minutes
        if name in TIMED:
            cases = harness.run_interleaved(TIMED[name].cases(args.quick), repeat, min_time)
            results.update((c.key, c) for c in cases)
    w3 = w3_memory.run(args.quick) if "W3" in args.only else []
    for name in args.only:
        if name == "W3":
            rows += w3_memory.report(w3)
            notes.append(
                "W3 memory: tracemalloc = Python allocations (exact for pure-Python engines, blind to "
                "torch's C++); rss = resident-set growth to the VmHWM high-water mark, every engine, "
                "page granularity. Each in a fresh subprocess; nodes = 4N-1."
            )
        else:
            rows += TIMED[name].report(results)
            if hasattr(TIMED[name], "notes"):
                notes += TIMED[name].notes()

    print("", file=out)
    harness.print_table(rows, out)
    print("\nNotes:", file=out)
    notes.append(
        "medians of interleaved rounds; gc.collect() runs before every sample, outside the timer; "
        "'gc off' disables the cycle collector for the timed calls only; everything alive before "
        "timing is gc.freeze()-d, so a collection scans only the objects of the timed step"
    )
    for note in notes:
        print(f"  - {note}", file=out)
    print("\nTargets (issues 8 and 18):", file=out)
    for r in rows:
        if r.target:
            got = "; ".join(x for x in (r.value if r.engine != "micrograd" else "", r.ratio) if x)
            print(
                f"  {r.workload} {r.cell} {r.engine}: {got} (target {r.target}) {r.verdict}",
                file=out,
            )
    elapsed = time.perf_counter() - started
    print(f"\nTotal {elapsed:.1f} s", file=out)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "mode": mode,
            "repeat": repeat,
            "machine": dict(machine.facts() + [("threads", threads)]),
            "timed": [
                {
                    "workload": c.workload,
                    "cell": c.cell,
                    "engine": c.engine,
                    "median_s": c.median if c.samples else None,
                    "samples_s": c.samples,
                    "minor_faults_per_call": c.faults,
                    "loops": c.loops,
                    "gc_off": c.gc_off,
                    "error": c.error,
                }
                for c in results.values()
            ],
            "memory": w3,
            "notes": notes,
        }
        args.json.write_text(json.dumps(data, indent=1))
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot.plot(results, args.plot, title=f"tinygrad_act benchmarks, {mode} run")
        print(f"figure written to {args.plot}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
