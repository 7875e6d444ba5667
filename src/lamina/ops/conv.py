"""Convolutions (PyTorch's functional API): conv1d/2d/3d, conv_transpose1d/2d/3d.

conv2d, with Cg = C / groups input channels per group and g(o) the group of output channel o:

    y[n, o, oh, ow] = b[o] + sum_{c < Cg, i, j} w[o, c, i, j] * x[n, g(o)*Cg + c, oh*s + i*d - p, ow*s + j*d - p]

computed as im2col (``_im2col.py``) and one GEMM per group for the whole batch:
``Y[g] (Og, N*Ho*Wo) = W[g] (Og, Cg*kh*kw) @ cols[g] (Cg*kh*kw, N*Ho*Wo)``, then one transpose
copy (with the bias added on the way) back to NCHW.

Three bilinear primitives close the gradient algebra, so derivatives of every order work
(gradient penalties on CNN critics, ``create_graph=True``):

    _Conv(x, w)      img -> col   y  = conv(x, w)                   (+ bias)
    _ConvT(c, w)     col -> img   x' = conv_transpose(c, w)         (+ bias)   the adjoint of _Conv in x
    _ConvW(x, c)     -> weight    gw = sum_{n, oh, ow} c * cols(x)  the adjoint of _Conv in w

    d_Conv:  dx = _ConvT(dy, w),   dw = _ConvW(x, dy),   db = sum(dy)
    d_ConvT: dc = _Conv(dx', w),   dw = _ConvW(dx', c),  db = sum(dx')
    d_ConvW: dx = _ConvT(c, dgw),  dc = _Conv(x, dgw)

conv_transpose2d is ``_ConvT`` itself: torch's transposed-conv weight layout
(in_channels, out_channels/groups, kH, kW) is exactly the conv weight layout seen from the
image side. 1-D ops run the 2-D code on (N, C, 1, L); 3-D ops run the same code on
(N, C, D, H, W), with columns (C, kd, kh, kw, N, Do, Ho, Wo).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _blas
from ..autograd import Function, is_grad_enabled
from ..backend import array_module as _xp
from ..tensor import Tensor
from ._im2col import Geometry, col2im, im2col
from ._im2col import pool as buffer_pool


# ---------------------------------------------------------------- GEMM layouts
# Columns are K-major, (C*kh*kw, n*Ho*Wo) (see _im2col.py), and so are the col-side tensors fed
# to the GEMMs: c (n, O, Ho, Wo) is laid out as (O, n*Ho*Wo). Everything here is written for any
# number of spatial dims (2 or 3; 1-D runs as 2-D).
def _swap01(nd: int) -> tuple:
    return (1, 0) + tuple(range(2, nd + 2))


def _kmajor(c):
    """(n, O, *sp) -> contiguous (O, n*prod(sp))."""
    return _xp(c).ascontiguousarray(c.transpose(_swap01(c.ndim - 2))).reshape(c.shape[1], -1)


def _cols_times_weight(cols, w, groups, b, out):
    """out (n, O, *sp) = W @ cols (+ b) for cols (C, *k, n, *sp), w (O, Cg, *k); one GEMM per group."""
    nd = w.ndim - 2
    xp, n, sp, o = _xp(cols), cols.shape[1 + nd], cols.shape[2 + nd:], w.shape[0]
    m = n * math.prod(sp)
    if groups == 1:
        yt = w.reshape(o, -1) @ cols.reshape(-1, m)
    else:
        yt = w.reshape(groups, o // groups, -1) @ cols.reshape(groups, -1, m)
    yt = yt.reshape((o, n) + sp).transpose(_swap01(nd))
    if b is None:
        out[...] = yt
    else:  # the bias rides along with the transpose copy
        xp.add(yt, b.reshape((1, o) + (1,) * nd), out=out)


def _weight_t_times(ct, w, groups, col_shape, out=None):
    """ct (O, n*prod(sp)), w (O, Cg, *k) -> cols (C, *k, n, *sp) = W^T @ ct per group.

    ``out``: a free buffer of that shape to write into (saves a large allocation and its page faults).
    """
    o, nl = ct.shape
    if groups == 1:
        a, b = w.reshape(o, -1).T, ct
    else:
        a, b = w.reshape(groups, o // groups, -1).transpose(0, 2, 1), ct.reshape(groups, o // groups, nl)
    if out is None or out.shape != tuple(col_shape) or out.dtype != ct.dtype:
        return (a @ b).reshape(col_shape)
    _xp(ct).matmul(a, b, out=out.reshape(b.shape[:-2] + (a.shape[-2], nl)))
    return out


def _weight_grad(ct, cols, groups, wshape):
    """ct (O, n*prod(sp)), cols (C, *k, n, *sp) -> ct @ cols^T per group, shaped like w.

    Computed as (cols @ ct^T)^T: the (Cg*kh*kw, Og) product with its long n*Ho*Wo reduction was
    measured faster than ct @ cols^T.
    """
    o, nl = ct.shape
    if groups == 1:
        return (cols.reshape(-1, nl) @ ct.T).T.reshape(wshape)
    gw = cols.reshape(groups, -1, nl) @ ct.reshape(groups, o // groups, nl).swapaxes(1, 2)
    return gw.swapaxes(1, 2).reshape(wshape)


# ---------------------------------------------------------------- batch parts
# Each primitive runs its batch in contiguous parts, one per BLAS thread, side by side with BLAS on
# one thread (see _blas.py): im2col, GEMM and col2im of one part stay on one core. The columns of
# the forward pass are kept per part, as ``(parts, [cols, ...])``, for the weight gradient.
def _split(x, geom: Geometry, wshape) -> list:
    """Batch parts for a product with the weight shape (O, Cg, kh, kw) over the windows of ``geom``."""
    n = x.shape[0]
    if not isinstance(x, np.ndarray):
        return [(0, n)]
    macs = n * math.prod(wshape) * math.prod(geom.col)
    return _blas.split(n, macs)


def _give_all(saved) -> None:
    if saved is not None:
        for cols in saved[1]:
            buffer_pool.give(cols)


def _flipped_geometry(geom: Geometry):
    """For a stride-1 geometry, the windows of the transposed product seen as a plain convolution:

        x'[n, c, h, w] = sum_{o, i, j} c[n, o, h + p - i*d, w + p - j*d] w[o, c, i, j]

    is a correlation of c with the kernel flipped (i -> kh-1-i), padding d(k-1) - p, stride 1.
    None when the geometry is strided or padded beyond d(k-1) (then GEMM + col2im is used)."""
    if any(s != 1 for s in geom.stride):
        return None
    pads = tuple(d * (k - 1) - p for d, k, p in zip(geom.dilation, geom.kernel, geom.padding))
    if min(pads) < 0:
        return None
    return Geometry(geom.col, geom.img, geom.kernel, geom.stride, geom.dilation, pads)


def _flip_weight(w, groups: int):
    """w (O, Cg, *k) -> w' (C, Og, *k): w'[(g, cg), og, i..] = w[(g, og), cg, k-1-i..] (every spatial axis flipped)."""
    (o, cg), k = w.shape[:2], w.shape[2:]
    wg = w.reshape((groups, o // groups, cg) + k).transpose((0, 2, 1) + tuple(range(3, 3 + len(k))))
    wg = wg[(Ellipsis,) + (slice(None, None, -1),) * len(k)]
    return _xp(w).ascontiguousarray(wg).reshape((groups * cg, o // groups) + k)


def _bias_axes(gy) -> tuple:
    """Every axis but the channels: db = dy summed over them."""
    return (0,) + tuple(range(2, gy.ndim))


# ---------------------------------------------------------------- the three primitives
class _Conv(Function):
    """y = conv(x, w) + b;  dx = conv_transpose(dy, w),  dw = conv_weight(x, dy),  db = sum_{n,h,w} dy."""

    def __init__(self, geom: Geometry, groups: int, save_cols: bool = False):
        self.geom, self.groups, self.save_cols = geom, groups, save_cols

    def forward(self, x, w, b=None):
        geom, groups = self.geom, self.groups
        y = _xp(x).empty((x.shape[0], w.shape[0]) + geom.col, dtype=x.dtype)
        parts = _split(x, geom, w.shape)
        cols = [None] * len(parts)

        def part(i, lo, hi):
            c = im2col(x[lo:hi], geom)
            _cols_times_weight(c, w, groups, b, out=y[lo:hi])
            if self.save_cols:  # reused by the weight gradient
                cols[i] = c
            else:
                buffer_pool.give(c)

        _blas.run(parts, part)
        if self.save_cols:
            self.cols = (parts, cols)
        return y

    def backward(self, gy):
        x, w = self.inputs[:2]
        need = self.needs_input_grad
        saved = self.__dict__.pop("cols", None)  # a second backward (retain_graph) recomputes them
        gw = _ConvW(self.geom, self.groups, w.shape, saved)(x, gy) if need[1] else None
        if need[0]:  # the columns (never a view of x) are spent: W^T dy is written over them
            gx = _ConvT(self.geom, self.groups, saved)(gy, w)
        else:
            gx = None
            _give_all(saved)
        if len(need) == 2:
            return gx, gw
        return gx, gw, (gy.sum(_bias_axes(gy)) if need[2] else None)


class _ConvT(Function):
    """x' = conv_transpose(c, w) + b (GEMM + col2im);  dc = conv(dx', w),  dw = conv_weight(dx', c),  db = sum dx'.

    ``workspace``: spent forward columns ``(parts, [cols, ...])`` to write W^T c into.
    """

    def __init__(self, geom: Geometry, groups: int, workspace=None):
        self.geom, self.groups, self.workspace = geom, groups, workspace

    def forward(self, c, w, b=None):
        geom, groups = self.geom, self.groups
        n, cin = c.shape[0], w.shape[1] * groups
        parts, spare = self.workspace if self.workspace is not None else (_split(c, geom, w.shape), None)
        self.workspace = None
        y = _xp(c).empty((n, cin) + geom.img, dtype=c.dtype)
        flipped = _flipped_geometry(geom)
        if flipped is not None:  # stride 1: a correlation of c with the flipped kernel (im2col beats col2im)
            for cols in spare or ():
                buffer_pool.give(cols)  # same size as c's columns when in = out channels: reused at once
            wf = _flip_weight(w, groups)

            def part(i, lo, hi):
                cols = im2col(c[lo:hi], flipped)
                _cols_times_weight(cols, wf, groups, None, out=y[lo:hi])
                buffer_pool.give(cols)
        else:
            def part(i, lo, hi):
                col_shape = (cin,) + w.shape[2:] + (hi - lo,) + c.shape[2:]
                cols = _weight_t_times(_kmajor(c[lo:hi]), w, groups, col_shape,
                                       out=None if spare is None else spare[i])
                col2im(cols, geom, out=y[lo:hi])
                buffer_pool.give(cols)

        _blas.run(parts, part)
        if b is not None:
            y += b.reshape((1, -1) + (1,) * len(geom.img))
        return y

    def backward(self, gy):
        c, w = self.inputs[:2]
        need = self.needs_input_grad
        gc = gw = None
        if need[1]:
            conv = _Conv(self.geom, self.groups, save_cols=True)
            gc = conv(gy, w) if need[0] else None
            saved = conv.__dict__.pop("cols", None)
            gw = _ConvW(self.geom, self.groups, w.shape, saved)(gy, c)
            _give_all(saved)
        elif need[0]:
            gc = _Conv(self.geom, self.groups)(gy, w)
        if len(need) == 2:
            return gc, gw
        return gc, gw, (gy.sum(_bias_axes(gy)) if need[2] else None)


class _ConvW(Function):
    """gw[o, c, i, j] = sum_{n, oh, ow} c[n, o, oh, ow] * x[n, c, r(oh, i), q(ow, j)];

    dx = conv_transpose(c, dgw),  dc = conv(x, dgw).  ``saved``: the forward's ``(parts, [cols, ...])``
    of x, kept (not freed) for the input gradient that follows.
    """

    def __init__(self, geom: Geometry, groups: int, wshape: tuple, saved=None):
        self.geom, self.groups, self.wshape, self.saved = geom, groups, tuple(wshape), saved

    def forward(self, x, c):
        geom, groups, wshape = self.geom, self.groups, self.wshape
        own = self.saved is None
        parts, cols = (_split(x, geom, wshape), None) if own else self.saved
        self.saved = None  # not needed by backward
        gws = [None] * len(parts)

        def part(i, lo, hi):
            xc = im2col(x[lo:hi], geom) if own else cols[i]
            gws[i] = _weight_grad(_kmajor(c[lo:hi]), xc, groups, wshape)
            if own:
                buffer_pool.give(xc)

        _blas.run(parts, part)
        gw = gws[0]
        for g in gws[1:]:  # a fixed order: the same bits for the same thread count
            gw = gw + g
        return gw

    def backward(self, ggw):
        x, c = self.inputs
        need = self.needs_input_grad
        gx = _ConvT(self.geom, self.groups)(c, ggw) if need[0] else None
        gc = _Conv(self.geom, self.groups)(x, ggw) if need[1] else None
        return gx, gc


# ---------------------------------------------------------------- argument checks
def _ntuple(value, n: int, name: str, op: str, minimum: int) -> tuple:
    vals = (value,) * n if isinstance(value, numbers.Integral) else tuple(value)
    if len(vals) != n or not all(isinstance(v, numbers.Integral) for v in vals):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in vals):
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return tuple(int(v) for v in vals)


_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_KDIMS = {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}
_WLAYOUT = {False: "(out_channels, in_channels/groups, {k})", True: "(in_channels, out_channels/groups, {k})"}


def _check(op: str, nd: int, x, w, b, groups, transposed: bool):
    for name, t in (("input", x), ("weight", w), ("bias", b)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D input {_LAYOUT[nd]}, got shape {x.shape}")
    kdims = _KDIMS[nd]
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight {_WLAYOUT[transposed].format(k=kdims)}, "
                         f"got shape {w.shape}")
    if x.dtype.kind != "f" or x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        bd = f", bias {b.dtype}" if b is not None else ""
        raise TypeError(f"{op}: input, weight and bias must share one floating dtype, got input {x.dtype}, "
                        f"weight {w.dtype}{bd}")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    c = x.shape[1]
    if transposed:
        if c != w.shape[0]:
            raise ValueError(f"{op}: input has {c} channels (input shape {x.shape}) but weight of shape "
                             f"{w.shape} expects in_channels = weight.shape[0] = {w.shape[0]}")
        if c % groups:
            raise ValueError(f"{op}: in_channels ({c}) must be divisible by groups={groups}")
        out_channels = w.shape[1] * groups
    else:
        if c != w.shape[1] * groups:
            raise ValueError(f"{op}: input has {c} channels (input shape {x.shape}) but weight of shape "
                             f"{w.shape} with groups={groups} expects in_channels = {w.shape[1] * groups}")
        if w.shape[0] % groups:
            raise ValueError(f"{op}: out_channels ({w.shape[0]}, weight shape {w.shape}) must be divisible by "
                             f"groups={groups}")
        out_channels = w.shape[0]
    if b is not None and b.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},) (out_channels), got {b.shape}")


def _conv_geometry(op, nd, x, w, stride, padding, dilation) -> Geometry:
    size, kernel = x.shape[2:], w.shape[2:]
    stride = _ntuple(stride, nd, "stride", op, 1)
    dilation = _ntuple(dilation, nd, "dilation", op, 1)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            begin = tuple(t // 2 for t in totals)  # the extra pad, if any, goes after (right/bottom), as torch
            return _geometry(nd, size, size, kernel, stride, dilation, begin)
        else:
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    else:
        padding = _ntuple(padding, nd, "padding", op, 0)
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    padded = [n + 2 * p for n, p in zip(size, padding)]
    if any(e > p for e, p in zip(extent, padded)):
        raise ValueError(f"{op}: kernel size {tuple(kernel)} (dilated extent {tuple(extent)}) is larger than the "
                         f"padded input size {tuple(padded)} (input shape {x.shape}, padding {padding})")
    out = tuple((p - e) // s + 1 for p, e, s in zip(padded, extent, stride))
    return _geometry(nd, size, out, kernel, stride, dilation, padding)


def _geometry(nd, img, col, kernel, stride, dilation, padding) -> Geometry:
    """The window geometry the kernels run on: 2-D and 3-D as they are, 1-D as 2-D with a height of 1."""
    if nd != 1:
        return Geometry(img, col, kernel, stride, dilation, padding)
    return Geometry((1,) + tuple(img), (1,) + tuple(col), (1,) + tuple(kernel), (1,) + tuple(stride),
                    (1,) + tuple(dilation), (0,) + tuple(padding))


def _to2d(t, nd):
    """(N, C, L) -> (N, C, 1, L) for the 1-D ops; 2-D and 3-D inputs pass unchanged."""
    return t if nd != 1 else t.reshape(t.shape[:2] + (1,) + t.shape[2:])


def _from2d(t, nd):
    return t if nd != 1 else t.reshape(t.shape[:2] + t.shape[3:])


# ---------------------------------------------------------------- public API
def _convnd(op, nd, input, weight, bias, stride, padding, dilation, groups):
    _check(op, nd, input, weight, bias, groups, transposed=False)
    geom = _conv_geometry(op, nd, input, weight, stride, padding, dilation)
    save = is_grad_enabled() and weight.requires_grad
    args = (_to2d(input, nd), _to2d(weight, nd)) + (() if bias is None else (bias,))
    return _from2d(_Conv(geom, int(groups), save_cols=save)(*args), nd)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation) over (N, C, L) with weight (out_channels, C/groups, k).

    Output length ``(L + 2p - d(k-1) - 1) // s + 1``; ``padding`` may be 'same' or 'valid'.
    >>> conv1d(x, w, padding=1).shape    # x (8, 4, 50), w (16, 4, 3) -> (8, 16, 50)
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) over (N, C, H, W) with weight (out_channels, C/groups, kH, kW).

    y[n, o] = b[o] + sum_c w[o, c] (*) x[n, c]; gradients dx = conv_transpose2d(dy, w), dw = a conv of x with dy.
    ``padding``: int, pair, 'valid' or 'same' (stride 1 only; an odd total pad puts the extra row/column
    at the bottom/right, as torch). ``groups == in_channels`` gives a depthwise convolution.
    >>> conv2d(x, w, b, padding=1).shape   # x (64, 1, 28, 28), w (32, 1, 3, 3) -> (64, 32, 28, 28)
    """
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check(op, nd, input, weight, bias, groups, transposed=True)
    stride = _ntuple(stride, nd, "stride", op, 1)
    dilation = _ntuple(dilation, nd, "dilation", op, 1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints (no 'same'/'valid'), got {padding!r}")
    padding = _ntuple(padding, nd, "padding", op, 0)
    output_padding = _ntuple(output_padding, nd, "output_padding", op, 0)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either stride {stride} "
                             f"or dilation {dilation}")
    size, kernel = input.shape[2:], weight.shape[2:]
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
                for n, s, p, d, k, op_ in zip(size, stride, padding, dilation, kernel, output_padding))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: output size {out} is not positive (input shape {input.shape}, kernel "
                         f"{tuple(kernel)}, stride {stride}, padding {padding}, dilation {dilation})")
    geom = _geometry(nd, out, size, kernel, stride, dilation, padding)
    args = (_to2d(input, nd), _to2d(weight, nd)) + (() if bias is None else (bias,))
    return _from2d(_ConvT(geom, int(groups))(*args), nd)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution over (N, C_in, L) with weight (C_in, out_channels/groups, k).

    The adjoint of conv1d in its input; output length ``(L-1)s - 2p + d(k-1) + output_padding + 1``.
    """
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                             groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution over (N, C_in, H, W) with weight (C_in, out_channels/groups, kH, kW).

    The adjoint of conv2d in its input (GEMM W^T x, then col2im); output size
    ``(H-1)s - 2p + d(k-1) + output_padding + 1``. dx = conv2d(dy, w), dw = a conv of dy with x.
    >>> conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)   # (N, 64, 7, 7) -> (N, 32, 14, 14)
    """
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                             groups, dilation)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution (cross-correlation) over (N, C, D, H, W) with weight (out_channels, C/groups, kD, kH, kW).

    y[n, o] = b[o] + sum_c w[o, c] (*) x[n, c]: the same im2col + one GEMM per group as conv2d, with columns
    (C, kD, kH, kW, N, Do, Ho, Wo); dx = conv_transpose3d(dy, w), dw = a conv of x with dy.
    >>> conv3d(x, w, padding=1).shape   # x (2, 3, 8, 16, 16), w (8, 3, 3, 3, 3) -> (2, 8, 8, 16, 16)
    """
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """3-D transposed convolution over (N, C_in, D, H, W) with weight (C_in, out_channels/groups, kD, kH, kW).

    The adjoint of conv3d in its input (GEMM W^T x, then col2im); output size per dim
    ``(n-1)s - 2p + d(k-1) + output_padding + 1``.
    >>> conv_transpose3d(x, w, stride=2).shape   # x (1, 4, 3, 3, 3), w (4, 2, 2, 2, 2) -> (1, 2, 6, 6, 6)
    """
    return _conv_transposend("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding,
                             groups, dilation)
