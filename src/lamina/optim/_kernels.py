"""Fused optimizer update kernels (Numba), one pass over memory per parameter.

NumPy needs one pass per operation (Adam is about ten of them); these kernels read the
parameter, its gradient and its state once and write them once. Each kernel works on flat,
C-contiguous float32 or float64 views and takes its scalar hyper-parameters in one small array
``s`` of the parameter's dtype, so the arithmetic is done in the parameter's precision with the
same operation order as PyTorch's CPU kernels (``lerp``, ``addcmul``: ``x + (value*t1)*t2``,
``addcdiv``: ``x + (value*t1)/t2``). Results agree with PyTorch to an ulp or so per step, not
bit for bit: PyTorch fuses some multiply-adds (FMA) and its float32 sqrt is not always
correctly rounded.

Each rule is written once as a serial loop (which LLVM vectorizes) that releases the GIL. A
tensor of at least ``PARALLEL_MIN_SIZE`` elements is cut into one slice per thread and the
slices run side by side on lamina's own threads (``lamina/_threads.py``; no OpenMP pool).

Set the environment variable ``LAMINA_DISABLE_NUMBA=1`` (before import), or
``lamina.optim._kernels.ENABLED = False`` at run time, to use the NumPy code paths instead.
"""
from __future__ import annotations

import os

import numpy as np

from .._threads import get_num_threads, run, split

try:
    from numba import njit
    _HAVE_NUMBA = True
except Exception:  # pragma: no cover - numba is a dependency, but keep lamina importable
    _HAVE_NUMBA = False

ENABLED = _HAVE_NUMBA and os.environ.get("LAMINA_DISABLE_NUMBA", "0") not in ("1", "true", "True")
# Tensors with at least this many elements are split over lamina's threads. Measured on a 2-core
# machine, the serial kernel was as fast for the MLP's 784x512 weight (0.3 ms), and threads that
# must wake up cost more than they save on small tensors (under load a parallel Adam step took
# 25-50 ms at the median instead of 1 ms when OpenMP threads did it). So only very large tensors
# are split. Override with LAMINA_PARALLEL_MIN_SIZE (e.g. 65536 on a quiet many-core box).
PARALLEL_MIN_SIZE = int(os.environ.get("LAMINA_PARALLEL_MIN_SIZE", 1 << 21))


def flat(array):
    """A 1-D view of a C-contiguous float32/float64 NumPy array that the kernels can use, else None."""
    if (ENABLED and _HAVE_NUMBA and type(array) is np.ndarray and array.flags.c_contiguous and array.flags.writeable
            and array.dtype.kind == "f" and array.itemsize in (4, 8)):
        return array.reshape(-1)
    return None


def flat_grad(grad, like):
    """The gradient as a flat C-contiguous array of ``like``'s dtype (copied only when needed)."""
    if grad.dtype != like.dtype:
        grad = grad.astype(like.dtype)
    return grad.reshape(-1)  # a view when C-contiguous, else a C-ordered copy


def scalars(dtype, *values):
    """Hyper-parameters as one array of the parameter's dtype (cast as PyTorch casts scalars)."""
    return np.array(values, dtype=dtype)


# ---------------------------------------------------------------- the update rules
# Every constant comes in ``s``: an int literal would promote float32 math to float64 in Numba.
# ``error_model="numpy"`` lets division be vectorized (no Python ZeroDivisionError check).
def _adam_loop(p, g, m, v, vmax, s, amsgrad, maximize, decoupled):
    # s = [w=1-beta1, 1-w, beta2, 1-beta2, weight_decay, 1-lr*weight_decay, sqrt(1-beta2^t), eps, -lr/(1-beta1^t)]
    w, w1, b2, ob2, wd, decay, bc2, eps, neg_step = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            if decoupled:
                pi = pi * decay
            else:
                gi = gi + wd * pi
        mi = m[i]
        if w < 0.5:                   # torch.lerp(m, g, w)
            mi = mi + w * (gi - mi)
        else:
            mi = gi - (gi - mi) * w1
        m[i] = mi
        vi = v[i] * b2
        vi = vi + ob2 * gi * gi       # addcmul: v + (value*g)*g
        v[i] = vi
        if amsgrad:
            if vmax[i] > vi:
                vi = vmax[i]
            vmax[i] = vi
        p[i] = pi + neg_step * mi / (np.sqrt(vi) / bc2 + eps)   # addcdiv: p + (value*m)/denom


def _sgd_loop(p, g, buf, s, has_momentum, first, nesterov, maximize):
    # s = [-lr, weight_decay, momentum, 1-dampening]
    neg_lr, wd, mu, damp1 = s[0], s[1], s[2], s[3]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            gi = gi + wd * pi
        if has_momentum:
            if first:
                b = gi
            else:
                b = buf[i] * mu + damp1 * gi
            buf[i] = b
            if nesterov:
                gi = gi + mu * b
            else:
                gi = b
        p[i] = pi + neg_lr * gi


def _rmsprop_loop(p, g, sq, gavg, buf, s, centered, has_momentum, maximize):
    # s = [-lr, alpha, w=1-alpha, 1-w, eps, weight_decay, momentum, -1]
    neg_lr, alpha, w, w1, eps, wd, mu, minus1 = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            gi = gi + wd * pi
        si = sq[i] * alpha
        si = si + w * gi * gi
        sq[i] = si
        if centered:
            a = gavg[i]
            if w < 0.5:
                a = a + w * (gi - a)
            else:
                a = gi - (gi - a) * w1
            gavg[i] = a
            avg = np.sqrt(si + minus1 * a * a) + eps
        else:
            avg = np.sqrt(si) + eps
        if has_momentum:
            b = buf[i] * mu
            b = b + gi / avg
            buf[i] = b
            p[i] = pi + neg_lr * b
        else:
            p[i] = pi + neg_lr * gi / avg


def _adagrad_loop(p, g, acc, s, maximize):
    # s = [-clr, weight_decay, eps]
    neg_clr, wd, eps = s[0], s[1], s[2]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            gi = gi + wd * pi
        a = acc[i] + gi * gi
        acc[i] = a
        p[i] = pi + neg_clr * gi / (np.sqrt(a) + eps)


if _HAVE_NUMBA:
    _ser = njit(fastmath=False, error_model="numpy", cache=True, nogil=True)
    _adam_loop, _sgd_loop = _ser(_adam_loop), _ser(_sgd_loop)
    _rmsprop_loop, _adagrad_loop = _ser(_rmsprop_loop), _ser(_adagrad_loop)


def in_slices(loop, arrays: tuple, *args) -> None:
    """``loop(*arrays, *args)``, the flat ``arrays`` cut into one slice per thread of lamina's
    when they hold at least ``PARALLEL_MIN_SIZE`` elements (slices of a whole SIMD block each)."""
    n = arrays[0].size
    parts = split(-(-n // 16), n, min_macs=PARALLEL_MIN_SIZE) if n >= PARALLEL_MIN_SIZE else [(0, n)]
    if len(parts) == 1:
        loop(*arrays, *args)
        return
    run(parts, lambda i, lo, hi: loop(*(a[16 * lo:16 * hi] for a in arrays), *args))


# ---------------------------------------------------------------- entry points (flat arrays)
def adam(p, g, m, v, vmax, s, amsgrad, maximize, decoupled):
    in_slices(_adam_loop, (p, g, m, v, vmax), s, amsgrad, maximize, decoupled)


def sgd(p, g, buf, s, has_momentum, first, nesterov, maximize):
    in_slices(_sgd_loop, (p, g, buf), s, has_momentum, first, nesterov, maximize)


def rmsprop(p, g, sq, gavg, buf, s, centered, has_momentum, maximize):
    in_slices(_rmsprop_loop, (p, g, sq, gavg, buf), s, centered, has_momentum, maximize)


def adagrad(p, g, acc, s, maximize):
    in_slices(_adagrad_loop, (p, g, acc), s, maximize)


def warm_up(dtypes=("float32", "float64")) -> None:
    """Compile (or load from Numba's on-disk cache) every kernel for ``dtypes``. The first
    compilation takes tens of seconds; later processes load the cached machine code in well under
    a second."""
    if not _HAVE_NUMBA:
        return
    for dt in dtypes:
        a = [np.zeros(64, dtype=dt) for _ in range(5)]
        s = np.ones(9, dtype=dt)
        f = False
        _adam_loop(a[0], a[1], a[2], a[3], a[4], s, f, f, f)
        _sgd_loop(a[0], a[1], a[2], s, f, f, f, f)
        _rmsprop_loop(a[0], a[1], a[2], a[3], a[4], s, f, f, f)
        _adagrad_loop(a[0], a[1], a[2], s, f)
    _kernels_more.warm_up(dtypes)


# Adadelta, Adamax, NAdam, RAdam and Rprop live in their own file; their entry points are reached from here.
from . import _kernels_more  # noqa: E402
from ._kernels_more import adadelta, adamax, nadam, radam, rprop  # noqa: E402,F401
