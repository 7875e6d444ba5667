"""pixel_shuffle, pixel_unshuffle and channel_shuffle (PyTorch's functional ops): pure rearrangements.

pixel_shuffle moves r x r channel blocks into space (sub-pixel convolution upsampling):

    y[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w]        (*, C*r^2, H, W) -> (*, C, H*r, W*r)

pixel_unshuffle is its inverse, channel_shuffle(x, g) interleaves g channel groups
(x[:, k*(C/g) + j] -> y[:, j*g + k]). Each is a reshape, a permute and a reshape, so the gradient is
the inverse rearrangement (autograd's).
"""
from __future__ import annotations

import numbers

from ..tensor import Tensor


def _factor(op: str, name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {value!r}")
    return int(value)


def _check(op: str, x, least: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < least:
        raise RuntimeError(f"{op} expects input to have at least {least} dimensions, but got input with "
                           f"{x.ndim} dimension(s)")


def pixel_shuffle(input, upscale_factor) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r): y[..., c, h*r + i, w*r + j] = x[..., c*r^2 + i*r + j, h, w].

    >>> pixel_shuffle(lamina.randn(1, 9, 4, 4), 3).shape     # (1, 1, 12, 12)
    """
    op = "pixel_shuffle"
    _check(op, input, 3)
    r = _factor(op, "upscale_factor", upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"{op} expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    b = len(lead)
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W), the inverse of pixel_shuffle."""
    op = "pixel_unshuffle"
    _check(op, input, 3)
    r = _factor(op, "downscale_factor", downscale_factor)
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(f"{op} expects height to be divisible by downscale_factor, but input.size(-2)={h} "
                           f"is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"{op} expects width to be divisible by downscale_factor, but input.size(-1)={w} "
                           f"is not divisible by {r}")
    b = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups) -> Tensor:
    """(N, C, *) -> (N, C, *) with the g channel groups interleaved: y[:, j*g + k] = x[:, k*(C/g) + j] (ShuffleNet)."""
    op = "channel_shuffle"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim <= 2:
        raise RuntimeError(f"{op} expects input with > 2 dims, but got input with sizes {list(input.shape)}")
    g = _factor(op, "groups", groups)
    n, c, *rest = input.shape
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]
