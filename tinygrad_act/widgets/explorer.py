"""The activation explorer as a widget: g(z), g'(z), the tangent at z, and g'(z) three ways
(the slide's formula, backprop, a central difference), computed by the lab's `explore`.

>>> w = ActivationExplorer("tanh", z=10)
>>> w.slopes["formula"]
8.244614546626394e-09
>>> w.name = "softmax"
>>> w.error.split(":")[0], w.name
('softmax maps a vector to a vector', 'tanh')
"""

from __future__ import annotations

import html

import traitlets

from tinygrad_act.lab import limits, schema
from tinygrad_act.lab.explorer import describe, elementwise_activations, explore
from tinygrad_act.lab.schema import LabError
from tinygrad_act.widgets.panel import Panel, module

_Z = schema.number(*limits.Z_RANGE)
_PARAMS = schema.mapping(schema.number(), 8, key_kind="a parameter name")


class ActivationExplorer(Panel):
    """`ActivationExplorer("tanh", z=10)`: `name`, `z` and `params` are settable (a new `name`
    starts from its own default parameters); `slopes`, `view` and `error` are read."""

    _esm = module("explorer.js")
    name = traitlets.Unicode("tanh").tag(sync=True)
    z = traitlets.Float(0.0).tag(sync=True)
    params = traitlets.Dict().tag(sync=True)
    view = traitlets.Dict().tag(sync=True)
    menu = traitlets.List().tag(sync=True)
    z_range = traitlets.List(list(limits.Z_RANGE)).tag(sync=True)

    def __init__(self, name="tanh", z=0.0, **params):
        super().__init__()
        self.menu = [describe(spec) for spec in elementwise_activations()]
        try:
            with self.settling():
                self._show(schema.text(100)(name, "name"), _Z(z, "z"), _PARAMS(params, "params"))
        except LabError as err:
            raise ValueError(str(err)) from None

    @property
    def slopes(self):
        """g'(z) three ways: the slide's formula, backprop through a Value, central difference."""
        at = self.view["at"]
        return {"formula": at["formula"], "backprop": at["backprop"], "numeric": at["numeric"]}

    @traitlets.validate("name")
    def _check_name(self, proposal):
        return self.attempt(
            proposal,
            lambda name: self._show(schema.text(100)(name, "name"), self.view["at"]["z"], {}),
            lambda: self.view["name"],
        )

    @traitlets.validate("z")
    def _check_z(self, proposal):
        return self.attempt(
            proposal,
            lambda z: self._show(self.view["name"], _Z(z, "z"), self.view["params"]),
            lambda: self.view["at"]["z"],
        )

    @traitlets.validate("params")
    def _check_params(self, proposal):
        return self.attempt(
            proposal,
            lambda params: self._show(
                self.view["name"], self.view["at"]["z"], _PARAMS(params, "params")
            ),
            lambda: self.view["params"],
        )

    def _show(self, name, z, params):
        view = explore(name, z, params)
        self.view = view
        self.name, self.z, self.params = view["name"], z, view["params"]

    def static_html(self):
        texts = self.view["at"]["texts"]
        lines = "".join(
            f"<li>{html.escape(texts[key])}</li>"
            for key in ("a", "formula", "backprop", "numeric", "agreement")
        )
        kink = self.view["kink"]
        note = f"<p>{html.escape(kink['note'])}</p>" if kink and kink["on_it"] else ""
        return (
            f'<div class="tga-static"><p><b>{html.escape(self.view["name"])}</b>: '
            f"{html.escape(self.view['written'])} at z = {self.z:g}</p>{self.error_html()}"
            f"<ul>{lines}</ul>{note}</div>"
        )
