"""Rprop: resilient backpropagation, per-coordinate step sizes adapted from the gradient's sign."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from ._common import IMPL_FLAGS_DOC, check_differentiable, real
from .optimizer import Optimizer, kernels


class Rprop(Optimizer):
    __doc__ = r"""Rprop (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``.

    Every coordinate has its own step size ``s`` (starting at ``lr``). With gradient ``g``
    (``g = -g`` if ``maximize``) and the previous step's gradient ``g_prev``::

        s = clamp(s * eta_plus,  step_size_min, step_size_max)   where g * g_prev > 0
        s = clamp(s * eta_minus, step_size_min, step_size_max);  g = 0   where g * g_prev < 0
        s unchanged                                               where g * g_prev == 0
        p = p - sign(g) * s;   g_prev = g

    Only the gradient's sign is used, so Rprop suits full-batch training, not mini-batches.

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        lr: the initial step size (default 1e-2).
        etas: (eta_minus, eta_plus), the factors applied to the step size on a sign change and
            on a kept sign, with 0 < eta_minus < 1 < eta_plus (default (0.5, 1.2)).
        step_sizes: (step_size_min, step_size_max), bounds of the step sizes (default (1e-6, 50)).
        maximize: maximize the objective instead of minimizing it.
        """ + IMPL_FLAGS_DOC + r"""

    State per parameter: ``step`` (float32 0-d), ``prev`` (the last gradient used), ``step_size``.
    As in PyTorch, Rprop has no weight decay.

    >>> opt = Rprop(model.parameters(), lr=1e-2)
    """

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, g: dict) -> None:
        super()._check_group(g)
        etas, sizes = g["etas"], g["step_sizes"]
        if not isinstance(etas, (tuple, list)) or len(etas) != 2 or not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"{self._name}: invalid eta values etas={etas!r} "
                             "(expected (eta_minus, eta_plus) with 0 < eta_minus < 1 < eta_plus)")
        if not isinstance(sizes, (tuple, list)) or len(sizes) != 2:
            self._invalid("step_sizes", sizes, "expected a pair (step_size_min, step_size_max)")
        check_differentiable(self, g)

    def _step_group(self, group: dict) -> None:
        (eta_minus, eta_plus), (lo, hi) = group["etas"], group["step_sizes"]
        maximize = group["maximize"]
        K = kernels()
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            state = self.state[p]
            if not state:
                xp = p.xp
                state["step"] = self._new_step()
                state["prev"] = Tensor._wrap(xp.zeros_like(p.array))
                state["step_size"] = Tensor._wrap(xp.full_like(p.array, group["lr"]))
                if p.dtype.kind == "c":  # both parts of a complex number start at lr
                    real(state["step_size"].array)[...] = group["lr"]
            self._bump_step(state)
            pd, prev, size = real(p.array), real(state["prev"].array), real(state["step_size"].array)
            views = self._flat_views(p, (pd, prev, size))
            if views is not None:
                fp, fprev, fsize = views
                K.rprop(fp, K.flat_grad(real(g), pd), fprev, fsize, K.scalars(pd.dtype, eta_minus, eta_plus, lo, hi, 1),
                        maximize)
            else:
                _rprop_xp(pd, real(g), prev, size, eta_minus, eta_plus, lo, hi, maximize)
            p._version += 1


def _rprop_xp(p, g, prev, step_size, eta_minus, eta_plus, step_size_min, step_size_max, maximize):
    """The Rprop update with array operations, in PyTorch's order."""
    xp = array_module(p)
    if maximize:
        g = -g
    factor = xp.sign(g * prev)              # +1, -1 or 0 where the sign was kept, flipped, or a 0
    keep, flip = factor > 0, factor < 0
    factor[keep] = eta_plus
    factor[flip] = eta_minus
    factor[factor == 0] = 1
    step_size *= factor                     # step_size.mul_(sign).clamp_(min, max)
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    g = g.copy()                            # on a sign change, skip this step and forget g
    g[factor == factor.dtype.type(eta_minus)] = 0
    upd = xp.sign(g)                        # p.addcmul_(g.sign(), step_size, value=-1)
    upd *= step_size
    p -= upd
    prev[...] = g
