"""Searching sorted data and sets of values: searchsorted, bucketize, isin, unique, unique_consecutive.

None of these has a gradient (their outputs are positions, booleans or counts; unique's values
are not differentiable in PyTorch either).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor
from .shape import norm_dim


def _arr(v, like: Tensor):
    if isinstance(v, Tensor):
        return backend.to_device(v.array, like.device) if v.device != like.device else v.array
    return like.xp.asarray(np.asarray(v))


# ---------------------------------------------------------------- searchsorted / bucketize
def _search_rows(seq, vals, right: bool):
    """searchsorted of each row of ``vals`` (R, m) in the same row of ``seq`` (R, n), all rows at once:
    one stable sort of [seq, vals] (right) or [vals, seq] (left) per row; a value's answer is the
    number of sequence entries sorted before it."""
    xp = backend.array_module(seq)
    n, m = seq.shape[1], vals.shape[1]
    both = xp.concatenate([seq, vals] if right else [vals, seq], axis=1)
    order = xp.argsort(both, axis=1, kind="stable")
    is_val = order >= n if right else order < m
    seen = xp.cumsum(~is_val, axis=1)
    rows, cols = xp.nonzero(is_val)
    out = xp.empty(vals.shape, dtype=np.int64)
    out[rows, order[rows, cols] - (n if right else 0)] = seen[rows, cols]
    return out


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False, side=None,
                 sorter=None) -> Tensor:
    """Index where each value of ``input`` would be inserted into ``sorted_sequence`` to keep it
    sorted (the first such index, or the last with ``right=True`` / ``side='right'``). A N-D
    sequence searches each of its last-dim rows with the matching row of input.

    >>> lamina.searchsorted(lamina.tensor([1, 3, 5, 7]), lamina.tensor([3, 6]))   # tensor([1, 3])
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    seq = sorted_sequence.array
    scalar = not isinstance(input, Tensor) and isinstance(input, numbers.Number)
    vals = _arr(input, sorted_sequence)
    xp = sorted_sequence.xp
    if sorter is not None:
        srt = _arr(sorter, sorted_sequence)
        if srt.shape != seq.shape or srt.dtype.kind not in "iu":
            raise RuntimeError(f"torch.searchsorted(): sorter must be an int64 tensor of the sequence's shape "
                               f"{seq.shape}, got {srt.dtype} of shape {srt.shape}")
        seq = xp.take_along_axis(seq, srt.astype(np.int64), axis=-1)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, got a 0-d sequence")
    dt = backend.promote_types(seq.dtype, vals.dtype)
    seq, vals = seq.astype(dt, copy=False), vals.astype(dt, copy=False)
    if seq.ndim == 1:
        out = xp.searchsorted(seq, vals, side="right" if right else "left").astype(np.int64)
    else:
        if vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               f"dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
        rows = seq.reshape(-1, seq.shape[-1])
        out = _search_rows(rows, vals.reshape(rows.shape[0], -1), right).reshape(vals.shape)
    out = xp.asarray(out)
    if scalar:
        out = out.reshape(())
    return Tensor._wrap(out.astype(np.int32) if out_int32 else out)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """Bucket index of each value: i with boundaries[i-1] < v <= boundaries[i] (``right=True``:
    boundaries[i-1] <= v < boundaries[i]); ``boundaries`` is 1-D and increasing."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# ---------------------------------------------------------------- sets of values
def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Bool tensor of ``elements``' shape: True where the element occurs in ``test_elements``
    (either may be a number). ``invert=True`` negates."""
    like = elements if isinstance(elements, Tensor) else test_elements
    if not isinstance(like, Tensor):
        raise TypeError("isin(): expected elements or test_elements to be a Tensor")
    e, t = _arr(elements, like), _arr(test_elements, like)
    out = like.xp.isin(e, t, assume_unique=assume_unique, invert=invert)
    return Tensor._wrap(like.xp.asarray(out))


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values of ``x`` in ascending order (or its distinct slices along ``dim``), and on
    request ``inverse`` (where each entry went: x == out[inverse]) and ``counts``. The output is
    sorted whatever ``sorted`` says (as torch on CPU); each NaN counts as distinct.

    >>> lamina.tensor([2, 1, 2]).unique(return_counts=True)   # (tensor([1, 2]), tensor([1, 2]))
    """
    xp, a = x.xp, x.array
    axis = None if dim is None else norm_dim(dim, x.shape, "unique")
    kw = {"equal_nan": False} if xp is np else {}
    vals, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=axis, **kw)
    inv = inv.reshape(a.shape if axis is None else (-1,)).astype(np.int64)
    return _pack(Tensor._wrap(vals), inv, cnt, return_inverse, return_counts)


def _pack(out: Tensor, inv, cnt, return_inverse: bool, return_counts: bool):
    res = (out,)
    if return_inverse:
        res += (Tensor._wrap(inv),)
    if return_counts:
        res += (Tensor._wrap(cnt.astype(np.int64)),)
    return res[0] if len(res) == 1 else res


def unique_consecutive(x: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Collapse each run of equal consecutive values (or slices along ``dim``) to one; ``inverse``
    and ``counts`` as in ``unique``.

    >>> lamina.tensor([1, 1, 2, 1]).unique_consecutive()     # tensor([1, 2, 1])
    """
    xp, a = x.xp, x.array
    if dim is None:
        flat = a.reshape(-1)
        change = xp.ones(flat.size, dtype=bool)
        change[1:] = flat[1:] != flat[:-1]
        out, shape = flat[change], a.shape
    else:
        d = norm_dim(dim, x.shape, "unique_consecutive")
        rows = xp.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        change = xp.ones(rows.shape[0], dtype=bool)
        change[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        out, shape = xp.take(a, xp.flatnonzero(change), axis=d), (a.shape[d],)
    inv = (xp.cumsum(change) - 1).reshape(shape).astype(np.int64)
    starts = xp.flatnonzero(change)
    cnt = xp.diff(xp.concatenate([starts, xp.asarray([change.size])]))
    return _pack(Tensor._wrap(out), inv, cnt, return_inverse, return_counts)


# ---------------------------------------------------------------- whole-tensor comparisons
def equal(a: Tensor, b: Tensor) -> bool:
    """True if ``a`` and ``b`` have the same shape and equal elements (NaN != NaN)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"equal(): expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    return a.shape == b.shape and bool((a.array == _arr(b, a)).all())


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True if |a - b| <= atol + rtol |b| everywhere (a and b broadcast; same dtype required)."""
    if not isinstance(b, Tensor):
        raise TypeError(f"allclose(): argument 'other' must be Tensor, not {type(b).__name__}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"allclose(): {a.dtype} did not match {b.dtype}")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"allclose(): the shape of a {a.shape} and of b {b.shape} cannot be broadcast "
                           "together") from None
    return bool(a.xp.allclose(a.array, _arr(b, a), rtol=rtol, atol=atol, equal_nan=equal_nan))
