"""The package's layout: one concern per module, and imports that only point down (no circle)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_act"

# The engine and the two tables it reads: none of them may pull in drawing, plotting or the web.
CORE = ("numeric", "grad_mode", "rules", "activations", "backprop", "engine", "observe", "forward")
CORE += ("inputs", "display", "numpy_api")  # what the engine hands its input checks, repr and numpy


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
    """Each module, and each subpackage (nn, health, lab) as one node, with what it imports."""
    files = {p.stem: [p] for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    files.update(
        {p.parent.name: sorted(p.parent.glob("*.py")) for p in PACKAGE.glob("*/__init__.py")}
    )
    return {
        name: set().union(*map(_module_imports, paths)) & set(files) - {name}
        for name, paths in files.items()
    }


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
    for helper in ("inputs", "display", "numpy_api"):  # the engine calls them; they call Values
        assert not graph[helper] & {"engine", "backprop"}, f"{helper} imports {graph[helper]}"


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


# ---- issue 24, item 1: the graph's public face -----------------------------------------------------

# The engine and its two tables: only they read a Value's own underscored slots and methods. The
# rest of the package (drawings, the lab, checks; later the checker, the code generator, the
# widgets) reads micrograd's _prev and _op and the public names: Value.rule and Value.grad_data,
# backprop.apply_rule, local_derivatives and backward_steps, engine.make_node.
ENGINE = ("engine", "backprop", "forward", "rules", "activations")
PUBLIC_UNDERSCORED = {"_prev", "_op", "_repr_html_"}  # micrograd's names; IPython's protocol


def _value_private_names():
    from tinygrad_act import Value

    names = {n for n in dir(Value) if n.startswith("_") and not n.startswith("__")}
    return names - PUBLIC_UNDERSCORED


def _engine_aliases(tree):
    """The names a file gives the engine's modules (`from tinygrad_act import backprop as bp`)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tinygrad_act":
            aliases |= {a.asname or a.name for a in node.names if a.name in ENGINE}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("tinygrad_act.") and a.name.split(".")[1] in ENGINE:
                    aliases.add(a.asname or a.name)
    return aliases


def _private_reads(source, value_names):
    """'line N: what' for each underscored name of the engine that `source` reads: a Value's own
    slot or method (on any receiver but self and cls), a module's private name, imported or read."""
    tree = ast.parse(source)
    aliases = _engine_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "tinygrad_act" and len(parts) > 1 and parts[1] in ENGINE:
                found += [
                    f"line {node.lineno}: imports {a.name} from {node.module}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            receiver = ast.unparse(node.value)
            if node.attr.startswith("__") or receiver in ("self", "cls"):
                continue  # a class's own attributes
            if node.attr in value_names or receiver in aliases:
                found.append(f"line {node.lineno}: reads {receiver}.{node.attr}")
    return found


def test_no_module_outside_the_engine_reads_the_engines_private_names():
    value_names = _value_private_names()
    assert {"_rule", "_grad", "_x", "_g", "_uses", "_backward"} <= value_names
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE and path.stem in ENGINE:
            continue
        where = path.relative_to(PACKAGE.parent).as_posix()
        for hit in _private_reads(path.read_text(encoding="utf-8"), value_names):
            line, what = hit.split(": ", 1)
            found.append(f"{where} {line}: {what}")
    assert not found, "the engine's private names read outside it:\n" + "\n".join(found)


def test_the_scan_sees_each_kind_of_private_read():
    source = (
        "from tinygrad_act.engine import _make\n"
        "from tinygrad_act import backprop as bp\n"
        "def f(node, self):\n"
        "    return node._rule, node._grad, bp._seed, node._prev, node._op, self._grad, bp.apply_rule\n"
    )
    assert _private_reads(source, _value_private_names()) == [
        "line 1: imports _make from tinygrad_act.engine",
        "line 4: reads node._rule",
        "line 4: reads node._grad",
        "line 4: reads bp._seed",
    ]
