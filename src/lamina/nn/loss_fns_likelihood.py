"""Negative log-likelihood losses of Gaussian and Poisson models.

    gaussian_nll  0.5 (log v + (x - y)^2 / v) [+ 0.5 log(2 pi)]          v = max(var, eps)
    poisson_nll   e^x - y x              (log_input, x = log rate)
                  x - y log(x + eps)     (x = rate)
                  [+ y log y - y + 0.5 log(2 pi y) where y > 1]        (full: Stirling's term)
"""
from __future__ import annotations

import math
import numbers

from ..ops import elementwise as E
from ..tensor import Tensor
from .loss_fns import _as_tensor, _check_reduction, _reduce


def _float_pair(input, target, name):
    x = _as_tensor(input, name, "input")
    t = _as_tensor(target, name, "target")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating-point tensor, got dtype {x.dtype}")
    if t.dtype != x.dtype:
        t = t.to(x.dtype)
    return x, t


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under N(input, var): 0.5 (log v + (x - y)^2 / v).

    ``var`` has the input's shape (one variance per prediction), or one dimension of size 1 /
    the last dimension missing (shared across it), or is a float. It is clamped at ``eps`` for
    stability without blocking its gradient (as PyTorch: the clamp is not differentiated).

    >>> F.gaussian_nll_loss(mu, y, var=lamina.ones(32, 1))     # mu, y: (32, 4)
    """
    x, t = _float_pair(input, target, "gaussian_nll_loss")
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        v = Tensor._wrap(x.xp.full(x.shape, var, dtype=x.dtype))
    else:
        v = _as_tensor(var, "gaussian_nll_loss", "var")
        if v.dtype != x.dtype:
            v = v.to(x.dtype)
        if bool((v.array < 0).any()):
            raise ValueError("var has negative entry/entries")
    if v.shape != x.shape:
        if x.shape[:-1] == v.shape:
            v = v.unsqueeze(-1)
        elif not (x.ndim == v.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1):
            raise ValueError(f"var is of incorrect size: var shape {v.shape} for input shape {x.shape} (expected "
                             "the input's shape, one dimension of size 1, or the last dimension dropped)")
    _check_reduction(reduction, "gaussian_nll_loss")
    # clamp(v, eps) in value only; the gradient flows as if unclamped (PyTorch clamps under no_grad)
    v = v + Tensor._wrap(x.xp.maximum(v.array, eps) - v.array)
    d = x - t
    loss = (E.log(v) + d * d / v) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts ``target`` under Poisson(rate): e^x - y x when the input is
    the log-rate (``log_input``), else x - y log(x + eps); ``full`` adds Stirling's approximation
    of log(y!) where y > 1."""
    _check_reduction(reduction, "poisson_nll_loss")
    x, t = _float_pair(input, target, "poisson_nll_loss")
    if log_input:
        loss = E.exp(x) - t * x
    else:
        loss = x - t * E.log(x + eps)
    if full:
        big = Tensor._wrap(t.array > 1)
        ts = E.where(big, t, 1.0)   # y <= 1 contributes nothing (and log stays finite)
        stirling = ts * E.log(ts) - ts + E.log(ts * (2 * math.pi)) * 0.5
        loss = loss + E.where(big, stirling, 0.0)
    return _reduce(loss, reduction)
