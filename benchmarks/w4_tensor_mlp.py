"""W4: one SGD step of a 784-256-128-10 tensor MLP with softmax cross-entropy.

Forward, backward and the parameter update, for tanh and relu hidden layers, batch 64 and 1024,
float32 and float64. The floor is the step written by hand in numpy below; before anything is
timed, every engine's gradients are checked against it (np.testing.assert_allclose), so all engines
time the same mathematics. The batch is wrapped as each engine's constant once, outside the timer
(data loading is not part of the step); the parameters are updated in place.

A second floor, `numpy-inplace`, allocates every intermediate and gradient once and writes into
them (``out=``): the stricter bound, which no engine whose ops return new arrays can reach; each
engine's ratio is printed against both.

A step returns the loss as a Python float, as a training loop reads it, so each step's graph is
freed within the step. (The harness keeps what a step returns until its sample's timer stops: a
returned graph would keep the activations and gradients of a few hundred steps alive, and the
timing would measure fresh memory instead of the engine.)
"""

from __future__ import annotations

import statistics

import numpy as np

from benchmarks.data import mlp_params, mnist_like
from benchmarks.harness import Case, Row, fmt_time, paired_ratio, verdict
from benchmarks.machine import peer

NAME = "W4"
TARGET = 1.10  # engine time / hand-written numpy time, at most
LR = 0.01
ACTS = ("tanh", "relu")
BATCHES = (64, 1024)
DTYPES = ("float32", "float64")
ENGINES = ("numpy", "numpy-inplace", "tinygrad_act", "tinygrad_act-compiled", "torch", "autograd")
ENGINES += ("mygrad",)
OURS = ("tinygrad_act", "tinygrad_act-compiled")
TARGET_COMPILED = 1.03  # compiled time / numpy-inplace time, at most
FLOORS = ("numpy", "numpy-inplace")  # hand-written here, always there


# ---- the floor: forward and backward by hand ------------------------------------------------------


def numpy_engine(params, X, labels, onehot, act):
    P = [p.copy() for p in params]
    B = X.shape[0]

    def grads():
        W1, b1, W2, b2, W3, b3 = P
        z1 = X @ W1 + b1
        h1 = np.tanh(z1) if act == "tanh" else np.maximum(z1, 0)
        z2 = h1 @ W2 + b2
        h2 = np.tanh(z2) if act == "tanh" else np.maximum(z2, 0)
        z3 = h2 @ W3 + b3
        shifted = z3 - z3.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -(logp * onehot).sum() / B
        dz3 = (np.exp(logp) - onehot) / B  # softmax - onehot, averaged over the batch
        dh2 = dz3 @ W3.T
        dz2 = (
            dh2 * (1 - h2 * h2) if act == "tanh" else dh2 * (z2 >= 0)
        )  # ReLU'(0) = 1, as the lecture
        dh1 = dz2 @ W2.T
        dz1 = dh1 * (1 - h1 * h1) if act == "tanh" else dh1 * (z1 >= 0)
        out = [X.T @ dz1, dz1.sum(axis=0), h1.T @ dz2, dz2.sum(axis=0), h2.T @ dz3, dz3.sum(axis=0)]
        return loss, out

    def step():
        loss, gs = grads()
        for p, g in zip(P, gs, strict=True):
            p -= LR * g
        return float(loss)

    return lambda: grads()[1], step


def numpy_inplace_engine(params, X, labels, onehot, act):
    """The stricter floor: the same step with every intermediate and gradient allocated once, before
    the first step, and every op writing into them (``out=``, in-place updates). No engine that
    returns new arrays from its ops can reach it; it shows what memory traffic costs at each size."""
    P = [p.copy() for p in params]
    W1, b1, W2, b2, W3, b3 = P
    B, dt = X.shape[0], X.dtype

    def buffers(*shape):
        return np.empty(shape, dtype=dt)

    z1, h1, d1, dh1 = (buffers(B, 256) for _ in range(4))
    z2, h2, d2, dh2 = (buffers(B, 128) for _ in range(4))
    z3, dz3 = buffers(B, 10), buffers(B, 10)
    mask1, mask2 = np.empty((B, 256), dtype=bool), np.empty((B, 128), dtype=bool)
    gs = [np.empty_like(p) for p in P]
    gW1, gb1, gW2, gb2, gW3, gb3 = gs
    tanh = act == "tanh"

    def layer(x, W, b, z, h, mask):
        np.matmul(x, W, out=z)
        z += b
        if tanh:
            np.tanh(z, out=h)
        else:
            np.greater_equal(z, 0, out=mask)  # ReLU'(0) = 1, as the lecture
            np.maximum(z, 0, out=h)

    def local(h, mask, d, dh, dz):  # dz = dh * g'(z), g' = 1-h² or the mask
        if tanh:
            np.multiply(h, h, out=d)
            np.subtract(1, d, out=d)
            np.multiply(dh, d, out=dz)
        else:
            np.multiply(dh, mask, out=dz)

    def grads():
        layer(X, W1, b1, z1, h1, mask1)
        layer(h1, W2, b2, z2, h2, mask2)
        np.matmul(h2, W3, out=z3)
        np.add(z3, b3, out=z3)
        np.subtract(z3, z3.max(axis=1, keepdims=True), out=z3)  # log-softmax in place
        np.subtract(z3, np.log(np.exp(z3).sum(axis=1, keepdims=True)), out=z3)
        loss = -np.vdot(z3, onehot) / B
        np.exp(z3, out=dz3)
        np.subtract(dz3, onehot, out=dz3)
        np.multiply(dz3, 1 / B, out=dz3)  # (softmax - onehot) / B
        np.matmul(dz3, W3.T, out=dh2)
        local(h2, mask2, d2, dh2, dh2)
        np.matmul(dh2, W2.T, out=dh1)
        local(h1, mask1, d1, dh1, dh1)
        np.matmul(X.T, dh1, out=gW1)
        np.sum(dh1, axis=0, out=gb1)
        np.matmul(h1.T, dh2, out=gW2)
        np.sum(dh2, axis=0, out=gb2)
        np.matmul(h2.T, dz3, out=gW3)
        np.sum(dz3, axis=0, out=gb3)
        return loss

    def step():
        loss = grads()
        for p, g in zip(P, gs, strict=True):
            g *= LR
            p -= g
        return float(loss)

    def checked():
        grads()
        return [g.copy() for g in gs]

    return checked, step


# ---- the engines ----------------------------------------------------------------------------------


def tinygrad_engine(params, X, labels, onehot, act):
    from tinygrad_act import Value
    from tinygrad_act.nn import cross_entropy

    P = [Value(p) for p in params]
    # The batch is data, as torch.from_numpy is: no gradient is computed for it.
    Xv = Value(X, requires_grad=False)

    def loss_of():
        W1, b1, W2, b2, W3, b3 = P
        h1 = (Xv @ W1 + b1).activate(act)
        h2 = (h1 @ W2 + b2).activate(act)
        return cross_entropy(h2 @ W3 + b3, labels)  # one node, as torch's F.cross_entropy

    def backward():
        loss = loss_of()
        for p in P:
            p.zero_grad()
        loss.backward()
        return loss.item()  # the graph is freed here, before the update, as numpy's and torch's are

    def grads():
        backward()
        return [p.grad.copy() for p in P]

    def step():
        loss = backward()
        for p in P:
            p.data -= LR * p.grad
        return loss

    return grads, step


def tinygrad_compiled_engine(params, X, labels, onehot, act):
    """The same step through `tinygrad_act.compile`: traced once, then run as generated numpy."""
    from tinygrad_act import Value, compile
    from tinygrad_act.nn import SGD, cross_entropy

    P = [Value(p) for p in params]
    optimizer = SGD(P, lr=LR)

    def loss_of(X, labels):
        W1, b1, W2, b2, W3, b3 = P
        h1 = (X @ W1 + b1).activate(act)
        h2 = (h1 @ W2 + b2).activate(act)
        return cross_entropy(h2 @ W3 + b3, labels)

    compiled = compile(loss_of)

    def backward():
        optimizer.zero_grad()
        return compiled(X, labels).item()

    def grads():
        backward()
        return [p.grad.copy() for p in P]

    def step():
        loss = backward()
        optimizer.step()
        return loss

    return grads, step


def torch_engine(params, X, labels, onehot, act):
    import torch
    import torch.nn.functional as F

    P = [torch.tensor(p, requires_grad=True) for p in params]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)
    f = torch.tanh if act == "tanh" else torch.relu

    def backward():
        W1, b1, W2, b2, W3, b3 = P
        h1 = f(Xt @ W1 + b1)
        h2 = f(h1 @ W2 + b2)
        loss = F.cross_entropy(h2 @ W3 + b3, yt)
        for p in P:
            p.grad = None
        loss.backward()
        return loss

    def grads():
        backward()
        return [p.grad.numpy().copy() for p in P]

    def step():
        loss = backward()
        with torch.no_grad():
            for p in P:
                p.add_(p.grad, alpha=-LR)
        return loss.item()

    return grads, step


def autograd_engine(params, X, labels, onehot, act):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    P = [p.copy() for p in params]
    B = X.shape[0]

    def f(z):
        return anp.tanh(z) if act == "tanh" else anp.maximum(z, 0.0)

    def loss_fn(P):
        W1, b1, W2, b2, W3, b3 = P
        h1 = f(anp.dot(X, W1) + b1)
        h2 = f(anp.dot(h1, W2) + b2)
        logits = anp.dot(h2, W3) + b3
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.sum(logp * onehot) / B

    gradient = autograd.grad(loss_fn)

    def grads():
        return [np.asarray(g) for g in gradient(P)]

    def step():
        for p, g in zip(P, gradient(P), strict=True):
            p -= LR * g

    return grads, step


def mygrad_engine(params, X, labels, onehot, act):
    import mygrad as mg
    from mygrad.nnet.losses import softmax_crossentropy

    P = [mg.tensor(p.copy()) for p in params]
    f = mg.tanh if act == "tanh" else mg.nnet.relu

    def backward():
        W1, b1, W2, b2, W3, b3 = P
        h1 = f(mg.matmul(X, W1) + b1)
        h2 = f(mg.matmul(h1, W2) + b2)
        loss = softmax_crossentropy(mg.matmul(h2, W3) + b3, labels)
        loss.backward()
        return loss

    def grads():
        backward()
        return [np.array(p.grad) for p in P]

    def step():
        loss = backward()
        for p in P:
            p.data -= LR * p.grad
        return loss.item()

    return grads, step


FACTORIES = {
    "numpy": numpy_engine,
    "numpy-inplace": numpy_inplace_engine,
    "tinygrad_act": tinygrad_engine,
    "tinygrad_act-compiled": tinygrad_compiled_engine,
    "torch": torch_engine,
    "autograd": autograd_engine,
    "mygrad": mygrad_engine,
}


def installed():
    return [e for e in ENGINES if e in FLOORS or e in OURS or peer(e) is not None]


def cells():
    return [(a, b, d) for a in ACTS for b in BATCHES for d in DTYPES]


def _cell(act, batch, dtype):
    return f"{act} b{batch} {dtype}"


def check(engine, act, batch, dtype):
    """The engine's gradients against the hand-written floor's, before any timing."""
    dt = np.dtype(dtype)
    X, labels, onehot = mnist_like(batch, dt)
    params = mlp_params(dt)
    want = numpy_engine(params, X, labels, onehot, act)[0]()
    got = FACTORIES[engine](params, X, labels, onehot, act)[0]()
    tol = {"rtol": 2e-3, "atol": 1e-5} if dt == np.float32 else {"rtol": 1e-7, "atol": 1e-10}
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(
            g, w, err_msg=f"{engine} {act} b{batch} {dtype}: gradient {i}", **tol
        )
        if g.dtype != dt:
            raise AssertionError(
                f"{engine} {act} b{batch} {dtype}: gradient {i} has dtype {g.dtype}"
            )


def _setup(engine, act, batch, dtype):
    def setup():
        check(engine, act, batch, dtype)
        dt = np.dtype(dtype)
        X, labels, onehot = mnist_like(batch, dt)
        return FACTORIES[engine](mlp_params(dt), X, labels, onehot, act)[1]

    return setup


def cases(quick):
    return [
        Case(NAME, _cell(a, b, d), e, _setup(e, a, b, d))
        for a, b, d in cells()
        for e in installed()
    ]


def report(results):
    rows = []
    for a, b, d in cells():
        cell = _cell(a, b, d)
        floor = results.get((NAME, cell, "numpy"))
        for engine in installed():
            case = results[(NAME, cell, engine)]
            if not case.samples:
                rows.append(Row(NAME, cell, engine, case.error[:90], target="", verdict="FAIL"))
                continue
            ratio = paired_ratio(case, floor) if floor else float("nan")
            target = ok = ""
            if engine == "numpy":
                text = "floor"
            else:
                text = f"{ratio:.2f}x numpy"
                strict = results.get((NAME, cell, "numpy-inplace"))
                if engine != "numpy-inplace" and strict and strict.samples:
                    text += f", {paired_ratio(case, strict):.2f}x in-place"
            if engine == "tinygrad_act":
                target, ok = f"<= {TARGET:.2f}x numpy", verdict(ratio <= TARGET)
            # Page faults show glibc handing a step fresh pages for its large arrays (its
            # dynamic mmap threshold depends on what the process freed before): that, not the
            # engine, is what a cell with hundreds of faults per step measures.
            faults = statistics.median(case.faults) if case.faults else 0.0
            value = f"{fmt_time(case.median)}, {faults:.0f} faults/step"
            rows.append(Row(NAME, cell, engine, value, text, target, ok))
    return rows


def ratios(results):
    """{engine: [(cell, time / numpy time)]}, for the plot."""
    out = {}
    for a, b, d in cells():
        cell = _cell(a, b, d)
        floor = results.get((NAME, cell, "numpy"))
        for engine in installed():
            case = results.get((NAME, cell, engine))
            if engine != "numpy" and case and case.samples and floor and floor.samples:
                out.setdefault(engine, []).append((cell, paired_ratio(case, floor)))
    return out
