"""Gradient checking's public names, where they have always been imported from.

Each check lives in its own file under `tinygrad_act.checks`: `gradcheck` (central differences),
`kinks` (the non-differentiable points explained), `derivative_table` (the lecture's table).
"""

from tinygrad_act.checks.common import ATOL, DEFAULT_EPS, RTOL, SLIDE_POINTS
from tinygrad_act.checks.derivative_table import (
    TABLE_HEADER,
    DerivativeRow,
    check_activations,
    derivative_table,
    format_derivative_table,
    table_cells,
)
from tinygrad_act.checks.gradcheck import (
    MAX_DENSE_ENTRIES,
    MAX_DENSE_PASSES,
    GradcheckError,
    Mismatch,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)

__all__ = [
    "ATOL",
    "RTOL",
    "TABLE_HEADER",
    "table_cells",
    "DEFAULT_EPS",
    "GradcheckError",
    "MAX_DENSE_ENTRIES",
    "MAX_DENSE_PASSES",
    "Mismatch",
    "DerivativeRow",
    "SLIDE_POINTS",
    "check_activations",
    "derivative_table",
    "format_derivative_table",
    "gradcheck",
    "gradgradcheck",
    "numerical_grad",
]
