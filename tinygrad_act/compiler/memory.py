"""The memory plan: a tensor program's arrays allocated once and written in place (``out=``).

The generated code reads as a student writes it, ``dZ1 = dA1 * (1 - A1**2)``: every op returns a
new array, and numpy allocates (and the machine first touches) a fresh block for each, every step.
A hand-written training step allocates its buffers once and writes into them. The plan turns the
one into the other, for the program that runs (the code a person reads does not change):

1. Each nested op gets a line of its own (``_t3 = A1**2``, ``_t4 = 1 - _t3``): numpy computes
   the same thing in the same order, so the bits do not change.
2. The program runs once on the traced values and reports every name's array: its shape, dtype,
   layout, and which names share memory (a view, or the same array passed on).
3. Each line that computes a new C-ordered array with a ufunc or ``@`` writes into a buffer of its
   own (``np.multiply(dA1, _t4, out=_b2)``); an elementwise one writes into the buffer of an
   operand that nothing reads after it, as ``z += b`` does by hand.

Nothing that leaves the program is one of its working buffers: the loss and what `fn` returned
beside it are new arrays each call; a gradient is written into a buffer of its own that is
handed out with it (``.grad`` keeps it), and the runner gives the program a new one before a call
wherever someone still holds the last (`renew_handed_out`). Nothing is written that the program
does not own: its arguments, its constants, a view of them.
"""

from __future__ import annotations

import ast
import copy
import sys
from typing import NamedTuple

import numpy as np

from tinygrad_act import numeric, syntax
from tinygrad_act.activations import ACTIVATIONS

# A small array costs less to allocate than to pass as out= (numpy caches small blocks).
PLANNED_BYTES = 4096

_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.MatMult: np.matmul,
}
# A function the program calls, as the ufunc it computes on arrays (the same numpy loop).
_UFUNC_OF = {numeric.exp: np.exp, ACTIVATIONS["tanh"].forward: np.tanh, np.exp: np.exp}


def plan(program, data):
    """The `Plan` of `program` (codegen's `Program`) run on `data`, the traced values of its
    arguments; the program as it was if it holds no array worth planning."""
    unplanned = Plan(program.runnable, program.namespace, [])
    if not any(type(d) is np.ndarray and d.nbytes >= PLANNED_BYTES for d in data):
        return unplanned  # floats (micrograd's graph), small arrays
    tree = syntax.parse(program.runnable)
    (function,) = tree.body
    function.body = _one_op_per_line(function.body)
    seen = _run_once(function, program.namespace, data)
    if seen is None:
        return unplanned
    namespace = dict(program.namespace)
    planner = _Planner(function, seen, namespace)
    function.body = planner.lines()
    return Plan(ast.unparse(ast.fix_missing_locations(tree)) + "\n", namespace, planner.given)


class Plan(NamedTuple):
    source: str  # the program with its memory plan
    namespace: dict  # what its names refer to, its buffers among them
    handed_out: list  # the buffers a gradient is written into and returned in: a new one each
    # call where someone (a `.grad`) still holds the last (`renew_handed_out`)


def renew_handed_out(namespace, names):
    """Give the program a new array for each buffer it hands out that someone still holds (a
    ``.grad`` not zeroed, a variable of the caller's): it writes only into arrays nobody sees."""
    for name in names:
        if sys.getrefcount(namespace[name]) > 2:  # the namespace's reference and the call's
            namespace[name] = np.empty_like(namespace[name])


def _op(node):
    """The ufunc a line's expression is, with its operands, or None."""
    if isinstance(node, ast.BinOp):
        if type(node.op) in _BINARY:
            return _BINARY[type(node.op)], [node.left, node.right]
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant):
            if node.right.value == 2:  # ndarray ** 2 is numpy's square
                return np.square, [node.left]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return np.negative, [node.operand]
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        return "call", [node.args[0]]
    return None


def _one_op_per_line(body):
    """Each nested op of an assignment hoisted into a line of its own, in evaluation order, and
    each name assigned once (``dx = dx + s`` becomes ``_s1 = dx + s``, and later lines read
    ``_s1``): a name is one array."""
    count = 0
    out = []
    renamed = {}  # a name assigned again -> the name of its latest value

    def fresh(prefix):
        nonlocal count
        count += 1
        return f"{prefix}{count}"

    def hoisted(node):
        found = _op(node)
        if found is None:
            return node
        _, operands = found
        for i, operand in enumerate(operands):
            if _op(operand) is not None:
                name = fresh("_t")
                out.append(ast.Assign([ast.Name(name, ast.Store())], hoisted(operand)))
                _set_operand(node, i, ast.Name(name, ast.Load()))
        return node

    assigned = set()
    for line in body:
        for node in ast.walk(line):  # what a line reads: the latest value of each name
            if isinstance(node, ast.Name) and node.id in renamed:
                if isinstance(node.ctx, ast.Load) or not isinstance(line, ast.Assign):
                    node.id = renamed[node.id]
        if isinstance(line, ast.Assign) and isinstance(line.targets[0], ast.Name):
            line.value = hoisted(line.value)
            target = line.targets[0]
            if target.id in assigned:
                renamed[target.id] = target.id = fresh("_s")
            assigned.add(target.id)
        out.append(line)
    return out


def _set_operand(node, i, new):
    if isinstance(node, ast.BinOp):
        setattr(node, ("left", "right")[i], new)
    elif isinstance(node, ast.UnaryOp):
        node.operand = new
    else:
        node.args[0] = new


def _run_once(function, namespace, data):
    """{name: its value} after one run of the program on `data` (None if no array is large
    enough to plan), with what the program returns under ``"_returned"``."""
    probe = copy.copy(function)
    probe.name = "probe"
    probe.body = [
        *function.body[:-1],
        ast.Assign([ast.Name("_returned", ast.Store())], function.body[-1].value),
        ast.Return(ast.Call(ast.Name("locals", ast.Load()), [], [])),
    ]
    space = dict(namespace)
    exec(syntax.compile_code(ast.fix_missing_locations(ast.Module([probe], [])), "<plan>"), space)  # noqa: S102 (our own program)
    with np.errstate(all="ignore"):
        seen = space["probe"](*data)
    big = any(type(v) is np.ndarray and v.nbytes >= PLANNED_BYTES for v in seen.values())
    return seen if big else None


def _owner(value):
    """The array whose memory `value` uses (itself, or the base of a view)."""
    return value if value.base is None else value.base


class _Planner:
    """Decides, line by line, which buffer each planned line writes into."""

    def __init__(self, function, seen, namespace):
        self.body, self.seen, self.namespace = function.body, seen, namespace
        self.arguments = {a.arg for a in function.args.args}
        arrays = {k: v for k, v in seen.items() if type(v) is np.ndarray}
        # The names of one array (a view of it, or it passed on) share a group: it is free to be
        # written over once the last of them has been read.
        self.group = {k: id(_owner(v)) for k, v in arrays.items()}
        self.last = {}  # group -> the last line that reads one of its names
        for i, line in enumerate(self.body):
            for node in ast.walk(line):
                if isinstance(node, ast.Name) and node.id in self.group:
                    if isinstance(node.ctx, ast.Load) or not isinstance(line, ast.Assign):
                        self.last[self.group[node.id]] = i
        # Memory that is not the program's own: its arguments, its constants, what it returns.
        leaving = [v for v in _flat(seen["_returned"]) if type(v) is np.ndarray]
        self.foreign = {id(_owner(v)) for v in leaving}
        # A gradient that is an array of its own (no view, returned once, no name else reads it
        # as another array) is written into a buffer handed out with it: `.grad` keeps it, and
        # the runner gives the program a new one whenever someone still holds the last.
        names_of = {}
        for v in arrays.values():
            names_of.setdefault(id(_owner(v)), []).append(v is _owner(v))
        grads = [v for v in _flat(seen["_returned"][1]) if type(v) is np.ndarray]
        self.handed_out = {
            id(v)
            for v in grads
            if v.base is None
            and sum(g is v for g in leaving) == 1
            and all(names_of.get(id(v), [False]))
        }
        self.given = []  # the names of the buffers handed out, in the order they were made
        self.foreign |= {id(_owner(arrays[a])) for a in self.arguments if a in arrays}
        self.foreign |= {id(_owner(v)) for v in namespace.values() if type(v) is np.ndarray}
        self.buffers = set()  # the groups of the buffers the plan made: the only ones it reuses

    def lines(self):
        return [self._planned(i, line) or line for i, line in enumerate(self.body)]

    def _planned(self, i, line):
        if not (isinstance(line, ast.Assign) and isinstance(line.targets[0], ast.Name)):
            return None
        name = line.targets[0].id
        value = self.seen.get(name)
        found = _op(line.value)
        if found is None or type(value) is not np.ndarray or value.nbytes < PLANNED_BYTES:
            return None
        handed_out = self.group[name] in self.handed_out
        if not value.flags.c_contiguous or self.group[name] in self.foreign and not handed_out:
            return None
        ufunc, operands = found
        if ufunc == "call":
            ufunc = _UFUNC_OF.get(self._callee(line.value.func))
            if ufunc is None:
                return None
        reused = None
        if (
            ufunc is not np.matmul and not handed_out
        ):  # an operand's buffer, if no line reads it after
            reused = next((n.id for n in operands if self._reusable(n, i, value)), None)
        if handed_out:
            out = f"_g{len(self.given)}"
            self.given.append(out)
            self.namespace[out] = np.empty_like(value)
            group = id(self.namespace[out])
        elif reused is not None:
            out, group = reused, self.group[reused]
        else:
            out = f"_b{len(self.buffers)}"
            self.namespace[out] = np.empty_like(value)
            group = id(self.namespace[out])
            self.buffers.add(group)
        self._join(self.group[name], group)
        call = ast.Call(
            ast.Attribute(ast.Name("np", ast.Load()), ufunc.__name__, ast.Load()),
            list(operands),
            [ast.keyword("out", ast.Name(out, ast.Load()))],
        )
        return ast.Assign([ast.Name(name, ast.Store())], call)

    def _join(self, old, new):
        """The names of group `old` now live in the buffer of group `new`."""
        for k, g in self.group.items():
            if g == old:
                self.group[k] = new
        self.last[new] = max(self.last.get(new, -1), self.last.pop(old, -1))

    def _callee(self, func):
        if isinstance(func, ast.Name):
            return self.namespace.get(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return getattr(self.namespace.get(func.value.id), func.attr, None)
        return None

    def _reusable(self, node, i, value):
        """Whether operand `node` is a buffer of the plan's, of `value`'s kind, read by no line
        after line `i`."""
        if not isinstance(node, ast.Name) or self.group.get(node.id) not in self.buffers:
            return False
        other = self.seen.get(node.id)
        if type(other) is not np.ndarray or other.shape != value.shape:
            return False
        return other.dtype == value.dtype and self.last.get(self.group[node.id], -1) <= i


def _flat(value):
    if isinstance(value, tuple):
        for v in value:
            yield from _flat(v)
    else:
        yield value
