"""More creation functions: logspace, scalar_tensor, vander and the signal windows
(hann, hamming, blackman, bartlett, kaiser).

Windows follow ``torch.*_window``: with ``periodic=True`` (the default) a window of length N is
the symmetric window of length N + 1 without its last point (the form an FFT expects).

    hann(n)     = 0.5 - 0.5 cos(2 pi n / (N - 1))
    hamming(n)  = alpha - beta cos(2 pi n / (N - 1))
    blackman(n) = 0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))
    bartlett(n) = 1 - |2 n / (N - 1) - 1|
    kaiser(n)   = I0(beta sqrt(1 - (2 n / (N - 1) - 1)^2)) / I0(beta)

    >>> lamina.hann_window(4)          # tensor([0.0000, 0.5000, 1.0000, 0.5000])
"""
from __future__ import annotations

import operator

import numpy as np

from ..tensor import Tensor
from .. import backend
from .arithmetic import pow as _pow
from .creation import _finish, _float_dtype
from .shape import stack


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` points base**t for t evenly spaced from ``start`` to ``end`` inclusive."""
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError(f"logspace: number of steps must be non-negative, got {steps}")
    dt = _float_dtype(dtype)
    arr = np.power(float(base), np.linspace(float(start), float(end), steps))
    return _finish(arr.astype(dt), device, requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor holding the number ``s`` (the default float dtype unless ``dtype`` is given)."""
    if isinstance(s, Tensor):
        s = s.item()
    return _finish(np.asarray(s, dtype=_float_dtype(dtype)), device, requires_grad)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D x: columns x**(N-1), ..., x, 1 (``increasing``: 1, x, ...);
    dx follows from the powers."""
    if not isinstance(x, Tensor):
        raise TypeError(f"vander: expected a Tensor, got {type(x).__name__}")
    if x.ndim != 1:
        raise RuntimeError(f"vander: x must be a one-dimensional tensor, got shape {x.shape}")
    n = x.shape[0] if N is None else operator.index(N)
    if n < 0:
        raise RuntimeError(f"vander: N must be non-negative, got {n}")
    if x.dtype.kind == "b":
        x = x.long()
    if n == 0:
        return Tensor._wrap(x.xp.zeros((x.shape[0], 0), dtype=x.dtype))
    powers = range(n) if increasing else range(n - 1, -1, -1)
    return stack([_pow(x, k) for k in powers], 1)  # one column per power (N columns)


# ---------------------------------------------------------------- windows
def _window(name: str, length: int, periodic: bool, dtype, device, requires_grad, fn) -> Tensor:
    length = operator.index(length)
    if length < 0:
        raise RuntimeError(f"{name} requires non-negative window length, got window_length={length}")
    dt = _float_dtype(dtype)
    if dt.kind != "f":
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    if length == 0:
        arr = np.zeros(0)
    elif length == 1:
        arr = np.ones(1)
    else:
        m = length + 1 if periodic else length
        n = np.arange(m, dtype=np.float64)
        arr = fn(n, m)[:length]
    return _finish(arr.astype(dt), device, requires_grad)


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, device=None, requires_grad=False):
    """The Hann window: 0.5 - 0.5 cos(2 pi n / (N - 1))."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: 0.5 - 0.5 * np.cos(2 * np.pi * n / (m - 1)))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype=None, device=None, requires_grad=False):
    """The Hamming window: alpha - beta cos(2 pi n / (N - 1))."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: alpha - beta * np.cos(2 * np.pi * n / (m - 1)))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, device=None, requires_grad=False):
    """The Blackman window: 0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: 0.42 - 0.5 * np.cos(2 * np.pi * n / (m - 1)) + 0.08 * np.cos(4 * np.pi * n / (m - 1)))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, device=None, requires_grad=False):
    """The Bartlett (triangular) window: 1 - |2 n / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: 1.0 - np.abs(2.0 * n / (m - 1) - 1.0))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None, device=None,
                  requires_grad=False):
    """The Kaiser window: I0(beta sqrt(1 - (2 n / (N - 1) - 1)^2)) / I0(beta)."""
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, m: np.i0(beta * np.sqrt(np.clip(1.0 - (2.0 * n / (m - 1) - 1.0) ** 2, 0, None)))
                   / np.i0(beta))



# ---------------------------------------------------------------- from other objects
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False) -> Tensor:
    """A tensor from a tensor, NumPy array, buffer or nested sequence, sharing memory when the
    dtype and device allow (``copy=True`` always copies, ``copy=False`` refuses to)."""
    from .creation import as_tensor, tensor

    if copy:
        return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        obj = np.frombuffer(obj, dtype=np.uint8 if dtype is None else backend.as_dtype(dtype))
        dtype = None
    t = as_tensor(obj, dtype=dtype, device=device)
    if copy is False and isinstance(obj, np.ndarray) and not np.shares_memory(t.array, obj):
        raise ValueError("asarray: copy=False but the data can't be shared (a different dtype or device)")
    if requires_grad:
        t.requires_grad_(True)
    return t


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0, requires_grad: bool = False) -> Tensor:
    """A 1-D tensor viewing the bytes of ``buffer`` (bytes, bytearray, memoryview, array.array) as
    ``dtype`` (``count`` items from byte ``offset``; -1: all)."""
    arr = np.frombuffer(buffer, dtype=backend.as_dtype(dtype), count=count, offset=offset)
    return _finish(arr, None, requires_grad)


def fill(x: Tensor, value) -> Tensor:
    """A new tensor of x's shape and dtype filled with ``value`` (``torch.fill``)."""
    if isinstance(value, Tensor):
        value = value.item()
    return Tensor._wrap(x.xp.full(x.shape, value, dtype=x.dtype))


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any object that speaks DLPack (a torch/NumPy/CuPy array, ...)."""
    if isinstance(ext, Tensor):
        return ext
    if hasattr(ext, "__dlpack_device__") and ext.__dlpack_device__()[0] != 1:  # pragma: no cover - GPU objects
        import cupy

        return Tensor._wrap(cupy.from_dlpack(ext))
    return Tensor._wrap(np.from_dlpack(ext))
