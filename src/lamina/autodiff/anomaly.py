"""Anomaly detection (``torch.autograd.detect_anomaly``): while it is on, every backward checks
each node's gradients and raises at the first node that returns NaN, naming it.

    with lamina.autograd.detect_anomaly():
        loss.backward()      # RuntimeError: Function 'LogBackward' returned nan values in its 0th output.

While enabled, the engine's entry point is wrapped: before a backward pass runs, each node of
the graph gets a checking wrapper around its ``backward``. Off (the default) it costs nothing.
PyTorch also prints the forward traceback of the failing op; lamina names the op only.
"""
from __future__ import annotations

import functools

from .. import autograd as _ag

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_detect_anomaly"]

_engine = _ag.run_backward  # the unwrapped engine
_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled() -> bool:
    return _state["enabled"]


def is_anomaly_check_nan_enabled() -> bool:
    return _state["enabled"] and _state["check_nan"]


def _checked(node, backward):
    def run(*grads):
        res = backward(*grads)
        if _state["enabled"] and _state["check_nan"]:
            for i, g in enumerate(res if isinstance(res, tuple) else (res,)):
                if g is not None and g.xp.isnan(g.array).any():
                    raise RuntimeError(f"Function '{node.name}' returned nan values in its {i}th output.")
        return res
    return run


def _run_backward_checked(outputs, grad_outputs, **kwargs):
    roots = [o._ctx for o in outputs if getattr(o, "_ctx", None) is not None]
    for node in _ag._topological_order(roots):
        d = node.__dict__
        if "_anomaly_checked" not in d and not d.get("_released"):
            d["backward"] = _checked(node, node.backward)  # an instance attribute: release() drops it
            d["_anomaly_checked"] = True
    return _engine(outputs, grad_outputs, **kwargs)


def _set(mode: bool, check_nan: bool) -> None:
    _state["enabled"], _state["check_nan"] = bool(mode), bool(check_nan)
    _ag.run_backward = _run_backward_checked if mode else _engine


class set_detect_anomaly:
    """Turn anomaly detection on or off now; as a context manager, the previous setting comes back
    at the end of the block."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (_state["enabled"], _state["check_nan"])
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False


class detect_anomaly:
    """``with detect_anomaly():`` (or ``@detect_anomaly()``): backward passes inside raise at the first
    node whose gradient holds NaN."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        self.prev = None

    def __enter__(self):
        self.prev = (_state["enabled"], _state["check_nan"])
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper
