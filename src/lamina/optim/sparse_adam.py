"""SparseAdam: Adam that updates only the rows a gradient touches (embedding tables)."""
from __future__ import annotations

import copy
import math

from ..tensor import Tensor
from ._common import check_betas
from .optimizer import Optimizer, _to_numpy


class SparseAdam(Optimizer):
    r"""A masked Adam for embedding tables, as ``torch.optim.SparseAdam``.

    PyTorch's SparseAdam takes sparse (COO) gradients, such as ``nn.Embedding(sparse=True)``
    makes, and updates the moments and the parameter only at the gradient's stored entries.
    lamina has no sparse tensors: its gradients are dense, and ``nn.Embedding`` leaves the rows
    of tokens that were not looked up at exactly zero. So lamina's SparseAdam takes dense
    gradients and updates only the *rows* (slices along the first dimension; single entries of
    a 1-D parameter) whose gradient has a nonzero entry. For those rows, at step ``t``
    (``g = -g`` if ``maximize``)::

        m = m + (1 - beta1) * (g - m);  v = v + (1 - beta2) * (g * g - v)
        p = p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)

    and the other rows keep their parameter and moments. This equals PyTorch's SparseAdam fed
    ``grad.to_sparse(1)``; it differs from PyTorch with ``Embedding(sparse=True)`` only for a
    looked-up row whose gradient is exactly zero (PyTorch would decay its moments and step it).
    As in PyTorch, ``step`` counts the steps at which the parameter had a gradient.

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups (real, not complex).
        lr: learning rate, > 0 (default 1e-3).
        betas: (beta1, beta2), decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator, > 0 (default 1e-8).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step`` (an int, as in PyTorch), ``exp_avg``, ``exp_avg_sq``.

    >>> opt = SparseAdam(list(embedding.parameters()), lr=1e-3)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, maximize: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize)
        self._check_group(defaults)
        super().__init__(params, defaults)
        complex_params = [[i, j] for i, g in enumerate(self.param_groups)
                          for j, p in enumerate(g["params"]) if p.dtype.kind == "c"]
        if complex_params:
            raise ValueError(f"SparseAdam: complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    def _check_group(self, g: dict) -> None:
        if not g["lr"] > 0.0:
            raise ValueError(f"{self._name}: invalid learning rate lr={g['lr']} (must be > 0)")
        if not g["eps"] > 0.0:
            self._invalid("eps", g["eps"], "must be > 0")
        check_betas(self, g["betas"])

    def _step_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps, maximize = group["lr"], group["betas"], group["eps"], group["maximize"]
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            xp = p.xp
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = Tensor._wrap(xp.zeros_like(p.array))
                state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p.array))
            state["step"] += 1
            pd, m, v = (_rows(a) for a in (p.array, state["exp_avg"].array, state["exp_avg_sq"].array))
            g = _rows(g)
            rows = xp.nonzero(xp.any(g.reshape(g.shape[0], -1) != 0, axis=1))[0]
            if rows.size == 0:
                continue
            gr = -g[rows] if maximize else g[rows]
            m_old, v_old = m[rows], v[rows]
            dm = gr - m_old                          # exp_avg += (g - m) * (1 - beta1)
            dm *= 1 - beta1
            dv = gr * gr                             # exp_avg_sq += (g^2 - v) * (1 - beta2)
            dv -= v_old
            dv *= 1 - beta2
            numer = dm + m_old
            m[rows] = numer
            dv += v_old
            v[rows] = dv
            xp.sqrt(dv, out=dv)                      # denom = sqrt(v) + eps
            dv += eps
            t = state["step"]
            step_size = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
            numer /= dv                              # p += -step_size * (m / denom)
            numer *= -step_size
            pd[rows] += numer
            p._version += 1

    def _cast_state(self, p: Tensor, index, key, value):
        if key == "step":  # an int in PyTorch's SparseAdam, not a tensor
            arr = _to_numpy(value)
            return int(arr) if arr is not None else copy.deepcopy(value)
        return super()._cast_state(p, index, key, value)


def _rows(a):
    """A view of ``a`` with at least one dimension (a 0-d parameter is one row)."""
    return a if a.ndim else a.reshape(1)
