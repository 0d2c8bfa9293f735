"""The lab's three panels as notebook widgets (anywidget): the same Python panel code as the lab
(`tinygrad_act.lab.graph_panel`, `explorer`, `training`), widget messages instead of HTTP.

>>> from tinygrad_act.widgets import ActivationExplorer
>>> w = ActivationExplorer("tanh", z=10)
>>> w.slopes["formula"] < 1e-8
True
"""

from tinygrad_act.widgets.explorer import ActivationExplorer
from tinygrad_act.widgets.expression import ExpressionWidget
from tinygrad_act.widgets.training import TrainingWidget

__all__ = ["ActivationExplorer", "ExpressionWidget", "TrainingWidget"]
