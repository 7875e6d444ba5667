"""Window geometry, im2col and col2im: the data movement behind convolution and pooling.

A 2-D sliding window is described by a ``Geometry``: an *image* side (H, W), a *column* side
(Ho, Wo) (one entry per window position), the kernel (kh, kw), stride, dilation and the padding
added *before* the image (ph, pw). Window ``(oh, ow)``, kernel offset ``(i, j)`` reads image pixel

    r = oh * sh + i * dh - ph,    q = ow * sw + j * dw - pw      (outside the image: padding).

The padding *after* the image is implied by the sizes: the windows span
``(Ho - 1) * s + d * (k - 1) + 1`` rows, which may stop short of the image (trailing rows
unused, as in a strided conv) or run past it ('same' padding, ceil-mode pooling, or a
transposed conv with output_padding).

* ``im2col(x, g)``: (N, C, H, W) -> (C, kh, kw, N, Ho, Wo), zero outside the image.
* ``col2im(cols, g)``: the adjoint, (C, kh, kw, N, Ho, Wo) -> (N, C, H, W), adding the
  contributions of overlapping windows.

The columns are "K-major": seen as a (C*kh*kw, N*Ho*Wo) matrix, a whole batch's convolution is
ONE large GEMM (per group) rather than one small GEMM per image, which keeps BLAS threads busy
(and is far more robust when the cores are shared).

Both are array code (NumPy or CuPy): a padded buffer and one strided copy (im2col) or add
(col2im) per kernel offset; col2im accumulates in the columns' (C, N, ...) layout and transposes
once. Measured on the benchmark's Conv(32->64) layer, this matched or beat parallel Numba
kernels for both, so there are none. Large column buffers are recycled (``pool``): a fresh
60 MB array costs ~10 ms of page faults per step.

Max pooling's argmax and the scatter that routes its gradient live here too; there parallel
Numba kernels (CPU, large arrays) win clearly: one pass instead of a compare/select per offset.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..backend import array_module

try:  # Numba is a dependency, but keep a pure-array path (CuPy, or a broken Numba install)
    from numba import njit, prange
except Exception:  # pragma: no cover
    njit = None


class Geometry:
    """Sliding-window geometry in 2-D (1-D ops use H = Ho = 1, kh = 1)."""

    __slots__ = ("img", "col", "kernel", "stride", "dilation", "padding")

    def __init__(self, img, col, kernel, stride, dilation, padding):
        self.img, self.col, self.kernel = tuple(img), tuple(col), tuple(kernel)
        self.stride, self.dilation, self.padding = tuple(stride), tuple(dilation), tuple(padding)

    @property
    def extent(self) -> tuple:
        """Rows and columns covered by the windows, padding included."""
        return tuple((o - 1) * s + d * (k - 1) + 1 for o, s, d, k in
                     zip(self.col, self.stride, self.dilation, self.kernel))

    def offset_slices(self):
        """For each kernel offset (i, j), in row-major order, the slices into the padded buffer."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.col
        for i in range(kh):
            for j in range(kw):
                yield (slice(i * dh, i * dh + (ho - 1) * sh + 1, sh), slice(j * dw, j * dw + (wo - 1) * sw + 1, sw))

    def overlapping(self) -> bool:
        """Whether two windows can share a pixel."""
        return any(o > 1 and s < d * (k - 1) + 1 for o, s, d, k in
                   zip(self.col, self.stride, self.dilation, self.kernel))

    def __repr__(self):
        return (f"Geometry(img={self.img}, col={self.col}, kernel={self.kernel}, stride={self.stride}, "
                f"dilation={self.dilation}, padding={self.padding})")


# ---------------------------------------------------------------- padded buffers (array path)
def window_buffer(x, g: Geometry, fill=0):
    """x (N, C, H, W) placed in a buffer covering the windows' extent, ``fill`` outside the image."""
    xp = array_module(x)
    n, c, h, w = x.shape
    (hp, wp), (ph, pw) = g.extent, g.padding
    if ph == 0 and pw == 0 and hp <= h and wp <= w:
        return x[:, :, :hp, :wp]
    buf = xp.full((n, c, hp, wp), fill, dtype=x.dtype)
    rh, rw = max(0, min(h, hp - ph)), max(0, min(w, wp - pw))
    buf[:, :, ph:ph + rh, pw:pw + rw] = x[:, :, :rh, :rw]
    return buf


def crop_buffer(buf, g: Geometry):
    """The image part of a padded buffer (the adjoint of ``window_buffer`` with fill 0)."""
    xp = array_module(buf)
    (hp, wp), (ph, pw), (h, w) = g.extent, g.padding, g.img
    if ph == 0 and pw == 0 and hp == h and wp == w:
        return buf
    out = xp.zeros(buf.shape[:2] + (h, w), dtype=buf.dtype)
    rh, rw = max(0, min(h, hp - ph)), max(0, min(w, wp - pw))
    out[:, :, :rh, :rw] = buf[:, :, ph:ph + rh, pw:pw + rw]
    return out


def _trivial(g: Geometry) -> bool:
    """1x1 kernel, stride 1, no padding, windows = pixels: im2col is a transpose."""
    return g.kernel == (1, 1) and g.stride == (1, 1) and g.padding == (0, 0) and g.col == g.img


class _BufferPool:
    """Spent column buffers kept for the next im2col of the same size.

    A fresh 60 MB NumPy array (the benchmark CNN's second conv) costs ~10 ms of page faults
    every step, as much as one of its GEMMs; a reused one costs nothing. Only large CPU buffers
    that conv's backward has finished with are given back; at most ``max_bytes`` are kept.
    """

    def __init__(self, max_bytes=256 << 20, min_bytes=1 << 20):
        self.max_bytes, self.min_bytes = max_bytes, min_bytes
        self.free = []
        self.lock = threading.Lock()

    def take(self, shape, dtype, xp):
        size = math.prod(shape)
        if xp is np and size * np.dtype(dtype).itemsize >= self.min_bytes:
            with self.lock:
                for i, buf in enumerate(self.free):
                    if buf.size == size and buf.dtype == dtype:
                        return self.free.pop(i).reshape(shape)
        return xp.empty(shape, dtype=dtype)

    def give(self, buf) -> None:
        """Hand back a buffer that nothing references any more (im2col's columns after backward)."""
        if not isinstance(buf, np.ndarray) or not buf.flags.c_contiguous:
            return
        root = buf if buf.base is None else buf.base  # a pooled buffer comes back as a reshaped view
        if not (isinstance(root, np.ndarray) and root.flags.owndata and root.nbytes == buf.nbytes
                and self.min_bytes <= buf.nbytes <= self.max_bytes):
            return
        with self.lock:
            self.free.append(root.reshape(-1))
            while sum(b.nbytes for b in self.free) > self.max_bytes:
                self.free.pop(0)


pool = _BufferPool()


def im2col(x, g: Geometry):
    """(N, C, H, W) -> contiguous (C, kh, kw, N, Ho, Wo): cols[c, i, j, n, oh, ow] = x[n, c, r, q].

    Always an array of its own, never a view of x (conv's backward writes over spent columns).
    """
    xp = array_module(x)
    n, c = x.shape[:2]
    cols = pool.take((c,) + g.kernel + (n,) + g.col, x.dtype, xp)
    if _trivial(g):
        cols[:, 0, 0] = x.transpose(1, 0, 2, 3)
        return cols
    buf = window_buffer(x, g, 0)
    kw = g.kernel[1]
    for k, (si, sj) in enumerate(g.offset_slices()):
        cols[:, k // kw, k % kw] = buf[:, :, si, sj].transpose(1, 0, 2, 3)
    return cols


def col2im(cols, g: Geometry, out=None):
    """(C, kh, kw, N, Ho, Wo) -> (N, C, H, W), summing every window's contribution to each pixel.

    Written into ``out`` (an (N, C, H, W) array, e.g. one batch part of a larger result) when given.
    """
    xp = array_module(cols)
    c, kh, kw, n = cols.shape[:4]
    (h, w) = g.img
    if out is None:
        out = xp.empty((n, c, h, w), dtype=cols.dtype)
    if _trivial(g):
        out[...] = cols.reshape((c, n) + g.img).transpose(1, 0, 2, 3)
        return out
    # accumulate in the columns' own (C, N, ...) layout (aligned adds), transpose once at the end
    buf = xp.zeros((c, n) + g.extent, dtype=cols.dtype)
    for k, (si, sj) in enumerate(g.offset_slices()):
        buf[:, :, si, sj] += cols[:, k // kw, k % kw]
    (hp, wp), (ph, pw) = g.extent, g.padding
    rh, rw = max(0, min(h, hp - ph)), max(0, min(w, wp - pw))
    if (rh, rw) != (h, w):
        out[...] = 0
    out[:, :, :rh, :rw] = buf[:, :, ph:ph + rh, pw:pw + rw].transpose(1, 0, 2, 3)
    return out


# ---------------------------------------------------------------- max pooling: argmax and its routing
# Below this many elements the array path wins: waking Numba's thread pool costs more.
NUMBA_MIN_SIZE = 1 << 17


def _use_numba(a, size: int) -> bool:
    return (njit is not None and size >= NUMBA_MIN_SIZE and isinstance(a, np.ndarray)
            and a.dtype in (np.float32, np.float64))


if njit is not None:

    @njit(parallel=True, cache=True)
    def _max_pool_kernel(x, kh, kw, sh, sw, dh, dw, ph, pw, out, idx):  # pragma: no cover - compiled
        n_, c_, h, w = x.shape
        ho, wo = out.shape[2], out.shape[3]
        for nc in prange(n_ * c_):
            n = nc // c_
            c = nc % c_
            plane = x[n, c]
            for oh in range(ho):
                for ow in range(wo):
                    best = plane[0, 0]
                    arg = -1
                    for i in range(kh):
                        r = oh * sh + i * dh - ph
                        if r < 0 or r >= h:
                            continue
                        for j in range(kw):
                            q = ow * sw + j * dw - pw
                            if q < 0 or q >= w:
                                continue
                            v = plane[r, q]
                            # torch: the first maximum wins ties; a NaN always takes over
                            if arg < 0 or v > best or v != v:
                                best = v
                                arg = r * w + q
                    out[n, c, oh, ow] = best
                    idx[n, c, oh, ow] = arg

    @njit(parallel=True, cache=True)
    def _scatter_kernel(g, idx, out):  # pragma: no cover - compiled
        for p in prange(g.shape[0]):
            row = out[p]
            row[:] = 0
            for k in range(g.shape[1]):
                row[idx[p, k]] += g[p, k]


def _max_pool_array(x, g: Geometry):
    xp = array_module(x)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    buf = window_buffer(x, g, fill)
    best = arg = None
    for k, (si, sj) in enumerate(g.offset_slices()):
        v = buf[:, :, si, sj]
        if best is None:
            best, arg = v.copy(), xp.zeros(v.shape, dtype=np.int64)
            continue
        m = v > best
        if x.dtype.kind == "f":
            m |= xp.isnan(v)  # NaN propagates, as torch
        xp.copyto(best, v, where=m)
        xp.copyto(arg, k, where=m)
    (sh, sw), (dh, dw), (ph, pw), (ho, wo), kw = g.stride, g.dilation, g.padding, g.col, g.kernel[1]
    rows = (xp.arange(ho, dtype=np.int64) * sh - ph).reshape(ho, 1)
    cols = xp.arange(wo, dtype=np.int64) * sw - pw
    return best, (rows + (arg // kw) * dh) * g.img[1] + cols + (arg % kw) * dw


def max_pool(x, g: Geometry, use_numba=None):
    """Max over each window of ``g`` and its argmax as a flat index ``r * W + q`` into the (H, W) plane."""
    n, c = x.shape[:2]
    if use_numba is None:
        use_numba = _use_numba(x, x.size)
    if not use_numba:
        return _max_pool_array(x, g)
    out = np.empty((n, c) + g.col, dtype=x.dtype)
    idx = np.empty((n, c) + g.col, dtype=np.int64)
    _max_pool_kernel(np.ascontiguousarray(x), *g.kernel, *g.stride, *g.dilation, *g.padding, out, idx)
    return out, idx


def gather_planes(x, idx):
    """y[n, c, ...] = x[n, c].flat[idx[n, c, ...]]."""
    n, c = x.shape[:2]
    return array_module(x).take_along_axis(x.reshape(n, c, -1), idx.reshape(n, c, -1), axis=2).reshape(idx.shape)


def scatter_planes(g, idx, plane: tuple, unique: bool, use_numba=None):
    """out[n, c].flat[idx[n, c, k]] += g[n, c, k], out of shape (N, C) + plane (duplicates add up)."""
    xp = array_module(g)
    n, c = g.shape[:2]
    size = math.prod(plane)
    if use_numba is None:
        use_numba = _use_numba(g, g.size)
    if use_numba:
        out = np.empty((n * c, size), dtype=g.dtype)
        _scatter_kernel(np.ascontiguousarray(g).reshape(n * c, -1), np.ascontiguousarray(idx).reshape(n * c, -1), out)
        return out.reshape((n, c) + plane)
    flat = (idx.reshape(n * c, -1) + (xp.arange(n * c, dtype=idx.dtype) * size)[:, None]).reshape(-1)
    if unique:  # windows never share a pixel: a plain assignment
        out = xp.zeros(n * c * size, dtype=g.dtype)
        out[flat] = g.reshape(-1)
    else:  # one pass that adds duplicates (not np.add.at)
        out = xp.bincount(flat, weights=g.reshape(-1), minlength=n * c * size).astype(g.dtype)
    return out.reshape((n, c) + plane)
