"""Fused Numba kernels for layer norm and batch norm on float32 CPU arrays.

NumPy needs about eight passes over the data for a layer-norm forward and as many again for
its backward; these kernels make one or two passes per row (layer norm) or per channel
(batch norm). Statistics are accumulated in float64, outputs stay float32. The kernels are
serial and release the GIL; the functions below split the rows (or channels) over lamina's own
threads (``ops/_blas.py``), so lamina never starts an OpenMP pool of its own.
``ops/norm.py`` calls them only for C-contiguous float32 NumPy arrays and falls back to the
NumPy code when Numba is missing or disabled (``AVAILABLE`` is False) or the arrays do not
qualify.

Layer norm works on ``x`` of shape (rows, features); batch norm on ``x`` of shape
(N, C, S) (S = the flattened spatial size, 1 for (N, C) inputs).
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from . import _blas

# Numba is imported (and the kernels compiled, or loaded from its on-disk cache) on first use,
# so that importing lamina does not pay for it. LAMINA_DISABLE_NUMBA=1 turns the kernels off.
AVAILABLE = (importlib.util.find_spec("numba") is not None
             and os.environ.get("LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True"))
_built = None
# a second thread pays off from about this many elements (a wake-up costs ~20-50 us; OpenMP
# used to split every call)
_SPLIT_MIN_ELEMENTS = 1 << 15


def usable(*arrays) -> bool:
    """True when the kernels can run on these arrays: Numba is there and all are float32 NumPy."""
    return AVAILABLE and all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays)


def kernels():
    """The compiled kernels, as a namespace (built on the first call); None without Numba."""
    global _built, AVAILABLE
    if _built is None:
        try:
            import numba
        except Exception:  # pragma: no cover - a broken install: fall back to NumPy for good
            AVAILABLE = False
            return None
        # reassociation lets the reductions vectorize; no "nnan"/"ninf", so NaN and inf still propagate
        jit = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})
        _built = type("NormKernels", (), {name: staticmethod(jit(fn)) for name, fn in _KERNELS.items()})
    return _built


def layer_norm_forward(x, w, b, eps):
    """y[i] = (x[i] - mean_i) * rstd_i * w + b per row i; returns y, mean, rstd (float32)."""
    k = kernels()
    rows, d = x.shape
    y = np.empty_like(x)
    mean = np.empty(rows, np.float32)
    rstd = np.empty(rows, np.float32)
    eps = float(eps)
    _blas.run(_blas.split(rows, x.size, min_macs=_SPLIT_MIN_ELEMENTS),
              lambda i, lo, hi: k.ln_forward(x[lo:hi], w, b, eps, y[lo:hi], mean[lo:hi], rstd[lo:hi]))
    return y, mean, rstd


def layer_norm_backward(gy, x, mean, rstd, w):
    """dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w, per row;
    dw = sum_rows(dy * xhat), db = sum_rows(dy). Each part of the rows keeps its own float64
    partial sums of dw and db, added at the end."""
    k = kernels()
    rows, d = x.shape
    dx = np.empty_like(x)
    parts = _blas.split(rows, 2 * x.size, min_macs=_SPLIT_MIN_ELEMENTS)
    acc = np.zeros((len(parts), 2, d), np.float64)
    _blas.run(parts, lambda i, lo, hi: k.ln_backward(gy[lo:hi], x[lo:hi], mean[lo:hi], rstd[lo:hi], w,
                                                     dx[lo:hi], acc[i, 0], acc[i, 1]))
    sums = acc.sum(axis=0).astype(np.float32)
    return dx, sums[0], sums[1]


def batch_norm_forward(x, w, b, eps):
    """y[:, c] = (x[:, c] - mean_c) * rstd_c * w_c + b_c over (N, S); returns y, mean, var, rstd
    (var is the biased batch variance)."""
    k = kernels()
    ch = x.shape[1]
    y = np.empty_like(x)
    stats = np.empty((3, ch), np.float32)  # mean, var, rstd
    eps = float(eps)
    _blas.run(_blas.split(ch, x.size, min_macs=_SPLIT_MIN_ELEMENTS),
              lambda i, lo, hi: k.bn_forward(x[:, lo:hi], w[lo:hi], b[lo:hi], eps, y[:, lo:hi], stats[:, lo:hi]))
    return y, stats[0], stats[1], stats[2]


def batch_norm_backward(gy, x, mean, rstd, w):
    """dx = w * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)) per channel over (N, S);
    dw = sum(dy * xhat), db = sum(dy)."""
    k = kernels()
    ch = x.shape[1]
    dx = np.empty_like(x)
    dwb = np.empty((2, ch), np.float32)
    _blas.run(_blas.split(ch, 2 * x.size, min_macs=_SPLIT_MIN_ELEMENTS),
              lambda i, lo, hi: k.bn_backward(gy[:, lo:hi], x[:, lo:hi], mean[lo:hi], rstd[lo:hi], w[lo:hi],
                                              dx[:, lo:hi], dwb[:, lo:hi]))
    return dx, dwb[0], dwb[1]


# ---------------------------------------------------------------- the serial kernels (one part each)
def ln_forward(x, w, b, eps, y, mean, rstd):
    """Rows of x (rows, d): y = (x - mean) * rstd * w + b, with mean and rstd written per row."""
    rows, d = x.shape
    for i in range(rows):
        s = 0.0
        for j in range(d):
            s += x[i, j]
        mu = s / d
        v = 0.0
        for j in range(d):
            c = x[i, j] - mu
            v += c * c
        r = 1.0 / np.sqrt(v / d + eps)
        mu32 = np.float32(mu)
        r32 = np.float32(r)
        for j in range(d):
            y[i, j] = (x[i, j] - mu32) * r32 * w[j] + b[j]
        mean[i] = mu32
        rstd[i] = r32


def ln_backward(gy, x, mean, rstd, w, dx, dw_acc, db_acc):
    """Rows of the layer-norm backward: dx written, dy * xhat and dy added into dw_acc, db_acc."""
    rows, d = x.shape
    for i in range(rows):
        mu = mean[i]
        r = rstd[i]
        s1 = 0.0
        s2 = 0.0
        for j in range(d):
            xh = (x[i, j] - mu) * r
            g = gy[i, j] * w[j]
            s1 += g
            s2 += g * xh
            dw_acc[j] += gy[i, j] * xh
            db_acc[j] += gy[i, j]
        m1 = np.float32(s1 / d)
        m2 = np.float32(s2 / d)
        for j in range(d):
            xh = (x[i, j] - mu) * r
            dx[i, j] = r * (gy[i, j] * w[j] - m1 - xh * m2)


def bn_forward(x, w, b, eps, y, stats):
    """Channels of x (N, C, S): y = x * rstd_c * w_c + (b_c - mean_c * rstd_c * w_c); stats = mean, var, rstd."""
    n, ch, s = x.shape
    count = n * s
    for c in range(ch):
        acc = 0.0
        for i in range(n):
            for k in range(s):
                acc += x[i, c, k]
        mu = acc / count
        v = 0.0
        for i in range(n):
            for k in range(s):
                e = x[i, c, k] - mu
                v += e * e
        v /= count
        r = 1.0 / np.sqrt(v + eps)
        scale = np.float32(r * w[c])
        shift = np.float32(b[c] - mu * r * w[c])
        for i in range(n):
            for k in range(s):
                y[i, c, k] = x[i, c, k] * scale + shift
        stats[0, c] = mu
        stats[1, c] = v
        stats[2, c] = r


def bn_backward(gy, x, mean, rstd, w, dx, dwb):
    """Channels of the batch-norm backward: dx written, dwb[0] = sum(dy * xhat), dwb[1] = sum(dy)."""
    n, ch, s = x.shape
    count = n * s
    for c in range(ch):
        mu = mean[c]
        r = rstd[c]
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            for k in range(s):
                g = gy[i, c, k]
                s1 += g
                s2 += g * (x[i, c, k] - mu)
        s2 *= r  # sum(dy * xhat)
        a = np.float32(w[c] * r)
        m1 = np.float32(s1 / count)
        m2 = np.float32(s2 / count)
        for i in range(n):
            for k in range(s):
                xh = (x[i, c, k] - mu) * r
                dx[i, c, k] = a * (gy[i, c, k] - m1 - xh * m2)
        dwb[0, c] = s2
        dwb[1, c] = s1


_KERNELS = {"ln_forward": ln_forward, "ln_backward": ln_backward,
            "bn_forward": bn_forward, "bn_backward": bn_backward}
