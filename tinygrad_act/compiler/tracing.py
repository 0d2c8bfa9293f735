"""Record a function's graph once: which leaves are its arguments, its parameters, its constants."""

from __future__ import annotations

import numpy as np

from tinygrad_act.backprop import topological_order
from tinygrad_act.engine import Value, enable_grad


class Trace:
    """One run of `fn` recorded as a graph: ``code`` is it as Python, ``draw()`` shows it.

    `args` are the Values the run was given (raw data wrapped), `params` every leaf that needs a
    gradient (passed in or reached from `fn`, as a model's weights are), in the order the program
    returns their gradients, `reached` those of them it was not given; `aux` the Values `fn`
    returned beside the loss (a model's outputs).
    """

    def __init__(self, fn, root, args, arg_is_param, aux=()):
        self.fn, self.root, self.args, self.aux = fn, root, tuple(args), tuple(aux)
        self.nodes = topological_order(root)
        inputs = {id(a) for a, is_param in zip(args, arg_is_param, strict=True) if not is_param}
        self.inputs = frozenset(inputs)  # the arguments that are data (no gradient for them)
        self.params = [
            v for v in self.nodes if not v._prev and v.requires_grad and id(v) not in inputs
        ]
        passed = {id(a) for a in self.args}
        # The parameters fn reached without being given them (a model's weights): the program
        # takes them after its arguments.
        self.reached = [p for p in self.params if id(p) not in passed]
        self.labels = [a for a in self.args if not isinstance(a, Value)]  # integer arrays
        self._program = None

    @property
    def program(self):
        if self._program is None:
            from tinygrad_act.compiler.codegen import generate

            self._program = generate(self)
        return self._program

    @property
    def code(self):
        """The traced function as straight-line Python: the forward lines, then the backward's."""
        return self.program.source

    def draw(self, **kwargs):
        """The traced graph, drawn as `tinygrad_act.viz.draw_dot` draws any graph."""
        from tinygrad_act.viz import draw_dot

        return draw_dot(self.root, **kwargs)


def trace(fn, *example_args):
    """Run ``fn(*example_args)`` once on Values and record its graph.

    An argument that is a Value needing a gradient is a parameter (its gradient is computed); any
    other argument (a number, an array, a Value without gradient) is data that changes between
    calls. `fn` returns a one-element Value (the loss), or a tuple ``(loss, *aux)`` whose other
    Values were computed on the way to the loss (a model's outputs, for its accuracy: JAX's
    ``has_aux``). Python control flow is recorded as it ran for these arguments: an ``if`` on a
    value takes the same branch in the generated code.

    >>> from tinygrad_act import Value
    >>> w = Value(0.5, label="w")
    >>> t = trace(lambda x: (x * w).tanh(), 2.0)
    >>> print(t.code.splitlines()[0])
    def traced(x, w):
    """
    if not callable(fn):
        raise TypeError(f"trace takes a function and its example arguments, not {fn!r}")
    args, is_param = [], []
    for a in example_args:
        if isinstance(a, np.ndarray) and a.dtype.kind in "iub":  # labels, masks: not numbers
            args.append(a)
            is_param.append(False)
        elif isinstance(a, Value) and a.requires_grad:
            args.append(a)
            is_param.append(True)
        else:
            data = a.data if isinstance(a, Value) else a
            # Recorded as a gradient-needing leaf so that what fn computes from it stays in the
            # graph (a constant would be folded in); the code gives it no gradient.
            args.append(Value(data, requires_grad=True))
            is_param.append(False)
    with enable_grad():
        root = fn(*args)
    root, aux = (root[0], tuple(root[1:])) if isinstance(root, tuple) and root else (root, ())
    if not isinstance(root, Value):
        raise TypeError(
            f"trace: the function must return a Value (the loss), got {type(root).__name__}"
        )
    if root.size != 1:
        raise ValueError(
            f"trace: the function must return a one-element Value (a loss), got shape {root.shape}"
        )
    if not root.requires_grad:
        raise ValueError(
            "trace: the loss does not depend on any parameter: there is nothing to differentiate"
        )
    t = Trace(fn, root, args, is_param, aux)
    on_the_way = {id(v) for v in t.nodes}
    for i, v in enumerate(aux, 1):
        if not isinstance(v, Value) or id(v) not in on_the_way:
            raise ValueError(
                f"trace: what the function returns beside the loss must be Values computed on the "
                f"way to it (a model's outputs); item {i} is "
                + (f"a {type(v).__name__}" if not isinstance(v, Value) else "not used by the loss")
            )
    return t


def signature(args):
    """What a traced program assumes of its arguments: each one's kind, shape and dtype."""
    out = []
    for a in args:
        if isinstance(a, Value):
            data, kind = a.data, "param" if a.requires_grad else "value"
        else:
            data, kind = a, "data"
        if type(data) is float or isinstance(data, (int, float)) and not isinstance(data, bool):
            out.append((kind, "float"))
        elif isinstance(data, np.ndarray):
            out.append((kind, data.shape, data.dtype.str))
        else:
            out.append((kind, type(data).__name__, np.shape(data)))
    return tuple(out)
