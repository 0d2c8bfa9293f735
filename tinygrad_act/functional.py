"""Functional derivatives: ``grad(f)`` is the function x -> df/dx, and it composes: ``grad(grad(f))``.

The derivative is computed by the same backward rules as ``Value.backward``; when a derivative is
itself being differentiated (its argument is a `Value`), the backward pass is recorded with
``create_graph=True`` so the result keeps its graph.
"""

from __future__ import annotations

from tinygrad_act.engine import Value, gradients


def value_and_grad(f, argnums=0):
    """A function returning ``(f(*args), df/dargs[argnums])`` for a scalar-valued `f`.

    Plain numbers and arrays give a float and a float or an ndarray; a `Value` argument gives Values
    whose graph reaches back to it, so the result can be differentiated again.

    >>> value, slope = value_and_grad(lambda z: z.tanh())(0.0)
    >>> value, slope
    (0.0, 1.0)
    """
    single = isinstance(argnums, int)
    positions = (argnums,) if single else tuple(argnums)

    def wrapped(*args):
        for i in positions:
            if not -len(args) <= i < len(args):
                raise ValueError(f"argnums {i} is out of range for {len(args)} argument(s)")
        positions_ = [i % len(args) for i in positions]
        nested = any(isinstance(args[i], Value) for i in positions_)
        args = list(args)
        for i in positions_:
            if not isinstance(args[i], Value):
                args[i] = Value(args[i])
        out = f(*args)
        if not isinstance(out, Value):
            raise TypeError(f"grad needs f to return a Value, got {type(out).__name__}")
        if out.size != 1:
            raise ValueError(f"grad needs f to return one number; it returned shape {out.shape}")
        found = gradients(out, [args[i] for i in positions_], create_graph=nested)
        if not nested:
            out = out.item()  # the gradients are already floats and arrays of the inputs' shapes
        return out, (found[0] if single else tuple(found))

    return wrapped


def grad(f, argnums=0):
    """The derivative of a scalar-valued `f` with respect to argument `argnums` (an int or a tuple).

    >>> import math
    >>> dd_sigmoid = grad(grad(lambda z: z.sigmoid()))
    >>> a = 1 / (1 + math.exp(-0.5))
    >>> abs(dd_sigmoid(0.5) - a * (1 - a) * (1 - 2 * a)) < 1e-12
    True
    """
    both = value_and_grad(f, argnums)

    def derivative(*args):
        return both(*args)[1]

    return derivative
