"""Reordering elements: repeat_interleave, rot90, fliplr, flipud, ravel.

``repeat_interleave`` is an ``index_select`` with each index repeated (its backward sums the
gradient of every copy back into its source); the rotations are flips and transposes.

    >>> lamina.tensor([1, 2]).repeat_interleave(2)          # tensor([1, 1, 2, 2])
    >>> lamina.rot90(lamina.tensor([[1, 2], [3, 4]]))        # tensor([[2, 4], [1, 3]])
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from ..tensor import Tensor
from .cast import clone
from .index import index_select
from .shape import flip, norm_dim, reshape, transpose


def repeat_interleave(x: Tensor, repeats=None, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (the flattened x when dim is None):
    [a, b] -> [a, a, b, b]. ``repeats`` is an int or a 1-D integer tensor with one count per
    element (or one count for all). ``repeat_interleave(counts)`` alone gives the indices
    0..n-1 repeated counts[i] times."""
    if repeats is None:  # repeat_interleave(counts)
        counts = x
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave: repeats must be a 1-D integer tensor, got dtype {counts.dtype} "
                               f"and shape {counts.shape}")
        reps = counts.array
        if (reps < 0).any():
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        xp = counts.xp
        return Tensor._wrap(xp.repeat(xp.arange(reps.shape[0], dtype=np.int64), reps))
    if dim is None:
        x, d = reshape(x, -1), 0
    else:
        d = norm_dim(dim, x.shape, "repeat_interleave")
    n = x.shape[d] if x.ndim else 1
    xp = x.xp
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu" or repeats.ndim > 1:
            raise RuntimeError(f"repeat_interleave: repeats must be an integer tensor of 0 or 1 dims, got dtype "
                               f"{repeats.dtype} and shape {repeats.shape}")
        reps = repeats.array.reshape(-1)
        if reps.shape[0] not in (1, n):
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {reps.shape[0]} and input.size({d}) = {n}")
        if reps.shape[0] == 1:
            reps = reps[0]
    elif isinstance(repeats, numbers.Integral):
        reps = int(repeats)
    else:
        raise TypeError(f"repeat_interleave: repeats must be an int or a Tensor, got {type(repeats).__name__}")
    if bool((xp.asarray(reps) < 0).any()):
        raise RuntimeError("repeat_interleave: Repeats must be non-negative")
    idx = xp.repeat(xp.arange(n, dtype=np.int64), reps)
    if output_size is not None and idx.shape[0] != output_size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the total number of "
                           f"repeats {idx.shape[0]}")
    if x.ndim == 0:
        x = reshape(x, 1)
    return index_select(x, d, Tensor._wrap(idx))


def rot90(x: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the second."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {x.ndim}")
    d0, d1 = norm_dim(dims[0], x.shape, "rot90"), norm_dim(dims[1], x.shape, "rot90")
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = operator.index(k) % 4
    if k == 1:
        return transpose(flip(x, d1), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return transpose(flip(x, d0), d0, d1)
    return clone(x)


def fliplr(x: Tensor) -> Tensor:
    """Reverse the columns (dim 1) of a tensor with at least 2 dims."""
    if x.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d, got shape {x.shape}")
    return flip(x, 1)


def flipud(x: Tensor) -> Tensor:
    """Reverse the rows (dim 0) of a tensor with at least 1 dim."""
    if x.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d.")
    return flip(x, 0)


def ravel(x: Tensor) -> Tensor:
    """x flattened to 1-D (a view when the memory layout allows, else a copy)."""
    return reshape(x, -1)
