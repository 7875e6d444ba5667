"""Fused Numba kernels for layer norm and batch norm on float32 CPU arrays.

NumPy needs about eight passes over the data for a layer-norm forward and as many again for
its backward; these kernels make one or two passes per row (layer norm) or per channel
(batch norm), in parallel. Statistics are accumulated in float64, outputs stay float32.
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

# Numba is imported (and the kernels compiled, or loaded from its on-disk cache) on first use,
# so that importing lamina does not pay for it. LAMINA_DISABLE_NUMBA=1 turns the kernels off.
AVAILABLE = (importlib.util.find_spec("numba") is not None
             and os.environ.get("LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True"))
prange = range  # numba.prange once the kernels are built
_built = None


def usable(*arrays) -> bool:
    """True when the kernels can run on these arrays: Numba is there and all are float32 NumPy."""
    return AVAILABLE and all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays)


def kernels():
    """The compiled kernels, as a namespace (built on the first call); None without Numba."""
    global _built, prange, AVAILABLE
    if _built is None:
        try:
            import numba
        except Exception:  # pragma: no cover - a broken install: fall back to NumPy for good
            AVAILABLE = False
            return None
        prange = numba.prange
        # reassociation lets the reductions vectorize; no "nnan"/"ninf", so NaN and inf still propagate
        jit = numba.njit(parallel=True, cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})
        built = {name: jit(fn) for name, fn in _KERNELS.items()}
        built["num_threads"] = numba.get_num_threads
        _built = type("NormKernels", (), {k: staticmethod(v) for k, v in built.items()})
    return _built


def layer_norm_forward(x, w, b, eps):
    """y[i] = (x[i] - mean_i) * rstd_i * w + b per row i; returns y, mean, rstd (float32)."""
    rows, d = x.shape
    y = np.empty_like(x)
    mean = np.empty(rows, np.float32)
    rstd = np.empty(rows, np.float32)
    for i in prange(rows):
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
    return y, mean, rstd

def layer_norm_backward(gy, x, mean, rstd, w, nt):
    """dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w, per row;
    dw = sum_rows(dy * xhat), db = sum_rows(dy). ``nt`` blocks of rows (one per thread) keep
    private dw/db partial sums, added at the end."""
    rows, d = x.shape
    dx = np.empty_like(x)
    chunk = (rows + nt - 1) // nt
    dw_part = np.zeros((nt, d), np.float64)
    db_part = np.zeros((nt, d), np.float64)
    for t in prange(nt):
        for i in range(t * chunk, min(rows, (t + 1) * chunk)):
            mu = mean[i]
            r = rstd[i]
            s1 = 0.0
            s2 = 0.0
            for j in range(d):
                xh = (x[i, j] - mu) * r
                g = gy[i, j] * w[j]
                s1 += g
                s2 += g * xh
                dw_part[t, j] += gy[i, j] * xh
                db_part[t, j] += gy[i, j]
            m1 = np.float32(s1 / d)
            m2 = np.float32(s2 / d)
            for j in range(d):
                xh = (x[i, j] - mu) * r
                dx[i, j] = r * (gy[i, j] * w[j] - m1 - xh * m2)
    dw = np.empty(d, np.float32)
    db = np.empty(d, np.float32)
    for j in range(d):
        sw = 0.0
        sb = 0.0
        for t in range(nt):
            sw += dw_part[t, j]
            sb += db_part[t, j]
        dw[j] = sw
        db[j] = sb
    return dx, dw, db

def batch_norm_forward(x, w, b, eps):
    """y[:, c] = (x[:, c] - mean_c) * rstd_c * w_c + b_c over (N, S); returns y, mean, var, rstd
    (var is the biased batch variance)."""
    n, ch, s = x.shape
    y = np.empty_like(x)
    mean = np.empty(ch, np.float32)
    var = np.empty(ch, np.float32)
    rstd = np.empty(ch, np.float32)
    count = n * s
    for c in prange(ch):
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
        mean[c] = mu
        var[c] = v
        rstd[c] = r
    return y, mean, var, rstd

def batch_norm_backward(gy, x, mean, rstd, w):
    """dx = w * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)) per channel over (N, S);
    dw = sum(dy * xhat), db = sum(dy)."""
    n, ch, s = x.shape
    dx = np.empty_like(x)
    dw = np.empty(ch, np.float32)
    db = np.empty(ch, np.float32)
    count = n * s
    for c in prange(ch):
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
        dw[c] = s2
        db[c] = s1
    return dx, dw, db


_KERNELS = {"layer_norm_forward": layer_norm_forward, "layer_norm_backward": layer_norm_backward,
            "batch_norm_forward": batch_norm_forward, "batch_norm_backward": batch_norm_backward}
