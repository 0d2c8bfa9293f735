"""The assignments in docs/assignments, graded by a real nbgrader in a temporary course directory.

nbgrader makes the student version (solutions removed), then autogrades submissions: the solution
gets full marks, and each typical mistake loses exactly the points of the cells that test it, with
the checker's explanation in the feedback a student reads.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

from nbgrader.api import Gradebook  # noqa: E402

ASSIGNMENTS = Path(__file__).resolve().parent.parent / "docs" / "assignments"
NAMES = ("derivatives", "one-hidden-layer")
SOLUTION = re.compile(r"^\s*### (BEGIN|END) SOLUTION\n", re.M)

# Each submission: the solution with some lines changed, and the cells that lose their points.
MISTAKES = {
    "solution": {},
    "sigmoid-slope-for-tanh": {
        "derivatives": {"return 1 - a**2": "return a * (1 - a)"},
        "one-hidden-layer": {"* (1 - A1**2)": "* A1 * (1 - A1)"},
    },
    "relu-zero-at-kink": {
        "derivatives": {"np.where(z >= 0, 1.0, 0.0)": "np.where(z > 0, 1.0, 0.0)"}
    },
    "missing-1-over-m": {
        "one-hidden-layer": {"dW1 = np.dot(dZ1, X.T) / m": "dW1 = np.dot(dZ1, X.T)"}
    },
    "transpose": {"one-hidden-layer": {"dW1 = np.dot(dZ1, X.T) / m": "dW1 = np.dot(X, dZ1.T) / m"}},
}
LOST = {
    "sigmoid-slope-for-tanh": {
        "derivatives": {"tanh-check"},
        "one-hidden-layer": {"backward-check"},  # it still trains: 98.5% on the moons
    },
    "relu-zero-at-kink": {"derivatives": {"relu-kink-check"}},
    "missing-1-over-m": {"one-hidden-layer": {"backward-check", "train-check"}},
    "transpose": {"one-hidden-layer": {"backward-check", "train-check"}},
}
# What the feedback must say, in the student's words for each mistake.
EXPLAINED = {
    ("sigmoid-slope-for-tanh", "derivatives"): [
        "gradcheck failed: 6 of 36 Jacobian entries disagree"
    ],
    ("sigmoid-slope-for-tanh", "one-hidden-layer"): [
        "First wrong: dZ1",
        "dZ1 equals backprop with tanh's slope taken as a(1-a), sigmoid's; the slide's tanh' is 1-a²",
    ],
    ("relu-zero-at-kink", "derivatives"): [
        "x0[0] = 0.0 is a kink of your_relu: left slope 0, right slope 1, backward chose 0"
    ],
    ("missing-1-over-m", "one-hidden-layer"): ["First wrong: dW1", "missing 1/m (m = 200"],
    ("transpose", "one-hidden-layer"): ["First wrong: dW1", "a transpose"],
}


@pytest.fixture(scope="module")
def course(tmp_path_factory, kernel_specs):
    """A graded course: the assignments released, every submission autograded, feedback written."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(ASSIGNMENTS / "nbgrader_config.py", root)
    shutil.copytree(ASSIGNMENTS / "source", root / "source")
    kernels = root / "jupyter" / "kernels"
    shutil.copytree(kernel_specs, kernels)  # the tests' kernel: this interpreter, this checkout
    (kernel,) = [p.name for p in kernels.iterdir()]
    env = {
        **os.environ,
        "JUPYTER_PATH": str(root / "jupyter"),
        # nbgrader runs alembic (its database migrations) as a program: this venv's, first.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }

    def nbgrader(*args):
        command = [sys.executable, "-m", "nbgrader", *args]
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    for name in NAMES:
        nbgrader("generate_assignment", name)
    for student, changes in MISTAKES.items():
        for name in NAMES:
            nb = submission(root / "source" / name / f"{name}.ipynb", changes.get(name, {}))
            folder = root / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
    for name in NAMES:
        nbgrader("autograde", name, "--create", f"--ExecutePreprocessor.kernel_name={kernel}")
        nbgrader("generate_feedback", name)
    return root


def submission(source, changes):
    """What a student hands in: the solution's answers (their markers gone), with `changes` made."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = SOLUTION.sub("", cell.source)
    for old, new in changes.items():
        hits = [cell for cell in nb.cells if old in cell.source]
        assert len(hits) == 1, f"{old!r} is in {len(hits)} cells of {source.name}"
        hits[0].source = hits[0].source.replace(old, new)
    return nb


def scores(course, student, name):
    """{test cell: (score, max score)} from nbgrader's gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        nb = gradebook.find_submission_notebook(name, name, student)
        return {grade.name: (grade.score, grade.max_score) for grade in nb.grades}


def feedback(course, student, name):
    """The feedback page's text, as a student reads it, tags gone and lines joined (reports wrap)."""
    page = (course / "feedback" / student / name / f"{name}.html").read_text()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


@pytest.mark.parametrize("name", NAMES)
def test_the_student_version_has_every_answer_removed_and_every_check_kept(course, name):
    source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
    released = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    answers = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    blanks = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(blanks) == len(answers) >= 4
    for blank, answer in zip(blanks, answers, strict=True):
        assert "### BEGIN SOLUTION" in answer.source
        assert (
            "BEGIN SOLUTION" not in blank.source and "raise NotImplementedError()" in blank.source
        )
        assert SOLUTION.split(answer.source)[2] not in blank.source  # the answer itself is gone
    checks = [c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checks == [
        c.source for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")
    ]


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_gets_full_marks(course, name):
    graded = scores(course, "solution", name)
    assert len(graded) >= 5
    assert all(score == top > 0 for score, top in graded.values()), graded


@pytest.mark.parametrize("student", [s for s in MISTAKES if s != "solution"])
@pytest.mark.parametrize("name", NAMES)
def test_a_mistake_loses_exactly_the_points_of_its_cells(course, student, name):
    graded = scores(course, student, name)
    lost = LOST[student].get(name, set())
    expected = {cell: (0.0 if cell in lost else top, top) for cell, (_, top) in graded.items()}
    assert graded == expected
    assert lost <= set(graded)


@pytest.mark.parametrize(("student", "name"), list(EXPLAINED))
def test_the_feedback_explains_the_mistake(course, student, name):
    text = feedback(course, student, name)
    for sentence in EXPLAINED[student, name]:
        assert sentence in text, f"{sentence!r} is not in the feedback"
