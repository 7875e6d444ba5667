"""NumPy's argument names, which PyTorch's argument parser also accepts for reductions:
``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=`` (``x.sum(axis=1, keepdims=True)``)."""
from __future__ import annotations

import functools


def numpy_names(fn):
    """Let ``fn`` (which takes ``dim`` / ``keepdim``) also be called with ``axis`` / ``keepdims``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs or "keepdims" in kwargs:
            for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {name}= and its alias {alias}=")
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    return wrapper
