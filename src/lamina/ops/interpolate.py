"""interpolate (PyTorch's F.interpolate) over (N, C, L), (N, C, H, W) and (N, C, D, H, W).

Modes: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' and 'bicubic' (4-D),
'trilinear' (5-D), 'area' (adaptive average pooling), with torch's exact source-index arithmetic
(float32 for float32 inputs) and align_corners. Every mode is separable: along each spatial axis
the output is a fixed matrix (or a selection of rows) times the input, so the backward is the
transposed resampling, itself differentiable (second derivatives work).
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ..autograd import Function
from ..backend import array_module as _xp
from ..tensor import Tensor
from .conv import _ntuple
from .pool import Separable, adaptive_avg

_ALL2 = (slice(None), slice(None))


class _Take(Function):
    """y = x[:, :, i_0][:, :, :, i_1]... (nearest neighbour, one index array per axis);
    dx = dy with the transposed one-hot selection matrices S_d^T applied along each axis."""

    saves_inputs = False

    def __init__(self, indices, in_size):
        self.indices, self.in_size = indices, tuple(in_size)  # host (NumPy) index arrays

    def forward(self, x):
        xp = _xp(x)
        y = x
        for d, idx in enumerate(self.indices):
            y = xp.take(y, xp.asarray(idx), axis=2 + d)
        return y

    def backward(self, gy):
        def sel_t(idx, n):  # S^T: (n_in, n_out) with S[o, idx[o]] = 1
            return gy.xp.asarray(np.arange(n)[:, None] == idx[None, :], dtype=gy.dtype)

        return Separable(*(sel_t(i, n) for i, n in zip(self.indices, self.in_size)))(gy)


class _Repeat(Function):
    """y = x with each pixel repeated f_d times along axis d (integer nearest upsampling);  dx = dy summed
    over each block."""

    saves_inputs = False

    def __init__(self, factors):
        self.factors = tuple(factors)

    def forward(self, x):
        y = _xp(x).empty(x.shape[:2] + tuple(n * f for n, f in zip(x.shape[2:], self.factors)), dtype=x.dtype)
        for offs in itertools.product(*(range(f) for f in self.factors)):
            y[_ALL2 + tuple(slice(a, None, f) for a, f in zip(offs, self.factors))] = x
        return y

    def backward(self, gy):
        return _BlockSum(self.factors)(gy)


class _BlockSum(Function):
    """y = sum of x over non-overlapping f_0 x f_1 x ... blocks;  dx = dy repeated over each block."""

    saves_inputs = False

    def __init__(self, factors):
        self.factors = tuple(factors)

    def forward(self, g):
        y = None
        for offs in itertools.product(*(range(f) for f in self.factors)):
            v = g[_ALL2 + tuple(slice(a, None, f) for a, f in zip(offs, self.factors))]
            y = v.copy() if y is None else y.__iadd__(v)
        return y

    def backward(self, gy):
        return _Repeat(self.factors)(gy)


def _float_t(dtype):
    """torch's opmath type for the index arithmetic: float32 for float32 (and narrower) inputs."""
    return np.float32 if np.dtype(dtype).itemsize <= 4 else np.float64


def _nearest_index(n_in, n_out, scale, exact):
    o = np.arange(n_out)
    if not exact:
        if n_out == n_in:
            return o
        if n_out == 2 * n_in:
            return o >> 1
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
    if exact:  # (dst + 0.5) * scale in double, then floorf
        src = np.floor(((o + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(o.astype(np.float32) * s)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _source_index(n_in, n_out, scale, align_corners, ft, cubic):
    """torch's area_pixel_compute_source_index for every output position (clamped at 0 unless cubic)."""
    o = np.arange(n_out).astype(ft)
    if align_corners:
        ratio = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
        return ratio * o
    ratio = ft(1.0 / scale) if scale is not None and scale > 0 else ft(n_in) / ft(n_out)
    src = ratio * (o + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _linear_matrix(n_in, n_out, scale, align_corners, ft):
    """A (n_out, n_in) with rows of linear-interpolation weights (torch's source index and lambda)."""
    a = np.zeros((n_out, n_in), dtype=np.float64)
    o = np.arange(n_out)
    if n_out == n_in:
        a[o, o] = 1.0
        return a
    src = _source_index(n_in, n_out, scale, align_corners, ft, cubic=False)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam1 = np.clip(src - i0.astype(ft), ft(0), ft(1))
    lam0 = ft(1) - lam1
    i1 = i0 + (i0 < n_in - 1)
    a[o, i0] = lam0
    a[o, i1] += lam1
    return a


def _cubic_matrix(n_in, n_out, scale, align_corners, ft, A=-0.75):
    """A (n_out, n_in) of Keys' cubic-convolution weights (a = -0.75) at taps floor(src) - 1 .. + 2,
    the taps clamped into the input (torch's upsample_bicubic2d)."""
    o = np.arange(n_out)
    src = _source_index(n_in, n_out, scale, align_corners, ft, cubic=True)
    i0 = np.floor(src).astype(np.int64)
    t = (src - i0.astype(ft)).astype(ft)
    A, one, two = ft(A), ft(1), ft(2)

    def near(x):  # |x| <= 1
        return ((A + two) * x - (A + ft(3))) * x * x + one

    def far(x):  # 1 < |x| < 2
        return ((A * x - ft(5) * A) * x + ft(8) * A) * x - ft(4) * A

    weights = (far(t + one), near(t), near(one - t), far(two - t))
    a = np.zeros((n_out, n_in), dtype=np.float64)
    for k, w in enumerate(weights):
        np.add.at(a, (o, np.clip(i0 - 1 + k, 0, n_in - 1)), w.astype(np.float64))  # a small host matrix
    return a


# the modes each input rank takes (torch's), and the resampling matrix of the interpolating ones
_MODES = {3: ("nearest", "nearest-exact", "linear", "area"),
          4: ("nearest", "nearest-exact", "bilinear", "bicubic", "area"),
          5: ("nearest", "nearest-exact", "trilinear", "area")}
_MATRIX = {"linear": _linear_matrix, "bilinear": _linear_matrix, "trilinear": _linear_matrix,
           "bicubic": _cubic_matrix}
_LAYOUTS = "3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W)"


def _output_size(op, input, size, scale_factor, recompute_scale_factor):
    nd, in_size = input.ndim - 2, input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size or scale_factor should be given")
    if size is not None:
        return _ntuple(size, nd, "size", op, 1), (None,) * nd
    sf = (scale_factor,) * nd if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
    if len(sf) != nd or not all(isinstance(s, numbers.Real) and s > 0 for s in sf):
        raise ValueError(f"{op}: scale_factor must be a positive number or a tuple of {nd}, got {scale_factor!r}")
    out = tuple(math.floor(float(n) * float(s)) for n, s in zip(in_size, sf))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {out} for input shape "
                         f"{input.shape}")
    return out, ((None,) * nd if recompute_scale_factor else tuple(float(s) for s in sf))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by ``scale_factor`` (torch's index math).

    nearest: src = min(floor(dst * in/out), in - 1)  (with scale_factor: floor(dst / scale_factor));
    (bi/tri)linear, align_corners=False: src = max((dst + 0.5) * in/out - 0.5, 0); True: src = dst * (in-1)/(out-1),
    y = (1 - l) x[floor(src)] + l x[floor(src) + 1] per axis; bicubic: Keys' kernel (a = -0.75) on 4 taps per
    axis. Backward: the transposed resampling.
    >>> interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)   # (N, C, 14, 14) -> (N, C, 28, 28)
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in _MODES:
        raise ValueError(f"{op}: expected a {_LAYOUTS} input, got shape {input.shape}")
    if mode not in _MODES[input.ndim]:
        raise ValueError(f"{op}: mode {mode!r} is not supported for a {input.ndim}-D input; "
                         f"use one of {_MODES[input.ndim]}")
    if align_corners is not None and mode not in _MATRIX:
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes "
                         f"linear | bilinear | bicubic | trilinear, not mode={mode!r}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported")
    out, scales = _output_size(op, input, size, scale_factor, recompute_scale_factor)
    in_size = input.shape[2:]
    if mode == "area":
        return adaptive_avg(input, out)
    if mode in _MATRIX:
        ft, xp, make = _float_t(input.dtype), input.xp, _MATRIX[mode]
        mats = [None if n == m else xp.asarray(make(n, m, s, bool(align_corners), ft), dtype=input.dtype)
                for n, m, s in zip(in_size, out, scales)]
        return Separable(*mats)(input)
    exact = mode == "nearest-exact"
    indices = [_nearest_index(n, m, s, exact) for n, m, s in zip(in_size, out, scales)]
    factors = [m // n for n, m in zip(in_size, out)]
    if all(f >= 1 and m == n * f and np.array_equal(i, np.arange(m) // f)
           for i, n, m, f in zip(indices, in_size, out, factors)):
        return _Repeat(factors)(input)
    return _Take(indices, in_size)(input)
