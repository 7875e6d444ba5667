"""The weighted gather behind grid_sample, its two adjoints, and their Numba kernels.

Every (n, c) plane of P pixels is read at the same T x K tap positions ``idx[n, t, k]`` (shared by
the channels) with weights ``w[n, t, k]``:

    sample(x, idx, w)[n, c, k]     = sum_t w[n, t, k] x[n, c, idx[n, t, k]]          (N, C, P) -> (N, C, K)
    spread(g, idx, w)[n, c, p]     = sum_{t, k: idx[n, t, k] = p} w[n, t, k] g[n, c, k]   (the adjoint in x)
    correlate(g, x, idx)[n, t, k]  = sum_c g[n, c, k] x[n, c, idx[n, t, k]]          (the adjoint in w)

On CPU float arrays each is one pass of a serial Numba kernel (GIL released) whose outer loop
(planes, or tap rows: no write races) is cut into parts on lamina's threads; elsewhere (CuPy, no Numba, ``LAMINA_DISABLE_NUMBA=1``) the same math
runs as array code (take_along_axis, bincount).
"""
from __future__ import annotations

import os

import numpy as np

from ..backend import array_module

from .._threads import in_parts

try:  # Numba is a dependency, but keep the array path (CuPy, or a broken Numba install)
    from numba import njit
except Exception:  # pragma: no cover
    njit = None


# a second thread pays off from about this many element reads (OpenMP split everything before)
_SPLIT_MIN_WORK = 1 << 17
ENABLED = njit is not None and os.environ.get("LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True")


def _numba(*arrays) -> bool:
    return ENABLED and all(type(a) is np.ndarray for a in arrays) and arrays[0].dtype in (np.float32, np.float64)


if njit is not None:

    @njit(cache=True, nogil=True)
    def _sample_kernel(x, idx, w, out, lo, hi):  # pragma: no cover - compiled
        c_ = x.shape[1]
        t_, k_ = idx.shape[1], idx.shape[2]
        for nc in range(lo, hi):
            n = nc // c_
            row, o = x[n, nc % c_], out[n, nc % c_]
            for k in range(k_):
                o[k] = 0
            for t in range(t_):
                for k in range(k_):
                    o[k] += w[n, t, k] * row[idx[n, t, k]]

    @njit(cache=True, nogil=True)
    def _spread_kernel(g, idx, w, out, lo, hi):  # pragma: no cover - compiled
        c_ = g.shape[1]
        t_, k_ = idx.shape[1], idx.shape[2]
        for nc in range(lo, hi):
            n = nc // c_
            gr, plane = g[n, nc % c_], out[n, nc % c_]
            plane[:] = 0
            for t in range(t_):
                for k in range(k_):
                    plane[idx[n, t, k]] += w[n, t, k] * gr[k]

    @njit(cache=True, nogil=True)
    def _correlate_kernel(g, x, idx, out, lo, hi):  # pragma: no cover - compiled
        c_ = x.shape[1]
        t_, k_ = idx.shape[1], idx.shape[2]
        for nt in range(lo, hi):
            n, t = nt // t_, nt % t_
            o, ix = out[n, t], idx[n, t]
            o[:] = 0
            for c in range(c_):
                row, gr = x[n, c], g[n, c]
                for k in range(k_):
                    o[k] += gr[k] * row[ix[k]]


def _gathered(x, idx):
    """x (N, C, P) read at idx (N, T, K) for every channel: (N, C, T, K)."""
    n, t, k = idx.shape
    vals = array_module(x).take_along_axis(x, idx.reshape(n, 1, t * k), axis=2)
    return vals.reshape(x.shape[:2] + (t, k))


def sample(x, idx, w):
    """y[n, c, k] = sum_t w[n, t, k] x[n, c, idx[n, t, k]]."""
    if _numba(x, w):
        out = np.empty(x.shape[:2] + idx.shape[2:], dtype=x.dtype)
        in_parts(_sample_kernel, x.shape[0] * x.shape[1], x.shape[1] * idx.size,
                 np.ascontiguousarray(x), np.ascontiguousarray(idx), np.ascontiguousarray(w), out,
                 min_work=_SPLIT_MIN_WORK)
        return out
    return (_gathered(x, idx) * w[:, None]).sum(2)


def spread(g, idx, w, plane: int):
    """x'[n, c, p] = sum over the taps (t, k) at p of w[n, t, k] g[n, c, k] (out of shape (N, C, plane))."""
    n, c = g.shape[:2]
    if _numba(g, w):
        out = np.empty((n, c, plane), dtype=g.dtype)
        in_parts(_spread_kernel, n * c, c * idx.size,
                 np.ascontiguousarray(g), np.ascontiguousarray(idx), np.ascontiguousarray(w), out,
                 min_work=_SPLIT_MIN_WORK)
        return out
    xp = array_module(g)
    flat = (xp.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * plane + idx[:, None]).reshape(-1)
    weights = (w[:, None] * g[:, :, None, :]).reshape(-1)  # one pass that adds duplicates (not np.add.at)
    return xp.bincount(flat, weights=weights, minlength=n * c * plane).astype(g.dtype).reshape(n, c, plane)


def correlate(g, x, idx):
    """w'[n, t, k] = sum_c g[n, c, k] x[n, c, idx[n, t, k]]."""
    if _numba(g, x):
        out = np.empty(idx.shape, dtype=g.dtype)
        in_parts(_correlate_kernel, idx.shape[0] * idx.shape[1], x.shape[1] * idx.size,
                 np.ascontiguousarray(g), np.ascontiguousarray(x), np.ascontiguousarray(idx), out,
                 min_work=_SPLIT_MIN_WORK)
        return out
    return (_gathered(x, idx) * g[:, :, None, :]).sum(1)
