"""More views: narrow, select, unbind, movedim, swapdims, diagonal, unfold, as_strided.

Each result shares its input's memory and is marked with ``views.make_view``, so an in-place
write through it reaches the base (and autograd sees it). The backward of each view scatters
the gradient back into the input's shape:

    narrow / select      dx = zeros with dy written into the window (index backward)
    unbind               dx = stack(dy_0, ..., dy_{n-1}, dim)
    diagonal             dx = zeros with dy on the diagonal (``DiagScatter``, whose adjoint is
                         ``Diagonal`` again, so second derivatives work)
    unfold               dx = the windows' gradients added back (one strided add per window offset)
    as_strided           dx = dy summed into the storage positions it was read from (``storage.py``)

    >>> x = lamina.arange(6.).reshape(2, 3); x.select(1, 0)   # tensor([0., 3.])
    >>> lamina.arange(5.).unfold(0, 2, 1).shape                # (4, 2)
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .shape import norm_dim, permute, stack, transpose
from .views import make_view, make_views


def strided_view(a, shape, strides):
    """A writeable view of array ``a``'s memory with ``shape`` and byte ``strides`` (no copy, no checks)."""
    xp = backend.array_module(a)
    if xp is np:
        return np.lib.stride_tricks.as_strided(a, shape=tuple(shape), strides=tuple(strides), writeable=True)
    return xp.lib.stride_tricks.as_strided(a, shape=tuple(shape), strides=tuple(strides))  # pragma: no cover


def as_int(v, op: str, what: str) -> int:
    """An int from an int or a one-element integer tensor."""
    if isinstance(v, Tensor):
        if v.numel() != 1 or v.dtype.kind not in "iu":
            raise TypeError(f"{op}: {what} must be an integer or a one-element integer tensor, got a "
                            f"{v.dtype} tensor of shape {v.shape}")
        return int(v.item())
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an integer, got {v!r}") from None


# ---------------------------------------------------------------- narrow, select, unbind
def narrow(x: Tensor, dim: int, start, length: int) -> Tensor:
    """x restricted to ``start <= i < start + length`` along ``dim`` (a view)."""
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor")
    d = norm_dim(dim, x.shape, "narrow")
    n = x.shape[d]
    start, length = as_int(start, "narrow", "start"), as_int(length, "narrow", "length")
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
    if start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) "
                           f"of dim {dim} (tensor shape {x.shape})")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def narrow_copy(x: Tensor, dim: int, start, length: int) -> Tensor:
    """Like ``narrow`` but a copy with its own memory."""
    return narrow(x, dim, start, length).clone()


def select(x: Tensor, dim: int, index) -> Tensor:
    """x[..., index, ...] along ``dim``, which is removed (a view)."""
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor")
    d = norm_dim(dim, x.shape, "select")
    i = as_int(index, "select", "index")
    n = x.shape[d]
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size {list(x.shape)} at dimension {d}")
    return x[(slice(None),) * d + (i % n,)]


class Unbind(Function):
    """(y_0, ..., y_{n-1}) = the slices of x along ``dim`` (views);  dx = stack(dy_0, ..., dy_{n-1})."""

    saves_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        pre = (slice(None),) * self.dim
        return tuple(x[pre + (i,)] for i in range(x.shape[self.dim]))

    def backward(self, *gys):
        return stack(gys, self.dim)


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """All slices along ``dim`` as a tuple of views: a (3, 4) tensor unbinds into 3 rows of shape (4,)."""
    if x.ndim == 0:
        raise IndexError("unbind: dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, x.shape, "unbind")
    n = x.shape[d]
    if n == 0:
        return ()
    out = Unbind(d)(x)
    out = out if isinstance(out, tuple) else (out,)
    return make_views(out, x, lambda b, i: select(b, d, i))


# ---------------------------------------------------------------- axis moves
def movedim(x: Tensor, source, destination) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (ints or sequences); the others keep
    their order: (2, 3, 4).movedim(0, -1) -> (3, 4, 2) (a view)."""
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    src_n = tuple(norm_dim(d, x.shape, "movedim") for d in src)
    dst_n = tuple(norm_dim(d, x.shape, "movedim") for d in dst)
    if len(set(src_n)) != len(src_n):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(dst_n)) != len(dst_n):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    order = [None] * x.ndim
    for s, t in zip(src_n, dst_n):
        order[t] = s
    rest = iter(d for d in range(x.ndim) if d not in src_n)
    order = [next(rest) if o is None else o for o in order]
    return permute(x, tuple(order))


moveaxis = movedim


def swapdims(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (``transpose``; a view)."""
    return transpose(x, dim0, dim1)


swapaxes = swapdims


# ---------------------------------------------------------------- diagonals
def _diag_geometry(shape: tuple, strides: tuple, offset: int, d1: int, d2: int):
    """Shape, byte strides and byte offset of the diagonal view of an array of ``shape``/``strides``."""
    n1, n2 = shape[d1], shape[d2]
    if offset >= 0:
        length = max(0, min(n1, n2 - offset))
        start = offset * strides[d2] if length else 0
    else:
        length = max(0, min(n1 + offset, n2))
        start = -offset * strides[d1] if length else 0
    keep = [k for k in range(len(shape)) if k not in (d1, d2)]
    out_shape = tuple(shape[k] for k in keep) + (length,)
    out_strides = tuple(strides[k] for k in keep) + (strides[d1] + strides[d2],)
    return out_shape, out_strides, start


def _diagonal_array(a, offset, d1, d2):
    shape, strides, start = _diag_geometry(a.shape, a.strides, offset, d1, d2)
    if start:
        index = [slice(None)] * a.ndim
        if offset >= 0:
            index[d2] = slice(offset, None)
        else:
            index[d1] = slice(-offset, None)
        a = a[tuple(index)]
    return strided_view(a, shape, strides)


class Diagonal(Function):
    """y = the diagonal of x on dims (d1, d2) with ``offset``, as the last dim (a view);
    dx = DiagScatter(x.shape, ...)(dy): zeros with dy on that diagonal."""

    saves_inputs = False

    def __init__(self, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2

    def forward(self, x):
        self.in_shape = x.shape
        return _diagonal_array(x, self.offset, self.d1, self.d2)

    def backward(self, gy):
        return DiagScatter(self.in_shape, self.offset, self.d1, self.d2)(gy)


class DiagScatter(Function):
    """y = zeros(shape) with x written on the diagonal (offset, d1, d2);  dx = diagonal of dy."""

    saves_inputs = False

    def __init__(self, shape, offset, d1, d2):
        self.shape, self.offset, self.d1, self.d2 = tuple(shape), offset, d1, d2

    def forward(self, x):
        out = backend.array_module(x).zeros(self.shape, dtype=x.dtype)
        _diagonal_array(out, self.offset, self.d1, self.d2)[...] = x
        return out

    def backward(self, gy):
        return Diagonal(self.offset, self.d1, self.d2)(gy)


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal x[..., i, i + offset] of dims (dim1, dim2), moved to the last dim (a view):
    (2, 3, 3).diagonal(0, 1, 2) -> (2, 3)."""
    d1, d2 = norm_dim(dim1, x.shape, "diagonal"), norm_dim(dim2, x.shape, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal: diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = operator.index(offset)
    return make_view(Diagonal(offset, d1, d2)(x), x, lambda b: Diagonal(offset, d1, d2)(b))


# ---------------------------------------------------------------- unfold (sliding windows)
class Unfold(Function):
    """y[..., j, ..., k] = x[..., j * step + k, ...]: windows of ``size`` along ``dim``, every ``step``
    (a view, window index in place of dim, window offset k last);
    dx = sum over k of dy[..., k] added at positions j * step + k (``UnfoldBackward``)."""

    saves_inputs = False

    def __init__(self, dim, size, step):
        self.dim, self.size, self.step = dim, size, step

    def forward(self, x):
        self.in_shape = x.shape
        return _unfold_array(x, self.dim, self.size, self.step)

    def backward(self, gy):
        return UnfoldBackward(self.in_shape, self.dim, self.size, self.step)(gy)


class UnfoldBackward(Function):
    """y = zeros(shape) with each window of x added back at its place;  dx = Unfold(dy)."""

    saves_inputs = False

    def __init__(self, shape, dim, size, step):
        self.shape, self.dim, self.size, self.step = tuple(shape), dim, size, step

    def forward(self, g):
        xp = backend.array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if not self.shape:
            out[...] = g.reshape(())
            return out
        d, step = self.dim, self.step
        windows = g.shape[d]
        pre = (slice(None),) * d
        for k in range(self.size):  # one strided add per offset inside the window (a small fixed count)
            out[pre + (slice(k, k + step * (windows - 1) + 1, step),)] += g[..., k]
        return out

    def backward(self, gg):
        return Unfold(self.dim, self.size, self.step)(gg)


def _unfold_array(a, d, size, step):
    if a.ndim == 0:
        return a.reshape(1)
    n = a.shape[d]
    windows = (n - size) // step + 1
    shape = a.shape[:d] + (windows,) + a.shape[d + 1:] + (size,)
    strides = a.strides[:d] + (a.strides[d] * step,) + a.strides[d + 1:] + (a.strides[d],)
    return strided_view(a, shape, strides)


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Sliding windows of ``size`` along ``dimension`` every ``step`` elements (a view):
    shape (..., n, ...) -> (..., (n - size) // step + 1, ..., size)."""
    d = norm_dim(dimension, x.shape, "unfold") if x.ndim else 0
    size, step = operator.index(size), operator.index(step)
    n = x.shape[d] if x.ndim else 1
    if size > n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"unfold: size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    return make_view(Unfold(d, size, step)(x), x, lambda b: Unfold(d, size, step)(b))

