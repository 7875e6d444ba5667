"""The scatter forms of views, and views taken in place.

``*_scatter`` ops return a copy of the input with one view region replaced by ``src``
(``select_scatter``, ``slice_scatter``, ``diagonal_scatter``, ``as_strided_scatter``):

    y = x with view(y) = src;   dx = dy with the region zeroed,   dsrc = view(dy)

The in-place view ops (``t_``, ``transpose_``, ``swapdims_``, ``squeeze_``, ``unsqueeze_``,
``as_strided_``) give a tensor a new shape and strides over the same memory, keeping its identity;
its graph node becomes the view's.

    >>> lamina.select_scatter(lamina.zeros(2, 3), lamina.ones(3), 0, 1)   # row 1 is ones
"""
from __future__ import annotations

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .cast import astype
from .shape import norm_dim, squeeze, t, transpose, unsqueeze
from .shape_views import diagonal, select
from .storage import as_strided


class ViewScatter(Function):
    """y = x with view_fn(y) replaced by src;  dx = dy with that region zeroed,  dsrc = view_fn(dy)."""

    saves_inputs = False

    def __init__(self, view_fn):
        self.view_fn = view_fn

    def forward(self, x, src):
        out = x.copy()
        self.view_fn(Tensor._wrap(out)).array[...] = src
        return out

    def backward(self, gy):
        nx, ns = self.needs_input_grad
        gx = gs = None
        if nx:
            zeros = Tensor._wrap(gy.xp.zeros(self.view_fn(gy).shape, dtype=gy.dtype))
            gx = ViewScatter(self.view_fn)(gy, zeros)
        if ns:
            gs = self.view_fn(gy)
        return gx, gs


def _scatter(op: str, x: Tensor, src: Tensor, view_fn) -> Tensor:
    if not isinstance(x, Tensor) or not isinstance(src, Tensor):
        raise TypeError(f"{op}: expected Tensors, got {type(x).__name__} and {type(src).__name__}")
    region = view_fn(Tensor._wrap(x.array)).shape
    if tuple(src.shape) != tuple(region):
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(region)}")
    return ViewScatter(view_fn)(x, astype(src, x.dtype))


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """input with input.select(dim, index) replaced by src."""
    return _scatter("select_scatter", input, src, lambda b: select(b, dim, index))


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """input with input[..., start:end:step, ...] (along dim) replaced by src."""
    d = norm_dim(dim, input.shape, "slice_scatter")
    if step <= 0:
        raise RuntimeError(f"slice_scatter: slice step must be positive, got {step}")
    index = (slice(None),) * d + (slice(start, end, step),)
    return _scatter("slice_scatter", input, src, lambda b: b[index])


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """input with input.diagonal(offset, dim1, dim2) replaced by src."""
    return _scatter("diagonal_scatter", input, src, lambda b: diagonal(b, offset, dim1, dim2))


def as_strided_scatter(input: Tensor, src: Tensor, size, stride, storage_offset=None) -> Tensor:
    """A contiguous copy of input with the window as_strided(size, stride, storage_offset) replaced by src."""
    off = 0 if storage_offset is None else storage_offset
    x = input.contiguous() if not input.is_contiguous() else input
    return _scatter("as_strided_scatter", x, src, lambda b: as_strided(b, size, stride, off))


# ---------------------------------------------------------------- views taken in place
def restride_(t_: Tensor, fn, name: str) -> Tensor:
    """Give ``t_`` the shape and strides of its view ``fn(t_)`` (same memory, same object)."""
    if is_grad_enabled() and t_._requires_grad and t_._ctx is None and t_._view is None:
        raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation")
    if not is_grad_enabled() and t_._ctx is not None:
        raise RuntimeError(f"{name}: can't change the shape of a tensor that is part of a graph under no_grad")
    # the view op reads an alias with t_'s history: its node must keep t_'s old shape
    src = Tensor._wrap(t_.array)
    src._vc, src._view = t_._vc, t_._view
    src._requires_grad, src._ctx, src._out_idx = t_._requires_grad, t_._ctx, t_._out_idx
    r = fn(src)
    if r is src:
        return t_
    t_.array = r.array
    if r._ctx is not None:
        t_._ctx, t_._out_idx, t_._requires_grad = r._ctx, r._out_idx, r._requires_grad
    t_._view = r._view if t_._view is not None else None
    t_._vc[0] += 1
    return t_


def t_(x: Tensor) -> Tensor:
    return restride_(x, t, "t_")


def transpose_(x: Tensor, dim0: int, dim1: int) -> Tensor:
    return restride_(x, lambda a: transpose(a, dim0, dim1), "transpose_")


def squeeze_(x: Tensor, dim=None) -> Tensor:
    return restride_(x, lambda a: squeeze(a, dim), "squeeze_")


def unsqueeze_(x: Tensor, dim: int) -> Tensor:
    return restride_(x, lambda a: unsqueeze(a, dim), "unsqueeze_")


def as_strided_(x: Tensor, size, stride, storage_offset=None) -> Tensor:
    return restride_(x, lambda a: as_strided(a, size, stride, storage_offset), "as_strided_")
