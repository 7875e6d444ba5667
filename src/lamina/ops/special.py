"""Special functions: erf (the error function, used by the exact GELU).

    erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt;   d erf(x)/dx = 2/sqrt(pi) * exp(-x^2)

On the CPU erf runs as a compiled NumPy ufunc (Numba ``@vectorize`` around ``math.erf``,
compiled once and cached on disk); on the GPU it uses ``cupyx.scipy.special.erf``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_KERNELS: dict = {}


def _erf_ufunc():
    """The Numba ufunc, built on first use (importing Numba costs time lamina should not pay upfront)."""
    fn = _KERNELS.get("erf")
    if fn is None:
        from numba import vectorize

        @vectorize(["float32(float32)", "float64(float64)"], cache=True)
        def _erf(x):  # pragma: no cover - compiled
            return math.erf(x)

        fn = _KERNELS["erf"] = _erf
    return fn


def erf_array(x):
    """erf of a float32/float64 xp array (same dtype back)."""
    xp = backend.array_module(x)
    if xp is not np:  # pragma: no cover - needs CuPy and a GPU
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x)
    if x.dtype not in (np.float32, np.float64):
        return _erf_ufunc()(x.astype(np.float32)).astype(x.dtype)
    return _erf_ufunc()(x)


class Erf(Function):
    """y = erf(x);  dx = dy * 2/sqrt(pi) * exp(-x^2)."""

    def forward(self, x):
        return erf_array(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy * ((x * x).neg().exp() * _TWO_OVER_SQRT_PI)


def erf(x: Tensor) -> Tensor:
    """The error function, elementwise (integer inputs become the default float dtype)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"erf: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        x = x.to(backend.get_default_dtype())
    return Erf()(x)
