"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, kernels


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``), at step ``t``::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                         (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        initial_accumulator_value: starting value of the sum of squares (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    State per parameter (created with the optimizer, as in PyTorch): ``step``, ``sum``.

    >>> opt = Adagrad(model.parameters(), lr=0.1)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if not g[key] >= 0.0:
                self._invalid(key, g[key], "must be >= 0")

    def _init_state(self, p: Tensor, group: dict) -> dict:
        state = self.state[p]
        state["step"] = self._new_step()
        state["sum"] = Tensor._wrap(p.xp.full_like(p.array, group["initial_accumulator_value"]))
        return state

    def _step_group(self, group: dict) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        wd, maximize = group["weight_decay"], group["maximize"]
        K = kernels()
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p] or self._init_state(p, group)
            clr = lr / (1 + (self._bump_step(state) - 1) * lr_decay)
            pd, acc = p.array, state["sum"].array
            views = self._flat_views(p, (pd, acc))
            if views is not None:
                K.adagrad(views[0], K.flat_grad(g, pd), views[1], K.scalars(pd.dtype, -clr, wd, eps), maximize)
            else:
                _adagrad_xp(pd, g, acc, clr, wd, eps, maximize)
            p._version += 1


def _adagrad_xp(p, g, acc, clr, weight_decay, eps, maximize):
    """The Adagrad update with in-place array operations, in PyTorch's order."""
    xp = array_module(p)
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    tmp = g * g                                  # sum.addcmul_(g, g, value=1)
    acc += tmp
    xp.sqrt(acc, out=tmp)                        # std = sum.sqrt().add_(eps)
    tmp += eps
    num = xp.multiply(g, -clr)                   # p.addcdiv_(g, std, value=-clr)
    num /= tmp
    p += num
