"""The lab's HTTP API through Starlette's test client: what each panel gets, and every refusal.

Numbers are checked against the engine used directly (parse_expression + backward, Value.activate,
central differences written here), never against the lab's own output.
"""

import json
import math
import re
import time

import pytest

pytest.importorskip("starlette", reason="the lab extra (starlette, uvicorn) is not installed")

from starlette.testclient import TestClient  # noqa: E402

from tinygrad_act import ACTIVATIONS, Value  # noqa: E402
from tinygrad_act.backprop import topological_order  # noqa: E402
from tinygrad_act.compiler import trace  # noqa: E402
from tinygrad_act.expression import ExpressionError, parse_expression, variable_names  # noqa: E402
from tinygrad_act.lab import graph_panel, limits  # noqa: E402
from tinygrad_act.lab.app import SWEEP_SECONDS, create_app  # noqa: E402
from tinygrad_act.lab.sessions import STEPS_PER_TICK, TICK_SECONDS, SessionStore  # noqa: E402

NEURON = "tanh(x1*w1 + x2*w2 + b)"
VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}


# The lab answers its own host names only, and POST bodies are JSON: the client is the page's.
PAGE = {"base_url": "http://127.0.0.1", "headers": {"content-type": "application/json"}}


@pytest.fixture
def client():
    with TestClient(create_app(), **PAGE) as c:
        yield c


def _refused(response, status=400):
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    assert "\n" not in body["error"]
    return body["error"]


# ---- the expression panel --------------------------------------------------------------------


def test_graph_gives_the_engines_value_and_gradients_for_the_lecture_neuron(client):
    view = client.post("/api/graph", json={"expression": NEURON, "values": VALUES}).json()
    root = parse_expression(NEURON, VALUES)
    root.backward()
    leaves = {v.label: v for v in topological_order(root) if v.label}
    assert view["value"] == root.data
    assert view["value_text"] == f"{root.data:.6g}" == "0.707107"
    assert [v["name"] for v in view["variables"]] == ["x1", "w1", "x2", "w2", "b"]
    for v in view["variables"]:
        assert v["value"] == VALUES[v["name"]]
        assert v["grad"] == leaves[v["name"]].grad
    assert view["svg"].startswith("<svg") and "grad &#45;1.5" in view["svg"]


def test_hovering_tanh_shows_the_slides_formula_with_numbers_and_the_chain_rule(client):
    view = client.post("/api/graph", json={"expression": NEURON, "values": VALUES}).json()
    by_id = {n["id"]: n for n in view["nodes"]}
    out = view["nodes"][-1]
    assert out["kind"] == "output" and out["op"] == "tanh"
    (local,) = out["locals"]
    assert local["text"].endswith("= 1-a² = 1-0.7071² = 0.5")
    assert local["value"] == pytest.approx(1 - math.tanh(0.8813735870195432) ** 2)
    assert local["share"].endswith("= 1 × 0.5 = 0.5")
    n = by_id[local["input"]]
    assert n["chain"].endswith("= 1 × 0.5 = 0.5")
    x1w1 = next(node for node in view["nodes"] if node["equation"].endswith("= 2 × (-3) = -6"))
    texts = [loc["text"] for loc in x1w1["locals"]]
    assert texts[0].endswith("= w1 = -3") and texts[1].endswith("= x1 = 2")


def test_node_ids_are_the_ids_of_the_drawing(client):
    view = client.post("/api/graph", json={"expression": NEURON, "values": VALUES}).json()
    for node in view["nodes"]:
        # Each value record of the SVG carries its id as <title> and its data in its text.
        block = view["svg"].split(f"<title>{node['id']}</title>", 1)[1].split("</g>", 1)[0]
        assert f"data {node['data_text']}" in block.replace("&#45;", "-")


def test_step_frames_walk_backward_from_the_output_one_op_at_a_time(client):
    first = client.post(
        "/api/graph", json={"expression": NEURON, "values": VALUES, "step": 0}
    ).json()
    ops = [n["id"] for n in reversed(first["nodes"]) if n["kind"] in ("op", "output")]
    count = first["frame"]["count"]
    assert count == first["steps"] + 1 == len(ops) + 1
    highlighted = []
    for k in range(count):
        frame = client.post(
            "/api/graph", json={"expression": NEURON, "values": VALUES, "step": k}
        ).json()["frame"]
        assert frame["index"] == k and frame["svg"].startswith("<svg")
        highlighted.append([i for i in frame["highlight"] if i.startswith("v")])
    visited = [h[0] for h in highlighted if h]
    assert visited == ops  # the output's tanh first, down to the first product
    _refused(client.post("/api/graph", json={"expression": NEURON, "step": count}))


def test_missing_values_start_at_the_default_and_unused_ones_are_left_out(client):
    view = client.post("/api/graph", json={"expression": "x*y", "values": {"x": 3, "q": 1}}).json()
    assert [(v["name"], v["value"]) for v in view["variables"]] == [
        ("x", 3.0),
        ("y", limits.DEFAULT_VALUE),
    ]


def test_a_division_by_zero_is_shown_as_inf_not_an_error(client):
    response = client.post("/api/graph", json={"expression": "x/y", "values": {"x": 1, "y": 0}})
    assert response.status_code == 200
    view = response.json()
    assert view["value"] is None and view["value_text"] == "inf"


def _traced(expression, values, output="o"):
    """`trace`'s code of the expression's graph, its output named as the drawing names it."""

    def build():
        root = parse_expression(expression, values)
        root.label = root.label or output
        return root

    return trace(build).code


def test_graph_answers_the_expression_as_the_code_trace_writes(client):
    view = client.post("/api/graph", json={"expression": NEURON, "values": VALUES}).json()
    assert view["code"] == _traced(NEURON, VALUES) and view["code_notice"] is None
    assert "dv3 = do * (1 - o**2)  # tanh' = 1-a²" in view["code"]  # the slide's formula
    framed = {"expression": NEURON, "values": VALUES, "step": 2}
    assert client.post("/api/graph", json=framed).json()["code"] == view["code"]
    # It follows the expression and its values, and names the output as the drawing does.
    other = client.post("/api/graph", json={"expression": "sigmoid(o*x)", "values": {"x": 2}})
    assert other.json()["output"] == "out"
    assert other.json()["code"] == _traced(
        "sigmoid(o*x)", {"o": limits.DEFAULT_VALUE, "x": 2.0}, "out"
    )
    assert "dv0 = dout * (out * (1 - out))  # sigmoid' = a(1-a)" in other.json()["code"]


def test_a_refused_expression_gets_no_code_and_the_next_one_does(client):
    assert "not a valid expression" in _refused(
        client.post("/api/graph", json={"expression": "x +"})
    )
    view = client.post("/api/graph", json={"expression": "relu(x)", "values": {"x": -1}}).json()
    assert view["code"] == _traced("relu(x)", {"x": -1.0})


@pytest.mark.parametrize(
    "expression, message",
    [
        ("__import__('os').system('true')", "not allowed"),
        ("x.__class__", "attribute access"),
        ("x +", "not a valid expression"),
        ("softmax(x)", "softmax"),
        ("x" * (limits.MAX_EXPRESSION_LENGTH + 1), "too long"),
        ("+".join(f"v{i}" for i in range(limits.MAX_VARIABLES + 1)), "variables"),
        ("+".join(["x"] * (limits.MAX_GRAPH_NODES + 1)), "nodes"),
        ("x**100000", "too large"),
    ],
)
def test_bad_expressions_are_one_line_400s(client, expression, message):
    assert message in _refused(client.post("/api/graph", json={"expression": expression}))


def test_a_name_python_reads_as_another_is_refused_as_the_library_refuses_it(client):
    body = {"expression": "ℌ*2", "values": {"ℌ": 3}}
    error = _refused(client.post("/api/graph", json=body))
    with pytest.raises(ExpressionError) as err:
        parse_expression("ℌ*2", {"ℌ": 3.0})
    assert error == str(err.value) and "read by Python as 'H'" in error
    assert graph_panel.variable_names("tanh(w*x + b)") == variable_names("tanh(w*x + b)")


def test_text_that_is_not_unicode_is_refused_as_not_valid_text(client):
    body = b'{"expression": "x+\\udcff"}'  # JSON's escape of a lone surrogate
    error = _refused(client.post("/api/graph", content=body))
    assert error.startswith("not valid text")


# ---- the activation explorer -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"])
@pytest.mark.parametrize("z", [-3.0, -0.5, 0.7, 4.0])
def test_explorer_gives_g_prime_three_ways_that_agree(client, name, z):
    view = client.post("/api/activation", json={"name": name, "z": z}).json()
    spec = ACTIVATIONS[name]
    at = view["at"]
    a = spec.forward(z, **spec.defaults)
    assert at["a"] == pytest.approx(a)
    h = 1e-6
    central = (spec.forward(z + h, **spec.defaults) - spec.forward(z - h, **spec.defaults)) / (
        2 * h
    )
    assert at["formula"] == at["backprop"]
    assert at["numeric"] == pytest.approx(central, rel=1e-6, abs=1e-9)
    assert at["backprop"] == pytest.approx(central, rel=1e-5, abs=1e-8)
    slope_line = view["tangent"]
    (t0, y0), (t1, y1) = slope_line
    assert (y1 - y0) / (t1 - t0) == pytest.approx(at["backprop"], rel=1e-9, abs=1e-9)


def test_explorer_curve_is_backprop_over_the_whole_range(client):
    view = client.post("/api/activation", json={"name": "sigmoid", "z": 0.0}).json()
    curve = view["curve"]
    for z, g, slope in zip(curve["z"], curve["g"], curve["slope"], strict=True):
        a = 1 / (1 + math.exp(-z))
        assert g == pytest.approx(a) and slope == pytest.approx(a * (1 - a))
    assert view["at"]["texts"]["formula"] == "a(1-a) = 0.5·(1-0.5) = 0.25"


def test_relu_at_zero_shows_the_lectures_slope_one_and_the_kink_note(client):
    view = client.post("/api/activation", json={"name": "relu", "z": 0.0}).json()
    assert view["at"]["formula"] == view["at"]["backprop"] == 1.0  # the slide picks 1 at 0
    assert view["at"]["numeric"] == pytest.approx(0.5)
    kink = view["kink"]
    assert kink["on_it"] and (kink["left"], kink["right"]) == (0.0, 1.0)
    assert "averages" in kink["note"] and "0.5" in kink["note"]


def test_leaky_relu_takes_its_slope_from_the_slider(client):
    view = client.post(
        "/api/activation", json={"name": "leaky_relu", "z": -2.0, "params": {"slope": 0.2}}
    ).json()
    assert view["at"]["a"] == pytest.approx(-0.4)
    assert view["at"]["formula"] == view["at"]["backprop"] == pytest.approx(0.2)
    assert view["written"] == "1 if z≥0 else 0.2"
    assert not view["kink"]["on_it"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "softmax", "z": 0}, "vector"),
        ({"name": "nope", "z": 0}, "unknown activation"),
        ({"name": "relu", "z": 1e9}, "must lie in"),
        ({"name": "relu", "z": "1"}, "must be a number"),
        ({"name": "relu", "z": True}, "must be a number"),
        ({"name": "leaky_relu", "z": 0, "params": {"slope": 5}}, "must lie in"),
        ({"name": "leaky_relu", "z": 0, "params": {"alpha": 1}}, "takes slope"),
        ({"name": "relu"}, "missing field 'z'"),
        ({"name": "relu", "z": 0, "zoom": 2}, "unknown field 'zoom'"),
    ],
)
def test_bad_explorer_requests_are_one_line_400s(client, body, message):
    assert message in _refused(client.post("/api/activation", json=body))


SLIDE = {("sigmoid", -10.0), ("sigmoid", 0.0), ("sigmoid", 10.0)}
SLIDE |= {("tanh", -10.0), ("tanh", 0.0), ("tanh", 10.0)}  # the slide's worked points


def test_the_explorer_offers_the_slides_six_points(client):
    points = client.get("/api/activations").json()["slide_points"]
    assert {(p["name"], p["z"]) for p in points} == SLIDE and len(points) == 6


@pytest.mark.parametrize("z", [-10.0, 10.0, limits.Z_RANGE[0], limits.Z_RANGE[1], 0.5])
def test_the_explorer_reaches_the_slides_points_and_its_whole_range_and_plots_z(client, z):
    assert limits.Z_RANGE[0] <= -10 and limits.Z_RANGE[1] >= 10
    view = client.post("/api/activation", json={"name": "tanh", "z": z}).json()
    assert view["at"]["z"] == z  # computed where asked, never moved into a range
    assert view["at"]["a"] == pytest.approx(math.tanh(z), rel=1e-15)
    low, high = view["curve"]["z"][0], view["curve"]["z"][-1]
    margin = 0.05 * (high - low)
    assert low + margin <= z <= high - margin  # the plot widened to show z
    assert high <= 6.0 or abs(z) > 0.9 * 6.0  # and stays at ±6 near 0


@pytest.mark.parametrize("z", [limits.Z_RANGE[1] + 0.5, limits.Z_RANGE[0] - 0.01, 40.0])
def test_a_z_outside_the_range_is_refused_naming_the_range(client, z):
    message = _refused(client.post("/api/activation", json={"name": "sigmoid", "z": z}))
    low, high = limits.Z_RANGE
    assert f"z must lie in [{low:g}, {high:g}], got {z:g}" in message


def test_an_empty_number_is_missing_not_zero(client):
    assert "z is missing" in _refused(
        client.post("/api/activation", json={"name": "relu", "z": None})
    )
    sid = _session(client)
    response = _train(client, sid, action="reset", settings={"lr": None})
    assert "lr is missing" in _refused(response)


def _decimal_value(text):
    """A printed formula with its numbers in: the slide's a·(1-a) or 1-a², evaluated exactly."""
    from decimal import Decimal, getcontext

    getcontext().prec = 50
    text = text.replace("(-", "(").replace(")", ")")
    sigmoid = re.fullmatch(r"(\(?-?[\d.e+-]+\)?)·\(1-\1\)", text)
    if sigmoid:
        a = Decimal(sigmoid[1].strip("()"))
        return a * (1 - a)
    tanh = re.fullmatch(r"1-\(?(-?[\d.e+-]+)\)?²", text)
    a = Decimal(tanh[1])
    return 1 - a * a


@pytest.mark.parametrize(
    "name, z", [("tanh", 10.0), ("tanh", -10.0), ("tanh", 6.0), ("tanh", 0.3), ("sigmoid", 10.0),
                ("sigmoid", -10.0), ("sigmoid", 40.0), ("sigmoid", -40.0), ("sigmoid", 1.5)],
)  # fmt: skip
def test_the_explorers_arithmetic_is_true_at_the_printed_precision(name, z):
    from tinygrad_act.lab.explorer import explore  # ±40 lies past the API's range: called directly

    texts = explore(name, z)["at"]["texts"]
    head, a_text = texts["a"].rsplit(" = ", 1)
    assert head == f"a = {name}({z:g})"
    exact = math.tanh(z) if name == "tanh" else 1 / (1 + math.exp(-z))
    digits = len(a_text.lstrip("-0.").split("e")[0].replace(".", ""))
    assert float(a_text) == float(f"{exact:.{digits}g}")  # a, rounded to what is printed
    written, plugged, result = texts["formula"].split(" = ")
    assert written == ("1-a²" if name == "tanh" else "a(1-a)")
    shown = len(result.lstrip("-0.").split("e")[0].replace(".", ""))
    assert f"{float(_decimal_value(plugged)):.{shown}g}" == result  # the printed sum holds
    if exact in (1.0, -1.0):  # sigmoid(40) is 1 - 4e-18, stored as 1: the page says so
        assert result == "0" and "exactly 1 in float64" in texts["agreement"]
        return
    slope = 1 - exact**2 if name == "tanh" else exact * (1 - exact)
    assert float(result) == pytest.approx(slope, rel=10 ** (1 - shown)) and shown >= 2
    assert "1-1²" not in texts["formula"]


def test_step_frames_give_each_variables_gradient_so_far(client):
    # o = x*y + x at x = 2, y = -3, by hand: backward through + gives x 1 (and x*y 1); then
    # through * gives x another y = -3 (so -2 in all) and y its x = 2.
    body = {"expression": "x*y + x", "values": {"x": 2.0, "y": -3.0}}
    expected = [{"x": None, "y": None}, {"x": 1.0, "y": None}, {"x": -2.0, "y": 2.0}]
    for step, grads in enumerate(expected):
        frame = client.post("/api/graph", json={**body, "step": step}).json()["frame"]
        assert {v["name"]: v["grad"] for v in frame["variables"]} == grads
        assert [v["grad_text"] for v in frame["variables"]] == [
            "–" if g is None else f"{g:g}" for g in grads.values()
        ]
    final = client.post("/api/graph", json=body).json()["variables"]
    assert {v["name"]: v["grad"] for v in final} == expected[-1]


# ---- training ----------------------------------------------------------------------------------------


def _session(client):
    response = client.post("/api/sessions", json={})
    assert response.status_code == 201
    return response.json()["session"]


def _train(client, sid, **body):
    return client.post(f"/api/sessions/{sid}/train", json=body)


def test_two_networks_train_from_the_same_seed_and_relu_learns_where_sigmoid_stalls(client):
    sid = _session(client)
    settings = {"dataset": "moons", "depth": 4, "width": 16, "activations": ["sigmoid", "relu"]}
    state = _train(client, sid, action="reset", settings={**settings, "lr": 0.3, "seed": 0}).json()
    assert state["step"] == 0 and len(state["points"]) == 100
    for _ in range(4):
        state = _train(client, sid, action="step", steps=50).json()
    assert state["step"] == 200
    sigmoid, relu = state["networks"]
    assert (sigmoid["activation"], relu["activation"]) == ("sigmoid", "relu")
    full = client.get(f"/api/sessions/{sid}/train").json()["networks"]
    assert full[1]["losses"][-1] < 0.5 * full[1]["losses"][0]  # relu learns
    assert full[0]["losses"][-1] > 0.9 * full[0]["losses"][0]  # sigmoid, four layers deep, stalls
    assert len(sigmoid["boundary"]["percent"]) == limits.BOUNDARY_GRID**2
    rows = relu["health"]
    assert [r["layer"] for r in rows] == ["hidden 1", "hidden 2", "hidden 3", "hidden 4"]
    assert all(0 <= r["saturated"] <= 1 and 0 <= r["dead"] <= r["saturated"] for r in rows)
    # The gradient reaching sigmoid's first layer is far smaller than relu's: the lecture's point.
    assert sigmoid["health"][0]["grad"] < 0.1 * relu["health"][0]["grad"]


def test_the_first_loss_is_the_engines_own(client):
    from tinygrad_act.nn import binary_cross_entropy_with_logits, mlp
    from tinygrad_act.train import load_moons

    sid = _session(client)
    settings = {"depth": 2, "width": 8, "activations": ["tanh"], "seed": 3}
    _train(client, sid, action="reset", settings=settings)
    state = _train(client, sid, action="step").json()
    X, y = load_moons(seed=3)
    model = mlp([2, 8, 8, 1], "tanh", rng=3)
    loss = binary_cross_entropy_with_logits(model(Value(X)).reshape(-1), (y > 0).astype(int))
    assert state["networks"][0]["losses"] == [loss.item()]


def test_compiled_and_graph_runs_stream_the_same_numbers_and_the_health_a_monitor_records(client):
    from tinygrad_act.health import Monitor
    from tinygrad_act.nn import SGD, mlp
    from tinygrad_act.train import load_moons
    from tinygrad_act.training import logistic_loss, step

    settings = {"depth": 3, "width": 8, "activations": ["sigmoid", "relu"], "seed": 4, "lr": 0.5}
    states = {}
    for compile in (True, False):
        sid = _session(client)
        state = _train(client, sid, action="reset", settings={**settings, "compile": compile})
        assert state.json()["settings"]["compile"] is compile
        _train(client, sid, action="step", steps=7)
        states[compile] = _train(client, sid, action="step", steps=5).json()
    assert states[True]["networks"] == states[False]["networks"]  # every number, every bit
    # The health shown is what a Monitor records at the latest step of a run on the graph.
    X, y = load_moons(seed=4)
    for net, activation in zip(states[True]["networks"], settings["activations"], strict=True):
        model = mlp([2, 8, 8, 8, 1], activation, rng=4)
        opt = SGD(model.parameters(), lr=0.5)
        with Monitor(model) as monitor:
            for _ in range(12):
                step(model, Value(X), (y > 0).astype(int), logistic_loss, opt, monitor)
        rows = monitor.report()
        assert [h["saturated"] for h in net["health"]] == [r["saturated"] for r in rows]
        assert [h["dead"] for h in net["health"]] == [r["dead"] for r in rows]
        assert [h["grad"] for h in net["health"]] == [r["grad_std"] for r in rows]


def test_a_lab_run_compiles_its_steps_unless_its_settings_say_not_to():
    from tinygrad_act.lab.training import Run, Settings

    small = {"depth": 1, "width": 4, "activations": ("tanh",)}
    run = Run(Settings(**small))
    run.advance(2)
    assert run.snapshot()["networks"][0]["health"]  # measured on the graph, between two steps
    run.advance(2)
    compiled = run.networks[0].compiled
    assert compiled.compiling and len(compiled.programs) == 1  # traced once, run four times
    assert Run(Settings(**small, compile=False)).networks[0].compiled is None


def test_digits_train_and_report_test_accuracy(client):
    sid = _session(client)
    settings = {"dataset": "digits", "depth": 1, "width": 16, "activations": ["relu"], "lr": 1.0}
    state = _train(client, sid, action="reset", settings=settings).json()
    assert state["points"] is None and state["extent"] is None
    state = _train(client, sid, action="step", steps=20).json()
    net = state["networks"][0]
    assert net["boundary"] is None and 0.5 < net["test_accuracy"] <= 1
    assert net["losses"][-1] < net["losses"][0]


def test_a_run_stops_at_its_step_limit(client, monkeypatch):
    monkeypatch.setattr(limits, "MAX_STEPS", 30)
    sid = _session(client)
    _train(client, sid, action="reset", settings={"depth": 1, "width": 4, "activations": ["relu"]})
    state = _train(client, sid, action="step", steps=50).json()
    assert state["step"] == 30 and "limit of 30 steps" in state["message"]
    assert "limit" in _refused(_train(client, sid, action="play"))


def test_a_diverging_run_says_the_learning_rate_is_too_large(client):
    sid = _session(client)
    settings = {"depth": 4, "width": 32, "activations": ["relu"], "lr": 10.0}
    _train(client, sid, action="reset", settings=settings)
    state = _train(client, sid, action="step", steps=50).json()
    assert state["message"] and "learning rate" in state["message"]
    assert None in state["networks"][0]["losses"]  # nan travels as null


def test_sessions_do_not_see_each_others_runs(client):
    a, b = _session(client), _session(client)
    _train(client, a, action="reset", settings={"activations": ["relu"], "seed": 1})
    _train(client, b, action="reset", settings={"activations": ["tanh", "sigmoid"], "seed": 2})
    _train(client, a, action="step", steps=7)
    state_b = client.get(f"/api/sessions/{b}/train").json()
    assert state_b["step"] == 0 and state_b["settings"]["seed"] == 2
    assert client.get(f"/api/sessions/{a}/train").json()["step"] == 7


def test_play_right_after_pause_keeps_playing_with_one_player(client):
    import time

    sid = _session(client)
    _train(client, sid, action="reset", settings={"depth": 1, "width": 4})
    _train(client, sid, action="play")
    _train(client, sid, action="pause")
    _train(client, sid, action="play")  # the first player's last chunk may still be running
    time.sleep(0.3)
    state = client.get(f"/api/sessions/{sid}/train").json()
    assert state["playing"] and state["step"] > 0
    assert client.app.state.store.playing() == 1
    _train(client, sid, action="pause")


def test_closing_a_session_removes_it(client):
    sid = _session(client)
    assert client.post(f"/api/sessions/{sid}/close", content=b"{}").json() == {"closed": True}
    assert "no such session" in _refused(client.get(f"/api/sessions/{sid}/train"), 404)


def test_the_number_of_sessions_is_bounded_and_every_session_can_train():
    with TestClient(create_app(SessionStore(max_sessions=3)), **PAGE) as client:
        sids = [_session(client) for _ in range(3)]
        assert "the lab is full" in _refused(client.post("/api/sessions", json={}), 429)
        for sid in sids:
            _train(client, sid, action="reset", settings={"depth": 1, "width": 2})
        for sid in sids:
            assert _train(client, sid, action="play").json()["playing"] is True
        assert client.app.state.store.playing() == 3
        for sid in sids:
            _train(client, sid, action="pause")


def test_a_session_without_a_page_expires_within_a_minute(client):
    store = client.app.state.store
    watched, orphan = _session(client), _session(client)
    store.sessions[watched].streams = 1  # as if its tab held the event stream open
    store.sweep(now=time.monotonic() + limits.SESSION_IDLE_SECONDS + 0.1)
    assert set(store.sessions) == {watched}
    assert limits.SESSION_IDLE_SECONDS + SWEEP_SECONDS <= 60
    assert "no such session" in _refused(client.get(f"/api/sessions/{orphan}/train"), 404)


def test_a_playing_run_reports_its_steps_per_second(client):
    sid = _session(client)
    _train(client, sid, action="reset", settings={"depth": 1, "width": 4})
    assert _train(client, sid, action="play").json()["steps_per_second"] is None  # not measured yet
    deadline = time.monotonic() + 30
    while (state := client.get(f"/api/sessions/{sid}/train").json())["step"] < 20:
        assert time.monotonic() < deadline, state["step"]
        time.sleep(0.05)
    measured = client.get(f"/api/sessions/{sid}/train").json()
    _train(client, sid, action="pause")
    assert measured["steps_per_second"] > 0
    # A lone run trains at most STEPS_PER_TICK steps per TICK_SECONDS.
    assert measured["steps_per_second"] <= STEPS_PER_TICK / TICK_SECONDS * 1.2
    assert client.get(f"/api/sessions/{sid}/train").json()["steps_per_second"] is None


# ---- only the lab's own page drives the lab ------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.2", "[::2]:80", ""])
def test_a_request_for_another_host_is_refused_as_dns_rebinding_would_send(client, host):
    # A page on evil.example, its name rebound to this machine, sends its own name as Host.
    for method, path in [("GET", "/"), ("GET", "/api/activations"), ("POST", "/api/sessions")]:
        response = client.request(method, path, headers={"host": host}, json={})
        assert "this lab answers requests for 127.0.0.1, [::1], localhost" in _refused(
            response, 403
        )
    assert client.app.state.store.sessions == {}


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_the_loopback_names_are_served(client, host):
    assert client.get("/api/activations", headers={"host": host}).status_code == 200


def test_a_cross_site_text_plain_post_is_refused_and_changes_nothing(client):
    # What a form or fetch(mode: "no-cors") on any page can send without a preflight.
    evil = {"origin": "http://evil.example", "content-type": "text/plain;charset=UTF-8"}
    message = _refused(client.post("/api/sessions", content=b"{}", headers=evil), 403)
    assert "requests from 'http://evil.example' are refused" in message
    sid = _session(client)
    _train(client, sid, action="reset", settings={"seed": 3})
    bad = client.post(f"/api/sessions/{sid}/close", content=b"{}", headers=evil)
    _refused(bad, 403)
    assert set(client.app.state.store.sessions) == {sid}


@pytest.mark.parametrize(
    "headers, status, message",
    [
        ({"origin": "http://127.0.0.1:9999"}, 403, "only the lab's own page"),  # another local app
        ({"origin": "null"}, 403, "requests from 'null'"),  # a sandboxed frame or a file
        ({"sec-fetch-site": "cross-site"}, 403, "a cross-site request is refused"),
        ({"sec-fetch-site": "same-site"}, 403, "a same-site request is refused"),
        ({"content-type": "text/plain"}, 415, "must be JSON"),
        ({"content-type": "application/x-www-form-urlencoded"}, 415, "must be JSON"),
        ({"content-type": ""}, 415, "got 'none'"),
    ],
)
def test_a_post_not_from_the_labs_own_page_is_refused(client, headers, status, message):
    response = client.post("/api/sessions", content=b"{}", headers=headers)
    assert message in _refused(response, status)
    assert client.app.state.store.sessions == {}


def test_the_pages_own_posts_are_accepted(client):
    own = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"}
    assert client.post("/api/sessions", json={}, headers=own).status_code == 201
    on_a_port = {"host": "localhost:8000", "origin": "http://localhost:8000"}
    assert client.post("/api/sessions", json={}, headers=on_a_port).status_code == 201
    charset = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/api/sessions", content=b"{}", headers=charset).status_code == 201


def test_a_lab_for_the_network_serves_the_names_it_was_given():
    app = create_app(hosts=["192.0.2.7", "lab.school.example"])
    with TestClient(app, base_url="http://lab.school.example:8000") as client:
        assert client.get("/api/activations").status_code == 200
        assert client.get("/", headers={"host": "192.0.2.7:8000"}).status_code == 200
        assert "not for host 'localhost'" in _refused(
            client.get("/", headers={"host": "localhost"}), 403
        )


@pytest.mark.parametrize(
    "body, message",
    [
        ({"action": "jump"}, "must be one of reset, play, pause, step"),
        ({"action": "step", "steps": 0}, "must lie in 1..50"),
        ({"action": "step", "steps": 2.5}, "whole number"),
        ({"action": "play", "steps": 3}, "does not go with action 'play'"),
        (
            {"action": "reset", "settings": {"depth": 99}},
            "depth must be a whole number from 1 to 4, got 99",
        ),
        (
            {"action": "reset", "settings": {"width": 10**400}},
            "width must be a whole number from 1 to 32",
        ),
        (
            {"action": "reset", "settings": {"width": 2.5}},
            "width must be a whole number from 1 to 32, got 2.5",
        ),
        (
            {"action": "reset", "settings": {"lr": -1}},
            "lr must be a number from 0.0001 to 10, got -1",
        ),
        (
            {"action": "reset", "settings": {"lr": None}},
            "settings: lr is missing: give a number from 0.0001 to 10",
        ),
        ({"action": "reset", "settings": {"lr": ""}}, "settings: lr is missing"),
        (
            {"action": "reset", "settings": {"seed": 2**32}},
            "seed must be a whole number from 0 to 2**32 - 1",
        ),
        (
            {"action": "reset", "settings": {"activations": "relu"}},
            "activations must be a list of 1 to 2 entries",
        ),
        ({"action": "reset", "settings": {"activations": []}}, "1 to 2 entries"),
        ({"action": "reset", "settings": {"activations": ["a", "b", "c"]}}, "1 to 2 entries"),
        ({"action": "reset", "settings": {"activations": ["softmax"]}}, "must be one of"),
        (
            {"action": "reset", "settings": {"activations": ["relu", "tanhh"]}},
            "settings: activations[1]: unknown activation 'tanhh'; give one of the elementwise",
        ),
        ({"action": "reset", "settings": {"dataset": "mnist"}}, "must be one of moons, digits"),
        (
            {"action": "reset", "settings": {"compile": "yes"}},
            "settings: compile must be true or false, got 'yes'",
        ),
        ({"action": "reset", "settings": {"compile": 1}}, "compile must be true or false, got 1"),
        ({"action": "reset", "settings": {"compile": None}}, "compile is missing: give true or"),
        ({"action": "reset", "settings": {"layers": 3}}, "unknown field 'layers'"),
        ({"action": "reset", "settings": []}, "must be an object"),
    ],
)
def test_bad_training_requests_are_one_line_400s(client, body, message):
    sid = _session(client)
    assert message in _refused(_train(client, sid, **body))


def test_a_step_before_any_reset_says_what_to_do(client):
    sid = _session(client)
    assert "reset" in _refused(_train(client, sid, action="step"))


# ---- malformed requests, anywhere --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{", "malformed JSON"),
        (b"not json", "malformed JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"expression": "x", "values": {"x": NaN}}', "NaN"),
        (b'{"expression": "x", "values": {"x": Infinity}}', "Infinity"),
        (b'{"expression": "x", "values": {"x": 1e999}}', "finite"),
        (b'{"expression": "x", "values": {"x": ' + b"9" * 5000 + b"}}", "malformed JSON"),
        (b"[" * 10_000, "nested too deeply"),
        (b'{"expression": "x", "values": {"not a name": 1}}', "not a variable name"),
        (b'{"expression": "x", "values": [1]}', "must be an object"),
        (b'{"expression": "x", "extra": 1}', "unknown field 'extra'"),
        (b'{"values": {}}', "missing field 'expression'"),
    ],
)
def test_malformed_bodies_get_a_one_line_4xx(client, raw, message):
    response = client.post("/api/graph", content=raw)
    assert response.status_code in (400, 413)
    assert message in _refused(response, response.status_code)


def test_a_huge_body_is_refused_before_it_is_read(client):
    body = json.dumps({"expression": "x", "values": {"x": 1}, "pad": "a" * 100_000})
    assert "too large" in _refused(client.post("/api/graph", content=body), 413)


def test_unknown_paths_and_methods_get_json_errors(client):
    assert "no such page" in _refused(client.get("/api/nothing"), 404)
    assert "no such page" in _refused(client.get("/static/nothing.js"), 404)
    assert "not allowed" in _refused(client.get("/api/graph"), 405)
    assert "no such session" in _refused(client.get("/api/sessions/zzz/train"), 404)


def test_the_page_and_its_files_come_from_the_package_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>tinygrad_act lab</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in ("/static/lab.css", "/static/js/main.js", "/static/js/graph.js"):
        assert client.get(path).status_code == 200
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")


def test_activations_lists_every_elementwise_registered_activation(client):
    meta = client.get("/api/activations").json()
    names = [a["name"] for a in meta["activations"]]
    assert names == [n for n, s in ACTIVATIONS.items() if not s.tensor_only]
    leaky = next(a for a in meta["activations"] if a["name"] == "leaky_relu")
    assert leaky["parameters"] == [{"name": "slope", "default": 0.01, "range": [0.0, 1.0]}]


def test_the_training_forms_limits_are_the_librarys_settings(client):
    from tinygrad_act import settings

    limits = client.get("/api/activations").json()["limits"]
    assert limits["datasets"] == list(settings.DATASETS)
    for name in ("depth", "width", "lr", "seed"):
        assert limits[name] == list(settings.bounds(name)), name
    sid = _session(client)
    top = settings.bounds("seed")[1]  # the form's bound is the one the server holds to
    state = _train(client, sid, action="reset", settings={"seed": top, "activations": ["relu"]})
    assert state.json()["settings"]["seed"] == top
    assert "seed must be" in _refused(
        _train(client, sid, action="reset", settings={"seed": top + 1})
    )


def test_every_static_file_is_installed_with_the_package():
    import configparser
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg")
    patterns = config["options.package_data"]["tinygrad_act.lab"].split()
    static = root / "tinygrad_act" / "lab"
    installed = {p for pattern in patterns for p in static.glob(pattern)}
    files = {p for p in (static / "static").rglob("*") if p.is_file()}
    assert files and files == installed
