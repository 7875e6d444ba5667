"""Shared helpers of the image transforms: batches in and out, argument checks, fill values."""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor


def _array(x):
    """(array, was_tensor) without copying."""
    if isinstance(x, Tensor):
        return x.array, True
    if isinstance(x, np.ndarray) or backend.array_module(x) is not np:
        return x, False
    return np.asarray(x), False


def _as_batch(x, op: str):
    """(array (N, C, H, W), was_tensor, was_single_image)."""
    arr, is_tensor = _array(x)
    if arr.ndim == 3:
        return arr[None], is_tensor, True
    if arr.ndim == 4:
        return arr, is_tensor, False
    raise ValueError(f"{op}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {tuple(arr.shape)}")


def _pack(out, is_tensor: bool, single: bool):
    if single:
        out = out[0]
    return Tensor._wrap(out) if is_tensor else out


def _pair(v, name: str, op: str) -> tuple:
    if isinstance(v, numbers.Number):
        return (int(v), int(v))
    v = tuple(int(s) for s in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ValueError(f"{op}: {name} should be an int or a sequence of 2 ints (h, w), got {v}")
    return v


def _range(v, name: str, op: str) -> tuple:
    """A number d -> (-d, d); a pair stays (lo, hi)."""
    if isinstance(v, numbers.Number):
        if v < 0:
            raise ValueError(f"{op}: if {name} is a single number, it must be non-negative, got {v}")
        return (-float(v), float(v))
    v = tuple(float(s) for s in v)
    if len(v) != 2 or v[0] > v[1]:
        raise ValueError(f"{op}: {name} should be a number or a sequence (min, max), got {v}")
    return v


def _fill_value(fill, channels: int, dtype, xp, op: str):
    """A scalar or a per-channel (1, C, 1, 1) array of ``fill``."""
    if isinstance(fill, numbers.Number):
        return fill
    fill = tuple(float(f) for f in fill)
    if len(fill) == 1:
        return fill[0]
    if len(fill) != channels:
        raise ValueError(f"{op}: fill/value has {len(fill)} values but the images have {channels} channels")
    return xp.asarray(fill, dtype=dtype if dtype.kind == "f" else np.float64).reshape(1, -1, 1, 1)


def _to_xp(a, xp):
    return a if xp is np else xp.asarray(a)


# ------------------------------------------------------------------ deterministic transforms
