"""The lecture as a static page: what ``tinygrad-act demo`` (and ``make demo``) writes.

One ``index.html`` with its pictures next to it; no network, no JavaScript. In order:

1. the lecture's table: g(z) and g'(z) at -10, 0, 10 by formula, backprop and central differences;
2. one plot per lecture activation: g and g' over [-10, 10], g' by backprop with the formula on top;
3. the neuron tanh(x1·w1 + x2·w2 + b): its graph before and after backward, and each backprop step;
4. micrograd's moons run: loss, decision boundary, and the four activations compared;
5. when the slope is zero: a deeper network's gradients and dead units (``health_demo``).

matplotlib, tqdm and scikit-learn are imported only when a page is built.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np

from tinygrad_act.activations import ACTIVATIONS, LECTURE
from tinygrad_act.backprop import topological_order
from tinygrad_act.engine import Value, gradients
from tinygrad_act.gradcheck import TABLE_HEADER, table_cells
from tinygrad_act.health_demo import section as health_section

# g'(z) as the slide writes it, evaluated on arrays here, independently of the engine, to draw over
# what backprop gives.
LECTURE_DERIVATIVES = {
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a**2,
    "relu": lambda z, a: np.where(z >= 0, 1.0, 0.0),  # the slide takes slope 1 at z = 0
    "leaky_relu": lambda z, a: np.where(z >= 0, 1.0, 0.01),
}

TITLES = {"sigmoid": "Sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU"}


def activation_curves(name, points=401):
    """z over [-10, 10], g(z), g'(z) by one backward through a tensor Value, and the slide's g'(z).

    >>> z, a, backprop, formula = activation_curves("tanh", points=5)
    >>> z.tolist(), backprop.tolist() == formula.tolist()
    ([-10.0, -5.0, 0.0, 5.0, 10.0], True)
    """
    z = np.linspace(-10.0, 10.0, points)
    v = Value(z)
    out = v.activate(name)
    out.sum().backward()  # d(sum of a)/dz_i = g'(z_i): the whole grid in one backward pass
    return z, out.data, v.grad, LECTURE_DERIVATIVES[name](z, out.data)


def second_derivative(name, z):
    """g''(z) by the engine: backprop through the backward pass of g (``create_graph=True``).

    >>> z = np.array([0.0, 1.0])
    >>> a = np.tanh(z)
    >>> bool(np.allclose(second_derivative("tanh", z), -2 * a * (1 - a**2)))
    True
    """
    v = Value(z)
    (slope,) = gradients(v.activate(name).sum(), [v], create_graph=True)  # g'(z) as a Value
    slope.sum().backward()  # d(sum of g'(z_i))/dz_i = g''(z_i)
    return v.grad


def plot_activation(name, path):
    """g, g' and g'' of one lecture activation; g' by backprop with the slide's formula over it."""
    from matplotlib.figure import Figure

    z, a, backprop, formula = activation_curves(name)
    written = ACTIVATIONS[name].local_formula()
    fig = Figure(figsize=(5.2, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(z, a, color="tab:blue", lw=2, label="g(z)")
    ax.plot(z, backprop, color="tab:orange", lw=5, alpha=0.45, label="g'(z) by backprop")
    ax.plot(z, formula, color="k", lw=1, ls="--", label=f"g'(z) = {written} (slide)")
    ax.plot(z, second_derivative(name, z), color="tab:green", lw=1.2, ls=":",
            label="g''(z) by backprop of backprop")  # fmt: skip
    slide = np.array([-10.0, 0.0, 10.0])
    at = np.searchsorted(z, slide)
    ax.plot(slide, backprop[at], "o", color="tab:red", ms=5, label="z = -10, 0, 10")
    ax.axhline(0, color="0.6", lw=0.6)
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set(xlabel="z", title=TITLES.get(name, name))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return Path(path), float(np.max(np.abs(backprop - formula)))


def lecture_neuron():
    """The neuron of the backprop lecture: o = tanh(x1·w1 + x2·w2 + b), every node labelled.

    >>> o = lecture_neuron()
    >>> round(o.data, 4)
    0.7071
    """
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


# --------------------------------------------------------------------------------------------------
# The page


def build(out="demo-out", quick=False, log=None, seed=0):
    """Write the walkthrough into `out` and return the path of its ``index.html``.

    `quick` takes the same path on a smaller budget (fewer training steps). `log` receives one line
    per stage, so progress shows on the terminal; the training runs also show tqdm bars.
    """
    from tinygrad_act.gradcheck import derivative_table
    from tinygrad_act.train import (
        compare_activations,
        plot_comparison,
        plot_decision_boundary,
        plot_run,
    )
    from tinygrad_act.viz import draw_backward_steps, save_graph

    log = log or (lambda message: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sections = []

    log("[1/4] the lecture's table: g(z) and g'(z) at z = -10, 0, 10, three ways")
    rows = derivative_table(points=[-10, 0, 10], names=list(LECTURE))
    sections.append(_table_section(rows))

    log("[2/4] plotting g and g' for each lecture activation")
    plots = []
    for name in LECTURE:
        path, gap = plot_activation(name, out / f"activation-{name}.png")
        plots.append((name, path.name, gap))
    sections.append(_activation_section(plots))

    log("[3/4] drawing the neuron's graph and its backprop steps (Graphviz)")
    o = lecture_neuron()
    before = save_graph(o, out / "neuron-before.svg")
    frames = draw_backward_steps(o, out / "neuron-steps")
    after = save_graph(o, out / "neuron-after.svg", show_local=True)
    leaves = [(v.label, v.data, v.grad) for v in _leaves(o)]
    sections.append(_neuron_section(out, before, after, frames, o, leaves))

    epochs = 20 if quick else 100
    log(f"[4/4] training micrograd's moons MLP(2, [16, 16, 1]) for {epochs} steps per activation")
    runs = compare_activations("moons", LECTURE, epochs=epochs, seed=seed, progress=True)
    main = runs["relu"]
    X, y = main.data
    loss = plot_run(main, out / "moons-loss.png")
    boundary = plot_decision_boundary(main.model, X, y, out / "moons-boundary.png")
    compare = plot_comparison(runs, out / "moons-compare.png")
    sections.append(_moons_section(runs, epochs, loss.name, boundary.name, compare.name))

    log("when the slope is zero: a 5-hidden-layer network with each lecture activation, monitored")
    sections.append(health_section(out, quick=quick, seed=seed, number=5))

    seconds = time.perf_counter() - start
    index = out / "index.html"
    index.write_text(_page(sections, seconds, quick), encoding="utf-8")
    log(f"done in {seconds:.1f} s")
    return index


def _leaves(root):
    return sorted((v for v in topological_order(root) if not v._prev), key=lambda v: v.label)


def _e(text):
    return html.escape(str(text), quote=True)


def _num(x):
    return f"{x + 0.0:.6g}"


def _img(src, alt, width=None):
    size = f' width="{width}"' if width else ""
    return f'<img src="{_e(src)}" alt="{_e(alt)}"{size}>'


def _table_section(rows):
    cells, notes = table_cells(rows)
    body = ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in cells]
    head = TABLE_HEADER
    foot = "".join(f"<li>[{i}] {_e(n)}</li>" for i, n in enumerate(notes, 1))
    return (
        '<section id="table"><h2>1. The lecture\'s table</h2>\n'
        "<p>g(z) and its slope g'(z) at the slide's points, three ways: the formula as the lecture "
        "writes it (in terms of the output a = g(z)), backprop through a <code>Value</code>, and "
        "central differences. This is what <code>tinygrad-act derivatives</code> prints.</p>\n"
        "<table><thead><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead><tbody>\n"
        + "\n".join(body)
        + "</tbody></table>\n"
        + (f'<ol class="notes">{foot}</ol>' if foot else "")
        + "</section>"
    )


def _activation_section(plots):
    figures = "".join(
        f"<figure>{_img(src, f'{name}: g and its derivative', 520)}<figcaption>{_e(TITLES[name])}: "
        f"g'(z) = {_e(ACTIVATIONS[name].local_formula())}; largest gap between backprop and the "
        f"slide's formula over the grid: {gap:.3g}</figcaption></figure>"
        for name, src, gap in plots
    )
    return (
        '<section id="activations"><h2>2. Each activation and its slope</h2>\n'
        "<p>g(z) (blue) and g'(z) over [-10, 10]. The wide orange line is g'(z) computed by "
        "backprop over the whole grid (one tensor <code>Value</code>, one backward pass); the "
        "dashed line is the slide's formula on top of it; the dotted green line is g''(z), the "
        "engine differentiating its own backward pass. Where the slope is near 0 (sigmoid and "
        "tanh at |z| = 10, ReLU for z &lt; 0) almost no gradient flows back.</p>\n"
        f'<div class="grid">{figures}</div></section>'
    )


def _neuron_section(out, before, after, frames, o, leaves):
    rel = [f.relative_to(out).as_posix() for f in frames]
    grads = ", ".join(f"d o/d {_e(name)} = {_num(grad)}" for name, _, grad in leaves)
    steps = "".join(
        f"<figure>{_img(src, f'backprop step {i}')}<figcaption>frame {i}</figcaption></figure>"
        for i, src in enumerate(rel)
    )
    return (
        '<section id="neuron"><h2>3. One neuron, backward step by step</h2>\n'
        "<p>o = tanh(x1·w1 + x2·w2 + b) with x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8814, so "
        f"o = {_num(o.data)}. The tanh node's local gradient is 1-a² = {_num(1 - o.data**2)}; "
        f"after backward: {grads}.</p>\n"
        f'<div class="grid"><figure>{_img(before.name, "graph before backward")}'
        "<figcaption>before backward: every grad is 0</figcaption></figure>"
        f"<figure>{_img(after.name, 'graph after backward')}"
        "<figcaption>after backward, edges labelled with their local derivatives</figcaption>"
        "</figure></div>\n"
        f"<h3>The backprop steps ({len(rel)} frames)</h3>\n"
        f'<div class="frames">{steps}</div></section>'
    )


def _moons_section(runs, epochs, loss, boundary, compare):
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_num(run.losses[-1])}</td>"
        f"<td>{run.train_accuracy:.0%}</td><td>{run.seconds:.1f} s</td></tr>"
        for name, run in runs.items()
    )
    return (
        '<section id="moons"><h2>4. Training: micrograd\'s moons demo</h2>\n'
        "<p>100 points from scikit-learn's <code>make_moons</code> (noise 0.1), the scalar "
        "<code>MLP(2, [16, 16, 1])</code>, SVM max-margin loss plus L2 penalty, SGD with the "
        f"learning rate decaying from 1.0 to 0.1, {epochs} steps. Hidden layers: ReLU.</p>\n"
        f'<div class="grid"><figure>{_img(loss, "moons loss curve", 560)}'
        "<figcaption>loss and training accuracy</figcaption></figure>"
        f"<figure>{_img(boundary, 'moons decision boundary', 420)}"
        "<figcaption>decision boundary</figcaption></figure></div>\n"
        "<h3>The same network with each lecture activation</h3>\n"
        "<p>Same seed, same initial weights. The lower panels show the mean |gradient| reaching "
        "each layer: with sigmoid (slope at most 1/4) far less of the output's gradient reaches "
        "the first layer, and learning stalls.</p>\n"
        "<table><thead><tr><th>activation</th><th>final loss</th><th>train accuracy</th>"
        f"<th>time</th></tr></thead><tbody>{rows}</tbody></table>\n"
        f"<figure>{_img(compare, 'loss and gradient size by activation', 900)}</figure></section>"
    )


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f4f6; } td:first-child, td:nth-child(2) { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
.frames { display: flex; flex-direction: column; gap: .6em; }
figure { margin: 0; } figcaption { font-size: .88em; color: #555; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { background: #f3f4f6; padding: 0 .2em; }
.notes { font-size: .88em; color: #555; }
"""


def _page(sections, seconds, quick):
    budget = "quick run (fewer training steps)" if quick else "full run"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Derivatives of activation functions, shown</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        "<h1>Derivatives of activation functions, shown</h1>\n"
        "<p>The lecture (deeplearning.ai C1W3L08) run on <code>tinygrad_act</code>: each "
        "activation's slope g'(z), written from its output a, is the local gradient backprop "
        "multiplies along the graph.</p>\n"
        + "\n".join(sections)
        + f"\n<footer><p>Built by <code>tinygrad-act demo</code> in {seconds:.1f} s, {budget}."
        "</p></footer>\n</body>\n</html>\n"
    )
