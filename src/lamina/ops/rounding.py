"""Rounding and sign manipulation: round, floor, ceil, trunc/fix, frac, nan_to_num, sgn, signbit,
copysign, heaviside, fmod, fmax/fmin, positive, rsub.

Rounding is piecewise constant, so its gradient is zero (as in PyTorch); integer tensors come
back unchanged (a copy).

    >>> lamina.tensor([0.5, 1.5, 2.5]).round()          # tensor([0., 2., 2.])  (half to even)
    >>> lamina.tensor([1.2345]).round(decimals=2)        # tensor([1.2300])
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .arithmetic import maximum, minimum, mul, sub
from .broadcast import sum_to
from .cast import clone
from .promotion import _check_broadcast, binary_operands, float_operands, self_xp
from .unary import mask_mul, neg, sign


# ---------------------------------------------------------------- rounding (zero gradient)
class Step(Function):
    """y = f(x) for a piecewise-constant f (floor, ceil, trunc, round);  dx = 0."""

    saves_inputs = False

    def __init__(self, fn):
        self.fn = fn

    def forward(self, x):
        return self.fn(x)

    def backward(self, gy):
        return Tensor._wrap(gy.xp.zeros_like(gy.array))


def _step(x: Tensor, name: str, fn) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        return clone(x)
    return Step(fn)(x)


def floor(x: Tensor) -> Tensor:
    """y = largest integer <= x;  dx = 0."""
    return _step(x, "floor", lambda a: self_xp(a).floor(a))


def ceil(x: Tensor) -> Tensor:
    """y = smallest integer >= x;  dx = 0."""
    return _step(x, "ceil", lambda a: self_xp(a).ceil(a))


def trunc(x: Tensor) -> Tensor:
    """y = x rounded toward zero;  dx = 0."""
    return _step(x, "trunc", lambda a: self_xp(a).trunc(a))


fix = trunc


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """y = x rounded to ``decimals`` decimal places, halves to even (0.5 -> 0, 1.5 -> 2);  dx = 0.
    Negative ``decimals`` round to tens, hundreds, ..."""
    if decimals and isinstance(x, Tensor) and x.array.dtype.kind != "f":
        raise NotImplementedError(f"round: decimals={decimals} is not supported for {x.dtype} tensors")
    d = int(decimals)
    return _step(x, "round", lambda a: self_xp(a).round(a, d))


class Frac(Function):
    """y = x - trunc(x) (the sign of x);  dx = dy."""

    saves_inputs = False

    def forward(self, x):
        return x - self_xp(x).trunc(x)

    def backward(self, gy):
        return gy


def frac(x: Tensor) -> Tensor:
    """The fractional part, x - trunc(x): frac(-1.5) = -0.5;  dx = dy."""
    if not isinstance(x, Tensor):
        raise TypeError(f"frac: expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        raise NotImplementedError(f"frac: only floating point tensors are supported, got {x.dtype}")
    return Frac()(x)


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest value), -inf -> ``neginf``
    (default: its lowest);  dx = dy where x is finite, 0 elsewhere."""
    if not isinstance(x, Tensor):
        raise TypeError(f"nan_to_num: expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        return clone(x)
    info = np.finfo(x.array.dtype)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf

    def fill(a):
        return self_xp(a).nan_to_num(a, nan=nan, posinf=hi, neginf=lo)

    finite = x.xp.isfinite(x.array)
    return _PassWhere(fill, finite)(x)


class _PassWhere(Function):
    """y = f(x) where f is the identity on a constant mask m;  dx = dy * m."""

    saves_inputs = False

    def __init__(self, fn, mask):
        self.fn, self.mask = fn, mask

    def forward(self, x):
        return self.fn(x)

    def backward(self, gy):
        return mask_mul(gy, self.mask)


# ---------------------------------------------------------------- signs
def sgn(x: Tensor) -> Tensor:
    """sign(x) for real tensors (PyTorch's complex-aware sign);  dx = 0."""
    return sign(x)


def signbit(x: Tensor) -> Tensor:
    """True where the sign bit is set (x < 0, and -0.0); no gradient."""
    return Tensor._wrap(x.xp.signbit(x.array))


class CopySign(Function):
    """y = |a| with the sign of b;  da = dy * y / a (0 where a == 0),  db = 0."""

    keep_outputs = True

    def forward(self, a, b):
        return self_xp(a).copysign(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            xp = gy.xp
            s = xp.where(a.array == 0, 0, xp.sign(a.array) * xp.sign(self.outputs[0].array)).astype(gy.dtype)
            ga = sum_to(gy * Tensor._wrap(s), a.shape)
        if nb:
            gb = Tensor._wrap(gy.xp.zeros(b.shape, dtype=gy.dtype))
        return ga, gb


def copysign(input, other) -> Tensor:
    """y = |input| with the sign of ``other`` (a tensor or a number; -0.0 counts as negative)."""
    a, b = float_operands(input, other, "copysign")
    return CopySign()(a, b)


def heaviside(input: Tensor, values) -> Tensor:
    """The step function: 0 where input < 0, ``values`` where input == 0, 1 where input > 0
    (no gradient, as in PyTorch). ``input`` and ``values`` must have the same dtype."""
    if not isinstance(input, Tensor) or not isinstance(values, Tensor):
        raise TypeError(f"heaviside: expected two Tensors, got {type(input).__name__} and {type(values).__name__}")
    if input.dtype != values.dtype:
        raise RuntimeError(f"heaviside is not implemented for tensors with different dtypes, got {input.dtype} "
                           f"and {values.dtype}")
    _check_broadcast("heaviside", input, values)
    xp = input.xp
    x, v = input.array, values.array
    return Tensor._wrap(xp.where(x == 0, v, (x > 0).astype(x.dtype)).astype(x.dtype))


def positive(x: Tensor) -> Tensor:
    """x itself (unary plus); bool tensors are refused, as in PyTorch."""
    if x.array.dtype.kind == "b":
        raise RuntimeError("positive: the `+` operator on a bool tensor is not supported")
    return x


negative = neg


def rsub(input, other, alpha=1) -> Tensor:
    """y = other - alpha * input (subtraction with the operands reversed)."""
    return sub(other, input if alpha == 1 else mul(input, alpha))


# ---------------------------------------------------------------- fmod, fmax, fmin
class Fmod(Function):
    """y = a - trunc(a / b) * b (the sign of a, as C's fmod);  da = dy,  db = -dy * trunc(a / b)."""

    def forward(self, a, b):
        return self_xp(a).fmod(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        gb = None
        if nb:
            q = Tensor._wrap(a.xp.trunc(a.array / b.array))
            gb = sum_to(-gy * q, b.shape)
        return (sum_to(gy, a.shape) if na else None), gb


def fmod(input, other) -> Tensor:
    """The remainder of input / other with the sign of ``input`` (``remainder`` takes the divisor's)."""
    a, b = binary_operands(input, other)
    _check_broadcast("fmod", a, b)
    if a.array.dtype.kind != "f":
        if (b.array == 0).any():
            raise RuntimeError("fmod: ZeroDivisionError (integer division by zero)")
        return Tensor._wrap(a.xp.fmod(a.array, b.array))
    return Fmod()(a, b)


class _FMaxMin(Function):
    """y = fmax(a, b) (or fmin): the larger (smaller) value, NaN only when both are NaN;
    da = dy where a wins (ties go to a) or b is NaN,  db = dy elsewhere."""

    def __init__(self, larger: bool):
        self.larger = larger

    def forward(self, a, b):
        xp = self_xp(a)
        return xp.fmax(a, b) if self.larger else xp.fmin(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        xp = gy.xp
        wins = (a.array >= b.array) if self.larger else (a.array <= b.array)
        ma = wins | xp.isnan(b.array)
        ga = sum_to(mask_mul(gy, xp.broadcast_to(ma, gy.shape)), a.shape) if na else None
        gb = sum_to(mask_mul(gy, xp.broadcast_to(~ma, gy.shape)), b.shape) if nb else None
        return ga, gb


def fmax(input, other) -> Tensor:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN); see ``maximum``."""
    return _fmaxmin(input, other, True)


def fmin(input, other) -> Tensor:
    """Elementwise minimum that ignores NaN (NaN only where both are NaN); see ``minimum``."""
    return _fmaxmin(input, other, False)


def _fmaxmin(input, other, larger: bool) -> Tensor:
    a, b = binary_operands(input, other)
    _check_broadcast("fmax" if larger else "fmin", a, b)
    if a.array.dtype.kind != "f":
        return maximum(a, b) if larger else minimum(a, b)
    return _FMaxMin(larger)(a, b)

