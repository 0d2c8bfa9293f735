"""viz.draw_forward_steps: forward mode frame by frame, each value beside its tangent."""

import html
import re

import numpy as np
import pytest

from tinygrad_act import Value, jvp
from tinygrad_act.backprop import topological_order
from tinygrad_act.demo import lecture_neuron
from tinygrad_act.viz import draw_forward_steps


def neuron():
    o = lecture_neuron()
    (x1,) = (v for v in topological_order(o) if v.label == "x1")
    return o, x1


def _title(source):
    """The frame's title: the lines of its HTML-like label (one left-aligned cell)."""
    cell = re.search(r'<FONT POINT-SIZE="[^"]*">(.*?)<BR ALIGN="LEFT"/></FONT>', source).group(1)
    return html.unescape(cell.replace('<BR ALIGN="LEFT"/>', "\n"))


def test_forward_frames_carry_the_tangent_of_the_lectures_neuron(tmp_path):
    o, x1 = neuron()
    paths = draw_forward_steps(o, x1, tmp_path, fmt="dot")
    assert [p.name for p in paths] == [
        f"forward-{k:03d}.dot" for k in range(7)
    ]  # seeds, 5 ops, done
    first, tanh_step, last = (p.read_text() for p in (paths[0], paths[5], paths[-1]))
    assert "x1 = 1 (the others 0)" in _title(first)
    assert "tangent –" in first  # not computed yet
    assert _title(tanh_step).splitlines() == [
        "forward step 5 of 5: tanh, which makes o",
        "local derivative ∂/∂n = 1-a² = 0.5 (a = o)",
        "its tangent = local derivative × input's tangent: 0.5 × -3 = -1.5",
    ]
    assert "1-a² = 0.5" in tanh_step and "class=highlight" in tanh_step
    assert _title(last) == "forward done: the root's tangent is -1.5 = ∂o/∂x1"
    assert "tangent -1.5" in last and "tangent –" not in last
    _, slope = jvp(lambda x: (x * -3.0 + 6.8813735870195432).tanh(), (2.0,), (1.0,))
    assert slope == pytest.approx(-1.5)
    assert o.grad == 0.0 and x1.grad == 0.0  # the graph is unchanged: no backward ran


def test_forward_frames_sum_the_terms_of_a_two_input_op(tmp_path):
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = x * w
    paths = draw_forward_steps(y, {x: 1.0, w: 0.5}, tmp_path, fmt="dot")
    title = _title(paths[1].read_text())
    assert "its tangent = Σ local derivative × input's tangent: -3 × 1 + 2 × 0.5 = -2" in title


def test_forward_frames_of_a_tensor_graph_render_with_dot(tmp_path):
    z = Value(np.array([-1.0, 0.5, 2.0]), label="z")
    loss = z.sigmoid().sum()
    paths = draw_forward_steps(loss, {z: np.array([1.0, 0.0, 0.0])}, tmp_path)
    assert paths[-1].read_text().startswith("<?xml")
    a = 1 / (1 + np.exp(1.0))
    assert f"{a * (1 - a):.4g}" in paths[-1].read_text()  # the root's tangent: sigmoid'(-1)


def test_draw_forward_steps_refuses_bad_tangents(tmp_path):
    o, x1 = neuron()
    with pytest.raises(TypeError, match="tangents must be an input Value or a dict"):
        draw_forward_steps(o, [x1], tmp_path)
    with pytest.raises(ValueError, match="not a node of root's graph"):
        draw_forward_steps(o, {Value(1.0): 1.0}, tmp_path)
    with pytest.raises(ValueError, match="tangents go to inputs"):
        draw_forward_steps(o, {o._prev[0]: 1.0}, tmp_path)
    with pytest.raises(ValueError, match=r"has shape \(2,\), the input has shape \(\)"):
        draw_forward_steps(o, {x1: [1.0, 2.0]}, tmp_path)
    assert not list(tmp_path.iterdir())


def test_forward_frames_are_capped_with_a_note_on_the_steps_left_out(tmp_path):
    x = Value(0.3, label="x")
    y = x
    for _ in range(8):
        y = y.tanh()
    paths = draw_forward_steps(y, x, tmp_path, fmt="dot", max_steps=3)
    assert [p.name for p in paths] == ["forward-000.dot", "forward-001.dot", "forward-002.dot",
                                       "forward-008.dot", "forward-009.dot"]  # fmt: skip
    assert "(steps 3 to 7 computed but not drawn: 5 left out, max_steps=3)" in _title(
        paths[3].read_text()
    )
    with pytest.raises(ValueError, match="max_steps"):
        draw_forward_steps(y, x, tmp_path, fmt="dot", max_steps=0)
