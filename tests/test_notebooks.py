"""The project's own lessons (docs/notebooks) run in a real Jupyter kernel, and git holds them clean.

Each notebook checks its own numbers with ``assert`` cells (the slide's points, the lecture's
gradients), so running every cell without an error is the test. The docs build runs them again
and shows their outputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"
LESSONS = {
    "derivatives-of-activations.ipynb": "Derivatives of activation functions",
    "backprop-by-hand.ipynb": "Backprop by hand",
    "training-and-slopes.ipynb": "Training and what the slopes do",
    "chain-rule-two-ways.ipynb": "The chain rule, two ways",
}
STRIP = [sys.executable, str(ROOT / "tools" / "notebooks.py")]


def test_the_four_lessons_are_there_each_titled():
    for name, title in LESSONS.items():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert nb.cells[0].source.splitlines()[0] == f"# {title}", name


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_every_cell_of_the_lesson_runs(name, run_notebook):
    ran = run_notebook(nbformat.read(NOTEBOOKS / name, as_version=4))
    assert ran.errors == []
    code = [c for c in ran.nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    pictures = [
        o
        for c in code
        for o in c.outputs
        if {"image/png", "image/svg+xml"} & set(o.get("data", {}))
    ]
    assert pictures, f"{name} shows no plot or graph"  # fmt: skip


def test_notebooks_in_git_have_no_outputs():
    done = subprocess.run([*STRIP, "--check", str(NOTEBOOKS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_the_check_names_a_notebook_with_outputs_and_stripping_cleans_it(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("1 + 1")]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]  # fmt: skip
    nb.cells[1].execution_count = 1
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    done = subprocess.run([*STRIP, "--check", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1 and f"{path}: outputs in cells 1" in done.stdout
    subprocess.run([*STRIP, str(path)], check=True, capture_output=True)
    cleaned = json.loads(path.read_text())
    assert cleaned["cells"][1]["outputs"] == [] and cleaned["cells"][1]["execution_count"] is None
    assert "".join(cleaned["cells"][1]["source"]) == "1 + 1"
    assert subprocess.run([*STRIP, "--check", str(path)]).returncode == 0
    nb.cells[1].outputs, nb.cells[1].execution_count = [], None
    assert path.read_text() == nbformat.writes(nb) + "\n"  # the layout nbformat writes: small diffs


def test_the_derivatives_lesson_shows_the_explorer_widget_and_its_static_numbers(run_notebook):
    pytest.importorskip("anywidget", reason="the widgets extra (anywidget) is not installed")
    ran = run_notebook(nbformat.read(NOTEBOOKS / "derivatives-of-activations.ipynb", as_version=4))
    assert ran.errors == []
    shown = [
        o["data"]
        for c in ran.nb.cells
        if c.cell_type == "code" and "ActivationExplorer(" in c.source
        for o in c.outputs
        if "data" in o
    ]
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]
    assert "1-a² = 1-0.9999999958777² = 8.245e-09" in shown[0]["text/html"]  # without a front end
