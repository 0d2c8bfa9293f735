"""tinygrad_act: a micrograd-style autograd engine built around "Derivatives of activation functions".

>>> from tinygrad_act import Value
>>> a = Value(0.0).sigmoid()
>>> a.backward()
>>> a.data
0.5
"""

from tinygrad_act.activations import (
    ACTIVATIONS,
    Activation,
    elu,
    exp,
    gelu,
    leaky_relu,
    log_softmax,
    register_activation,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
    unregister_activation,
)
from tinygrad_act.anomaly import AnomalyError, detect_anomaly, find_anomaly
from tinygrad_act.checks.backward import check_backward, compare
from tinygrad_act.compiler import compile, trace
from tinygrad_act.engine import Value, enable_grad, gradients, is_grad_enabled, no_grad
from tinygrad_act.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad
from tinygrad_act.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from tinygrad_act.numpy_api import cat, stack

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "AnomalyError",
    "GradcheckError",
    "Value",
    "cat",
    "check_backward",
    "compare",
    "compile",
    "detect_anomaly",
    "elu",
    "enable_grad",
    "exp",
    "find_anomaly",
    "gelu",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradients",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "leaky_relu",
    "log_softmax",
    "no_grad",
    "numerical_grad",
    "register_activation",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "stack",
    "tanh",
    "trace",
    "unregister_activation",
    "value_and_grad",
]
