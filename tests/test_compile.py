"""trace and compile: the generated code reads like the course's, and runs to the graph's bits."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_act import Value, detect_anomaly
from tinygrad_act.compiler import compile, memory, trace
from tinygrad_act.compiler.codegen import UnsupportedOp
from tinygrad_act.engine import make_node

RUFF = Path(sys.executable).with_name("ruff")
ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "silu", "gelu"]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def graph_result(fn, params, args):
    """The loss and every parameter's gradient by the graph: fn on Values, then backward()."""
    for p in params:
        p.grad = None
    loss = fn(*args)
    loss.backward()
    grads = [p.grad if p.is_scalar else p.grad.copy() for p in params]
    for p in params:
        p.grad = None
    return loss.data, grads


def assert_compiled_equals_graph(fn, params, *args):
    want_loss, want = graph_result(fn, params, args)
    step = compile(fn)
    loss = step(*args)
    assert same_bits(loss.data, want_loss)
    for p, w in zip(params, want, strict=True):
        assert same_bits(p.grad, w), (p.label, step.trace(*args).code)
    return step


def course_network(dtype, rng):
    """A one-hidden-layer network in the course's layout (features × batch)."""
    W1 = Value(rng.standard_normal((4, 2)).astype(dtype), label="W1")
    b1 = Value(np.zeros((4, 1), dtype), label="b1")
    W2 = Value(rng.standard_normal((1, 4)).astype(dtype), label="W2")
    b2 = Value(np.zeros((1, 1), dtype), label="b2")

    def loss_fn(X, Y):
        Z1 = W1 @ X + b1
        Z1.label = "Z1"
        A1 = Z1.tanh()
        A1.label = "A1"
        Z2 = W2 @ A1 + b2
        Z2.label = "Z2"
        A2 = Z2.sigmoid()
        A2.label = "A2"
        return ((A2 - Y) ** 2).mean()

    X = rng.standard_normal((2, 8)).astype(dtype)
    Y = (rng.random((1, 8)) > 0.5).astype(dtype)
    return loss_fn, [W1, b1, W2, b2], (X, Y)


def test_the_code_reads_like_the_course(rng):
    loss_fn, _, args = course_network(np.float64, rng)
    code = trace(loss_fn, *args).code
    assert code.startswith("def traced(X, Y, ")
    assert "    A1 = tanh(Z1)\n" in code
    assert "    dZ1 = dA1 * (1 - A1**2)  # tanh' = 1-a²\n" in code
    assert "    dZ2 = dA2 * (A2 * (1 - A2))  # sigmoid' = a(1-a)\n" in code
    assert "    db1 = dZ1.sum(axis=1, keepdims=True)\n" in code
    assert "dW1 = " in code and "@ X.T" in code
    # Forward lines, then the backward's: every gradient line after the last forward line.
    lines = code.splitlines()
    first_grad = next(i for i, line in enumerate(lines) if line.lstrip().startswith("d"))
    assert all(not line.lstrip().startswith("d") for line in lines[1:first_grad])


def test_a_node_used_twice_sums_its_shares_in_the_code():
    x = Value(3.0, label="x")
    t = trace(lambda: x * x + x)
    assert (
        "    dx = dv1\n    dx = dx + dv1 * x  # ∂v0/∂x = x\n    dx = dx + dv1 * x  # ∂v0/∂x = x\n"
        in t.code
    )
    # The three shares in the engine's order: the same bits as the graph, even where order matters.
    y = Value(0.1, label="y")
    assert_compiled_equals_graph(lambda: y * 0.7 + y * 0.3 + y * y * 3.1 + y.tanh(), [y])


def test_a_label_that_is_not_a_name_is_never_written_into_the_code():
    w = Value(2.0, label="x; import os")
    b = Value(1.0, label="for")  # a keyword
    t = trace(lambda: (w * b).tanh())
    assert "import os" not in t.code and "for" not in t.code
    step = compile(lambda: (w * b).tanh())
    assert step().data == np.tanh(2.0)


def test_ruff_accepts_the_generated_code(rng, tmp_path):
    loss_fn, _, args = course_network(np.float32, rng)
    x = Value(3.0, label="x")
    files = []
    for i, code in enumerate([trace(loss_fn, *args).code, trace(lambda: (x * x + x).relu()).code]):
        path = tmp_path / f"generated{i}.py"
        path.write_text(code)
        files.append(str(path))
    config = Path(__file__).resolve().parent.parent / "ruff.toml"  # the project's own rules
    # F821: np, tanh and the constants are the program's namespace, not imports in its text.
    out = subprocess.run(
        [str(RUFF), "check", "--no-cache", "--config", str(config), "--ignore", "F821", *files],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_course_network_compiled_equals_the_graph(dtype, rng):
    loss_fn, params, args = course_network(dtype, rng)
    assert_compiled_equals_graph(loss_fn, params, *args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_activation_compiled_equals_the_graph(name, dtype, rng):
    W = Value(rng.standard_normal((3, 5)).astype(dtype), label="W")

    def loss_fn(X):
        return (getattr(W * X, name)() * X).sum()

    X = rng.standard_normal((3, 5)).astype(dtype)
    X[0, 0] = 0.0  # a kink of relu, leaky_relu, elu at z = 0
    assert_compiled_equals_graph(loss_fn, [W], X)


def test_an_activation_with_a_parameter_compiled_equals_the_graph(rng):
    W = Value(rng.standard_normal((3, 5)), label="W")

    def loss_fn():
        return (W.leaky_relu(slope=0.2) + W.elu(alpha=0.5)).sum()

    step = assert_compiled_equals_graph(loss_fn, [W])
    assert "slope=0.2" in step.trace().code


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_op_compiled_equals_the_graph(dtype, rng):
    W = Value(rng.standard_normal((4, 2)).astype(dtype), label="W")
    b = Value(rng.standard_normal((4, 1)).astype(dtype), label="b")
    c = Value(rng.standard_normal(2).astype(dtype))  # a constant: no gradient

    def loss_fn(X):
        h = (W @ X + b) / (1.5 + (W * W).sum()) - c.sum()
        parts = [
            h.exp().mean(axis=0),
            (h * h + 1).log().mean(axis=1, keepdims=True),
            (h.abs() + 1).sqrt().sum(axis=0, keepdims=True),
            (-h).transpose().reshape((-1,))[1:5],
            W[np.array([0, 0, 2])] ** 3,
            W.T.sum(axis=1),
            h**2.5 if False else (h * h + 0.5) ** 0.5,
        ]
        return sum((p.sum() for p in parts), Value(np.zeros((), dtype)))

    X = rng.standard_normal((2, 6)).astype(dtype)
    assert_compiled_equals_graph(loss_fn, [W, b], X)


def test_a_scalar_graph_compiled_equals_the_graph():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")

    def neuron():
        return (x1 * w1 + x2 * w2 + b).tanh() * 2 - 1 / (w1 * w1) + (w2 - 3.0) ** 2

    step = assert_compiled_equals_graph(neuron, [x1, x2, w1, w2, b])
    assert "np." not in step.trace().code  # Python floats, not arrays, on the scalar path


def test_broadcasting_sums_the_gradient_back_as_the_graph_does(rng):
    W = Value(rng.standard_normal((3, 1, 4)), label="W")
    s = Value(0.5, label="s")  # a scalar parameter in a tensor graph

    def loss_fn(X):
        return ((X * W) * s + W).tanh().sum()

    X = rng.standard_normal((2, 3, 5, 4))
    step = assert_compiled_equals_graph(loss_fn, [W, s], X)
    assert ".sum(axis=" in step.trace(X).code and ".sum())" in step.trace(X).code


def test_compile_adds_into_grad_and_reads_the_parameters_current_data(rng):
    loss_fn, params, args = course_network(np.float64, rng)
    step = compile(loss_fn)
    step(*args)
    once = [p.grad.copy() for p in params]
    step(*args)
    for p, g in zip(params, once, strict=True):
        np.testing.assert_array_equal(p.grad, 2 * g)  # added, as backward() adds
    W1 = params[0]
    W1.data = W1.data * 0.5  # the program reads the weights each call
    for p in params:
        p.grad = None
    want_loss, want = graph_result(loss_fn, params, args)
    assert same_bits(step(*args).data, want_loss)
    assert same_bits(W1.grad, want[0])


def test_one_program_per_signature_and_arguments_are_data(rng):
    W = Value(rng.standard_normal((3, 2)), label="W")

    def loss_fn(X):
        return (W @ X).tanh().sum()

    step = compile(loss_fn)
    for shape, dtype in [((2, 4), np.float64), ((2, 7), np.float64), ((2, 4), np.float32)]:
        X = rng.standard_normal(shape).astype(dtype)
        W.grad = None
        step(X)
        got = W.grad.copy()
        W.grad = None
        loss_fn(Value(X)).backward()
        np.testing.assert_array_equal(got, W.grad)
    assert len(step.programs) == 3
    X = rng.standard_normal((2, 4))
    step(X + 1.0)
    assert len(step.programs) == 3  # new data of a known signature: no new trace


def test_a_parameter_passed_in_gets_its_gradient(rng):
    def loss_fn(W, X):
        return (W @ X).sigmoid().mean()

    X = rng.standard_normal((2, 4))
    W1, W2 = Value(rng.standard_normal((3, 2))), Value(rng.standard_normal((3, 2)))
    step = compile(loss_fn)
    step(W1, X)
    step(W2, X)  # the same program, the other Value's data and .grad
    for W in (W1, W2):
        got = W.grad.copy()
        W.grad = None
        loss_fn(W, Value(X)).backward()
        np.testing.assert_array_equal(got, W.grad)


def test_hooks_and_anomaly_mode_are_refused_clearly(rng):
    W = Value(rng.standard_normal((2, 2)))
    step = compile(lambda: W.tanh().sum())
    step()
    handle = W.register_hook(lambda g: g * 2)
    with pytest.raises(RuntimeError, match="hook"):
        step()
    handle.remove()
    with detect_anomaly(), pytest.raises(RuntimeError, match="detect_anomaly"):
        step()
    step()  # and it runs again once they are gone


def test_bad_functions_are_refused_with_what_was_given():
    with pytest.raises(TypeError, match="function"):
        compile(3)
    with pytest.raises(TypeError, match="must return a Value"):
        trace(lambda: 3.0)
    W = Value(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"one-element.*\(2, 2\)"):
        trace(lambda: W * 2)

    # An op made outside the engine's table (make_node with a rule of one's own) has no forward
    # the generator knows: refused by name, and the function still runs uncompiled.
    def cube(v):
        return make_node(v.data**3, v, None, "cube", lambda g, a, z: (3 * g * z * z,))

    with pytest.raises(UnsupportedOp, match="'cube'"):
        compile(lambda: cube(W).sum())()
    cube(W).sum().backward()


def test_the_cli_prints_an_expressions_code(tmp_path):
    cli = Path(sys.executable).with_name("tinygrad-act")
    out = subprocess.run(
        [str(cli), "graph", "tanh(x*w + b)", "--set", "x=2", "--set", "w=-3", "--set", "b=6.88",
         "--code", "-o", str(tmp_path / "g.svg")],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("def traced(x, w, b):")
    assert "dv1 = dv2 * (1 - v2**2)  # tanh' = 1-a²" in out.stdout
    assert "dw = dv1 * x  # ∂v0/∂w = x" in out.stdout
    assert not (tmp_path / "g.svg").exists()  # the code instead of the picture
    bad = subprocess.run([str(cli), "graph", "2*", "--code"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


# Every op of the engine and every activation of the registry, in one table: (name, the loss of W
# and X). Each is compiled and compared with the graph, bit for bit, in float32 and float64.
TENSOR_OPS = {
    "add sub mul div neg": lambda W, X: (W * X - X / (W * W + 1) + (-W)).sum(),
    "pow value exponent": lambda W, X: ((W * W + 1) ** (X * 0.5)).sum(),
    "rpow": lambda W, X: (2.0**W).sum(),
    "exp log sqrt abs": lambda W, X: ((W.exp() + 1).log() + (W * W + 1).sqrt() + W.abs()).sum(),
    "maximum minimum": lambda W, X: (W.maximum(X) + W.minimum(0.0) * 2).sum(),
    "maximum broadcast": lambda W, X: (W.maximum(X[0]) * X).sum(),
    "where": lambda W, X: W.where(X > 0, W * 3).sum(),
    "clip": lambda W, X: (W.clip(-0.5, 0.5) * X + W.clip(min=0.0)).sum(),
    "sum mean axes": lambda W, X: (W.sum(axis=0) * X.mean(axis=0)).sum() + W.mean(axis=1).sum(),
    "var std": lambda W, X: (
        W.var(axis=0) + W.std(axis=1, keepdims=True).sum() + W.var(ddof=1)
    ).sum(),
    "var torch": lambda W, X: W.var(dim=1).sum() + W.std().sum(),
    "max min": lambda W, X: W.max(axis=0).sum() + W.min() + (W * X).max(),
    "max dim": lambda W, X: W.max(1)[0].sum() + W.min(dim=0).values.sum(),
    "matmul": lambda W, X: (W @ X.T).tanh().sum(),
    "matmul vector": lambda W, X: (W @ X[0]).sum() + (X[1] @ W.T).sum(),
    "reshape flatten": lambda W, X: (W.reshape(-1) * X.flatten()).sum() + W.view(2, -1).sum(),
    "squeeze unsqueeze": lambda W, X: (
        (W.unsqueeze(0).squeeze(0) * X).sum() + W[0:1].squeeze().sum()
    ),
    "transpose swapaxes": lambda W, X: (W.T @ X).sum() + W.swapaxes(0, 1).sum(),
    "broadcast_to": lambda W, X: (W[0].broadcast_to((3, 4)) * X).sum(),
    "indexing": lambda W, X: (W[1:, ::2] * 2).sum() + W[np.array([0, 0, 2]), 1].sum() + W[1, 2],
    "cat": lambda W, X: (W.cat(X, W * 2, dim=0) ** 2).sum() + W.cat(X, dim=1).mean(),
    "softmax": lambda W, X: (W.softmax(axis=1) * X).sum(),
    "log_softmax": lambda W, X: (W.log_softmax(dim=0) * X).sum(),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", TENSOR_OPS)
def test_each_tensor_op_compiled_equals_the_graph(name, dtype, rng):
    W = Value(rng.standard_normal((3, 4)).astype(dtype), label="W")
    X = rng.standard_normal((3, 4)).astype(dtype)
    X[0, 1] = W.data[0, 1]  # a tie for maximum and minimum
    fn = TENSOR_OPS[name]
    step = assert_compiled_equals_graph(lambda X: fn(W, Value(X, requires_grad=False)), [W], X)
    assert "def traced(" in step.trace(X).code


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, y: x.maximum(y) + x.minimum(y) * 3,
        lambda x, y: x.clip(-1.0, 0.5) * y + y.clip(max=0.0),
        lambda x, y: x.where(x.data > 0, y) + x**y,
        lambda x, y: (x * y).relu() + x.leaky_relu(0.2) + y.elu(0.5) + x.gelu() + y.silu(),
        lambda x, y: (x * y).softplus() + x.sigmoid() * y.tanh() + 2**x,
    ],
    ids=["maximum minimum", "clip", "where pow", "activations 1", "activations 2"],
)
@pytest.mark.parametrize("at", [(0.5, 0.5), (-2.0, 0.7), (1.5, -0.3)])
def test_each_scalar_op_compiled_equals_the_graph(fn, at):
    x, y = Value(at[0], label="x"), Value(at[1], label="y")
    assert_compiled_equals_graph(lambda: fn(x, y), [x, y])


def test_a_scalar_division_by_zero_gives_what_the_graph_gives():
    """Python's float math raises at x/0 where the engine answers IEEE's inf: so does the code."""
    x, y = Value(1.0, label="x"), Value(0.0, label="y")
    loss = assert_compiled_equals_graph(lambda: x / y + x, [x, y])
    assert loss() is not None
    assert x.grad == np.inf and y.grad == -np.inf


def test_a_float32_parameter_in_a_float64_product_gets_its_own_dtype_back(rng):
    W = Value(rng.standard_normal((3, 4)).astype(np.float32), label="W")
    V = Value(rng.standard_normal((3, 4)), label="V")
    step = assert_compiled_equals_graph(lambda: (W * V).tanh().sum(), [W, V])
    assert "astype(np.float32)" in step.trace().code


def test_rules_of_more_than_one_line_are_called_by_name_with_their_words_as_comment():
    W = Value(np.array([[1.0, 3.0], [3.0, 2.0]]), label="W")
    code = trace(lambda: W.max(axis=1).sum() + W.var()).code
    assert "= max_rule(" in code and "# ∂v" in code and "1 at the max" in code
    assert "var_rule(" in code


def test_the_lines_are_read_from_the_rules_themselves():
    """x/y's rule computes -x/y² as -g·a/y: the code says what the rule computes."""
    x, y = Value(3.0, label="x"), Value(2.0, label="y")
    code = trace(lambda: x / y).code
    assert "dy = -dv0 * v0 / y  # ∂v0/∂y = -x/y²" in code


# ---- the memory plan: buffers allocated once, written with out= --------------------------------


def graph_then_compiled_calls(fn, params, args, calls=3):
    """fn compiled and called `calls` times, the parameters changed between calls (so a buffer
    that kept a stale value, or one written too early, shows): each call's loss and gradients
    against the graph's for the same parameters."""
    step = compile(fn)
    kept = []
    for k in range(calls):
        want_loss, want = graph_result(fn, params, args)
        for p in params:
            p.grad = None
        loss = step(*args)
        assert same_bits(loss.data, want_loss), (k, step.trace(*args).code)
        for p, w in zip(params, want, strict=True):
            assert same_bits(p.grad, w), (k, p.label)
        kept.append([p.grad for p in params])
        for p in params:  # the next call sees other parameters
            p.data = p.data * 0.9 + 0.05
    for k, grads in enumerate(kept[:-1]):  # each call's gradients are its own arrays
        assert all(g is not h for g, h in zip(grads, kept[-1], strict=True)), k
    return step


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", TENSOR_OPS)
def test_the_memory_plan_keeps_the_graphs_bits_for_every_op(name, dtype, rng, monkeypatch):
    monkeypatch.setattr(memory, "PLANNED_BYTES", 0)  # plan even these small arrays
    W = Value(rng.standard_normal((3, 4)).astype(dtype), label="W")
    X = rng.standard_normal((3, 4)).astype(dtype)
    fn = TENSOR_OPS[name]
    graph_then_compiled_calls(lambda X: fn(W, Value(X, requires_grad=False)), [W], (X,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_a_planned_mlp_step_writes_into_buffers_and_equals_the_graph(act, dtype, rng):
    from tinygrad_act.nn import cross_entropy

    shapes = [(64, 48), (48,), (48, 32), (32,), (32, 10), (10,)]
    P = [
        Value(rng.standard_normal(s).astype(dtype) * 0.2, label=f"p{i}")
        for i, s in enumerate(shapes)
    ]

    def loss_fn(X, labels):
        h1 = (X @ P[0] + P[1]).activate(act)
        h2 = (h1 @ P[2] + P[3]).activate(act)
        return cross_entropy(h2 @ P[4] + P[5], labels)

    X, labels = rng.standard_normal((128, 64)).astype(dtype), rng.integers(0, 10, 128)
    step = graph_then_compiled_calls(loss_fn, P, (X, labels))
    t = step.trace(X, labels)
    source = memory.plan(t.program, [X, labels] + [p.data for p in P]).source
    assert "np.matmul(X, p0, out=_b0)" in source
    assert "dp0 = np.matmul(X.T, " in source and "out=_g" in source  # a gradient's own buffer
    assert ", out=" in source.split("log_softmax")[1]  # the backward writes into buffers too
    assert t.code.count("out=") == 0  # the code a person reads is as the course writes it


def test_what_leaves_a_planned_program_is_never_a_buffer(rng, monkeypatch):
    """The loss, the gradients and the outputs returned beside the loss are new arrays each call:
    holding one across calls (as a plot of the outputs does) sees it unchanged."""
    monkeypatch.setattr(memory, "PLANNED_BYTES", 0)
    W = Value(rng.standard_normal((4, 4)), label="W")

    def fn(X):
        out = (X @ W).tanh()
        return (out * out).mean(), out

    step = compile(fn)
    X = rng.standard_normal((5, 4))
    loss1, out1 = step(X)
    kept_out, kept_grad = out1.data.copy(), W.grad.copy()
    W.grad = None
    loss2, out2 = step(X * 2)
    assert same_bits(out1.data, kept_out) and not same_bits(out2.data, kept_out)
    W.grad = None
    step(X)
    assert same_bits(W.grad, kept_grad)


def test_a_gradients_buffer_is_written_again_only_once_nobody_holds_it(rng, monkeypatch):
    monkeypatch.setattr(memory, "PLANNED_BYTES", 0)
    W = Value(rng.standard_normal((4, 3)), label="W")
    X = rng.standard_normal((5, 4))
    fn = lambda X: (X @ W).tanh().sum()  # noqa: E731
    _, (want,) = graph_result(fn, [W], (X,))
    step = compile(fn)
    assert "out=_g0" in memory.plan(step.trace(X).program, [X, W.data]).source
    step(X)
    held = W.grad  # a student keeps the first step's gradient...
    step(X)  # ...and does not zero it: the second adds into .grad, as backward() does
    assert same_bits(held, want) is False and same_bits(W.grad, want + want)
    W.grad = None
    step(X)
    assert W.grad is not held and same_bits(W.grad, want)
    kept = W.grad
    W.grad = None
    step(X)  # the buffer is held by `kept`: the program is given a new one
    assert same_bits(kept, want) and kept is not W.grad and same_bits(W.grad, want)
    del kept
    W.grad = None
    step(X)  # nobody holds the last one now: it is written again, and is .grad
    assert same_bits(W.grad, want)


def test_a_weight_that_changes_dtype_or_shape_is_traced_again(rng):
    W = Value(rng.standard_normal((64, 32)).astype(np.float32), label="W")

    def fn(X):
        return (X @ W).tanh().sum()

    X = rng.standard_normal((16, 64))
    step = compile(fn)
    step(X.astype(np.float32))
    W.data = W.data.astype(np.float64)  # the student casts the weights: a new program, not a crash
    W.grad = None
    want_loss, (want,) = graph_result(fn, [W], (X,))
    loss = step(X)
    assert same_bits(loss.data, want_loss) and same_bits(W.grad, want)


def test_another_threads_anomaly_mode_or_another_values_hook_does_not_stop_a_compiled_call(rng):
    """A lab serves many students on threads: one student's detect_anomaly() or health monitor
    (hooks on its own Values) is no reason to refuse another's compiled step."""
    import threading

    W = Value(rng.standard_normal((3, 3)), label="W")
    step = compile(lambda: W.tanh().sum())
    step()
    other = Value(1.0)
    handle = other.register_hook(lambda g: g)
    inside, leave = threading.Event(), threading.Event()

    def watched():
        with detect_anomaly():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=watched)
    thread.start()
    try:
        inside.wait(10)
        _, (want,) = graph_result(lambda: W.tanh().sum(), [W], ())
        step()  # neither the other thread's anomaly mode nor the other Value's hook refuses it
        assert same_bits(W.grad, want)
        with detect_anomaly(), pytest.raises(RuntimeError, match="detect_anomaly"):
            step()  # this thread's own does
    finally:
        leave.set()
        thread.join()
        handle.remove()


def test_constants_of_every_kind_each_get_their_own_name(rng):
    """An array constant, a clip's array bound and a where's mask are three namespace entries:
    none may take another's name (a bound once overwrote a constant made after it)."""
    W = Value(rng.standard_normal((2, 3)), label="W")
    lo = rng.standard_normal((2, 3)) * 0.1
    C = Value(rng.standard_normal((2, 3)), requires_grad=False)

    def fn():
        return ((W * 2).clip(lo) * C + (W * C).where(W.data > 0, C)).sum()

    step = assert_compiled_equals_graph(fn, [W])
    code = step.trace().code
    assert "_c0" in code and "_c1" in code and "_c2" in code
