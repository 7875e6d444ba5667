"""Unary math: exp/log, sqrt, abs/sign, sin/cos, tanh, sigmoid, relu, clamp.

Each op is a Function whose docstring gives y and dx; integer inputs of the float-valued
functions become the default float dtype first (as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .arithmetic import PowScalar, div, where
from .cast import astype
from .compare import gt, lt
from .promotion import _INT64, self_xp


class Neg(Function):
    """y = -x;  dx = -dy."""

    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    """y = exp(x);  dx = dy * y."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]


class Log(Function):
    """y = log(x);  dx = dy / x."""

    def forward(self, x):
        return self_xp(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Log1p(Function):
    """y = log(1 + x);  dx = dy / (1 + x)."""

    def forward(self, x):
        return self_xp(x).log1p(x)

    def backward(self, gy):
        return gy / (self.inputs[0] + 1.0)


class Expm1(Function):
    """y = exp(x) - 1;  dx = dy * (y + 1)."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).expm1(x)

    def backward(self, gy):
        return gy * (self.outputs[0] + 1.0)


class Sqrt(Function):
    """y = sqrt(x);  dx = dy / (2 y)."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).sqrt(x)

    def backward(self, gy):
        return gy / (self.outputs[0] * 2.0)


class Rsqrt(Function):
    """y = 1 / sqrt(x);  dx = -dy * y**3 / 2."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        xp = self_xp(x)
        return xp.reciprocal(xp.sqrt(x))

    def backward(self, gy):
        y = self.outputs[0]
        return gy * y * y * y * -0.5


class Abs(Function):
    """y = |x|;  dx = dy * sign(x)."""

    def forward(self, x):
        return self_xp(x).abs(x)

    def backward(self, gy):
        return gy * sign(self.inputs[0])


class Sign(Function):
    """y = sign(x) in {-1, 0, 1};  dx = 0 (piecewise constant)."""

    saves_inputs = False

    def forward(self, x):
        return self_xp(x).sign(x)

    def backward(self, gy):
        return Tensor._wrap(gy.xp.zeros_like(gy.array))


class Sin(Function):
    """y = sin(x);  dx = dy * cos(x)."""

    def forward(self, x):
        return self_xp(x).sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    """y = cos(x);  dx = -dy * sin(x)."""

    def forward(self, x):
        return self_xp(x).cos(x)

    def backward(self, gy):
        return gy * -sin(self.inputs[0])


class Tanh(Function):
    """y = tanh(x);  dx = dy * (1 - y**2)."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).tanh(x)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * (1.0 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dx = dy * y * (1 - y)."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        xp = self_xp(x)
        # exp(-|x|) never overflows: sigmoid(x) = r for x >= 0, e * r for x < 0, r = 1 / (1 + e)
        e = xp.exp(-xp.abs(x))
        r = xp.reciprocal(e + 1.0)
        return xp.where(x >= 0, r, e * r)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * (y * (1.0 - y))


class ReLU(Function):
    """y = max(x, 0);  dx = dy * [y > 0]."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).maximum(x, 0)

    def backward(self, gy):
        return mask_mul(gy, self.outputs[0].array > 0)


class MaskMul(Function):
    """y = x * m for a constant 0/1 mask m;  dx = dy * m."""

    saves_inputs = False

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return MaskMul(self.mask)(gy)


def mask_mul(x: Tensor, mask) -> Tensor:
    """Multiply by a constant boolean (or 0/1) array mask, with a differentiable backward."""
    return MaskMul(mask)(x)


class Clamp(Function):
    """y = min(max(x, lo), hi) for constant bounds;  dx = dy * [lo <= x <= hi]."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        xp = self_xp(x)
        if self.hi is None:
            return xp.maximum(x, self.lo)
        if self.lo is None:
            return xp.minimum(x, self.hi)
        return xp.minimum(xp.maximum(x, self.lo), self.hi)

    def backward(self, gy):
        x = self.inputs[0].array
        if self.hi is None:
            m = x >= self.lo
        elif self.lo is None:
            m = x <= self.hi
        else:
            m = (x >= self.lo) & (x <= self.hi)
        return mask_mul(gy, m)


def float_unary(op_cls, name):
    """The public function of a float-valued unary Function: integer and bool inputs become the
    default float dtype first (``lamina.sin(int_tensor)`` is float32, as in PyTorch)."""

    def op(x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
        if x.array.dtype.kind != "f":
            x = astype(x, backend.get_default_dtype())
        return op_cls()(x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = op_cls.__doc__
    return op


exp = float_unary(Exp, "exp")
log = float_unary(Log, "log")
log1p = float_unary(Log1p, "log1p")
expm1 = float_unary(Expm1, "expm1")
sqrt = float_unary(Sqrt, "sqrt")
rsqrt = float_unary(Rsqrt, "rsqrt")
sin = float_unary(Sin, "sin")
cos = float_unary(Cos, "cos")
tanh = float_unary(Tanh, "tanh")
sigmoid = float_unary(Sigmoid, "sigmoid")


def neg(x: Tensor) -> Tensor:
    """y = -x;  dx = -dy (bool tensors have no negation, as in PyTorch)."""
    if x.array.dtype.kind == "b":
        raise TypeError("neg: negation of a bool tensor is not supported; use ~x or logical_not(x)")
    return Neg()(x)


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0);  dx = dy * [x > 0]."""
    return ReLU()(x)


def abs(x: Tensor) -> Tensor:
    """y = |x|;  dx = dy * sign(x) (0 at x = 0)."""
    return Abs()(x)


def sign(x: Tensor) -> Tensor:
    """sign(x) in {-1, 0, 1}; its gradient is zero."""
    if x.array.dtype.kind == "b":
        return Tensor._wrap(x.array.copy())
    return Sign()(x)


def square(x: Tensor) -> Tensor:
    """y = x * x;  dx = 2 x dy."""
    if x.array.dtype.kind == "b":
        x = astype(x, _INT64)
    return PowScalar(2)(x)


def reciprocal(x: Tensor) -> Tensor:
    """y = 1 / x;  dx = -dy / x**2."""
    return div(1.0, x)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """Clip to [min, max]; each bound may be None, a scalar or a tensor (broadcast).

    y = min(max(x, lo), hi);  dx = dy * [lo <= x <= hi];  d lo = dy * [x < lo];  d hi = dy * [x > hi]
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = where(lt(out, min), min, out)
        if max is not None:
            out = where(gt(out, max), max, out)
        return out
    if x.array.dtype.kind != "f" and any(type(v) is float or isinstance(v, np.floating) for v in (min, max)):
        x = astype(x, backend.get_default_dtype())
    return Clamp(min, max)(x)


def clamp_min(x: Tensor, min) -> Tensor:
    """y = max(x, min);  dx = dy * [x >= min]."""
    return clamp(x, min, None)


def clamp_max(x: Tensor, max) -> Tensor:
    """y = min(x, max);  dx = dy * [x <= max]."""
    return clamp(x, None, max)
