"""In-place updates: ``t.add_(u)``, ``t += u``, ``t[i] = v``, ``copy_``, ``fill_``, ``normal_``, ...

The new values are always written into ``t``'s memory, so every alias sees them (views, the
tensor ``.data`` and ``detach()`` return, arrays from ``.numpy()``), and the shared version
counter is bumped, so a backward that needs the old values refuses to run. Inside a graph the
update is recorded as the out-of-place op applied to an alias holding the old values:

    t <- fn(t_old, *args)          with t's node becoming fn's node

and when ``t`` is a view its base is given the new history (``views.rebase_history``). An
in-place change to a leaf that requires grad (or a view of one) needs ``no_grad``.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, is_grad_enabled, sync_view
from ..tensor import Tensor
from .cast import astype
from .views import rebase_history


def _check_inplace(t: Tensor, what: str) -> None:
    if not is_grad_enabled():
        return
    if t._requires_grad and t._ctx is None and t._view is None:
        raise RuntimeError(
            f"a leaf tensor that requires grad (shape {t.shape}) is being used in an in-place operation "
            f"({what}); wrap the update in `with lamina.no_grad():` or use an out-of-place op")
    v = t._view
    if v is not None and v.base._requires_grad and v.base._ctx is None:
        raise RuntimeError(
            f"a view of a leaf tensor that requires grad (base shape {v.base.shape}) is being used in an "
            f"in-place operation ({what}); wrap the update in `with lamina.no_grad():` or clone() first")


def _reads_old_value(res: Tensor, src: Tensor, first_seq: int) -> bool:
    """Did a node recorded while computing ``res`` save ``src`` (the alias of the old values)?"""
    stack, seen = [res._ctx], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or getattr(node, "seq", -1) < first_seq:
            continue
        seen.add(id(node))
        if node.inputs is not None and node.saves_inputs and any(i is src for i in node.inputs):
            return True
        stack.extend(e[0] for e in node.edges if e is not None and e[0] is not None)
    return False


def inplace(t: Tensor, fn, *args, name: str | None = None) -> Tensor:
    """Apply ``t = fn(t, *args)`` in place, keeping ``t``'s dtype, shape and memory."""
    from ..autograd import _sequence

    name = name or getattr(fn, "__name__", "in-place op")
    if name.isidentifier():
        name += "_"
    _check_inplace(t, name)
    grad_on = is_grad_enabled()
    if grad_on and t._view is not None:
        sync_view(t)
    tracking = grad_on and (t._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args))
    if tracking:
        # the op reads the old value through an alias with t's history and a version of its own
        src = Tensor._wrap(t.array)
        src._requires_grad, src._ctx, src._out_idx = t._requires_grad, t._ctx, t._out_idx
        first_seq = next(_sequence)
        res = fn(src, *[src if a is t else a for a in args])
    else:
        res = fn(t, *args)
    if res.shape != t.shape:
        raise RuntimeError(f"{name}: the output of shape {t.shape} doesn't match the broadcast shape {res.shape}")
    if res.dtype != t.dtype:
        if t.dtype.kind not in "fc" and res.dtype.kind in "fc" or t.dtype.kind == "b" and res.dtype.kind != "b":
            raise RuntimeError(f"{name}: result type {res.dtype} can't be cast to the desired output type {t.dtype}")
        res = astype(res, t.dtype)
    if res.array is not t.array:
        if not getattr(t.array.flags, "writeable", True):
            raise RuntimeError(f"{name}: the tensor (shape {t.shape}) is a read-only broadcast view (from "
                               "expand); call .clone() before writing into it")
        if tracking and _reads_old_value(res, src, first_seq):
            src.array = t.array.copy()  # a node needs the old values that are about to be overwritten
        t.array[...] = res.array
    t._vc[0] += 1
    if tracking:
        if t._view is not None:
            rebase_history(t, res)
        else:
            t._ctx, t._out_idx, t._requires_grad = res._ctx, res._out_idx, res._requires_grad
    return t


class Fill(Function):
    """y = a constant array (``value``, or drawn values) of x's shape;  dx = 0."""

    saves_inputs = False

    def __init__(self, make):
        self.make = make

    def forward(self, x):
        return self.make(x)

    def backward(self, gy):
        return None


def fill_(t: Tensor, value) -> Tensor:
    """Set every element of ``t`` to ``value`` in place."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError(f"fill_ only supports a 0-dimensional value tensor, got shape {value.shape}")
        value = value.item()

    def fill(a):
        return Fill(lambda arr: backend.array_module(arr).full(arr.shape, value, dtype=arr.dtype))(a)

    return inplace(t, fill, name="fill_")


def fill_random_(t: Tensor, kind: str, a, b, generator=None) -> Tensor:
    """Fill in place from U(a, b) or N(a, b**2), drawn from ``generator`` (the default one if None)."""
    if t.dtype.kind != "f":
        raise TypeError(f"{kind}_: expected a floating point tensor, got {t.dtype}")

    def draw(arr):
        rng = backend.rng(generator)
        vals = rng.uniform(a, b, arr.shape) if kind == "uniform" else rng.normal(a, b, arr.shape)
        return backend.to_device(vals.astype(arr.dtype), backend.device_of(arr))

    return inplace(t, lambda x: Fill(draw)(x), name=f"{kind}_")
