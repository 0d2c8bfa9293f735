"""Optimizers: `SGD` and `Adam`, as torch.optim's; they update scalar parameters (float ``data``)
and tensor parameters (arrays, updated in place) alike."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_act.engine import Value
from tinygrad_act.nn.modules import Module


def _check_range(name, value, low, high=math.inf, high_open=True, low_open=False):
    """`value` as a float when it is a real number in the range (numpy scalars included)."""
    real = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    ok = real and (low < value if low_open else low <= value)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        brackets = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a number in {brackets}, got {value!r}")
    return float(value)


class Optimizer:
    """Holds the parameters; `zero_grad()` clears their gradients, `step()` updates them.

    The base of `SGD` and `Adam`; a subclass writes `step()`.

    >>> w = Value(1.0)
    >>> opt = SGD([w], lr=0.1)
    >>> isinstance(opt, Optimizer), opt.params == [w]
    (True, True)
    """

    def __init__(self, params, lr):
        if isinstance(params, Module):
            params = params.parameters()
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        first = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__} takes Values, got {type(p).__name__}")
            j = first.setdefault(id(p), i)
            if j != i:  # it would be updated twice per step
                raise ValueError(
                    f"{type(self).__name__} got the same parameter twice (at positions {j} and "
                    f"{i}); pass each Value once"
                )
        self.lr = _check_range("lr", lr, 0.0)
        self.state = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def step(self):
        for i, p in enumerate(self.params):
            g = p.grad_data
            if g is None:
                continue
            if p.is_scalar:
                p.data -= self._update(i, float(g), p.data)
            else:
                p.data -= self._update(i, g, p.data)  # in place: ndarray -= keeps the same array


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``: g += wd·p; v = μv + g; p -= lr·v.

    Change ``opt.lr`` between steps for a schedule (micrograd's demo decays it).

    >>> w = Value(1.0)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).backward()
    >>> opt.step()
    >>> w.data
    0.8
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0)
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0)
        self._scratch = {}  # parameter index -> the array lr·g is written into

    def _update(self, i, g, data):
        if self.weight_decay:
            g = g + self.weight_decay * data
        if self.momentum:
            buf = self.state[i]
            if buf is None:
                buf = g if type(g) is float else np.array(g, copy=True)
            else:
                buf = self.momentum * buf + g
            self.state[i] = buf
            g = buf
        if type(g) is float:
            return self.lr * g
        # lr·g into an array of the optimizer's own, made once: the step allocates nothing, as a
        # hand-written one that updates in place (the same product, so the same bits as lr * g).
        scratch = self._scratch.get(i)
        if scratch is None or scratch.shape != g.shape or scratch.dtype != g.dtype:
            scratch = self._scratch[i] = np.empty_like(g)
        return np.multiply(g, self.lr, out=scratch)


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (weight decay added to the gradient, bias-corrected moments).

    >>> w = Value(1.0)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).backward()
    >>> opt.step()
    >>> round(w.data, 6)
    0.9
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        b1 = _check_range("betas[0]", betas[0], 0.0, 1.0)
        b2 = _check_range("betas[1]", betas[1], 0.0, 1.0)
        # eps keeps the step finite where the second moment is 0 (a gradient that is always 0)
        self.eps = _check_range("eps", eps, 0.0, low_open=True)
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0)
        self.betas = (b1, b2)

    def _update(self, i, g, data):
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + self.weight_decay * data
        m, v, t = self.state[i] or (0.0 * g, 0.0 * g, 0)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        t += 1
        self.state[i] = (m, v, t)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return (
            self.lr
            * m_hat
            / ((math.sqrt(v_hat) if type(v_hat) is float else np.sqrt(v_hat)) + self.eps)
        )
