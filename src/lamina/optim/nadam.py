"""NAdam: Adam with Nesterov momentum (and NAdamW, its decoupled weight decay)."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from ._common import IMPL_FLAGS_DOC, check_betas, check_differentiable, check_nonneg, grad_with_decay, lerp_, real
from .optimizer import Optimizer, kernels


class NAdam(Optimizer):
    __doc__ = r"""NAdam (Dozat, 2016), as ``torch.optim.NAdam``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``), at step ``t``::

        g = g + weight_decay * p             (or, decoupled: p = p * (1 - lr * weight_decay))
        mu_t = beta1 * (1 - 0.96^(t * momentum_decay) / 2)
        P_t = P_{t-1} * mu_t                  (mu_product, a float32 number)
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: (beta1, beta2), decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        momentum_decay: psi, the momentum schedule's decay (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does (NAdamW).
        maximize: maximize the objective instead of minimizing it.
        """ + IMPL_FLAGS_DOC + r"""

    State per parameter: ``step`` and ``mu_product`` (float32 0-d), ``exp_avg``, ``exp_avg_sq``.

    >>> opt = NAdam(model.parameters(), lr=2e-3)
    """

    _scalar_state = ("step", "mu_product")

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        check_nonneg(self, g, "eps")
        check_betas(self, g["betas"])
        check_nonneg(self, g, "weight_decay", "momentum_decay")
        check_differentiable(self, g)

    def _step_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd, psi, maximize = group["weight_decay"], group["momentum_decay"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        K = kernels()
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
                state["exp_avg"] = Tensor._wrap(xp.zeros_like(p.array))
                state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p.array))
            t = self._bump_step(state)
            bias_correction2 = 1 - beta2 ** t
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            prod = state["mu_product"].array
            prod[()] = prod * np.float32(mu)            # a float32 product, as PyTorch keeps it
            mu_product = float(prod)
            coef_g = -lr * (1.0 - mu) / (1.0 - mu_product)
            coef_m = -lr * mu_next / (1.0 - mu_product * mu_next)
            pd, m, v = real(p.array), real(state["exp_avg"].array), real(state["exp_avg_sq"].array)
            views = self._flat_views(p, (pd, m, v))
            if views is not None:
                s = K.scalars(pd.dtype, 1 - beta1, 0, beta2, 1 - beta2, wd, 1 - lr * wd, bias_correction2, eps,
                              coef_g, coef_m)
                s[1] = 1 - s[0]
                fp, fm, fv = views
                K.nadam(fp, K.flat_grad(real(g), pd), fm, fv, s, maximize, decoupled)
            else:
                _nadam_xp(pd, real(g), m, v, lr, beta1, beta2, eps, wd, decoupled, maximize, bias_correction2,
                          coef_g, coef_m)
            p._version += 1


def _nadam_xp(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction2,
              coef_g, coef_m):
    """The NAdam update with in-place array operations, in PyTorch's order."""
    xp = array_module(p)
    if decoupled and weight_decay != 0:
        p *= 1 - lr * weight_decay
        weight_decay = 0
    g = grad_with_decay(p, g, maximize, weight_decay)
    lerp_(m, g, 1 - beta1)                  # m.lerp_(g, 1 - beta1)
    tmp = xp.multiply(g, 1 - beta2)         # v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    tmp *= g
    v *= beta2
    v += tmp
    denom = xp.divide(v, bias_correction2)  # denom = (v / bc2).sqrt() + eps
    xp.sqrt(denom, out=denom)
    denom += eps
    xp.multiply(g, coef_g, out=tmp)         # p.addcdiv_(g, denom, value=coef_g)
    tmp /= denom
    p += tmp
    xp.multiply(m, coef_m, out=tmp)         # p.addcdiv_(m, denom, value=coef_m)
    tmp /= denom
    p += tmp
