"""The demo section "When the slope is zero": what its runs show, and that its text says just that."""

import math
import re

import numpy as np
import pytest

from tinygrad_act.health_demo import DEPTH, POINTS, _pct, _sci, deep_net, experiment, render

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def runs():
    return experiment(quick=True)


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("slope-zero")
    return out, render(out, *runs)


def test_sigmoids_first_layer_gets_orders_of_magnitude_less_gradient_than_its_last(runs):
    vanishing, _ = runs
    first = vanishing["sigmoid"].monitor.history[0]
    assert len(first) == DEPTH
    assert first[0]["grad_std"] < first[-1]["grad_std"] / 100
    tanh = vanishing["tanh"].monitor.history[0]
    assert tanh[0]["grad_std"] > tanh[-1]["grad_std"] / 10  # tanh's slope is 1 at z = 0


def test_every_run_starts_from_the_same_weights():
    nets = [deep_net(name) for name in ("sigmoid", "tanh", "relu", "leaky_relu")]
    for params in zip(*(net.parameters() for net in nets), strict=True):
        assert all(np.array_equal(p.data, params[0].data) for p in params)


def test_relu_units_stay_dead_and_leaky_relus_come_back(runs):
    _, dead = runs
    relu, leaky = dead["relu"], dead["leaky_relu"]
    assert np.mean(relu.negative[0]) > 0.5
    assert np.mean(relu.negative[-1]) == np.mean(relu.negative[0])
    assert np.mean(leaky.negative[-1]) < np.mean(leaky.negative[0]) / 2
    assert relu.losses[-1] == pytest.approx(math.log(2), abs=1e-3)
    assert leaky.losses[-1] < 0.1
    assert all(r["dead"] == 0 for step in leaky.monitor.history for r in step)
    for step, negative in zip(relu.monitor.history, relu.negative, strict=False):
        assert [r["dead"] for r in step] == negative  # the monitor's count: z < 0 for all


def test_the_text_shows_the_numbers_of_the_run(runs, page):
    vanishing, dead = runs
    html = page[1]
    sig = vanishing["sigmoid"].monitor.history[0]
    low, high = sig[0]["grad_std"], sig[-1]["grad_std"]
    for claim in (
        f"standard deviation {_sci(low)}, its last one {_sci(high)}",
        f"{math.log10(high / low):.1f} orders of magnitude",
        f"still {vanishing['sigmoid'].losses[-1]:.3f}",
        f"{_pct(np.mean(dead['relu'].negative[0]))} of the hidden units",
        f"for all {POINTS} examples",
        f"{_pct(np.mean(dead['leaky_relu'].negative[-1]))} are left there",
        f"the loss is {dead['leaky_relu'].losses[-1]:.3f}",
    ):
        assert claim in html
    for name, run in vanishing.items():
        first = run.monitor.history[0]
        row = re.search(rf"<tr><td>[^<]*</td><td>{re.escape(_sci(first[0]['grad_std']))}</td>"
                        rf"<td>{re.escape(_sci(first[-1]['grad_std']))}</td>", html)  # fmt: skip
        assert row, name


def test_the_figures_are_written_and_referenced(page):
    out, html = page
    refs = set(re.findall(r'(?:src|href)="([^"]+)"', html))
    assert refs == {p.name for p in out.iterdir()}
    for name in refs:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
