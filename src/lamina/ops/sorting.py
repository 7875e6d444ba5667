"""Sorting and order statistics: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode.

Each op finds its indices on raw arrays (a stable sort, or a partition when only k entries are
needed) and takes its values with ``gather(x, dim, indices)``, so the gradient is gather's:

    values = gather(x, dim, indices);   dx = dy scattered back to ``indices`` (0 elsewhere)

which is itself differentiable. NaN sorts as the largest value, as in PyTorch; sorts are
stable, so equal values keep their order (``descending=True`` too).
"""
from __future__ import annotations

import operator

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import return_types as R
from .elementwise import clone
from .index import Gather
from .reduce import AMax
from .shape import norm_dim, reshape


def axis_of(x: Tensor, dim, op: str):
    """``dim`` as an axis of ``x``; None for a 0-d tensor (which takes dim 0 or -1)."""
    if x.ndim == 0:
        norm_dim(dim, (), op)
        return None
    return norm_dim(dim, x.shape, op)


def stable_argsort(a, axis: int, descending: bool = False):
    """Indices (int64) that sort ``a`` along ``axis``; equal values keep their order either way."""
    xp = backend.array_module(a)
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable").astype(np.int64, copy=False)
    # descending + stable: sort the reversed array ascending, then reverse the order back
    i = xp.argsort(xp.flip(a, axis), axis=axis, kind="stable").astype(np.int64, copy=False)
    return xp.ascontiguousarray(xp.flip(a.shape[axis] - 1 - i, axis))


def _scalar(x: Tensor, cls):
    return cls(clone(x), Tensor._wrap(x.xp.zeros((), dtype=np.int64)))


def _select(x: Tensor, ax: int, idx, keepdim: bool, cls):
    """(gather(x, ax, idx), idx) with idx of size 1 along ``ax``, squeezed unless ``keepdim``."""
    values = Gather(ax, idx)(x)
    if not keepdim:
        shape = idx.shape[:ax] + idx.shape[ax + 1:]
        values, idx = reshape(values, shape), idx.reshape(shape)
    return cls(values, Tensor._wrap(idx))


def _no_bool(x: Tensor, op: str, exc=NotImplementedError) -> None:
    if x.dtype.kind == "b":
        raise exc(f"\"{op}_cpu\" not implemented for 'Bool' (convert with .int() or .float() first)")


def _nonempty(x: Tensor, ax: int, op: str) -> None:
    if x.shape[ax] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {ax} to have non-zero size (input shape {x.shape}).")


# ---------------------------------------------------------------- sort
def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) with values = x sorted along ``dim``;  dx = dy scattered back to indices.

    >>> lamina.tensor([3., 1., 2.]).sort()       # sort(values=[1, 2, 3], indices=[1, 2, 0])
    """
    ax = axis_of(x, dim, "sort")
    if ax is None:
        return _scalar(x, R.sort)
    idx = stable_argsort(x.array, ax, descending)
    return R.sort(Gather(ax, idx)(x), Tensor._wrap(idx))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort ``x`` along ``dim`` (no gradient)."""
    ax = axis_of(x, dim, "argsort")
    if ax is None:
        return Tensor._wrap(x.xp.zeros((), dtype=np.int64))
    return Tensor._wrap(stable_argsort(x.array, ax, descending))


def msort(x: Tensor) -> Tensor:
    """x sorted along its first dimension: ``sort(x, dim=0).values``."""
    return sort(x, 0).values


# ---------------------------------------------------------------- topk / kthvalue
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) entries along ``dim``,
    in sorted order;  dx = dy scattered back to indices.

    >>> lamina.tensor([1., 5., 3.]).topk(2)      # topk(values=[5, 3], indices=[1, 2])
    """
    ax = axis_of(x, dim, "topk")
    n = 1 if ax is None else x.shape[ax]
    k = operator.index(k)
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k out of range: k={k} for dimension {dim} of size {n}")
    _no_bool(x, "topk", RuntimeError)
    if ax is None:
        return _scalar(x, R.topk) if k else R.topk(reshape(x, 0), Tensor._wrap(x.xp.zeros(0, dtype=np.int64)))
    xp, a = x.xp, x.array
    lead = (slice(None),) * ax
    if k == 0 or 4 * k >= n:  # most of the line is wanted: a full sort is as cheap as a partition
        idx = stable_argsort(a, ax, largest)[lead + (slice(0, k),)]
    else:
        part = xp.argpartition(a, n - k if largest else k - 1, axis=ax)
        cand = xp.sort(part[lead + ((slice(n - k, n) if largest else slice(0, k)),)], axis=ax)
        order = stable_argsort(xp.take_along_axis(a, cand, axis=ax), ax, largest)
        idx = xp.take_along_axis(cand, order, axis=ax)
    idx = xp.ascontiguousarray(idx, dtype=np.int64)
    return R.topk(Gather(ax, idx)(x), Tensor._wrap(idx))


def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the k-th smallest entry (k counts from 1) along ``dim``.

    >>> lamina.tensor([4., 1., 3.]).kthvalue(2)  # kthvalue(values=3., indices=2)
    """
    ax = axis_of(x, dim, "kthvalue")
    n = 1 if ax is None else x.shape[ax]
    k = operator.index(k)
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}: k={k}, size {n}")
    _no_bool(x, "kthvalue")
    if ax is None:
        return _scalar(x, R.kthvalue)
    xp = x.xp
    part = xp.argpartition(x.array, k - 1, axis=ax)
    idx = xp.ascontiguousarray(part[(slice(None),) * ax + (slice(k - 1, k),)], dtype=np.int64)
    return _select(x, ax, idx, keepdim, R.kthvalue)


# ---------------------------------------------------------------- median / mode
class SelectedValue(AMax):
    """y = one value of x (the median of all entries);  dx = dy * [x == y] / #ties (as torch)."""

    def __init__(self, value, ndim: int):
        super().__init__(tuple(range(ndim)), False)
        self.value = value

    def forward(self, x):
        self.y = self.value.reshape((1,) * x.ndim)
        return self.value


def _median_all(x: Tensor, ignore_nan: bool, op: str) -> Tensor:
    xp, a = x.xp, x.array.reshape(-1)
    if a.size == 0:
        if x.dtype.kind != "f":
            raise RuntimeError(f"{op}(): cannot take the median of an empty {x.dtype} tensor")
        return Tensor._wrap(xp.full((), xp.nan, dtype=x.dtype))
    if a.dtype.kind == "f":
        nan = xp.isnan(a)
        if nan.any():
            if not ignore_nan or nan.all():  # the NaN entries share the gradient
                return SelectedValue(xp.full((), xp.nan, dtype=x.dtype), x.ndim)(x)
            a = a[~nan]
    k = (a.size - 1) // 2
    return SelectedValue(xp.asarray(xp.partition(a, k)[k]), x.ndim)(x)


def _median_dim(x: Tensor, dim, keepdim: bool, ignore_nan: bool, op: str, cls):
    ax = axis_of(x, dim, op)
    if ax is None:
        return _scalar(x, cls)
    _nonempty(x, ax, op)
    xp, a, n = x.xp, x.array, x.shape[ax]
    if a.dtype.kind != "f" or not xp.isnan(a).any():  # a partition finds the lower median in O(n)
        k = (n - 1) // 2
        idx = xp.argpartition(a, k, axis=ax)[(slice(None),) * ax + (slice(k, k + 1),)]
        return _select(x, ax, xp.ascontiguousarray(idx, dtype=np.int64), keepdim, cls)
    order = stable_argsort(a, ax)  # NaNs last, in their original order
    nans = xp.isnan(a).sum(axis=ax, keepdims=True)
    if ignore_nan:  # lower median of the non-NaN entries (the first NaN if there are none)
        k = xp.maximum((n - nans - 1) // 2, 0)
    else:  # a NaN in the line makes the median NaN: the first NaN
        k = xp.where(nans > 0, n - nans, (n - 1) // 2)
    idx = xp.take_along_axis(order, k.astype(np.int64), axis=ax)
    return _select(x, ax, idx, keepdim, cls)


def median(x: Tensor, dim=None, keepdim: bool = False):
    """Lower median: median(x) is a value (the gradient splits among ties); median(x, dim) gives
    (values, indices). A NaN in a line makes its median NaN.

    >>> lamina.tensor([[1., 5., 2., 4.]]).median(1)  # median(values=[2.], indices=[2])
    """
    _no_bool(x, "median")
    if dim is None:
        return _median_all(x, False, "median")
    return _median_dim(x, dim, keepdim, False, "median", R.median)


def nanmedian(x: Tensor, dim=None, keepdim: bool = False):
    """``median`` that ignores NaNs (NaN only where a line is all NaN)."""
    _no_bool(x, "nanmedian")
    if dim is None:
        return _median_all(x, True, "nanmedian")
    return _median_dim(x, dim, keepdim, True, "nanmedian", R.nanmedian)


def mode(x: Tensor, dim: int = -1, keepdim: bool = False):
    """(values, indices): the most frequent value along ``dim`` (the smallest one on a tie in
    counts) and the index of its last occurrence, as torch.

    >>> lamina.tensor([3, 1, 3, 1, 2]).mode()    # mode(values=1, indices=3)
    """
    ax = axis_of(x, dim, "mode")
    if ax is None:
        return _scalar(x, R.mode)
    _nonempty(x, ax, "mode")
    xp, a, n = x.xp, x.array, x.shape[ax]
    order = xp.moveaxis(stable_argsort(a, ax), ax, -1)
    s = xp.take_along_axis(xp.moveaxis(a, ax, -1), order, axis=-1)
    new_run = xp.ones(s.shape, dtype=bool)
    new_run[..., 1:] = s[..., 1:] != s[..., :-1]
    pos = xp.arange(n)
    start = xp.maximum.accumulate(xp.where(new_run, pos, 0), axis=-1)
    best = xp.argmax(pos - start + 1, axis=-1)[..., None]  # the end of the first longest run
    idx = xp.ascontiguousarray(xp.moveaxis(xp.take_along_axis(order, best, axis=-1), -1, ax))
    return _select(x, ax, idx, keepdim, R.mode)
