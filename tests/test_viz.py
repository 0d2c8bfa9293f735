"""Drawing graphs with the real Graphviz `dot`: labels, styles, local derivatives, limits, step frames, CLI."""

import math
import operator
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

from tinygrad_act import Value, cli
from tinygrad_act.backprop import topological_order as _topological_order
from tinygrad_act.viz import (
    FORMATS,
    GraphvizNotFoundError,
    draw_backward_steps,
    draw_dot,
    save_graph,
)

SVG = "{http://www.w3.org/2000/svg}"
B = 6.8813735870195432  # the lecture's bias: tanh(x*w + b) = 1/√2, so 1-a² = 0.5 exactly-ish


def neuron(activation="tanh", b=B):
    x, w, bias = Value(2.0, label="x"), Value(-3.0, label="w"), Value(b, label="b")
    n = (x * w + bias).activate(activation)
    n.label = "o"
    return n


def parse_svg(path):
    """{title: (texts, group)} for the node and edge groups of an SVG written by dot."""
    root = ET.parse(path).getroot()
    nodes, edges = {}, {}
    for g in root.iter(SVG + "g"):
        kind = (g.get("class") or " ").split()[0]
        if kind in ("node", "edge"):
            title = g.find(SVG + "title").text
            texts = [t.text for t in g.iter(SVG + "text") if t.text and t.text.strip()]
            (nodes if kind == "node" else edges)[title] = (texts, g)
    graph_texts = [t.text for t in root.find(SVG + "g").findall(SVG + "text")]
    return nodes, edges, graph_texts


def shape_of(group):
    """The outline of a node: its first polygon or ellipse."""
    for child in group:
        if child.tag in (SVG + "polygon", SVG + "ellipse"):
            return child
    raise AssertionError("node has no outline")


def highlighted(nodes):
    red = sorted(title for title, (_, g) in nodes.items() if shape_of(g).get("stroke") == "red")
    marked = sorted(t for t, (_, g) in nodes.items() if "highlight" in g.get("class").split())
    assert red == marked
    return red


# ---- the picture of a neuron ------------------------------------------------------------------


def test_neuron_svg_has_every_label_data_grad_op_and_edge(tmp_path):
    n = neuron()
    n.backward()
    path = save_graph(n, tmp_path / "neuron.svg")
    nodes, edges, _ = parse_svg(path)
    slope = 1 - math.tanh(2.0 * -3.0 + B) ** 2  # the lecture's 1-a²
    expected = {
        "v0": ["x", "data 2", f"grad {-3.0 * slope:.4g}"],
        "v1": ["w", "data -3", f"grad {2.0 * slope:.4g}"],
        "v2": ["x*w", "data -6", f"grad {slope:.4g}"],  # unlabelled: named by its expression
        "v3": ["b", f"data {B:.4g}", f"grad {slope:.4g}"],
        "v4": ["x*w + b", f"data {-6 + B:.4g}", f"grad {slope:.4g}"],
        "v5": ["o", f"data {math.tanh(-6 + B):.4g}", "grad 1"],
    }
    for title, texts in expected.items():
        assert nodes[title][0] == texts
    assert expected["v0"] == ["x", "data 2", "grad -1.5"]  # the lecture's worked numbers
    assert {t: nodes[t][0] for t in ("o2", "o4", "o5")} == {
        "o2": ["*"],
        "o4": ["+"],
        "o5": ["tanh"],
    }
    assert set(nodes) == set(expected) | {"o2", "o4", "o5"}
    assert set(edges) == {
        "v0->o2", "v1->o2", "o2->v2", "v2->o4", "v3->o4", "o4->v4", "v4->o5", "o5->v5",
    }  # fmt: skip


def test_leaves_root_and_activation_ops_look_different(tmp_path):
    n = neuron()
    n.backward()
    nodes, _, _ = parse_svg(save_graph(n, tmp_path / "neuron.svg"))

    def fill(title):
        return shape_of(nodes[title][1]).get("fill")

    assert fill("v0") == fill("v1") == fill("v3")  # the inputs alike
    assert len({fill("v0"), fill("v2"), fill("v5")}) == 3  # leaf, inner value, root
    assert fill("o5") != fill("o2") == fill("o4")  # tanh stands out among the ops
    assert shape_of(nodes["v5"][1]).get("stroke-width") == "2"


def test_show_grad_false_leaves_the_grad_field_out():
    source = draw_dot(neuron(), show_grad=False).source
    assert "| grad" not in source and 'label="x | data 2"' in source
    assert "data 2" in source


def test_show_local_labels_edges_with_local_derivatives_and_lecture_formulas(tmp_path):
    n = neuron()
    n.backward()
    _, edges, _ = parse_svg(save_graph(n, tmp_path / "local.svg", show_local=True))
    assert edges["v0->o2"][0] == ["∂/∂x = w = -3"]  # d(xw)/dx = w, named after the inputs
    assert edges["v1->o2"][0] == ["∂/∂w = x = 2"]  # d(xw)/dw = x
    assert edges["v2->o4"][0] == ["∂/∂(x*w) = 1"]
    assert edges["v3->o4"][0] == ["∂/∂b = 1"]
    slope = 1 - math.tanh(-6 + B) ** 2
    assert edges["v4->o5"][0] == [f"∂/∂(x*w + b) = 1-a² = {slope:.4g} (a = o)"]  # o = tanh(..)
    assert edges["o5->v5"][0] == []  # only edges into an op carry a derivative


@pytest.mark.parametrize(
    ("activation", "z", "expected"),
    [
        ("sigmoid", 0.0, "a(1-a) = 0.25 (a = sigmoid(z))"),
        ("tanh", 0.0, "1-a² = 1 (a = tanh(z))"),
        ("relu", 0.0, "1 if z≥0 else 0 = 1"),  # the lecture's slope at 0
        ("relu", -2.0, "1 if z≥0 else 0 = 0"),
        ("leaky_relu", -2.0, "1 if z≥0 else 0.01 = 0.01"),
    ],
)
def test_local_derivative_of_each_lecture_activation(activation, z, expected):
    a = Value(z, label="z").activate(activation)
    assert f'v0 -> o1 [label="∂/∂z = {expected}"]' in draw_dot(a, show_local=True).source


def test_local_derivative_of_a_leaky_relu_with_its_own_slope():
    a = Value(-1.0).leaky_relu(slope=0.2)
    assert "1 if (-1)≥0 else 0.2 = 0.2" in draw_dot(a, show_local=True).source  # z is -1


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda x, y: x.log(), ["∂/∂x = 1/x = 0.5"]),
        (lambda x, y: x / y, ["∂/∂x = 1/y = -0.25", "∂/∂y = -x/y² = -0.125"]),
        (lambda x, y: x.exp(), ["∂/∂x = e^x = 7.389"]),
        (lambda x, y: x**3, ["∂/∂x = 3·x² = 12"]),
        (lambda x, y: x**y, ["∂/∂x = y·x^(y-1) = -0.125", "∂/∂y = x^y·log(x) = 0.04332"]),
        (lambda x, y: (x * y).log(), ["∂/∂(x*y) = 1/(x*y) = -0.125"]),
        (lambda x, y: x / 4.0, ["∂/∂x = 1/4 = 0.25", "∂/∂4 = -x/4² = -0.125"]),  # by its value
    ],
)
def test_edge_labels_use_the_graphs_own_names_from_the_one_table(make, expected):
    # x = 2, y = -4; each number is the derivative worked by hand: d(log x)/dx = 1/2,
    # d(x/y)/dy = -x/y² = -2/16, d(x³)/dx = 3·4, d(x^y)/dx = y·x^(y-1) = -4/32,
    # d(x^y)/dy = x^y·log x = log(2)/16, d(log(xy))/d(xy) = 1/(xy) = -1/8, d(x/4)/d4 = -2/16.
    x, y = Value(2.0, label="x"), Value(-4.0, label="y")
    source = draw_dot(make(x, y), show_local=True).source
    labels = re.findall(r'-> o\d+ \[label="([^"]+)"\]', source)
    assert labels[-len(expected) :] == expected
    assert not re.search(r"(?<![A-Za-z])[az](?![A-Za-z])", " ".join(labels))  # no a or z


@pytest.mark.parametrize("op", ["-", "/", "**"])
def test_local_derivatives_of_arithmetic_agree_with_central_differences(op):
    f = {"-": operator.sub, "/": operator.truediv, "**": operator.pow}[op]
    x, y, eps = 1.7, -0.6, 1e-6
    source = draw_dot(f(Value(x), Value(y)), show_local=True).source
    edges = re.findall(r'-> o2 \[label="([^"]+)"\]', source)
    labels = [float(label.split(" = ")[-1]) for label in edges]  # "∂/∂x = formula = number"
    dx = (f(x + eps, y) - f(x - eps, y)) / (2 * eps)
    dy = (f(x, y + eps) - f(x, y - eps)) / (2 * eps)
    assert labels == [pytest.approx(dx, rel=1e-3), pytest.approx(dy, rel=1e-3)]


# ---- tensors ------------------------------------------------------------------------------------


def test_tensor_nodes_show_shape_dtype_and_values_or_a_summary(tmp_path):
    X = Value(np.arange(12.0).reshape(3, 4), label="X")
    w = Value(np.array([0.5, -1.0, 0.25, 2.0], dtype=np.float64), label="w")
    h = (X @ w).sigmoid()
    loss = h.sum()
    loss.backward()
    nodes, edges, _ = parse_svg(save_graph(loss, tmp_path / "t.svg", show_local=True))
    texts = {t: v[0] for t, v in nodes.items()}
    assert texts["v0"][:3] == ["X", "(3, 4) float64", "data min 0 mean 5.5 max 11"]
    gX = X.grad  # the engine's gradient, summarised independently here
    assert texts["v0"][3] == f"grad min {gX.min():.4g} mean {gX.mean():.4g} max {gX.max():.4g}"
    assert texts["v1"] == ["w", "(4,) float64", "data [0.5, -1, 0.25, 2]", _values("grad", w.grad)]
    z = np.arange(12.0).reshape(3, 4) @ np.array([0.5, -1.0, 0.25, 2.0])
    s = 1 / (1 + np.exp(-z))
    assert texts["v3"] == ["sigmoid(X @ w)", "(3,) float64", _values("data", s), "grad [1, 1, 1]"]
    assert texts["v4"] == ["sum(sigmoid(X @ w))", "() float64", f"data {s.sum():.4g}", "grad 1"]
    a_is = " (a = sigmoid(X @ w))"
    assert edges["v2->o3"][0] == [_values("∂/∂(X @ w) = a(1-a) =", s * (1 - s)) + a_is]


def _values(prefix, arr):
    return prefix + " [" + ", ".join(f"{v:.4g}" for v in np.ravel(arr)) + "]"


def test_float32_tensor_and_a_tensor_never_given_a_grad():
    v = Value(np.ones((2, 2), dtype=np.float32), label="m")
    source = draw_dot(v).source
    assert "(2, 2) float32" in source and "grad [[0, 0], [0, 0]]" in source
    assert v._grad is None  # drawing did not create the gradient array


# ---- determinism --------------------------------------------------------------------------------

_SCRIPT = """
from tinygrad_act import Value
from tinygrad_act.viz import draw_dot
x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
n = (x * w + b).tanh() + (x * x).sigmoid()
n.backward()
print(draw_dot(n, show_local=True).source, end="")
"""


def test_dot_source_is_identical_across_calls_and_processes():
    outputs = []
    for seed in ("1", "2"):  # different hash seeds: no ordering may depend on hashing
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, check=True
        )
        outputs.append(run.stdout)
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(B, label="b")
    n = (x * w + b).tanh() + (x * x).sigmoid()  # the script's graph, built here too
    n.backward()
    first, second = draw_dot(n, show_local=True).source, draw_dot(n, show_local=True).source
    assert first == second == outputs[0] == outputs[1]
    assert "0x" not in first  # no memory addresses


def test_node_ids_follow_the_topological_order():
    source = draw_dot(neuron()).source
    ids = re.findall(r"^\s*(v\d+) \[", source, flags=re.M)
    assert ids == [f"v{i}" for i in range(6)]


# ---- big graphs ---------------------------------------------------------------------------------


def big_chain(steps=700):
    """3 nodes per step (a constant, a product, a tanh): 2,101 nodes."""
    x = Value(0.1, label="x")
    v = x
    for _ in range(steps):
        v = (v * 1.001).tanh()
    v.label = "out"
    return x, v


def test_a_2000_node_graph_draws_within_max_nodes_with_a_left_out_note(tmp_path):
    x, root = big_chain()
    root.backward()
    dot = draw_dot(root, max_nodes=150)
    records = re.findall(r"shape=record", dot.source)
    assert len(records) == 150
    assert "… 1951 more nodes left out" in dot.source  # 2,101 - 150
    assert 'label="out |' in dot.source and 'label="x |' not in dot.source  # the root side is kept
    nodes, _, _ = parse_svg(save_graph(root, tmp_path / "big.svg", max_nodes=150))
    (note,) = [texts for title, (texts, _) in nodes.items() if title == "left_out"]
    assert note[0] == "… 1951 more nodes left out"
    assert len([t for t in nodes if t.startswith("v")]) == 150


def test_the_default_limit_applies_and_a_small_graph_has_no_note():
    _, root = big_chain()
    source = draw_dot(root).source
    assert len(re.findall(r"shape=record", source)) == 200
    assert "1901 more nodes left out" in source
    assert "left out" not in draw_dot(neuron()).source


def test_a_wide_graph_keeps_the_nodes_nearest_the_root():
    leaves = [Value(float(i), label=f"p{i}") for i in range(2000)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    source = draw_dot(total, max_nodes=10).source
    assert 'label="p1999 |' in source and 'label="p0 |' not in source
    assert "3989 more nodes left out" in source


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rankdir": "XY"}, "rankdir must be one of LR, TB, RL, BT"),
        ({"max_nodes": 0}, "max_nodes must be a positive int"),
        ({"max_nodes": 2.5}, "max_nodes must be a positive int"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, error):
    with pytest.raises(ValueError, match=error):
        draw_dot(neuron(), **kwargs)


def test_drawing_something_else_than_a_value_is_a_type_error():
    with pytest.raises(TypeError, match="not float"):
        draw_dot(3.0)


def test_rankdir_is_passed_to_graphviz():
    assert "rankdir=TB" in draw_dot(neuron(), rankdir="TB").source


def test_labels_with_record_syntax_characters_render(tmp_path):
    v = Value(1.0, label='a{b|c}<d>"e\\f')
    nodes, _, _ = parse_svg(save_graph(v.exp(), tmp_path / "odd.svg"))
    assert nodes["v0"][0][0] == 'a{b|c}<d>"e\\f'


# ---- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")]
)
def test_save_graph_picks_the_format_from_the_extension(tmp_path, ext, magic):
    path = save_graph(neuron(), tmp_path / f"g.{ext.upper()}")
    assert path.read_bytes().startswith(magic)


def test_save_graph_dot_writes_the_source():
    import tempfile

    n = neuron()
    with tempfile.TemporaryDirectory() as d:
        path = save_graph(n, os.path.join(d, "g.dot"), show_local=True)
        assert path.read_text(encoding="utf-8") == draw_dot(n, show_local=True).source
        graphviz.Source(path.read_text(encoding="utf-8"))  # parses as a graph


def test_an_unknown_extension_names_the_accepted_ones(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        save_graph(neuron(), tmp_path / "g.gif")
    assert FORMATS == ("svg", "png", "pdf", "dot")
    assert not (tmp_path / "g.gif").exists()


def test_without_the_dot_program_rendering_names_the_package_and_dot_still_works(
    tmp_path, monkeypatch
):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    n = neuron()
    with pytest.raises(GraphvizNotFoundError) as info:
        save_graph(n, tmp_path / "g.svg")
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert "\n" not in message
    assert not (tmp_path / "g.svg").exists()
    assert save_graph(n, tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(GraphvizNotFoundError):
        draw_backward_steps(n, tmp_path / "frames")
    assert n.grad == 0.0  # a failed run leaves the gradients alone
    assert list((tmp_path / "frames").iterdir()) == []


# ---- backprop step by step ----------------------------------------------------------------------


def test_step_frames_of_a_three_op_expression(tmp_path):
    n = neuron("sigmoid", b=6.0)
    paths = draw_backward_steps(n, tmp_path / "steps")
    assert [p.name for p in paths] == [f"step-00{k}.svg" for k in range(4)]
    frames = [parse_svg(p) for p in paths]
    # frame 0 is the start; frame k is after step k: sigmoid, then +, then *
    ops = [
        [nodes[t][0][0] for t in highlighted(nodes) if t.startswith("o")] for nodes, *_ in frames
    ]
    assert ops == [[], ["sigmoid"], ["+"], ["*"]]
    outputs = [[t for t in highlighted(nodes) if t.startswith("v")] for nodes, *_ in frames]
    assert outputs == [[], ["v5"], ["v4"], ["v2"]]
    a = 1 / (1 + math.exp(-0.0))  # z = 2*-3 + 6 = 0
    local = a * (1 - a)
    titles = [" ".join(texts) for *_, texts in frames]
    for k, title in enumerate(titles):  # one numbering: file step-00k, title "step k of 3"
        assert title.startswith(f"step {k} of 3:")
    assert "the seed: o's grad = 1" in titles[0]
    assert (
        "backward through sigmoid" in titles[1]
        and f"∂/∂(x*w + b) = a(1-a) = {local:.4g}" in titles[1]
    )
    assert "local gradients: ∂/∂x = w = -3, ∂/∂w = x = 2" in titles[3]
    assert "done: all 6 gradients are filled in" in titles[3]

    def grads(frame):
        return {t: texts[-1] for t, (texts, _) in frame[0].items() if t.startswith("v")}

    assert grads(frames[0]) == {
        "v0": "grad –", "v1": "grad –", "v2": "grad –", "v3": "grad –", "v4": "grad –",
        "v5": "grad 1",
    }  # fmt: skip
    assert grads(frames[1])["v4"] == f"grad {local:.4g}" and grads(frames[1])["v3"] == "grad –"
    assert grads(frames[2])["v3"] == grads(frames[2])["v2"] == f"grad {local:.4g}"
    assert grads(frames[2])["v0"] == "grad –"
    assert grads(frames[3]) == {
        "v0": f"grad {-3 * local:.4g}", "v1": f"grad {2 * local:.4g}", "v2": f"grad {local:.4g}",
        "v3": f"grad {local:.4g}", "v4": f"grad {local:.4g}", "v5": "grad 1",
    }  # fmt: skip


def twins(build):
    """Two separate copies of the same graph, with their nodes in the same order."""
    return [(root, _nodes(root)) for root in (build(), build())]


def _nodes(root):
    return _topological_order(root)


def _shared_and_deep():
    x, w = Value(0.7, label="x"), Value(-1.2, label="w")
    h = (x * x + x * w).tanh()
    return (h * h.sigmoid() + x.relu() - (w**2).exp().log() / x) ** 2


def _tensor_graph():
    rng = np.random.default_rng(5)
    X = Value(rng.normal(size=(4, 3)), label="X")
    W = Value(rng.normal(size=(3, 2)), label="W")
    b = Value(rng.normal(size=(2,)), label="b")
    h = (X @ W + b).tanh()
    return (h * h).mean() + (X.sum(axis=0) * 0.5).sigmoid().sum()


@pytest.mark.parametrize("build", [_shared_and_deep, _tensor_graph])
@pytest.mark.parametrize("backward_first", [False, True])
def test_step_frames_leave_gradients_exactly_as_plain_backward(tmp_path, build, backward_first):
    (mine, my_nodes), (twin, twin_nodes) = twins(build)
    if backward_first:  # gradients already there accumulate exactly as a second backward would
        mine.backward()
        twin.backward()
    paths = draw_backward_steps(mine, tmp_path / "f", fmt="dot")
    twin.backward()
    ops = sum(1 for node in my_nodes if node._rule is not None)
    assert len(paths) == ops + 1
    for a, b in zip(my_nodes, twin_nodes, strict=True):
        assert np.array_equal(a.grad, b.grad)
        assert type(a.grad) is type(b.grad)


def test_step_frames_in_png_and_more_than_999_frames_sort_in_order(tmp_path):
    paths = draw_backward_steps(neuron(), tmp_path / "png", fmt="png")
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    _, root = big_chain(steps=500)  # 1,000 ops
    paths = draw_backward_steps(root, tmp_path / "many", fmt="dot", max_nodes=20, max_steps=1000)
    assert len(paths) == 1001 and paths[0].name == "step-0000.dot"
    assert [p.name for p in paths] == sorted(p.name for p in paths)


def test_step_frames_are_capped_at_200_with_a_note_on_the_steps_left_out(tmp_path):
    x, root = big_chain(steps=150)  # 300 ops
    twin_x, twin = big_chain(steps=150)
    paths = draw_backward_steps(root, tmp_path / "capped", fmt="dot", max_nodes=10)
    # the start, steps 1 to 199, and the last step, under its own number
    assert len(paths) == 201 and paths[-2].name == "step-199.dot"
    assert paths[-1].name == "step-300.dot"
    last = paths[-1].read_text(encoding="utf-8")
    assert "step 300 of 300" in last and "done: all" in last
    assert "(steps 200 to 299 applied but not drawn: 100 left out, max_steps=200)" in last
    assert "step 199 of 300" in paths[-2].read_text(encoding="utf-8")
    twin.backward()
    assert x.grad == twin_x.grad != 0.0  # every step applied, drawn or not
    few = draw_backward_steps(neuron(), tmp_path / "few", fmt="dot", max_steps=2)
    assert [p.name for p in few] == ["step-000.dot", "step-001.dot", "step-003.dot"]
    assert "(step 2 applied but not drawn: 1 left out, max_steps=2)" in few[-1].read_text()


@pytest.mark.parametrize("max_steps", [0, -1, 2.5, True, "10"])
def test_step_frames_refuse_a_bad_max_steps(tmp_path, max_steps):
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        draw_backward_steps(neuron(), tmp_path, max_steps=max_steps)


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("a\x00b", "a\\x00b"),  # a NUL ended dot's string: a syntax error
        ("x" * 100_000, "… (100,000 characters)"),  # dot gave up on the pipe
        ("\udc80", "\\udc80"),  # a lone surrogate cannot be encoded for dot
        ("\x1b[31mred\x7f", "\\x1b[31mred\\x7f"),
        ("tab\tand\r\nreturn", "tab and return"),
        ('{a|b} <c> "d" \\', '{a|b} <c> "d" \\'),
    ],
)
def test_any_label_text_draws_with_the_real_dot(tmp_path, label, shown):
    v = Value(1.0, label=label)
    path = save_graph(v.exp(), tmp_path / "label.svg")
    nodes, _, _ = parse_svg(path)
    assert shown in nodes["v0"][0][0]
    frames = draw_backward_steps(v.tanh(), tmp_path / "frames")  # titles go through it too
    assert len(frames) == 2


def test_step_frames_refuse_an_unknown_format_and_a_tensor_root(tmp_path):
    with pytest.raises(ValueError, match="accepted: svg, png, pdf, dot"):
        draw_backward_steps(neuron(), tmp_path, fmt="gif")
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        draw_backward_steps(Value(np.ones(3)) * 2, tmp_path / "t")
    assert not (tmp_path / "t").exists()


# ---- the package boundary -----------------------------------------------------------------------


def test_importing_the_package_does_not_import_viz_or_graphviz():
    code = "import sys, tinygrad_act; print('tinygrad_act.viz' in sys.modules, 'graphviz' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "False"]


# ---- the command line ---------------------------------------------------------------------------


def test_cli_graph_end_to_end(tmp_path, capsys):
    out, steps = tmp_path / "neuron.svg", tmp_path / "frames"
    argv = ["graph", "tanh(x*w + b)", "--set", "x=2", "--set", "w=-3", "--set", "b=6.88"]
    assert cli.main([*argv, "-o", str(out), "--steps", str(steps), "--show-local"]) == 0
    slope = 1 - math.tanh(0.88) ** 2
    nodes, edges, _ = parse_svg(out)
    texts = {t: v[0] for t, v in nodes.items()}
    assert texts["v0"] == ["x", "data 2", f"grad {-3 * slope:.4g}"]
    assert texts["o5"] == ["tanh"]
    assert edges["v4->o5"][0] == [f"∂/∂(x*w + b) = 1-a² = {slope:.4g} (a = tanh(x*w + b))"]
    assert sorted(p.name for p in steps.iterdir()) == [f"step-00{k}.svg" for k in range(4)]
    printed = capsys.readouterr().out
    assert f"tanh(x*w + b) = {math.tanh(0.88):.6g}" in printed
    assert f"d/dx = {-3 * slope:.6g}" in printed


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["x.__class__", "--set", "x=1"], "attribute access"),
        (["__import__('os').system('echo hi')"], "__import__('os').system"),
        (["tanh(x*w)", "--set", "x=1"], "no value for variable 'w'"),
        (["x", "--set", "x"], "--set takes NAME=NUMBER, got 'x'"),
        (["x", "--set", "x=two"], "takes a number"),
        (["9**9**9"], "too large"),
        (["x", "--set", "x=1", "-o", "g.gif"], ".svg, .png, .pdf, .dot"),
        (["x", "--set", "x=1", "-o", "/proc/x/g.svg"], "cannot make the folder /proc/x"),
        (["x", "--set", "x=1", "--set", "y=2"], "variable 'y' given but not used"),
    ],
)
def test_cli_graph_errors_are_one_line_with_exit_code_2(tmp_path, monkeypatch, capsys, args, named):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["graph", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-act graph: error: ") and named in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "graph.svg").exists()


def test_cli_graph_as_a_process(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "tinygrad_act", "graph", "sigmoid(z)", "--set", "z=0",
         "-o", str(tmp_path / "s.dot"), "--show-local"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "a(1-a) = 0.25" in (tmp_path / "s.dot").read_text(encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "tinygrad_act", "graph", "lambda: 0", "-o", str(tmp_path / "b.svg")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr == "tinygrad-act graph: error: not allowed: lambda\n"


# ---- names for nodes without a label (no blank boxes) ---------------------------------------------


def record_fields(source):
    """The fields of every record node in DOT source: {id: [field, ...]}."""
    records = re.findall(r'^\s*(v\d+) \[label="\{? ?(.*?) ?\}?"', source, flags=re.M)
    return {vid: [f.strip() for f in re.split(r"(?<!\\)\|", body)] for vid, body in records}


def test_an_unlabelled_expression_has_no_blank_record_cell_and_reads_as_its_expression():
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    root = ((a * b + c).tanh() - a / (b + c)) ** 2
    fields = record_fields(draw_dot(root).source)
    assert len(fields) == 10 and all(all(cells) for cells in fields.values())  # no empty cell
    names = [cells[0] for cells in fields.values()]
    assert "2*-3" in names and "2*-3 + 10" in names and "tanh(2*-3 + 10)" in names
    assert "-3 + 10" in names and "2/(-3 + 10)" in names
    assert names[-1] == "**2 (scalar)"  # too long as an expression: its op and shape


@pytest.mark.parametrize("kind", ["scalar MLP", "tensor MLP"])
def test_an_mlp_graph_has_no_blank_record_cell_and_names_parameters_by_their_paths(kind):
    import random

    from tinygrad_act.nn import MLP, cross_entropy, mlp

    if kind == "scalar MLP":
        model = MLP(2, [3, 1], rng=random.Random(0))
        loss = model([Value(0.5), Value(-1.0)])
    else:
        model = mlp([4, 8, 3], "relu", rng=0)
        loss = cross_entropy(model(Value(np.ones((5, 4)))), [0, 1, 2, 0, 1])
    loss.backward()
    expected = {name for name, _ in model.named_parameters()}
    for source in (draw_dot(loss).source, draw_dot(loss, model=model, show_local=True).source):
        fields = record_fields(source)
        assert all(all(cells) for cells in fields.values())
    named = {cells[0] for cells in record_fields(draw_dot(loss, model=model).source).values()}
    assert expected <= named
    some = "layers.0.neurons.0.w.0" if kind == "scalar MLP" else "0.weight"
    assert some in expected


def test_a_users_own_label_wins_over_every_derived_name():
    import random

    from tinygrad_act.nn import MLP

    model = MLP(2, [1], rng=random.Random(0))
    model.layers[0].neurons[0].b.label = "my bias"
    x = Value(1.0, label="x")
    out = model([x, Value(2.0)])
    out.label = "out"
    names = [cells[0] for cells in record_fields(draw_dot(out, model=model).source).values()]
    assert "my bias" in names and "layers.0.neurons.0.b" not in names
    assert names[-1] == "out" and "x" in names
    assert x.label == "x" and out._prev[0].label == ""  # drawing wrote no label into the graph


def test_model_must_offer_named_parameters():
    with pytest.raises(TypeError, match="named_parameters"):
        draw_dot(neuron(), model=object())


# ---- micrograd's signature and Jupyter ------------------------------------------------------------


def test_draw_dot_takes_micrograds_signature():
    n = neuron()
    dot = draw_dot(n, format="png", rankdir="TB")
    assert dot.format == "png" and "rankdir=TB" in dot.source
    positional = draw_dot(n, "svg", "LR")
    assert positional.format == "svg" and "rankdir=LR" in positional.source
    assert draw_dot(n).format == "svg"
    with pytest.raises(ValueError, match="unknown format 'TB'"):
        draw_dot(n, "TB")  # the second argument is the format, as in micrograd
    with pytest.raises(TypeError, match="extension"):
        save_graph(n, "g.svg", format="png")


def test_inline_svg_for_jupyter_shrinks_to_the_cell():
    bundle = draw_dot(neuron())._repr_mimebundle_()
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<?xml") or "<svg" in svg
    root = ET.fromstring(svg[svg.index("<svg") :])
    assert "max-width: 100%" in root.get("style") and "height: auto" in root.get("style")
    assert root.get("viewBox")  # the height follows the width through the viewBox


# ---- frames: one numbering, every node in the same place ------------------------------------------


def node_boxes(path):
    """{node id: its outline's coordinates} of an SVG written by dot."""
    nodes, _, _ = parse_svg(path)
    boxes = {}
    for title, (_, group) in nodes.items():
        outline = shape_of(group)
        boxes[title] = outline.get("points") or (outline.get("cx"), outline.get("cy"))
    return boxes


def test_every_frame_has_the_same_nodes_in_the_same_order_in_its_dot_source(tmp_path):
    from tinygrad_act.demo import lecture_neuron

    paths = draw_backward_steps(lecture_neuron(), tmp_path, fmt="dot")
    orders = [
        re.findall(r"^\s*([vo]\d+) \[", p.read_text(encoding="utf-8"), flags=re.M) for p in paths
    ]
    assert len(orders) == 6 and all(order == orders[0] for order in orders)
    names = [cells[0] for cells in record_fields(paths[0].read_text(encoding="utf-8")).values()]
    assert names[:4] == ["x1", "w1", "x1*w1", "x2"]  # the inputs in the neuron's own order


@pytest.mark.parametrize("which", ["the lecture's neuron", "a small graph with wide titles"])
def test_every_node_stays_in_place_in_all_frames_and_the_before_and_after_pictures(tmp_path, which):
    from tinygrad_act.demo import lecture_neuron

    def build():
        if which == "the lecture's neuron":
            return lecture_neuron()
        x = Value(0.5, label="x")
        return (x * 2).sigmoid()

    before = node_boxes(save_graph(build(), tmp_path / "before.svg", show_local=True))
    root = build()
    frames = [node_boxes(p) for p in draw_backward_steps(root, tmp_path / "frames")]
    after = node_boxes(save_graph(root, tmp_path / "after.svg", show_local=True))
    for boxes in frames:
        assert boxes == frames[0]
    if which == "the lecture's neuron":  # its titles are narrower than the graph itself
        assert before == after == frames[0]
    assert sorted(before) == sorted(frames[0])


def test_frame_titles_count_the_steps_the_way_the_files_do(tmp_path):
    from tinygrad_act.demo import lecture_neuron

    paths = draw_backward_steps(lecture_neuron(), tmp_path)
    for k, path in enumerate(paths):
        assert path.name == f"step-{k:03d}.svg"
        title = " ".join(parse_svg(path)[2])
        assert title.startswith(f"step {k} of {len(paths) - 1}:"), title
    last = " ".join(parse_svg(paths[-1])[2])
    assert "done: all 10 gradients are filled in" in last
    mul = " ".join(parse_svg(paths[4])[2])  # x2*w2: each input's local gradient is the other
    assert "∂/∂x2 = w2 = 1, ∂/∂w2 = x2 = 0" in mul
