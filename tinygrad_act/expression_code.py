"""An expression's forward and backward pass as the Python a student writes: the one place that
``tinygrad-act graph EXPR --code``, the lab's "as code" view and the ExpressionWidget's get it.

The code is `trace`'s (`tinygrad_act.compiler`) for the expression's graph; where the code
generator does not write an op yet, the answer is its message instead of code.
"""

from __future__ import annotations

from typing import NamedTuple

from tinygrad_act.backprop import topological_order
from tinygrad_act.compiler import trace
from tinygrad_act.compiler.codegen import UnsupportedOp
from tinygrad_act.expression import parse_expression


class ExpressionCode(NamedTuple):
    text: str | None  # the traced function's source, or None if it cannot be written
    refusal: str | None  # why there is no code (an op the code generator does not write yet)


def expression_code(expression, values, *, allow_unused=True, output=None):
    """The code of `expression` at `values` ({name: number}), or why there is none.

    `output` names the result where it has no name of its own (the lab's drawing calls it o).
    An expression the language refuses raises its `ExpressionError`, as `parse_expression` does.

    >>> code = expression_code("tanh(x*w + b)", {"x": 2, "w": -3, "b": 6.88})
    >>> print(code.text.splitlines()[5])
        dv1 = dv2 * (1 - v2**2)  # tanh' = 1-a²
    """

    def build():
        root = parse_expression(expression, values, allow_unused=allow_unused)
        if output and not root.label:
            root.label = output
        for leaf in topological_order(root):
            if not leaf._prev and not leaf.label:  # a number: a constant in the code (2.0 * x)
                leaf.requires_grad = False
        return root

    try:
        return ExpressionCode(trace(build).code, None)
    except UnsupportedOp as err:
        return ExpressionCode(None, str(err))
