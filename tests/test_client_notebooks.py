"""The notebooks students already use run on tinygrad_act, in a real Jupyter kernel.

tests/clients/ holds unchanged copies of nn-zero-to-hero's two micrograd lecture notebooks and of
micrograd's demo.ipynb and trace_graph.ipynb (MIT, Andrej Karpathy; see tests/clients/README.md).
Each test changes only what a student changes: the lecture's ``class Value`` for
``from tinygrad_act import Value``, micrograd's imports for tinygrad_act's. Every cell must run
and show the numbers the original shows. The oracles:

- the lecture notebooks run a second time, unchanged, on their own ``class Value``;
- micrograd's demo is compared with the outputs Karpathy's run saved in the notebook (the run is
  seeded, and micrograd's MLP and tinygrad_act's draw the same weights in the same order);
- micrograd's trace_graph runs a second time on micrograd itself.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

CLIENTS = Path(__file__).resolve().parent / "clients"
FIRST_HALF = "micrograd_lecture_first_half_roughly.ipynb"
SECOND_HALF = "micrograd_lecture_second_half_roughly.ipynb"
DEMO = "mg_demo.ipynb"
TRACE_GRAPH = "mg_trace_graph.ipynb"

# The neuron of the lecture: o = tanh(x1*w1 + x2*w2 + b), its nodes by their names in the notebooks.
NEURON = ["x1", "x2", "w1", "w2", "b", "x1w1", "x2w2", "x1w1x2w2", "n", "o"]
GRADS = f"import json; print(json.dumps({{k: globals()[k].grad for k in {NEURON!r}}}))"
LECTURE_GRADS = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5, "x1w1": 0.5,
                 "x2w2": 0.5, "x1w1x2w2": 0.5, "n": 0.5, "o": 1.0}  # fmt: skip


def load(name):
    return nbformat.read(CLIENTS / name, as_version=4)


def code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def with_tinygrad_act_value(nb):
    """The lecture notebook with its ``class Value`` definition replaced by one import.

    The class shares its cell with the lecture's first expression (``a = Value(2.0, ...)``);
    that code stays, only the class goes.
    """
    cells = [c for _, c in code_cells(nb) if c.source.startswith("class Value")]
    assert len(cells) == 1, "the lecture notebook should define Value in exactly one cell"
    lines = cells[0].source.split("\n")
    end = next((i for i, line in enumerate(lines) if i and line[:1].strip()), len(lines))
    cells[0].source = "\n".join(["from tinygrad_act import Value", *lines[end:]])
    return nb


MICROGRAD_IMPORTS = {
    "from micrograd.engine import Value": "from tinygrad_act import Value",
    "from micrograd.nn import Neuron, Layer, MLP": "from tinygrad_act.nn import Neuron, Layer, MLP",
    "from micrograd import nn": "from tinygrad_act import nn",
}


def with_tinygrad_act_imports(nb):
    """micrograd's notebook with each micrograd import renamed, and nothing else changed."""
    for _, cell in code_cells(nb):
        for old, new in MICROGRAD_IMPORTS.items():
            cell.source = cell.source.replace(old, new)
    left = [c.source for _, c in code_cells(nb) if "micrograd" in c.source]
    assert not left, f"micrograd imports this test does not rename: {left}"
    return nb


# ---- what a cell shows, comparable across engines --------------------------------------------------

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
# The lecture's Value prints Value(data=-8.0); ours adds grad and label: compare the data.
VALUE_REPR = re.compile(r"Value\(data=([^,)]+)[^)]*\)")
GRAPH_NODE = re.compile(r'<g id="node\d+" class="node">(.*?)</g>', re.DOTALL)
SVG_TEXT = re.compile(r"<text[^>]*>(.*?)</text>")


def records(svg):
    """The record nodes of a drawn graph, each as its texts: (label, 'data ...', 'grad ...')."""
    nodes = [
        tuple(html.unescape(t).strip() for t in SVG_TEXT.findall(n))
        for n in GRAPH_NODE.findall(svg)
    ]
    return sorted(n for n in nodes if len(n) > 1)  # fmt: skip


def shown(cell):
    """(text with numbers replaced by #, the numbers, the labelled records of drawn graphs)."""
    text, graphs = [], []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            text.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            if "image/svg+xml" in out.data:
                graphs.append(
                    [r for r in records(out.data["image/svg+xml"]) if len(r) == 3 and r[0]]
                )
            elif "text/plain" in out.data:
                text.append(out.data["text/plain"])
    text = re.sub(r" at 0x[0-9a-f]+", "", "".join(text))  # object addresses
    text = VALUE_REPR.sub(lambda m: f"Value(data={m[1]})", text)
    numbers = [float(x) for x in NUMBER.findall(text)]
    if text.startswith("[Value("):  # the lecture's _prev is a set: its topological order varies
        numbers.sort()
    return NUMBER.sub("#", text), numbers, graphs


def assert_shows_the_same(ours, oracle, rel=1e-5):
    """Every code cell prints and draws what the oracle's does; numbers to 6 significant digits
    (tinygrad_act's repr rounds there; tanh is math.tanh here, the lecture's exp formula there)."""
    assert len(ours.nb.cells) == len(oracle.nb.cells)
    for (index, mine), (_, theirs) in zip(code_cells(ours.nb), code_cells(oracle.nb), strict=True):
        text, numbers, graphs = shown(mine)
        want_text, want_numbers, want_graphs = shown(theirs)
        where = f"cell {index} ({mine.source.strip()[:40]!r})"
        assert text == want_text, where
        assert numbers == pytest.approx(want_numbers, rel=rel, abs=1e-9), where
        assert graphs == want_graphs, where


# ---- nn-zero-to-hero, lectures/micrograd ---------------------------------------------------------


def lecture_replay(nb):
    """The lecture's order of the manual chain rule: a fresh neuron (the cell that builds it),
    then ``o.grad = 1.0`` and each node's ``_backward()``, one cell at a time, as in the video."""
    build = next(c.source for _, c in code_cells(nb) if c.source.startswith("# inputs x1,x2"))
    steps = [c.source for _, c in code_cells(nb) if c.source.strip() == "o.grad = 1.0"][:1]
    steps += [c.source for _, c in code_cells(nb) if c.source.strip().endswith("._backward()")]
    assert len(steps) == 6, steps  # o.grad = 1.0, then o, n, b, x1w1x2w2, x2w2 and x1w1
    return "\n".join([build, *steps, GRADS])


@pytest.fixture(scope="module")
def first_half(run_notebook):
    original = load(FIRST_HALF)
    last = code_cells(original)[-1][0]
    manual = max(i for i, c in code_cells(original) if c.source.strip().endswith("._backward()"))
    probes = {manual: GRADS, last: lecture_replay(original)}
    ours = run_notebook(with_tinygrad_act_value(load(FIRST_HALF)), probes)
    oracle = run_notebook(original, probes)
    return ours, oracle, manual, last


def test_first_half_every_cell_runs_with_tinygrad_act_value(first_half):
    ours, _, _, _ = first_half
    assert ours.errors == []


def test_first_half_shows_the_lectures_numbers_and_graphs(first_half):
    ours, oracle, _, _ = first_half
    assert_shows_the_same(ours, oracle)


def test_first_half_manual_backward_steps_give_the_lectures_gradients(first_half):
    ours, oracle, manual, last = first_half
    assert ours.probes[last] == pytest.approx(LECTURE_GRADS)
    assert oracle.probes[last] == pytest.approx(LECTURE_GRADS)
    # Run top to bottom, the notebook calls the steps after o.backward(): the shares add up on
    # top of backward's gradients, in the lecture's Value and in ours alike.
    assert ours.probes[manual] == pytest.approx(oracle.probes[manual])
    assert ours.probes[manual] != pytest.approx(LECTURE_GRADS)


@pytest.fixture(scope="module")
def second_half(run_notebook):
    # Karpathy's notebook checks its Value against PyTorch in a few cells: the oracle must be there.
    pytest.importorskip(
        "torch", reason="the notebook's PyTorch cells need torch (make oracle installs it)"
    )
    # The notebook's MLP draws unseeded weights; both runs start from the same seed.
    seed = {-1: "import json, random; random.seed(0); print(json.dumps(None))"}
    ours = run_notebook(with_tinygrad_act_value(load(SECOND_HALF)), seed)
    oracle = run_notebook(load(SECOND_HALF), seed)
    return ours, oracle


def test_second_half_every_cell_runs_with_tinygrad_act_value(second_half):
    ours, _ = second_half
    assert ours.errors == []


def test_second_half_shows_the_lectures_numbers_and_graphs(second_half):
    ours, oracle = second_half
    assert_shows_the_same(ours, oracle)
    losses = [float(line.split()[1]) for line in ours.streams(17).splitlines()]
    assert len(losses) == 20 and losses[-1] < losses[0] / 10  # the inline MLP learns


# ---- karpathy/micrograd --------------------------------------------------------------------------

STEP = re.compile(r"step (\d+) loss ([\d.e+-]+), accuracy ([\d.]+)%")


def test_micrograd_demo_trains_the_moons_to_100_percent_like_micrograd(run_notebook):
    saved = load(DEMO)  # Karpathy's outputs, saved in the notebook
    ours = run_notebook(with_tinygrad_act_imports(load(DEMO)))
    assert ours.errors == []
    train = next(i for i, c in code_cells(saved) if c.source.startswith("# optimization"))
    log, want = STEP.findall(ours.streams(train)), STEP.findall(saved_streams(saved, train))
    assert len(log) == len(want) == 100
    assert [(k, acc) for k, _, acc in log] == [(k, acc) for k, _, acc in want]
    assert [float(x) for _, x, _ in log] == pytest.approx([float(x) for _, x, _ in want], rel=1e-9)
    assert log[-1][2] == "100.0"
    # The printed model, its 337 parameters and the first loss, as micrograd printed them.
    for index in (train - 2, train - 1):
        assert shown(ours.nb.cells[index])[0] == shown(saved.cells[index])[0]
        assert shown(ours.nb.cells[index])[1] == pytest.approx(
            shown(saved.cells[index])[1], rel=1e-5
        )
    boundary = ours.nb.cells[train + 1].outputs
    assert any("image/png" in o.get("data", {}) for o in boundary)  # the decision boundary


def saved_streams(nb, index):
    return "".join(o.text for o in nb.cells[index].outputs if o.output_type == "stream")


def test_micrograd_trace_graph_draws_and_renders_like_micrograd(run_notebook):
    probes = {
        3: "import json; print(json.dumps([y.data, x.grad]))",
        4: "import json; print(json.dumps([y.data, *[v.grad for v in x], "
        "*[p.grad for p in n.parameters()]]))",
    }
    ours = run_notebook(with_tinygrad_act_imports(load(TRACE_GRAPH)), probes)
    micrograd = run_notebook(load(TRACE_GRAPH), probes)
    assert ours.errors == []
    for cell in probes:
        assert ours.probes[cell] == pytest.approx(micrograd.probes[cell]), cell
    assert ours.probes[3] == [3.0, 2.0]  # relu(2x + 1) at x = 1, slope 2
    for index in (3, 4):
        mine, theirs = (
            r.nb.cells[index].outputs[0].data["image/svg+xml"] for r in (ours, micrograd)
        )
        # Each node's data as micrograd draws it. (Constants mixed in, the 2 and the 1 of
        # x * 2 + 1, are drawn with grad 0 here: they need no gradient. micrograd computes one.)
        assert sorted(r[0] for r in records(mine)) == sorted(r[0] for r in records(theirs))
    rendered = (ours.cwd / "gout.svg").read_text()
    assert rendered.lstrip().startswith(("<?xml", "<svg")) and "data 1.0000" in rendered
    assert (ours.cwd / "gout").read_text().startswith("digraph")
