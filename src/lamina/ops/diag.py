"""Diagonal matrices and triangles: diag, diag_embed, diagflat, trace, tril_indices, triu_indices.

``diag_embed`` writes a tensor's last dim onto a diagonal of new zero matrices (``DiagScatter``,
whose adjoint is the ``diagonal`` view), so gradients pass both ways:

    y = diag_embed(x):  y[..., i, i + offset] = x[..., i];   dx = diagonal(dy, offset)
    trace(x) = sum_i x[i, i];                                 dx = dy * I

    >>> lamina.diag(lamina.tensor([1.0, 2.0]))        # tensor([[1., 0.], [0., 2.]])
"""
from __future__ import annotations

import operator

import numpy as np

from .. import backend
from ..tensor import Tensor
from .shape import norm_dim, reshape
from .shape_views import DiagScatter
from .shape_views import diagonal as _diagonal_view  # diag's argument `diagonal` hides the name


def diag_embed(x: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices with x's last dim on their diagonal ``offset``, in new dims (dim1, dim2) of the result:
    (B, n) -> (B, n + |offset|, n + |offset|)."""
    offset = operator.index(offset)
    out_ndim = x.ndim + 1
    shape_probe = (0,) * out_ndim
    d1, d2 = norm_dim(dim1, shape_probe, "diag_embed"), norm_dim(dim2, shape_probe, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = (x.shape[-1] if x.ndim else 1) + abs(offset)
    x = reshape(x, (1,)) if x.ndim == 0 else x
    batch = iter(x.shape[:-1])
    shape = tuple(n if k in (d1, d2) else next(batch) for k in range(out_ndim))
    return DiagScatter(shape, offset, d1, d2)(x)


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """1-D x: the square matrix with x on diagonal ``diagonal``; 2-D x: that diagonal as a 1-D copy."""
    if x.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x.ndim == 2:
        return _diagonal_view(x, diagonal).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D (shape {x.shape})")


def diagflat(x: Tensor, offset: int = 0) -> Tensor:
    """The square matrix with the flattened x on diagonal ``offset``."""
    return diag_embed(reshape(x, -1), offset, 0, 1)


def trace(x: Tensor) -> Tensor:
    """Sum of the main diagonal of a 2-D tensor (integers sum to int64, as in PyTorch)."""
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim} (shape {x.shape})")
    d = _diagonal_view(x)
    if x.dtype.kind in "biu":
        return Tensor._wrap(x.xp.asarray(d.array.sum(dtype=np.int64)))
    return d.sum()


def _tri_indices(row: int, col: int, offset: int, upper: bool, dtype, device) -> Tensor:
    row, col, offset = operator.index(row), operator.index(col), operator.index(offset)
    if row < 0 or col < 0:
        raise RuntimeError(f"{'triu' if upper else 'tril'}_indices: row and col must be non-negative, got "
                           f"row={row}, col={col}")
    r, c = np.triu_indices(row, offset, col) if upper else np.tril_indices(row, offset, col)
    dt = np.dtype(np.int64) if dtype is None else backend.as_dtype(dtype)
    arr = np.stack([r, c]).astype(dt)
    if device is not None:
        arr = backend.to_device(arr, backend.Device(device))
    return Tensor._wrap(arr)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a row x col matrix (j - i <= offset), row by row."""
    return _tri_indices(row, col, offset, False, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a row x col matrix (j - i >= offset), row by row."""
    return _tri_indices(row, col, offset, True, dtype, device)


def fill_diagonal_(x: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Write ``fill_value`` on the main diagonal x[i, i, ..., i] in place (all dims equal when
    x has more than 2); ``wrap`` restarts the diagonal every N + 1 rows of a tall matrix."""
    from .arithmetic import where
    from .inplace import inplace

    if x.ndim < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1, got shape {x.shape}")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length, got shape {x.shape}")
    mask = np.zeros(x.shape, dtype=bool)
    np.fill_diagonal(mask, True, wrap=wrap)
    mask = backend.to_device(mask, x.device)
    return inplace(x, lambda a: where(mask, fill_value, a), name="fill_diagonal_")
