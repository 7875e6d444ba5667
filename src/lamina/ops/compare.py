"""Comparisons, logic and bitwise ops (no gradient): lt/le/gt/ge/eq/ne, logical_*, bitwise_*, isnan.

Operands are promoted to one dtype first (``promotion.py``); the results are bool tensors
(bitwise ops keep the integer dtype).
"""
from __future__ import annotations

from ..tensor import Tensor
from .promotion import _operand_arrays, self_xp


def _compare(ufunc_name, name=None):
    name = name or ufunc_name

    def op(a, b):
        x, y = _operand_arrays(a, b, name)
        return Tensor._wrap(getattr(self_xp(x), ufunc_name)(x, y))

    op.__name__ = op.__qualname__ = name
    return op


lt = _compare("less", "lt")
le = _compare("less_equal", "le")
gt = _compare("greater", "gt")
ge = _compare("greater_equal", "ge")
eq = _compare("equal", "eq")
ne = _compare("not_equal", "ne")
logical_and = _compare("logical_and")
logical_or = _compare("logical_or")
logical_xor = _compare("logical_xor")


def _bitwise(ufunc_name):
    def op(a, b):
        x, y = _operand_arrays(a, b, ufunc_name)
        if x.dtype.kind not in "biu":
            raise TypeError(f"{ufunc_name}: only integer and bool tensors are supported, got {x.dtype}")
        return Tensor._wrap(getattr(self_xp(x), ufunc_name)(x, y))

    op.__name__ = op.__qualname__ = ufunc_name
    return op


bitwise_and = _bitwise("bitwise_and")
bitwise_or = _bitwise("bitwise_or")
bitwise_xor = _bitwise("bitwise_xor")


def bitwise_not(x: Tensor) -> Tensor:
    """~x: logical not of a bool tensor, bitwise not of an integer tensor."""
    if x.array.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not (~) is only implemented on integer and bool tensors, got {x.dtype}")
    return Tensor._wrap(x.xp.invert(x.array))


def logical_not(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.logical_not(x.array))


def isnan(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.isnan(x.array))


def isinf(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.isinf(x.array))


def isfinite(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.isfinite(x.array))


def _integer_op(ufunc_name, name):
    def op(a, b):
        x, y = _operand_arrays(a, b, name)
        if x.dtype.kind not in "biu":
            raise NotImplementedError(f"{name}: only integer tensors are supported, got {x.dtype}")
        return Tensor._wrap(getattr(self_xp(x), ufunc_name)(x, y))

    op.__name__ = op.__qualname__ = name
    return op


bitwise_left_shift = _integer_op("left_shift", "bitwise_left_shift")  # a << b  ==  a * 2**b
bitwise_right_shift = _integer_op("right_shift", "bitwise_right_shift")  # a >> b  ==  floor(a / 2**b)
gcd = _integer_op("gcd", "gcd")  # greatest common divisor (gcd(0, 0) = 0)
lcm = _integer_op("lcm", "lcm")  # least common multiple, non-negative


def isposinf(x: Tensor) -> Tensor:
    """True where x is +inf."""
    return Tensor._wrap(x.xp.isposinf(x.array) if x.array.dtype.kind == "f" else x.xp.zeros(x.shape, bool))


def isneginf(x: Tensor) -> Tensor:
    """True where x is -inf."""
    return Tensor._wrap(x.xp.isneginf(x.array) if x.array.dtype.kind == "f" else x.xp.zeros(x.shape, bool))


def isreal(x: Tensor) -> Tensor:
    """True everywhere for real dtypes (complex tensors: where the imaginary part is 0)."""
    return Tensor._wrap(x.xp.isreal(x.array))


def is_nonzero(x: Tensor) -> bool:
    """The truth value of a one-element tensor (more or fewer elements are ambiguous: an error)."""
    n = x.array.size
    if n != 1:
        what = "no values" if n == 0 else "more than one value"
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with {what} is ambiguous (shape {x.shape})")
    return bool(x.array.reshape(()).item() != 0)


def is_same_size(x: Tensor, other: Tensor) -> bool:
    return tuple(x.shape) == tuple(other.shape)


def is_signed(x: Tensor) -> bool:
    """True for dtypes that hold negative values (floats and signed integers)."""
    return x.array.dtype.kind in "fic"


def isclose(input: Tensor, other, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (NaNs equal only with ``equal_nan``)."""
    x, y = _operand_arrays(input, other, "isclose")
    return Tensor._wrap(self_xp(x).isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))


def is_floating_point(x: Tensor) -> bool:
    return x.array.dtype.kind == "f"


def is_complex(x: Tensor) -> bool:
    return x.array.dtype.kind == "c"
