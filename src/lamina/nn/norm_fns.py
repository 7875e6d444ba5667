"""Normalisation functions built from differentiable ops: normalize, rms_norm, local_response_norm.

    normalize            y = x / max(||x||_p, eps)                          along ``dim``
    rms_norm             y = x / sqrt(mean(x^2) + eps) * weight             over the trailing dims
    local_response_norm  y = x / (k + alpha / n sum_{c' near c} x_{c'}^2)^beta   across channels
"""
from __future__ import annotations

import numbers

import numpy as np

from ..ops import elementwise as E
from ..ops.creation import zeros
from ..ops.reduce import norm
from ..ops.shape import cat
from ..tensor import Tensor


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``: unit vectors (the clamp keeps zero vectors finite).

    >>> F.normalize(lamina.randn(8, 16), dim=1).norm(dim=1)      # all 1
    """
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported; use the returned tensor")
    if not isinstance(input, Tensor):
        raise TypeError(f"normalize: expected a Tensor, got {type(input).__name__}")
    nd = max(input.ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(f"normalize: dim {dim} is out of range for a tensor of shape {input.shape}")
    x = input if input.ndim else input.reshape(1)
    y = x / E.clamp(norm(x, p, dim, keepdim=True), eps, None)
    return y if input.ndim else y.reshape(())


def _trailing(input: Tensor, normalized_shape, name: str) -> tuple:
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    shape = tuple(int(n) for n in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"{name}: Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(n) for n in shape)}], but got input of size {list(input.shape)}")
    return tuple(range(input.ndim - k, input.ndim))


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight, the mean over the trailing ``normalized_shape`` dims.

    ``eps=None`` uses the machine epsilon of the input's dtype (PyTorch's default).

    >>> F.rms_norm(lamina.randn(2, 5, 8), (8,)).shape     # (2, 5, 8)
    """
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError(f"rms_norm: expected a floating-point Tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    axes = _trailing(input, normalized_shape, "rms_norm")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    y = input * E.rsqrt((input * input).mean(axes, keepdim=True) + eps)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape[axes[0]:]):
            raise RuntimeError(f"rms_norm: weight shape {tuple(weight.shape)} does not match normalized_shape "
                               f"{tuple(input.shape[axes[0]:])}")
        y = y * weight
    return y


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """x / (k + alpha / size * sum of x^2 over ``size`` neighbouring channels)^beta (AlexNet's LRN).

    Input (N, C, *) with at least 3 dims; the channel window of c is [c - size//2, c + (size-1)//2],
    zero-padded at the ends.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"local_response_norm: expected a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    parts = [zeros(input.shape[0], n, *input.shape[2:], dtype=input.dtype, device=input.device) if n else None
             for n in (before, after)]
    parts = [t for t in (parts[0], sq, parts[1]) if t is not None]
    padded = cat(parts, 1) if len(parts) > 1 else sq
    acc = padded[:, 0:c]
    for i in range(1, size):   # a loop over the window offsets (a small fixed number)
        acc = acc + padded[:, i:i + c]
    div = E.pow(acc * (alpha / size) + k, beta)
    return input / div
