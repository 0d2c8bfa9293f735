"""The notebook widgets' state, from Python: the numbers against the engine used directly and the
lecture's formulas, refusals against the lab's own answers to the same input (same one line), and
a refused input leaving every other part of the state as it was.
"""

import copy
import math
import time

import pytest

pytest.importorskip("anywidget", reason="the widgets extra (anywidget) is not installed")
pytest.importorskip("starlette", reason="the lab extra is needed to compare with the lab")

from starlette.testclient import TestClient  # noqa: E402

from tinygrad_act import Value  # noqa: E402
from tinygrad_act.backprop import topological_order  # noqa: E402
from tinygrad_act.expression import parse_expression  # noqa: E402
from tinygrad_act.lab import limits  # noqa: E402
from tinygrad_act.lab.app import create_app  # noqa: E402
from tinygrad_act.lab.training import Run, Settings  # noqa: E402
from tinygrad_act.widgets import ActivationExplorer, ExpressionWidget, TrainingWidget  # noqa: E402

NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}


@pytest.fixture(scope="module")
def lab():
    page = {"base_url": "http://127.0.0.1", "headers": {"content-type": "application/json"}}
    with TestClient(create_app(), **page) as client:
        yield client


def lab_error(lab, path, body):
    response = lab.post(path, json=body)
    assert response.status_code == 400, response.text[:300]
    return response.json()["error"]


def state(widget, names):
    return {name: copy.deepcopy(getattr(widget, name)) for name in names}


def neuron_truth(values):
    """The lecture's neuron by hand: o = tanh(n), do/dn = 1 - o², do/dw1 = (1 - o²) x1, ..."""
    n = values["x1"] * values["w1"] + values["x2"] * values["w2"] + values["b"]
    o = math.tanh(n)
    d = 1 - o**2
    grads = {"x1": d * values["w1"], "w1": d * values["x1"], "x2": d * values["w2"]}
    return o, {**grads, "w2": d * values["x2"], "b": d}


# ---- ExpressionWidget -------------------------------------------------------------------------


def test_the_lecture_neuron_has_the_lectures_value_and_gradients():
    w = ExpressionWidget(NEURON, **VALUES)
    o, grads = neuron_truth(VALUES)
    assert w.value == pytest.approx(o, abs=1e-15) and round(w.value, 4) == 0.7071
    assert w.grads == pytest.approx(grads, abs=1e-12)
    assert w.values == VALUES and w.step is None and w.error == ""
    assert w.view["svg"].startswith("<svg") and w.view["output"] == "o"


def test_setting_values_updates_value_grads_drawing_and_explanations():
    w = ExpressionWidget(NEURON, **VALUES)
    before = state(w, ["view"])
    moved = {**VALUES, "w1": 0.5, "x1": -1.25}
    w.values = moved
    o, grads = neuron_truth(moved)
    assert w.values == moved and w.error == ""
    assert w.value == pytest.approx(o, abs=1e-15)
    assert w.grads == pytest.approx(grads, abs=1e-12)
    assert w.view["svg"] != before["view"]["svg"]
    root = parse_expression(NEURON, moved)
    root.backward()
    out = w.view["nodes"][-1]
    assert out["kind"] == "output" and f"{1 - root.data**2:.4g}"[:4] in out["locals"][0]["text"]


@pytest.mark.parametrize(
    "bad",
    [{"x1": 1e9}, {"x1": None}, {"x1": "two"}, {"not a name": 1.0}],
    ids=["out of range", "empty box", "text", "bad name"],
)
def test_a_refused_value_sets_the_labs_message_and_changes_nothing_else(lab, bad):
    w = ExpressionWidget(NEURON, **VALUES)
    before = state(w, ["values", "view", "step", "expression"])
    w.values = {**VALUES, **bad}
    expected = lab_error(lab, "/api/graph", {"expression": NEURON, "values": {**VALUES, **bad}})
    assert w.error == expected and "\n" not in w.error
    assert state(w, ["values", "view", "step", "expression"]) == before
    w.values = VALUES
    assert w.error == ""


def test_an_invalid_expression_is_refused_with_the_labs_message(lab):
    for text in ("tanh(x*", "x.__class__", "max(x, 1)"):
        with pytest.raises(ValueError) as caught:
            ExpressionWidget(text, x=1.0)
        assert str(caught.value) == lab_error(lab, "/api/graph", {"expression": text})
    with pytest.raises(ValueError, match="'q' is not a variable of this expression"):
        ExpressionWidget(NEURON, q=1.0)


def test_backward_a_step_at_a_time_and_back():
    w = ExpressionWidget(NEURON, **VALUES)
    w.step = 0
    assert w.view["frame"]["index"] == 0 and w.view["frame"]["svg"].startswith("<svg")
    last = w.view["steps"]
    w.step = last
    assert w.view["frame"]["index"] == last
    w.step = last + 1
    assert w.error == f"step must lie in 0..{last}, got {last + 1}" and w.step == last
    w.step = None
    assert w.view["frame"] is None and w.error == ""


def test_a_python_function_is_drawn_from_the_graph_it_records():
    w = ExpressionWidget(lambda x, w, b: (x * w + b).sigmoid(), x=1.0, w=2.0, b=-1.0)
    s = 1 / (1 + math.exp(-1.0))  # sigmoid(1*2 - 1); its slope is s(1 - s)
    assert w.expression == "sigmoid(x*w + b)"
    assert w.value == pytest.approx(s, abs=1e-15)
    assert w.grads == pytest.approx({"x": s * (1 - s) * 2, "w": s * (1 - s), "b": s * (1 - s)})
    w.values = {"x": 3.0, "w": 2.0, "b": -1.0}
    assert w.value == pytest.approx(1 / (1 + math.exp(-5.0)), abs=1e-15)


def test_a_function_is_traced_again_when_its_values_change():
    def branchy(x, y):
        return x * y if x.data > 0 else x - y

    w = ExpressionWidget(branchy, x=1.0, y=2.0)
    assert w.expression == "x*y"
    w.values = {"x": -1.0, "y": 2.0}
    assert w.expression == "x - y" and w.grads == {"x": 1.0, "y": -1.0}


@pytest.mark.parametrize(
    "function, values",
    [
        (lambda x: (x * 3.5 - (x - 1.25) / -2.0) ** 2 + (2.0**x).exp(), {"x": 0.3}),
        (lambda x, y: -(x**y) * (x + y).tanh() - x.log(), {"x": 1.7, "y": -0.4}),
    ],
)
def test_a_functions_text_builds_the_same_numbers_as_the_function(function, values):
    w = ExpressionWidget(function, **values)
    leaves = {name: Value(v) for name, v in values.items()}
    out = function(**leaves)
    out.backward()
    assert w.value == out.data
    assert w.grads == {name: leaf.grad for name, leaf in leaves.items()}


def test_a_function_the_language_cannot_write_is_refused_in_one_line():
    with pytest.raises(ValueError, match="cannot write from a function"):
        ExpressionWidget(lambda x: x.leaky_relu(0.1), x=1.0)
    with pytest.raises(ValueError, match="must return a Value, got float"):
        ExpressionWidget(lambda x: 1.0, x=1.0)
    with pytest.raises(ValueError, match="the function raised ZeroDivisionError"):
        ExpressionWidget(lambda x: x / 0 if False else 1 / 0, x=1.0)


def test_without_a_front_end_the_expression_widget_shows_its_drawing_and_numbers():
    w = ExpressionWidget(NEURON, **VALUES)
    bundle, _ = w._repr_mimebundle_()
    page = bundle["text/html"]
    assert "<svg" in page and "0.707107" in page and "tanh(x1*w1 + x2*w2 + b)" in page
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_widget_shows_the_expression_as_the_code_the_lab_shows(lab):
    w = ExpressionWidget(NEURON, **VALUES)
    answer = lab.post("/api/graph", json={"expression": NEURON, "values": VALUES}).json()
    assert w.code == answer["code"] and w.view["code_notice"] is None
    assert "dv3 = do * (1 - o**2)  # tanh' = 1-a²" in w.code  # the slide's formula
    assert not w.show_code  # the drawing first; the page's "as code" tab sets show_code
    w.show_code = True
    assert w.show_code and w.error == ""


def test_the_code_follows_the_expression_as_a_function_is_traced_again():
    def branchy(x, y):
        return x * y if x.data > 0 else (x - y).sigmoid()

    w = ExpressionWidget(branchy, x=1.0, y=2.0)
    assert "    o = x * y\n" in w.code
    w.values = {"x": -1.0, "y": 2.0}
    assert "    o = sigmoid(v0)\n" in w.code and "# sigmoid' = a(1-a)" in w.code
    w.values = {"x": 1e9, "y": 2.0}  # refused: the code shown stays the last expression's
    assert w.error and "o = sigmoid(v0)" in w.code


def test_without_a_front_end_the_code_is_in_the_static_picture():
    w = ExpressionWidget("tanh(x*w)", x=1.0, w=2.0)
    page = w._repr_mimebundle_()[0]["text/html"]
    assert "<details><summary>As code</summary>" in page
    assert "dv0 = do * (1 - o**2)  # tanh&#x27; = 1-a²" in page  # escaped, as all text is
    w.show_code = True
    assert "<details open>" in w._repr_mimebundle_()[0]["text/html"]


# ---- ActivationExplorer -----------------------------------------------------------------------


def test_the_explorer_at_the_slides_saturated_tanh():
    w = ActivationExplorer("tanh", z=10)
    truth = 1 - math.tanh(10.0) ** 2  # the slide's 1 - a²
    assert w.slopes["formula"] == pytest.approx(truth, rel=1e-12)
    assert w.slopes["backprop"] == pytest.approx(truth, rel=1e-12)
    assert f"{w.slopes['formula']:.1e}" == "8.2e-09"
    assert (w.name, w.z, w.params, w.error) == ("tanh", 10.0, {}, "")
    assert "8.245e-09" in w.view["at"]["texts"]["formula"]


def test_moving_z_and_changing_the_activation():
    w = ActivationExplorer("sigmoid", z=0.0)
    assert w.slopes["formula"] == 0.25  # a(1 - a) at a = 1/2
    w.z = -2.0
    a = 1 / (1 + math.exp(2.0))
    assert w.slopes["backprop"] == pytest.approx(a * (1 - a), rel=1e-12)
    h = 1e-6
    central = (1 / (1 + math.exp(2.0 - h)) - 1 / (1 + math.exp(2.0 + h))) / (2 * h)
    assert w.slopes["numeric"] == pytest.approx(central, rel=1e-6)
    w.name = "leaky_relu"
    assert w.params == {"slope": 0.01} and w.slopes["formula"] == 0.01
    w.params = {"slope": 0.2}
    assert w.slopes["formula"] == 0.2 and w.view["params"] == {"slope": 0.2}


@pytest.mark.parametrize(
    "trait, bad, body",
    [
        ("z", 100.0, {"name": "tanh", "z": 100.0}),
        ("name", "tanhh", {"name": "tanhh", "z": 1.0}),
        ("name", "softmax", {"name": "softmax", "z": 1.0}),
        ("params", {"alpha": 1.0}, {"name": "tanh", "z": 1.0, "params": {"alpha": 1.0}}),
    ],
)
def test_a_refused_explorer_input_sets_the_labs_message_and_changes_nothing_else(
    lab, trait, bad, body
):
    w = ActivationExplorer("tanh", z=1.0)
    before = state(w, ["name", "z", "params", "view"])
    setattr(w, trait, bad)
    assert w.error == lab_error(lab, "/api/activation", body)
    assert state(w, ["name", "z", "params", "view"]) == before


def test_without_a_front_end_the_explorer_shows_the_three_slopes():
    page = ActivationExplorer("tanh", z=10)._repr_mimebundle_()[0]["text/html"]
    assert "1-a² = 1-0.9999999958777² = 8.245e-09" in page and "central" not in page.lower()[:0]


# ---- TrainingWidget ---------------------------------------------------------------------------

SMALL = {"dataset": "moons", "depth": 2, "width": 8, "activations": ("sigmoid", "relu"), "lr": 0.3}


def test_steps_train_the_labs_run_and_fill_the_history():
    w = TrainingWidget(**SMALL, seed=3)
    w.step(5)
    run = Run(Settings(**SMALL, seed=3))  # the lab's run, trained directly
    run.advance(max_steps=5)
    assert [h["activation"] for h in w.history] == ["sigmoid", "relu"]
    assert [h["loss"] for h in w.history] == [net.losses for net in run.networks]
    assert [h["accuracy"] for h in w.history] == [net.accuracies for net in run.networks]
    assert w.state["step"] == 5 and len(w.state["networks"][0]["boundary"]["percent"]) == 1600
    assert w.history[1]["loss"][-1] < w.history[1]["loss"][0]


def test_play_trains_in_the_background_until_paused():
    w = TrainingWidget(**SMALL)
    w.play()
    assert w.playing
    deadline = time.monotonic() + 30
    while w.state["step"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    w.pause()
    assert not w.playing and w.state["step"] >= 3
    steps = len(w.history[0]["loss"])
    time.sleep(0.3)
    assert len(w.history[0]["loss"]) == steps == w.state["step"]


def test_reset_starts_a_new_run_from_new_settings():
    w = TrainingWidget(**SMALL)
    w.step(2)
    w.reset(lr=0.05, activations=("tanh",))
    assert w.state["step"] == 0 and w.history == [
        {"activation": "tanh", "loss": [], "accuracy": []}
    ]
    assert w.settings["lr"] == 0.05 and w.error == ""


def test_a_refused_training_input_sets_the_labs_message_and_changes_nothing_else(lab):
    session = lab.post("/api/sessions", json={}).json()["session"]
    train = f"/api/sessions/{session}/train"
    w = TrainingWidget(**SMALL)
    w.step(2)
    before = state(w, ["settings", "state"])
    w.reset(lr=100.0)
    assert w.error == lab_error(lab, train, {"action": "reset", "settings": {"lr": 100.0}})
    w.reset(activations=("softmax",))
    assert w.error == lab_error(
        lab, train, {"action": "reset", "settings": {"activations": ["softmax"]}}
    )
    w.step(0)
    assert w.error == lab_error(lab, train, {"action": "step", "steps": 0})
    w._message(w, {"action": "jump"}, [])  # what the page's buttons send, refused
    assert w.error == lab_error(lab, train, {"action": "jump"})
    assert state(w, ["settings", "state"]) == before
    w._message(w, {"action": "step", "steps": 3}, [])
    assert w.state["step"] == 5 and w.error == ""
    with pytest.raises(
        ValueError, match="settings: depth must be a whole number from 1 to 4, got 9"
    ):
        TrainingWidget(depth=9)


def test_without_a_front_end_the_training_widget_shows_its_numbers():
    w = TrainingWidget(**SMALL)
    w.step(2)
    page = w._repr_mimebundle_()[0]["text/html"]
    assert f"{w.history[0]['loss'][-1]:.4g}" in page and "relu" in page


def test_the_widgets_load_nothing_from_elsewhere():
    for widget in (ExpressionWidget("x*y", x=1, y=2), ActivationExplorer(), TrainingWidget()):
        source = widget._esm
        assert "export default" in source and "export function drawPlot" in source
        assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in source and "import " not in source


def test_the_slider_range_is_the_labs():
    w = ExpressionWidget("x", x=1)
    assert w.slider_range == list(limits.SLIDER_RANGE) and w.number_limit == limits.MAX_NUMBER
    assert topological_order  # the engine's own order is what the tests above compare with


def test_a_value_the_page_sends_is_refused_the_same_way():
    # What ipywidgets does with a message from the page: the new state, set with notifications
    # held (traitlets stores the proposal before the validators run) and the property locked.
    w = ExpressionWidget("x*y", x=1, y=2)
    with w._lock_property(values={"x": 5e6, "y": 2}), w.hold_trait_notifications():
        w.set_state({"values": {"x": 5e6, "y": 2.0}})
    assert w.error == "values.x must lie in [-1e+06, 1e+06], got 5e+06"
    assert w.values == {"x": 1.0, "y": 2.0} and w.value == 2.0
    e = ActivationExplorer("tanh", z=1)
    with e._lock_property(z=50), e.hold_trait_notifications():
        e.set_state({"z": 50})
    assert (e.error, e.z, e.view["at"]["z"]) == ("z must lie in [-20, 20], got 50", 1.0, 1.0)
