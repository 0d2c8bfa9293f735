"""What users see of activation health: `plot_health` (histograms and curves per layer, one column
per monitor) and `format_health_table`. matplotlib is imported only inside `plot_health`."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_act.figures import new_figure, save_png
from tinygrad_act.health.measures import Monitor


def _histogram(ax, values, label, bins):
    values = values[np.isfinite(values)]  # a diverged run: draw what is still a number
    if bins is None or not values.size:
        ax.plot([], [], lw=1.4, label=label + " (no finite values)")
        return
    counts, edges = np.histogram(values, bins=bins)
    ax.plot((edges[:-1] + edges[1:]) / 2, counts / values.size, lw=1.4, label=label)


def _bins(arrays, n=40):
    """Bins shared by every layer's histogram, over the finite values of all of them."""
    finite = [x[np.isfinite(x)] for x in arrays]
    finite = [x for x in finite if x.size]
    if not finite:
        return None
    low, high = min(float(x.min()) for x in finite), max(float(x.max()) for x in finite)
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, n + 1)


def _legend_name(row, mixed):
    name = f"layer {row['layer']}" if row["layer"].isdigit() else row["layer"]
    return f"{name} ({row['activation']})" if mixed else name


def plot_health(monitors, path):
    """One figure of the health of each monitor, side by side: {column title: Monitor} -> PNG.

    Rows: activation histograms per layer and gradient histograms per layer (latest step), the
    saturated fraction per layer over training, and log10 update:data with the -3 guide line.
    One monitor gets a 2 x 2 grid.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from tinygrad_act import Value
    >>> from tinygrad_act.nn import mlp
    >>> nets = {name: mlp([2, 4, 1], name, rng=0) for name in ("tanh", "relu")}
    >>> monitors = {name: Monitor(net) for name, net in nets.items()}
    >>> for net in nets.values():
    ...     net(Value(np.ones((3, 2)))).sum().backward()
    >>> for monitor in monitors.values():
    ...     _ = monitor.record()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_health(monitors, Path(folder) / "health.png")
    ...     path.read_bytes()[:4]
    b'\\x89PNG'
    """
    monitors = {name: m for name, m in monitors.items() if m.history}
    if not monitors:
        raise ValueError("plot_health: no monitor has recorded a step yet")
    cols = len(monitors)
    shape = (2, 2) if cols == 1 else (4, cols)
    fig = new_figure(*((11, 7.5) if cols == 1 else (4.4 * cols, 12)))
    grid = np.asarray(fig.subplots(*shape, squeeze=False))
    panels = grid.reshape(4, 1) if cols == 1 else grid
    for col, (title, monitor) in enumerate(monitors.items()):
        ax_a, ax_g, ax_s, ax_u = panels[:, col]
        last = monitor.history[-1]
        steps = np.arange(1, len(monitor.history) + 1)
        a_bins = _bins([a for a, _ in monitor._latest])
        g_bins = _bins([g for _, g in monitor._latest])
        mixed = len({row["activation"] for row in last}) > 1
        for i, (row, (a, g)) in enumerate(zip(last, monitor._latest, strict=True)):
            name = _legend_name(row, mixed)
            _histogram(
                ax_a,
                a,
                f"{name}: std {row['out_std']:.3g}, saturated {row['saturated']:.0%}",
                a_bins,
            )
            _histogram(ax_g, g, f"{name}: std {row['grad_std']:.1e}", g_bins)
            saturated = [step[i]["saturated"] for step in monitor.history]
            ax_s.plot(steps, np.array(saturated) * 100, lw=1.4, label=name)
            ratios = [step[i]["update_to_data"] for step in monitor.history]
            logs = [math.log10(r) if r and math.isfinite(r) else math.nan for r in ratios]
            ax_u.plot(steps, logs, lw=1.2, label=name)
        ax_u.axhline(-3, color="k", ls="--", lw=1, label="-3 (guide)")
        step = f"step {len(monitor.history)}"
        ax_a.set(title=f"{title}: activations a ({step})", xlabel="a", ylabel="share of entries")
        ax_g.set(
            title=f"{title}: gradients dL/da ({step})", xlabel="dL/da", ylabel="share of entries"
        )
        top = max((100 * r["saturated"] for step in monitor.history for r in step), default=0)
        ax_s.set(title=f"{title}: saturated units", xlabel="step", ylabel="saturated (%)",
                 ylim=(0, max(1.0, 1.08 * top)))  # fmt: skip
        ax_u.set(
            title=f"{title}: update:data", xlabel="step", ylabel="log10(update std / data std)"
        )
        for ax in (ax_a, ax_g, ax_s, ax_u):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    return save_png(fig, path)


def _percent(x):
    return f"{x:.1%}"


def _sci(x):
    return "-" if x is None else f"{x:.2e}"


def format_health_table(monitors):
    """The latest step of each monitor as a text table; several monitors are interleaved layer by
    layer, so the activations of one layer stand next to each other.

    >>> from tinygrad_act import Value
    >>> from tinygrad_act.nn import mlp
    >>> net = mlp([2, 4, 1], "relu", rng=0)
    >>> with Monitor(net) as monitor:
    ...     net(Value(np.ones((3, 2)))).sum().backward()
    ...     _ = monitor.record()
    >>> print(format_health_table(monitor))
    layer  activation  saturated   dead  grad std  update:data
    1      relu            25.0%  25.0%  3.28e-01            -
    """
    if isinstance(monitors, Monitor):
        monitors = {"": monitors}
    reports = [m.report() for m in monitors.values() if m.history]
    head = ("layer", "activation", "saturated", "dead", "grad std", "update:data")
    lines = [head]
    for i in range(max((len(r) for r in reports), default=0)):
        for report in reports:
            if i < len(report):
                row = report[i]
                lines.append(
                    (
                        row["layer"],
                        row["activation"],
                        _percent(row["saturated"]),
                        _percent(row["dead"]),
                        _sci(row["grad_std"]),
                        _sci(row["update_to_data"]),
                    )
                )
    widths = [max(len(line[j]) for line in lines) for j in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if j < 2 else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )
