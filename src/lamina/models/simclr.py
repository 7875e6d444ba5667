"""SimCLR (Chen et al., 2020): contrastive self-supervision with two augmented views per image.

    h = f(x)            the encoder (the representation kept afterwards)
    z = g(h)            the projection head, Linear -> ReLU -> Linear (used only by the loss)
    loss = NT-Xent(z(view1), z(view2), temperature)         (lamina.nn.contrastive)

Train it with the ordinary Trainer on unlabeled images; ``TwoViewDataset`` makes the
``((view1, view2),)`` batches, the model returns the pair of projections, NTXentLoss takes it:

    model = SimCLR(encoder="conv", input_size=8)
    loader = DataLoader(TwoViewDataset(TensorDataset(x), simclr_augment(8)), batch_size=256, shuffle=True)
    Trainer(model, NTXentLoss(0.5), optim.Adam(model.parameters(), 1e-3)).fit(loader, epochs=100)

Then evaluate the frozen features with ``linear_probe`` (a linear classifier on ``encode(x)``)
or train the encoder further with few labels with ``fine_tune``.
"""
from __future__ import annotations

import copy
import numbers
from typing import NamedTuple

import numpy as np

from ..autograd import no_grad
from ..nn.containers import Sequential
from ..nn.layers.activation import ReLU
from ..nn.layers.conv import Conv2d
from ..nn.layers.flatten import Flatten
from ..nn.layers.linear import Linear
from ..nn.layers.normalization import BatchNorm1d, BatchNorm2d
from ..nn.layers.pooling import MaxPool2d
from ..nn.module import Module
from ..ops.shape import cat
from ..tensor import Tensor
from .registry import Configurable, register_model

__all__ = ["ProbeResult", "SimCLR", "encoder_features", "fine_tune", "linear_probe"]

_ENCODERS = ("conv", "mlp")


def _conv_encoder(in_channels, size, widths, feature_dim, bn):
    layers, c = [], in_channels
    for i, w in enumerate(widths):
        layers += [Conv2d(c, w, 3, padding=1)] + ([BatchNorm2d(w)] if bn else []) + [ReLU()]
        if i < len(widths) - 1 or len(widths) == 1:
            layers.append(MaxPool2d(2))
            size = (size[0] // 2, size[1] // 2)
        c = w
    if min(size) < 1:
        raise ValueError(f"SimCLR: input_size is too small for {len(widths)} conv stages")
    layers += [Flatten(), Linear(c * size[0] * size[1], feature_dim)] + ([BatchNorm1d(feature_dim)] if bn else [])
    return Sequential(*layers, ReLU())


def _mlp_encoder(in_features, widths, feature_dim, bn):
    layers, d = [Flatten()], in_features
    for w in [*widths, feature_dim]:
        layers += [Linear(d, w)] + ([BatchNorm1d(w)] if bn else []) + [ReLU()]
        d = w
    return Sequential(*layers)


@register_model("simclr")
class SimCLR(Configurable, Module):
    """Encoder + projection head for contrastive pre-training.

    Args:
        in_channels, input_size: image channels and side (int or (H, W)).
        encoder: 'conv' (3x3 conv stages with ``widths`` channels, max-pooling, then a Linear to
            ``feature_dim``) or 'mlp' (hidden Linear layers of ``widths``, then ``feature_dim``).
        widths: channels (conv) or hidden sizes (mlp).
        feature_dim: size of the representation h = encode(x).
        hidden_dim, projection_dim: the projection head h -> hidden_dim -> ReLU -> projection_dim.
        batch_norm: BatchNorm after each encoder layer and in the head (as in the paper).

    ``forward(x)`` gives z; ``forward(x1, x2)`` gives ``(z1, z2)`` (both views in one pass);
    ``encode(x)`` gives h. state_dict keys: ``encoder.*``, ``projector.*``.
    """

    def __init__(self, in_channels: int = 1, input_size=8, encoder: str = "conv", widths=(32, 64),
                 feature_dim: int = 128, hidden_dim: int = 128, projection_dim: int = 64, batch_norm: bool = True):
        super().__init__()
        if encoder not in _ENCODERS:
            raise ValueError(f"SimCLR: encoder must be one of {', '.join(_ENCODERS)}, got {encoder!r}")
        hw = (input_size, input_size) if isinstance(input_size, numbers.Integral) else tuple(input_size)
        widths = (widths,) if isinstance(widths, numbers.Integral) else tuple(widths)
        for name, v in [("in_channels", in_channels), ("feature_dim", feature_dim), ("hidden_dim", hidden_dim),
                        ("projection_dim", projection_dim)] + [(f"widths[{i}]", w) for i, w in enumerate(widths)] + \
                       [("input_size", s) for s in hw]:
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"SimCLR: {name} must be a positive int, got {v!r}")
        self.in_channels, self.input_size, self.encoder_type = in_channels, input_size, encoder
        self.widths, self.feature_dim, self.hidden_dim = widths, feature_dim, hidden_dim
        self.projection_dim, self.batch_norm, self.hw = projection_dim, batch_norm, hw
        if encoder == "conv":
            self.encoder = _conv_encoder(in_channels, hw, widths, feature_dim, batch_norm)
        else:
            self.encoder = _mlp_encoder(in_channels * hw[0] * hw[1], widths, feature_dim, batch_norm)
        self.projector = Sequential(Linear(feature_dim, hidden_dim), *([BatchNorm1d(hidden_dim)] if batch_norm else []),
                                    ReLU(), Linear(hidden_dim, projection_dim))

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg["encoder"] = self.encoder_type
        return cfg

    def _check(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"SimCLR: expected a Tensor, got {type(x).__name__}")
        if x.ndim == 2 and x.shape[1] == self.in_channels * self.hw[0] * self.hw[1]:
            return x.reshape(x.shape[0], self.in_channels, *self.hw)
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, *self.hw):
            raise ValueError(f"SimCLR(input_size={self.input_size}): expected input (N, {self.in_channels}, "
                             f"{self.hw[0]}, {self.hw[1]}), got shape {tuple(x.shape)}")
        return x

    def encode(self, x: Tensor) -> Tensor:
        """The representation h = f(x): (N, feature_dim)."""
        return self.encoder(self._check(x))

    def forward(self, x1: Tensor, x2: Tensor | None = None):
        if x2 is None:
            return self.projector(self.encode(x1))
        x1, x2 = self._check(x1), self._check(x2)
        z = self.projector(self.encoder(cat([x1, x2], 0)))
        n = x1.shape[0]
        return z[:n], z[n:]


# ---------------------------------------------------------------- evaluation with labels
class ProbeResult(NamedTuple):
    """What ``linear_probe`` and ``fine_tune`` return."""
    train_accuracy: float
    test_accuracy: float
    classifier: Module


def encoder_features(encoder, x, batch_size: int = 512) -> Tensor:
    """Frozen features: ``encoder.encode(x)`` (or ``encoder(x)``) in eval mode, without a graph, in batches."""
    fn = encoder.encode if hasattr(encoder, "encode") else encoder
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    was = getattr(encoder, "training", None)
    if was is not None:
        encoder.eval()
    try:
        with no_grad():
            parts = [fn(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    finally:
        if was is not None:
            encoder.train(was)
    return cat(parts, 0).reshape(x.shape[0], -1)


def _accuracy(logits: Tensor, y) -> float:
    return float((logits.array.argmax(1) == np.asarray(y.array if isinstance(y, Tensor) else y)).mean())


def _as_labels(y):
    return y if isinstance(y, Tensor) else Tensor(np.asarray(y, dtype=np.int64))


def linear_probe(encoder, x_train, y_train, x_test, y_test, epochs: int = 300, lr: float = 0.01,
                 weight_decay: float = 1e-3, standardize: bool = True, seed: int = 0) -> ProbeResult:
    """Accuracy of a linear classifier on frozen features (the standard test of a representation).

    The encoder is not changed. Features ``encode(x)`` are standardised with the training
    set's mean and std, then a Linear(features, classes) is trained full-batch with Adam
    (``epochs`` steps, L2 ``weight_decay``) on cross-entropy. ``seed`` fixes its initialisation.
    >>> linear_probe(model, x_tr, y_tr, x_te, y_te).test_accuracy
    """
    from .. import optim
    from ..backend import Generator
    from ..nn import functional as F

    y_train, y_test = _as_labels(y_train), _as_labels(y_test)
    f_train, f_test = encoder_features(encoder, x_train), encoder_features(encoder, x_test)
    if f_train.shape[0] != y_train.shape[0]:
        raise ValueError(f"linear_probe: {f_train.shape[0]} training inputs but {y_train.shape[0]} labels")
    if standardize:
        mu, sd = f_train.array.mean(0), f_train.array.std(0) + 1e-6
        f_train, f_test = Tensor._wrap((f_train.array - mu) / sd), Tensor._wrap((f_test.array - mu) / sd)
    num_classes = int(max(int(y_train.array.max()), int(y_test.array.max()))) + 1
    clf = Linear(f_train.shape[1], num_classes)
    clf.reset_parameters(generator=Generator().manual_seed(seed))
    opt = optim.Adam(clf.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(int(epochs)):
        opt.zero_grad()
        F.cross_entropy(clf(f_train), y_train).backward()
        opt.step()
    with no_grad():
        return ProbeResult(_accuracy(clf(f_train), y_train), _accuracy(clf(f_test), y_test), clf)


def fine_tune(encoder, x_train, y_train, x_test, y_test, epochs: int = 50, lr: float = 1e-3,
              batch_size: int = 64, weight_decay: float = 0.0, augment=None, copy_encoder: bool = True,
              seed: int = 0) -> ProbeResult:
    """Train ``encoder`` + a new Linear head end to end on (few) labels; test accuracy of the result.

    ``encoder``: a SimCLR model (its ``encoder`` and ``feature_dim`` are used) or a Module giving
    (N, D) features. The encoder is copied first unless ``copy_encoder=False``. ``augment`` (a
    batch transform) is applied to the training inputs. The classifier is ``Sequential(encoder, head)``.
    """
    from .. import optim
    from ..data import DataLoader, TensorDataset
    from ..data.transform_dataset import AugmentedLoader
    from ..nn.losses import CrossEntropyLoss
    from ..train import Trainer

    body = encoder.encoder if isinstance(encoder, SimCLR) else encoder
    body = copy.deepcopy(body) if copy_encoder else body
    x_train = x_train if isinstance(x_train, Tensor) else Tensor(np.asarray(x_train))
    x_test = x_test if isinstance(x_test, Tensor) else Tensor(np.asarray(x_test))
    if isinstance(encoder, SimCLR):
        x_train, x_test = encoder._check(x_train), encoder._check(x_test)
    y_train, y_test = _as_labels(y_train), _as_labels(y_test)
    was = body.training
    body.eval()
    with no_grad():
        dim = body(x_train[:2]).reshape(2, -1).shape[1]
    body.train(was)
    num_classes = int(max(int(y_train.array.max()), int(y_test.array.max()))) + 1
    from ..backend import Generator
    head = Linear(dim, num_classes)
    head.reset_parameters(generator=Generator().manual_seed(seed))
    model = Sequential(body, Flatten(), head)
    gen = Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, generator=gen)
    if augment is not None:
        loader = AugmentedLoader(loader, augment)
    trainer = Trainer(model, CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay))
    trainer.fit(loader, epochs=epochs, verbose=False)
    model.eval()
    with no_grad():
        result = ProbeResult(_accuracy(model(x_train), y_train), _accuracy(model(x_test), y_test), model)
    model.train()
    return result
