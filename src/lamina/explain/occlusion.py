"""Occlusion (Zeiler & Fergus, 2014): slide a patch of baseline values over the input and watch the score.

    A_i(x) = mean over the windows W that cover feature i of  f_c(x) - f_c(x with W set to the baseline)

Windows start at every multiple of ``strides`` along each dimension, ceil((D - w) / s) + 1 of them,
the last one cut at the edge (Captum's placement), so every feature is covered when s <= w.

>>> a = occlusion(model, x, sliding_window_shapes=(1, 2, 2), strides=(1, 1, 1), target=3)   # x (N, 1, 8, 8)
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._common import as_tensor, eval_mode, forward_scores, repeat_batch, resolve_target, target_scores, to_numpy

__all__ = ["occlusion"]


def _per_dim(value, ndim: int, name: str) -> tuple:
    if isinstance(value, numbers.Integral):
        value = (int(value),) * ndim
    value = tuple(int(v) for v in value)
    if len(value) != ndim or any(v < 1 for v in value):
        raise ValueError(f"occlusion: {name} must be {ndim} positive ints (one per non-batch dimension), "
                         f"got {value!r}")
    return value


def _window_masks(shape, window, strides, starts_chunk, xp, dtype):
    """Masks (P, *shape): 1 inside window p (starting at starts_chunk[p]), cut at the edges."""
    mask = None
    for d, (D, w) in enumerate(zip(shape, window)):
        idx = xp.arange(D)
        s = xp.asarray(starts_chunk[:, d])[:, None]
        m = ((idx[None] >= s) & (idx[None] < s + w)).astype(dtype)           # (P, D)
        m = m.reshape((m.shape[0],) + (1,) * d + (D,) + (1,) * (len(shape) - d - 1))
        mask = m if mask is None else mask * m
    return mask


def occlusion(model, inputs, sliding_window_shapes, strides=1, baselines=0.0, target=None,
              perturbations_per_eval: int = 16, **forward_kwargs) -> np.ndarray:
    """Occlusion attributions shaped like ``inputs`` (N, *F) (see the module docstring).

    sliding_window_shapes / strides: one int per non-batch dimension of the inputs (an int for all);
    strides must not exceed the window. baselines: the value written into the window (a number,
    or an array broadcastable to one example's shape F). perturbations_per_eval: windows evaluated
    in one forward batch (N * that rows). Equals Captum's ``Occlusion(model).attribute(...)``.
    """
    x = as_tensor(inputs, model)
    arr, xp = x.array, x.xp
    N, shape = arr.shape[0], arr.shape[1:]
    window = _per_dim(sliding_window_shapes, len(shape), "sliding_window_shapes")
    stride = _per_dim(strides, len(shape), "strides")
    if any(w > D for w, D in zip(window, shape)):
        raise ValueError(f"occlusion: sliding window {window} is larger than the input's feature shape {shape}")
    if any(s > w for s, w in zip(stride, window)):
        raise ValueError(f"occlusion: strides {stride} must not exceed the window {window} (features would be skipped)")
    counts = [math.ceil((D - w) / s) + 1 for D, w, s in zip(shape, window, stride)]
    starts = np.array(list(itertools.product(*[np.arange(c) * s for c, s in zip(counts, stride)])),
                      dtype=np.int64).reshape(-1, len(shape))                   # (P, ndim)
    base = baselines.array if isinstance(baselines, Tensor) else xp.asarray(baselines, dtype=arr.dtype)
    base = xp.broadcast_to(base.astype(arr.dtype), shape)
    total = xp.zeros(arr.shape, dtype=arr.dtype)
    cover = xp.zeros(shape, dtype=arr.dtype)
    with eval_mode(model), no_grad():
        out = forward_scores(model, x, **forward_kwargs)
        t = resolve_target(target, out)
        f0 = target_scores(out, t).array                                         # (N,)
        step = max(int(perturbations_per_eval), 1)
        for p0 in range(0, len(starts), step):
            m = _window_masks(shape, window, stride, starts[p0:p0 + step], xp, arr.dtype)   # (P, *F)
            P = m.shape[0]
            occluded = arr[None] * (1 - m[:, None]) + base * m[:, None]           # (P, N, *F)
            fwd = {k: repeat_batch(v, P, N) for k, v in forward_kwargs.items()}
            o = forward_scores(model, Tensor._wrap(occluded.reshape((P * N,) + shape)), **fwd)
            f = target_scores(o, None if t is None else np.tile(t, P)).array.reshape(P, N)
            diff = f0[None] - f                                                  # (P, N)
            total += xp.tensordot(diff, m, axes=([0], [0])).reshape(arr.shape)   # sum_p diff[p, n] * m[p]
            cover += m.sum(0)
    attr = xp.where(cover > 0, total / xp.maximum(cover, 1), 0)
    return to_numpy(attr)
