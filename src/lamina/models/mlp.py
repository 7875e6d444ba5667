"""MLP: a configurable multilayer perceptron.

    h_0 = flatten(x);  h_i = dropout(act(W_i h_{i-1} + b_i));  y = W_out h_L + b_out   (logits)

>>> model = MLP(64, [128, 64], 10, activation="relu", dropout=0.1)
>>> model(lamina.randn(32, 1, 8, 8)).shape     # (32, 10): inputs past 2-D are flattened
"""
from __future__ import annotations

import numbers

from ..nn.containers import Sequential
from ..nn.layers import activation as A
from ..nn.layers.dropout import Dropout
from ..nn.layers.linear import Linear
from ..tensor import Tensor
from .registry import Configurable, _closest, register_model

ACTIVATIONS = {
    "relu": A.ReLU, "relu6": A.ReLU6, "leaky_relu": A.LeakyReLU, "elu": A.ELU, "selu": A.SELU, "gelu": A.GELU,
    "silu": A.SiLU, "swish": A.SiLU, "mish": A.Mish, "sigmoid": A.Sigmoid, "tanh": A.Tanh, "softplus": A.Softplus,
    "hardtanh": A.Hardtanh,
}


def make_activation(activation, owner: str = "MLP"):
    """A fresh activation module from a name ('relu', 'gelu', ...) or a Module class."""
    if isinstance(activation, str):
        key = activation.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(f"{owner}: unknown activation {activation!r}{_closest(key, ACTIVATIONS)} "
                             f"Valid: {', '.join(sorted(ACTIVATIONS))}")
        return ACTIVATIONS[key]()
    if isinstance(activation, type):
        return activation()
    raise TypeError(f"{owner}: activation must be a name or a Module class, got {type(activation).__name__}")


@register_model("mlp")
class MLP(Configurable, Sequential):
    """Multilayer perceptron: Linear -> activation [-> Dropout] for each hidden size, then Linear(out_features).

    A ``Sequential``, so state_dict keys are ``"0.weight"``, ``"0.bias"``, ... exactly as the same
    ``torch.nn.Sequential``. Inputs with more than two dimensions are flattened from dim 1.

    Args:
        in_features: size of each (flattened) input sample.
        hidden_sizes: widths of the hidden layers (an int for one layer; [] for a linear model).
        out_features: number of outputs (classes, for a classifier).
        activation: 'relu', 'gelu', 'tanh', 'silu', ... or a Module class.
        dropout: drop probability after each hidden activation (0 = no Dropout layers).
        bias: whether the Linear layers have biases.
    """

    def __init__(self, in_features: int, hidden_sizes=(128,), out_features: int = 10, activation="relu",
                 dropout: float = 0.0, bias: bool = True):
        super().__init__()
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        for name, v in [("in_features", in_features), ("out_features", out_features)] + \
                       [(f"hidden_sizes[{i}]", h) for i, h in enumerate(hidden)]:
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"MLP: {name} must be a positive int, got {v!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout!r}")
        self.in_features, self.hidden_sizes, self.out_features = int(in_features), tuple(hidden), int(out_features)
        self.activation, self.dropout, self.bias = activation, float(dropout), bias
        width = self.in_features
        layers = []
        for h in hidden:
            layers += [Linear(width, h, bias=bias), make_activation(activation)]
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = h
        layers.append(Linear(width, self.out_features, bias=bias))
        for i, m in enumerate(layers):
            self.add_module(str(i), m)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim > 2:
            x = x.flatten(1)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"MLP(in_features={self.in_features}): input has {x.shape[-1] if x.ndim else 0} "
                             f"features (input shape {tuple(x.shape)})")
        return super().forward(x)

    def get_config(self) -> dict:
        cfg = super().get_config()
        if not isinstance(self.activation, str):
            cfg["activation"] = self.activation.__name__
        return cfg
