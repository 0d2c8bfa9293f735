"""tinygrad_act.health: saturation and dead units from the registry's g'(z), and the Monitor.

Every number is checked against an independent computation: the slide's formulas written in
numpy here, and a forward and backward pass of the network done by hand.
"""

import random

import numpy as np
import pytest

from tinygrad_act import Value, no_grad
from tinygrad_act.health import (
    ROW_KEYS,
    Monitor,
    dead_fraction,
    format_health_table,
    peak_slope,
    plot_health,
    saturated_fraction,
)
from tinygrad_act.health_demo import deep_net
from tinygrad_act.nn import (
    MLP,
    SGD,
    Activation,
    Layer,
    Linear,
    Neuron,
    Sequential,
    Tanh,
    mlp,
    mse_loss,
)

Z = np.concatenate([np.linspace(-12, 12, 241), [0.0, -0.0, 1e-12, -1e-12, 2.99, 3.0, 6.0]])


def hand_sigmoid(z):
    return 1 / (1 + np.exp(-z))


# The slide's g'(z), written here in numpy, independently of the registry.
HAND_SLOPES = {
    "sigmoid": lambda z: hand_sigmoid(z) * (1 - hand_sigmoid(z)),
    "tanh": lambda z: 1 - np.tanh(z) ** 2,
    "relu": lambda z: np.where(z >= 0, 1.0, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, 1.0, 0.01),
}
PEAKS = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "leaky_relu": 1.0}


# ---- saturated_fraction, dead_fraction ----------------------------------------------------------


def test_peak_slopes_are_the_slides_values_at_zero():
    assert {name: peak_slope(name) for name in PEAKS} == PEAKS


@pytest.mark.parametrize("name", list(HAND_SLOPES))
@pytest.mark.parametrize("threshold", [0.01, 0.06, 0.3])
def test_saturated_fraction_matches_the_slides_formula_in_numpy(name, threshold):
    hand = np.mean(np.abs(HAND_SLOPES[name](Z)) < threshold * PEAKS[name])
    assert saturated_fraction(name, Z, threshold=threshold) == pytest.approx(hand, abs=0)


def test_tanh_saturates_where_a_passes_0995_and_karpathys_097_at_threshold_006():
    a = np.tanh(Z)
    away = (np.abs(np.abs(a) - 0.995) > 1e-4) & (np.abs(np.abs(a) - 0.97) > 1e-3)
    z = Z[away]  # away from the borders, where the rounded 0.995 and 0.97 are not exact
    assert saturated_fraction("tanh", z) == np.mean(np.abs(np.tanh(z)) > 0.995)
    assert saturated_fraction("tanh", z, threshold=0.06) == np.mean(np.abs(np.tanh(z)) > 0.97)


def test_relu_at_exactly_zero_has_the_lectures_slope_1_and_is_not_saturated():
    assert saturated_fraction("relu", 0.0) == 0.0
    assert saturated_fraction("relu", -0.0) == 0.0
    assert saturated_fraction("relu", -1e-300) == 1.0
    assert saturated_fraction("relu", [-2.0, -1.0, 0.0, 1.0]) == 0.5


def test_leaky_relu_default_slope_is_never_saturated_at_the_default_threshold():
    assert saturated_fraction("leaky_relu", np.linspace(-1000, 1000, 101)) == 0.0
    # ... but a smaller slope is, and a larger threshold counts the 0.01 side
    assert saturated_fraction("leaky_relu", [-1.0, 1.0], slope=0.001) == 0.5
    assert saturated_fraction("leaky_relu", [-1.0, 1.0], threshold=0.02) == 0.5


def test_sigmoid_saturates_only_far_out_as_on_the_slide():
    # a(1-a) < 0.0025 needs |z| > 5.99: z = ±10 (the slide's points) saturated, 0 and ±5 not
    assert saturated_fraction("sigmoid", [-10.0, 10.0]) == 1.0
    assert saturated_fraction("sigmoid", [-5.0, 0.0, 5.0]) == 0.0


def test_a_float_an_int_a_list_an_array_and_a_value_give_the_same_answer():
    z = [-3.0, -0.5, 0.0, 4.0]
    want = saturated_fraction("tanh", np.array(z), threshold=0.3)
    assert saturated_fraction("tanh", z, threshold=0.3) == want
    assert saturated_fraction("tanh", Value(np.array(z)), threshold=0.3) == want
    assert saturated_fraction("tanh", np.array(z, dtype=np.float32), threshold=0.3) == want
    assert saturated_fraction("relu", -3) == saturated_fraction("relu", Value(-3.0)) == 1.0


@pytest.mark.parametrize("name", list(HAND_SLOPES))
def test_dead_fraction_is_the_share_of_units_saturated_for_every_example(name):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 40)) * 4
    z[:, :10] -= 20  # these units are below zero (and far out for sigmoid, tanh) for every example
    z[:, 10:15] += 20
    hand = np.mean((np.abs(HAND_SLOPES[name](z)) < 0.01 * PEAKS[name]).all(axis=0))
    assert dead_fraction(name, z) == hand
    assert dead_fraction(name, Value(z)) == hand
    expected = {"sigmoid": 15 / 40, "tanh": 15 / 40, "relu": 10 / 40, "leaky_relu": 0.0}
    assert hand == pytest.approx(expected[name], abs=0.03)


def test_dead_fraction_takes_a_vector_as_one_example():
    assert dead_fraction("relu", [-1.0, 2.0, -3.0, 0.0]) == 0.5
    assert dead_fraction("relu", -1.0) == 1.0
    assert dead_fraction("relu", [[-1.0, 2.0], [1.0, -2.0]]) == 0.0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: saturated_fraction("swish", 1.0), ValueError, "unknown activation 'swish'"),
        (lambda: saturated_fraction("softmax", [1.0, 2.0]), ValueError, "not elementwise"),
        (lambda: saturated_fraction("tanh", 1.0, threshold=-0.1), ValueError, "in [0, 1]"),
        (lambda: saturated_fraction("tanh", 1.0, threshold=True), ValueError, "got True"),
        (lambda: saturated_fraction("tanh", 1.0, threshold="0.1"), ValueError, "got '0.1'"),
        (lambda: saturated_fraction("relu", 1.0, slope=0.1), TypeError, "takes no parameters"),
        (lambda: saturated_fraction("relu", []), ValueError, "z is empty"),
        (lambda: saturated_fraction("relu", ["a"]), TypeError, "takes numbers"),
        (lambda: dead_fraction("relu", np.zeros((2, 3, 4))), ValueError, "shape (2, 3, 4)"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):  # fmt: skip
        call()


def test_nothing_overflows_at_huge_z():
    z = np.array([-1e308, -1000.0, 1000.0, 1e308, np.inf, -np.inf])
    assert saturated_fraction("sigmoid", z) == 1.0
    assert saturated_fraction("tanh", z) == 1.0


# ---- Monitor: by hand ------------------------------------------------------------------------


def _tanh_net():
    return mlp([3, 5, 4, 2], "tanh", rng=1)


def _hand_pass(net, X, target):
    """Forward and backward of Linear-tanh-Linear-tanh-Linear with mse loss, in numpy."""
    W0, b0, W2, b2, W4, b4 = (p.data for p in net.parameters())
    z1 = X @ W0 + b0
    a1 = np.tanh(z1)
    z2 = a1 @ W2 + b2
    a2 = np.tanh(z2)
    out = a2 @ W4 + b4
    d_out = 2 * (out - target) / out.size
    d_a2 = d_out @ W4.T
    d_z2 = d_a2 * (1 - a2**2)
    d_a1 = d_z2 @ W2.T
    d_z1 = d_a1 * (1 - a1**2)
    return {"z": (z1, z2), "a": (a1, a2), "da": (d_a1, d_a2), "dW": (X.T @ d_z1, a1.T @ d_z2)}


def _hand_row(z, a, da, W, dW, threshold=0.01):
    sat = (1 - np.tanh(z) ** 2) < threshold
    return {
        "saturated": sat.mean(),
        "dead": sat.all(axis=0).mean(),
        "out_mean": a.mean(),
        "out_std": a.std(),
        "grad_mean": da.mean(),
        "grad_std": da.std(),
        "grad_to_data": dW.std() / W.std(),
    }


def test_the_monitors_numbers_equal_a_forward_and_backward_pass_by_hand():
    net = _tanh_net()
    rng = np.random.default_rng(2)
    X, target = rng.normal(size=(16, 3)) * 3, rng.normal(size=(16, 2))
    opt = SGD(net.parameters(), lr=0.3)
    monitor = Monitor(net, threshold=0.2)
    previous = None
    for step in range(3):
        weights_before = [net[0].weight.data.copy(), net[2].weight.data.copy()]
        hand = _hand_pass(net, X, target)
        loss = mse_loss(net(Value(X)), target)
        opt.zero_grad()
        loss.backward()
        rows = monitor.record()
        assert [r["layer"] for r in rows] == ["1", "3"]
        assert [r["activation"] for r in rows] == ["tanh", "tanh"]
        for i, row in enumerate(rows):
            W = net[2 * i].weight.data
            want = _hand_row(hand["z"][i], hand["a"][i], hand["da"][i], W, hand["dW"][i], 0.2)
            for key, value in want.items():
                assert row[key] == pytest.approx(value, rel=1e-10, abs=1e-15), (step, i, key)
            if step == 0:
                assert row["update_to_data"] is None  # no optimizer step yet
            else:  # the step made between the last record and this one
                change = W - previous[i]
                assert row["update_to_data"] == pytest.approx(change.std() / previous[i].std())
        assert 0 < rows[0]["saturated"] < 1  # the threshold makes the check not trivial
        previous = weights_before
        opt.step()
    monitor.remove()
    assert len(monitor.history) == 3 and monitor.report() == monitor.history[-1]


def test_update_to_data_is_the_last_sgd_step_lr_times_grad_over_the_data():
    net = _tanh_net()
    X = np.random.default_rng(3).normal(size=(8, 3))
    opt = SGD(net.parameters(), lr=0.5)
    with Monitor(net) as monitor:
        net(Value(X)).sum().backward()
        monitor.record()
        grads = [net[0].weight.grad.copy(), net[2].weight.grad.copy()]
        before = [net[0].weight.data.copy(), net[2].weight.data.copy()]
        opt.step()
        opt.zero_grad()
        net(Value(X)).sum().backward()
        monitor.record()  # reports the step made since the last record
    for row, g, w in zip(monitor.report(), grads, before, strict=True):
        assert row["update_to_data"] == pytest.approx((0.5 * g).std() / w.std(), rel=1e-9)


def test_recording_after_the_step_reports_that_step_at_once():
    net = _tanh_net()
    X = np.random.default_rng(3).normal(size=(8, 3))
    opt = SGD(net.parameters(), lr=0.5)
    with Monitor(net) as monitor:
        net(Value(X)).sum().backward()
        before, grad = net[0].weight.data.copy(), net[0].weight.grad.copy()
        opt.step()
        row = monitor.record()[0]  # the gradients are still there; the weights have moved
    assert row["update_to_data"] == pytest.approx((0.5 * grad).std() / before.std(), rel=1e-9)


def test_report_has_exactly_the_issues_keys_and_returns_copies():
    net = _tanh_net()
    with Monitor(net) as monitor:
        net(Value(np.ones((2, 3)))).sum().backward()
        monitor.record()
    report = monitor.report()
    assert all(tuple(row) == ROW_KEYS for row in report)
    report[0]["saturated"] = 99
    assert monitor.report()[0]["saturated"] != 99


# ---- Monitor: the lecture's effects ---------------------------------------------------------------


def test_a_deep_sigmoid_network_gives_its_first_layer_under_a_tenth_of_its_last_layers_gradient():
    net = deep_net("sigmoid")
    X = np.random.default_rng(0).normal(size=(64, 2))
    with Monitor(net) as monitor:
        mse_loss(net(Value(X)).reshape(-1), np.ones(64)).backward()
        rows = monitor.record()
    first, last = rows[0]["grad_std"], rows[-1]["grad_std"]
    assert len(rows) == 5 and first < last / 10
    assert [r["grad_std"] for r in rows] == sorted(r["grad_std"] for r in rows)  # shrinks downward


def _biased(activation, bias):
    net = mlp([2, 16, 16, 1], activation, rng=0)
    for m in net:
        if isinstance(m, Linear) and m.nout == 16:
            m.bias.data[:] = bias
    return net


@pytest.mark.parametrize("bias", [-3.0, -10.0])
def test_a_large_negative_bias_kills_relus_and_leaky_relu_keeps_them_alive(bias):
    X = np.random.default_rng(0).uniform(-1, 1, size=(100, 2))
    found = {}
    for activation in ("relu", "leaky_relu"):
        net = _biased(activation, bias)
        with Monitor(net) as monitor:
            net(Value(X)).sum().backward()
            found[activation] = monitor.record()
    assert all(row["dead"] > 0.5 for row in found["relu"])
    assert found["relu"][0]["grad_std"] == 0.0  # nothing comes back through a dead layer
    assert all(row["dead"] == 0.0 and row["saturated"] == 0.0 for row in found["leaky_relu"])
    assert found["leaky_relu"][0]["grad_std"] > 0.0


def test_relus_dead_fraction_counts_the_units_negative_for_every_example():
    net = _biased("relu", -0.5)
    X = np.random.default_rng(1).uniform(-1, 1, size=(100, 2))
    with Monitor(net) as monitor:
        net(Value(X)).sum().backward()
        rows = monitor.record()
    with no_grad():
        z1 = net[0](Value(X)).data
        z2 = net[2](net[1](net[0](Value(X)))).data
    assert rows[0]["dead"] == np.mean((z1 < 0).all(axis=0))
    assert rows[1]["dead"] == np.mean((z2 < 0).all(axis=0))


# ---- Monitor: every kind of model -------------------------------------------------------------


def test_the_scalar_mlp_per_point_and_batched_give_the_same_rows():
    X = np.random.default_rng(4).normal(size=(6, 2))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    rows = {}
    for mode in ("per_point", "batched"):
        model = MLP(2, [4, 3, 1], activation="tanh", rng=random.Random(0))
        with Monitor(model) as monitor:
            if mode == "per_point":  # micrograd's demo: one scalar forward per point
                scores = [model([Value(float(a)), Value(float(b))]) for a, b in X]
                loss = mse_loss(scores, y)
            else:  # each input column as a tensor
                loss = mse_loss(model([Value(X[:, 0]), Value(X[:, 1])]), y)
            loss.backward()
            rows[mode] = monitor.record()
    assert [r["layer"] for r in rows["batched"]] == ["layers.0", "layers.1"]
    for a, b in zip(rows["per_point"], rows["batched"], strict=True):
        assert a.keys() == b.keys()
        assert (a["layer"], a["activation"], a["update_to_data"]) == (
            b["layer"],
            b["activation"],
            None,
        )
        for key in ROW_KEYS[2:-1]:
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-15), key


def test_the_scalar_mlp_matches_the_hand_computation_from_its_weights():
    model = MLP(2, [3, 1], activation="tanh", rng=random.Random(5))
    X = np.random.default_rng(5).normal(size=(7, 2))
    W = np.array([[w.data for w in n.w] for n in model.layers[0].neurons]).T  # (2, 3)
    b = np.array([n.b.data for n in model.layers[0].neurons])
    v = np.array([w.data for w in model.layers[1].neurons[0].w])
    z = X @ W + b
    a = np.tanh(z)
    d_a = np.outer(np.ones(7) / 7, v)  # d(mean of the scores)/da
    d_W = X.T @ (d_a * (1 - a**2))
    with Monitor(model) as monitor:
        (model([Value(X[:, 0]), Value(X[:, 1])]).sum() * (1 / 7)).backward()
        (row,) = monitor.record()
    want = _hand_row(z, a, d_a, W, d_W)
    for key, value in want.items():
        assert row[key] == pytest.approx(value, rel=1e-10, abs=1e-15), key


def test_a_layer_a_neuron_and_an_activation_module_alone_are_watched():
    x = [Value(np.array([-1.0, 0.5, 2.0])), Value(np.array([0.3, -0.2, 1.0]))]
    layer = Layer(2, 3, activation="sigmoid", rng=random.Random(0))
    neuron = Neuron(2, activation="relu", rng=random.Random(1))
    act = Activation("leaky_relu", slope=0.2)
    for model, call, entries in [
        (layer, lambda: sum(layer(x)).sum(), 3 * 3),  # 3 examples of 3 units
        (neuron, lambda: neuron(x).sum(), 3 * 1),
        (act, lambda: act(Value(np.array([[-1.0, 2.0]]))).sum(), 1 * 2),
    ]:
        with Monitor(model) as monitor:
            call().backward()
            (row,) = monitor.record()
        assert monitor._latest[0][0].size == entries
        assert row["layer"] == type(model).__name__
        assert row["grad_to_data"] is None if model is act else row["grad_to_data"] > 0
    assert row["activation"] == "leaky_relu" and row["out_mean"] == pytest.approx((-0.2 + 2) / 2)


def test_nested_sequentials_and_a_final_softmax():
    inner = Sequential(Linear(3, 4, rng=0), Tanh())
    net = Sequential(inner, Linear(4, 4, rng=1), Activation("relu"), Linear(4, 3, rng=2))
    net.modules.append(Activation("softmax"))  # not elementwise: no hidden layer to watch
    with Monitor(net) as monitor:
        net(Value(np.ones((2, 3))))[:, 0].sum().backward()
        rows = monitor.record()
    assert [(r["layer"], r["activation"]) for r in rows] == [("0.1", "tanh"), ("2", "relu")]
    assert all(r["grad_to_data"] is not None for r in rows)


def test_the_models_train_builds_are_watched_every_step():
    pytest.importorskip("sklearn")
    from tinygrad_act.train import train_digits, train_moons

    run = train_moons("tanh", epochs=3, progress=False, health=True)
    assert len(run.health.history) == 3
    assert [r["layer"] for r in run.health.report()] == ["layers.0", "layers.1"]
    assert run.health.history[0][0]["update_to_data"] is None
    assert run.health.history[1][0]["update_to_data"] > 0
    assert "_forward_hooks" not in vars(run.model.layers[0])  # removed when training ended
    run = train_digits("relu", epochs=1, progress=False, health=True)
    assert len(run.health.history) == run.steps == 23  # one per minibatch of 64 of 1437
    assert [r["layer"] for r in run.health.report()] == ["1"]


# ---- Monitor: life cycle -------------------------------------------------------------------


def _module_state(model):
    found, stack = [], [model]
    while stack:
        m = stack.pop()
        found.append((type(m).__name__, sorted(vars(m))))
        stack += [v for v in vars(m).values() if hasattr(v, "_members")]
        for v in vars(m).values():
            if isinstance(v, list):
                stack += [x for x in v if hasattr(x, "_members")]
    return found


@pytest.mark.parametrize("how", ["remove", "with"])
def test_removing_the_monitor_leaves_the_model_as_it_was(how):
    model = MLP(2, [3, 3, 1], activation="relu", rng=random.Random(0))
    net = _tanh_net()
    before = _module_state(model), _module_state(net)
    x = [Value(np.array([1.0, 2.0])), Value(np.array([0.5, -1.0]))]
    if how == "remove":
        monitors = [Monitor(model), Monitor(net)]
        model(x).sum().backward()
        net(Value(np.ones((2, 3)))).sum().backward()
        for m in monitors:
            m.remove()
            m.remove()  # twice is fine
    else:
        with Monitor(model) as m1, Monitor(net) as m2:
            model(x).sum().backward()
            net(Value(np.ones((2, 3)))).sum().backward()
            m1.record(), m2.record()
        monitors = [m1, m2]
    assert (_module_state(model), _module_state(net)) == before
    model(x).sum().backward()  # the model still works, and the removed monitor sees nothing
    for m in monitors:
        assert all(not layer.captures for layer in m.layers)
        with pytest.raises(ValueError, match="removed"):
            m.record()


def test_record_before_backward_is_an_error_that_changes_nothing():
    net = _tanh_net()
    with Monitor(net) as monitor:
        with pytest.raises(ValueError, match=r"no backward pass .* call it after loss.backward"):
            monitor.record()
        out = net(Value(np.ones((2, 3)))).sum()
        with pytest.raises(ValueError, match="layer 1, 3"):
            monitor.record()
        out.backward()
        assert len(monitor.record()) == 2  # the forward was kept by the failed record
        with pytest.raises(ValueError, match="no backward pass"):
            monitor.record()  # each step is recorded once
    with pytest.raises(ValueError, match="nothing recorded"):
        Monitor(net).report()


def test_a_forward_under_no_grad_is_not_recorded():
    net = _tanh_net()
    with Monitor(net) as monitor:
        with no_grad():
            net(Value(np.full((5, 3), 7.0)))  # evaluation: no graph, nothing to come back
        net(Value(np.ones((2, 3)))).sum().backward()
        monitor.record()
        net.zero_grad()
        net(Value(np.ones((2, 3)))).sum().backward()
        again = monitor.record()
    assert monitor.history[0] == again  # the evaluation's 5 rows were never counted


def test_several_forwards_before_one_record_are_pooled():
    net = _tanh_net()
    rng = np.random.default_rng(6)
    A, B = rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    with Monitor(net) as monitor:
        (net(Value(A)).sum() + net(Value(B)).sum()).backward()
        pooled = monitor.record()
        net(Value(np.vstack([A, B]))).sum().backward()
        together = monitor.record()
    for a, b in zip(pooled, together, strict=True):
        for key in ("saturated", "dead", "out_mean", "out_std", "grad_mean", "grad_std"):
            assert a[key] == pytest.approx(b[key], rel=1e-12), key


def _rows_after_backward(failure=None):
    """One step's rows; with `failure`, the first backward dies midway (after the monitor's hooks
    on layer 3 and layer 1 have seen their gradients) and is run again."""
    net = _tanh_net()
    X = np.random.default_rng(7).normal(size=(8, 3))
    raised = []

    def fail_once(g):
        if failure is not None and not raised:
            raised.append(failure)
            raise failure("stopped midway")

    def watch_z1(module, x, out):  # z of layer 1: its gradient comes after a1's and a3's
        out.register_hook(fail_once)

    net[0].register_forward_hook(watch_z1)
    with Monitor(net) as monitor:
        out = net(Value(X))
        loss = (out * out).sum()  # a non-uniform upstream gradient
        if failure is not None:
            with pytest.raises(failure, match="stopped midway"):
                loss.backward()
        loss.backward()
        return monitor.record(), [p.grad.copy() for p in net.parameters()]


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_backward_that_failed_midway_and_its_retry_report_what_a_clean_run_does(failure):
    clean_rows, clean_grads = _rows_after_backward()
    rows, grads = _rows_after_backward(failure)
    assert rows == clean_rows  # the failed pass counts for nothing, as for every .grad
    for a, b in zip(grads, clean_grads, strict=True):
        assert np.array_equal(a, b)
    assert rows[0]["grad_mean"] != 0 and rows[1]["grad_std"] > 0


def test_forwards_that_are_never_backpropagated_are_not_kept_without_bound():
    from tinygrad_act.health.measures import POOLED_FORWARDS

    net, clean = _tanh_net(), _tanh_net()
    X = np.random.default_rng(8).normal(size=(6, 3))
    with Monitor(net) as monitor, Monitor(clean) as fresh:
        for _ in range(200):  # evaluation without no_grad: nothing ever comes back
            net(Value(X))
        assert all(len(layer.captures) == POOLED_FORWARDS for layer in monitor.layers)
        for model in (net, clean):
            model(Value(X)).sum().backward()
        assert monitor.record() == fresh.record()  # only the step's forward is counted
        assert all(not layer.captures for layer in monitor.layers)


def test_an_empty_batch_is_a_clear_error_that_changes_nothing():
    net = _tanh_net()
    with Monitor(net) as monitor:
        net(Value(np.ones((2, 3)))).sum().backward()
        first = monitor.record()
        net(Value(np.zeros((0, 3)))).sum().backward()
        with pytest.raises(ValueError, match=r"layer 1, 3 was empty \(0 examples\)"):
            monitor.record()
        assert monitor.history == [first]
        net.zero_grad()
        net(Value(np.ones((2, 3)))).sum().backward()
        assert monitor.record() == first  # the empty forward adds no row


def test_create_graph_backward_is_recorded_like_a_plain_one():
    rows = []
    for create_graph in (False, True):
        net = _tanh_net()
        with Monitor(net) as monitor:
            net(Value(np.ones((2, 3)))).sum().backward(create_graph=create_graph)
            rows.append(monitor.record())
    for a, b in zip(*rows, strict=True):
        for key in ("saturated", "out_std", "grad_mean", "grad_std", "grad_to_data"):
            assert a[key] == pytest.approx(b[key], rel=1e-12), key


def test_bad_models_are_named():
    with pytest.raises(TypeError, match="got list"):
        Monitor([Linear(2, 2)])
    with pytest.raises(ValueError, match="no elementwise activation layer"):
        Monitor(Sequential(Linear(2, 2, rng=0)))
    shared = Tanh()
    with pytest.raises(ValueError, match="one module is used at 1, 3"):
        Monitor(Sequential(Linear(2, 2, rng=0), shared, Linear(2, 2, rng=1), shared))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        Monitor(_tanh_net(), threshold=2)


# ---- what users see ---------------------------------------------------------------------------


def _trained_monitor(activation="tanh", steps=4, lr=0.1):
    net = mlp([3, 6, 6, 1], activation, rng=0)
    opt = SGD(net.parameters(), lr=lr)
    X = np.random.default_rng(0).normal(size=(10, 3))
    monitor = Monitor(net)
    for _ in range(steps):
        loss = mse_loss(net(Value(X)).reshape(-1), np.ones(10))
        opt.zero_grad()
        loss.backward()
        monitor.record()
        opt.step()
    monitor.remove()
    return monitor


def test_plot_writes_one_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = _trained_monitor().plot(tmp_path / "sub" / "health.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_plot_health_puts_activations_side_by_side_and_survives_a_diverged_run(tmp_path):
    pytest.importorskip("matplotlib")
    with np.errstate(all="ignore"):  # lr 1e8: the weights overflow within a few steps
        diverged = _trained_monitor("relu", steps=12, lr=1e8)
    assert not np.isfinite(diverged.report()[-1]["grad_std"])
    monitors = {"sigmoid": _trained_monitor("sigmoid"), "relu, lr 1e8": diverged}
    path = plot_health(monitors, tmp_path / "both.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no monitor has recorded"):
        plot_health({"x": Monitor(_tanh_net())}, tmp_path / "none.png")


def test_the_table_has_the_issues_columns_and_interleaves_activations():
    monitors = {name: _trained_monitor(name, steps=2) for name in ("tanh", "relu")}
    lines = format_health_table(monitors).splitlines()
    assert lines[0].split() == ["layer", "activation", "saturated", "dead", "grad", "std",
                                "update:data"]  # fmt: skip
    assert [line.split()[:2] for line in lines[1:]] == [
        ["1", "tanh"],
        ["1", "relu"],
        ["3", "tanh"],
        ["3", "relu"],
    ]
    row = monitors["relu"].report()[1]
    assert lines[4].split()[2:] == [
        f"{row['saturated']:.1%}",
        f"{row['dead']:.1%}",
        f"{row['grad_std']:.2e}",
        f"{row['update_to_data']:.2e}",
    ]


# ---- tinygrad-act train --health ----------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n"


def _table_lines(out):
    lines = out.splitlines()
    start = lines.index("activation health at the last step:") + 1
    return [line for line in lines[start:] if not line.startswith("wrote ")]


def test_train_health_writes_health_png_and_prints_the_runs_table(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from tinygrad_act import cli
    from tinygrad_act.train import train_moons

    assert cli.main(["train", "--epochs", "3", "--health", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "health.png").read_bytes()[:8] == PNG
    assert f"wrote {tmp_path / 'health.png'}" in out
    table = _table_lines(out)
    assert table[0].split() == "layer activation saturated dead grad std update:data".split()
    same = train_moons("relu", epochs=3, progress=False, health=True).health
    assert table == format_health_table({"relu": same}).splitlines()


def test_train_health_with_compare_puts_each_activation_side_by_side(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from tinygrad_act import cli

    argv = ["train", "--epochs", "2", "--health", "--compare-activations", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    table = _table_lines(capsys.readouterr().out)
    names = ["sigmoid", "tanh", "relu", "leaky_relu"]
    assert [line.split()[:2] for line in table[1:]] == [
        [layer, name] for layer in ("layers.0", "layers.1") for name in names
    ]
    assert (tmp_path / "health.png").read_bytes()[:8] == PNG


def test_train_without_health_writes_no_health_png(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from tinygrad_act import cli

    assert cli.main(["train", "--epochs", "2", "--out", str(tmp_path)]) == 0
    assert "activation health" not in capsys.readouterr().out
    assert not (tmp_path / "health.png").exists()
