"""PyTorch-style custom functions: subclass ``lamina.autograd.Function`` with static
``forward(ctx, ...)`` and ``backward(ctx, ...)`` and call ``MyFn.apply(...)``.

    class Cube(lamina.autograd.Function):
        @staticmethod
        def forward(ctx, x):             # y = x³ (runs on Tensors, with no graph recorded)
            ctx.save_for_backward(x)
            return x ** 3
        @staticmethod
        def backward(ctx, gy):           # dx = 3 x² · dy (Tensor ops: second derivatives work)
            x, = ctx.saved_tensors
            return 3 * x ** 2 * gy
    y = Cube.apply(x)

``apply`` runs ``forward`` under ``no_grad`` and records one node (``CubeBackward``) whose
backward calls the user's ``backward``. The ``ctx`` is a :class:`FunctionCtx`:
``save_for_backward`` / ``saved_tensors`` (checked against in-place changes),
``needs_input_grad`` (one bool per argument), ``mark_non_differentiable``, ``mark_dirty`` and
``set_materialize_grads`` (accepted; gradients of unused outputs always arrive as zeros).
The newer form, ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``, works too.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from .. import autograd as _ag
from ..ops.broadcast import sum_to
from ..tensor import Tensor

__all__ = ["FunctionCtx", "apply", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` hands to ``backward``; arbitrary attributes (``ctx.alpha = 2``) are fine."""

    def __init__(self):
        self.needs_input_grad = ()
        self.to_save = ()
        self.non_differentiable = ()
        self.dirty = ()
        self.materialize_grads = True
        self._saved = None  # [(tensor, version)], set when the node is recorded
        self._freed = False
        self._name = "Function"

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs, outputs or None) for ``backward``; read them with ``saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved tensors after they "
                f"have already been freed), in {self._name}. Pass retain_graph=True to the first backward.")
        if self._saved is None:  # forward not recorded (no input requires grad): what was saved, as is
            return tuple(self.to_save)
        for i, (t, v) in enumerate(self._saved):
            if t is not None and t._version != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: saved tensor {i} of {self._name} (shape {t.shape}) is at version {t._version}; "
                    f"expected version {v} instead")
        return tuple(t for t, _ in self._saved)

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (indices, masks): they come back with requires_grad=False."""
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors) -> None:
        """Inputs that ``forward`` changed in place (and returns)."""
        self.dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


def once_differentiable(fn):
    """Decorator for a ``backward`` that can't itself be differentiated: it runs without recording."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with _ag.no_grad():
            return fn(ctx, *args)

    return wrapper


class _CustomNode(_ag.Function):
    """The graph node of one ``MyFn.apply`` call; its backward calls ``MyFn.backward(ctx, ...)``."""

    saves_inputs = False  # the ctx checks the versions of what was saved instead

    def __init__(self, cls, ctx, arg_tensor: list, n_args: int, out_arrays: list, out_slots: list, n_outs: int):
        self.cls, self.ctx = cls, ctx
        self.arg_tensor, self.n_args = arg_tensor, n_args  # argument positions that hold tensors
        self.out_arrays, self.out_slots, self.n_outs = out_arrays, out_slots, n_outs

    @property
    def name(self) -> str:
        return self.__dict__.get("_name") or f"{self.cls.__name__}Backward"

    def forward(self, *arrays):
        out, self.out_arrays = tuple(self.out_arrays), None  # computed already by the user's forward
        return out

    def backward(self, *grads):
        full = [None] * self.n_outs
        for slot, g in zip(self.out_slots, grads):
            full[slot] = g
        res = self.cls.backward(self.ctx, *full)
        if not isinstance(res, tuple):
            res = (res,)
        if len(res) < self.n_args or any(r is not None for r in res[self.n_args:]):
            raise RuntimeError(f"function {self.name} returned an incorrect number of gradients "
                               f"(expected {self.n_args}, got {len(res)})")
        out = []
        tensor_pos = set(self.arg_tensor)
        for i in range(self.n_args):
            g = res[i]
            if i not in tensor_pos:
                if g is not None:
                    raise RuntimeError(f"function {self.name} returned a gradient different than None at position "
                                       f"{i + 1}, but the corresponding forward input was not a Tensor")
                continue
            out.append(None if g is None else self._check(i, g))
        return tuple(out)

    def _check(self, i: int, g):
        inp = self.inputs[self.arg_tensor.index(i)]
        if not isinstance(g, Tensor):
            raise TypeError(f"function {self.name} returned a {type(g).__name__} as the gradient of input {i}; "
                            "expected a Tensor or None")
        if g.shape == inp.shape:
            return g
        try:
            ok = np.broadcast_shapes(inp.shape, g.shape) == g.shape  # g is inp broadcast: sum it back
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(f"Function {self.name} returned an invalid gradient at index {i} - got {list(g.shape)} "
                               f"but expected shape compatible with {list(inp.shape)}")
        return sum_to(g, inp.shape)

    def release(self):
        name = self.name
        self.ctx._freed = True
        self.ctx._saved = None
        super().release()
        self.__dict__["_name"] = name  # grad_fn.name still answers after backward freed the node


def apply(cls, *args, **kwargs):
    """``MyFn.apply(*args)``: run ``MyFn.forward`` and record the node that calls ``MyFn.backward``."""
    own = _own_attrs(cls)
    if "forward" not in own or "backward" not in own or not isinstance(inspect.getattr_static(cls, "forward"),
                                                                         staticmethod):
        raise RuntimeError(f"{cls.__name__}.apply: a custom Function needs @staticmethod forward(ctx, ...) and "
                           "@staticmethod backward(ctx, *grad_outputs)")
    ctx = FunctionCtx()
    ctx._name = f"{cls.__name__}Backward"
    ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    with _ag.no_grad():
        if "setup_context" in _own_attrs(cls):
            out = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    if not (_ag.is_grad_enabled() and any(ctx.needs_input_grad)):
        return out
    multi = isinstance(out, tuple)
    outs = out if multi else (out,)
    slots = [j for j, o in enumerate(outs) if isinstance(o, Tensor)]
    arg_tensor = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    node = _CustomNode(cls, ctx, arg_tensor, len(args), [outs[j].array for j in slots], slots, len(outs))
    results = node(*[args[i] for i in arg_tensor]) if slots else ()
    final = list(outs)
    non_diff = {id(t) for t in ctx.non_differentiable}
    dirty = {id(t) for t in ctx.dirty}
    for r, j in zip(results, slots):
        o = outs[j]
        r._vc = o._vc  # same memory as what forward returned: share its version counter
        if id(o) in non_diff:
            r._ctx, r._requires_grad = None, False
        if id(o) in dirty:  # an input changed in place: it now carries this node's history
            if o._ctx is None and o._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation "
                                   f"({cls.__name__}.forward marked it dirty)")
            o._ctx, o._out_idx, o._requires_grad = r._ctx, r._out_idx, r._requires_grad
            r = o
        final[j] = r
    swap = {id(outs[j]): final[j] for j in slots}
    saved = [swap.get(id(t), t) if t is not None else None for t in ctx.to_save]
    ctx._saved = [(t, t._version if t is not None else 0) for t in saved]
    return tuple(final) if multi else final[0]


def _own_attrs(cls) -> set:
    """Names defined by ``cls`` or a base below lamina's Function (so a subclass of a custom
    Function inherits its forward/backward)."""
    names = set()
    for c in cls.__mro__:
        if c is _ag.Function:
            break
        names.update(vars(c))
    return names
