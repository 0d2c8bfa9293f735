"""The documentation cannot rot: every example in it runs, and every public name is documented.

- Every ```python block of docs/*.md and README.md runs; ```pycon blocks (``>>>``) are doctests
  whose printed output must match. The blocks of one file share a namespace, in order, and run in
  a temporary working directory.
- Every ``$ tinygrad-act ...`` line of a ```console block in the docs runs through the CLI and
  exits 0.
- Every public function and class has a docstring with an example, and appears in the API page.
- Every registered activation has a section on the derivatives page.
- What the docs claim about PyTorch's conventions holds for the installed PyTorch.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import shlex
from pathlib import Path

import pytest

import tinygrad_act

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKDOWN = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
# Modules whose public names the API page must list; the last three land with their features.
API_MODULES = ("engine", "gradcheck", "viz", "nn", "health", "training", "settings", "figures")
# Modules whose public functions and classes need a docstring with an example.
EXAMPLE_MODULES = ("gradcheck", "viz", "nn", "health", "training", "settings", "figures")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                   re.MULTILINE | re.DOTALL)  # fmt: skip


def code_blocks(path, languages):
    """(language, line number, source) of each fenced block in `path` whose language is wanted."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        language = match["info"].strip().split(" ")[0] if match["info"].strip() else ""
        if language in languages:
            line = text.count("\n", 0, match.start()) + 2
            blocks.append((language, line, inspect.cleandoc("\n" + match["body"]) + "\n"))
    return blocks


def _id(path):
    return str(path.relative_to(ROOT))


def test_the_fence_reader_finds_python_and_pycon_blocks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nx = 1\n```\n\n````pycon\n>>> x\n1\n````\n```sh\nls\n```\n")
    assert code_blocks(page, {"python", "pycon"}) == [
        ("python", 3, "x = 1\n"),
        ("pycon", 7, ">>> x\n1\n"),
    ]


@pytest.mark.parametrize(
    "path", [p for p in MARKDOWN if code_blocks(p, {"python", "pycon"})], ids=_id
)
def test_every_example_in_the_docs_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    registered = set(tinygrad_act.ACTIVATIONS)
    try:
        _run_blocks(path, namespace)
    finally:  # an example that registers an activation must not leak it into other tests
        for name in set(tinygrad_act.ACTIVATIONS) - registered:
            tinygrad_act.unregister_activation(name)


def _run_blocks(path, namespace):
    parser = doctest.DocTestParser()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for language, line, source in code_blocks(path, {"python", "pycon"}):
        where = f"{_id(path)}:{line}"
        if language == "python":
            exec(compile(source, where, "exec"), namespace)
            continue
        test = parser.get_doctest(source, namespace, where, str(path), line)
        runner = doctest.DocTestRunner(optionflags=flags)
        failures = []
        runner.run(test, out=failures.append, clear_globs=False)
        namespace.update(test.globs)  # later blocks see what this one defined
        assert runner.failures == 0, f"doctest block at {where} failed:\n" + "".join(failures)


def _console_commands():
    commands = []
    for path in sorted(DOCS.glob("*.md")):
        for _, line, source in code_blocks(path, {"console"}):
            for offset, text in enumerate(source.splitlines()):
                if text.startswith("$ tinygrad-act "):
                    argv = shlex.split(text[2:])[1:]
                    commands.append(pytest.param(argv, id=f"{path.name}:{line + offset}"))
    return commands


@pytest.mark.parametrize("argv", _console_commands())
def test_every_command_shown_in_the_docs_runs(argv, tmp_path, monkeypatch, capsys):
    from tinygrad_act.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    status = main(argv)
    assert status in (0, None), (
        f"tinygrad-act {' '.join(argv)} exited {status}: {capsys.readouterr()}"
    )


# ---- every public name documented, with an example ------------------------------------------------


def public_names(module):
    """The names a module offers: its __all__, else the functions and classes defined in it."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]


def _present_modules(names):
    found = [tinygrad_act]
    for name in names:
        try:
            found.append(importlib.import_module(f"tinygrad_act.{name}"))
        except ModuleNotFoundError:
            continue  # that feature has not landed; its page is not built either
    return found


def _documented_objects():
    seen, params = set(), []
    for module in _present_modules(EXAMPLE_MODULES):
        for name in public_names(module):
            obj = getattr(module, name)
            if not callable(obj) or id(obj) in seen:
                continue  # data (ACTIVATIONS) has no docstring of its own; the API page covers it
            seen.add(id(obj))
            qualified = f"{module.__name__}.{name}"
            params.append(pytest.param(obj, id=qualified))
    return params


@pytest.mark.parametrize("obj", _documented_objects())
def test_every_public_function_and_class_has_a_docstring_with_an_example(obj):
    doc = (obj.__doc__ or "") if inspect.isclass(obj) else (inspect.getdoc(obj) or "")
    assert doc.strip(), f"{obj.__qualname__} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return  # an exception is raised by the library, not called: its docstring says when
    assert ">>>" in doc, f"{obj.__qualname__}'s docstring has no example (a >>> line)"


def test_every_public_name_is_on_the_api_page():
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    missing = []
    for module in _present_modules(API_MODULES):
        for name in public_names(module):
            obj = getattr(module, name)
            # One object, documented once: under the package's name or its defining module's.
            names = {f"{module.__name__}.{name}"}
            if getattr(tinygrad_act, name, None) is obj:
                names.add(f"tinygrad_act.{name}")
            home = getattr(obj, "__module__", None)
            if home and getattr(importlib.import_module(home), name, None) is obj:
                names.add(f"{home}.{name}")
            if not any(re.search(rf"{re.escape(n)}\b", page) for n in names):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"not on docs/api.md: {missing}"


def test_every_registered_activation_has_a_section_on_the_derivatives_page():
    page = (DOCS / "derivatives.md").read_text(encoding="utf-8")
    missing = [name for name in tinygrad_act.ACTIVATIONS if f"({name})=" not in page]
    assert not missing, (
        f"activations without a section (a `(name)=` target) in derivatives.md: {missing}"
    )


def test_every_page_is_in_the_toctree():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    missing = [p for p in sorted(pages) if not re.search(rf"^{re.escape(p)}$", index, re.MULTILINE)]
    assert not missing, f"pages missing from the toctree of docs/index.md: {missing}"


# ---- what the docs say about PyTorch ----------------------------------------------------------------


def test_docs_claims_about_pytorch_relu_at_zero_hold():
    torch = pytest.importorskip("torch")
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.relu(z).sum().backward()
    assert z.grad.item() == 0.0  # PyTorch: ReLU'(0) = 0; the lecture and this engine: 1
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.leaky_relu(z, negative_slope=0.01).sum().backward()
    assert z.grad.item() == pytest.approx(0.01)  # PyTorch: Leaky ReLU'(0) = slope
    x = tinygrad_act.Value(0.0)
    x.relu().backward()
    assert x.grad == 1.0


def test_docs_claims_about_micrograd_hold():
    micrograd = pytest.importorskip("micrograd.engine")
    x = micrograd.Value(3.0)
    y = x * x * x
    y.backward()
    first = x.grad
    y.backward()
    assert (first, x.grad) == (27.0, 72.0)  # the double count the backprop page describes
    z = micrograd.Value(0.0)
    z.relu().backward()
    assert z.grad == 0
