"""Operand handling shared by every elementwise op: dtype promotion, scalars next to tensors.

Dtypes follow PyTorch's promotion: Python scalars and 0-d tensors do not widen a tensor of the
same category (float32 * 2.5 stays float32), a float beats any integer (int64 + 2.5 is float32),
an int next to a bool tensor is int64.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..backend import promote_types, result_dtype as _result_dtype  # noqa: F401 (re-exported)
from ..tensor import Tensor
from .broadcast import broadcast_to
from .cast import astype, to_device

_INT64 = np.dtype("int64")
_BOOL = np.dtype("bool")


# ---------------------------------------------------------------- dtype promotion
def result_type(a, b) -> np.dtype:
    """The dtype ``a <op> b`` computes in (``torch.result_type``); either may be a Python scalar."""
    a, b = _as_pair(a, b)
    return _result_dtype(a.array.dtype, b.array.dtype, a.array.ndim == 0, b.array.ndim == 0)


# ---------------------------------------------------------------- operand handling
def as_tensor_like(value, like: Tensor) -> Tensor:
    """Turn a Python scalar or array into a constant tensor that does not upcast ``like``.

    A scalar takes ``like``'s dtype unless its category is higher: a float next to an integer
    tensor becomes the default float dtype, an int next to a bool tensor becomes int64.
    """
    if isinstance(value, Tensor):
        return value
    tv = type(value)
    dt = like.array.dtype
    if tv is float or isinstance(value, np.floating):
        if dt.kind != "f":
            dt = backend.get_default_dtype()
    elif tv is int or isinstance(value, np.integer):
        if dt.kind == "b":
            dt = _INT64
    elif tv is bool or isinstance(value, np.bool_):
        pass
    elif isinstance(value, numbers.Real):  # Fraction, Decimal, ...
        return as_tensor_like(float(value), like)
    else:
        arr = backend.array_module(like.array).asarray(value)
        if arr.dtype.kind == "f" and not hasattr(value, "dtype"):
            arr = arr.astype(backend.get_default_dtype())
        elif arr.dtype.kind in "OUSV":
            raise TypeError(f"unsupported operand type {type(value).__name__} for a tensor operation")
        return Tensor._wrap(arr)
    xp = backend.array_module(like.array)
    if dt.kind in "iu":
        lo, hi = _int_range(dt)
        if not lo <= value <= hi:  # wrap around like C (and PyTorch) instead of raising
            return Tensor._wrap(xp.asarray(np.asarray(int(value) % 2**64, dtype=np.uint64).astype(dt)))
    return Tensor._wrap(xp.asarray(value, dtype=dt))


_INT_RANGES: dict = {}


def _int_range(dt):
    r = _INT_RANGES.get(dt)
    if r is None:
        info = np.iinfo(dt)
        r = _INT_RANGES[dt] = (int(info.min), int(info.max))
    return r


def _as_pair(a, b):
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = as_tensor_like(b, a)
    elif isinstance(b, Tensor):
        a = as_tensor_like(a, b)
    else:
        raise TypeError(f"expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    return a, b


def binary_operands(a, b):
    """Both operands as tensors of one dtype, promoted as PyTorch does (see ``promote_types``)."""
    a, b = _as_pair(a, b)
    da, db = a.array.dtype, b.array.dtype
    if da is not db and da != db:
        dt = _result_dtype(da, db, a.array.ndim == 0, b.array.ndim == 0)
        a, b = astype(a, dt), astype(b, dt)
    return a, b


def _operand_arrays(a, b, op: str):
    """Raw arrays of both operands in their common dtype, for ops with no gradient."""
    a, b = _as_pair(a, b)
    x, y = a.array, b.array
    if x.dtype != y.dtype:
        dt = _result_dtype(x.dtype, y.dtype, x.ndim == 0, y.ndim == 0)
        x, y = x.astype(dt, copy=False), y.astype(dt, copy=False)
    if x.shape != y.shape:
        _check_shapes(op, x.shape, y.shape)
    return x, y


def _check_shapes(op: str, sa: tuple, sb: tuple) -> None:
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}: shapes {sa} and {sb} cannot be broadcast together")


def _check_broadcast(op: str, a: Tensor, b: Tensor) -> None:
    sa, sb = a.array.shape, b.array.shape
    if sa != sb:
        _check_shapes(op, sa, sb)


def self_xp(x):
    return backend.array_module(x)


def _float_and_number(t, c) -> bool:
    """A float tensor next to a plain Python int/float (the scalar fast paths take it as is)."""
    tc = type(c)
    return (tc is float or tc is int) and isinstance(t, Tensor) and t.array.dtype.kind == "f"


def _is_number(v) -> bool:
    return (type(v) in (int, float) or isinstance(v, (np.integer, np.floating))) and not isinstance(v, bool)


def expand_copy(src, like: Tensor) -> Tensor:
    """``src`` broadcast to ``like``'s shape and dtype (the value written by ``copy_``)."""
    src = as_tensor_like(src, like)
    if src.device != like.device:
        src = to_device(src, like.device)
    try:
        shape = np.broadcast_shapes(src.shape, like.shape)
    except ValueError:
        shape = None
    if shape != like.shape:
        raise RuntimeError(f"copy_: the source of shape {src.shape} cannot be broadcast to the "
                           f"destination's shape {like.shape}")
    return broadcast_to(astype(src, like.dtype), like.shape)


def float_operands(a, b, op: str):
    """Both operands as tensors of one floating dtype (integers become the default float), with
    their shapes checked for broadcasting: the inputs of hypot, atan2, logaddexp, copysign, ..."""
    a, b = binary_operands(a, b)
    if a.array.dtype.kind != "f":
        dt = backend.get_default_dtype()
        a, b = astype(a, dt), astype(b, dt)
    _check_broadcast(op, a, b)
    return a, b


def as_float(x, op: str) -> Tensor:
    """``x`` itself when it is a floating tensor, else converted to the default float dtype."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x if x.array.dtype.kind == "f" else astype(x, backend.get_default_dtype())


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` in an in-place op: never to a lower
    category (float -> int, int -> bool); any width within a category."""
    return _CATEGORY[backend.as_dtype(from_).kind] <= _CATEGORY[backend.as_dtype(to).kind]
