"""Pooling (PyTorch's functional API) over (N, C, L), (N, C, H, W) and (N, C, D, H, W).

* max_pool1d/2d/3d: y = max over each window (padding counts as -inf); dx routes dy to the argmax
  (the first maximum on ties, NaN wins, as torch). ``return_indices`` gives torch's flat
  per-plane indices ``r * W + q`` (3-D: ``(z * H + r) * W + q``), what max_unpool takes.
* avg_pool1d/2d/3d: y = (sum over the zero-padded window) / divisor (torch's count_include_pad,
  divisor_override and ceil-mode rules); dx spreads dy / divisor back over each window.
* adaptive_avg_pool1d/2d/3d, adaptive_max_pool1d/2d/3d: window o spans
  [floor(o*n/m), ceil((o+1)*n/m)) per dimension; a divisible size is plain pooling with
  kernel = stride = n/m.

Every op is linear in x given its routing (argmax indices or window weights), so each backward
is another op of this file (gather <-> scatter, window sum <-> its adjoint, A x B^T <-> A^T g B),
and second derivatives work. ``interpolate`` lives in ``interpolate.py`` (importable from here);
LP pooling, fractional max pooling and max unpooling in ``pool_variants.py``.
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers

import numpy as np

from ..autograd import Function
from ..backend import array_module as _xp
from ..tensor import Tensor
from ._im2col import Geometry, crop_buffer, gather_planes, max_pool, scatter_planes, window_buffer
from .conv import _from2d, _geometry, _ntuple, _to2d

_ALL2 = (slice(None), slice(None))


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
        for sl in self.geom.offset_slices():
            v = buf[_ALL2 + sl]
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
        for sl in self.geom.offset_slices():
            buf[_ALL2 + sl] += t
        return crop_buffer(buf, self.geom)

    def backward(self, gy):
        return _WindowMean(self.geom, self.scale)(gy)


def along(a, x, axis: int):
    """a (m, n) applied along ``axis`` of x (x's size n there becomes m): one GEMM."""
    shape = x.shape
    if axis == x.ndim - 1:
        return (x.reshape(-1, shape[-1]) @ a.T).reshape(shape[:-1] + (a.shape[0],))
    x3 = x.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:]))
    return (a @ x3).reshape(shape[:axis] + (a.shape[0],) + shape[axis + 1:])


class Separable(Function):
    """y = x with matrix A_d (m_d, n_d) applied along each spatial axis d (None = identity);  dx = the same
    with every A_d^T. 2-D: y[n, c] = A @ x[n, c] @ B^T. Linear resampling and adaptive averaging are this."""

    saves_inputs = False

    def __init__(self, *mats):
        self.mats = mats

    def forward(self, x):
        y = x
        for d in reversed(range(len(self.mats))):  # the last axis first, as the 2-D code always did
            if self.mats[d] is not None:
                y = along(self.mats[d], y, 2 + d)
        return y if y is not x else y.copy()

    def backward(self, gy):
        return Separable(*(None if m is None else m.T for m in self.mats))(gy)


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
        self.out_size = tuple(out_size)

    def forward(self, x):
        xp = _xp(x)
        self.in_shape = x.shape
        size, nd = x.shape[2:], x.ndim - 2
        # offset i of window o reads min(start + i, end - 1): repeats come after the first max (ties)
        per_dim = []
        for d, (n, m) in enumerate(zip(size, self.out_size)):
            start, end = _adaptive_bounds(n, m)
            shape = (m,) + (1,) * (nd - 1 - d)
            per_dim.append([np.minimum(start + i, end - 1).reshape(shape) for i in range(int((end - start).max()))])
        best = idx = None
        for combo in itertools.product(*per_dim):
            where = functools.reduce(lambda flat, dn: flat * dn[1] + dn[0], zip(combo[1:], size[1:]), combo[0])
            v = x[_ALL2 + tuple(xp.asarray(c) for c in combo)]
            where = xp.broadcast_to(xp.asarray(where), v.shape)
            if best is None:
                best, idx = v.copy(), where.copy()
                continue
            m = (v > best) | xp.isnan(v)
            xp.copyto(best, v, where=m)
            xp.copyto(idx, where, where=m)
        self.idx = idx
        return best

    def backward(self, gy):
        return _Scatter(self.idx, self.in_shape, False)(gy)


# ---------------------------------------------------------------- argument handling
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


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
    return _geometry(nd, size, out, kernel, stride, dilation, padding)


# ---------------------------------------------------------------- max / avg pooling
def _max_poolnd(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, nd, input)
    geom = _pool_geometry(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode)
    fn = _MaxPool(geom)
    y = _from2d(fn(_to2d(input, nd)), nd)
    return (y, Tensor._wrap(fn.idx.reshape(y.shape))) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, L) (stride defaults to kernel_size; padding counts as -inf).

    ``return_indices=True`` also gives the argmax positions l (what max_unpool1d takes).
    """
    return _max_poolnd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, H, W): y = max_{i,j} x[r(oh, i), q(ow, j)];  dx = dy at the argmax.

    ``return_indices=True`` also gives the argmax as flat indices ``r * W + q`` into each (H, W) plane.
    >>> max_pool2d(x, 2).shape     # (64, 32, 28, 28) -> (64, 32, 14, 14)
    """
    return _max_poolnd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, D, H, W): y = max over the kD x kH x kW window;  dx = dy at the argmax.

    ``return_indices=True`` also gives the argmax as flat indices ``(z * H + r) * W + q`` into each volume.
    >>> max_pool3d(x, 2).shape     # (2, 8, 8, 16, 16) -> (2, 8, 4, 8, 8)
    """
    return _max_poolnd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_scale(op, g: Geometry, count_include_pad, divisor_override, dtype, xp):
    """1 / divisor for each output position (torch's rules; separable across the dimensions)."""
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
        return xp.asarray(np.full(g.col, 1.0 / divisor_override), dtype=dtype)
    sizes = []
    for n, o, k, s, p in zip(g.img, g.col, g.kernel, g.stride, g.padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        sizes.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    div = functools.reduce(np.multiply.outer, sizes).astype(np.float64)
    scale = np.divide(1.0, div, out=np.zeros_like(div), where=div > 0)  # an all-padding window gives 0
    return xp.asarray(scale, dtype=dtype)


def _avg_poolnd(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, nd, input)
    geom = _pool_geometry(op, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    scale = _avg_scale(op, geom, count_include_pad, divisor_override, input.dtype, input.xp)
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


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of (N, C, D, H, W): y = sum_window x / divisor;  dx = dy / divisor spread over each window.

    divisor as avg_pool2d's: divisor_override, else the window volume (padding included when count_include_pad).
    >>> avg_pool3d(x, 2).shape     # (2, 8, 8, 16, 16) -> (2, 8, 4, 8, 8)
    """
    return _avg_poolnd("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
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


def adaptive_avg(x, out):
    """Adaptive average pooling of (N, C, *sp) to the spatial size ``out`` (any number of dims)."""
    size = x.shape[2:]
    axes = tuple(range(2, x.ndim))
    if all(n % m == 0 for n, m in zip(size, out)):
        if all(m == 1 for m in out):
            return x.mean(axes, keepdim=True)
        split = tuple(v for m, n in zip(out, size) for v in (m, n // m))
        return x.reshape(x.shape[:2] + split).mean(tuple(3 + 2 * d for d in range(len(out))))
    return Separable(*(_avg_matrix(n, m, x.dtype, x.xp) if n != m else None for n, m in zip(size, out)))(x)


def _adaptive_avgnd(op, nd, input, output_size):
    _check_input(op, nd, input)
    return adaptive_avg(input, _adaptive_size(op, nd, input, output_size))


def adaptive_avg_pool1d(input, output_size):
    """Mean over L_out adaptive windows of (N, C, L)."""
    return _adaptive_avgnd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Mean over adaptive windows: window o spans [floor(o*H/Ho), ceil((o+1)*H/Ho)) (and likewise in W).

    ``adaptive_avg_pool2d(x, 1)`` is global average pooling. A None in output_size keeps that size.
    """
    return _adaptive_avgnd("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Mean over adaptive windows of (N, C, D, H, W): window o spans [floor(o*n/m), ceil((o+1)*n/m)) per dim.

    A None in output_size keeps that size;  dx = dy spread evenly over each window.
    >>> adaptive_avg_pool3d(x, 1).shape     # (2, 8, 5, 7, 7) -> (2, 8, 1, 1, 1)
    """
    return _adaptive_avgnd("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_maxnd(op, nd, input, output_size, return_indices):
    _check_input(op, nd, input)
    out = _adaptive_size(op, nd, input, output_size)
    x = _to2d(input, nd)
    out = (1,) * (x.ndim - 2 - nd) + out
    size = x.shape[2:]
    if all(n % m == 0 for n, m in zip(size, out)):
        k = tuple(n // m for n, m in zip(size, out))
        fn = _MaxPool(Geometry(size, out, k, k, (1,) * len(k), (0,) * len(k)))
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


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over adaptive windows of (N, C, D, H, W);  dx = dy at the argmax (flat indices (z H + r) W + q)."""
    return _adaptive_maxnd("adaptive_max_pool3d", 3, input, output_size, return_indices)


def __getattr__(name):
    # interpolate moved to interpolate.py (which builds on this file); still importable from here
    if name == "interpolate":
        from .interpolate import interpolate
        return interpolate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
