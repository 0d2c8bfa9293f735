"""The expression panel as a widget: a slider and a number box per variable, the engine's drawing
with data, grad and the local derivative on each edge, hover or tap a node for its explanation,
the backward pass a step at a time, and the whole pass as code. The numbers are `graph_view`'s,
as in the lab.

>>> w = ExpressionWidget("tanh(x1*w1 + x2*w2 + b)", x1=2, w1=-3, x2=0, w2=1, b=6.8813735870195432)
>>> round(w.value, 4), round(w.grads["w1"], 4)
(0.7071, 1.0)
>>> w.values = {**w.values, "x1": 1e9}
>>> w.error
'values.x1 must lie in [-1e+06, 1e+06], got 1e+09'
>>> w.values["x1"]
2.0
"""

from __future__ import annotations

import html

import traitlets

from tinygrad_act.lab import limits, schema
from tinygrad_act.lab.graph_panel import graph_view, variable_names
from tinygrad_act.lab.schema import LabError
from tinygrad_act.widgets.function_text import function_text, parameters
from tinygrad_act.widgets.panel import Panel, module

_VALUES = schema.mapping(schema.number(), limits.MAX_VARIABLES * 4, key_kind="a variable name")
_STEP = schema.optional(schema.integer(0, limits.MAX_STEP_FRAME_OPS + 1))


class ExpressionWidget(Panel):
    """`ExpressionWidget("tanh(x*w + b)", x=2, w=-3, b=6.88)`, or a Python function of Values
    (``lambda x, w, b: (x*w + b).tanh()``, drawn from the graph it records, again at every
    change of values). `values`, `step` (None: the finished graph; k: backward step frame k) and
    `show_code` (the "as code" tab instead of the drawing) are settable; `value`, `grads`, `code`,
    `view` and `error` are read."""

    _esm = module("expression.js")
    expression = traitlets.Unicode("").tag(sync=True)
    values = traitlets.Dict().tag(sync=True)
    step = traitlets.Int(None, allow_none=True).tag(sync=True)
    view = traitlets.Dict().tag(sync=True)
    show_code = traitlets.Bool(False).tag(sync=True)
    slider_range = traitlets.List(list(limits.SLIDER_RANGE)).tag(sync=True)
    number_limit = traitlets.Float(limits.MAX_NUMBER).tag(sync=True)

    def __init__(self, expression, **values):
        self._function = expression if callable(expression) else None
        super().__init__()
        try:
            if self._function is None:
                schema.text(limits.MAX_EXPRESSION_LENGTH)(expression, "expression")
                names = variable_names(expression)
            else:
                names = parameters(self._function)
            unknown = [name for name in values if name not in names]
            if unknown:
                raise LabError(
                    f"{unknown[0]!r} is not a variable of this expression "
                    f"(its variables: {', '.join(names)})"
                )
            chosen = {name: values.get(name, limits.DEFAULT_VALUE) for name in names}
            with self.settling():
                self._show(_VALUES(chosen, "values"), None, expression)
        except LabError as err:
            raise ValueError(str(err)) from None

    @property
    def value(self):
        """The output's value."""
        return self.view["value"]

    @property
    def grads(self):
        """d(output)/d(variable) for each variable, as backward() leaves them."""
        return {v["name"]: v["grad"] for v in self.view["variables"]}

    @property
    def code(self):
        """The forward and backward pass as Python, as `trace` writes it (None where it cannot:
        ``view["code_notice"]`` says why)."""
        return self.view["code"]

    @traitlets.validate("values")
    def _check_values(self, proposal):
        return self.attempt(
            proposal,
            lambda values: self._show(_VALUES(values, "values"), self.view_step()),
            self.view_values,
        )

    @traitlets.validate("step")
    def _check_step(self, proposal):
        return self.attempt(
            proposal,
            lambda step: self._show(self.view_values(), _STEP(step, "step")),
            self.view_step,
        )

    def view_values(self):
        """The values the stored view was computed for."""
        return {v["name"]: v["value"] for v in self.view["variables"]}

    def view_step(self):
        """The step frame the stored view shows (None: the finished graph)."""
        frame = self.view.get("frame")
        return None if frame is None else frame["index"]

    @traitlets.observe("step")
    def _back_to_the_finished_graph(self, change):
        # traitlets does not validate None where None is allowed: the finished graph is drawn here.
        if change.new is None and not self._settling and self.view.get("frame") is not None:
            with self.settling():
                self._show(self.view_values(), None)
                self.error = ""

    def _show(self, values, step, text=None):
        if self._function is not None:
            text = function_text(self._function, values)
        text = self.expression if text is None else text
        view = graph_view(text, values, step)
        self.expression, self.view = text, view
        self.values = {v["name"]: v["value"] for v in view["variables"]}
        self.step = step

    def static_html(self):
        """The drawing and the numbers, for a notebook shown without widgets."""
        rows = "".join(
            f"<tr><td>{html.escape(v['name'])}</td><td>{html.escape(_text(v['value']))}</td>"
            f"<td>{html.escape(v['grad_text'])}</td></tr>"
            for v in self.view["variables"]
        )
        svg = self.view["svg"] or f"<p>{html.escape(self.view['notice'] or '')}</p>"
        code = html.escape(self.code or self.view["code_notice"])
        return (
            f'<div class="tga-static"><p><code>{html.escape(self.expression)}</code> = '
            f"{html.escape(self.view['value_text'])}</p>{self.error_html()}"
            f"<table><tr><th>variable</th><th>value</th><th>grad</th></tr>{rows}</table>"
            f'<div style="max-width:100%;overflow-x:auto">{svg}</div>'
            f"<details{' open' if self.show_code else ''}><summary>As code</summary>"
            f'<pre style="max-width:100%;overflow-x:auto">{code}</pre></details></div>'
        )


def _text(x):
    return f"{x:.6g}"
