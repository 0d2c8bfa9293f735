"""A traced graph as straight-line Python: the forward lines, then one line per gradient.

Each op is written as the engine computes it (the same numpy calls in the same order), so the
program's numbers equal the graph's bit for bit. The backward lines are not a second copy of the
calculus: each is read from the op's own rule in `tinygrad_act.rules` (``mul_rule`` returns
``g * y, g * x``: the code says ``dW = dZ * X``), an activation's is the slide's formula from the
registry (``dZ1 = dA1 * (1 - A1**2)  # tanh' = 1-a²``), and a rule longer than one expression is
called by name (``max_rule``); each carries its local derivative from the one table of formulas
(`tinygrad_act.formulas`) as its comment. The backward lines come in the order of the engine's own
pass, so a node used twice sums its shares in the same order.

No user text is executed: a label becomes a name only if it is a plain Python identifier; any
other label, and every constant, reaches the program through its namespace, never its source.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import keyword
import re
import textwrap
from typing import NamedTuple

import numpy as np

from tinygrad_act import numeric, rules, syntax
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.engine import Value
from tinygrad_act.formulas import formula_key, formula_symbols, formula_text
from tinygrad_act.node_names import ATOM, Name

# An op's forward, as the engine computes it: {x}, {y} its inputs' names. The backward lines are
# not written here: they are read from the rules themselves (`_rule_returns`).
FORWARD = {
    "+": "{x} + {y}",
    "-": "{x} - {y}",
    "*": "{x} * {y}",
    "/": "{x} / {y}",
    "@": "{x} @ {y}",
    "**": "pow_({x}, {y})",
    "neg": "-{x}",
    "exp": "exp({x})",
    "log": "log({x})",
    "sqrt": "sqrt({x})",
    "abs": "abs({x})",
    "maximum": "np.maximum({x}, {y})",
    "minimum": "np.minimum({x}, {y})",
    "cat": "np.concatenate(({x}, {y}), axis={axis})",
}
# The ops that only reshape: the forward is the output's shape, the backward the input's.
RESHAPES = {"reshape", "flatten", "squeeze", "unsqueeze"}

# A graph larger than this (micrograd's demo step has 65,818 nodes) is written without the
# comments: nobody reads them there, and they are a fifth of the time it takes to write the code.
COMMENTED_NODES = 5000
SUPPORTED = (*FORWARD, "**p", *sorted(RESHAPES), "sum", "mean", "var", "std", "max", "min")
SUPPORTED += ("where", "clip", "transpose", "broadcast", "[]", "scatter", "cross_entropy")
# Shares of the output's shape, where the op broadcast its inputs: summed back to each input's.
_ELEMENTWISE = {"+", "-", "*", "/", "**", "maximum", "minimum", "where"}
# Names the program's own text uses: the rules' helpers (np, log, pow_, expand, scatter, sign,
# sum_to, ...), the other functions it calls, and its own name.
_RESERVED = {*(name for name in vars(rules) if not name.startswith("_"))}
_RESERVED |= {"exp", "sqrt", "abs", "float", "traced"}


class Program(NamedTuple):
    source: str  # the function's text, each backward line with its local derivative as a comment
    runnable: str  # the same without the comments: a large graph's source compiles faster
    namespace: dict  # what its names refer to besides its arguments (numpy, constants, rows)
    arg_names: tuple  # its arguments: the traced args, then the parameters reached from fn
    grads: tuple  # the parameters whose gradients it returns, in order


class UnsupportedOp(NotImplementedError):
    """An op the code generator does not write yet."""


def generate(t):
    """The `Program` of trace `t`."""
    names = _Names(t)
    namespace = {"np": np, "exp": numeric.exp, "log": numeric.log, "sqrt": numeric.sqrt}
    namespace.update(pow_=numeric.pow_, expand=rules.expand, scatter=rules.scatter, sign=rules.sign)
    leaves_in = [*t.args, *t.reached]
    arg_names = tuple(names.value(v) for v in leaves_in)
    taken_in = {id(v) for v in leaves_in}
    needs = _needing_gradient(t)

    lines = [f"def traced({', '.join(arg_names)}):"]
    for node in t.nodes:
        if not node._prev:
            if id(node) not in taken_in:
                names.bind(node, _literal(node.data, namespace))
            continue
        if node._op == "cross_entropy":
            lines += _cross_entropy_forward(node, names, t.labels, namespace)
            continue
        lines.append(f"    {names.value(node)} = {_forward(node, names, namespace)}")

    # node -> the name holding its gradient so far: a share passed on as it is (x + y gives both
    # inputs g) is not copied into a name of its own, the way the engine passes the same array on.
    current = {}
    comments = {}  # line number -> the local derivative it applies
    commenting = len(t.nodes) <= COMMENTED_NODES
    g_root = names.grad(t.root)
    seed = "1.0" if type(t.root.data) is float else f"np.ones_like({names.value(t.root)})"
    lines.append(f"    {g_root} = {seed}")
    current[t.root] = g_root
    for node in _backward_order(t.root):
        if node not in needs or not node._prev:
            continue
        g = current[node]
        if node._op == "cross_entropy":
            computed = [(line, None) for line in _cross_entropy_backward(node, g, names)]
            shares = [(f"{g}_z", "(softmax(z) - onehot)/n")]
        else:
            computed, shares = _shares(node, g, names, namespace, commenting)
        for line, comment in computed:
            lines.append(f"    {line}")
            comments[len(lines) - 1] = comment
        fits = _share_fits(node, computed, g)
        for p, (expr, comment), fit in zip(node._prev, shares, fits, strict=True):
            if p not in needs:
                continue
            expr = _fitted(expr, fit, p)
            if p not in current and expr.isidentifier() and names.generated(p):
                current[p] = expr
                continue
            target = names.grad(p)
            line = f"{target} = {expr}" if p not in current else f"{target} = {current[p]} + {expr}"
            current[p] = target
            lines.append(f"    {line}")
            if commenting:
                comments[len(lines) - 1] = comment
    grads = tuple(p for p in t.params if p in needs)
    returned = ", ".join(current.get(p, "None") for p in grads)
    returned = f"{names.value(t.root)}, ({returned}{',' if len(grads) == 1 else ''})"
    if t.aux:  # what fn returned beside the loss
        returned += (
            f", ({', '.join(names.value(v) for v in t.aux)}{',' if len(t.aux) == 1 else ''})"
        )
    lines.append(f"    return {returned}")
    commented = [
        f"{line}  # {comments[i]}" if comments.get(i) else line for i, line in enumerate(lines)
    ]
    source, runnable = ("\n".join(text) + "\n" for text in (commented, lines))
    return Program(source, runnable, namespace, arg_names, grads)


def _cross_entropy_forward(node, names, labels, namespace):
    """nn.cross_entropy's lines: log_softmax, each row's label picked, the mean's negative; the
    labels are an argument of the program if the trace was given them, else a constant."""
    (z,) = node._prev
    n, c = z.shape
    rule, a = node.rule, names.value(node)
    given = rule.at_label - np.arange(0, n * c, c)
    source = next((names.value(y) for y in labels if y.shape == (n,) and (y == given).all()), None)
    if source is None:
        source = _stored(namespace, given, "_c")
    namespace.setdefault("log_softmax", ACTIVATIONS["log_softmax"].forward)
    zn = names.value(z)
    return [
        f"    {a}_logp = log_softmax({zn})",
        f"    {a}_at = np.arange(0, {n * c}, {c}) + {source}  # each row's label, flattened",
        f"    {a} = np.array(-float({a}_logp.take({a}_at).sum()) / {n}, dtype={z.dtype.name!r})",
    ]


def _cross_entropy_backward(node, g, names):
    a = names.value(node)
    n = node._prev[0].shape[0]
    return [
        f"{g}_z = np.exp({a}_logp)  # softmax(z)",
        f"{g}_z.reshape(-1)[{a}_at] -= 1  # - onehot",
        f"{g}_z *= float({g}) / {n}",
    ]


def _needing_gradient(t):
    """The nodes on a path from the loss down to a parameter: only they get a gradient line."""
    params = {id(p) for p in t.params}
    needs = set()
    for node in t.nodes:  # inputs before the nodes that use them
        if id(node) in params or any(p in needs for p in node._prev):
            needs.add(node)
    return needs


def _backward_order(root):
    """The nodes in the order the engine's pass pops them (Kahn's algorithm, last ready first),
    so the shares of a node used twice are summed in the engine's order."""
    uses = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node._prev:
            if p.requires_grad:
                uses[p] = uses.get(p, 0) + 1
                if uses[p] == 1:
                    stack.append(p)
    ready = [root]
    while ready:
        node = ready.pop()
        yield node
        for p in node._prev:
            if p.requires_grad:
                uses[p] -= 1
                if not uses[p]:
                    ready.append(p)


def _forward(node, names, namespace):
    op, rule, out = node._op, node.rule, node.data
    x = names.value(node._prev[0])
    y = names.value(node._prev[1]) if len(node._prev) > 1 else None
    literal = functools.partial(_literal, namespace=namespace)
    if op in FORWARD:
        text = FORWARD[op].format(x=x, y=y, axis=getattr(rule, "axis", None))
    elif op.startswith("**"):
        text = f"pow_({x}, {rule.p!r})"
    elif op in ("sum", "mean"):
        text = f"{x}.{op}(axis={rule.axis!r}, keepdims={rule.keepdims!r})"
    elif op in ("var", "std"):
        ddof = node._prev[0].size // max(node.size, 1) - rule.divisor
        text = f"{x}.var(axis={rule.axis!r}, keepdims={rule.keepdims!r}, ddof={ddof!r})"
        text = f"np.sqrt({text})" if op == "std" else text
    elif op in ("max", "min") and isinstance(rule, rules.MaxRule):
        text = f"{x}.{op}(axis={rule.axis!r}, keepdims={rule.keepdims!r})"
    elif op in ("[]", "max", "min"):  # max(dim) spelled PyTorch's way picks an index
        text = f"{x}[{_index(rule.index, namespace)}]"
    elif op == "where":
        text = f"np.where({literal(rule.condition)}, {x}, {y})"
    elif op == "clip":
        text = x if rule.lo is None else f"np.maximum({x}, {literal(rule.lo)})"
        text = text if rule.hi is None else f"np.minimum({text}, {literal(rule.hi)})"
    elif op in RESHAPES:
        text = f"{x}.reshape({node.shape!r})"
    elif op == "transpose":
        text = f"{x}.transpose({_inverse(rule.inverse)!r})"
    elif op == "broadcast":
        text = f"np.broadcast_to({x}, {node.shape!r})"
    elif op == "scatter":
        text = f"scatter({x}, {literal(rule.index)}, {node.shape!r})"
    elif op in ACTIVATIONS:
        spec = ACTIVATIONS[op]
        namespace.setdefault(op, spec.forward)
        text = f"{op}({x}{_keywords(rule)})"
        if type(out) is float and type(spec.forward(node._prev[0].data)) is float:
            return text
    else:
        raise UnsupportedOp(
            f"compile does not write the op {op!r}; it writes {', '.join(SUPPORTED)} and the "
            "activations (call the function uncompiled for the others)"
        )
    if op == "@" and not (node._prev[0].ndim == 2 and node._prev[1].ndim == 2):
        return text  # numpy's own promotion of vectors: the same call as the engine's
    plain = op in _FLOAT_OPS or op.startswith("**")
    return f"float({text})" if type(out) is float and not plain else text


# The ops whose forward on Python floats is a Python float already.
_FLOAT_OPS = {"+", "-", "*", "/", "**", "neg", "exp", "log", "sqrt", "abs"}


def _literal(value, namespace):
    """A constant or a rule's setting in the code: written out if it is None, a bool, a finite
    number or a tuple of ints, else a name in the namespace (an array, a mask)."""
    if value is None or type(value) in (bool, int) or type(value) is float and np.isfinite(value):
        return f"({value!r})" if type(value) in (int, float) and value < 0 else repr(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
        return repr(tuple(int(v) for v in value))
    return _stored(namespace, value, "_c")


def _stored(namespace, value, prefix):
    """`value` in the program's namespace under the next free name (``_c0``, ``_c1``, ...): an
    array, a mask or an index reaches the program there, never through its source."""
    name = f"{prefix}{sum(k.startswith(prefix) and k[len(prefix) :].isdigit() for k in namespace)}"
    namespace[name] = value
    return name


def _keywords(rule):
    params = getattr(rule, "params", None) or {}
    return "".join(f", {k}={v!r}" for k, v in params.items())


def _index(index, namespace):
    """An index written out if it is ints and plain slices, else a name in the namespace."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(
        type(p) is int
        or type(p) is slice
        and all(type(b) in (int, type(None)) for b in (p.start, p.stop, p.step))
        for p in parts
    ):
        text = ", ".join(_slice_text(p) for p in parts)
        return (
            text
            if isinstance(index, tuple) and len(parts) > 1
            else text + ("," if isinstance(index, tuple) else "")
        )
    return _stored(namespace, index, "_i")


def _slice_text(p):
    if type(p) is int:
        return repr(p)
    ends = ["" if b is None else repr(b) for b in (p.start, p.stop)]
    return ":".join(ends) + ("" if p.step is None else f":{p.step!r}")


def _inverse(axes):
    return tuple(int(i) for i in np.argsort(axes))


def _shares(node, g, names, namespace, commenting=True):
    """What `node` passes each input, for the upstream gradient named `g`: the lines that compute
    it (with their comments), then one (expression, comment) per input, in ``_prev`` order.

    The expressions come from the op's own rule: a rule of `tinygrad_act.rules` that is one
    ``return`` is read and written out with the program's names (``g * y`` is ``dZ * W``); an
    activation's is the slide's formula (``dA1 * (1 - A1**2)``); any other rule is called, as the
    engine calls it (``dv5_z, = max_rule(dv5, v5, Z)``)."""
    op, rule, inputs = node._op, node.rule, node._prev
    a = names.value(node)
    if commenting:
        comments = [_comment(node, i, names) for i in range(len(inputs))]
    else:  # a large graph: no comments, and this runs once per node
        comments = [None] * len(inputs)
    if op in ACTIVATIONS and ACTIVATIONS[op].derivative is not None:
        put = {"g": g, "a": a, "z": names.value(inputs[0])}
        return [], [_activation_share(node, g, put, namespace)]
    if op in ("sum", "mean"):  # the reduced axes given back: a broadcast view, times 1/n for mean
        shape = inputs[0].shape
        if rule.keepdims or rule.axis is None:
            share = f"np.broadcast_to({g}, {shape!r})"
        else:  # the reduced axes put back as ones first
            share = f"expand({g}, {shape!r}, {rule.axis!r}, False)"
        return [], [(share if rule.scale == 1 else f"{share} * {rule.scale!r}", comments[0])]
    if op == "@" and inputs[0].ndim == 2 and inputs[1].ndim == 2:
        put = {"g": g, "a": a, "x": names.value(inputs[0]), "y": names.value(inputs[1])}
        return [], [
            (_written(e, put, None, namespace), c)
            for e, c in zip(_matmul_returns(), comments, strict=True)
        ]
    fn = rule if type(rule) is _FUNCTION else type(rule).__call__
    read = _rule_returns(fn)
    if read is not None:
        returns, arguments = read
        put = dict(zip(arguments, (g, a, *(names.value(p) for p in inputs)), strict=True))
        settings = _settings(rule)
        if settings is None:  # a setting only the namespace can hold (an index array)
            texts = [_written(e, put, rule, namespace) for e in returns]
        else:  # a graph has many nodes of few kinds: each kind's text is made once
            templates, helpers = _templates(fn, settings, rule)
            if helpers:
                namespace.update(helpers)
            texts = [t.format_map(put) for t in templates]
        return [], list(zip(texts, comments, strict=True))
    return _rule_call(node, g, names, namespace, comments, commenting)


_FUNCTION = type(lambda: None)


@functools.cache
def _matmul_returns():
    """The table's words for a product of matrices, g@yᵀ and xᵀ@g, as Python, parsed once."""
    written = [text.replace("ᵀ", ".T") for text in rules.IN_WORDS["@"]]
    return tuple(syntax.parse(text, mode="eval").body for text in written)


def _rule_call(node, g, names, namespace, comments, commenting):
    """A rule that is more than one expression, called by name: ``dv5_z, = max_rule(dv5, v5, Z)``."""
    op, rule = node._op, node.rule
    if op == "@":  # the rule that computes what the program's inputs need, as the engine picks it
        rule = rules.MATMUL_RULES[tuple(p.requires_grad for p in node._prev)]
    called = _named(namespace, f"{_WORDS.get(op, op)}_rule", rule)
    inputs = ", ".join(names.value(p) for p in node._prev)
    mine = names.grad(node)  # g may be a name passed on from another node: this one is node's own
    targets = [names.temporary(f"{mine}_{s}") for s in ("xy" if len(node._prev) > 1 else "z")]
    line = f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {called}({g}, {names.value(node)}, {inputs})"
    words = [c for c in comments if c] if commenting else []
    if commenting and op in ACTIVATIONS:  # softmax's rule maps g itself: a(g-Σga)
        words = [
            f"{op}: dz = {ACTIVATIONS[op].local_formula(**(getattr(rule, 'params', None) or {}))}"
        ]
    return [(line, "; ".join(words) or None)], [(t, None) for t in targets]


_WORDS = {"**": "pow", "@": "matmul", "[]": "index"}  # an op's name in a Python name


def _named(namespace, base, value):
    """`value` in the namespace under `base` (base2, base3, ... for other values of the same kind)."""
    for i in range(1, len(namespace) + 2):
        name = base if i == 1 else f"{base}{i}"
        if namespace.get(name, value) is value:
            namespace[name] = value
            return name
    raise AssertionError("unreachable")


@functools.cache
def _rule_returns(fn):
    """(the expressions `fn` returns, one per input; its parameters' names) if `fn` is a rule of
    `tinygrad_act.rules` whose body is one ``return`` of a tuple; else None."""
    if getattr(fn, "__module__", None) != rules.__name__:
        return None
    try:
        (tree,) = syntax.parse(textwrap.dedent(inspect.getsource(fn))).body
    except (OSError, TypeError, SyntaxError, ValueError):
        return None
    body = [
        s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    if not isinstance(body[0].value, ast.Tuple):
        return None
    return tuple(body[0].value.elts), tuple(a.arg for a in tree.args.args if a.arg != "self")


def _settings(rule):
    """A rule's settings as a key, if each is written out as a literal (a number, a tuple of
    ints); () for a rule that is a plain function; None if one needs the namespace."""
    if type(rule) is _FUNCTION:
        return ()
    values = tuple((k, getattr(rule, k)) for k in getattr(type(rule), "__slots__", ()))
    plain = (type(None), bool, int, float)
    for _, v in values:
        if not (type(v) in plain or isinstance(v, tuple) and all(type(i) in plain for i in v)):
            return None
    return values


_TEMPLATES = {}  # (rule function, its settings) -> (its expressions marked, the helpers they call)


def _templates(fn, settings, rule):
    """The rule's returned expressions as text with a mark where each of its symbols goes."""
    key = (fn, settings)
    if key not in _TEMPLATES:
        returns, arguments = _rule_returns(fn)
        marks = {a: f"\x01{a}\x02" for a in arguments}
        helpers = {}
        texts = [_written(e, marks, rule, helpers) for e in returns]
        # as str.format templates: {g} where the mark was, the text's own braces doubled
        formats = [_MARK.sub(r"{\1}", t.replace("{", "{{").replace("}", "}}")) for t in texts]
        _TEMPLATES[key] = formats, helpers
    return _TEMPLATES[key]


def _written(expr, put, rule, namespace):
    """A rule's expression as program text: its symbols given the program's names, a setting of
    the rule (``self.p``) written out, the helpers it calls (``sign``, ``scatter``) in the namespace."""

    class Put(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in put:
                return ast.Name(put[node.id])
            if node.id in vars(rules):  # a helper of the rules: np, sign, pow_, scatter, sum_to
                namespace.setdefault(node.id, vars(rules)[node.id])
            return node

        def visit_Attribute(self, node):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                setting = getattr(rule, node.attr)
                if node.attr == "index":
                    text = _index(setting, namespace)
                    return ast.Name(text if text.isidentifier() else f"np.s_[{text}]")
                return ast.Name(_literal(setting, namespace))
            return self.generic_visit(node)

    return ast.unparse(Put().visit(copy.deepcopy(expr)))


def _activation_share(node, g, put, namespace):
    """g·g'(z): the slide's formula written out where it reads as Python (``1 - A1**2``), else the
    registry's g' called by name (``relu_prime(Z1, A1)``), with the slide's formula as the comment."""
    op, rule = node._op, node.rule
    spec = ACTIVATIONS[op]
    written = _slide_as_python(spec, node)
    if written is None:  # the slide's words (a mask, σ) as the registry's function g'(z, a)
        namespace.setdefault(f"{op}_prime", spec.derivative)
        written = f"{op}_prime({put['z']}, {put['a']}{_keywords(rule)})"
    else:
        symbols = {"z": put["z"], "a": put["a"]}
        written = "(" + _SYMBOL.sub(lambda m: symbols[m.group()], written) + ")"
    params = getattr(rule, "params", None) or {}
    return f"{g} * {written}", f"{op}' = {spec.local_formula(**params)}"


def _comment(node, index, names):
    """The op's local derivative from the table of formulas, in the program's names: ∂v3/∂x = -v2/x²."""
    op, params = formula_key(node._op, node.rule)
    if op in ACTIVATIONS:
        return None
    template = _formula_template(op, index, len(node._prev), tuple(sorted(params.items())))
    if template is None:
        return None
    put = {"x": names.value(node._prev[0]), "a": names.value(node)}
    put["y" if len(node._prev) > 1 else "z"] = names.value(node._prev[-1])
    text = _MARK.sub(lambda m: put[m.group(1)], template)
    return f"∂{names.value(node)}/∂{names.value(node._prev[index])} = {text}"


_MARK = re.compile("\x01(.)\x02")


@functools.cache
def _formula_template(op, index, n_inputs, params):
    """The table's formula with a mark for each symbol, made once per op (a graph has many nodes)."""
    marks = [Name(f"\x01{s}\x02", ATOM) for s in "xy"[:n_inputs]]
    symbols = formula_symbols(marks, Name("\x01a\x02", ATOM))
    if n_inputs == 1:
        symbols["z"] = Name("\x01z\x02", ATOM)
    text = formula_text(op, index, symbols, dict(params))
    return None if text in (None, "1", "-1") else text


_SYMBOL = re.compile(r"\b[za]\b")
_IMPLICIT = re.compile(r"(?<=[a-z0-9)])(?=[a(])")


def _slide_as_python(spec, node):
    """The slide's g' (``a(1-a)``, ``1-a²``) as Python over z and a, if it is plain arithmetic that
    gives the registry's derivative bit for bit on the traced values; else None."""
    params = getattr(node.rule, "params", None) or {}
    text = _IMPLICIT.sub("*", spec.local_formula(**params).replace("²", "**2"))
    try:
        tree = syntax.parse(text, mode="eval")
    except SyntaxError:
        return None
    allowed = (ast.Expression, ast.BinOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub)
    allowed += (ast.Mult, ast.Pow)
    if not all(isinstance(n, allowed) for n in ast.walk(tree)):
        return None
    if {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {"z", "a"}:
        return None
    code = ast.unparse(tree).replace(" ** ", "**")
    z, a = node._prev[0].data, node.data
    with np.errstate(all="ignore"):
        mine = eval(syntax.compile_code(code, mode="eval"), {}, {"z": z, "a": a})  # noqa: S307 (the registry's own formula, parsed above)
        theirs = spec.derivative(z, a, **params)
    if np.asarray(mine).tobytes() != np.asarray(theirs).tobytes():
        return None
    return code


def _share_fits(node, computed, g):
    """The shape and dtype of each share `node` passes on, where the engine may have to fit it to
    its input (None for a share that fits by construction): an elementwise op's shares have its
    output's shape; a rule called by name is run once on the traced values to see."""
    if node._op in _ELEMENTWISE:
        return [(node.shape, node.dtype) if not node.is_scalar else ((), None)] * len(node._prev)
    if not computed or node._op == "cross_entropy":
        return [None] * len(node._prev)
    one = 1.0 if type(node.data) is float else np.ones_like(node.data)
    with np.errstate(all="ignore"):
        shares = node.rule(one, node.data, *(p.data for p in node._prev))
    return [
        None if share is None else (np.shape(share), getattr(share, "dtype", None))
        for share in shares
    ]


def _fitted(expr, fit, p):
    """The share summed back to its input's shape where the op broadcast it, in its input's dtype
    (the engine's sum_to, written out): ``db1 = dZ1.sum(axis=1, keepdims=True)``."""
    if fit is None:
        return expr
    out, dtype = fit
    if p.is_scalar:
        # a scalar's share of a tensor op: its sum (the array's own method, numpy's np.sum without
        # the Python wrapper around it)
        return (
            f"float({expr if _is_atom(expr) else f'({expr})'}.sum())" if dtype is not None else expr
        )
    shape = p.shape
    inner = expr if _is_atom(expr) else f"({expr})"
    if shape != out:
        lead = len(out) - len(shape)
        axes = rules.broadcast_axes(shape, out)
        axis = axes[0] if len(axes) == 1 else axes
        if lead == 0:
            expr = f"{inner}.sum(axis={axis!r}, keepdims=True)"
        elif out[lead:] == shape:
            expr = f"{inner}.sum(axis={axis!r})"
        else:
            expr = f"{inner}.sum(axis={axis!r}).reshape({shape!r})"
        inner = expr
    if dtype is not None and dtype != p.dtype:  # a float32 parameter in a float64 product
        return f"{inner}.astype(np.{p.dtype.name})"
    return expr


def _is_atom(expr):
    return expr.isidentifier()


class _Names:
    """Each node's value and gradient name: its label where that is a plain identifier (A1, dA1),
    else a short generated one (v7, dv7)."""

    def __init__(self, t):
        self._value, self._grad, self._taken = {}, {}, set(_RESERVED)
        self._taken |= {*ACTIVATIONS, *(f"{name}_prime" for name in ACTIVATIONS)}
        self._count = 0
        order = [*t.args, *t.params, *t.nodes]
        given = _parameter_names(t.fn)
        for i, a in enumerate(t.args):
            fallback = given[i] if i < len(given) else f"x{i}"
            label = a.label if isinstance(a, Value) else ""
            self._value[id(a)] = self._fresh(label, fallback if _usable(fallback) else f"x{i}")
        params = {id(p) for p in t.params}
        for v in order:
            if isinstance(v, Value) and id(v) not in self._value and (v._prev or id(v) in params):
                self._value[id(v)] = self._fresh(v.label, None)
        for v in t.nodes:
            if id(v) in self._value:
                self._grad[id(v)] = self._fresh("d" + self._value[id(v)], None)

    def _fresh(self, label, fallback):
        if _usable(label) and label not in self._taken:
            name = label
        elif fallback is not None and fallback not in self._taken:
            name = fallback
        else:
            while f"v{self._count}" in self._taken:
                self._count += 1
            name = f"v{self._count}"
        self._taken.add(name)
        return name

    def temporary(self, text):
        """A name of the program's own (a rule's shares), never one already taken."""
        return self._fresh(text, None)

    def generated(self, node):
        """Whether the node's name was made up (v7), not its label: its gradient may go unnamed."""
        return not (isinstance(node, Value) and node.label == self._value.get(id(node)))

    def bind(self, node, text):
        self._value[id(node)] = text

    def value(self, node):
        return self._value[id(node)]

    def grad(self, node):
        return self._grad[id(node)]


def _usable(text):
    """A label that can be a name: an identifier, no keyword, not private (constants are _c0, _i0)."""
    return text.isidentifier() and not keyword.iskeyword(text) and not text.startswith("_")


def _parameter_names(fn):
    """The names of fn's positional parameters (X, Y), for the arguments the trace was given."""
    try:
        found = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in found if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
