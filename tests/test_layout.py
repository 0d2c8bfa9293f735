"""The package's layout: one concern per module, and imports that only point down (no circle)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_act"

# The engine and the two tables it reads: none of them may pull in drawing, plotting or the web.
CORE = ("numeric", "grad_mode", "rules", "activations", "backprop", "engine", "observe", "forward")


def _module_imports(path):
    """The tinygrad_act modules a file imports at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:  # module level only: a function's import runs when it is called
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "tinygrad_act":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("tinygrad_act."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {
                a.name.split(".")[1] for a in node.names if a.name.startswith("tinygrad_act.")
            }
    return found


def _graph():
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {name: _module_imports(path) & set(modules) for name, path in modules.items()}


def test_no_import_circle_among_the_package_modules():
    graph = _graph()
    state = {}

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                pytest.fail("import circle: " + " -> ".join([*path, dep]))
            if dep not in state:
                visit(dep, [*path, dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_tables_know_nothing_of_the_engine():
    graph = _graph()
    for table in ("activations", "rules", "numeric", "grad_mode", "forward", "observe"):
        assert not graph[table] & {"engine", "backprop"}, f"{table} imports {graph[table]}"
    assert "engine" not in graph["backprop"]  # the pass reads slots; the engine calls the pass
    assert not graph["observe"]  # forward mode and anomaly mode plug into it, not the reverse


def test_engine_py_still_exports_its_public_names():
    import tinygrad_act
    from tinygrad_act.engine import Value, enable_grad, gradients, is_grad_enabled, no_grad

    for obj in (Value, enable_grad, gradients, is_grad_enabled, no_grad):
        assert getattr(tinygrad_act, obj.__name__) is obj


def test_the_core_modules_import_no_drawing_plotting_or_web_framework():
    code = (
        "import sys\n"
        + "".join(f"import tinygrad_act.{m}\n" for m in CORE)
        + "heavy = [m for m in ('graphviz', 'matplotlib', 'starlette', 'uvicorn', 'tinygrad_act.viz')"
        " if m in sys.modules]\nprint(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
