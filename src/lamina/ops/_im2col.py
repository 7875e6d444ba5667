"""Window geometry, im2col and col2im: the data movement behind convolution and pooling.

A sliding window over d spatial dimensions (2-D: (H, W); 3-D: (D, H, W)) is described by a
``Geometry``: an *image* side, a *column* side (one entry per window position), the kernel,
stride, dilation and the padding added *before* the image. Window ``o``, kernel offset ``i``
reads image pixel (per dimension)

    r = o * s + i * d - p      (outside the image: padding).

The padding *after* the image is implied by the sizes: the windows span
``(o_n - 1) * s + d * (k - 1) + 1`` pixels, which may stop short of the image (trailing rows
unused, as in a strided conv) or run past it ('same' padding, ceil-mode pooling, or a
transposed conv with output_padding).

* ``im2col(x, g)``: (N, C, *img) -> (C, *kernel, N, *col), zero outside the image.
* ``col2im(cols, g)``: the adjoint, (C, *kernel, N, *col) -> (N, C, *img), adding the
  contributions of overlapping windows.

The columns are "K-major": seen as a (C*prod(kernel), N*prod(col)) matrix, a whole batch's
convolution is ONE large GEMM (per group) rather than one small GEMM per image, which keeps
BLAS threads busy (and is far more robust when the cores are shared).

Both are array code (NumPy or CuPy): a padded buffer and one strided copy (im2col) or add
(col2im) per kernel offset; col2im accumulates in the columns' (C, N, ...) layout and transposes
once. Measured on the benchmark's Conv(32->64) layer, this matched or beat parallel Numba
kernels for both, so there are none. Large column buffers are recycled (``pool``): a fresh
60 MB array costs ~10 ms of page faults per step.

Max pooling's argmax and the scatter that routes its gradient live here too; there parallel
Numba kernels (CPU, large arrays) win clearly: one pass instead of a compare/select per offset.
"""
from __future__ import annotations

import itertools
import math
import threading

import numpy as np

from ..backend import array_module

from .._threads import in_parts

try:  # Numba is a dependency, but keep a pure-array path (CuPy, or a broken Numba install)
    from numba import njit
except Exception:  # pragma: no cover
    njit = None


class Geometry:
    """Sliding-window geometry in d spatial dimensions (1-D ops run as 2-D with H = Ho = 1, kh = 1)."""

    __slots__ = ("img", "col", "kernel", "stride", "dilation", "padding")

    def __init__(self, img, col, kernel, stride, dilation, padding):
        self.img, self.col, self.kernel = tuple(img), tuple(col), tuple(kernel)
        self.stride, self.dilation, self.padding = tuple(stride), tuple(dilation), tuple(padding)

    @property
    def nd(self) -> int:
        return len(self.img)

    @property
    def extent(self) -> tuple:
        """Pixels covered by the windows in each dimension, padding included."""
        return tuple((o - 1) * s + d * (k - 1) + 1 for o, s, d, k in
                     zip(self.col, self.stride, self.dilation, self.kernel))

    def offset_slices(self):
        """For each kernel offset, in row-major order, the tuple of slices into the padded buffer."""
        ranges = [[slice(i * d, i * d + (o - 1) * s + 1, s) for i in range(k)]
                  for k, s, d, o in zip(self.kernel, self.stride, self.dilation, self.col)]
        return itertools.product(*ranges)

    def overlapping(self) -> bool:
        """Whether two windows can share a pixel."""
        return any(o > 1 and s < d * (k - 1) + 1 for o, s, d, k in
                   zip(self.col, self.stride, self.dilation, self.kernel))

    def __repr__(self):
        return (f"Geometry(img={self.img}, col={self.col}, kernel={self.kernel}, stride={self.stride}, "
                f"dilation={self.dilation}, padding={self.padding})")


_ALL2 = (slice(None), slice(None))


def _channels_first(nd: int) -> tuple:
    """The permutation (N, C, *sp) <-> (C, N, *sp)."""
    return (1, 0) + tuple(range(2, nd + 2))


def _image_part(g: Geometry) -> tuple:
    """(slices into the padded buffer, slices into the image) of the image pixels the windows cover."""
    keep = [max(0, min(n, e - p)) for n, e, p in zip(g.img, g.extent, g.padding)]
    return (tuple(slice(p, p + r) for p, r in zip(g.padding, keep)), tuple(slice(0, r) for r in keep),
            tuple(keep) != g.img)


# ---------------------------------------------------------------- padded buffers (array path)
def window_buffer(x, g: Geometry, fill=0):
    """x (N, C, *img) placed in a buffer covering the windows' extent, ``fill`` outside the image."""
    xp = array_module(x)
    ext = g.extent
    if not any(g.padding) and all(e <= n for e, n in zip(ext, x.shape[2:])):
        return x[_ALL2 + tuple(slice(0, e) for e in ext)]
    buf = xp.full(x.shape[:2] + ext, fill, dtype=x.dtype)
    in_buf, in_img, _ = _image_part(g)
    buf[_ALL2 + in_buf] = x[_ALL2 + in_img]
    return buf


def crop_buffer(buf, g: Geometry):
    """The image part of a padded buffer (the adjoint of ``window_buffer`` with fill 0)."""
    xp = array_module(buf)
    if not any(g.padding) and g.extent == g.img:
        return buf
    out = xp.zeros(buf.shape[:2] + g.img, dtype=buf.dtype)
    in_buf, in_img, _ = _image_part(g)
    out[_ALL2 + in_img] = buf[_ALL2 + in_buf]
    return out


def _trivial(g: Geometry) -> bool:
    """1x1 kernel, stride 1, no padding, windows = pixels: im2col is a transpose."""
    return (all(k == 1 for k in g.kernel) and all(s == 1 for s in g.stride) and not any(g.padding)
            and g.col == g.img)


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
    """(N, C, *img) -> contiguous (C, *kernel, N, *col): cols[c, i.., n, o..] = x[n, c, r..].

    Always an array of its own, never a view of x (conv's backward writes over spent columns).
    """
    xp = array_module(x)
    n, c = x.shape[:2]
    cols = pool.take((c,) + g.kernel + (n,) + g.col, x.dtype, xp)
    flat = cols.reshape((c, math.prod(g.kernel), n) + g.col)
    perm = _channels_first(g.nd)
    if _trivial(g):
        flat[:, 0] = x.transpose(perm)
        return cols
    buf = window_buffer(x, g, 0)
    for k, sl in enumerate(g.offset_slices()):
        flat[:, k] = buf[_ALL2 + sl].transpose(perm)
    return cols


def col2im(cols, g: Geometry, out=None):
    """(C, *kernel, N, *col) -> (N, C, *img), summing every window's contribution to each pixel.

    Written into ``out`` (an (N, C, *img) array, e.g. one batch part of a larger result) when given.
    """
    xp = array_module(cols)
    c, n = cols.shape[0], cols.shape[1 + g.nd]
    if out is None:
        out = xp.empty((n, c) + g.img, dtype=cols.dtype)
    flat = cols.reshape((c, math.prod(g.kernel), n) + g.col)
    perm = _channels_first(g.nd)
    if _trivial(g):
        out[...] = flat[:, 0].transpose(perm)
        return out
    # accumulate in the columns' own (C, N, ...) layout (aligned adds), transpose once at the end
    buf = xp.zeros((c, n) + g.extent, dtype=cols.dtype)
    for k, sl in enumerate(g.offset_slices()):
        buf[_ALL2 + sl] += flat[:, k]
    in_buf, in_img, partial = _image_part(g)
    if partial:
        out[...] = 0
    out[_ALL2 + in_img] = buf[_ALL2 + in_buf].transpose(perm)
    return out


# ---------------------------------------------------------------- max pooling: argmax and its routing
# Below this many elements the array path wins. The kernels are serial (GIL released); their
# outer loop is cut into parts that run on lamina's threads (lamina/_threads.py).
NUMBA_MIN_SIZE = 1 << 17


def _use_numba(a, size: int) -> bool:
    return (njit is not None and size >= NUMBA_MIN_SIZE and isinstance(a, np.ndarray)
            and a.dtype in (np.float32, np.float64))


if njit is not None:

    @njit(cache=True, nogil=True)
    def _max_pool_kernel(x, kh, kw, sh, sw, dh, dw, ph, pw, out, idx, lo, hi):  # pragma: no cover - compiled
        n_, c_, h, w = x.shape
        ho, wo = out.shape[2], out.shape[3]
        for nc in range(lo, hi):  # planes lo..hi of the N * C
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

    @njit(cache=True, nogil=True)
    def _max_pool3d_kernel(x, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw, out, idx, lo, hi):  # pragma: no cover
        n_, c_, d_, h, w = x.shape
        do, ho, wo = out.shape[2], out.shape[3], out.shape[4]
        for ncz in range(lo, hi):  # (n, c, output depth) triples: enough parts for small batches
            n = ncz // (c_ * do)
            c = (ncz // do) % c_
            oz = ncz % do
            vol = x[n, c]
            for oh in range(ho):
                for ow in range(wo):
                    best = vol[0, 0, 0]
                    arg = -1
                    for a in range(kd):
                        z = oz * sd + a * dd - pd
                        if z < 0 or z >= d_:
                            continue
                        for i in range(kh):
                            r = oh * sh + i * dh - ph
                            if r < 0 or r >= h:
                                continue
                            for j in range(kw):
                                q = ow * sw + j * dw - pw
                                if q < 0 or q >= w:
                                    continue
                                v = vol[z, r, q]
                                if arg < 0 or v > best or v != v:
                                    best = v
                                    arg = (z * h + r) * w + q
                    out[n, c, oz, oh, ow] = best
                    idx[n, c, oz, oh, ow] = arg

    @njit(cache=True, nogil=True)
    def _scatter_kernel(g, idx, out, lo, hi):  # pragma: no cover - compiled
        for p in range(lo, hi):
            row = out[p]
            row[:] = 0
            for k in range(g.shape[1]):
                row[idx[p, k]] += g[p, k]


def _max_pool_array(x, g: Geometry):
    xp = array_module(x)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    buf = window_buffer(x, g, fill)
    best = arg = None
    for k, sl in enumerate(g.offset_slices()):
        v = buf[_ALL2 + sl]
        if best is None:
            best, arg = v.copy(), xp.zeros(v.shape, dtype=np.int64)
            continue
        m = v > best
        if x.dtype.kind == "f":
            m |= xp.isnan(v)  # NaN propagates, as torch
        xp.copyto(best, v, where=m)
        xp.copyto(arg, k, where=m)
    # the flat index into the image: sum over dims of (o s - p + i d) * (stride of that dim in the image)
    nd, flat = g.nd, None
    offsets = np.unravel_index(np.arange(math.prod(g.kernel)), g.kernel)
    for dim in range(nd):
        step = math.prod(g.img[dim + 1:])
        start = (xp.arange(g.col[dim], dtype=np.int64) * g.stride[dim] - g.padding[dim]) * step
        start = start.reshape((-1,) + (1,) * (nd - 1 - dim))
        off = xp.asarray(offsets[dim] * (g.dilation[dim] * step), dtype=np.int64)[arg]
        flat = start + off if flat is None else flat + start + off
    return best, flat


def max_pool(x, g: Geometry, use_numba=None):
    """Max over each window of ``g`` and its argmax as a flat index (``r * W + q``; 3-D ``(z H + r) W + q``)
    into each image plane (torch's convention)."""
    n, c = x.shape[:2]
    if use_numba is None:
        use_numba = _use_numba(x, x.size) and g.nd in (2, 3)
    if not use_numba:
        return _max_pool_array(x, g)
    out = np.empty((n, c) + g.col, dtype=x.dtype)
    idx = np.empty((n, c) + g.col, dtype=np.int64)
    kernel = _max_pool_kernel if g.nd == 2 else _max_pool3d_kernel
    total = n * c * (1 if g.nd == 2 else g.col[0])
    in_parts(kernel, total, out.size * math.prod(g.kernel),
             np.ascontiguousarray(x), *g.kernel, *g.stride, *g.dilation, *g.padding, out, idx,
             min_work=NUMBA_MIN_SIZE)
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
        in_parts(_scatter_kernel, n * c, out.size + g.size,
                 np.ascontiguousarray(g).reshape(n * c, -1), np.ascontiguousarray(idx).reshape(n * c, -1), out,
                 min_work=NUMBA_MIN_SIZE)
        return out.reshape((n, c) + plane)
    flat = (idx.reshape(n * c, -1) + (xp.arange(n * c, dtype=idx.dtype) * size)[:, None]).reshape(-1)
    if unique:  # windows never share a pixel: a plain assignment
        out = xp.zeros(n * c * size, dtype=g.dtype)
        out[flat] = g.reshape(-1)
    else:  # one pass that adds duplicates (not np.add.at)
        out = xp.bincount(flat, weights=g.reshape(-1), minlength=n * c * size).astype(g.dtype)
    return out.reshape((n, c) + plane)
