"""SGD: stochastic gradient descent, with optional (Nesterov) momentum and weight decay."""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, kernels


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``)::

        g = g + weight_decay * p
        b = g                                       (first step)
        b = momentum * b + (1 - dampening) * g      (later steps; only if momentum != 0)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening == 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``momentum_buffer`` (only when momentum != 0).

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        if not g["momentum"] >= 0.0:
            self._invalid("momentum", g["momentum"], "must be >= 0")
        if not g["weight_decay"] >= 0.0:
            self._invalid("weight_decay", g["weight_decay"], "must be >= 0")
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening "
                             f"(got momentum={g['momentum']}, dampening={g['dampening']})")

    def _step_group(self, group: dict) -> None:
        lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        K = kernels()
        s = None
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            pd = p.array
            buf, first = None, False
            if mu != 0:
                state = self.state[p]
                bt = state.get("momentum_buffer")
                first = bt is None
                if first:
                    bt = state["momentum_buffer"] = Tensor._wrap(p.xp.empty_like(pd))
                buf = bt.array
            views = self._flat_views(p, (pd, pd if buf is None else buf))
            if views is not None:
                if s is None or s.dtype != pd.dtype:
                    s = K.scalars(pd.dtype, -lr, wd, mu, 1 - damp)
                K.sgd(views[0], K.flat_grad(g, pd), views[1], s, mu != 0, first, nesterov, maximize)
            else:
                _sgd_xp(pd, g, buf, lr, mu, damp, wd, nesterov, maximize, first)
            p._version += 1


def _sgd_xp(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """The same update with array operations (any array module, any memory layout)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        if first:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p += -lr * g
