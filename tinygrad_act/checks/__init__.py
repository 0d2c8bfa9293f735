"""The checks, one per file: each compares the engine's gradients with an independent truth.

- `gradcheck`: every backward pass against central differences (``tinygrad_act.gradcheck``).
- `kinks`: why the two disagree at a non-differentiable point, said by name.
- `derivative_table`: the lecture's table, g'(z) three ways, and the registry's check.
- `backward`: a student's hand-derived gradients against the engine's, the first wrong one explained.
"""
