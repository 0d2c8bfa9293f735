"""What the numbers were measured on: Python, numpy and its BLAS, threads, CPUs, peer versions."""

from __future__ import annotations

import importlib
import os
import platform
import sys

import numpy as np

PEERS = ("micrograd", "torch", "autograd", "mygrad")


def peer(name):
    """The peer's module, or None when it is not installed (its cases are then skipped)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: BLAS threads unknown"]
    lines = []
    for pool in threadpool_info():
        lines.append(
            f"{pool['user_api']}: {pool['internal_api']} {pool.get('version') or ''} "
            f"({pool.get('architecture') or '-'}, {pool['num_threads']} threads, "
            f"{os.path.basename(pool['filepath'])})"
        )
    return lines


_limits = []  # keeps threadpoolctl's limiter alive for the whole run


def limit_threads(n):
    """Run BLAS, OpenMP and torch with `n` threads (0: leave every library's default). A note back.

    On a shared 2-core machine, two BLAS threads in numpy plus torch's OpenMP pool fight over the
    cores and the other users' processes; the times then measure the scheduler, not the engines.
    """
    if n == 0:
        return "library defaults"
    notes = []
    try:
        from threadpoolctl import threadpool_limits

        _limits.append(threadpool_limits(limits=n))
        notes.append(f"BLAS/OpenMP limited to {n} via threadpoolctl")
    except ImportError:
        notes.append("threadpoolctl missing: BLAS threads not limited")
    torch = peer("torch")
    if torch is not None:
        torch.set_num_threads(n)
        notes.append(f"torch.set_num_threads({n})")
    return "; ".join(notes)


def _commit():
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tinygrad_act"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in tinygrad_act/" if dirty else "")


def facts():
    """A list of (name, value) lines describing this run's machine and software."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    rows = [
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("platform", platform.platform()),
        ("cpu", f"{_cpu_model()}; {os.cpu_count()} CPUs, {usable} usable by this process"),
        ("numpy", np.__version__),
        ("tinygrad_act", f"commit {_commit()}"),
    ]
    rows += [("blas", line) for line in _blas()]
    env = {
        k: v
        for k, v in os.environ.items()
        if k.endswith("_NUM_THREADS") or k.startswith("OPENBLAS")
    }
    rows.append(("thread env", ", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none set"))
    for name in PEERS:
        v = _version(name)
        note = v if v else "not installed: skipped"
        if name == "torch" and v and peer("torch") is not None:
            import torch

            note += f" ({torch.get_num_threads()} intra-op threads)"
        rows.append((name, note))
    return rows
