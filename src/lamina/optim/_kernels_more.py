"""Fused Numba update kernels of Adadelta, Adamax, NAdam, RAdam and Rprop (see ``_kernels.py``).

Same conventions as ``_kernels.py``: flat C-contiguous float32/float64 arrays, the scalar
hyper-parameters in one array ``s`` of the parameter's dtype, PyTorch's order of operations,
one serial loop per rule and a parallel twin for very large tensors. ``_kernels`` re-exports
the entry points, so optimizers reach them as ``kernels().nadam`` and the like.
"""
from __future__ import annotations

import numpy as np

from ._kernels import _HAVE_NUMBA, in_slices


def _adadelta_loop(p, g, sq, acc, s, maximize):
    # s = [-lr, rho, 1-rho, eps, weight_decay]
    neg_lr, rho, w, eps, wd = s[0], s[1], s[2], s[3], s[4]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            gi = gi + wd * pi
        v = sq[i] * rho
        v = v + w * gi * gi
        sq[i] = v
        d = np.sqrt(acc[i] + eps) / np.sqrt(v + eps) * gi
        a = acc[i] * rho
        acc[i] = a + w * d * d
        p[i] = pi + neg_lr * d


def _adamax_loop(p, g, m, u, s, maximize):
    # s = [w=1-beta1, 1-w, beta2, eps, weight_decay, -lr/(1-beta1^t)]
    w, w1, b2, eps, wd, neg_clr = s[0], s[1], s[2], s[3], s[4], s[5]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            gi = gi + wd * pi
        mi = m[i]
        if w < 0.5:                   # torch.lerp(m, g, w)
            mi = mi + w * (gi - mi)
        else:
            mi = gi - (gi - mi) * w1
        m[i] = mi
        ui = np.maximum(u[i] * b2, np.abs(gi) + eps)
        u[i] = ui
        p[i] = pi + neg_clr * mi / ui


def _nadam_loop(p, g, m, v, s, maximize, decoupled):
    # s = [w=1-beta1, 1-w, beta2, 1-beta2, weight_decay, 1-lr*wd, 1-beta2^t, eps, coef_g, coef_m]
    w, w1, b2, ob2, wd, decay, bc2, eps, cg, cm = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            if decoupled:
                pi = pi * decay
            else:
                gi = gi + wd * pi
        mi = m[i]
        if w < 0.5:
            mi = mi + w * (gi - mi)
        else:
            mi = gi - (gi - mi) * w1
        m[i] = mi
        vi = v[i] * b2
        vi = vi + ob2 * gi * gi
        v[i] = vi
        d = np.sqrt(vi / bc2) + eps
        pi = pi + cg * gi / d
        p[i] = pi + cm * mi / d


def _radam_loop(p, g, m, v, s, maximize, decoupled, rectify):
    # s = [w=1-beta1, 1-w, beta2, 1-beta2, weight_decay, 1-lr*wd, 1-beta1^t, lr, sqrt(1-beta2^t), eps, rect]
    w, w1, b2, ob2, wd, decay = s[0], s[1], s[2], s[3], s[4], s[5]
    bc1, lr, bc2s, eps, rect = s[6], s[7], s[8], s[9], s[10]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if wd != 0:
            if decoupled:
                pi = pi * decay
            else:
                gi = gi + wd * pi
        mi = m[i]
        if w < 0.5:
            mi = mi + w * (gi - mi)
        else:
            mi = gi - (gi - mi) * w1
        m[i] = mi
        vi = v[i] * b2
        vi = vi + ob2 * gi * gi
        v[i] = vi
        upd = mi / bc1 * lr
        if rectify:
            upd = upd * (bc2s / (np.sqrt(vi) + eps)) * rect
        p[i] = pi - upd


def _rprop_loop(p, g, prev, step_size, s, maximize):
    # s = [eta_minus, eta_plus, step_size_min, step_size_max, 1]
    eta_minus, eta_plus, lo, hi, one = s[0], s[1], s[2], s[3], s[4]
    zero = one - one
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        prod = gi * prev[i]
        if prod > 0:
            f = eta_plus
        elif prod < 0:
            f = eta_minus
        elif prod == 0:
            f = one
        else:                         # NaN stays NaN, as torch.sign leaves it
            f = prod
        st = step_size[i] * f
        if st < lo:                   # clamp_(min, max)
            st = lo
        if st > hi:
            st = hi
        step_size[i] = st
        if f == eta_minus:            # a sign change: no step, and forget the gradient
            gi = zero
        p[i] = p[i] - np.sign(gi) * st
        prev[i] = gi


if _HAVE_NUMBA:
    from numba import njit

    _ser = njit(fastmath=False, error_model="numpy", cache=True, nogil=True)
    _adadelta_loop, _adamax_loop = _ser(_adadelta_loop), _ser(_adamax_loop)
    _nadam_loop, _radam_loop, _rprop_loop = _ser(_nadam_loop), _ser(_radam_loop), _ser(_rprop_loop)


# ---------------------------------------------------------------- entry points (flat arrays)
def adadelta(p, g, sq, acc, s, maximize):
    in_slices(_adadelta_loop, (p, g, sq, acc), s, maximize)


def adamax(p, g, m, u, s, maximize):
    in_slices(_adamax_loop, (p, g, m, u), s, maximize)


def nadam(p, g, m, v, s, maximize, decoupled):
    in_slices(_nadam_loop, (p, g, m, v), s, maximize, decoupled)


def radam(p, g, m, v, s, maximize, decoupled, rectify):
    in_slices(_radam_loop, (p, g, m, v), s, maximize, decoupled, rectify)


def rprop(p, g, prev, step_size, s, maximize):
    in_slices(_rprop_loop, (p, g, prev, step_size), s, maximize)


def warm_up(dtypes=("float32", "float64")) -> None:
    """Compile (or load from Numba's cache) these kernels for ``dtypes``."""
    if not _HAVE_NUMBA:
        return
    f = False
    for dt in dtypes:
        a = [np.zeros(64, dtype=dt) for _ in range(4)]
        s = np.ones(11, dtype=dt)
        _adadelta_loop(a[0], a[1], a[2], a[3], s, f)
        _adamax_loop(a[0], a[1], a[2], a[3], s, f)
        _nadam_loop(a[0], a[1], a[2], a[3], s, f, f)
        _radam_loop(a[0], a[1], a[2], a[3], s, f, f, f)
        _rprop_loop(a[0], a[1], a[2], a[3], s, f)
