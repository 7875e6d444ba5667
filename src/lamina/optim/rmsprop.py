"""RMSprop: divide the gradient by a running root-mean-square of its recent magnitudes."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, kernels


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012), as ``torch.optim.RMSprop``.

    For each parameter ``p`` with gradient ``g`` (``g = -g`` if ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g                 (square average)
        a = a + (1 - alpha) * (g - a);  d = sqrt(v - a * a) + eps   if centered
        d = sqrt(v) + eps                                   otherwise
        b = momentum * b + g / d;  p = p - lr * b           if momentum > 0
        p = p - lr * g / d                                  otherwise

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the square average (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead of its second moment.
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).

    >>> opt = RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        for key in ("eps", "momentum", "weight_decay", "alpha"):
            if not g[key] >= 0.0:
                self._invalid(key, g[key], "must be >= 0")

    def _step_group(self, group: dict) -> None:
        lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        mu, centered, maximize = group["momentum"], group["centered"], group["maximize"]
        K = kernels()
        s = None
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            pd = p.array
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                state["square_avg"] = Tensor._wrap(xp.zeros_like(pd))
                if mu > 0:
                    state["momentum_buffer"] = Tensor._wrap(xp.zeros_like(pd))
                if centered:
                    state["grad_avg"] = Tensor._wrap(xp.zeros_like(pd))
            self._bump_step(state)
            sq = state["square_avg"].array
            gavg = state["grad_avg"].array if centered else sq
            buf = state["momentum_buffer"].array if mu > 0 else sq
            views = self._flat_views(p, (pd, sq, gavg, buf))
            if views is not None:
                if s is None or s.dtype != pd.dtype:
                    s = K.scalars(pd.dtype, -lr, alpha, 1 - alpha, 0, eps, wd, mu, -1)
                    s[3] = 1 - s[2]
                fp, fs, fa, fb = views
                K.rmsprop(fp, K.flat_grad(g, pd), fs, fa, fb, s, centered, mu > 0, maximize)
            else:
                _rmsprop_xp(pd, g, sq, gavg if centered else None, buf if mu > 0 else None,
                            lr, alpha, eps, wd, mu, maximize)
            p._version += 1


def _rmsprop_xp(p, g, sq, gavg, buf, lr, alpha, eps, weight_decay, momentum, maximize):
    """The RMSprop update with in-place array operations, in PyTorch's order."""
    xp = array_module(p)
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    tmp = xp.multiply(g, 1 - alpha)             # sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    tmp *= g
    sq *= alpha
    sq += tmp
    if gavg is not None:
        w = p.dtype.type(1 - alpha)             # gavg.lerp_(g, 1 - alpha)
        xp.subtract(g, gavg, out=tmp)
        if w < 0.5:
            tmp *= w
            gavg += tmp
        else:
            tmp *= p.dtype.type(1) - w
            xp.subtract(g, tmp, out=gavg)
        xp.multiply(gavg, -1, out=tmp)          # avg = sq.addcmul(gavg, gavg, value=-1).sqrt_()
        tmp *= gavg
        tmp += sq
        xp.sqrt(tmp, out=tmp)
    else:
        xp.sqrt(sq, out=tmp)
    tmp += eps
    if buf is not None:
        buf *= momentum                         # buf.mul_(momentum).addcdiv_(g, avg)
        xp.divide(g, tmp, out=tmp)
        buf += tmp
        p += -lr * buf
    else:
        num = xp.multiply(g, -lr)               # p.addcdiv_(g, avg, value=-lr)
        num /= tmp
        p += num
