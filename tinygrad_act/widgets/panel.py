"""What the three widgets share: the ES module (the lab's plot.js and the widget's own script),
the `error` line, and the rule that refused input changes nothing but `error`.

A widget's state is traitlets; each settable trait has a validator that computes the panel for the
proposed value with the lab's own code. Accepted, the new view is stored and `error` cleared;
refused (`LabError`, the lab's one-line message), `error` says why and the trait keeps its value
(a value sent by the page is sent back, so the page shows the kept one again).
"""

from __future__ import annotations

import contextlib
import html
from pathlib import Path

import anywidget
import traitlets

from tinygrad_act.lab.schema import LabError

STATIC = Path(__file__).resolve().parent / "static"
LAB_JS = Path(__file__).resolve().parent.parent / "lab" / "static" / "js"


def module(name):
    """The widget's ES module: the lab's plot.js (no imports, only exports) followed by the
    widget's own script, which calls drawPlot as its own. One file, nothing from elsewhere."""
    return (
        (LAB_JS / "plot.js").read_text(encoding="utf-8")
        + "\n"
        + (STATIC / name).read_text(encoding="utf-8")
    )


class Panel(anywidget.AnyWidget):
    _css = STATIC / "widgets.css"
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **state):
        self._settling = False
        super().__init__(**state)

    @contextlib.contextmanager
    def settling(self):
        """Set several traits as one change: their validators let the values through."""
        outer, self._settling = self._settling, True
        try:
            yield
        finally:
            self._settling = outer

    def attempt(self, proposal, compute, shown):
        """The validators' common shape: `compute(value)` stores the panel for the proposed value;
        on a refusal the error is set and the trait keeps `shown()`, the value the stored view
        shows (when the page sets a trait, traitlets has already stored the proposal)."""
        if self._settling:
            return proposal.value
        try:
            with self.settling():
                compute(proposal.value)
                self.error = ""
        except LabError as err:
            self.error = str(err)
            return shown()
        return proposal.value

    # Where no front end is attached (a headless run, the docs build), the HTML below is shown.
    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.static_html()
        return bundle

    def static_html(self):
        raise NotImplementedError

    def error_html(self):
        if not self.error:
            return ""
        return f'<p class="tga-error" role="alert">{html.escape(self.error)}</p>'


def refuse_in_constructor(error):
    """A constructor given bad arguments raises (there is no earlier state to keep)."""
    return ValueError(str(error))
