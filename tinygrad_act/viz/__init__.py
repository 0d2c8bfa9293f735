"""Drawing a `Value` graph with Graphviz: data, gradients, local derivatives, and backprop step by step.

Import it as a submodule (``from tinygrad_act.viz import draw_dot``): the engine never imports it,
and ``import tinygrad_act`` does not load Graphviz.

Each value is a record node ``name | data | grad`` (a tensor adds ``shape dtype``); each op is a
small separate node between its inputs and its output. A node without a label is named by
`tinygrad_act.node_names` (``x1*w1``, ``tanh(n)``, ``layers.0.w``). Leaves are blue (constants
grey), the root green with a thick border, activation ops amber. Node ids follow the topological
order (``v0`` is an input, the root comes last), so the same graph always gives byte-identical DOT
source, and a record is as wide as its widest possible gradient, so pictures of the same graph
before, during and after backward put every node in the same place.

One job per module: `drawing` makes the picture of a graph and writes its files, `frames` the step
frames of backward and forward mode, `text` the numbers and text in a picture and their widths.
"""

from tinygrad_act.viz.drawing import (
    FORMATS,
    RANKDIRS,
    GraphvizNotFoundError,
    draw_dot,
    node_ids,
    save_graph,
)
from tinygrad_act.viz.frames import draw_backward_steps, draw_forward_steps

__all__ = [
    "FORMATS",
    "RANKDIRS",
    "GraphvizNotFoundError",
    "draw_backward_steps",
    "draw_dot",
    "draw_forward_steps",
    "node_ids",
    "save_graph",
]
