"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from ._common import IMPL_FLAGS_DOC, check_betas, check_differentiable, check_nonneg, grad_with_decay, lerp_, real
from .optimizer import Optimizer, kernels


class RAdam(Optimizer):
    __doc__ = r"""RAdam (Liu et al., 2020), as ``torch.optim.RAdam``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``), at step ``t``::

        g = g + weight_decay * p             (or, decoupled: p = p * (1 - lr * weight_decay))
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p = p - m_hat * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r
        else:
            p = p - m_hat * lr                (the early steps: plain momentum)

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        betas: (beta1, beta2), decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        decoupled_weight_decay: decay the weights directly, as AdamW does (RAdamW).
        maximize: maximize the objective instead of minimizing it.
        """ + IMPL_FLAGS_DOC + r"""

    State per parameter: ``step`` (float32 0-d), ``exp_avg``, ``exp_avg_sq``.

    >>> opt = RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        check_nonneg(self, g, "eps")
        check_betas(self, g["betas"])
        check_nonneg(self, g, "weight_decay")
        check_differentiable(self, g)

    def _step_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd, maximize, decoupled = group["weight_decay"], group["maximize"], group["decoupled_weight_decay"]
        K = kernels()
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                state["exp_avg"] = Tensor._wrap(xp.zeros_like(p.array))
                state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p.array))
            t = self._bump_step(state)
            bias_correction1, bias_correction2 = 1 - beta1 ** t, 1 - beta2 ** t
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
            rectify = rho_t > 5.0
            rect = (((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    if rectify else 0.0)
            pd, m, v = real(p.array), real(state["exp_avg"].array), real(state["exp_avg_sq"].array)
            views = self._flat_views(p, (pd, m, v))
            if views is not None:
                s = K.scalars(pd.dtype, 1 - beta1, 0, beta2, 1 - beta2, wd, 1 - lr * wd, bias_correction1, lr,
                              bias_correction2 ** 0.5, eps, rect)
                s[1] = 1 - s[0]
                fp, fm, fv = views
                K.radam(fp, K.flat_grad(real(g), pd), fm, fv, s, maximize, decoupled, rectify)
            else:
                _radam_xp(pd, real(g), m, v, lr, beta1, beta2, eps, wd, decoupled, maximize, bias_correction1,
                          bias_correction2, rect if rectify else None)
            p._version += 1


def _radam_xp(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction1,
              bias_correction2, rect):
    """The RAdam update with array operations, in PyTorch's order (``rect`` None: not rectified)."""
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
    upd = xp.divide(m, bias_correction1)    # m_hat * lr (* sqrt(bc2) / (sqrt(v) + eps) * rect)
    upd *= lr
    if rect is not None:
        xp.sqrt(v, out=tmp)
        tmp += eps
        xp.divide(bias_correction2 ** 0.5, tmp, out=tmp)
        upd *= tmp
        upd *= rect
    p -= upd
