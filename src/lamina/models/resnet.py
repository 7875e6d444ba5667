"""CIFAR-style residual networks (He et al., 2016, section 4.2): ResNet-8/20/32/44/56/110.

    stem:   conv3x3(in_channels -> 16) -> BN -> ReLU                              (32x32)
    stage1: n BasicBlocks, 16 channels                                            (32x32)
    stage2: n BasicBlocks, 32 channels; the first has stride 2 and a 1x1 conv+BN shortcut (16x16)
    stage3: n BasicBlocks, 64 channels; likewise                                  (8x8)
    head:   global average pool -> Linear(64 -> num_classes)

with depth = 6n + 2. A BasicBlock computes y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
the shortcut being the identity, or a strided 1x1 conv + BN where the shape changes (the paper's
"option B"). DESIGN.md's ``resnet`` benchmark is ``resnet8()`` on 3x32x32 images.

state_dict keys follow torchvision: ``conv1``, ``bn1``, ``layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}``,
``layer{2,3}.0.downsample.{0,1}``, ``fc``.

>>> model = resnet20(num_classes=10)
>>> model(lamina.randn(8, 3, 32, 32)).shape     # (8, 10)
"""
from __future__ import annotations

import numbers

from ..nn import functional as F
from ..nn import init
from ..nn.containers import Sequential
from ..nn.layers.conv import Conv2d
from ..nn.layers.linear import Linear
from ..nn.layers.normalization import BatchNorm2d
from ..nn.layers.pooling import GlobalAvgPool2d
from ..nn.module import Module
from ..tensor import Tensor
from .registry import Configurable, build_from_config, register_model

__all__ = ["BasicBlock", "ResNet", "resnet8", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(Module):
    """y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3x3 convolutions.

    The first conv carries the stride; when ``stride != 1`` or the width changes, the shortcut
    is ``downsample`` = 1x1 conv (same stride) + BN, else the identity.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                         BatchNorm2d(out_channels))
        else:
            self.downsample = None

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


@register_model("resnet")
class ResNet(Configurable, Module):
    """CIFAR ResNet of depth 6n + 2 (8, 20, 32, 44, 56, 110): three stages of n BasicBlocks.

    Args:
        depth: total number of weighted layers, 6n + 2.
        in_channels: image channels (3 for CIFAR).
        num_classes: outputs (logits) of the final Linear.
        widths: channels of the three stages (the stem has widths[0]).
        zero_init_residual: start each block's last BN at gamma = 0, so every block begins as
            the identity (Goyal et al., 2017); off by default.

    Weights: convolutions get He-normal init (fan_out, ReLU gain), BN gamma = 1 and beta = 0, the
    Linear torch's default — torchvision's ResNet recipe.
    """

    def __init__(self, depth: int = 20, in_channels: int = 3, num_classes: int = 10, widths=(16, 32, 64),
                 zero_init_residual: bool = False):
        super().__init__()
        if not isinstance(depth, numbers.Integral) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNet: depth must be 6n + 2 with n >= 1 (8, 20, 32, 44, 56, 110), got {depth!r}")
        widths = tuple(widths)
        if len(widths) != 3 or not all(isinstance(w, numbers.Integral) and w > 0 for w in widths):
            raise ValueError(f"ResNet: widths must be three positive ints, got {widths!r}")
        self.depth, self.in_channels, self.num_classes = int(depth), in_channels, num_classes
        self.widths, self.zero_init_residual = widths, zero_init_residual
        n = (depth - 2) // 6
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = BatchNorm2d(widths[0])
        self.layer1 = self._stage(widths[0], widths[0], n, 1)
        self.layer2 = self._stage(widths[0], widths[1], n, 2)
        self.layer3 = self._stage(widths[1], widths[2], n, 2)
        self.pool = GlobalAvgPool2d()
        self.fc = Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BasicBlock) and zero_init_residual:
                init.zeros_(m.bn2.weight)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> Sequential:
        layers = [BasicBlock(in_channels, out_channels, stride)]
        layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
        return Sequential(*layers)

    def forward_features(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, widths[2]) pooled features (the input of ``fc``)."""
        if x.ndim != 4:
            raise ValueError(f"ResNet: expected a 4-D input (N, {self.in_channels}, H, W), got shape {tuple(x.shape)}")
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.pool(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.forward_features(x))


def _builder(depth: int):
    def build(**config) -> ResNet:
        return build_from_config(ResNet, config, {"depth": depth}, what=f"resnet{depth}")

    build.__name__ = f"resnet{depth}"
    build.__doc__ = (f"ResNet-{depth} for 32x32 images: {(depth - 2) // 6} BasicBlock(s) per stage, widths 16/32/64. "
                     f"Keyword arguments: in_channels, num_classes, widths, zero_init_residual.")
    register_model(f"resnet{depth}", ResNet, description=build.__doc__.split(":")[0], depth=depth)
    return build


resnet8 = _builder(8)
resnet20 = _builder(20)
resnet32 = _builder(32)
resnet44 = _builder(44)
resnet56 = _builder(56)
resnet110 = _builder(110)
