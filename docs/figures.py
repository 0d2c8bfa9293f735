"""Build-time figures and text for the docs, made by the package itself.

`generate(out_dir)` writes into ``docs/_generated/`` (git-ignored): one plot of g, g' and g'' per
elementwise activation, the help text of every command, and, when the feature is installed, the
lecture's table and graph pictures. Nothing here is copied by hand, so the pages cannot drift.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from pathlib import Path

import numpy as np

from tinygrad_act import ACTIVATIONS, Value
from tinygrad_act.activations import LECTURE


def has_module(name):
    """Whether ``tinygrad_act.<name>`` exists yet (pages about it are built only then)."""
    return importlib.util.find_spec(f"tinygrad_act.{name}") is not None


def plot_activation(name, path):
    """The demo page's plot: g above, g' (with the slide's formula) and g'' on an axis below, a
    zoom on z < 0 for ReLU and Leaky ReLU. The lecture's four over [-10, 10], the others [-5, 5]."""
    from tinygrad_act.demo import plot_activation as plot

    plot(name, path, z_range=(-10.0, 10.0) if name in LECTURE else (-5.0, 5.0))


def neuron():
    """The lecture's neuron o = tanh(x1·w1 + x2·w2 + b), as in micrograd's walkthrough."""
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    x2, w2 = Value(0.0, label="x2"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def graphs(out_dir):
    """The neuron before and after backward, its backprop frames, and a tensor MLP's loss."""
    from tinygrad_act.backprop import topological_order
    from tinygrad_act.nn import cross_entropy, mlp
    from tinygrad_act.viz import draw_backward_steps, draw_forward_steps, save_graph

    o = neuron()
    save_graph(o, out_dir / "neuron-forward.svg", show_local=True)  # one layout for all pictures
    o.backward()
    save_graph(o, out_dir / "neuron-backward.svg", show_local=True)

    frames = draw_backward_steps(neuron(), out_dir / "neuron-steps")
    # An include file, so the page shows however many frames the pass has. Paths starting with
    # "/" are relative to the docs' source folder wherever the file is included from.
    lines = []
    for k, frame in enumerate(frames):
        alt = f"backward, step {k} of {len(frames) - 1}"
        lines += [f".. image:: /_generated/neuron-steps/{frame.name}", f"   :alt: {alt}", ""]
    (out_dir / "neuron-steps.rst").write_text("\n".join(lines))

    # Forward mode on the same neuron: the tangent of x1 carried forward to o.
    o = neuron()
    x1 = next(node for node in topological_order(o) if node.label == "x1")
    frames = draw_forward_steps(o, x1, out_dir / "neuron-forward-steps")
    lines = []
    for i, frame in enumerate(frames):
        alt = "all tangents" if i == len(frames) - 1 else f"forward step {i}"
        lines += [
            f".. image:: /_generated/neuron-forward-steps/{frame.name}",
            f"   :alt: {alt}",
            "",
        ]
    (out_dir / "neuron-forward-steps.rst").write_text("\n".join(lines))

    rng = np.random.default_rng(0)
    net = mlp([4, 8, 3], "relu", rng=0)
    x = Value(rng.standard_normal((5, 4)), label="x")
    loss = cross_entropy(net(x), rng.integers(0, 3, size=5))
    loss.label = "loss"
    loss.backward()
    save_graph(loss, out_dir / "tensor-mlp.svg", rankdir="TB", model=net)

    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    b = Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.label = "o"
    o.backward()
    save_graph(o, out_dir / "quickstart-neuron.svg")


def command_help(out_dir):
    from tinygrad_act.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps help to the terminal; fix it for the page
    try:
        parser = build_parser()
        (out_dir / "cli-tinygrad-act.txt").write_text(parser.format_help())
        subparsers = next(a for a in parser._actions if a.choices and a.dest == "command")
        for name, sub in subparsers.choices.items():
            (out_dir / f"cli-{name}.txt").write_text(sub.format_help())
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def command_output(out_dir, name, argv):
    """What ``tinygrad-act <argv>`` prints, for pages that show a command's real output."""
    from tinygrad_act.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main(argv)
    (out_dir / name).write_text(buffer.getvalue())


def training(out_dir):
    """micrograd's moons run once per lecture activation: the plots and a table of the results."""
    from tinygrad_act import train

    outcome = train.run(dataset="moons", compare=True, out=out_dir / "train", progress=False)
    lines = [
        "| activation | steps | time | final loss | training accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, r in outcome.runs.items():
        lines.append(f"| `{name}` | {r.steps} | {r.seconds:.1f} s | {r.losses[-1]:.4f} "
                     f"| {r.train_accuracy:.0%} |")  # fmt: skip
    (out_dir / "train" / "moons-results.md").write_text("\n".join(lines) + "\n")
    # The training page says sigmoid stalls where the other three fit the data: check it still does.
    accuracy = {name: r.train_accuracy for name, r in outcome.runs.items()}
    if not (accuracy["sigmoid"] < 1.0 and all(accuracy[n] == 1.0 for n in LECTURE[1:])):
        raise RuntimeError(f"docs/training.md describes a different moons comparison: {accuracy}")


def health(out_dir):
    """The health page's figures: `train --health` side by side, and the deep net's gradients."""
    from tinygrad_act import health_demo

    folder = out_dir / "health"
    folder.mkdir(parents=True, exist_ok=True)
    # In the folder, so the command prints short relative paths; its progress bars are not shown.
    with _working_directory(folder), contextlib.redirect_stderr(io.StringIO()):
        argv = ["train", "--health", "--compare-activations", "--epochs", "30", "--out", "."]
        command_output(folder, "train-health.txt", argv)
    vanishing, dead = health_demo.experiment(quick=True)
    # docs/health.md describes these runs: check they still show it.
    sigmoid = vanishing["sigmoid"].monitor.history[0]
    relu, leaky = (np.mean(dead[name].negative, axis=1) for name in ("relu", "leaky_relu"))
    if not (
        sigmoid[0]["grad_std"] < sigmoid[-1]["grad_std"] / 100
        and relu[0] > 0.5
        and relu[-1] >= relu[0]
        and leaky[-1] < leaky[0] / 2
    ):
        raise RuntimeError("docs/health.md describes different runs of health_demo")
    health_demo.plot_gradients(vanishing, folder / "deep-gradients.png")
    health_demo.plot_negative(dead, folder / "deep-dead.png", {"relu": "tab:green",
                                                                "leaky_relu": "tab:red"})  # fmt: skip


@contextlib.contextmanager
def _working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def generate(out_dir):
    """Write every generated figure and text file into `out_dir` (created if missing)."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, spec in ACTIVATIONS.items():
        if not spec.tensor_only:
            plot_activation(name, out_dir / f"activation-{name}.png")
    command_help(out_dir)
    command_output(out_dir, "derivatives.txt", ["derivatives"])
    command_output(out_dir, "check.txt", ["check"])
    if has_module("train"):
        training(out_dir)
    if has_module("viz"):
        graphs(out_dir)
    if has_module("health"):
        health(out_dir)
        with _working_directory(out_dir):
            command_output(out_dir, "graph-example.txt", ["graph", "tanh(x*w + b)", "--set", "x=2",
                           "--set", "w=-3", "--set", "b=6.88", "-o", "neuron.svg"])  # fmt: skip
