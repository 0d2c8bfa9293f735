"""Sphinx configuration for the tinygrad_act documentation (`make docs`).

Figures, command help and tables are made by the package itself when the build starts
(see ``figures.py``), so the site always shows what the code does today.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the package, even without an editable install
sys.path.insert(0, str(DOCS))

import figures  # noqa: E402

project = "tinygrad_act"
author = "tinygrad_act contributors"
copyright = "the tinygrad_act contributors"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}  # MyST pages and Jupyter notebooks
root_doc = "index"
exclude_patterns = ["_build", "_generated"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# The notebooks (notebooks/*.ipynb) are stored without outputs and run at every build, in a kernel
# that imports this checkout's package; a cell that fails fails the build.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(DOCS.parent), os.environ.get("PYTHONPATH")])
)
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_execution_in_temp = True  # files a notebook writes (its step frames) stay out of docs/
# A widget's live view needs a kernel: the built pages show its static HTML (the drawing, the numbers).
# ... and no widget manager from a CDN (myst-nb's default when a notebook has widget state).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}
nb_render_markdown_format = "gfm"  # a cell that shows Markdown may show a table, as Jupyter does

autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the signatures are plain Python; the docstrings say what each takes

# Every cross-reference must resolve, apart from names of other libraries we do not link to.
nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"(np|numpy|graphviz|matplotlib)\..*"),
    ("py:class", r"(optional|array-like|callable|float|int|str|bool|dict|list|tuple)"),
]

# Math renders offline: MathJax 3.2.2 (Apache-2.0) is vendored in _static/mathjax (see its
# README.txt), one file with the TeX input, every extension and the SVG font, so a page with math
# loads nothing from a CDN. Sphinx's default would fetch MathJax from the network.
html_static_path = ["_static"]
mathjax_path = "mathjax/tex-svg-full.js"
html_css_files = ["tinygrad_act.css"]

html_theme = "furo"
html_title = "tinygrad_act"
pygments_style = "friendly"
pygments_dark_style = "monokai"


# The docstrings are plain text that also runs as doctests, so they write calls the Python way:
# "fn(*inputs)", "derivative(z, a, **params)". In reStructuredText a star starts emphasis; escape
# the stars of *args / **kwargs outside inline literals so they print as written.
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")
_STARS = re.compile(r"(?:(?<=\()|(?<=, ))(\*{1,2})(?=[A-Za-z_])")


def _escape_call_stars(line):
    if line.lstrip().startswith((">>>", "...")):
        return line
    parts = _LITERAL.split(line)
    return "".join(
        p if i % 2 else _STARS.sub(lambda m: "\\*" * len(m[1]), p) for i, p in enumerate(parts)
    )


def _docstring_stars(app, what, name, obj, options, lines):
    lines[:] = [_escape_call_stars(line) for line in lines]


def setup(app):
    app.connect("builder-inited", lambda app: figures.generate(DOCS / "_generated"))
    app.connect("autodoc-process-docstring", _docstring_stars)
