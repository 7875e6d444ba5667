"""lamina.accelerator: ``torch.accelerator``, the device-agnostic way to ask for a GPU.

lamina's one accelerator is CUDA through CuPy. Without it ``is_available()`` is False and
``current_accelerator()`` None, and the calls that need a device raise RuntimeError, as
PyTorch does on a CPU-only machine.

    device = lamina.accelerator.current_accelerator() or lamina.device("cpu")
"""
from __future__ import annotations

from . import backend, cuda

__all__ = ["current_accelerator", "current_device_idx", "current_device_index", "device_count", "device_index",
           "is_available", "set_device_idx", "set_device_index", "synchronize"]


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``lamina.device('cuda')`` when CuPy sees a GPU, else None."""
    return backend.Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def _require() -> None:
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index() -> int:
    _require()
    return cuda.current_device()  # pragma: no cover - needs a GPU


current_device_idx = current_device_index


def set_device_index(device) -> None:
    _require()
    cuda.set_device(device)  # pragma: no cover - needs a GPU


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    _require()
    cuda.synchronize(device)  # pragma: no cover - needs a GPU


class device_index:
    """``with lamina.accelerator.device_index(i):`` makes accelerator ``i`` current (None: no-op)."""

    def __init__(self, device):
        self._ctx = cuda.device(-1 if device is None else device)

    def __enter__(self):
        if self._ctx.idx >= 0:
            _require()
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
