"""Gradient clipping, in place on ``p.grad``: by total norm or by value (as ``torch.nn.utils``)."""
from __future__ import annotations

import math

import numpy as np

from ..backend import array_module, get_default_dtype
from ..tensor import Tensor


def _params(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _norm_type(norm_type) -> float:
    if isinstance(norm_type, str):
        if norm_type.lower() in ("inf", "+inf"):
            return math.inf
        if norm_type.lower() == "-inf":
            return -math.inf
        raise ValueError(f"clip_grad_norm_: unknown norm_type {norm_type!r} (expected a number or 'inf')")
    return float(norm_type)


def _vector_norm(a, p: float) -> float:
    """The p-norm of all of ``a``'s entries, as a Python float."""
    xp = array_module(a)
    if a.size == 0:
        return 0.0 if p != -math.inf else math.inf
    if p == 2.0:
        flat = a.reshape(-1)
        if flat.dtype.itemsize < 4:  # float16 squares overflow: accumulate in float32
            flat = flat.astype(xp.float32)
        return math.sqrt(float(xp.vdot(flat, flat).real))
    absa = xp.abs(a)
    if p == math.inf:
        return float(absa.max())
    if p == -math.inf:
        return float(absa.min())
    if p == 0.0:
        return float(xp.count_nonzero(a))
    if p == 1.0:
        return float(absa.sum(dtype=xp.float64))
    return float((absa.astype(xp.float64) ** p).sum()) ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The norm of the norms of ``tensors`` (= the norm of all their entries together), a 0-d Tensor.

    total = (sum_i ||t_i||_p ** p) ** (1/p);  for p = inf: max_i ||t_i||_inf.
    """
    p = _norm_type(norm_type)
    arrays = [t.array if isinstance(t, Tensor) else t for t in tensors if t is not None]
    if not arrays:
        return Tensor._wrap(np.zeros((), dtype=get_default_dtype()))
    norms = [_vector_norm(a, p) for a in arrays]
    if any(math.isnan(n) for n in norms):
        total = math.nan
    elif p == math.inf:
        total = max(norms)
    elif p == -math.inf:
        total = min(norms)
    elif p == 0.0:
        total = float(sum(n != 0 for n in norms))
    elif p == 2.0:
        total = math.sqrt(math.fsum(n * n for n in norms))
    else:
        total = math.fsum(n ** p for n in norms) ** (1.0 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    dtype = arrays[0].dtype if arrays[0].dtype.kind == "f" else get_default_dtype()
    return Tensor._wrap(array_module(arrays[0]).asarray(total, dtype=dtype))  # on the gradients' device


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale every ``p.grad`` by ``min(1, max_norm / (total_norm + 1e-6))``, in place."""
    params = _params(parameters)
    tn = total_norm.array if isinstance(total_norm, Tensor) else np.asarray(total_norm, dtype=np.float32)
    tn = np.asarray(tn.get() if hasattr(tn, "get") else tn)
    coef = max_norm / (tn + tn.dtype.type(1e-6))        # computed in the norm's dtype, as torch does
    coef = np.minimum(coef, tn.dtype.type(1.0))
    if coef >= 1.0:                                     # multiplying by 1 would change nothing
        return
    for p in params:
        g = p.grad
        if g is None:
            continue
        c = g.dtype.type(coef) if g.dtype.kind == "f" else float(coef)
        if getattr(g.array.flags, "writeable", True) and g._ctx is None:
            g.array *= c
        else:
            p.grad = Tensor._wrap(g.array * c)


def clip_grad_norm_(parameters, max_norm: float, norm_type=2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients so that their total norm is at most ``max_norm``; return the total norm.

    total = ||(g_1, ..., g_n)||_p over all entries of all gradients;
    g_i <- g_i * min(1, max_norm / (total + 1e-6)).

    >>> loss.backward()
    >>> norm = clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    params = _params(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(params, float(max_norm), total)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    c = float(clip_value)
    for p in _params(parameters):
        g = p.grad
        if g is None:
            continue
        xp = g.xp
        if getattr(g.array.flags, "writeable", True) and g._ctx is None:
            xp.clip(g.array, -c, c, out=g.array)
        else:
            p.grad = Tensor._wrap(xp.clip(g.array, -c, c))
