"""Trigonometric and hyperbolic functions, their inverses, atan2, hypot, sinc, degrees <-> radians.

Each Function states y and dx; integer inputs become the default float dtype first.

    >>> lamina.atan2(lamina.tensor([1.0]), lamina.tensor([-1.0]))   # tensor([2.3562])
"""
from __future__ import annotations

import math

from ..autograd import Function
from ..tensor import Tensor
from .arithmetic import mul, where
from .broadcast import sum_to
from .promotion import as_float, float_operands, self_xp
from .unary import cos, float_unary, sqrt


# ---------------------------------------------------------------- circular
class Tan(Function):
    """y = tan(x);  dx = dy * (1 + y**2)."""

    saves_inputs = False
    keep_outputs = True

    def forward(self, x):
        return self_xp(x).tan(x)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * (y * y + 1.0)


class Asin(Function):
    """y = asin(x);  dx = dy / sqrt(1 - x**2)."""

    def forward(self, x):
        return self_xp(x).arcsin(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / sqrt(1.0 - x * x)


class Acos(Function):
    """y = acos(x);  dx = -dy / sqrt(1 - x**2)."""

    def forward(self, x):
        return self_xp(x).arccos(x)

    def backward(self, gy):
        x = self.inputs[0]
        return -gy / sqrt(1.0 - x * x)


class Atan(Function):
    """y = atan(x);  dx = dy / (1 + x**2)."""

    def forward(self, x):
        return self_xp(x).arctan(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / (x * x + 1.0)


# ---------------------------------------------------------------- hyperbolic
class Sinh(Function):
    """y = sinh(x);  dx = dy * cosh(x)."""

    def forward(self, x):
        return self_xp(x).sinh(x)

    def backward(self, gy):
        return gy * cosh(self.inputs[0])


class Cosh(Function):
    """y = cosh(x);  dx = dy * sinh(x)."""

    def forward(self, x):
        return self_xp(x).cosh(x)

    def backward(self, gy):
        return gy * sinh(self.inputs[0])


class Asinh(Function):
    """y = asinh(x);  dx = dy / sqrt(x**2 + 1)."""

    def forward(self, x):
        return self_xp(x).arcsinh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / sqrt(x * x + 1.0)


class Acosh(Function):
    """y = acosh(x) (x >= 1);  dx = dy / sqrt((x - 1)(x + 1))."""

    def forward(self, x):
        return self_xp(x).arccosh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / sqrt((x - 1.0) * (x + 1.0))


class Atanh(Function):
    """y = atanh(x) (|x| < 1);  dx = dy / (1 - x**2)."""

    def forward(self, x):
        return self_xp(x).arctanh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / (1.0 - x * x)


tan = float_unary(Tan, "tan")
asin = arcsin = float_unary(Asin, "asin")
acos = arccos = float_unary(Acos, "acos")
atan = arctan = float_unary(Atan, "atan")
sinh = float_unary(Sinh, "sinh")
cosh = float_unary(Cosh, "cosh")
asinh = arcsinh = float_unary(Asinh, "asinh")
acosh = arccosh = float_unary(Acosh, "acosh")
atanh = arctanh = float_unary(Atanh, "atanh")


# ---------------------------------------------------------------- two arguments
class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a);
    da = dy * b / (a**2 + b**2),  db = -dy * a / (a**2 + b**2)."""

    def forward(self, a, b):
        return self_xp(a).arctan2(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        r = gy / (a * a + b * b)
        return (sum_to(r * b, a.shape) if na else None), (sum_to(-r * a, b.shape) if nb else None)


class Hypot(Function):
    """y = sqrt(a**2 + b**2);  da = dy * a / y,  db = dy * b / y."""

    keep_outputs = True

    def forward(self, a, b):
        return self_xp(a).hypot(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        r = gy / self.outputs[0]
        return (sum_to(r * a, a.shape) if na else None), (sum_to(r * b, b.shape) if nb else None)


def atan2(input, other) -> Tensor:
    """Elementwise angle of (other, input) in (-pi, pi] (broadcast);  see ``Atan2``."""
    a, b = float_operands(input, other, "atan2")
    return Atan2()(a, b)


arctan2 = atan2


def hypot(input, other) -> Tensor:
    """y = sqrt(input**2 + other**2) without overflow (broadcast);  see ``Hypot``."""
    a, b = float_operands(input, other, "hypot")
    return Hypot()(a, b)


# ---------------------------------------------------------------- sinc, angle units
class Sinc(Function):
    """y = sin(pi x) / (pi x) (1 at x = 0);
    dx = dy * (cos(pi x) - y) / x  (0 at x = 0)."""

    keep_outputs = True

    def forward(self, x):
        return self_xp(x).sinc(x)

    def backward(self, gy):
        x = self.inputs[0]
        zero = x.array == 0
        safe_x = where(zero, 1.0, x)
        d = (cos(safe_x * math.pi) - self.outputs[0]) / safe_x
        return gy * where(zero, 0.0, d)


sinc = float_unary(Sinc, "sinc")


def deg2rad(x: Tensor) -> Tensor:
    """y = x * pi / 180;  dx = dy * pi / 180."""
    return mul(as_float(x, "deg2rad"), math.pi / 180.0)


def rad2deg(x: Tensor) -> Tensor:
    """y = x * 180 / pi;  dx = dy * 180 / pi."""
    return mul(as_float(x, "rad2deg"), 180.0 / math.pi)
