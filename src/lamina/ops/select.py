"""Selection by flat position or by mask: take, take_along_dim, put, masked_select, masked_scatter,
nonzero, argwhere.

The primitives address the flattened tensor with linear indices ``lin`` and are each other's
adjoint, so every gradient here is exact to any order:

    Take:    y = x.flat[lin]                    dx = zeros with dy added at lin (repeats sum)
    PutAdd:  y = zeros with y.flat[lin] += x    dx = dy.flat[lin]
    PutFlat: y = x with y.flat[lin] = v (or += v)
             dx = dy with lin zeroed (dy if accumulating),  dv = dy.flat[lin]
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .broadcast import broadcast_to
from .elementwise import mask_mul
from .index import IndexOutOfRange, _int_index, gather
from .shape import norm_dim, reshape

_SMALL = 4096  # below this many values, xp.add.at is the cheapest accumulation


def add_at(flat, lin, vals):
    """flat[lin] += vals with repeated indices summed (in place; flat and lin 1-D)."""
    xp = backend.array_module(flat)
    if vals.size == 0:
        return flat
    if xp is np and vals.dtype.kind == "f" and vals.size > _SMALL:  # a weighted histogram, not np.add.at
        flat += xp.bincount(lin, weights=vals, minlength=flat.size).astype(flat.dtype, copy=False)
    else:
        xp.add.at(flat, lin, vals)
    return flat


def flat_index(index, x: Tensor, op: str):
    """``index`` as int64 positions into x's flattened elements (negatives count from the end)."""
    arr = index.array if isinstance(index, Tensor) else x.xp.asarray(np.asarray(index))
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {arr.dtype}")
    if isinstance(index, Tensor) and index.device != x.device:
        arr = backend.to_device(arr, x.device)
    n = x.numel()
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < -n or hi >= n:
            bad = hi if hi >= n else lo
            raise IndexOutOfRange(f"{op}(): out of range: tried to access index {bad} on a tensor of {n} elements.")
    arr = arr.astype(np.int64, copy=False)
    return x.xp.where(arr < 0, arr + n, arr) if arr.size and int(arr.min()) < 0 else arr


class Take(Function):
    """y = x.flat[lin] (y has lin's shape);  dx = zeros(x.shape) with dy added at lin."""

    saves_inputs = False

    def __init__(self, lin):
        self.lin = lin

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(-1)[self.lin]

    def backward(self, gy):
        return PutAdd(self.shape, self.lin)(gy)


class PutAdd(Function):
    """y = zeros(shape) with y.flat[lin] += x (repeats sum);  dx = dy.flat[lin]."""

    saves_inputs = False

    def __init__(self, shape, lin):
        self.shape, self.lin = shape, lin

    def forward(self, g):
        xp = backend.array_module(g)
        out = xp.zeros(math.prod(self.shape), dtype=g.dtype)
        return add_at(out, self.lin.reshape(-1), g.reshape(-1)).reshape(self.shape)

    def backward(self, gg):
        return Take(self.lin)(gg)


class PutFlat(Function):
    """y = x with y.flat[lin] = v (``accumulate``: += v, repeats sum);  v has lin's shape.
    dx = dy (accumulate) or dy with the written positions zeroed;  dv = dy.flat[lin]."""

    saves_inputs = False

    def __init__(self, lin, accumulate=False):
        self.lin, self.accumulate = lin, accumulate

    def forward(self, x, v):
        out = backend.array_module(x).array(x, order="C", copy=True)
        flat, lin = out.reshape(-1), self.lin.reshape(-1)
        if self.accumulate:
            add_at(flat, lin, v.reshape(-1))
        else:
            flat[lin] = v.reshape(-1)
        return out

    def backward(self, gy):
        nx, nv = self.needs_input_grad
        gx = gv = None
        if nx:
            if self.accumulate:
                gx = gy
            else:
                keep = gy.xp.ones(gy.array.size, dtype=bool)
                keep[self.lin.reshape(-1)] = False
                gx = mask_mul(gy, keep.reshape(gy.shape))
        if nv:
            gv = Take(self.lin)(gy)
        return gx, gv


# ---------------------------------------------------------------- take / put
def take(x: Tensor, index) -> Tensor:
    """out = x.flatten()[index] (out has index's shape; negatives count from the end).

    >>> lamina.tensor([[1, 2], [3, 4]]).take(lamina.tensor([0, -1]))   # tensor([1, 4])
    """
    return Take(flat_index(index, x, "take"))(x)


def put(x: Tensor, index, source: Tensor, accumulate: bool = False) -> Tensor:
    """out = x with out.flatten()[index] = source (``accumulate=True``: += source, repeats sum)."""
    if not isinstance(source, Tensor):
        source = Tensor(source, dtype=x.dtype)
    if source.dtype != x.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{x.dtype} and source.dtype = {source.dtype}")
    lin = flat_index(index, x, "put_")
    if source.numel() != lin.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {lin.size}")
    return PutFlat(lin, accumulate)(x, reshape(source, lin.shape))


def take_along_dim(x: Tensor, indices, dim=None) -> Tensor:
    """out = gather(x, dim, indices) after broadcasting x and indices against each other in every
    dimension but ``dim``; with dim=None, along the flattened tensors."""
    idx = _int_index(indices, x, "take_along_dim")
    if dim is None:
        return gather(reshape(x, -1), 0, idx.reshape(-1))
    if idx.ndim != x.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {x.ndim} dimensions for input, and {idx.ndim} dimensions for indices")
    d = norm_dim(dim, x.shape, "take_along_dim")
    one = lambda s: s[:d] + (1,) + s[d + 1:]  # noqa: E731
    try:
        b = np.broadcast_shapes(one(x.shape), one(idx.shape))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): input of shape {x.shape} and indices of shape {idx.shape} cannot "
                           f"be broadcast together outside dim {d}") from None
    xs, ids = b[:d] + (x.shape[d],) + b[d + 1:], b[:d] + (idx.shape[d],) + b[d + 1:]
    xb = x if x.shape == xs else broadcast_to(x, xs)
    return gather(xb, d, x.xp.broadcast_to(idx, ids))


# ---------------------------------------------------------------- masks
def _bool_mask(mask, x: Tensor, op: str):
    m = mask.array if isinstance(mask, Tensor) else x.xp.asarray(np.asarray(mask))
    if m.dtype.kind != "b":
        raise RuntimeError(f"{op}: expected a bool tensor for mask, got mask with dtype {m.dtype}")
    return m


def masked_select(x: Tensor, mask) -> Tensor:
    """1-D tensor of the entries of x where ``mask`` (both broadcast) is True;  dx = dy scattered back.

    >>> lamina.tensor([1., 2., 3.]).masked_select(lamina.tensor([True, False, True]))   # tensor([1., 3.])
    """
    m = _bool_mask(mask, x, "masked_select")
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: mask of shape {m.shape} and input of shape {x.shape} cannot be "
                           "broadcast together") from None
    xb = x if x.shape == shape else broadcast_to(x, shape)
    return Take(x.xp.flatnonzero(x.xp.broadcast_to(m, shape)))(xb)


def masked_scatter(x: Tensor, mask, source: Tensor) -> Tensor:
    """out = x with the positions where ``mask`` is True filled, in order, by the first entries of
    ``source``;  dx = dy where mask is False, dsource = dy[mask] (then zeros)."""
    m = _bool_mask(mask, x, "masked_scatter_")
    if source.dtype != x.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {x.dtype} "
                           f"and {source.dtype}")
    try:
        m = x.xp.broadcast_to(m, x.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter: mask of shape {m.shape} cannot be broadcast to the input shape "
                           f"{x.shape}") from None
    lin = x.xp.flatnonzero(m)
    if lin.size > source.numel():
        raise RuntimeError(f"masked_scatter: Number of elements of source ({source.numel()}) < number of ones "
                           f"in mask ({lin.size})")
    return PutFlat(lin)(x, Take(x.xp.arange(lin.size))(source))


# ---------------------------------------------------------------- positions of nonzeros
def nonzero(x: Tensor, *, as_tuple: bool = False):
    """Indices of the nonzero entries: an (n, ndim) int64 tensor, or with ``as_tuple=True`` one
    1-D tensor per dimension (x[nonzero(x, as_tuple=True)] gives the entries)."""
    xp, a = x.xp, x.array
    if as_tuple:
        parts = xp.nonzero(a.reshape(1) if a.ndim == 0 else a)
        return tuple(Tensor._wrap(p.astype(np.int64)) for p in parts)
    return Tensor._wrap(xp.argwhere(a).astype(np.int64))


def argwhere(x: Tensor) -> Tensor:
    """(n, ndim) int64 indices of the nonzero entries (``nonzero(x)``)."""
    return nonzero(x)


def unravel_index(indices: Tensor, shape) -> tuple:
    """The coordinates in a tensor of ``shape`` of each flat index (one int64 tensor per dim; an
    index past the end wraps around, as torch).

    >>> lamina.unravel_index(lamina.tensor([4, 1]), (2, 3))   # (tensor([1, 0]), tensor([1, 1]))
    """
    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index(): expected 'indices' to be a Tensor, got {type(indices).__name__}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"unravel_index(): expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"unravel_index(): 'shape' cannot have negative values, but got {shape}")
    xp, rest = indices.xp, indices.array.astype(np.int64)
    out = []
    for n in reversed(shape):
        out.append(rest % n if n else xp.zeros_like(rest))
        rest = rest // n if n else rest
    return tuple(Tensor._wrap(xp.asarray(c)) for c in reversed(out))
