"""Adafactor: Adam-like steps with factored second moments (memory O(n + m) for an n x m matrix)."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from ._common import lerp_
from .optimizer import Optimizer


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, 2018), as ``torch.optim.Adafactor`` (PyTorch 2.5+).

    For each parameter ``p`` with gradient ``G`` (``G = -G`` if ``maximize``), at step ``t``::

        beta2_t = 1 - t^beta2_decay;  rho_t = min(lr, 1 / sqrt(t));  alpha_t = max(eps2, RMS(p)) * rho_t
        p = p * (1 - lr * weight_decay)
        if p has 2 or more dimensions (factored over the last two, R: (..., n, 1), C: (..., 1, m)):
            R = beta2_t R + (1 - beta2_t) mean(G * G, dim=-1);  C = beta2_t C + (1 - beta2_t) mean(G * G, dim=-2)
            V = R C / max(mean(R, dim=-2), eps1)
        else:
            V = beta2_t V + (1 - beta2_t) G * G
        U = G / sqrt(max(V, eps1^2));  p = p - alpha_t * U / max(1, RMS(U) / d)

    The step size is relative to the parameter's own scale (RMS(p)), and ``lr`` only caps it and
    scales the weight decay.

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups (real, not complex).
        lr: the cap of the relative step size rho_t, and the weight-decay scale (default 1e-2).
        beta2_decay: tau, the exponent of the second-moment decay, <= 0 (default -0.8).
        eps: (eps1, eps2): eps1 bounds the second moment from below (None: the dtype's
            machine epsilon); eps2 bounds RMS(p) from below (default (None, 1e-3)).
        d: clipping threshold of the update's RMS, >= 1 (default 1.0).
        weight_decay: decoupled weight decay coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
        foreach: accepted and ignored (in PyTorch it chooses the multi-tensor implementation).

    State per parameter: ``step`` (float32 0-d); ``row_var`` and ``col_var`` for parameters of
    2 or more dimensions, ``variance`` for the others. (PyTorch takes eps1 from the first
    parameter of a group; lamina from each parameter's dtype: they differ only in mixed groups.)

    >>> opt = Adafactor(model.parameters())
    """

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8, eps=(None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach: bool | None = None, maximize: bool = False):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        if not 0.0 >= g["beta2_decay"]:
            self._invalid("beta2_decay", g["beta2_decay"], "must be <= 0")
        eps = g["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            self._invalid("eps", eps, "expected a pair (eps1, eps2)")
        if eps[0] is not None and not 0.0 <= eps[0]:
            self._invalid("eps", eps, "epsilon1 must be None or >= 0")
        if not 0.0 <= eps[1]:
            self._invalid("eps", eps, "epsilon2 must be >= 0")
        if not 1.0 <= g["d"]:
            self._invalid("d", g["d"], "the clipping threshold must be >= 1")
        if not 0.0 <= g["weight_decay"]:
            self._invalid("weight_decay", g["weight_decay"], "must be >= 0")

    def _state_shape(self, p: Tensor, key) -> tuple:
        shape = tuple(p.shape)
        if key == "row_var":
            return shape[:-1] + (1,)
        if key == "col_var":
            return shape[:-2] + (1,) + shape[-1:]
        return shape

    def _step_group(self, group: dict) -> None:
        lr, tau, (eps1, eps2), d = group["lr"], group["beta2_decay"], group["eps"], group["d"]
        wd, maximize = group["weight_decay"], group["maximize"]
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            if p.dtype.kind == "c":
                raise RuntimeError("Adafactor does not support complex parameters")
            state = self.state[p]
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                if g.ndim > 1:
                    state["row_var"] = Tensor._wrap(xp.zeros(self._state_shape(p, "row_var"), dtype=g.dtype))
                    state["col_var"] = Tensor._wrap(xp.zeros(self._state_shape(p, "col_var"), dtype=g.dtype))
                else:
                    state["variance"] = Tensor._wrap(xp.zeros_like(g))
            t = self._bump_step(state)
            e1 = float(np.finfo(p.dtype).eps) if eps1 is None else eps1
            _adafactor_xp(p.array, -g if maximize else g, state, t, lr, tau, e1, eps2, d, wd)
            p._version += 1


def _rms(a) -> float:
    """sqrt(mean(a^2)) as a Python float (PyTorch: a.norm(2).item() / numel ** 0.5)."""
    xp = array_module(a)
    return float(xp.sqrt(xp.vdot(a.reshape(-1), a.reshape(-1)))) / a.size ** 0.5


def _adafactor_xp(p, g, state, t, lr, beta2_decay, eps1, eps2, d, weight_decay):
    """The Adafactor update of one parameter (state buffers updated in place), in PyTorch's order."""
    xp = array_module(p)
    w = t ** beta2_decay                                     # 1 - beta2_t
    rho_t = min(lr, 1 / t ** 0.5)
    alpha = max(eps2, _rms(p)) * rho_t
    if weight_decay != 0:
        p *= 1 - lr * weight_decay
    gg = g * g
    if g.ndim > 1:
        row_var, col_var = state["row_var"].array, state["col_var"].array
        lerp_(row_var, gg.mean(axis=-1, keepdims=True), w)
        lerp_(col_var, gg.mean(axis=-2, keepdims=True), w)
        var = row_var * col_var                              # R @ C: an outer product per matrix
        var /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
    else:
        var = state["variance"].array
        lerp_(var, gg, w)
        var = var.copy()
    xp.maximum(var, eps1 * eps1, out=var)                    # U = rsqrt(max(V, eps1^2)) * G
    xp.sqrt(var, out=var)
    xp.divide(1, var, out=var)
    var *= g
    denom = max(1.0, _rms(var) / d)
    var *= -alpha / denom
    p += var
