"""The base of every transform: ``Transform`` (``__call__``, ``state_dict``), ``Compose`` and ``Lambda``.

A transform is any callable; subclass :class:`Transform` to get a ``repr`` and empty
``state_dict``/``load_state_dict`` for free (those with fitted statistics override them).
"""
from __future__ import annotations

__all__ = ["Compose", "Lambda", "Transform"]


class Transform:
    """Base class: ``__call__(x)``; ``state_dict()`` holds what ``fit`` learned (if anything)."""

    def __call__(self, x):
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply ``transforms`` in order: ``Compose([f, g])(x) = g(f(x))``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def state_dict(self) -> dict:
        return {str(i): t.state_dict() for i, t in enumerate(self.transforms) if hasattr(t, "state_dict")}

    def load_state_dict(self, state: dict) -> None:
        for i, t in enumerate(self.transforms):
            if str(i) in state:
                t.load_state_dict(state[str(i)])

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Lambda(Transform):
    """Wrap a function as a transform: ``Lambda(lambda x: x * 2)``."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: argument should be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", "")
