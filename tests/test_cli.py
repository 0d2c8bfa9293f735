"""The tinygrad-act command as a whole: version and help, numbers, seeds, output folders, Ctrl-C.

Ctrl-C is a real SIGINT: sent by the process to itself at a chosen point (deterministic), or to the
whole process group as a terminal sends it.
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_act import ACTIVATIONS, __version__
from tinygrad_act.cli import main

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
COMMANDS = ["derivatives", "check", "graph", "train", "demo", "lab"]


def run(*args, code=None, preexec_fn=None, timeout=120):
    """`python -m tinygrad_act ARGS` (or `python -c CODE`) with stderr a pipe, not a terminal."""
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "tinygrad_act", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
        preexec_fn=preexec_fn,
    )  # fmt: skip


def one_error_line(err, command):
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"tinygrad-act {command}: error: ")
    return lines[0]


# ---- version, help ---------------------------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"tinygrad-act {__version__}\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommands_help_has_a_one_line_description(command, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]  # after the usage paragraph
    assert "\n" not in description and not description.startswith(("options", "positional"))
    assert description in " ".join(listed.split())  # the same summary as the command list


def test_graph_help_lists_the_functions_and_operators_of_the_expression_language(capsys):
    with pytest.raises(SystemExit):
        main(["graph", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, spec in ACTIVATIONS.items():
        if not spec.tensor_only:
            assert f"{name}(x" in text
    assert "exp(x)" in text and "log(x)" in text
    assert "leaky_relu(x, slope=0.01)" in text and "elu(x, alpha=1.0)" in text
    assert "+ - * / ** (power), unary -, parentheses" in text


# ---- numbers and names ---------------------------------------------------------------------------


def test_negative_numbers_in_scientific_notation_are_values(capsys):
    assert main(["derivatives", "--at", "-1e3", "0", "1e3", "-2.5E-1", "--activation", "tanh"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines()[1:] if not r.startswith("[")]  # notes
    assert [row.split()[2] for row in rows] == ["-1000.0", "0.0", "1000.0", "-0.25"]


def test_a_negative_infinity_is_a_value_refused_by_name(capsys):
    assert main(["derivatives", "--at", "-inf"]) == 2
    assert "points must be finite numbers, got -inf" in capsys.readouterr().err


def test_huge_points_do_not_false_fail_the_numeric_column(capsys):
    # With an absolute step of 1e-6, z ± eps == z at 1e12: relu's numeric slope read 0, "NO".
    argv = ["derivatives", "--at", "1e12", "-1e12", "1e15", "--activation", "relu", "elu", "silu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert " NO" not in out and out.count(" yes") == 9


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1e3", "x"])
def test_a_seed_outside_0_to_2_32_says_so_in_our_words(seed, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--seed", seed])
    assert info.value.code == 2
    line = one_error_line(capsys.readouterr().err, "train")
    assert f"--seed takes a whole number from 0 to 2**32 - 1 (4294967295), got '{seed}'" in line


def test_the_library_refuses_a_bad_seed_before_scikit_learn_does():
    from tinygrad_act.train import train_moons

    with pytest.raises(ValueError, match=r"seed must be a whole number from 0 to 2\*\*32 - 1"):
        train_moons(epochs=1, seed=-1, progress=False)


@pytest.mark.parametrize(
    ("argv", "close"),
    [
        (["train", "--activation", "tanhh"], "tanh"),
        (["derivatives", "--activation", "sigmod"], "sigmoid"),
        (["check", "--activation", "leakyrelu"], "leaky_relu"),
    ],
)
def test_an_unknown_activation_suggests_the_closest_name(argv, close, capsys, tmp_path):
    assert main([*argv, *(["--out", str(tmp_path / "o")] if argv[0] == "train" else [])]) == 2
    line = one_error_line(capsys.readouterr().err, argv[0])
    assert line.endswith(f"did you mean {close}?")
    assert not (tmp_path / "o").exists()  # refused before the folder is made


# ---- output folders: checked before any work -------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "demo"])
@pytest.mark.parametrize(
    ("where", "named"),
    [
        (lambda tmp: "/proc/x", "cannot make the folder /proc/x"),
        (lambda tmp: tmp / "a-file", "exists and is not a folder"),
        (lambda tmp: tmp / "a-file" / "sub", "a part of the path is a file, not a folder"),
    ],
)
def test_an_unwritable_out_folder_is_refused_before_any_work(command, where, named, tmp_path):
    (tmp_path / "a-file").write_text("keep me")
    done = run(command, "--out", str(where(tmp_path)))
    assert done.returncode == 2
    assert named in one_error_line(done.stderr, command)
    assert "[Errno" not in done.stderr and done.stdout == ""
    assert (tmp_path / "a-file").read_text() == "keep me"


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_an_out_folder_that_cannot_take_a_plot_is_refused_before_training(tmp_path):
    # The file-size limit stands in for a nearly full disk: a real write fails, but only after the
    # first 64 KiB. Before the check, the whole run trained and then lost it at the first plot.
    done = run(
        "train", "--epochs", "3", "--out", str(tmp_path / "run"), preexec_fn=_limit_file_size
    )
    assert done.returncode == 2
    line = one_error_line(done.stderr, "train")
    assert "cannot write in" in line and "larger than this process may write" in line
    assert done.stdout == ""  # nothing was trained


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root to mount a tmpfs"
)
def test_a_full_device_is_refused_before_training(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    # A private mount namespace: the 64 KiB tmpfs disappears with the process.
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {full} && "
        f"{sys.executable} -m tinygrad_act train --epochs 3 --out {full}/run"
    )
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
    )  # fmt: skip
    if "mount" in done.stderr and "permission" in done.stderr.lower():
        pytest.skip("this container does not allow mounting a tmpfs")
    assert done.returncode == 2, done.stderr
    assert "no space is left on the device" in one_error_line(done.stderr, "train")


def test_graph_makes_missing_parent_folders_of_its_picture(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "g.svg"
    assert main(["graph", "x*2", "--set", "x=1", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))


@pytest.mark.parametrize(
    ("output", "named"),
    [
        ("/proc/x/g.svg", "-o /proc/x/g.svg: cannot make the folder /proc/x:"),
        ("{tmp}/a-file/g.svg", "/a-file exists and is not a folder"),
        ("{tmp}", "must end in one of"),
        ("{tmp}/folder.svg", "-o {tmp}/folder.svg: it is a folder; give a file name"),
    ],
)
def test_graph_output_problems_are_plain_sentences(output, named, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "folder.svg").mkdir()
    assert main(["graph", "x", "--set", "x=1", "-o", output.format(tmp=tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err, "graph")
    assert named.format(tmp=tmp_path) in line and "[Errno" not in line


# ---- graph: variables, parameters, nan and inf, bounded work --------------------------------------


def test_graph_refuses_a_variable_the_expression_does_not_use(tmp_path, capsys):
    argv = ["graph", "x*w", "--set", "x=1", "--set", "w=2", "--set", "b=3"]
    assert main([*argv, "-o", str(tmp_path / "g.svg")]) == 2
    line = one_error_line(capsys.readouterr().err, "graph")
    assert "variable 'b' given but not used by the expression (it uses w, x)" in line
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.parametrize(
    "argv",
    [["graph", "ℌ*2", "--set", "H=3"], ["graph", "H*2", "--set", "ℌ=3"]],
)
def test_graph_refuses_a_name_python_reads_as_another(argv, tmp_path, capsys):
    assert main([*argv, "-o", str(tmp_path / "g.svg")]) == 2
    line = one_error_line(capsys.readouterr().err, "graph")
    assert "the name 'ℌ' is read by Python as 'H'" in line
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.parametrize(
    ("text", "value", "first"),
    [
        ("log(x) * 2 + w", "-inf", "log(x) = -inf"),
        ("w / x + 1", "inf", "w/x = inf"),  # named as the drawing names it (node_names)
        ("(x - x) * log(x)", "nan", "log(x) = -inf"),
    ],
)
def test_graph_warns_in_one_line_when_the_result_is_not_finite(
    text, value, first, tmp_path, capsys
):
    settings = ["--set", "x=0"] + (["--set", "w=1"] if "w" in text else [])
    argv = ["graph", text, *settings, "-o", str(tmp_path / "g.dot")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"tinygrad-act graph: warning: the result is {value}; the first node that is not finite "
        f"is {first}"
    ]


def test_graph_is_silent_about_a_finite_result(tmp_path, capsys):
    assert main(["graph", "tanh(x)", "--set", "x=3", "-o", str(tmp_path / "g.dot")]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "x", "torch_fn"),
    [
        ("leaky_relu(x, slope=0.2)", -1.5, lambda F, z: F.leaky_relu(z, 0.2)),
        ("leaky_relu(x, slope=-0.3) * 2", -1.5, lambda F, z: F.leaky_relu(z, -0.3) * 2),
        ("elu(x, alpha=0.5)", -0.7, lambda F, z: F.elu(z, alpha=0.5)),
        ("tanh(leaky_relu(x, slope=0.1))", -2.0, lambda F, z: F.leaky_relu(z, 0.1).tanh()),
    ],
)
def test_graph_takes_registered_parameters_by_name_as_pytorch_does(
    text, x, torch_fn, tmp_path, capsys
):
    torch = pytest.importorskip("torch")
    z = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = torch_fn(torch.nn.functional, z)
    out.backward()
    assert main(["graph", text, "--set", f"x={x}", "-o", str(tmp_path / "g.dot")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"{text} = {out.item():.6g}"
    assert printed[1] == f"  d/dx = {z.grad.item():.6g}"


def test_graph_steps_are_bounded_on_the_largest_expression_allowed(tmp_path, capsys):
    text = "+".join(["(x" + "*x" * 95 + ")"] * 3)  # 287 ops, x used by every one of them
    steps, picture = tmp_path / "frames", tmp_path / "g.dot"
    argv = ["graph", text, "--set", "x=1.001", "-o", str(picture), "--steps", str(steps)]
    assert main([*argv, "--steps-format", "dot"]) == 0
    frames = sorted(steps.iterdir())
    assert len(frames) == 31  # --max-steps 30, then the last frame
    for frame in frames:
        assert frame.read_text(encoding="utf-8").count("shape=record") <= 60  # --max-nodes 60
    assert "(257 more steps not drawn: --max-steps 30)" in capsys.readouterr().out
    assert picture.read_text(encoding="utf-8").count("shape=record") <= 60


def test_graph_steps_with_their_limits_render_with_the_real_dot(tmp_path, capsys):
    text = "+".join(["(x" + "*x" * 95 + ")"] * 3)
    argv = ["graph", text, "--set", "x=1.001", "-o", str(tmp_path / "g.svg")]
    argv += ["--steps", str(tmp_path / "f"), "--max-steps", "2", "--max-nodes", "40"]
    assert main(argv) == 0
    assert len(list((tmp_path / "f").glob("step-*.svg"))) == 3


@pytest.mark.parametrize("flag", ["--max-steps", "--max-nodes"])
def test_graph_limits_must_be_positive(flag, capsys):
    with pytest.raises(SystemExit) as info:
        main(["graph", "x", "--set", "x=1", flag, "0"])
    assert info.value.code == 2
    assert f"{flag} takes a whole number of at least 1, got '0'" in capsys.readouterr().err


# ---- progress in a log -----------------------------------------------------------------------------


def test_progress_is_a_few_plain_lines_when_stderr_is_not_a_terminal(tmp_path):
    done = run("train", "--epochs", "50", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = done.stderr.splitlines()
    assert 5 <= len(lines) <= 12, lines
    assert lines[0] == "moons relu: 0/50 epochs"  # at once, before the first step
    assert lines[1].startswith("moons relu: 1/50 epochs, loss=")
    assert lines[-1].startswith("moons relu: 50/50 epochs, loss=")


# ---- Ctrl-C ---------------------------------------------------------------------------------------

_INTERRUPTED = "tinygrad-act {}: interrupted (files already written are kept)"


def _messages(stderr, command):
    """stderr without the progress lines: what the command said."""
    return [line for line in stderr.splitlines() if not line.startswith(("moons ", "digits "))]


def test_ctrl_c_during_plotting_exits_130_in_one_line_and_keeps_the_plots_written(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, sys
        import matplotlib.figure
        real, calls = matplotlib.figure.Figure.savefig, []

        def savefig(self, f, **kwargs):
            calls.append(f)
            real(self, f, **kwargs)  # the second plot's bytes are in its temporary file ...
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)  # ... when Ctrl-C arrives

        matplotlib.figure.Figure.savefig = savefig
        from tinygrad_act.cli import main
        sys.exit(main(["train", "--epochs", "3", "--out", {str(tmp_path)!r}]))
    """)
    done = run(code=code)
    assert done.returncode == 130, done.stderr
    assert _messages(done.stderr, "train") == [_INTERRUPTED.format("train")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moons-loss.png"]  # whole, no temp file
    assert (tmp_path / "moons-loss.png").read_bytes()[:8] == PNG


def test_ctrl_c_twice_in_a_row_exits_130_in_one_line(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, sys
        import tinygrad_act.nn as nn
        real, calls = nn.SGD.step, []

        def step(self):
            calls.append(1)
            if len(calls) == 2:  # two Ctrl-C in a row: stop after this step, then stop now
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            real(self)

        nn.SGD.step = step
        from tinygrad_act.cli import main
        sys.exit(main(["train", "--epochs", "50", "--out", {str(tmp_path)!r}]))
    """)
    done = run(code=code)
    assert done.returncode == 130, done.stderr
    assert _messages(done.stderr, "train") == [_INTERRUPTED.format("train")]
    assert "Traceback" not in done.stderr


def test_ctrl_c_from_the_terminal_during_graph_steps_keeps_whole_frames(tmp_path):
    text = "+".join(["(x" + "*x" * 60 + ")"] * 3)
    frames = tmp_path / "frames"
    argv = [sys.executable, "-m", "tinygrad_act", "graph", text, "--set", "x=1.001"]
    argv += ["-o", str(tmp_path / "g.svg"), "--steps", str(frames), "--max-steps", "180"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(1200):  # wait (up to a minute) for three frames
            if frames.exists() and len(list(frames.glob("step-*.svg"))) >= 3:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: Python and dot both get it
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines() == [_INTERRUPTED.format("graph")]
    written = sorted(frames.iterdir())
    assert 3 <= len(written) < 181
    assert all(p.name == f"step-{k:03d}.svg" for k, p in enumerate(written))  # no temporary file
    for p in written:
        ET.parse(p)  # every frame kept is a whole SVG
    assert not (tmp_path / "g.svg").exists()


def test_main_reports_an_interrupt_in_one_line_and_restores_the_sigint_handler(monkeypatch, capsys):
    import tinygrad_act.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(cli, "cmd_check", interrupted)
    assert main(["check"]) == 130
    assert capsys.readouterr().err == _INTERRUPTED.format("check") + "\n"
    assert signal.getsignal(signal.SIGINT) is before  # in process, Ctrl-C handling is as it was


# ---- issue 23, item 5: papercuts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "printed"),
    [
        (["-x*w", "--set", "x=1.5", "--set", "w=2"], ["-x*w = -3", "d/dw = -1.5", "d/dx = -2"]),
        (["--set", "x=4", "-x"], ["-x = -4", "d/dx = -1"]),
        (["-(x*x)", "--set", "x=3"], ["-(x*x) = -9", "d/dx = -6"]),
    ],
)
def test_graph_takes_an_expression_that_starts_with_a_minus(argv, printed, tmp_path, capsys):
    assert main(["graph", *argv, "-o", str(tmp_path / "g.svg")]) == 0
    out = capsys.readouterr().out
    assert [line.strip() for line in out.splitlines()[: len(printed)]] == printed
    assert (tmp_path / "g.svg").exists()


def test_graph_options_still_start_with_a_minus(tmp_path, capsys):
    assert main(["graph", "-x", "--set", "x=1", f"-o{tmp_path / 'short.svg'}"]) == 0
    assert (tmp_path / "short.svg").exists()
    with pytest.raises(SystemExit) as info:
        main(["graph", "-x", "--set", "x=1", "--output-file", "g.svg"])
    assert info.value.code == 2
    assert "unrecognized arguments: --output-file" in capsys.readouterr().err


def test_train_epochs_upper_bound_is_in_the_help_and_enforced(capsys):
    from tinygrad_act.settings import bounds

    MAX_EPOCHS = bounds("epochs")[1]  # the library's, which the command states and enforces
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert f"from 1 to {MAX_EPOCHS}" in " ".join(capsys.readouterr().out.split())
    done = run("train", "--epochs", str(MAX_EPOCHS + 1))
    assert done.returncode == 2
    line = one_error_line(done.stderr, "train")
    assert line.endswith(
        f"--epochs takes a whole number from 1 to {MAX_EPOCHS}, got '{MAX_EPOCHS + 1}'"
    )


def test_a_long_run_logs_a_line_at_once_and_then_at_least_every_quiet_interval(monkeypatch, capsys):
    from tinygrad_act import train

    monkeypatch.setattr(train._LineProgress, "QUIET_SECONDS", 0)  # every step is "a while later"
    train.train_moons(epochs=25, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "moons relu: 0/25 epochs"
    assert [line.split(",")[0] for line in lines[1:]] == [
        f"moons relu: {k}/25 epochs" for k in range(1, 26)
    ]


def test_counts_of_one_are_singular(tmp_path, capsys):
    assert main(["graph", "x", "--set", "x=2", "-o", str(tmp_path / "a.svg"),
                 "--steps", str(tmp_path / "a")]) == 0  # fmt: skip
    assert f"wrote 1 backprop frame to {tmp_path / 'a'}\n" in capsys.readouterr().out
    argv = ["graph", "x*w+b", "--set", "x=1", "--set", "w=2", "--set", "b=3"]
    argv += ["-o", str(tmp_path / "b.svg"), "--steps", str(tmp_path / "b"), "--max-steps", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        f"wrote 2 backprop frames to {tmp_path / 'b'} (1 more step not drawn: --max-steps 1)" in out
    )
    done = run("train", "--epochs", "1", "--out", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    assert "moons relu: 1 step in " in done.stdout


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_output_in_proc_names_why_it_cannot_be_written(tmp_path, capsys):
    assert main(["graph", "x", "--set", "x=1", "-o", "/proc/g.svg"]) == 2
    line = one_error_line(capsys.readouterr().err, "graph")
    assert line.endswith("-o /proc/g.svg: cannot write in /proc: its file system (proc) makes "
                         "no new files in /proc")  # fmt: skip
    assert "does not exist" not in line
