"""Adadelta: per-coordinate steps from running averages of squared gradients and squared updates."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from ._common import IMPL_FLAGS_DOC, check_differentiable, check_nonneg, grad_with_decay, real
from .optimizer import Optimizer, kernels


class Adadelta(Optimizer):
    __doc__ = r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                      (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta              (acc_delta)
        p = p - lr * delta

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: scale of the update (default 1.0).
        rho: decay rate of the running averages, in [0, 1] (default 0.9).
        eps: added inside the square roots (default 1e-6).
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
        """ + IMPL_FLAGS_DOC + r"""

    State per parameter: ``step`` (float32 0-d), ``square_avg``, ``acc_delta``. Complex
    parameters are updated as pairs of real numbers, as in PyTorch.

    >>> opt = Adadelta(model.parameters())
    >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach: bool | None = None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        if not 0.0 <= g["rho"] <= 1.0:
            self._invalid("rho", g["rho"], "must be in [0, 1]")
        check_nonneg(self, g, "eps", "weight_decay")
        check_differentiable(self, g)

    def _step_group(self, group: dict) -> None:
        lr, rho, eps, wd, maximize = group["lr"], group["rho"], group["eps"], group["weight_decay"], group["maximize"]
        K = kernels()
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                state["square_avg"] = Tensor._wrap(xp.zeros_like(p.array))
                state["acc_delta"] = Tensor._wrap(xp.zeros_like(p.array))
            self._bump_step(state)
            pd, sq, acc = real(p.array), real(state["square_avg"].array), real(state["acc_delta"].array)
            views = self._flat_views(p, (pd, sq, acc))
            if views is not None:
                fp, fs, fa = views
                s = K.scalars(pd.dtype, -lr, rho, 1 - rho, eps, wd)
                K.adadelta(fp, K.flat_grad(real(g), pd), fs, fa, s, maximize)
            else:
                _adadelta_xp(pd, real(g), sq, acc, lr, rho, eps, wd, maximize)
            p._version += 1


def _adadelta_xp(p, g, sq, acc, lr, rho, eps, weight_decay, maximize):
    """The Adadelta update with in-place array operations, in PyTorch's order."""
    xp = array_module(p)
    g = grad_with_decay(p, g, maximize, weight_decay)
    tmp = xp.multiply(g, 1 - rho)           # sq.mul_(rho).addcmul_(g, g, value=1 - rho)
    tmp *= g
    sq *= rho
    sq += tmp
    std = xp.add(sq, eps)                   # std = sq.add(eps).sqrt_()
    xp.sqrt(std, out=std)
    delta = xp.add(acc, eps)                # delta = acc.add(eps).sqrt_().div_(std).mul_(g)
    xp.sqrt(delta, out=delta)
    delta /= std
    delta *= g
    xp.multiply(delta, 1 - rho, out=tmp)    # acc.mul_(rho).addcmul_(delta, delta, value=1 - rho)
    tmp *= delta
    acc *= rho
    acc += tmp
    delta *= -lr                            # p.add_(delta, alpha=-lr)
    p += delta
