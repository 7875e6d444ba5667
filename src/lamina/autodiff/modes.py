"""``inference_mode`` and the legacy ``Variable`` (``torch.autograd`` names on top of grad mode)."""
from __future__ import annotations

import functools

from .. import autograd as _ag
from ..tensor import Tensor

__all__ = ["Variable", "inference_mode", "is_inference_mode_enabled"]

_inference = {"depth": 0}


def is_inference_mode_enabled() -> bool:
    return _inference["depth"] > 0


class inference_mode:
    """``with lamina.inference_mode():`` — as ``no_grad`` (lamina has no separate inference tensors).

    ``inference_mode(False)`` leaves grad mode as it is. Works as a decorator, with or without
    parentheses (``@lamina.inference_mode``).
    """

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # bare decorator: @inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _ag.is_grad_enabled()
        if self.mode:
            _ag._set_enabled(False)
            _inference["depth"] += 1
        return self

    def __exit__(self, *exc):
        if self.mode:
            _inference["depth"] -= 1
        _ag._set_enabled(self.prev)
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self) -> "inference_mode":
        return inference_mode(self.mode)


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Legacy ``Variable(tensor, requires_grad=False)``: returns the tensor itself (PyTorch merged
    Variable into Tensor in 0.4); ``isinstance(t, Variable)`` is true for every Tensor."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        t = data if isinstance(data, Tensor) else Tensor(data)
        if requires_grad:
            t.requires_grad_(True)
        return t
