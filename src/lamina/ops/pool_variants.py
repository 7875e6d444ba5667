"""The less common members of the pooling family (PyTorch's functional API):

* lp_pool1d/2d/3d: y = (sum over the window of x^p)^(1/p), i.e. (k * avg_pool(x^p))^(1/p) with torch's
  sign/relu guard; built from avg pooling and elementwise ops, so every gradient comes for free.
* fractional_max_pool2d/3d: max over pseudo-random windows of a fixed size whose starts follow
  ``start_i = int((i + u) a) - int(u a)``, a = (n - k) / (m - 1), u ~ U[0, 1) per (sample, channel, dim);
  dx = dy at the argmax.
* max_unpool1d/2d/3d: the partial inverse of max pooling: y = zeros, y.flat[indices] = x (per plane,
  with the indices max_pool returns); dx = dy gathered at the indices.
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._im2col import gather_planes
from .conv import _ntuple
from .pool import _avg_poolnd, _check_input, _Gather


# ---------------------------------------------------------------- LP pooling
def _lp_poolnd(op, nd, input, norm_type, kernel_size, stride, ceil_mode):
    kernel = _ntuple(kernel_size, nd, "kernel_size", op, 1)
    _check_input(op, nd, input)
    out = _avg_poolnd(op, nd, input.pow(norm_type), kernel, stride, 0, ceil_mode, True, None)
    return (out.sign() * out.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, L): y = (sum_{window} x^p)^(1/p) (p = norm_type; p = inf is max pooling,
    p = 1 sum pooling). stride defaults to kernel_size."""
    return _lp_poolnd("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, H, W): y = (sum over the kH x kW window of x^p)^(1/p).

    >>> lp_pool2d(x, 2, 3, stride=2)    # an L2 pooling of 3x3 windows
    """
    return _lp_poolnd("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, D, H, W): y = (sum over the kD x kH x kW window of x^p)^(1/p)."""
    return _lp_poolnd("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------- fractional max pooling
def _intervals(u, n_in, n_out, k, xp):
    """Window starts (..., n_out) for the samples u (...): torch's generate_intervals, in u's precision."""
    if n_out == 1:
        return xp.full(u.shape + (1,), n_in - k, dtype=np.int64)
    ft = u.dtype.type
    alpha = ft(n_in - k) / ft(n_out - 1)
    i = xp.arange(n_out - 1).astype(u.dtype)
    starts = ((i + u[..., None]) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)[..., None]
    last = xp.full(u.shape + (1,), n_in - k, dtype=np.int64)
    return xp.concatenate([starts, last], axis=-1)


def _fractional_max_poolnd(op, nd, input, kernel_size, output_size, output_ratio, return_indices, samples,
                           generator=None):
    _check_input(op, nd, input)
    kernel = _ntuple(kernel_size, nd, "kernel_size", op, 1)
    size, (n, c) = input.shape[2:], input.shape[:2]
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
        ratio = (output_ratio,) * nd if isinstance(output_ratio, numbers.Real) else tuple(output_ratio)
        if len(ratio) != nd or not all(0 < r < 1 for r in ratio):
            raise ValueError(f"{op}: output_ratio must be a number or a tuple of {nd} numbers in (0, 1), "
                             f"got {output_ratio!r}")
        output_size = tuple(int(s * r) for s, r in zip(size, ratio))
    out = _ntuple(output_size, nd, "output_size", op, 1)
    for d, (s, m, k) in enumerate(zip(size, out, kernel)):
        if m + k - 1 > s - (nd == 3):  # torch's 3-D kernel wants one pixel to spare
            raise RuntimeError(f"{op}: kernel_size {kernel} is too large relative to input size {tuple(size)} and "
                               f"output size {out} (dimension {d}: output + kernel - 1 = {m + k - 1})")
    xp = input.xp
    if samples is None:
        u = backend.rng(generator).random((n, c, nd)).astype(input.dtype)
        u = xp.asarray(u)
    else:
        u = samples.array if isinstance(samples, Tensor) else xp.asarray(samples)
        if u.shape != (n, c, nd):
            raise RuntimeError(f"{op}: _random_samples must have shape {(n, c, nd)}, got {tuple(u.shape)}")
        u = u.astype(input.dtype)
    # torch draws the 2-D samples as (w, h) and the 3-D ones as (t, h, w)
    order = (1, 0) if nd == 2 else tuple(range(nd))
    starts = [_intervals(u[:, :, order[d]], s, m, k, xp) for d, (s, m, k) in enumerate(zip(size, out, kernel))]
    x = input.array
    best = idx = None
    for offs in itertools.product(*(range(k) for k in kernel)):
        pos = [(st + o).reshape((n, c) + tuple(m if e == d else 1 for e in range(nd)))
               for d, (st, o, m) in enumerate(zip(starts, offs, out))]
        flat = functools.reduce(lambda f, ps: f * ps[1] + ps[0], zip(pos[1:], size[1:]), pos[0])
        flat = xp.broadcast_to(flat, (n, c) + out)
        v = gather_planes(x, flat)
        if best is None:
            best, idx = v, flat.copy()
            continue
        m = v > best
        if v.dtype.kind == "f":
            m |= xp.isnan(v)  # NaN wins, as torch
        xp.copyto(best, v, where=m)
        xp.copyto(idx, flat, where=m)
    y = _Gather(idx, input.shape, False)(input)
    return (y, Tensor._wrap(idx)) if return_indices else y


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None, generator=None):
    """Fractional max pooling of (N, C, H, W) to ``output_size`` (or ``output_ratio`` of the input size).

    Windows of kernel_size start at int((i + u) a) - int(u a), a = (H - kH) / (Ho - 1), with u ~ U[0, 1)
    drawn per (n, c) from lamina's generator (``_random_samples`` (N, C, 2) fixes them, as torch);
    dx = dy at the argmax. ``return_indices`` gives the flat indices r * W + q.
    """
    return _fractional_max_poolnd("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                                  return_indices, _random_samples, generator)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None, generator=None):
    """Fractional max pooling of (N, C, D, H, W) (see fractional_max_pool2d); ``_random_samples`` (N, C, 3)."""
    return _fractional_max_poolnd("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                                  return_indices, _random_samples, generator)


# ---------------------------------------------------------------- max unpooling
class _Unpool(Function):
    """y = zeros(out_shape), y[n, c].flat[idx[n, c, k]] = x[n, c, k];  dx = dy gathered at idx (torch's rule)."""

    saves_inputs = False

    def __init__(self, idx, out_shape):
        self.idx, self.out_shape = idx, tuple(out_shape)

    def forward(self, x):
        xp = backend.array_module(x)
        n, c = x.shape[:2]
        plane = math.prod(self.out_shape[2:])
        flat = (self.idx.reshape(n * c, -1) + (xp.arange(n * c, dtype=np.int64) * plane)[:, None]).reshape(-1)
        out = xp.zeros(n * c * plane, dtype=x.dtype)
        out[flat] = x.reshape(-1)
        return out.reshape(self.out_shape)

    def backward(self, gy):
        return _Gather(self.idx, self.out_shape, False)(gy)


def _unpool_size(op, nd, x, kernel, stride, padding, output_size) -> tuple:
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[2:], stride, padding, kernel))
    if output_size is None:
        return default
    size = tuple(int(v) for v in output_size)
    if len(size) == nd + 2:
        size = size[2:]
    if len(size) != nd:
        raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a "
                         f"length of '{len(size)}'")
    for d, (v, m, s) in enumerate(zip(size, default, stride)):
        if not m - s < v < m + s:
            raise ValueError(f'invalid output_size "{size}" (dim {d} must be between {m - s} and {m + s})')
    return size


def _max_unpoolnd(op, nd, input, indices, kernel_size, stride, padding, output_size):
    _check_input(op, nd, input)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}: indices must be a Tensor, got {type(indices).__name__}")
    if indices.dtype != np.int64:
        raise RuntimeError(f"{op}: elements in indices should be type int64 but got: {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: expected shape of indices to be same as that of the input tensor "
                           f"({tuple(input.shape)}) but got indices tensor with shape: {tuple(indices.shape)}")
    kernel = _ntuple(kernel_size, nd, "kernel_size", op, 1)
    stride = kernel if stride is None else _ntuple(stride, nd, "stride", op, 1)
    padding = _ntuple(padding, nd, "padding", op, 0)
    size = _unpool_size(op, nd, input, kernel, stride, padding, output_size)
    idx = indices.array
    plane = math.prod(size)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        bad = int(idx.max()) if int(idx.max()) >= plane else int(idx.min())
        raise RuntimeError(f"{op}: found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, size))})")
    return _Unpool(idx, input.shape[:2] + size)(input)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: (N, C, L) values and their argmax positions -> (N, C, L_out), zeros
    elsewhere; L_out = (L - 1) s - 2p + k unless output_size."""
    return _max_unpoolnd("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: y[n, c].flat[indices] = x[n, c], zeros elsewhere;  dx = dy at indices.

    >>> y, i = max_pool2d(x, 2, return_indices=True);  max_unpool2d(y, i, 2).shape == x.shape
    """
    return _max_unpoolnd("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d over (N, C, D, H, W) (flat indices (z H + r) W + q)."""
    return _max_unpoolnd("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d", "fractional_max_pool2d", "fractional_max_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d"]
