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
from tinygrad_act.figures import new_figure, save_png
from tinygrad_act.gradcheck import TABLE_HEADER, table_cells
from tinygrad_act.health_demo import STACKED_LABELS
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


# What each plot shows, in a sentence under it.
CAPTIONS = {
    "sigmoid": "g'(z) = a(1-a) is at most 1/4, at z = 0, and almost 0 at |z| = 10: there the curve "
    "is flat (it saturates) and hardly any gradient passes through.",
    "tanh": "g'(z) = 1-a² is 1 at z = 0, four times the sigmoid's best, and almost 0 at |z| = 10, "
    "where tanh saturates at -1 and 1.",
    "relu": "g'(z) is 0 for z < 0, so no gradient passes back through a negative input, and 1 for "
    "z ≥ 0; at exactly z = 0 the slide takes 1. The zoom shows the 0.",
    "leaky_relu": "g'(z) is 0.01 for z < 0, not 0 (the zoom shows it), so a little gradient always "
    "passes back; 1 for z ≥ 0.",
}
ZOOMED = ("relu", "leaky_relu")  # the slope 0.01 against 0 is invisible on a 0..1 axis


def plot_activation(name, path, z_range=(-10.0, 10.0), points=401):
    """g(z) above; g'(z) by backprop, the slide's formula and g''(z) below, on an axis of their own.

    The slide's points z = -10, 0, 10 are marked with their slopes. ReLU and Leaky ReLU get a zoom
    on z < 0, where 0 against 0.01 is Leaky ReLU's whole point. The legend sits under the axes,
    hiding nothing. Writes a PNG and returns its path.
    """
    z = np.linspace(*z_range, points)
    v = Value(z)
    a = v.activate(name)
    a.sum().backward()  # d(sum of a)/dz_i = g'(z_i): the whole grid in one backward pass
    slope = v.grad
    fig = new_figure(6.0, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.25])
    top.plot(z, a.data, color="tab:blue", lw=2, label="g(z)")
    top.set(ylabel="g(z)", title=TITLES.get(name, name))
    bottom.plot(z, slope, color="tab:orange", lw=5, alpha=0.45, label="g'(z) by backprop")
    if name in LECTURE_DERIVATIVES:
        written = ACTIVATIONS[name].local_formula()
        formula = LECTURE_DERIVATIVES[name](z, a.data)
        bottom.plot(z, formula, color="k", lw=1, ls="--", label=f"g'(z) = {written}, the slide")
    bottom.plot(z, second_derivative(name, z), color="tab:green", lw=1.2, ls=":",
                label="g''(z) by backprop of backprop")  # fmt: skip
    if name in LECTURE:
        _mark_slide_points(top, bottom, name)
    if name in ZOOMED:
        _zoom_negative_side(bottom, z, slope)
    bottom.set(xlabel="z", ylabel="slope")
    for ax in (top, bottom):
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.grid(alpha=0.3)
    handles = top.get_legend_handles_labels()[0] + bottom.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8.5, frameon=False)
    return save_png(fig, path, dpi=130, metadata={"Software": None})


def _mark_slide_points(top, bottom, name):
    z = np.array([-10.0, 0.0, 10.0])
    v = Value(z)
    a = v.activate(name)
    a.sum().backward()
    top.plot(z, a.data, "o", color="tab:red", ms=5)
    bottom.plot(z, v.grad, "o", color="tab:red", ms=5, label="the slide's points z = -10, 0, 10")
    for x, y in zip(z, v.grad, strict=True):
        bottom.annotate(f"{y:.2g}", (x, y), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8, color="tab:red")  # fmt: skip
    bottom.set_xlim(-11.5, 11.5)  # room for the labels at the ends
    low, high = bottom.get_ylim()
    bottom.set_ylim(low, high + 0.12 * (high - low))  # and above the highest


def _zoom_negative_side(ax, z, slope):
    inset = ax.inset_axes([0.14, 0.4, 0.36, 0.42])
    left = z < 0
    inset.plot(z[left], slope[left], color="tab:orange", lw=2.5)
    inset.set(ylim=(-0.004, 0.014), yticks=[0, 0.01], xlim=(z[0], 0))
    inset.set_yticklabels(["0", "0.01"], fontsize=8)
    inset.tick_params(axis="x", labelsize=7)
    inset.set_title("zoom: g'(z) for z < 0", fontsize=8)
    inset.grid(alpha=0.3)


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
    plots = [(name, plot_activation(name, out / f"activation-{name}.png").name) for name in LECTURE]
    gaps = [float(np.max(np.abs(np.subtract(*activation_curves(n)[2:])))) for n in LECTURE]
    sections.append(_activation_section(plots, max(gaps)))

    log("[3/4] drawing the neuron's graph and its backprop steps (Graphviz)")
    o = lecture_neuron()
    # Every picture of the neuron carries the local derivatives, so all of them share one layout.
    before = save_graph(o, out / "neuron-before.svg", show_local=True)
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
    index.write_text(_page(sections, seconds, epochs, quick), encoding="utf-8")
    log(f"done in {seconds:.1f} s")
    return index


def _leaves(root):
    return sorted((v for v in topological_order(root) if not v._prev), key=lambda v: v.label)


def _e(text):
    return html.escape(str(text), quote=True)


def _num(x):
    return f"{x + 0.0:.6g}"


def _img(src, alt):
    """An image that opens full size when clicked."""
    return f'<a href="{_e(src)}"><img src="{_e(src)}" alt="{_e(alt)}"></a>'


def _graph(src, alt, caption):
    """A drawing at the width of the page (on a phone, wide enough to read, in a box that scrolls
    sideways); a click opens it full size."""
    return (
        f'<figure class="graph"><div class="scroll">{_img(src, alt)}</div>'
        f'<figcaption>{caption} <a href="{_e(src)}">(full size)</a></figcaption></figure>'
    )


def _table(head, rows):
    """A table that scrolls sideways inside its own box on a narrow screen (on a phone it stacks:
    see `_PHONE`)."""
    return (
        '<div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead><tbody>\n"
        + "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        + "</tbody></table></div>\n"
    )


def _table_section(rows):
    # g(z) comes with the digits its formula needs: tanh(-10) = -0.999999995877693 beside 1-a².
    cells, notes = table_cells(rows)
    body = [[_e(c) for c in row] for row in cells]
    foot = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return (
        '<section id="table"><h2>1. The lecture\'s table</h2>\n'
        "<p>g(z) and its slope g'(z) at the slide's points, three ways: the formula as the lecture "
        "writes it (in terms of the output a = g(z)), backprop through a <code>Value</code>, and "
        "central differences. This is what <code>tinygrad-act derivatives</code> prints.</p>\n"
        + _table(TABLE_HEADER, body)
        + (f'<ol class="notes">{foot}</ol>' if foot else "")
        + "</section>"
    )


def _activation_section(plots, gap):
    figures = "".join(
        f"<figure>{_img(src, f'{TITLES[name]}: g(z), and below it g prime and g double prime')}"
        f"<figcaption><b>{_e(TITLES[name])}.</b> {_e(CAPTIONS[name])}</figcaption></figure>"
        for name, src in plots
    )
    agree = "exactly" if gap == 0 else f"to {gap:.1g}"
    return (
        '<section id="activations"><h2>2. Each activation and its slope</h2>\n'
        "<p>Top: g(z) over [-10, 10]. Bottom, on an axis of its own: the slope g'(z). The wide "
        "orange line is g'(z) computed by backprop over the whole grid (one tensor "
        "<code>Value</code>, one backward pass); the dashed line on top of it is the slide's "
        f"formula, and the two agree {agree} at all 401 points. The dotted green line is g''(z), "
        "the engine differentiating its own backward pass; red dots mark the slide's points. "
        "Where the slope is near 0 almost no gradient flows back.</p>\n"
        f'<div class="plots">{figures}</div></section>'
    )


def _neuron_section(out, before, after, frames, o, leaves):
    rel = [f.relative_to(out).as_posix() for f in frames]
    grads = ", ".join(f"d o/d {_e(name)} = {_num(grad)}" for name, _, grad in leaves)
    n = len(rel) - 1
    steps = "".join(
        _graph(
            src,
            f"backprop, step {k} of {n}",
            f"Step {k} of {n}" + (": the start" if k == 0 else ""),
        )
        for k, src in enumerate(rel)
    )
    grad = dict((name, g) for name, _, g in leaves)
    return (
        '<section id="neuron"><h2>3. One neuron, backward step by step</h2>\n'
        "<p>o = tanh(x1·w1 + x2·w2 + b) with x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8814, so "
        f"o = {_num(o.data)}. The tanh node's local gradient is 1-a² = {_num(1 - o.data**2)}; "
        f"after backward: {grads}.</p>\n"
        "<p>Each edge into an op is labelled with the derivative it stands for: "
        "<code>∂/∂x2 = w2 = 1</code> on the edge from x2 into x2*w2 says that "
        "∂(x2*w2)/∂x2 = w2 = 1. Backward multiplies along the edges (the chain rule): "
        f"x2's grad = (x2*w2)'s grad × w2 = {_num(grad['x2'])}, and w2's grad = "
        f"(x2*w2)'s grad × x2 = {_num(grad['w2'])}, because x2 = 0.</p>\n"
        '<div class="frames">'
        + _graph(before.name, "graph before backward", "Before backward: every grad is 0.")
        + _graph(after.name, "graph after backward", "After backward: every grad filled in.")
        + "</div>\n"
        f"<h3>The backprop steps: the start, then {n} steps, one per op</h3>\n"
        "<p>The op being worked on is red; its title says which local gradient it applies; a "
        "grad written – is not computed yet. Every node stays in the same place in all frames."
        f'</p>\n<div class="frames">{steps}</div></section>'
    )


def _moons_section(runs, epochs, loss, boundary, compare):
    rows = [
        [_e(name), _num(run.losses[-1]), f"{run.train_accuracy:.0%}", f"{run.seconds:.1f} s"]
        for name, run in runs.items()
    ]
    worst = max(runs, key=lambda name: runs[name].losses[-1])
    first_layer = [float(np.median([m[0] for m in run.grad_magnitudes])) for run in runs.values()]
    spread = max(first_layer) / min(first_layer)
    return (
        '<section id="moons"><h2>4. Training: micrograd\'s moons demo</h2>\n'
        "<p>100 points from scikit-learn's <code>make_moons</code> (noise 0.1), the scalar "
        "<code>MLP(2, [16, 16, 1])</code>, SVM max-margin loss plus L2 penalty, SGD with the "
        f"learning rate decaying from 1.0 to 0.1, {epochs} steps (each step sees all 100 points). "
        "Hidden layers: ReLU.</p>\n"
        f'<figure class="wide">{_img(loss, "moons loss curve")}<figcaption>Loss and training '
        "accuracy after each step.</figcaption></figure>\n"
        f'<figure class="half">{_img(boundary, "moons decision boundary")}'
        "<figcaption>The decision boundary the network learned.</figcaption></figure>\n"
        "<h3>The same network with each lecture activation</h3>\n"
        "<p>Same seed, same initial weights, only the activation differs. The first panel is the "
        "loss; the others show the mean |gradient| of each layer's parameters at each step, on a "
        f"log axis. In this run {_e(worst)} ends with the highest loss. With only two hidden "
        "layers the gradient reaching layer 1 is much the same for all four (their medians over "
        f"the steps differ by {spread:.1f} times at most); the next section shows where the "
        "sigmoid's small slope really bites.</p>\n"
        + _table(MOONS_HEADER, rows)
        + f'<figure class="wide">{_img(compare, "loss and gradient size by activation")}'
        "<figcaption>Loss (top left) and mean |gradient| per layer, by activation.</figcaption>"
        "</figure></section>"
    )


_STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 0 auto;
       padding: 1em clamp(.75em, 3vw, 2.5em) 2em; color: #222; line-height: 1.5; }
h1 { font-size: clamp(1.4em, 4vw, 1.9em); line-height: 1.2; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
p, figcaption, .notes { max-width: 75ch; }
.scroll { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f3f4f6; } td:first-child, td:nth-child(2) { text-align: left; }
.plots { display: grid; gap: 1.5em;
         grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr)); }
.frames { display: grid; gap: 1.2em; }
figure { margin: 0; min-width: 0; }
figcaption { font-size: .9em; color: #555; margin-top: .3em; }
img { display: block; max-width: 100%; height: auto; border: 1px solid #eee; }
.graph img, .plots img, .wide img, .half img { width: 100%; }
.wide { max-width: 1000px; margin-bottom: 1.5em; } .half { max-width: 560px; }
code { background: #f3f4f6; padding: 0 .2em; overflow-wrap: anywhere; }
.notes { font-size: .88em; color: #555; }
footer { margin-top: 3em; color: #555; font-size: .9em; }
.graph .scroll { margin: 0; }
@media (max-width: 700px) { .graph img { width: 760px; max-width: none; } }
.phone-only { display: none; }
.phone-only { display: none; }
"""


MOONS_HEADER = ["activation", "final loss", "train accuracy", "time"]
_STACKED = {  # the tables that stack on a phone, and the name each cell gets there
    "#table .scroll > table": TABLE_HEADER,
    "#moons .scroll > table": MOONS_HEADER,
    "#slope-zero table.stack": STACKED_LABELS,
}


def _css(text):
    """Text inside a CSS string (a <style> element does not decode HTML entities)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")


def _phone_style():
    """On a phone a wide table stacks: each row a block, each cell a line "column: value" (the
    header row is hidden, so each cell names its column). The health grid keeps a readable size
    and scrolls sideways, one activation per screen."""

    def each(part):
        return ", ".join(f"{table}{part}" for table in _STACKED)

    names = "".join(
        f'  {table} td:nth-child({i})::before {{ content: "{_css(name)}: "; color: #555; }}\n'
        for table, head in _STACKED.items()
        for i, name in enumerate(head[1:], start=2)
    )
    return f"""@media (max-width: 560px) {{
  {each("")}, {each(" tbody")}, {each(" tr")}, {each(" td")} {{ display: block; }}
  {each(" thead")} {{ display: none; }}
  {each(" tr")} {{ border: 1px solid #ccc; margin: 0 0 .6em; padding: .3em .6em; }}
  {each(" td")} {{ border: none; padding: .05em 0; text-align: left; white-space: normal; }}
  {each(" td:first-child")} {{ font-weight: 600; }}
{names}  .health-grid {{ overflow-x: auto; }} .health-grid img {{ width: 1400px; max-width: none; }}
  .health-grid figcaption {{ position: sticky; left: 0; }}
  .phone-only {{ display: block; }}
}}
"""


def _page(sections, seconds, epochs, quick):
    budget = (
        f"a quick build (<code>--quick</code>): {epochs} training steps per activation"
        if quick
        else f"{epochs} training steps per activation"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Derivatives of activation functions, shown</title>\n"
        f"<style>{_STYLE}{_phone_style()}</style>\n</head>\n<body>\n"
        "<h1>Derivatives of activation functions, shown</h1>\n"
        "<p>The lecture (deeplearning.ai C1W3L08) run on <code>tinygrad_act</code>: each "
        "activation's slope g'(z), written from its output a, is the local gradient backprop "
        "multiplies along the graph.</p>\n"
        + "\n".join(sections)
        + f"\n<footer><p>Made by <code>tinygrad-act demo</code> in {seconds:.1f} s, {budget}. "
        "Everything on this page was computed by the package while the page was made.</p>"
        "</footer>\n</body>\n</html>\n"
    )
