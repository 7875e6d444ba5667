"""Unfold and Fold (PyTorch's modules): sliding blocks to columns (im2col) and back (col2im).

Unfold: (N, C, H, W) -> (N, C*kH*kW, L), one column per block position (L = Ho * Wo);
Fold: (N, C*kH*kW, L) -> (N, C, *output_size), summing overlapping entries. Fold is Unfold's adjoint,
so fold(unfold(x)) = x times the number of blocks covering each pixel. The math is ``ops/fold.py``.

>>> nn.Unfold(kernel_size=(2, 3))(lamina.randn(2, 5, 3, 4)).shape      # (2, 30, 4)
"""
from __future__ import annotations

from ...ops import fold as F
from ...tensor import Tensor
from ..module import Module


class Unfold(Module):
    """y[n, (c, i, j), l] = x[n, c, oh*s + i*d - p, ow*s + j*d - p] for block l = (oh, ow);  dx = fold(dy)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """x[n, c, r, q] = sum of y[n, (c, i, j), l] over the blocks l and offsets (i, j) reading (r, q);
    dy = unfold(dx)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
