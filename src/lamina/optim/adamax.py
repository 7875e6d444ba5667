"""Adamax: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from ._common import IMPL_FLAGS_DOC, check_betas, check_differentiable, check_nonneg, grad_with_decay, lerp_, real
from .optimizer import Optimizer, kernels


class Adamax(Optimizer):
    __doc__ = r"""Adamax (Kingma & Ba, 2015, section 7), as ``torch.optim.Adamax``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``), at step ``t``::

        g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)                  (exp_avg, torch.lerp)
        u = max(beta2 * u, |g| + eps)                  (exp_inf, the infinity norm)
        p = p - lr / (1 - beta1^t) * m / u

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 2e-3).
        betas: (beta1, beta2), decay rates of the mean and of the infinity norm (default (0.9, 0.999)).
        eps: added to |g| for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
        """ + IMPL_FLAGS_DOC + r"""

    State per parameter: ``step`` (float32 0-d), ``exp_avg``, ``exp_inf``. Complex parameters
    are updated as pairs of real numbers, as in PyTorch.

    >>> opt = Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 foreach: bool | None = None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
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
        wd, maximize = group["weight_decay"], group["maximize"]
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
                state["exp_inf"] = Tensor._wrap(xp.zeros_like(p.array))
            t = self._bump_step(state)
            clr = lr / (1 - beta1 ** t)
            pd, m, u = real(p.array), real(state["exp_avg"].array), real(state["exp_inf"].array)
            views = self._flat_views(p, (pd, m, u))
            if views is not None:
                s = K.scalars(pd.dtype, 1 - beta1, 0, beta2, eps, wd, -clr)
                s[1] = 1 - s[0]
                fp, fm, fu = views
                K.adamax(fp, K.flat_grad(real(g), pd), fm, fu, s, maximize)
            else:
                _adamax_xp(pd, real(g), m, u, beta1, beta2, eps, wd, clr, maximize)
            p._version += 1


def _adamax_xp(p, g, m, u, beta1, beta2, eps, weight_decay, clr, maximize):
    """The Adamax update with in-place array operations, in PyTorch's order."""
    xp = array_module(p)
    g = grad_with_decay(p, g, maximize, weight_decay)
    lerp_(m, g, 1 - beta1)                  # m.lerp_(g, 1 - beta1)
    norm = xp.abs(g)                        # u = max(u * beta2, |g| + eps)
    norm += eps
    u *= beta2
    xp.maximum(u, norm, out=u)
    xp.multiply(m, -clr, out=norm)          # p.addcdiv_(m, u, value=-clr)
    norm /= u
    p += norm
