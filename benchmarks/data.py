"""Inputs shared by the workloads, generated with numpy from fixed seeds (no scikit-learn needed)."""

from __future__ import annotations

import numpy as np


def moons(n=100, noise=0.1, seed=0):
    """Two interleaving half circles, as sklearn.datasets.make_moons: X (n, 2), labels -1 or +1."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
            np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1),
        ]
    )
    X += rng.normal(scale=noise, size=X.shape)
    y = np.concatenate([-np.ones(n_out), np.ones(n_in)])
    order = rng.permutation(n)
    return X[order], y[order]


def mnist_like(batch, dtype, seed=0):
    """A batch shaped like MNIST: inputs (batch, 784) in [0, 1), labels 0..9 and their one-hot rows."""
    rng = np.random.default_rng(seed)
    X = rng.random((batch, 784)).astype(dtype)
    labels = rng.integers(0, 10, size=batch)
    onehot = np.zeros((batch, 10), dtype=dtype)
    onehot[np.arange(batch), labels] = 1
    return X, labels, onehot


def mlp_params(dtype, sizes=(784, 256, 128, 10), seed=0):
    """Weights and biases [W1, b1, W2, b2, W3, b3], Glorot-uniform weights and zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params
