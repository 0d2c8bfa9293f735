"""Shared test helpers: an independent central-difference derivative, seeded randomness, a
real Jupyter kernel for the notebooks, and one quick build of the demo page for the tests that
read it and the ones that look at it in a browser."""

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("default", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("default")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def central_difference(f, x, eps=1e-6):
    """d f(x).sum() / dx by central differences, for a float or float64 array x (independent of the engine)."""
    if isinstance(x, float):
        return (f(x + eps) - f(x - eps)) / (2 * eps)
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = np.sum(f(x.copy()))
        x[i] = old - eps
        down = np.sum(f(x.copy()))
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


# ---- notebooks in a real Jupyter kernel ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "tinygrad-act-tests"


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory):
    """A kernelspec for this interpreter with this checkout first on the path.

    Jupyter's default "python3" kernel could be any Python a user installed a spec for; the
    notebooks must test the package of this worktree, run by the interpreter running the tests.
    """
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / KERNEL
    spec.mkdir()
    env = {"PYTHONPATH": str(ROOT), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": KERNEL, "language": "python", "env": env}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return folder


_WHERE = (
    "import json, sys, tinygrad_act; print(json.dumps([sys.executable, tinygrad_act.__file__]))"
)


class NotebookRun:
    """A notebook executed cell by cell: the notebook with its outputs, the errors, the probes."""

    def __init__(self, nb, errors, probes, cwd):
        self.nb, self.errors, self.probes, self.cwd = nb, errors, probes, cwd

    def streams(self, index):
        """Everything cell `index` printed."""
        outputs = self.nb.cells[index].get("outputs", [])
        return "".join(o.text for o in outputs if o.output_type == "stream")


@pytest.fixture(scope="session")
def run_notebook(kernel_specs, tmp_path_factory):
    """run(nb, probes={cell index: code}) -> NotebookRun, in a fresh kernel and folder.

    Every cell runs even when an earlier one fails (`errors` lists each failure as
    ``(index, first line, "Name: message")``). A probe runs in the same kernel right after the
    cell it is keyed by (-1: before the first cell) and prints one JSON value, which
    `probes[index]` holds (or "probe failed: Name: message").
    """
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    def run(nb, probes=None, timeout=120):
        probes = {-2: _WHERE, **(probes or {})}
        cwd = tmp_path_factory.mktemp("notebook")
        # Only our kernelspec: a kernel that starts is then surely this interpreter.
        specs = KernelSpecManager(kernel_dirs=[str(kernel_specs)], ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
        client = NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            allow_errors=True,
            resources={"metadata": {"path": str(cwd)}},
        )
        errors, results = [], {}

        def probe(after):
            if after not in probes:
                return
            cell = nbformat.v4.new_code_cell(probes[after])
            nb.cells.append(cell)  # nbclient stores outputs in the notebook: lend it a cell
            try:
                client.execute_cell(cell, len(nb.cells) - 1)
            finally:
                nb.cells.pop()
            failed = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
            printed = "".join(o.text for o in cell.outputs if o.get("name") == "stdout")
            results[after] = f"probe failed: {failed[0]}" if failed else json.loads(printed)

        with client.setup_kernel(cleanup_kc=True):  # we made the manager: shut it down
            probe(-2)
            assert results.pop(-2) == [sys.executable, str(ROOT / "tinygrad_act" / "__init__.py")]
            probe(-1)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    for out in cell.outputs:
                        if out.output_type == "error":
                            first = cell.source.strip().splitlines()[0]
                            errors.append((index, first, f"{out.ename}: {out.evalue}"))
                probe(index)
        return NotebookRun(nb, errors, results, cwd)

    return run


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """`tinygrad-act demo --quick` into a temporary folder: (folder, exit code, stdout, stderr)."""
    from tinygrad_act import cli

    out = tmp_path_factory.mktemp("demo")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["demo", "--out", str(out), "--quick"])
    return out, code, stdout.getvalue(), stderr.getvalue()


@contextlib.contextmanager
def serving_lab():
    """The lab served by uvicorn on 127.0.0.1 at a free port, in a thread: yields its URL and
    stops the server when the block ends."""
    pytest.importorskip("uvicorn", reason="the lab extra (starlette, uvicorn) is not installed")
    import threading

    from tinygrad_act.lab.server import build_server, listen

    sock, url = listen("127.0.0.1", 0)
    server = build_server()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def lab_server():
    """The lab for a whole test module: its URL."""
    with serving_lab() as url:
        yield url
