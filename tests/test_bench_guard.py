"""The decision of `make bench-check` (benchmarks/icount.py), on given counts: no valgrind is run."""

from benchmarks.icount import TOLERANCE, compare

BASELINE = {
    "counts": {
        "W1 step": {"tinygrad_act": 900.0, "micrograd": 1200.0},
        "W5 tanh": {"tinygrad_act": 30_000.0, "numpy": 20_000.0},
    }
}


def _rows(w1_ours, w5_ours, w5_numpy=20_000.0):
    counts = {
        "W1 step": {"tinygrad_act": w1_ours, "micrograd": 1200.0},
        "W5 tanh": {"tinygrad_act": w5_ours, "numpy": w5_numpy},
        "W4 tanh b64 float32": {"tinygrad_act": 11.0, "numpy": 10.0},
    }
    return {r["probe"]: r for r in compare(counts, BASELINE)}


def test_a_probe_that_grew_more_than_the_tolerance_against_its_peer_fails_the_guard():
    rows = _rows(w1_ours=900.0, w5_ours=30_000.0 * (1 + TOLERANCE) * 1.01)
    assert rows["W5 tanh"]["worse"] and not rows["W1 step"]["worse"]
    assert rows["W5 tanh"]["change"] > TOLERANCE


def test_growth_within_the_tolerance_and_any_speed_up_pass():
    rows = _rows(w1_ours=900.0 * (1 + TOLERANCE * 0.9), w5_ours=20_000.0)
    assert not any(r["worse"] for r in rows.values())
    assert rows["W5 tanh"]["change"] < 0  # faster than the baseline: refresh it to keep the gain


def test_the_ratio_to_the_peer_is_compared_so_a_slower_numpy_alone_is_no_regression():
    # numpy (the peer) and tinygrad_act both 10% slower, e.g. after a numpy upgrade: ratio unchanged
    rows = _rows(w1_ours=900.0, w5_ours=33_000.0, w5_numpy=22_000.0)
    assert not rows["W5 tanh"]["worse"] and abs(rows["W5 tanh"]["change"]) < 1e-12


def test_a_probe_missing_from_the_baseline_is_new_not_a_failure():
    rows = _rows(w1_ours=900.0, w5_ours=30_000.0)
    assert rows["W4 tanh b64 float32"]["base"] is None and not rows["W4 tanh b64 float32"]["worse"]
