"""Autoencoders: a dense and a convolutional one, a denoising variant, and their reconstruction losses.

    z = encoder(x);   x̂ = decoder(z)                     (x̂: values for 'mse', logits for 'bce')
    loss = mean (x̂ - x)²          or   mean BCE(sigmoid(x̂), x)    (ReconstructionLoss)
    anomaly_score(x)_i = mean_j loss(x̂_ij, x_ij)          (one number per sample)

A model's input is its own target, so train it on ``(input, target)`` pairs, which
:class:`~lamina.models.ae_data.ReconstructionDataset` makes from any data set (adding noise to the
input for a denoising autoencoder):

>>> model = Autoencoder(64, [128], latent_dim=8, reconstruction="bce")
>>> Trainer(model, model.loss_fn(), optim.Adam(model.parameters())).fit(DataLoader(ReconstructionDataset(x), 64))
"""
from __future__ import annotations

import numbers

from ..autograd import no_grad
from ..nn import functional as F
from ..nn.containers import Sequential
from ..nn.layers.conv import Conv2d, ConvTranspose2d
from ..nn.layers.flatten import Flatten, Unflatten
from ..nn.layers.linear import Linear
from ..nn.module import Module
from ..tensor import Tensor
from .mlp import MLP, make_activation
from .registry import Configurable, register_model

__all__ = ["Autoencoder", "ConvAutoencoder", "DenoisingAutoencoder", "ReconstructionLoss", "reconstruction_error"]

_KINDS = ("mse", "bce")


def _check_kind(kind, owner):
    if kind not in _KINDS:
        raise ValueError(f"{owner}: reconstruction must be 'mse' or 'bce' (binary cross-entropy on logits), got {kind!r}")
    return kind


def _match_target(recon: Tensor, target, owner: str) -> Tensor:
    if target is None:
        raise ValueError(f"{owner}: no target to reconstruct (the batch had no second element); train on "
                         "(input, target) pairs, e.g. ReconstructionDataset(data)")
    if not isinstance(target, Tensor):
        raise TypeError(f"{owner}: target must be a Tensor, got {type(target).__name__}")
    if target.dtype.kind != "f":
        raise TypeError(f"{owner}: target must be a float tensor (the data to reconstruct), got dtype {target.dtype} "
                        f"of shape {tuple(target.shape)}; class labels are not a reconstruction target")
    if tuple(target.shape) != tuple(recon.shape):
        if target.ndim == 0 or recon.ndim == 0 or target.shape[0] != recon.shape[0] or target.numel() != recon.numel():
            raise ValueError(f"{owner}: target of shape {tuple(target.shape)} does not match the reconstruction of "
                             f"shape {tuple(recon.shape)}")
        target = target.reshape(recon.shape)
    return target


def _elementwise(recon: Tensor, target: Tensor, kind: str) -> Tensor:
    if kind == "mse":
        return F.mse_loss(recon, target, reduction="none")
    return F.binary_cross_entropy_with_logits(recon, target, reduction="none")


def reconstruction_error(recon: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """Per-sample error ``e_i = mean_j l(x̂_ij, x_ij)``, l = squared error ('mse') or BCE on logits ('bce').

    recon, target: (N, ...) of the same number of elements; returns (N,).
    >>> reconstruction_error(model(x), x).shape     # (N,)
    """
    _check_kind(kind, "reconstruction_error")
    target = _match_target(recon, target, "reconstruction_error")
    err = _elementwise(recon, target, kind)
    return err.reshape(err.shape[0], -1).mean(1) if err.ndim > 1 else err


class ReconstructionLoss(Module):
    """Reconstruction loss: mean squared error ('mse') or binary cross-entropy on logits ('bce').

        'mse': l = (x̂ - x)²;   'bce': l = -x log σ(x̂) - (1 - x) log(1 - σ(x̂))   (x in [0, 1])

    reduced over every element with ``reduction`` ('mean' as torch's MSELoss/BCEWithLogitsLoss,
    'sum', or 'none'). The target may be shaped differently with the same elements per sample
    (a flat reconstruction of an image batch).
    >>> ReconstructionLoss("bce")(logits, x)     # a scalar
    """

    def __init__(self, kind: str = "mse", reduction: str = "mean"):
        super().__init__()
        self.kind = _check_kind(kind, "ReconstructionLoss")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"ReconstructionLoss: {reduction} is not a valid value for reduction")
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        target = _match_target(input, target, f"ReconstructionLoss({self.kind!r})")
        if self.kind == "mse":
            return F.mse_loss(input, target, reduction=self.reduction)
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, reduction={self.reduction!r}"


class _AutoencoderBase(Configurable, Module):
    """encode / decode / reconstruct / anomaly_score / loss_fn shared by the autoencoders."""

    encoder: Module
    decoder: Module

    def encode(self, x: Tensor) -> Tensor:
        """The latent code z = encoder(x), shape (N, latent_dim)."""
        return self.encoder(self._check_input(x))

    def decode(self, z: Tensor) -> Tensor:
        """decoder(z): reconstructions as values ('mse') or logits ('bce')."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"{type(self).__name__}(latent_dim={self.latent_dim}): latent codes must have shape "
                             f"(N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        """x̂ = decoder(encoder(x)), shaped like x (logits for 'bce')."""
        out = self.decode(self.encode(x))
        return out.reshape(x.shape)

    def reconstruct(self, x: Tensor) -> Tensor:
        """The reconstruction in data space: x̂ ('mse') or sigmoid(x̂) ('bce'), without a graph."""
        with no_grad():
            out = self(x)
            return out.sigmoid() if self.reconstruction == "bce" else out

    def anomaly_score(self, x: Tensor, target: Tensor | None = None) -> Tensor:
        """Per-sample reconstruction error (N,), larger = less like the training data (no graph).

        ``target`` defaults to ``x`` (give the clean data when ``x`` is a noisy version)."""
        with no_grad():
            return reconstruction_error(self(x), x if target is None else target, self.reconstruction)

    def loss_fn(self, reduction: str = "mean") -> ReconstructionLoss:
        """The training loss matching this model's output: ``ReconstructionLoss(self.reconstruction)``."""
        return ReconstructionLoss(self.reconstruction, reduction)

    def _check_input(self, x):
        raise NotImplementedError


def _positive_int(v, name, owner):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")
    return int(v)


@register_model("autoencoder")
class Autoencoder(_AutoencoderBase):
    """Dense autoencoder: an MLP encoder in_features -> hidden_sizes -> latent_dim and the mirrored
    MLP decoder latent_dim -> reversed(hidden_sizes) -> in_features (no activation on either end).

    Args:
        in_features: size of each (flattened) input sample.
        hidden_sizes: encoder widths; the decoder uses them in reverse.
        latent_dim: size of the code z.
        activation: hidden activation ('relu', 'gelu', 'tanh', ...).
        reconstruction: 'mse' (output = values) or 'bce' (output = logits, data in [0, 1]).

    >>> ae = Autoencoder(64, [128, 32], latent_dim=2)
    >>> ae.encode(lamina.rand(5, 64)).shape     # (5, 2)
    """

    def __init__(self, in_features: int, hidden_sizes=(128,), latent_dim: int = 16, activation="relu",
                 reconstruction: str = "mse"):
        super().__init__()
        owner = type(self).__name__
        self.in_features = _positive_int(in_features, "in_features", owner)
        self.latent_dim = _positive_int(latent_dim, "latent_dim", owner)
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        self.hidden_sizes, self.activation = tuple(hidden), activation
        self.reconstruction = _check_kind(reconstruction, owner)
        self.encoder = MLP(self.in_features, hidden, self.latent_dim, activation=activation)
        self.decoder = MLP(self.latent_dim, hidden[::-1], self.in_features, activation=activation)

    def _check_input(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim > 2:
            x = x.flatten(1)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{type(self).__name__}(in_features={self.in_features}): input has "
                             f"{x.shape[-1] if x.ndim else 0} features (input shape {tuple(x.shape)})")
        return x

    def get_config(self) -> dict:
        cfg = super().get_config()
        if not isinstance(self.activation, str):
            cfg["activation"] = self.activation.__name__
        return cfg


@register_model("denoising_autoencoder")
class DenoisingAutoencoder(Autoencoder):
    """A dense autoencoder trained to undo corruption: loss(decoder(encoder(noise(x))), x).

    The model is an :class:`Autoencoder`; the corruption is a data transform applied to the
    training inputs only (``ReconstructionDataset(data, noise=model.noise_transform())``), so
    evaluation and ``anomaly_score`` see clean data. ``noise`` is 'masking' (each element set to
    0 with probability ``noise_level``) or 'gaussian' (x + noise_level · ε).

    >>> dae = DenoisingAutoencoder(64, [128], 16, noise="masking", noise_level=0.3)
    >>> train = ReconstructionDataset(x_train, noise=dae.noise_transform(lamina.Generator().manual_seed(0)))
    """

    def __init__(self, in_features: int, hidden_sizes=(128,), latent_dim: int = 16, activation="relu",
                 reconstruction: str = "mse", noise: str = "masking", noise_level: float = 0.25):
        super().__init__(in_features, hidden_sizes, latent_dim, activation, reconstruction)
        if noise not in ("masking", "gaussian"):
            raise ValueError(f"DenoisingAutoencoder: noise must be 'masking' or 'gaussian', got {noise!r}")
        if not 0.0 <= float(noise_level) < (1.0 if noise == "masking" else float("inf")):
            raise ValueError(f"DenoisingAutoencoder: noise_level {noise_level!r} is out of range for {noise!r} noise")
        self.noise, self.noise_level = noise, float(noise_level)

    def noise_transform(self, generator=None):
        """The corruption as a batched data transform (MaskingNoise or GaussianNoise) drawing from ``generator``."""
        from .ae_data import GaussianNoise, MaskingNoise
        if self.noise == "masking":
            return MaskingNoise(self.noise_level, generator=generator)
        return GaussianNoise(self.noise_level, generator=generator)


@register_model("conv_autoencoder")
class ConvAutoencoder(_AutoencoderBase):
    """Convolutional autoencoder for (N, C, H, W) images.

        encoder: [Conv2d(k3, stride 2, pad 1) -> act] per width in ``channels`` -> Flatten -> Linear(latent_dim)
        decoder: Linear -> act -> Unflatten -> [ConvTranspose2d(k3, stride 2, pad 1, output_pad 1) -> act] ...
                 -> ConvTranspose2d(-> in_channels)          (each stage halves / doubles H and W)

    ``image_size`` (int or (H, W)) must be divisible by 2**len(channels).

    >>> cae = ConvAutoencoder(1, image_size=28, channels=(16, 32), latent_dim=8)
    >>> cae(lamina.rand(4, 1, 28, 28)).shape     # (4, 1, 28, 28)
    """

    def __init__(self, in_channels: int = 1, image_size=28, channels=(16, 32), latent_dim: int = 16,
                 activation="relu", reconstruction: str = "mse"):
        super().__init__()
        owner = "ConvAutoencoder"
        self.in_channels = _positive_int(in_channels, "in_channels", owner)
        size = (image_size, image_size) if isinstance(image_size, numbers.Integral) else tuple(image_size)
        chans = [channels] if isinstance(channels, numbers.Integral) else list(channels)
        if not chans:
            raise ValueError("ConvAutoencoder: channels must name at least one convolution width")
        for i, c in enumerate(chans):
            _positive_int(c, f"channels[{i}]", owner)
        f = 2 ** len(chans)
        if len(size) != 2 or any(not isinstance(s, numbers.Integral) or s <= 0 or s % f for s in size):
            raise ValueError(f"ConvAutoencoder: image_size must be positive and divisible by 2**len(channels) = {f} "
                             f"(one halving per conv), got {image_size!r}")
        self.image_size = size if size[0] != size[1] else size[0]
        self.channels, self.activation = tuple(chans), activation
        self.latent_dim = _positive_int(latent_dim, "latent_dim", owner)
        self.reconstruction = _check_kind(reconstruction, owner)
        self._size = size
        h, w = size[0] // f, size[1] // f
        enc, width = [], self.in_channels
        for c in chans:
            enc += [Conv2d(width, c, 3, stride=2, padding=1), make_activation(activation, owner)]
            width = c
        enc += [Flatten(), Linear(width * h * w, self.latent_dim)]
        self.encoder = Sequential(*enc)
        dec = [Linear(self.latent_dim, width * h * w), make_activation(activation, owner), Unflatten(1, (width, h, w))]
        outs = chans[::-1][1:] + [self.in_channels]
        for i, c in enumerate(outs):
            dec.append(ConvTranspose2d(width, c, 3, stride=2, padding=1, output_padding=1))
            if i < len(outs) - 1:
                dec.append(make_activation(activation, owner))
            width = c
        self.decoder = Sequential(*dec)

    def _check_input(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"ConvAutoencoder: input must be a Tensor, got {type(x).__name__}")
        want = (self.in_channels,) + self._size
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"ConvAutoencoder(in_channels={self.in_channels}, image_size={self.image_size}): "
                             f"expected input of shape (N, {', '.join(map(str, want))}), got {tuple(x.shape)}")
        return x

    def get_config(self) -> dict:
        cfg = super().get_config()
        if not isinstance(self.activation, str):
            cfg["activation"] = self.activation.__name__
        return cfg
