"""The code students bring runs unchanged on Values.

Three forward passes written the way the courses ask students to write them (our own code, from
the courses' public descriptions): the one-hidden-layer tanh network of Course 1 on a planar
"flower" dataset, in numpy; an L-layer ReLU/sigmoid network with inverted dropout and an L2 term,
in numpy; and a batch-normalised MLP in PyTorch's spelling, as in "Becoming a backprop ninja".
Each function runs on plain arrays (or torch tensors) as written, and on Values with the
parameters wrapped; ``backward()`` then gives every gradient, compared with the gradients derived
by hand (the numpy networks) or with PyTorch's autograd, intermediate by intermediate (the MLP).
"""

import numpy as np
import pytest

from tinygrad_act import Value

torch = pytest.importorskip("torch")


def flower(m=60, seed=3):
    """A small planar dataset: two classes of points on the petals of a rose curve."""
    rng = np.random.default_rng(seed)
    X, Y = np.zeros((2, m)), np.zeros((1, m))
    half = m // 2
    for label in (0, 1):
        t = np.linspace(label * 3.1, (label + 1) * 3.1, half) + rng.normal(0, 0.2, half)
        r = 4 * np.sin(4 * t) + rng.normal(0, 0.2, half)
        X[:, label * half : (label + 1) * half] = np.stack([r * np.sin(t), r * np.cos(t)])
        Y[0, label * half : (label + 1) * half] = label
    return X, Y


# ---- Course 1: one hidden layer, tanh, then sigmoid -------------------------------------------------


def forward_propagation(X, parameters):
    W1, b1, W2, b2 = (parameters[k] for k in ("W1", "b1", "W2", "b2"))
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = 1 / (1 + np.exp(-Z2))
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2, Y):
    m = Y.shape[1]
    logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
    cost = -np.sum(logprobs) / m
    return np.squeeze(cost)


def backward_by_hand(parameters, cache, X, Y):
    """The gradients as the course derives them: dZ2 = A2 - Y, dZ1 = W2ᵀdZ2 ⊙ (1 - A1²)."""
    m = X.shape[1]
    A1, A2, W2 = cache["A1"], cache["A2"], parameters["W2"]
    dZ2 = A2 - Y
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    return {
        "W2": np.dot(dZ2, A1.T) / m,
        "b2": np.sum(dZ2, axis=1, keepdims=True) / m,
        "W1": np.dot(dZ1, X.T) / m,
        "b1": np.sum(dZ1, axis=1, keepdims=True) / m,
    }


def initialize(layer_dims, seed=2):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * 0.5
        params[f"b{l}"] = rng.standard_normal((layer_dims[l], 1)) * 0.1
    return params


def test_the_planar_networks_numpy_forward_runs_on_values_and_backward_gives_the_courses_gradients():  # fmt: skip
    X, Y = flower()
    plain = initialize([2, 4, 1])
    A2_plain, cache = forward_propagation(X, plain)
    expected = backward_by_hand(plain, cache, X, Y)

    params = {k: Value(v, label=k) for k, v in plain.items()}
    A2, _ = forward_propagation(X, params)
    cost = compute_cost(A2, Y)
    assert isinstance(cost, Value) and cost.shape == ()
    assert cost.item() == pytest.approx(float(compute_cost(A2_plain, Y)), rel=1e-12)
    np.testing.assert_allclose(A2.data, A2_plain, rtol=1e-12)
    cost.backward()
    for name, grad in expected.items():
        np.testing.assert_allclose(params[name].grad, grad, rtol=1e-10, atol=1e-13)


def test_gradient_descent_written_in_numpy_lowers_the_cost_on_values():
    X, Y = flower()
    params = {k: Value(v) for k, v in initialize([2, 4, 1]).items()}
    costs = []
    for _ in range(30):
        A2, _ = forward_propagation(X, params)
        cost = compute_cost(A2, Y)
        costs.append(cost.item())
        for p in params.values():
            p.zero_grad()
        cost.backward()
        params = {k: Value(p.data - 1.2 * p.grad) for k, p in params.items()}
    assert costs[-1] < costs[0] - 0.05


# ---- Course 1 and 2: an L-layer ReLU network, inverted dropout, L2 regularization ---------------------


def L_model_forward(X, parameters, keep_prob, masks):
    L = len(parameters) // 2
    A, caches = X, []
    for l in range(1, L):
        Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
        A = np.maximum(0, Z)  # relu
        D = masks[l]
        A = np.multiply(A, D)
        A = A / keep_prob
        caches.append((Z, D))
    ZL = np.dot(parameters[f"W{L}"], A) + parameters[f"b{L}"]
    AL = 1 / (1 + np.exp(-ZL))
    return AL, caches


def cost_with_l2(AL, Y, parameters, lambd):
    m = Y.shape[1]
    cross_entropy = -np.sum(np.multiply(Y, np.log(AL)) + np.multiply(1 - Y, np.log(1 - AL))) / m
    L = len(parameters) // 2
    l2 = lambd / (2 * m) * sum(np.sum(np.square(parameters[f"W{l}"])) for l in range(1, L + 1))
    return cross_entropy + l2


def L_model_backward_by_hand(X, Y, parameters, keep_prob, masks, lambd):
    """The course's backward pass, from the cached forward values: dZ = dA ⊙ relu'(Z) with the
    dropout mask applied to dA, dW = dZ A_prevᵀ/m + (λ/m) W."""
    m, L = X.shape[1], len(parameters) // 2
    As = [X]
    Zs = [None]
    A = X
    for l in range(1, L + 1):
        Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
        A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z) * masks[l] / keep_prob
        Zs.append(Z)
        As.append(A)
    grads = {}
    dZ = As[L] - Y
    for l in range(L, 0, -1):
        grads[f"W{l}"] = np.dot(dZ, As[l - 1].T) / m + lambd / m * parameters[f"W{l}"]
        grads[f"b{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dA = np.dot(parameters[f"W{l}"].T, dZ) * masks[l - 1] / keep_prob
            dZ = dA * (Zs[l - 1] > 0)
    return grads


def test_an_l_layer_network_with_dropout_and_l2_written_in_numpy_gets_the_hand_derived_gradients():  # fmt: skip
    X, Y = flower(m=50, seed=8)
    dims, keep_prob, lambd = [2, 6, 5, 3, 1], 0.8, 0.7
    plain = initialize(dims, seed=5)
    rng = np.random.default_rng(11)
    masks = {l: (rng.random((dims[l], X.shape[1])) < keep_prob).astype(int) for l in range(1, 4)}

    params = {k: Value(v, label=k) for k, v in plain.items()}
    AL, _ = L_model_forward(X, params, keep_prob, masks)
    cost = cost_with_l2(AL, Y, params, lambd)
    AL_plain, _ = L_model_forward(X, plain, keep_prob, masks)
    assert cost.item() == pytest.approx(float(cost_with_l2(AL_plain, Y, plain, lambd)), rel=1e-12)
    cost.backward()
    expected = L_model_backward_by_hand(X, Y, plain, keep_prob, masks, lambd)
    assert set(expected) == set(params)
    for name, grad in expected.items():
        np.testing.assert_allclose(params[name].grad, grad, rtol=1e-10, atol=1e-13)
    assert all(params[f"W{l}"].grad.any() for l in range(1, 5))  # every layer gets a gradient


# ---- "Becoming a backprop ninja": a batch-normalised MLP in PyTorch's spelling -----------------------


def ninja_forward(C, W1, b1, bngain, bnbias, W2, b2, Xb, Yb):
    """Every intermediate of the forward pass, by name, as the lecture breaks it down."""
    n = Xb.shape[0]
    emb = C[Xb]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ W1 + b1
    bnmeani = hprebn.mean(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bnvar = bndiff.var(0, keepdim=True, unbiased=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = hpreact.tanh()
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdim=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    names = "emb embcat hprebn bnmeani bndiff bnvar bnvar_inv bnraw hpreact h logits logit_maxes norm_logits counts counts_sum counts_sum_inv probs logprobs loss"  # fmt: skip
    scope = locals()
    return {name: scope[name] for name in names.split()}


def test_a_backprop_ninja_forward_in_pytorchs_spelling_matches_pytorch_at_every_intermediate():
    rng = np.random.default_rng(42)
    vocab, n_embd, block, n_hidden, n = 27, 5, 3, 32, 16
    shapes = {
        "C": (vocab, n_embd),
        "W1": (n_embd * block, n_hidden),
        "b1": (n_hidden,),
        "bngain": (1, n_hidden),
        "bnbias": (1, n_hidden),
        "W2": (n_hidden, vocab),
        "b2": (vocab,),
    }
    init = {k: rng.standard_normal(s) * (0.3 if k != "bngain" else 0.1) + (k == "bngain") for k, s in shapes.items()}  # fmt: skip
    Xb = rng.integers(0, vocab, (n, block))
    Yb = rng.integers(0, vocab, n)

    ours = {k: Value(v, label=k) for k, v in init.items()}
    theirs = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    steps = ninja_forward(**ours, Xb=Xb, Yb=Yb)
    tsteps = ninja_forward(**theirs, Xb=torch.tensor(Xb), Yb=torch.tensor(Yb))
    for t in tsteps.values():
        t.retain_grad()
    steps["loss"].backward()
    tsteps["loss"].backward()

    assert list(steps) == list(tsteps) and len(steps) == 19
    for name, v in steps.items():
        t = tsteps[name]
        np.testing.assert_allclose(v.data, t.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)  # fmt: skip
        np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-9, atol=1e-13, err_msg=f"d{name}")  # fmt: skip
    for name, v in ours.items():
        np.testing.assert_allclose(v.grad, theirs[name].grad.numpy(), rtol=1e-9, atol=1e-13, err_msg=f"d{name}")  # fmt: skip
