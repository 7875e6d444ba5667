"""Floating-point anatomy: frexp, ldexp, nextafter.

    x = mantissa * 2**exponent, 0.5 <= |mantissa| < 1     (frexp; no gradient)
    ldexp(x, e) = x * 2**e                                 dx = dy * 2**e,  de = dy * y * ln 2
    nextafter(x, y) = the next representable value after x towards y (no gradient)

    >>> lamina.frexp(lamina.tensor([8.0]))          # (tensor([0.5000]), tensor([4], dtype=lamina.int32))
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..tensor import Tensor
from .arithmetic import mul, pow
from .cast import astype
from .promotion import _operand_arrays, as_float

Frexp = namedtuple("frexp", ["mantissa", "exponent"])


def frexp(x: Tensor):
    """(mantissa, exponent) with x = mantissa * 2**exponent and 0.5 <= |mantissa| < 1 (int32 exponent)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"frexp: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes, got {x.dtype}")
    m, e = x.xp.frexp(x.array)
    return Frexp(Tensor._wrap(m), Tensor._wrap(e.astype(np.int32)))


def ldexp(x: Tensor, other) -> Tensor:
    """y = x * 2**other (a float result, as PyTorch's mul(x, pow(2, other)))."""
    x = as_float(x, "ldexp")
    if isinstance(other, Tensor):
        e = astype(other, x.dtype) if other.dtype.kind != "f" else other
        two = Tensor._wrap(x.xp.asarray(2.0, dtype=e.dtype))
        return mul(x, pow(two, e))
    return mul(x, 2.0 ** other)


def nextafter(input, other) -> Tensor:
    """The next floating-point value after input in the direction of other (elementwise)."""
    a, b = _operand_arrays(input, other, "nextafter")
    if a.dtype.kind != "f":
        raise RuntimeError(f"nextafter: expected floating point tensors, got {a.dtype}")
    return Tensor._wrap(backend.array_module(a).nextafter(a, b))
