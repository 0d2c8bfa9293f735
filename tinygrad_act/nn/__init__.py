"""Neural networks on the engine: modules, losses and optimizers.

Two families share one `Module` base:

- scalar networks in micrograd's vocabulary (`Neuron`, `Layer`, `MLP`), whose parameters are scalar
  `Value`\\ s; they accept lists of scalar Values, numbers, or (for a whole batch at once) tensors;
- tensor networks in PyTorch's vocabulary (`Linear`, `Sequential`, activation modules such as `ReLU`).

Losses are written with the engine's ops, so their gradients come from backprop; the optimizers
update scalar parameters (float ``data``) and tensor parameters (arrays, updated in place) alike.

>>> import random
>>> model = MLP(2, [4, 1], rng=random.Random(0))
>>> model
MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(4)]]
>>> len(model.parameters())
17
"""

from tinygrad_act.nn.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    l2_penalty,
    mse_loss,
    svm_hinge_loss,
)
from tinygrad_act.nn.modules import (
    MLP,
    Activation,
    Layer,
    LeakyReLU,
    Linear,
    Module,
    Neuron,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    init_for,
    mlp,
)
from tinygrad_act.nn.optimizers import SGD, Adam, Optimizer

__all__ = [
    "MLP", "SGD", "Activation", "Adam", "Layer", "LeakyReLU", "Linear", "Module", "Neuron",
    "Optimizer", "ReLU", "Sequential", "Sigmoid", "Tanh", "binary_cross_entropy_with_logits",
    "cross_entropy", "init_for", "l2_penalty", "mlp", "mse_loss", "svm_hinge_loss",
]  # fmt: skip
