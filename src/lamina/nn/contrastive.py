"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al., 2020).

For N pairs of projections (z1_i, z2_i), stack the 2N unit vectors e = normalize([z1; z2]) and
form the similarities S = e e^T / tau. Each row's positive is its partner (i <-> i + N); every
other row but itself is a negative:

    loss_i = -S[i, p(i)] + log sum_{k != i} exp(S[i, k]),     loss = mean_i loss_i   (over 2N rows)

Built from differentiable ops (normalize, matmul, masked_fill, cross_entropy), so every
gradient, including second derivatives, comes from them.

>>> loss = nt_xent_loss(z1, z2, temperature=0.5)          # z1, z2: (N, D)
>>> loss = NTXentLoss(0.5)((z1, z2))                       # a pair, as SimCLR's forward returns
"""
from __future__ import annotations

import math
import numbers

from ..ops.shape import cat
from ..tensor import Tensor
from .module import Module

__all__ = ["NTXentLoss", "nt_xent_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.5, reduction: str = "mean") -> Tensor:
    """NT-Xent of two (N, D) views' projections; 'none' gives the 2N per-row losses (z1's rows first)."""
    from . import functional as F

    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, Tensor):
            raise TypeError(f"nt_xent_loss: {name} must be a Tensor, got {type(z).__name__}")
        if z.ndim != 2 or z.dtype.kind != "f":
            raise ValueError(f"nt_xent_loss: {name} must be a float (N, D) Tensor, got {z.dtype} {tuple(z.shape)}")
    if tuple(z1.shape) != tuple(z2.shape):
        raise ValueError(f"nt_xent_loss: the two views' projections must have the same shape, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.shape[0] < 1:
        raise ValueError("nt_xent_loss: needs at least one pair (N >= 1)")
    if not isinstance(temperature, numbers.Real) or not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"nt_xent_loss: temperature must be a positive number, got {temperature!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"nt_xent_loss: {reduction!r} is not a valid value for reduction")
    n = z1.shape[0]
    xp = z1.xp
    e = F.normalize(cat([z1, z2], 0), dim=1)
    sim = (e @ e.t()) * (1.0 / temperature)
    self_mask = Tensor._wrap(xp.eye(2 * n, dtype=bool))
    sim = sim.masked_fill(self_mask, -math.inf)
    idx = xp.arange(2 * n, dtype=xp.int64)
    targets = Tensor._wrap((idx + n) % (2 * n))
    return F.cross_entropy(sim, targets, reduction=reduction)


class NTXentLoss(Module):
    """NT-Xent loss module (SimCLR's contrastive loss); see :func:`nt_xent_loss`.

    Called as ``loss(z1, z2)`` or ``loss((z1, z2))`` — the second form is what the Trainer does
    with a model that returns the pair of projections and an unlabeled batch (target None).
    """

    def __init__(self, temperature: float = 0.5, reduction: str = "mean"):
        super().__init__()
        if not isinstance(temperature, numbers.Real) or not temperature > 0:
            raise ValueError(f"NTXentLoss: temperature must be a positive number, got {temperature!r}")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"NTXentLoss: {reduction!r} is not a valid value for reduction")
        self.temperature, self.reduction = float(temperature), reduction

    def forward(self, z1, z2=None) -> Tensor:
        if isinstance(z1, (tuple, list)):
            if z2 is not None:
                raise ValueError("NTXentLoss: got a (z1, z2) pair and a second argument; the loss is "
                                 "self-supervised: feed unlabeled batches (target None)")
            if len(z1) != 2:
                raise ValueError(f"NTXentLoss: expected a pair (z1, z2), got {len(z1)} tensors")
            z1, z2 = z1
        if z2 is None:
            raise ValueError("NTXentLoss: needs both views' projections, loss(z1, z2) or loss((z1, z2))")
        return nt_xent_loss(z1, z2, self.temperature, self.reduction)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, reduction={self.reduction!r}"
