"""VGG-style networks (Simonyan & Zisserman, 2015): stacks of 3x3 convolutions and 2x2 max pools.

``cfg`` lists the feature extractor: an int is Conv2d(3x3, padding 1) with that many channels
(+ BatchNorm2d with ``batch_norm``) + ReLU; ``'M'`` is MaxPool2d(2). The classifier flattens the
last feature map and applies ``hidden_sizes`` Linear -> ReLU -> Dropout layers, then Linear(num_classes).

    features: [32, 32, 'M', 64, 64, 'M'] on 3x32x32 -> (64, 8, 8) -> 4096 features
    classifier: Linear(4096 -> 256) -> ReLU -> Dropout(0.5) -> Linear(256 -> 10)

Named configurations (``cfg="vgg11"``...) are in ``VGG_CFGS``. state_dict keys follow
torchvision: ``features.{i}.*``, ``classifier.{j}.*``.

>>> VGG([32, 32, "M", 64, 64, "M"], batch_norm=True)(lamina.randn(8, 3, 32, 32)).shape   # (8, 10)
"""
from __future__ import annotations

import numbers

from ..nn.containers import Sequential
from ..nn.layers.activation import ReLU
from ..nn.layers.conv import Conv2d
from ..nn.layers.dropout import Dropout
from ..nn.layers.linear import Linear
from ..nn.layers.normalization import BatchNorm2d
from ..nn.layers.pooling import MaxPool2d
from ..nn.module import Module
from ..tensor import Tensor
from .registry import Configurable, _closest, register_model

VGG_CFGS = {
    "small": [32, 32, "M", 64, 64, "M"],
    "vgg_cifar_small": [32, 32, "M", 64, 64, "M", 128, 128, "M"],
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


@register_model("vgg")
class VGG(Configurable, Module):
    """A VGG network built from a ``cfg`` list (or the name of one in ``VGG_CFGS``).

    Args:
        cfg: e.g. ``[32, 32, 'M', 64, 64, 'M']``: ints are 3x3 conv widths, 'M' a 2x2 max pool.
        in_channels: image channels.
        num_classes: outputs (logits).
        input_size: image side (or (H, W)), to size the first Linear; each 'M' halves it.
        batch_norm: put a BatchNorm2d after every convolution.
        hidden_sizes: widths of the hidden Linear layers of the classifier ([] for one Linear).
        dropout: dropout after each hidden Linear + ReLU.
    """

    def __init__(self, cfg="small", in_channels: int = 3, num_classes: int = 10, input_size=32,
                 batch_norm: bool = False, hidden_sizes=(256,), dropout: float = 0.5):
        super().__init__()
        if isinstance(cfg, str):
            if cfg not in VGG_CFGS:
                raise ValueError(f"VGG: unknown cfg {cfg!r}{_closest(cfg, VGG_CFGS)} Valid: {', '.join(VGG_CFGS)}")
            layers_cfg = VGG_CFGS[cfg]
        else:
            layers_cfg = list(cfg)
        if not layers_cfg or not any(isinstance(v, numbers.Integral) for v in layers_cfg):
            raise ValueError(f"VGG: cfg needs at least one convolution width, got {cfg!r}")
        hw = (input_size, input_size) if isinstance(input_size, numbers.Integral) else tuple(input_size)
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        self.cfg, self.in_channels, self.num_classes, self.input_size = cfg, in_channels, num_classes, input_size
        self.batch_norm, self.hidden_sizes, self.dropout = batch_norm, tuple(hidden), dropout
        layers, c, (h, w) = [], in_channels, hw
        for v in layers_cfg:
            if v == "M":
                layers.append(MaxPool2d(2))
                h, w = h // 2, w // 2
                if h < 1 or w < 1:
                    raise ValueError(f"VGG: input_size {input_size!r} is too small for {layers_cfg.count('M')} "
                                     f"max pools in cfg {cfg!r}")
            elif isinstance(v, numbers.Integral) and v > 0:
                layers.append(Conv2d(c, int(v), 3, padding=1))
                if batch_norm:
                    layers.append(BatchNorm2d(int(v)))
                layers.append(ReLU())
                c = int(v)
            else:
                raise ValueError(f"VGG: cfg entries must be positive ints or 'M', got {v!r} in {cfg!r}")
        self.features = Sequential(*layers)
        self.hw, self.num_features = hw, c * h * w
        head, width = [], self.num_features
        for size in hidden:
            head += [Linear(width, size), ReLU()]
            if dropout > 0:
                head.append(Dropout(dropout))
            width = size
        head.append(Linear(width, num_classes))
        self.classifier = Sequential(*head)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[2:]) != self.hw:
            raise ValueError(f"VGG(input_size={self.input_size}): expected input (N, {self.in_channels}, "
                             f"{self.hw[0]}, {self.hw[1]}), got shape {tuple(x.shape)}")
        return self.classifier(self.features(x).flatten(1))
