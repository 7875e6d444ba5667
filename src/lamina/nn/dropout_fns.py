"""Alpha dropout (for SELU networks): dropped units are set to SELU's negative saturation value,
then an affine map restores zero mean and unit variance:

    y = a (x m + alpha' (1 - m)) + b,  m ~ Bernoulli(1 - p),  alpha' = -SELU_SCALE * SELU_ALPHA
    a = 1 / sqrt((alpha'^2 p + 1)(1 - p)),  b = -a alpha' p          dx = dy a m

``feature_alpha_dropout`` drops whole channels (one m per (sample, channel)). Both are the
identity when not ``training`` (the functions' default, as in PyTorch) or when p = 0.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..ops import elementwise as E
from ..tensor import Tensor

_ALPHA = 1.7580993408473766   # SELU_SCALE * SELU_ALPHA


def _alpha_dropout(input: Tensor, p: float, training: bool, feature: bool, name: str, generator=None) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
    if feature and input.ndim < 2:
        raise RuntimeError(f"{name}: Feature dropout requires at least 2 dimensions in the input "
                           f"(got shape {input.shape})")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        return E.mask_mul(input, input.xp.zeros((), dtype=input.dtype))
    shape = (input.shape[0], input.shape[1]) + (1,) * (input.ndim - 2) if feature else input.shape
    ft = backend.float64 if input.dtype == backend.float64 else backend.float32
    keep = backend.rng(generator).random(shape, dtype=ft) >= p
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    scale = (keep * a).astype(input.dtype)
    shift = ((keep.astype(np.float64) - 1.0) * _ALPHA * a + _ALPHA * a * p).astype(input.dtype)
    if input.device.type != "cpu":  # pragma: no cover - needs a GPU
        scale, shift = backend.to_device(scale, input.device), backend.to_device(shift, input.device)
    return E.mask_mul(input, scale) + Tensor._wrap(shift)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False,
                  generator=None) -> Tensor:
    """Alpha dropout of single units (keeps SELU activations' mean 0 and variance 1).

    >>> F.alpha_dropout(lamina.randn(4, 8), 0.2, training=True).shape      # (4, 8)
    """
    return _alpha_dropout(input, p, training, False, "alpha_dropout", generator)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False,
                          generator=None) -> Tensor:
    """Alpha dropout of whole channels of (N, C, *) inputs."""
    return _alpha_dropout(input, p, training, True, "feature_alpha_dropout", generator)
