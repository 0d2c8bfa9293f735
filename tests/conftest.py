"""Shared test helpers: an independent central-difference derivative and seeded randomness."""

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("default", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("default")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def central_difference(f, x, eps=1e-6):
    """d f(x).sum() / dx by central differences, for a float or float64 array x (independent of the engine)."""
    if isinstance(x, float):
        return (f(x + eps) - f(x - eps)) / (2 * eps)
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = np.sum(f(x.copy()))
        x[i] = old - eps
        down = np.sum(f(x.copy()))
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad
