"""Memory layout: stride, storage_offset, data_ptr, as_strided, empty_strided.

A tensor's *storage* is the array that owns its memory (a view's root); strides and offsets
count elements, as in PyTorch. ``as_strided`` reads any strided window of the storage:

    y[i_0, ..., i_k] = storage[offset + sum_j i_j * stride_j]
    dx = dy added into the storage at the positions it was read from, then read at x's positions

    >>> x = lamina.arange(6.)
    >>> x.as_strided((2, 2), (1, 2), 1)      # tensor([[1., 3.], [2., 4.]])
"""
from __future__ import annotations

import operator

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .shape import norm_dim
from .shape_views import strided_view
from .views import make_view


def _root(a):
    """The array that owns ``a``'s memory (``a`` itself when it owns it)."""
    xp = backend.array_module(a)
    root, node = a, getattr(a, "base", None)
    while node is not None:
        if isinstance(node, xp.ndarray):
            root = node
        node = getattr(node, "base", None)
    return root


def _ptr(a) -> int:
    iface = getattr(a, "__array_interface__", None)
    if iface is None:  # pragma: no cover - CuPy
        iface = a.__cuda_array_interface__
    return int(iface["data"][0])


def data_ptr(x: Tensor) -> int:
    """The address of the tensor's first element."""
    return _ptr(x.array)


def stride(x: Tensor, dim: int | None = None):
    """Steps in elements between neighbours along each dim: (3, 4) row-major -> (4, 1)."""
    st = tuple(s // x.array.itemsize for s in x.array.strides)
    if dim is None:
        return st
    return st[norm_dim(dim, x.shape, "stride")]


def storage_offset(x: Tensor) -> int:
    """How many elements into its storage the tensor starts: ``x[1:].storage_offset()`` of a (3, 4) is 4."""
    a = x.array
    return (_ptr(a) - _ptr(_root(a))) // a.itemsize


_offset_of = storage_offset  # as_strided's argument of the same name hides the function


def _storage(a):
    """A flat view of the storage of ``a`` (its root as one row of elements)."""
    root = _root(a)
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        raise RuntimeError("as_strided: the tensor's storage is not one contiguous block of memory")
    if root.dtype != a.dtype:
        raise RuntimeError(f"as_strided: the tensor ({a.dtype}) is a reinterpretation of a {root.dtype} storage")
    return strided_view(root, (root.size,), (a.itemsize,))


def _positions(xp, shape, strides_el, offset):
    """The storage index of every element of a strided layout (an int64 array of ``shape``)."""
    idx = xp.full(tuple(shape), offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, strides_el)):  # one term per dimension
        r = xp.arange(n, dtype=np.int64) * s
        idx = idx + r.reshape((n,) + (1,) * (len(shape) - d - 1))
    return idx


class AsStrided(Function):
    """y = storage(x)[offset + sum_j i_j stride_j] (a view);  dx = StorageRemap(P_y -> P_x)(dy)."""

    saves_inputs = False

    def __init__(self, size, stride, offset):
        self.size, self.stride, self.offset = size, stride, offset

    def forward(self, x):
        self.in_shape = x.shape
        self.in_strides = tuple(s // x.itemsize for s in x.strides)
        self.in_offset = (_ptr(x) - _ptr(_root(x))) // x.itemsize
        storage = _storage(x)
        self.n = storage.shape[0]
        start = storage[self.offset:]
        return strided_view(start, self.size, tuple(s * x.itemsize for s in self.stride))

    def backward(self, gy):
        xp = gy.xp
        src = _positions(xp, self.size, self.stride, self.offset)
        dst = _positions(xp, self.in_shape, self.in_strides, self.in_offset)
        return StorageRemap(src, dst, self.n)(gy)


class StorageRemap(Function):
    """y[j] = sum of x[i] over the i with src[i] == dst[j] (x added into a storage of n elements at
    ``src``, read back at ``dst``);  dx = StorageRemap(dst, src)(dy), its adjoint."""

    saves_inputs = False

    def __init__(self, src, dst, n):
        self.src, self.dst, self.n = src, dst, n

    def forward(self, x):
        xp = backend.array_module(x)
        buf = xp.bincount(self.src.reshape(-1), weights=x.reshape(-1), minlength=self.n)
        return buf[self.dst].astype(x.dtype)

    def backward(self, gy):
        return StorageRemap(self.dst, self.src, self.n)(gy)


def _check_geometry(op: str, size, stride, offset, n, itemsize):
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: mismatch in length of strides and shape (size {list(size)}, stride "
                           f"{list(stride)})")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got strides: {list(stride)}")
    if any(n_ < 0 for n_ in size):
        raise RuntimeError(f"{op}: sizes must be non-negative, got {list(size)}")
    if offset < 0:
        raise RuntimeError(f"{op}: Tensor: invalid storage offset {offset}")
    if n is not None and 0 not in size:
        need = offset + sum((k - 1) * s for k, s in zip(size, stride)) + 1
        if need > n:
            raise RuntimeError(f"{op}: setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
                               f"{offset}, and itemsize {itemsize} requiring a storage size of {need * itemsize} "
                               f"are out of bounds for storage of size {n * itemsize}")


def as_strided(x: Tensor, size, stride, storage_offset=None) -> Tensor:
    """A view of x's storage with the given element ``size``, ``stride`` and ``storage_offset``
    (default: x's own offset). Overlapping windows are allowed; writes through them alias."""
    size = tuple(operator.index(n) for n in size)
    stride_ = tuple(operator.index(s) for s in stride)
    offset = _offset_of(x) if storage_offset is None else operator.index(storage_offset)
    n = _root(x.array).nbytes // x.array.itemsize
    _check_geometry("as_strided", size, stride_, offset, n, x.array.itemsize)
    return make_view(AsStrided(size, stride_, offset)(x), x, lambda b: AsStrided(size, stride_, offset)(b))


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor with the given element strides (its storage is just large enough)."""
    size = tuple(operator.index(n) for n in size)
    stride_ = tuple(operator.index(s) for s in stride)
    _check_geometry("empty_strided", size, stride_, 0, None, 1)
    dt = backend.as_dtype(dtype) or backend.get_default_dtype()
    n = 0 if 0 in size else 1 + sum((k - 1) * s for k, s in zip(size, stride_))
    xp = backend.Device(device).xp if device is not None else np
    buf = xp.empty(max(n, 1), dtype=dt)
    arr = strided_view(buf, size, tuple(s * buf.itemsize for s in stride_))
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad = True
    return t

