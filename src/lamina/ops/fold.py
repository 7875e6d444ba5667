"""unfold and fold (PyTorch's F.unfold / F.fold): im2col and col2im as public ops.

unfold extracts every sliding kH x kW block of (N, C, H, W) as a column:

    y[n, (c, i, j), l] = x[n, c, oh*s + i*d - p, ow*s + j*d - p]      (0 outside the image)

of shape (N, C*kH*kW, L), l = oh * Wo + ow running over the Ho x Wo block positions. fold is its
adjoint: (N, C*kH*kW, L) -> (N, C, H, W), summing every block's entries back into place (so
fold(unfold(x)) multiplies each pixel by the number of blocks covering it). Each is the other's
backward, so derivatives of every order work. The data movement is ``_im2col.py``'s.

>>> unfold(x, kernel_size=3, padding=1).shape                        # (8, 3, 32, 32) -> (8, 27, 1024)
>>> fold(cols, output_size=(32, 32), kernel_size=3, padding=1).shape  # (8, 27, 1024) -> (8, 3, 32, 32)
"""
from __future__ import annotations

import math
import numbers

from ..autograd import Function
from ..backend import array_module as _xp
from ..tensor import Tensor
from ._im2col import Geometry, col2im, im2col, pool


class _Unfold(Function):
    """y (N, C*K, L) = the blocks of x as columns;  dx = fold(dy)."""

    saves_inputs = False

    def __init__(self, geom: Geometry):
        self.geom = geom

    def forward(self, x):
        n, c = x.shape[:2]
        cols = im2col(x, self.geom)  # (C, kh, kw, N, Ho, Wo)
        y = _xp(x).ascontiguousarray(cols.reshape(c * math.prod(self.geom.kernel), n, -1).transpose(1, 0, 2))
        pool.give(cols)
        return y

    def backward(self, gy):
        return _Fold(self.geom)(gy)


class _Fold(Function):
    """x' (N, C, H, W) = the sum of the columns put back at their blocks;  dc = unfold(dx')."""

    saves_inputs = False

    def __init__(self, geom: Geometry):
        self.geom = geom

    def forward(self, c):
        n, ck = c.shape[:2]
        k = math.prod(self.geom.kernel)
        cols = c.transpose(1, 0, 2).reshape((ck // k,) + self.geom.kernel + (n,) + self.geom.col)
        return col2im(cols, self.geom)

    def backward(self, gy):
        return _Unfold(self.geom)(gy)


def _pair(value, name: str, op: str, minimum: int) -> tuple:
    vals = (value,) * 2 if isinstance(value, numbers.Integral) else tuple(value)
    if len(vals) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        raise RuntimeError(f"{op}: {name} must be an int or a tuple of 2 ints, got {value!r}")
    if any(v < minimum for v in vals):
        raise RuntimeError(f"{op}: {name} should be {'greater than zero' if minimum else 'non-negative'}, "
                           f"but got {name}={tuple(vals)}")
    return tuple(int(v) for v in vals)


def _blocks(op, size, kernel, dilation, padding, stride) -> tuple:
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))
    if any(o < 1 for o in out):
        raise RuntimeError(f"{op}: given input with spatial size {tuple(size)}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding "
                           f"blocks as {out}, but its components must be at least one.")
    return out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of (N, C, H, W) as columns (N, C*kH*kW, L) (an unbatched (C, H, W) gives (C*kH*kW, L)).

    L = Ho * Wo with Ho = (H + 2p - d(kH - 1) - 1) // s + 1; y[n, (c, i, j), l] = x[n, c, r(l, i), q(l, j)].
    """
    op = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3-D (unbatched) or 4-D (batched) input (N, C, H, W), "
                           f"got shape {tuple(input.shape)}")
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    dilation, padding = _pair(dilation, "dilation", op, 1), _pair(padding, "padding", op, 0)
    stride = _pair(stride, "stride", op, 1)
    x = input if input.ndim == 4 else input.unsqueeze(0)
    col = _blocks(op, x.shape[2:], kernel, dilation, padding, stride)
    y = _Unfold(Geometry(x.shape[2:], col, kernel, stride, dilation, padding))(x)
    return y if input.ndim == 4 else y.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Columns (N, C*kH*kW, L) summed back into an image (N, C, *output_size) (unbatched (C*kH*kW, L) too).

    The adjoint of unfold: x[n, c, r, q] = sum of y[n, (c, i, j), l] over the blocks l and offsets (i, j)
    that read pixel (r, q). L must equal the number of blocks of ``output_size``.
    """
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-D (unbatched) or 3-D (batched) input (N, C*kH*kW, L), "
                           f"got shape {tuple(input.shape)}")
    size = _pair(output_size, "output_size", op, 1)
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    dilation, padding = _pair(dilation, "dilation", op, 1), _pair(padding, "padding", op, 0)
    stride = _pair(stride, "stride", op, 1)
    c = input if input.ndim == 3 else input.unsqueeze(0)
    k = math.prod(kernel)
    if c.shape[1] % k:
        raise RuntimeError(f"{op}: expected size of input's dimension {input.ndim - 2} to be divisible by the "
                           f"product of kernel_size, but got input.size({input.ndim - 2})={c.shape[1]} and "
                           f"kernel_size={kernel}.")
    col = _blocks(op, size, kernel, dilation, padding, stride)
    if c.shape[2] != math.prod(col):
        raise RuntimeError(f"{op}: given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension "
                           f"{input.ndim - 1} to match the calculated number of sliding blocks "
                           f"{col[0]} * {col[1]} = {math.prod(col)}, but got input.size({input.ndim - 1})="
                           f"{c.shape[2]}.")
    y = _Fold(Geometry(size, col, kernel, stride, dilation, padding))(c)
    return y if input.ndim == 3 else y.squeeze(0)


__all__ = ["unfold", "fold"]
