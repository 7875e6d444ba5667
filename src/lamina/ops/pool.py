"""Pooling and resampling (PyTorch's functional API), over (N, C, L) and (N, C, H, W).

* max_pool1d/2d: y = max over each window (padding counts as -inf); dx routes dy to the argmax
  (the first maximum on ties, NaN wins, as torch). ``return_indices`` gives torch's flat
  per-plane indices ``r * W + q``.
* avg_pool1d/2d: y = (sum over the zero-padded window) / divisor (torch's count_include_pad and
  ceil-mode rules); dx spreads dy / divisor back over each window.
* adaptive_avg_pool1d/2d, adaptive_max_pool1d/2d: window o spans [floor(o*n/m), ceil((o+1)*n/m));
  a divisible size is plain pooling with kernel = stride = n/m.
* interpolate: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D), 'area', with torch's
  exact source-index arithmetic (float32 for float32 inputs) and align_corners.

Every op is linear in x given its routing (argmax indices or window weights), so each backward
is another op of this file (gather <-> scatter, window sum <-> its adjoint, A x B^T <-> A^T g B),
and second derivatives work.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..backend import array_module as _xp
from ..tensor import Tensor
from ._im2col import Geometry, crop_buffer, gather_planes, max_pool, scatter_planes, window_buffer
from .conv import _from2d, _geometry2d, _ntuple, _to2d


# ---------------------------------------------------------------- routing primitives
class _Gather(Function):
    """y[n, c, k] = x[n, c].flat[idx[n, c, k]];  dx = scatter(dy, idx)."""

    saves_inputs = False

    def __init__(self, idx, in_shape, unique):
        self.idx, self.in_shape, self.unique = idx, tuple(in_shape), unique

    def forward(self, x):
        return gather_planes(x, self.idx)

    def backward(self, gy):
        return _Scatter(self.idx, self.in_shape, self.unique)(gy)


class _Scatter(Function):
    """y = zeros(in_shape), y[n, c].flat[idx[n, c, k]] += g[n, c, k] (duplicates add up);  dg = gather(dy, idx)."""

    saves_inputs = False

    def __init__(self, idx, in_shape, unique):
        self.idx, self.in_shape, self.unique = idx, tuple(in_shape), unique

    def forward(self, g):
        return scatter_planes(g, self.idx, self.in_shape[2:], self.unique)

    def backward(self, gy):
        return _Gather(self.idx, self.in_shape, self.unique)(gy)


class _WindowMean(Function):
    """y = scale * (sum of x over each zero-padded window);  dx = the adjoint (spread scale * dy over windows)."""

    saves_inputs = False

    def __init__(self, geom: Geometry, scale):
        self.geom, self.scale = geom, scale

    def forward(self, x):
        buf = window_buffer(x, self.geom, 0)
        y = None
        for si, sj in self.geom.offset_slices():
            v = buf[:, :, si, sj]
            y = v.copy() if y is None else y.__iadd__(v)
        y *= self.scale
        return y

    def backward(self, gy):
        return _WindowMeanT(self.geom, self.scale)(gy)


class _WindowMeanT(Function):
    """x' = sum over windows of scale * g placed at the window's pixels;  dg = window mean of dx'."""

    saves_inputs = False

    def __init__(self, geom: Geometry, scale):
        self.geom, self.scale = geom, scale

    def forward(self, g):
        xp = _xp(g)
        t = g * self.scale
        buf = xp.zeros(g.shape[:2] + self.geom.extent, dtype=g.dtype)
        for si, sj in self.geom.offset_slices():
            buf[:, :, si, sj] += t
        return crop_buffer(buf, self.geom)

    def backward(self, gy):
        return _WindowMean(self.geom, self.scale)(gy)


class _Separable(Function):
    """y[n, c] = A @ x[n, c] @ B^T (A: (Ho, H), B: (Wo, W); None = identity);  dx = A^T dy B."""

    saves_inputs = False

    def __init__(self, a, b):
        self.a, self.b = a, b

    def forward(self, x):
        n, c, h, w = x.shape
        y = x
        if self.b is not None:
            y = (y.reshape(-1, w) @ self.b.T).reshape(n, c, h, -1)
        if self.a is not None:
            y = self.a @ y
        return y if y is not x else y.copy()

    def backward(self, gy):
        t = (lambda m: None if m is None else m.T)
        return _Separable(t(self.a), t(self.b))(gy)


class _MaxPool(Function):
    """y = max over each window (the argmax recorded);  dx = dy scattered to the argmax positions."""

    saves_inputs = False

    def __init__(self, geom: Geometry):
        self.geom = geom

    def forward(self, x):
        self.in_shape = x.shape
        y, self.idx = max_pool(x, self.geom)
        return y

    def backward(self, gy):
        return _Scatter(self.idx, self.in_shape, not self.geom.overlapping())(gy)


class _AdaptiveMax(Function):
    """y[o] = max of x over window o = [floor(o*n/m), ceil((o+1)*n/m)) per dimension;  dx = dy at the argmax."""

    saves_inputs = False

    def __init__(self, out_size):
        self.out_size = out_size

    def forward(self, x):
        xp = _xp(x)
        n, c, h, w = self.in_shape = x.shape
        (rs, re), (cs, ce) = _adaptive_bounds(h, self.out_size[0]), _adaptive_bounds(w, self.out_size[1])
        # offset i of window o reads min(start + i, end - 1): repeats come after the first max (ties)
        rows = [xp.asarray(np.minimum(rs + i, re - 1)) for i in range(int((re - rs).max()))]
        cols = [xp.asarray(np.minimum(cs + j, ce - 1)) for j in range(int((ce - cs).max()))]
        best = idx = None
        for r in rows:
            xr = x[:, :, r, :]
            for q in cols:
                v, where = xr[:, :, :, q], r.reshape(-1, 1) * w + q
                if best is None:
                    best, idx = v.copy(), xp.broadcast_to(where, v.shape).copy()
                    continue
                m = (v > best) | xp.isnan(v)
                xp.copyto(best, v, where=m)
                xp.copyto(idx, xp.broadcast_to(where, v.shape), where=m)
        self.idx = idx
        return best

    def backward(self, gy):
        return _Scatter(self.idx, self.in_shape, False)(gy)


# ---------------------------------------------------------------- argument handling
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}


def _check_input(op: str, nd: int, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D input {_LAYOUT[nd]}, got shape {x.shape}")
    if any(n == 0 for n in x.shape[2:]):
        raise ValueError(f"{op}: input has an empty spatial dimension (shape {x.shape})")


def _pool_out(n, k, s, p, d, ceil_mode) -> int:
    """torch's pooling output size (a ceil-mode window must start inside the input or the left padding)."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_geometry(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode) -> Geometry:
    kernel = _ntuple(kernel_size, nd, "kernel_size", op, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    stride = kernel if no_stride else _ntuple(stride, nd, "stride", op, 1)
    padding = _ntuple(padding, nd, "padding", op, 0)
    dilation = _ntuple(dilation, nd, "dilation", op, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} should be at most half of kernel_size {kernel}")
    size = x.shape[2:]
    out = tuple(_pool_out(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: input of shape {x.shape} is too small for kernel_size {kernel}, stride {stride}, "
                         f"padding {padding}, dilation {dilation}: calculated output size {out}")
    return _geometry2d(nd, size, out, kernel, stride, dilation, padding)


# ---------------------------------------------------------------- max / avg pooling
def _max_poolnd(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, nd, input)
    geom = _pool_geometry(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode)
    fn = _MaxPool(geom)
    y = _from2d(fn(_to2d(input, nd)), nd)
    return (y, Tensor._wrap(fn.idx.reshape(y.shape))) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, L) (stride defaults to kernel_size; padding counts as -inf)."""
    return _max_poolnd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, H, W): y = max_{i,j} x[r(oh, i), q(ow, j)];  dx = dy at the argmax.

    ``return_indices=True`` also gives the argmax as flat indices ``r * W + q`` into each (H, W) plane.
    >>> max_pool2d(x, 2).shape     # (64, 32, 28, 28) -> (64, 32, 14, 14)
    """
    return _max_poolnd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_scale(g: Geometry, count_include_pad, divisor_override, dtype, xp):
    """1 / divisor for each output position (torch's rules; separable in H and W)."""
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or divisor_override == 0:
            raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
        return xp.asarray(np.full(g.col, 1.0 / divisor_override), dtype=dtype)
    sizes = []
    for n, o, k, s, p in zip(g.img, g.col, g.kernel, g.stride, g.padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        sizes.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    div = (sizes[0][:, None] * sizes[1][None, :]).astype(np.float64)
    scale = np.divide(1.0, div, out=np.zeros_like(div), where=div > 0)  # an all-padding window gives 0
    return xp.asarray(scale, dtype=dtype)


def _avg_poolnd(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, nd, input)
    geom = _pool_geometry(op, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    scale = _avg_scale(geom, count_include_pad, divisor_override, input.dtype, input.xp)
    return _from2d(_WindowMean(geom, scale)(_to2d(input, nd)), nd)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of (N, C, L); zero padding counted in the divisor when count_include_pad."""
    return _avg_poolnd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of (N, C, H, W): y = sum_window x / divisor;  dx = dy / divisor spread over each window.

    divisor = divisor_override, else the window area (padding included when count_include_pad,
    clipped to the padded input in ceil mode).
    """
    return _avg_poolnd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


# ---------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(n: int, m: int):
    o = np.arange(m)
    return (o * n) // m, -((-(o + 1) * n) // m)


def _adaptive_size(op, nd, x, output_size) -> tuple:
    single = output_size is None or isinstance(output_size, numbers.Integral)
    vals = (output_size,) * nd if single else tuple(output_size)
    if len(vals) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    out = tuple(int(n) if v is None else v for v, n in zip(vals, x.shape[2:]))
    if not all(isinstance(v, numbers.Integral) and v > 0 for v in out):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def _avg_matrix(n, m, dtype, xp):
    start, end = _adaptive_bounds(n, m)
    cols = np.arange(n)
    a = ((cols >= start[:, None]) & (cols < end[:, None])) / (end - start)[:, None]
    return xp.asarray(a, dtype=dtype)


def _adaptive_avg(x, out):
    n, c, h, w = x.shape
    ho, wo = out
    if h % ho == 0 and w % wo == 0:
        if ho == 1 and wo == 1:
            return x.mean((2, 3), keepdim=True)
        return x.reshape(n, c, ho, h // ho, wo, w // wo).mean((3, 5))
    return _Separable(_avg_matrix(h, ho, x.dtype, x.xp) if h != ho else None,
                      _avg_matrix(w, wo, x.dtype, x.xp) if w != wo else None)(x)


def adaptive_avg_pool1d(input, output_size):
    """Mean over L_out adaptive windows of (N, C, L)."""
    _check_input("adaptive_avg_pool1d", 1, input)
    out = _adaptive_size("adaptive_avg_pool1d", 1, input, output_size)
    return _from2d(_adaptive_avg(_to2d(input, 1), (1,) + out), 1)


def adaptive_avg_pool2d(input, output_size):
    """Mean over adaptive windows: window o spans [floor(o*H/Ho), ceil((o+1)*H/Ho)) (and likewise in W).

    ``adaptive_avg_pool2d(x, 1)`` is global average pooling. A None in output_size keeps that size.
    """
    _check_input("adaptive_avg_pool2d", 2, input)
    return _adaptive_avg(input, _adaptive_size("adaptive_avg_pool2d", 2, input, output_size))


def _adaptive_maxnd(op, nd, input, output_size, return_indices):
    _check_input(op, nd, input)
    out = (1,) * (2 - nd) + _adaptive_size(op, nd, input, output_size)
    x = _to2d(input, nd)
    h, w = x.shape[2:]
    if h % out[0] == 0 and w % out[1] == 0:
        fn = _MaxPool(Geometry((h, w), out, (h // out[0], w // out[1]), (h // out[0], w // out[1]), (1, 1), (0, 0)))
    else:
        fn = _AdaptiveMax(out)
    y = _from2d(fn(x), nd)
    return (y, Tensor._wrap(fn.idx.reshape(y.shape))) if return_indices else y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over L_out adaptive windows of (N, C, L)."""
    return _adaptive_maxnd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive windows [floor(o*H/Ho), ceil((o+1)*H/Ho)) x [...];  dx = dy at the argmax."""
    return _adaptive_maxnd("adaptive_max_pool2d", 2, input, output_size, return_indices)


# ---------------------------------------------------------------- interpolate
class _Take(Function):
    """y = x[:, :, ih][:, :, :, iw] (nearest neighbour);  dx = S_h^T dy S_w with the one-hot selection matrices."""

    saves_inputs = False

    def __init__(self, ih, iw, in_hw):
        self.ih, self.iw, self.in_hw = ih, iw, in_hw  # host (NumPy) index arrays

    def forward(self, x):
        xp = _xp(x)
        return xp.take(xp.take(x, xp.asarray(self.ih), axis=2), xp.asarray(self.iw), axis=3)

    def backward(self, gy):
        def sel_t(idx, n):  # S^T: (n_in, n_out) with S[o, idx[o]] = 1
            return gy.xp.asarray(np.arange(n)[:, None] == idx[None, :], dtype=gy.dtype)

        return _Separable(sel_t(self.ih, self.in_hw[0]), sel_t(self.iw, self.in_hw[1]))(gy)


class _Repeat(Function):
    """y = x with each pixel repeated fh x fw times (integer nearest upsampling);  dx = dy summed over each block."""

    saves_inputs = False

    def __init__(self, fh, fw):
        self.fh, self.fw = fh, fw

    def forward(self, x):
        n, c, h, w = x.shape
        y = _xp(x).empty((n, c, h * self.fh, w * self.fw), dtype=x.dtype)
        for a in range(self.fh):
            for b in range(self.fw):
                y[:, :, a::self.fh, b::self.fw] = x
        return y

    def backward(self, gy):
        return _BlockSum(self.fh, self.fw)(gy)


class _BlockSum(Function):
    """y = sum of x over non-overlapping fh x fw blocks;  dx = dy repeated over each block."""

    saves_inputs = False

    def __init__(self, fh, fw):
        self.fh, self.fw = fh, fw

    def forward(self, g):
        y = None
        for a in range(self.fh):
            for b in range(self.fw):
                v = g[:, :, a::self.fh, b::self.fw]
                y = v.copy() if y is None else y.__iadd__(v)
        return y

    def backward(self, gy):
        return _Repeat(self.fh, self.fw)(gy)


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


def _linear_matrix(n_in, n_out, scale, align_corners, ft):
    """A (n_out, n_in) with rows of linear-interpolation weights (torch's source index and lambda)."""
    a = np.zeros((n_out, n_in), dtype=np.float64)
    o = np.arange(n_out)
    if n_out == n_in:
        a[o, o] = 1.0
        return a
    if align_corners:
        ratio = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
        src = ratio * o.astype(ft)
    else:
        ratio = ft(1.0 / scale) if scale is not None and scale > 0 else ft(n_in) / ft(n_out)
        src = np.maximum(ratio * (o.astype(ft) + ft(0.5)) - ft(0.5), ft(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam1 = np.clip(src - i0.astype(ft), ft(0), ft(1))
    lam0 = ft(1) - lam1
    i1 = i0 + (i0 < n_in - 1)
    a[o, i0] = lam0
    a[o, i1] += lam1
    return a


_MODES = {3: ("nearest", "nearest-exact", "linear", "area"), 4: ("nearest", "nearest-exact", "bilinear", "area")}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor`` (torch's index math).

    nearest: src = min(floor(dst * in/out), in - 1)  (with scale_factor: floor(dst / scale_factor));
    bilinear, align_corners=False: src = max((dst + 0.5) * in/out - 0.5, 0); True: src = dst * (in-1)/(out-1),
    y = (1 - l) x[floor(src)] + l x[floor(src) + 1] per axis. Backward: the transposed resampling.
    >>> interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)   # (N, C, 14, 14) -> (N, C, 28, 28)
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in _MODES:
        raise ValueError(f"{op}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape {input.shape}")
    if mode not in _MODES[input.ndim]:
        raise ValueError(f"{op}: mode {mode!r} is not supported for a {input.ndim}-D input; "
                         f"use one of {_MODES[input.ndim]}")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes linear | bilinear, "
                         f"not mode={mode!r}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported")
    nd = input.ndim - 2
    in_size = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size or scale_factor should be given")
    if size is not None:
        out = _ntuple(size, nd, "size", op, 1)
        scales = (None,) * nd
    else:
        sf = (scale_factor,) * nd if isinstance(scale_factor, numbers.Real) else tuple(scale_factor)
        if len(sf) != nd or not all(isinstance(s, numbers.Real) and s > 0 for s in sf):
            raise ValueError(f"{op}: scale_factor must be a positive number or a tuple of {nd}, got {scale_factor!r}")
        out = tuple(math.floor(float(n) * float(s)) for n, s in zip(in_size, sf))
        if any(o < 1 for o in out):
            raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {out} for input shape "
                             f"{input.shape}")
        scales = (None,) * nd if recompute_scale_factor else tuple(float(s) for s in sf)
    x = _to2d(input, nd)
    out, scales, in_size = (1,) * (2 - nd) + out, (None,) * (2 - nd) + scales, x.shape[2:]
    if mode == "area":
        return _from2d(_adaptive_avg(x, out), nd)
    if mode in ("linear", "bilinear"):
        ft, xp = _float_t(x.dtype), x.xp
        mats = [None if n == m else xp.asarray(_linear_matrix(n, m, s, bool(align_corners), ft), dtype=x.dtype)
                for n, m, s in zip(in_size, out, scales)]
        return _from2d(_Separable(*mats)(x), nd)
    exact = mode == "nearest-exact"
    ih, iw = (_nearest_index(n, m, s, exact) for n, m, s in zip(in_size, out, scales))
    fh, fw = out[0] // in_size[0], out[1] // in_size[1]
    if fh >= 1 and fw >= 1 and np.array_equal(ih, np.arange(out[0]) // fh) and \
            np.array_equal(iw, np.arange(out[1]) // fw) and out == (in_size[0] * fh, in_size[1] * fw):
        return _from2d(_Repeat(fh, fw)(x), nd)
    return _from2d(_Take(ih, iw, in_size)(x), nd)
