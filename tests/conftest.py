"""Shared test helpers: an independent central-difference derivative, seeded randomness, and one
quick build of the demo page for the tests that read it and the ones that look at it in a browser."""

import contextlib
import io

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


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """`tinygrad-act demo --quick` into a temporary folder: (folder, exit code, stdout, stderr)."""
    from tinygrad_act import cli

    out = tmp_path_factory.mktemp("demo")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["demo", "--out", str(out), "--quick"])
    return out, code, stdout.getvalue(), stderr.getvalue()
