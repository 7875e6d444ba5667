"""LeNet-5 (LeCun et al., 1998), the classic small CNN for digits.

    conv 6@5x5 -> act -> pool 2 -> conv 16@5x5 -> act -> pool 2 -> flatten -> 120 -> act -> 84 -> act -> classes

Input-size rule (``input_size``):
  * 32 (the paper's size): no padding; feature maps 28 -> 14 -> 10 -> 5, so 16*5*5 = 400 features.
  * 28 (MNIST): conv1 gets padding 2, which makes the 28x28 image act as the paper's 32x32 one:
    the same 400 features and the same parameter count (61,706 for 1 channel, 10 classes).
    Any other size from 12 to 31 gets the same padding 2; sizes above 32 get none.
  * below 12 (e.g. the 8x8 scikit-learn digits): 5x5 kernels would eat the whole image, so both
    convolutions become 3x3 with padding 1 (size-preserving): 8 -> pool 4 -> pool 2, 16*2*2 = 64
    features, then the same 120 -> 84 -> classes head.

>>> LeNet5()(lamina.randn(4, 1, 32, 32)).shape                # (4, 10)
>>> LeNet5(input_size=8)(lamina.randn(4, 1, 8, 8)).shape       # (4, 10)
"""
from __future__ import annotations

import numbers

from ..nn.containers import Sequential
from ..nn.layers.conv import Conv2d
from ..nn.layers.linear import Linear
from ..nn.layers.pooling import AvgPool2d, MaxPool2d
from ..nn.module import Module
from ..tensor import Tensor
from .mlp import make_activation
from .registry import Configurable, register_model


def _geometry(size: int) -> tuple[int, int, int]:
    """(kernel, conv1 padding, conv2 padding) for an input side of ``size`` (see the module docstring)."""
    if size < 12:
        return 3, 1, 1
    return 5, (2 if size < 32 else 0), 0


@register_model("lenet5")
@register_model("lenet")
class LeNet5(Configurable, Module):
    """LeNet-5: two conv/pool stages (6 and 16 channels) and a 120 -> 84 -> num_classes head.

    Args:
        in_channels: image channels (1 for digits, 3 for colour images).
        num_classes: outputs (logits).
        input_size: image side (or (H, W)); sets the padding/kernel rule of the module docstring.
        activation: 'relu' (default), 'tanh' (the paper's), or any name MLP accepts.
        pool: 'max' (default) or 'avg' (the paper's subsampling).

    state_dict keys: ``features.{0,3}.{weight,bias}`` (convs), ``classifier.{0,2,4}.{weight,bias}``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size=32, activation="relu",
                 pool: str = "max"):
        super().__init__()
        hw = (input_size, input_size) if isinstance(input_size, numbers.Integral) else tuple(input_size)
        if len(hw) != 2 or not all(isinstance(s, numbers.Integral) and s >= 4 for s in hw):
            raise ValueError(f"LeNet5: input_size must be an int or (H, W) of at least 4, got {input_size!r}")
        if pool not in ("max", "avg"):
            raise ValueError(f"LeNet5: pool must be 'max' or 'avg', got {pool!r}")
        self.in_channels, self.num_classes, self.input_size = in_channels, num_classes, input_size
        self.activation, self.pool = activation, pool
        k, p1, p2 = _geometry(min(hw))
        pooling = MaxPool2d if pool == "max" else AvgPool2d
        self.features = Sequential(
            Conv2d(in_channels, 6, k, padding=p1), make_activation(activation, "LeNet5"), pooling(2),
            Conv2d(6, 16, k, padding=p2), make_activation(activation, "LeNet5"), pooling(2))
        side = [((((s + 2 * p1 - k + 1) // 2) + 2 * p2 - k + 1) // 2) for s in hw]
        if min(side) < 1:
            raise ValueError(f"LeNet5: input_size {input_size!r} is too small for two 5x5 conv/pool stages")
        self.hw, self.num_features = hw, 16 * side[0] * side[1]
        self.classifier = Sequential(
            Linear(self.num_features, 120), make_activation(activation, "LeNet5"),
            Linear(120, 84), make_activation(activation, "LeNet5"),
            Linear(84, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[2:]) != self.hw:
            raise ValueError(f"LeNet5(input_size={self.input_size}): expected input (N, {self.in_channels}, "
                             f"{self.hw[0]}, {self.hw[1]}), got shape {tuple(x.shape)}")
        return self.classifier(self.features(x).flatten(1))
