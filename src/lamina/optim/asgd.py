"""ASGD: averaged stochastic gradient descent (Polyak-Ruppert averaging of the iterates)."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from ._common import IMPL_FLAGS_DOC, check_differentiable, check_nonneg, grad_with_decay, real
from .optimizer import Optimizer


class ASGD(Optimizer):
    __doc__ = r"""Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``), at step ``t``,
    with ``eta`` and ``mu`` starting at ``lr`` and 1::

        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p                        if mu == 1
        ax = ax + mu * (p - ax)       otherwise        (the running average of the iterates)
        eta = lr / (1 + lambd * lr * t)^alpha
        mu = 1 / max(1, t - t0)

    The averaged weights ``ax`` are in ``optimizer.state[p]['ax']``; copy them into the model
    to evaluate it (averaging starts after ``t0`` steps).

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the eta update (default 0.75).
        t0: the step at which averaging starts (default 1e6).
        weight_decay: L2 penalty coefficient (default 0).
        maximize: maximize the objective instead of minimizing it.
        """ + IMPL_FLAGS_DOC + r"""

    State per parameter: ``step``, ``eta``, ``mu`` (float32 0-d, as PyTorch keeps them), ``ax``.

    >>> opt = ASGD(model.parameters(), lr=1e-2, t0=100)
    """

    _scalar_state = ("step", "eta", "mu")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        check_nonneg(self, g, "weight_decay")
        check_differentiable(self, g)

    def _step_group(self, group: dict) -> None:
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        wd, maximize = group["weight_decay"], group["maximize"]
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = self._new_step()
                state["eta"] = Tensor._wrap(np.array(lr, dtype=np.float32))
                state["mu"] = Tensor._wrap(np.ones((), dtype=np.float32))
                state["ax"] = Tensor._wrap(p.xp.zeros_like(p.array))
            t = self._bump_step(state)
            eta, mu = state["eta"].array, state["mu"].array
            _asgd_xp(real(p.array), real(g), real(state["ax"].array), float(eta), float(mu), lambd, wd, maximize)
            eta[()] = lr / ((1 + lambd * lr * t) ** alpha)
            mu[()] = 1 / max(1, t - t0)
            p._version += 1


def _asgd_xp(p, g, ax, eta, mu, lambd, weight_decay, maximize):
    """The ASGD update of p and of its average ax, in PyTorch's order."""
    xp = array_module(p)
    g = grad_with_decay(p, g, maximize, weight_decay)
    p *= 1 - lambd * eta                    # p.mul_(1 - lambd * eta).add_(g, alpha=-eta)
    p += xp.multiply(g, -eta)
    if mu != 1:                             # ax.add_(p.sub(ax).mul_(mu))
        d = xp.subtract(p, ax)
        d *= mu
        ax += d
    else:
        ax[...] = p
