"""Conditional VAE (Sohn et al., 2015): q(z|x, y) and p(x|z, y), with the one-hot label y
concatenated to the encoder's input [x, y] and the decoder's input [z, y].

>>> cvae = ConditionalVAE(64, num_classes=10, latent_dim=8)
>>> cvae.sample(10, labels=lamina.arange(10))     # one sample of each digit, (10, 64)
"""
from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from .registry import register_model
from .vae import VAE, _positive_int

__all__ = ["ConditionalVAE"]


@register_model("conditional_vae")
class ConditionalVAE(VAE):
    """Conditional VAE: q(z|x, y) and p(x|z, y), the one-hot label y concatenated to both inputs.

    ``forward(x, labels)``; ``sample(n, labels)`` draws z ~ N(0, I) and decodes with the given
    labels (an int for one class, or n labels). Other arguments as :class:`VAE`.

    >>> cvae = ConditionalVAE(64, num_classes=10, latent_dim=8)
    >>> cvae.sample(10, labels=lamina.arange(10))     # one sample of each digit, (10, 64)
    """

    def __init__(self, in_features: int, num_classes: int = 10, latent_dim: int = 16, hidden_sizes=(256, 256),
                 activation="relu", likelihood: str = "bernoulli", decoder_std: float | None = None):
        self.num_classes = _positive_int(num_classes, "num_classes", "ConditionalVAE")
        super().__init__(in_features, latent_dim, hidden_sizes, activation, likelihood, decoder_std)

    def _condition(self, labels, n: int, like: Tensor):
        owner = "ConditionalVAE"
        if labels is None:
            raise ValueError(f"{owner}: labels are required (ints in [0, {self.num_classes}))")
        if isinstance(labels, numbers.Integral) and not isinstance(labels, bool):
            arr = np.full(n, int(labels), dtype=np.int64)
        else:
            arr = labels.array if isinstance(labels, Tensor) else np.asarray(labels)
            if arr.dtype.kind not in "iu":
                raise TypeError(f"{owner}: labels must be integer class indices, got dtype {arr.dtype}")
            arr = arr.reshape(-1)
            if arr.shape[0] != n:
                raise ValueError(f"{owner}: got {arr.shape[0]} labels for {n} samples")
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= self.num_classes:
            raise IndexError(f"{owner}(num_classes={self.num_classes}): label {hi if hi >= self.num_classes else lo} "
                             f"is outside [0, {self.num_classes})")
        xp = like.xp
        onehot = xp.zeros((n, self.num_classes), dtype=like.dtype)
        onehot[xp.arange(n), xp.asarray(arr)] = 1
        return Tensor._wrap(onehot)

    def forward(self, x: Tensor, labels=None):
        """Encode (x, y), sample z once, decode (z, y): a VAE output for ``ELBOLoss``."""
        return self._output(x, labels)
