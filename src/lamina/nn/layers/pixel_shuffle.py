"""PixelShuffle, PixelUnshuffle and ChannelShuffle (PyTorch's modules): channel <-> space rearrangements.

PixelShuffle(r): (*, C*r^2, H, W) -> (*, C, H*r, W*r), y[..., c, h*r + i, w*r + j] = x[..., c*r^2 + i*r + j, h, w]
(sub-pixel convolution upsampling); PixelUnshuffle(r) is its inverse; ChannelShuffle(g) interleaves g channel
groups (ShuffleNet). The math is ``ops/pixel_shuffle.py``.

>>> nn.PixelShuffle(3)(lamina.randn(1, 9, 4, 4)).shape      # (1, 1, 12, 12)
"""
from __future__ import annotations

from ...ops import pixel_shuffle as S
from ...tensor import Tensor
from ..module import Module


class PixelShuffle(Module):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r) with r = upscale_factor;  dx = pixel_unshuffle(dy)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return S.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W) with r = downscale_factor;  dx = pixel_shuffle(dy)."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return S.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """(N, C, *) -> (N, C, *) with y[:, j*g + k] = x[:, k*(C/g) + j] for g = groups."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return S.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
