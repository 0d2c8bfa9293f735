"""Functional derivatives: ``grad(f)`` is the function x -> df/dx, and it composes: ``grad(grad(f))``.

The derivative is computed by the same backward rules as ``Value.backward``; when a derivative is
itself being differentiated (its argument is a `Value`), the backward pass is recorded with
``create_graph=True`` so the result keeps its graph.

Forward mode is here too, with the names and conventions of ``torch.func`` and JAX: `jvp` carries
a tangent beside each value through one forward pass (the tangent rules are in `forward`),
`jacobian` builds the whole Jacobian either way (one backward pass per output element, or one
forward pass per input element), `hessian` is forward over reverse, `hvp` a Hessian-vector product.
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_act import observe
from tinygrad_act.engine import Value, enable_grad, gradients
from tinygrad_act.forward import Tracer

MODES = ("reverse", "forward")


def value_and_grad(f, argnums=0):
    """A function returning ``(f(*args), df/dargs[argnums])`` for a scalar-valued `f`.

    Plain numbers and arrays give a float and a float or an ndarray; a `Value` argument gives Values
    whose graph reaches back to it, so the result can be differentiated again.

    >>> value, slope = value_and_grad(lambda z: z.tanh())(0.0)
    >>> value, slope
    (0.0, 1.0)
    """
    return _value_and_grad(f, argnums, "grad")


def _value_and_grad(f, argnums, caller):
    single = isinstance(argnums, int)
    positions = (argnums,) if single else tuple(argnums)

    def wrapped(*args):
        positions_ = _positions(caller, positions, len(args))
        nested = any(isinstance(args[i], Value) for i in positions_)
        args = list(args)
        for i in positions_:
            if not isinstance(args[i], Value):
                args[i] = Value(args[i])
        out = f(*args)
        if not isinstance(out, Value):
            raise TypeError(f"{caller} needs f to return a Value, got {type(out).__name__}")
        if out.size != 1:
            raise ValueError(
                f"{caller} needs f to return one number; it returned shape {out.shape}"
            )
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


# --------------------------------------------------------------------------------------------------
# Forward mode


def jvp(f, primals, tangents):
    """``(f(*primals), J·tangents)``: the value and the directional derivative, in one forward pass.

    Each value carries a tangent beside it (a dual number): an input's tangent is the direction
    given, and each op turns its inputs' tangents into its output's with its local derivative,
    g'(z)·ż for an activation (the same g' backward multiplies into g·g'(z)). No backward pass runs.
    `primals` and `tangents` are tuples of the same length, one entry per argument of `f`: numbers,
    arrays or Values, each tangent shaped like its primal. `f` returns a Value or a tuple of them;
    the results are plain floats and arrays, tuples when `f` returns a tuple (as ``torch.func.jvp``).

    >>> value, slope = jvp(lambda z: z.tanh(), (0.0,), (1.0,))  # tanh'(0) = 1 - a² = 1
    >>> value, slope
    (0.0, 1.0)
    >>> jvp(lambda x, w: x * w, (2.0, -3.0), (1.0, 0.0))  # ∂(x·w)/∂x = w
    (-6.0, -3.0)
    """
    return _jvp("jvp", f, primals, tangents)


def _jvp(caller, f, primals, tangents):
    if not callable(f):
        raise TypeError(f"{caller}: f must be callable, got {type(f).__name__}")
    _check_pairs(caller, primals, tangents)
    leaves = [_leaf(caller, f"primal {i}", p) for i, p in enumerate(primals)]
    pairs = zip(leaves, tangents, strict=True)
    seeds = {leaf: _direction(caller, i, t, leaf) for i, (leaf, t) in enumerate(pairs)}
    outs, single, dots = _forward_pass(caller, f, leaves, seeds)
    values = [_plain(o) for o in outs]
    return (values[0], dots[0]) if single else (tuple(values), tuple(dots))


def jacobian(f, argnums=0, mode="reverse"):
    """A function computing the whole Jacobian of `f`, shaped ``output.shape + input.shape`` (JAX's).

    ``mode="reverse"`` runs one backward pass per output element (cheap for few outputs, such as a
    loss); ``mode="forward"`` one `jvp` per input element (cheap for few inputs). They agree. With a
    tuple `argnums` the result is a tuple, one Jacobian per argument; when `f` returns a tuple, one
    entry per output. A Jacobian of shape () is a float, any other an ndarray.

    For an elementwise activation the Jacobian is diagonal, with the lecture's slopes on it:

    >>> import numpy as np
    >>> z = np.array([-1.0, 0.0, 2.0])
    >>> J = jacobian(lambda v: v.sigmoid())(z)
    >>> a = 1 / (1 + np.exp(-z))
    >>> np.allclose(J, np.diag(a * (1 - a)))
    True
    >>> np.allclose(jacobian(lambda v: v.sigmoid(), mode="forward")(z), J)
    True
    """
    if not callable(f):
        raise TypeError(f"jacobian: f must be callable, got {type(f).__name__}")
    if mode not in MODES:
        raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")
    positions, single_arg = _argnums("jacobian", argnums)
    build = _jacobian_reverse if mode == "reverse" else _jacobian_forward

    def jac(*args):
        args = list(args)
        leaves = []
        for i in _positions("jacobian", positions, len(args)):
            args[i] = _leaf("jacobian", f"argument {i}", args[i])
            leaves.append(args[i])
        blocks, single_out = build(f, args, leaves)
        per_output = [b[0] if single_arg else tuple(b) for b in blocks]
        return per_output[0] if single_out else tuple(per_output)

    return jac


def hessian(f, argnums=0):
    """A function computing the Hessian of a scalar-valued `f`: forward mode over reverse mode.

    ``hessian(f)`` is ``jacobian(grad(f), mode="forward")``, as JAX's ``jacfwd(jacrev(f))``: the
    gradient is computed by a recorded backward pass, and forward mode carries tangents through
    that pass. Shaped ``input.shape + input.shape``; for a tuple `argnums` a tuple of tuples of
    blocks, ``H[i][j] = ∂²f/∂args[i]∂args[j]``.

    >>> import numpy as np
    >>> H = hessian(lambda v: (v * v * v).sum())(np.array([1.0, 2.0]))  # Σ z³: diag(6z)
    >>> H.tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    if not callable(f):
        raise TypeError(f"hessian: f must be callable, got {type(f).__name__}")
    positions, single_arg = _argnums("hessian", argnums)
    first = _value_and_grad(f, positions[0] if single_arg else positions, "hessian")
    return jacobian(lambda *args: first(*args)[1], argnums, mode="forward")


def hvp(f, primals, tangents):
    """``(f(*primals), H·tangents)`` for a scalar-valued `f`: forward mode over one backward pass.

    One jvp of the gradient, so the full Hessian is never built. The product is a tuple with one
    entry per primal, as ``torch.autograd.functional.hvp``.

    >>> value, (hv,) = hvp(lambda v: (v * v * v).sum(), ([1.0, 2.0],), ([1.0, 1.0],))
    >>> float(value), hv.tolist()
    (9.0, [6.0, 12.0])
    """
    if not callable(f):
        raise TypeError(f"hvp: f must be callable, got {type(f).__name__}")
    _check_pairs("hvp", primals, tangents)
    both = _value_and_grad(f, tuple(range(len(primals))), "hvp")

    def value_and_gradient(*xs):
        value, grads = both(*xs)
        return (value, *grads)

    with enable_grad():  # the gradient's own backward pass must be recorded
        values, dots = _jvp("hvp", value_and_gradient, primals, tangents)
    return values[0], tuple(dots[1:])


# ---- the passes -------------------------------------------------------------------------------------


def _forward_pass(caller, f, args, seeds):
    """f(*args) with the tangents `seeds` ({leaf: tangent}) carried forward: (outputs, single, tangents)."""
    if observe.current("forward") is not None:
        raise RuntimeError(
            f"{caller}: forward mode does not nest (a jvp inside a jvp): the tangents are plain "
            "numbers, not Values; use jacobian(mode='reverse') or hessian for second derivatives"
        )
    tracer = Tracer()
    for leaf, tangent in seeds.items():
        tracer.seed(leaf, tangent)
    with observe.watch("forward", tracer):
        out = f(*args)
    outs, single = _outputs(caller, out)
    return outs, single, [_tangent_out(tracer, o) for o in outs]


def _jacobian_reverse(f, args, leaves):
    with enable_grad():
        outs, single_out = _outputs("jacobian", f(*args))
    blocks = []
    for out in outs:
        shape = _shape(out)
        (rows,) = _zeros([out], leaves)
        if isinstance(out, Value) and out.requires_grad:
            for k in np.ndindex(shape):
                seed = None
                if out.size != 1:
                    seed = np.zeros(shape)
                    seed[k] = 1.0
                for row, g in zip(rows, gradients(out, leaves, grad=seed), strict=True):
                    row[k] = g
        blocks.append([_shown(r) for r in rows])
    return blocks, single_out


def _jacobian_forward(f, args, leaves):
    columns, single_out = None, True
    for i, leaf in enumerate(leaves):
        for j in np.ndindex(leaf.shape):
            direction = 1.0
            if not leaf.is_scalar:
                direction = np.zeros(leaf.shape, dtype=leaf.dtype)
                direction[j] = 1.0
            with enable_grad():  # f may take a gradient (hessian): its backward pass is recorded
                outs, single_out, dots = _forward_pass("jacobian", f, args, {leaf: direction})
            if columns is None:
                columns = _zeros(outs, leaves)
            for o, dot in enumerate(dots):
                columns[o][i][(Ellipsis, *j)] = dot
    if columns is None:  # every input is empty: nothing to carry, but the shapes still come from f
        outs, single_out, _ = _forward_pass("jacobian", f, args, {})
        columns = _zeros(outs, leaves)
    return [[_shown(c) for c in per_out] for per_out in columns], single_out


# ---- checking and shaping -----------------------------------------------------------------------------


def _check_pairs(caller, primals, tangents):
    for name, entries in (("primals", primals), ("tangents", tangents)):
        if not isinstance(entries, (tuple, list)):
            raise TypeError(
                f"{caller}: {name} must be a tuple with one entry per argument of f, got "
                f"{type(entries).__name__}; for one argument write ({name[:-1]},)"
            )
    if len(primals) != len(tangents):
        raise ValueError(
            f"{caller}: {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal"
        )
    if not primals:
        raise ValueError(f"{caller}: primals is empty; give one entry per argument of f")


def _leaf(caller, what, x):
    """A fresh input of the call: the data of a number, an array or a Value (its label kept)."""
    try:
        return Value(x, label=x.label if isinstance(x, Value) else "")
    except (TypeError, ValueError) as err:
        raise type(err)(f"{caller}: {what}: {err}") from None


def _direction(caller, i, tangent, leaf):
    """A tangent in its primal's form: a float for a scalar, an array of its shape and dtype."""
    try:
        data = Value(tangent, requires_grad=False).data
    except (TypeError, ValueError) as err:
        raise type(err)(f"{caller}: tangent {i}: {err}") from None
    if np.shape(data) != leaf.shape:
        raise ValueError(
            f"{caller}: tangent {i} has shape {np.shape(data)} but its primal has shape "
            f"{leaf.shape}; a tangent is a direction in its primal's space"
        )
    return float(data) if leaf.is_scalar else np.asarray(data, dtype=leaf.dtype)


def _argnums(caller, argnums):
    single = isinstance(argnums, numbers.Integral) and not isinstance(argnums, bool)
    positions = (argnums,) if single else argnums
    if (
        not isinstance(positions, tuple)
        or not positions
        or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in positions)
    ):
        raise TypeError(
            f"{caller}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
        )
    if len(set(positions)) != len(positions):
        raise ValueError(f"{caller}: argnums {argnums!r} names an argument twice")
    return tuple(int(i) for i in positions), single


def _positions(caller, positions, count):
    for i in positions:
        if not -count <= i < count:
            raise ValueError(f"{caller}: argnums {i} is out of range for {count} argument(s)")
    return [i % count for i in positions]


def _outputs(caller, out):
    """f's result as a list of outputs, and whether it was a single one (not a tuple)."""
    outs, single = ([out], True) if not isinstance(out, (tuple, list)) else (list(out), False)
    for o in outs:
        numeric = isinstance(o, (numbers.Real, np.ndarray, np.generic)) and not isinstance(o, bool)
        if not isinstance(o, Value) and not numeric:
            raise TypeError(
                f"{caller}: f must return a Value or a tuple of Values, got {type(o).__name__}"
            )
    return outs, single


def _plain(out):
    if isinstance(out, Value):
        return out.data if out.is_scalar else out.data.copy()
    if isinstance(out, np.ndarray):
        return np.array(out, dtype=float)
    return float(out) if np.ndim(out) == 0 else np.array(out, dtype=float)


def _tangent_out(tracer, out):
    """An output's tangent as plain data: zero when it does not depend on the inputs."""
    dot = tracer.tangent_of(out) if isinstance(out, Value) else None
    data = _plain(out)
    if dot is None:
        return 0.0 if type(data) is float else np.zeros_like(data)
    return dot if type(dot) is float else np.array(dot)  # a copy: the tracer's may be a view


def _zeros(outs, leaves):
    """Per output, per input: a zero Jacobian block shaped out.shape + input.shape."""
    return [[np.zeros(_shape(o) + v.shape, dtype=_dtype(o, v)) for v in leaves] for o in outs]


def _shape(out):
    return out.shape if isinstance(out, Value) else np.shape(out)


def _dtype(out, leaf):
    kind = (
        out.dtype if isinstance(out, Value) else np.result_type(np.asarray(out).dtype, np.float64)
    )
    return np.result_type(kind, leaf.dtype)


def _shown(block):
    return float(block) if block.shape == () else block
