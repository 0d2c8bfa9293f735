"""tinygrad_act.train and `tinygrad-act train`: the moons and digits runs, plots, Ctrl-C, bad options."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tinygrad_act import cli
from tinygrad_act.activations import LECTURE
from tinygrad_act.train import (
    compare_activations,
    plot_comparison,
    stop_on_interrupt,
    train_digits,
    train_moons,
)

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    return path.exists() and path.read_bytes()[:8] == PNG and path.stat().st_size > 1000


def test_moons_reaches_full_training_accuracy_as_micrographs_demo():
    run = train_moons(progress=False)
    assert run.steps == 100 and not run.interrupted
    assert run.train_accuracy == 1.0
    assert run.losses[-1] < 0.05 < run.losses[0]


def test_batched_moons_gives_the_numbers_of_the_per_point_graph():
    batched = train_moons(epochs=2, seed=3, progress=False)
    literal = train_moons(epochs=2, seed=3, per_point=True, progress=False)
    np.testing.assert_allclose(batched.losses, literal.losses, rtol=1e-10)
    np.testing.assert_allclose(batched.grad_magnitudes, literal.grad_magnitudes, rtol=1e-9)
    for pb, pl in zip(batched.model.parameters(), literal.model.parameters(), strict=True):
        assert pb.data == pytest.approx(pl.data, rel=1e-9, abs=1e-12)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_runs_equal_bit_for_bit(compiled, graph):
    assert compiled.compiled and not graph.compiled
    assert compiled.uncompiled_because is None and compiled.steps == graph.steps
    for name in ("losses", "accuracies", "grad_magnitudes"):
        assert _same_bits(getattr(compiled, name), getattr(graph, name)), name
    assert (compiled.train_accuracy, compiled.test_accuracy) == (
        graph.train_accuracy,
        graph.test_accuracy,
    )
    weights = zip(compiled.model.parameters(), graph.model.parameters(), strict=True)
    assert all(_same_bits(pc.data, pg.data) for pc, pg in weights)


@pytest.mark.parametrize("per_point", [False, True], ids=["batched", "per-point"])
def test_moons_compiled_gives_the_graphs_numbers_bit_for_bit(per_point):
    epochs = 2 if per_point else 6  # the per-point graph is micrograd's: 65,000 nodes a step
    runs = [
        train_moons("tanh", epochs, seed=2, per_point=per_point, progress=False, compile=on)
        for on in (True, False)
    ]
    _assert_runs_equal_bit_for_bit(*runs)


def test_digits_compiled_gives_the_graphs_numbers_bit_for_bit():
    # One epoch: 22 batches of 64 and a last one of 29, which has a program of its own.
    runs = [train_digits(epochs=1, seed=1, progress=False, compile=on) for on in (True, False)]
    _assert_runs_equal_bit_for_bit(*runs)


def test_a_run_with_health_takes_its_steps_on_the_graph():
    run = train_digits(epochs=1, progress=False, health=True)
    assert not run.compiled and run.uncompiled_because is None
    assert len(run.health.history) == run.steps  # the monitor saw every step


def test_digits_reaches_96_percent_test_accuracy():
    run = train_digits(progress=False)
    assert run.test_accuracy >= 0.96
    assert len(run.accuracies) == 20 and run.steps == 20 * 23


def test_comparison_shows_sigmoid_gradients_shrinking_in_the_first_layer(tmp_path):
    runs = compare_activations("moons", epochs=30, seed=0, progress=False)
    assert list(runs) == list(LECTURE)
    grads = {name: np.array(run.grad_magnitudes).mean(axis=0) for name, run in runs.items()}
    # The lecture's point: sigmoid's slope is at most 1/4, so each layer passes back a fraction of
    # the gradient and the first layer gets far less of what reaches the output than with relu.
    reaching_first = {name: g[0] / g[-1] for name, g in grads.items()}
    assert reaching_first["sigmoid"] < reaching_first["relu"] / 3
    assert reaching_first["sigmoid"] < reaching_first["tanh"] / 2
    assert runs["sigmoid"].train_accuracy < runs["relu"].train_accuracy
    assert is_png(plot_comparison(runs, tmp_path / "compare.png"))


def test_same_seed_same_initial_weights_for_every_activation():
    runs = compare_activations(
        "digits", names=("relu", "leaky_relu"), epochs=1, seed=4, progress=False
    )
    # leaky_relu with slope 0.01 is relu plus a small leak: the runs start equal and stay close.
    assert runs["relu"].losses[0] == pytest.approx(runs["leaky_relu"].losses[0], rel=0.02)


def test_a_stop_request_ends_the_run_after_the_current_step():
    run = train_moons(epochs=50, progress=False, stop=lambda: True)
    assert run.interrupted and run.steps == 1
    run = train_digits(epochs=5, progress=False, stop=lambda: True)
    assert run.interrupted and run.steps == 1 and run.test_accuracy is not None


def test_first_ctrl_c_sets_the_flag_second_one_interrupts():
    previous = signal.getsignal(signal.SIGINT)
    with stop_on_interrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
    assert signal.getsignal(signal.SIGINT) is previous


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="epochs must be a whole number from 1 to 100000, got 0"):
        train_moons(epochs=0)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        train_digits("swish")
    with pytest.raises(ValueError, match="compile must be true or false, got 'no'"):
        train_moons(compile="no")
    with pytest.raises(ValueError, match="compile must be true or false, got 0"):
        train_digits(compile=0)


# ---- the command ---------------------------------------------------------------------------------


def test_train_command_moons_writes_loss_and_boundary(tmp_path, capsys):
    assert cli.main(["train", "--dataset", "moons", "--epochs", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "moons relu: 5 steps" in out and "train accuracy" in out
    assert is_png(tmp_path / "moons-loss.png") and is_png(tmp_path / "moons-boundary.png")


def test_train_command_says_how_fast_it_stepped_and_no_compile_takes_the_graph(tmp_path, capsys):
    argv = ["train", "--dataset", "moons", "--epochs", "3", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    compiled = capsys.readouterr().out.splitlines()[0]
    assert cli.main([*argv, "--no-compile"]) == 0
    graph = capsys.readouterr().out.splitlines()[0]
    for line, how in ((compiled, "compiled"), (graph, "graph")):
        found = re.search(r"3 steps in [\d.]+ s \((\d+) steps/s, (\w+)\)", line)
        assert found and int(found[1]) > 0 and found[2] == how, line
    assert compiled.split("final loss")[1] == graph.split("final loss")[1]  # the same numbers


def test_train_help_lists_no_compile(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "--no-compile" in capsys.readouterr().out


def test_train_command_digits_prints_test_accuracy(tmp_path, capsys):
    argv = ["train", "--dataset", "digits", "--activation", "tanh", "--epochs", "2"]
    assert cli.main(argv + ["--out", str(tmp_path)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert is_png(tmp_path / "digits-loss.png")


def test_train_command_compares_lecture_activations(tmp_path, capsys):
    argv = ["train", "--compare-activations", "--epochs", "3", "--activation", "elu"]
    assert cli.main(argv + ["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in (*LECTURE, "elu"):
        assert f"moons {name}: 3 steps" in out
    assert is_png(tmp_path / "moons-compare.png") and is_png(tmp_path / "moons-boundary.png")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--activation", "nope"], "unknown activation 'nope'"),
        (["--epochs", "0"], "--epochs takes a whole number from 1 to 100000, got '0'"),
        (["--epochs", "-3"], "--epochs takes a whole number from 1 to 100000, got '-3'"),
        (["--epochs", "100001"], "--epochs takes a whole number from 1 to 100000, got '100001'"),
        (["--epochs", "2.5"], "--epochs takes a whole number from 1 to 100000, got '2.5'"),
        (["--activation", "softmax"], "not elementwise"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--no-compile=yes"], "--no-compile: ignored explicit argument 'yes'"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(argv, message):
    done = subprocess.run(
        [sys.executable, "-m", "tinygrad_act", "train", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_ctrl_c_stops_cleanly_keeps_the_plots_and_exits_130(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tinygrad_act",
            "train",
            "--epochs",
            "100000",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen = bytearray()
    started = threading.Event()

    def read_progress():
        while chunk := proc.stderr.read1(4096):
            seen.extend(chunk)
            if b"loss=" in seen:  # at least one step is done
                started.set()

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    try:
        assert started.wait(60), seen.decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        stdout = proc.stdout.read().decode()
        assert proc.wait(60) == 130
    finally:
        proc.kill()
        proc.wait()
        reader.join(5)
        proc.stdout.close()
        proc.stderr.close()
    assert "interrupted" in seen.decode(errors="replace")
    assert "Traceback" not in seen.decode(errors="replace")
    assert "train accuracy" in stdout
    assert is_png(tmp_path / "moons-loss.png") and is_png(tmp_path / "moons-boundary.png")


def test_importing_the_package_pulls_in_no_plotting_progress_or_sklearn():
    code = (
        "import sys, tinygrad_act, tinygrad_act.nn, tinygrad_act.train, tinygrad_act.cli\n"
        "import importlib.util\n"
        "if importlib.util.find_spec('tinygrad_act.demo'): import tinygrad_act.demo\n"
        "heavy = [m for m in ('matplotlib', 'tqdm', 'sklearn') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
