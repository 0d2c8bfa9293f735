"""Where every figure is made and written: matplotlib's object API on the Agg canvas (no pyplot
state, no display needed), and PNGs written whole or not at all.

matplotlib is imported when a figure is made, so importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path

from tinygrad_act.files import write_atomically


def new_figure(width, height, dpi=100):
    """A blank `width` x `height` inch figure with constrained layout.

    >>> new_figure(5.6, 3.9).get_size_inches().tolist()
    [5.6, 3.9]
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def save_png(fig, path, **options):
    """Write `fig` to `path` as a PNG (matplotlib's `savefig` `options`, such as dpi); returns it.

    Through a temporary file: Ctrl-C or a full disk mid-write never leaves half a PNG, as the CLI
    promises for every file it writes. The folder is made if it is missing.

    >>> import tempfile
    >>> fig = new_figure(2, 2)
    >>> _ = fig.subplots().plot([0, 1], [1, 0])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_png(fig, Path(folder) / "new" / "line.png")
    ...     path.read_bytes()[:4], sorted(p.name for p in path.parent.iterdir())
    (b'\\x89PNG', ['line.png'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: fig.savefig(f, format="png", **options), durable=False)
    return path
