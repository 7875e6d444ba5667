"""Views: tensors that share their base's memory, and in-place writes through them.

A view op (reshape, view, permute/transpose, squeeze/unsqueeze, basic indexing, narrow/select,
split/chunk/unbind, diagonal, ...) returns a tensor whose array is a NumPy/CuPy view of its
input's. ``make_view`` marks it: the two share one version counter, and in grad mode the view
remembers its root base and a function replaying the view from it. When the view is written in
place inside a graph, the base takes a new node (``CopySlices``):

    base' = base with base[view] = v            d base = dy with the view's region zeroed
                                                d v    = dy[view]

and the view is re-derived from ``base'``, so gradients reach both (PyTorch's rule).
"""
from __future__ import annotations

from ..autograd import Function, ViewOf, is_grad_enabled
from ..tensor import Tensor


def make_view(out: Tensor, x: Tensor, fn) -> Tensor:
    """Mark ``out`` as a view of ``x`` when their arrays share memory; ``fn(x) -> out`` replays it."""
    if out is x or not out.xp.may_share_memory(out.array, x.array):
        return out
    out._vc = x._vc
    if is_grad_enabled():
        xv = x._view
        if xv is None:
            out._view = ViewOf(x, fn, out._vc[0])
        else:
            inner = xv.fn
            out._view = ViewOf(xv.base, lambda b: fn(inner(b)), out._vc[0])
    return out


def make_views(outs: tuple, x: Tensor, fn) -> tuple:
    """``make_view`` for ops that return several views (split): ``fn(x, i)`` replays piece i."""
    for i, o in enumerate(outs):
        make_view(o, x, lambda b, i=i: fn(b, i))
    return outs


class CopySlices(Function):
    """base' = base with its view region replaced by v (the memory is already written);
    d base = dy with the region zeroed, d v = view(dy)."""

    saves_inputs = False

    def __init__(self, view_fn):
        self.view_fn = view_fn

    def forward(self, base, v):
        return base  # the in-place write has already put v into base's memory

    def backward(self, gy):
        nb, nv = self.needs_input_grad
        gb = gv = None
        if nb:
            mask = gy.xp.ones(gy.shape, dtype=gy.dtype)
            self.view_fn(Tensor._wrap(mask)).array[...] = 0
            gb = gy * Tensor._wrap(mask)
        if nv:
            gv = self.view_fn(gy)
        return gb, gv


def rebase_history(view: Tensor, value: Tensor) -> None:
    """After ``value`` was written into the memory of ``view`` in place, give the view's base the
    history 'base with the view's region replaced by value', and the view its slice of it."""
    info = view._view
    base = info.base
    old = Tensor._wrap(base.array)
    old._vc = base._vc
    old._requires_grad, old._ctx, old._out_idx = base._requires_grad, base._ctx, base._out_idx
    new = CopySlices(info.fn)(old, value)
    base._ctx, base._out_idx, base._requires_grad = new._ctx, new._out_idx, new._requires_grad
    r = info.fn(base)
    view._ctx, view._out_idx, view._requires_grad = r._ctx, r._out_idx, r._requires_grad
    info.ver = view._vc[0]
