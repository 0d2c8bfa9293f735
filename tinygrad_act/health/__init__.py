"""Activation health: saturated units, dead units and vanishing gradients, measured with g'(z).

`tinygrad_act.health.measures` holds the measures (`saturated_fraction`, `dead_fraction`,
`peak_slope`) and the `Monitor` that records them per layer while a network trains;
`tinygrad_act.health.plots` draws what a monitor recorded (`plot_health`) and prints it as a table
(`format_health_table`). Every name is importable from here.
"""

from tinygrad_act.health.measures import (
    PEAK_RANGE,
    ROW_KEYS,
    Monitor,
    dead_fraction,
    peak_slope,
    saturated_fraction,
)
from tinygrad_act.health.plots import format_health_table, plot_health

__all__ = [
    "PEAK_RANGE",
    "ROW_KEYS",
    "Monitor",
    "dead_fraction",
    "format_health_table",
    "peak_slope",
    "plot_health",
    "saturated_fraction",
]
