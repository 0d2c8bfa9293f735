"""The figure of docs/performance.md: W2 time against N, and W4 time as a multiple of numpy's."""

from __future__ import annotations

from benchmarks import w2_deep_chain, w4_tensor_mlp

COLORS = {
    "tinygrad_act": "tab:blue",
    "torch": "tab:orange",
    "micrograd": "tab:green",
    "autograd": "tab:red",
    "mygrad": "tab:purple",
    "numpy-inplace": "tab:gray",
}


def plot(results, path, title=""):
    """Write the two-panel figure to `path` (any format matplotlib knows from the suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One panel above the other: at the width of a docs page each stays readable.
    fig, (left, right) = plt.subplots(2, 1, figsize=(8, 9.6))

    for engine, style in (
        ("tinygrad_act", "o-"),
        ("tinygrad_act gc off", "s"),
        ("torch", "o-"),
        ("micrograd", "o-"),
    ):
        points = w2_deep_chain.per_node(results, engine)
        if points:
            ns = [n for n, _ in points]
            secs = [c * n for n, c in points]
            color = COLORS[engine.split()[0]]
            left.plot(
                ns,
                secs,
                style,
                color=color,
                mfc="none" if "gc off" in engine else color,
                label=engine,
            )
    ours = w2_deep_chain.per_node(results, "tinygrad_act")
    if ours:
        # A line of slope 1 through the smallest chain: what exactly linear growth would look like.
        n0, c0 = ours[0]
        ns = [n for n, _ in ours]
        left.plot(
            ns, [c0 * n for n in ns], ":", color="gray", lw=1, label="linear from the first point"
        )
    limit = w2_deep_chain.MICROGRAD_PROBE[1]
    left.axvline(limit, color=COLORS["micrograd"], ls=":", lw=1)
    left.text(
        limit * 1.15,
        0.97,
        "micrograd:\nRecursionError",
        transform=left.get_xaxis_transform(),
        fontsize=8,
        color=COLORS["micrograd"],
        va="top",
    )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("N (tanh nodes in the chain)")
    left.set_ylabel("forward + backward time (s)")
    left.set_title("W2: deep chain x -> tanh^N, backward")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    ratios = w4_tensor_mlp.ratios(results)
    cells = [w4_tensor_mlp._cell(*c) for c in w4_tensor_mlp.cells()]
    engines = [
        e for e in ("numpy-inplace", "tinygrad_act", "torch", "autograd", "mygrad") if e in ratios
    ]
    width = 0.8 / max(len(engines), 1)
    for i, engine in enumerate(engines):
        got = dict(ratios[engine])
        xs = [j + (i - (len(engines) - 1) / 2) * width for j in range(len(cells))]
        right.bar(xs, [got.get(c, 0) for c in cells], width, color=COLORS[engine], label=engine)
    right.axhline(1.0, color="black", lw=1)
    right.axhline(
        w4_tensor_mlp.TARGET,
        color="black",
        ls="--",
        lw=1,
        label=f"target {w4_tensor_mlp.TARGET:.2f}x",
    )
    right.set_xticks(range(len(cells)), cells, rotation=30, ha="right", fontsize=8)
    right.set_ylabel("step time / hand-written numpy time")
    right.set_title("W4: 784-256-128-10 MLP, forward+backward+SGD")
    right.grid(True, axis="y", alpha=0.3)
    right.legend(fontsize=8, ncol=2)

    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
