"""Keep notebooks in git without outputs: `python tools/notebooks.py [--check] PATH...`.

Without --check, strip every code cell's outputs and execution count in place. With --check,
change nothing and exit 1, naming each notebook and cell that still has outputs (`make lint`
and `make test` run this on docs/notebooks). PATH is a notebook or a folder of them.
Outputs belong to the run, not to the lesson: the tests and the docs build execute every notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def notebooks(paths):
    for path in map(Path, paths):
        yield from sorted(path.glob("*.ipynb")) if path.is_dir() else [path]


def dirty_cells(nb):
    """Indices of the code cells that carry outputs or an execution count."""
    return [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]


def strip(nb):
    for i in dirty_cells(nb):
        nb["cells"][i]["outputs"] = []
        nb["cells"][i]["execution_count"] = None
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report notebooks with outputs")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    found = list(notebooks(args.paths))
    if not found:
        print(f"no notebooks in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    dirty = 0
    for path in found:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = dirty_cells(nb)
        if not cells:
            continue
        dirty += 1
        if args.check:
            print(f"{path}: outputs in cells {', '.join(map(str, cells))}; strip them with "
                  f"`python tools/notebooks.py {path}`")  # fmt: skip
        else:
            text = json.dumps(strip(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            path.write_text(text, encoding="utf-8")  # nbformat's own layout: small diffs
            print(f"stripped {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
