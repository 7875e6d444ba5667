"""Sampling from tensors of parameters: multinomial (categorical draws) and poisson.

Draws come from a ``lamina.Generator`` (the default one unless ``generator=`` is given), made on
the CPU and moved to the parameters' device, so one seed gives one stream everywhere. Every row
is drawn at once (no Python loop over rows):

* with replacement: inverse-CDF sampling, one ``searchsorted`` over all rows' cumulative sums;
* without replacement: the Gumbel-top-k trick (the k largest of log w_i + Gumbel noise are a
  sample of k categories without replacement, each draw proportional to the remaining weights).

    >>> lamina.multinomial(lamina.tensor([0.1, 0.0, 0.9]), 2)     # e.g. tensor([2, 0])
"""
from __future__ import annotations

import operator

import numpy as np

from .. import backend
from ..tensor import Tensor


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """``num_samples`` category indices per row of non-negative weights ``input`` (1-D: (n,),
    2-D: (rows, n)), with or without replacement; int64."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    k = operator.index(num_samples)
    if k <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {k})")
    w = np.asarray(backend.to_device(input.array, backend.cpu), dtype=np.float64)
    w2 = w.reshape(1, -1) if w.ndim == 1 else w
    rows, n = w2.shape
    if not replacement and k > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"(n_sample={k}, categories={n})")
    if not np.all(np.isfinite(w2)) or (w2 < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = w2.sum(1)
    if (totals <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng = backend.rng(generator)
    if replacement:
        cdf = np.cumsum(w2 / totals[:, None], axis=1)
        cdf[:, -1] = 1.0
        u = rng.random((rows, k))
        # rows are offset by their index so that one searchsorted covers them all
        flat = (cdf + np.arange(rows)[:, None]).reshape(-1)
        pos = np.searchsorted(flat, (u + np.arange(rows)[:, None]).reshape(-1), side="right")
        # the first j with cdf_j > u: never a zero-weight category (its cdf equals its predecessor's)
        out = (pos.reshape(rows, k) - np.arange(rows)[:, None] * n).clip(0, n - 1)
    else:
        if (np.count_nonzero(w2, axis=1) < k).any():
            raise RuntimeError("multinomial: invalid multinomial distribution (with replacement=False, not enough "
                               "non-negative category to sample)")
        with np.errstate(divide="ignore"):
            keys = np.log(w2) - np.log(-np.log(rng.random((rows, n))))  # log w + Gumbel(0, 1)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :k]
    out = out.astype(np.int64).reshape((k,) if input.ndim == 1 else (rows, k))
    return Tensor._wrap(backend.to_device(out, input.device))


def poisson(input: Tensor, generator=None) -> Tensor:
    """Draws from Poisson(rate) for each element of the rate tensor ``input`` (same shape and dtype)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"poisson: expected a Tensor, got {type(input).__name__}")
    rates = backend.to_device(input.array, backend.cpu)
    if (rates < 0).any() or not np.all(np.isfinite(rates)):
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative and finite")
    draws = backend.rng(generator).poisson(rates.astype(np.float64)).astype(input.dtype)
    return Tensor._wrap(backend.to_device(draws, input.device))
