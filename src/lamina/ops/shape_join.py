"""Splitting and joining in NumPy's vocabulary: tensor_split, h/v/dsplit, h/v/d/column_stack,
atleast_1d/2d/3d, broadcast_tensors/shapes, meshgrid, cartesian_prod, combinations.

All are compositions of views (split, reshape, expand) and ``cat``/``stack``, so their gradients
come from those ops.

    >>> lamina.tensor_split(lamina.arange(7), 3)      # sizes 3, 2, 2
    >>> lamina.meshgrid(lamina.arange(2), lamina.arange(3), indexing="ij")[0].shape   # (2, 3)
"""
from __future__ import annotations

import itertools
import numbers
import operator

import numpy as np

from ..tensor import Tensor
from .shape import _split_views, cat, expand, norm_dim, reshape, split, stack


# ---------------------------------------------------------------- splitting
def tensor_split(x: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Views of x along ``dim``: ``n`` nearly equal parts (the first n % size parts one longer),
    or the pieces between the given indices (x[:i0], x[i0:i1], ..., x[ik:]). An integer tensor
    works as either (0-d: sections, 1-D: indices)."""
    if x.ndim == 0:
        raise RuntimeError("tensor_split: expected at least a 1-dimensional tensor, but got a 0-d tensor")
    d = norm_dim(dim, x.shape, "tensor_split")
    n = x.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype.kind not in "iu" or ios.ndim > 1:
            raise RuntimeError(f"tensor_split: the indices_or_sections tensor must be a 0-d or 1-D integer "
                               f"tensor, got dtype {ios.dtype} and shape {ios.shape}")
        ios = int(ios.item()) if ios.ndim == 0 else [int(v) for v in ios.tolist()]
    if isinstance(ios, numbers.Integral):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        return _split_views(x, tuple(q + 1 if i < r else q for i in range(k)), d)
    bounds = [0] + [min(max(operator.index(i) + (n if operator.index(i) < 0 else 0), 0), n) for i in ios] + [n]
    if all(a <= b for a, b in zip(bounds, bounds[1:])):
        return _split_views(x, tuple(b - a for a, b in zip(bounds, bounds[1:])), d)
    pre = (slice(None),) * d
    return tuple(x[pre + (slice(a, max(a, b)),)] for a, b in zip(bounds, bounds[1:]))


def split_with_sizes(x: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Views of x along ``dim`` with the given sizes (they must add up to the dim's size)."""
    return split(x, list(split_sizes), dim)


def _nsplit(name: str, x: Tensor, sections, dim: int, min_dims: int) -> tuple:
    if x.ndim < min_dims:
        raise RuntimeError(f"{name} requires a tensor with at least {min_dims} dimension, but got a tensor "
                           f"with {x.ndim} dimensions!")
    if isinstance(sections, numbers.Integral):
        size = x.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(f"{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {sections}!")
    return tensor_split(x, sections, dim)


def hsplit(x: Tensor, indices_or_sections) -> tuple:
    """Split columns: along dim 1 (dim 0 for a 1-D tensor); an int must divide that size."""
    return _nsplit("hsplit", x, indices_or_sections, 1 if x.ndim >= 2 else 0, 1)


def vsplit(x: Tensor, indices_or_sections) -> tuple:
    """Split rows: along dim 0 of a tensor with at least 2 dims."""
    return _nsplit("vsplit", x, indices_or_sections, 0, 2)


def dsplit(x: Tensor, indices_or_sections) -> tuple:
    """Split depth: along dim 2 of a tensor with at least 3 dims."""
    return _nsplit("dsplit", x, indices_or_sections, 2, 3)


# ---------------------------------------------------------------- at least n dims
def _atleast(tensors, n: int):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"atleast_{n}d: expected Tensors, got {type(t).__name__}")
        if t.ndim >= n:
            out.append(t)
        elif n == 1 or t.ndim == 0:
            out.append(reshape(t, (1,) * n))
        elif n == 2 or t.ndim == 2:  # (k,) -> (1, k);  for 3-D: (m, k) -> (m, k, 1)
            out.append(reshape(t, (1,) + t.shape) if n == 2 else reshape(t, t.shape + (1,)))
        else:  # 1-D to 3-D: (k,) -> (1, k, 1)
            out.append(reshape(t, (1,) + t.shape + (1,)))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (0-d -> (1,)); one tensor in, one out."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims ((k,) -> (1, k))."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims ((k,) -> (1, k, 1), (m, k) -> (m, k, 1))."""
    return _atleast(tensors, 3)


# ---------------------------------------------------------------- stacking
def _seq(op: str, tensors) -> list:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}: expected a non-empty list of Tensors")
    return tensors


def hstack(tensors) -> Tensor:
    """Join horizontally: along dim 1 (dim 0 when the inputs are 1-D)."""
    ts = _atleast(tuple(_seq("hstack", tensors)), 1)
    ts = ts if isinstance(ts, tuple) else (ts,)
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Join vertically: 1-D inputs become rows, then cat along dim 0."""
    ts = _atleast(tuple(_seq("vstack", tensors)), 2)
    return cat(ts if isinstance(ts, tuple) else (ts,), 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Join in depth: inputs made at least 3-D, then cat along dim 2."""
    ts = _atleast(tuple(_seq("dstack", tensors)), 3)
    return cat(ts if isinstance(ts, tuple) else (ts,), 2)


def column_stack(tensors) -> Tensor:
    """Join as columns: 0-d and 1-D inputs become (k, 1) columns, then cat along dim 1."""
    ts = [reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in _seq("column_stack", tensors)]
    return cat(ts, 1)


# ---------------------------------------------------------------- broadcasting
def broadcast_shapes(*shapes) -> tuple:
    """The shape that all ``shapes`` broadcast to (ints count as 1-D shapes)."""
    shapes = [(s,) if isinstance(s, numbers.Integral) else tuple(s) for s in shapes]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: shapes {shapes} cannot be broadcast to a single shape") from None


def broadcast_tensors(*tensors) -> tuple:
    """Every tensor expanded (a view, no copy) to the common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, *shape) for t in tensors)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: with ``indexing='ij'`` (the default) output k varies
    along dim k; with ``'xy'`` the first two dims are swapped (Cartesian, as NumPy). Views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid: expects a non-empty TensorList")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: Expected 0D or 1D tensor in the tensor list but got shape {t.shape}")
    sizes = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for k, t in enumerate(tensors):
        pos = (1 - k if k < 2 else k) if swap else k
        shape = [1] * len(tensors)
        shape[pos] = t.numel()
        out.append(expand(reshape(t, tuple(shape)), *sizes))
    return tuple(out)


def cartesian_prod(*tensors) -> Tensor:
    """All tuples (a_i, b_j, ...) of the 1-D inputs' elements, in row-major order: shape (N, k)
    (one input: returned as it is)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, -1) for g in grids], 1)


def combinations(x: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """All length-``r`` combinations of a 1-D tensor's elements (itertools order): shape (C, r)."""
    if x.ndim != 1:
        raise RuntimeError(f"combinations: Expect a 1D vector, but got shape {list(x.shape)}")
    r = operator.index(r)
    if r < 0:
        raise RuntimeError(f"combinations: Expect a non-negative number, but got {r}")
    if r == 0:
        return x[x.xp.zeros(0, dtype=np.int64)] if x.numel() else x.reshape(0)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(pick(range(x.numel()), r)), dtype=np.int64).reshape(-1, r)
    return x[Tensor._wrap(x.xp.asarray(idx))]
