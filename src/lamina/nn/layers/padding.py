"""Padding layers (PyTorch's modules): ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad,
each in 1-D, 2-D and 3-D, over the last 1, 2 or 3 dims.

``padding`` is an int (the same on every side) or torch's tuple, last dim first:
(left, right) / (left, right, top, bottom) / (left, right, top, bottom, front, back). With r the
padded position and n the input size along a dim,

    constant:     y = value outside the input (negative amounts crop)
    reflection:   y[-r] = x[r]          (mirror without repeating the edge; pad < n)
    replication:  y[-r] = x[0]          (repeat the edge)
    circular:     y[-r] = x[n - r]      (wrap around; pad <= n)

The gradient sums every copy back to its source (``F.pad``, ops/shape.py).

>>> nn.ReflectionPad2d(1)(lamina.randn(1, 3, 4, 4)).shape      # (1, 3, 6, 6)
"""
from __future__ import annotations

import numbers

from ...ops.shape import pad as _pad
from ...tensor import Tensor
from ..module import Module


def _padding(value, nd: int, name: str) -> tuple:
    n = 2 * nd
    vals = (value,) * n if isinstance(value, numbers.Integral) else tuple(value) if hasattr(value, "__len__") else None
    if vals is None or len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                 for v in vals):
        raise ValueError(f"{name}: padding must be an int or a tuple of {n} ints (last dim first), got {value!r}")
    return tuple(int(v) for v in vals)


class _PadNd(Module):
    _nd, _mode = 1, "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding(padding, self._nd, type(self).__name__)

    def _check(self, input) -> None:
        name, nd = type(self).__name__, self._nd
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a lamina Tensor, got {type(input).__name__}")
        if input.ndim not in (nd + 1, nd + 2):
            raise NotImplementedError(f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                                      f"got shape {tuple(input.shape)}")
        sizes = input.shape[-nd:][::-1]  # last dim first, as the padding
        for d, n in enumerate(sizes):
            a, b = self.padding[2 * d:2 * d + 2]
            if self._mode == "reflect" and max(a, b) >= n:
                raise RuntimeError(f"{name}: padding size should be less than the corresponding input dimension, "
                                   f"but got padding ({a}, {b}) at dimension {input.ndim - 1 - d} of input "
                                   f"{list(input.shape)}")
            if self._mode == "circular" and max(a, b) > n:
                raise RuntimeError(f"{name}: padding value causes wrapping around more than once (padding "
                                   f"({a}, {b}) at dimension {input.ndim - 1 - d} of input {list(input.shape)})")
            if self._mode == "replicate" and n == 0 and (a or b):
                raise RuntimeError(f"{name}: cannot replicate an empty dimension {input.ndim - 1 - d} "
                                   f"(input {list(input.shape)})")

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return _pad(input, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def _check(self, input) -> None:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a lamina Tensor, got {type(input).__name__}")
        if input.ndim < self._nd:
            raise RuntimeError(f"{name}: padding length should be less than or equal to two times the input "
                               f"dimension but got padding length {2 * self._nd} and input of dimension "
                               f"{input.ndim}")

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return _pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: (*, W) -> (*, W + left + right)."""

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: (*, H, W) -> (*, H + top + bottom, W + left + right).

    >>> nn.ConstantPad2d((1, 1, 2, 0), 3.5)(lamina.zeros(1, 2, 2)).shape    # (1, 4, 4)
    """

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``: (*, D, H, W) -> (*, D + front + back, H + top + bottom, W + ...)."""

    _nd = 3


class _ZeroPad:
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    """Pad the last dim with zeros: (*, W) -> (*, W + left + right)."""


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    """Pad the last two dims with zeros: (*, H, W) -> (*, H + top + bottom, W + left + right)."""


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last three dims with zeros."""


class ReflectionPad1d(_PadNd):
    """Mirror the last dim about its edge pixels (the edge itself not repeated; pad < W): (N, C, W) or (C, W)."""

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims about their edge pixels: (N, C, H, W) or (C, H, W); each pad < its size.

    >>> nn.ReflectionPad2d(2)(lamina.arange(9.).reshape(1, 1, 3, 3)).shape     # (1, 1, 7, 7)
    """

    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirror the last three dims about their edge pixels: (N, C, D, H, W) or (C, D, H, W)."""

    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dim: (N, C, W) or (C, W)."""

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dims: (N, C, H, W) or (C, H, W)."""

    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last three dims: (N, C, D, H, W) or (C, D, H, W)."""

    _nd, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dim around (y[-r] = x[W - r]; pad <= W): (N, C, W) or (C, W)."""

    _nd, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wrap the last two dims around (periodic boundary): (N, C, H, W) or (C, H, W)."""

    _nd, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Wrap the last three dims around: (N, C, D, H, W) or (C, D, H, W)."""

    _nd, _mode = 3, "circular"
