"""Binary arithmetic: add, sub, mul, div, pow, maximum/minimum, remainder, where.

Binary ops follow NumPy broadcasting; their backward sums the gradient back to each input's
shape (``sum_to``). Operands are promoted as PyTorch does (``promotion.py``), and ``/`` on
integers gives the default float dtype.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .broadcast import sum_to
from .cast import astype
from .promotion import (_BOOL, _INT64, _check_broadcast, _check_shapes, _float_and_number, _is_number,
                        _operand_arrays, binary_operands, self_xp)


class Add(Function):
    """y = a + b;  da = dy, db = dy (summed over broadcast dims)."""

    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(gy, a.shape) if na else None), (sum_to(gy, b.shape) if nb else None)


class Sub(Function):
    """y = a - b;  da = dy, db = -dy."""

    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(gy, a.shape) if na else None), (sum_to(-gy, b.shape) if nb else None)


class Mul(Function):
    """y = a * b;  da = dy * b, db = dy * a."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(gy * b, a.shape) if na else None), (sum_to(gy * a, b.shape) if nb else None)


class Div(Function):
    """y = a / b;  da = dy / b, db = -dy * a / b**2."""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gy / b
        gb = sum_to(-ga * a / b, b.shape) if nb else None
        return (sum_to(ga, a.shape) if na else None), gb


class PowScalar(Function):
    """y = x ** c (c a constant);  dx = dy * c * x ** (c - 1)  (0 when c == 0)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        c = self.c
        if c == 2:
            return x * x
        return x ** x.dtype.type(c) if x.dtype.kind == "f" else x ** c

    def backward(self, gy):
        (x,) = self.inputs
        c = self.c
        if c == 0:
            return Tensor._wrap(gy.xp.zeros_like(gy.array))
        if c == 1:
            return gy
        if c == 2:
            return gy * x * 2.0
        return gy * (PowScalar(c - 1)(x) * c)


class Pow(Function):
    """y = a ** b;  da = dy * b * a ** (b - 1) (0 where b == 0),
    db = dy * y * log(a) (0 where a == 0 and b >= 0)."""

    keep_outputs = True

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        from .unary import log  # noqa: PLC0415  (unary.py imports this module)

        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):  # the masked-out entries may be inf/nan
            if na:
                ga = sum_to(where(b.array == 0, 0.0, gy * b * pow(a, b - 1.0)), a.shape)
            if nb:
                safe_log = where((a.array == 0) & (b.array >= 0), 0.0, log(a))
                gb = sum_to(gy * self.outputs[0] * safe_log, b.shape)
        return ga, gb


def _tie_weights(a, b, gy, greater: bool) -> Tensor:
    """1 where ``a`` wins, 1/2 where a == b (ties split the gradient, as PyTorch), else 0."""
    wins = (a > b) if greater else (a < b)
    w = wins.astype(gy.dtype)
    w += 0.5 * (a == b)
    return Tensor._wrap(w)


class Maximum(Function):
    """y = max(a, b);  da = dy * ([a > b] + [a == b] / 2),  db = dy - da."""

    def forward(self, a, b):
        return self_xp(a).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        wa = _tie_weights(a.array, b.array, gy, True)
        na, nb = self.needs_input_grad
        return (sum_to(gy * wa, a.shape) if na else None), (sum_to(gy * (1.0 - wa), b.shape) if nb else None)


class Minimum(Function):
    """y = min(a, b);  da = dy * ([a < b] + [a == b] / 2),  db = dy - da."""

    def forward(self, a, b):
        return self_xp(a).minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        wa = _tie_weights(a.array, b.array, gy, False)
        na, nb = self.needs_input_grad
        return (sum_to(gy * wa, a.shape) if na else None), (sum_to(gy * (1.0 - wa), b.shape) if nb else None)


class Remainder(Function):
    """y = a - floor(a / b) * b (sign of b, as Python);  da = dy,  db = -dy * floor(a / b)."""

    def forward(self, a, b):
        return self_xp(a).remainder(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        gb = None
        if nb:
            q = Tensor._wrap(a.xp.floor_divide(a.array, b.array))
            gb = sum_to(-gy * q, b.shape)
        return (sum_to(gy, a.shape) if na else None), gb


class Where(Function):
    """y = cond ? a : b;  da = dy * cond,  db = dy * (1 - cond)."""

    saves_inputs = False

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return self_xp(a).where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        zero = Tensor._wrap(gy.xp.zeros((), dtype=gy.dtype))
        c = self.cond
        ga = sum_to(Where(c)(gy, zero), a.shape) if na else None
        gb = sum_to(Where(c)(zero, gy), b.shape) if nb else None
        return ga, gb


# A float tensor with a plain Python number skips wrapping the number in a tensor (the most common
# case: x * 0.5, x + 1e-5, 1 - x). NumPy keeps the array's dtype for Python scalars, as torch does.
class AddScalar(Function):
    """y = x + c;  dx = dy."""

    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy


class MulScalar(Function):
    """y = x * c;  dx = dy * c."""

    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return MulScalar(self.c)(gy)


class RSubScalar(Function):
    """y = c - x;  dx = -dy."""

    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy


class DivScalar(Function):
    """y = x / c;  dx = dy / c."""

    saves_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return DivScalar(self.c)(gy)


class RDivScalar(Function):
    """y = c / x;  dx = -dy * c / x**2 = -dy * y / x."""

    keep_outputs = True

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c / x

    def backward(self, gy):
        return -gy * self.outputs[0] / self.inputs[0]


def _binary(op_cls, name):
    def op(a, b):
        a, b = binary_operands(a, b)
        if a.array.shape != b.array.shape:
            _check_shapes(name, a.array.shape, b.array.shape)
        return op_cls()(a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = op_cls.__doc__
    return op


_add = _binary(Add, "add")
_sub = _binary(Sub, "sub")
_mul = _binary(Mul, "mul")


def add(a, b):
    """y = a + b (broadcast);  da = dy, db = dy (summed back to each shape)."""
    if _float_and_number(a, b):
        return AddScalar(b)(a)
    if _float_and_number(b, a):
        return AddScalar(a)(b)
    return _add(a, b)


def sub(a, b):
    """y = a - b (broadcast);  da = dy, db = -dy."""
    if _float_and_number(a, b):
        return AddScalar(-b)(a)
    if _float_and_number(b, a):
        return RSubScalar(a)(b)
    return _sub(a, b)


def mul(a, b):
    """y = a * b (broadcast);  da = dy * b, db = dy * a."""
    if _float_and_number(a, b):
        return MulScalar(b)(a)
    if _float_and_number(b, a):
        return MulScalar(a)(b)
    return _mul(a, b)

maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")
remainder = _binary(Remainder, "remainder")


def div(a, b, rounding_mode=None):
    """a / b: true division (integers divide to the default float dtype);
    ``rounding_mode='trunc'`` rounds toward zero, ``'floor'`` down (both have no gradient)."""
    if rounding_mode is None:
        if _float_and_number(a, b):
            return DivScalar(b)(a)
        if _float_and_number(b, a):
            return RDivScalar(a)(b)
    else:
        if rounding_mode == "floor":
            return floordiv(a, b)
        if rounding_mode != "trunc":
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        x, y = _operand_arrays(a, b, "div")
        xp = self_xp(x)
        if x.dtype.kind == "f":
            return Tensor._wrap(xp.trunc(x / y))
        return Tensor._wrap((x - xp.fmod(x, y)) // y)  # exact for integers
    fa, fb = isinstance(a, Tensor), isinstance(b, Tensor)
    if not ((fa and a.array.dtype.kind == "f") or (fb and b.array.dtype.kind == "f")):
        # integer / integer: both become the default float first, so that scalars keep their value
        dt = backend.get_default_dtype()
        a, b = (astype(a, dt) if fa else a), (astype(b, dt) if fb else b)
    a, b = binary_operands(a, b)
    if a.array.shape != b.array.shape:
        _check_shapes("div", a.array.shape, b.array.shape)
    return Div()(a, b)


def floordiv(a, b):
    """floor(a / b); not differentiable (as in PyTorch)."""
    x, y = _operand_arrays(a, b, "floordiv")
    return Tensor._wrap(self_xp(x).floor_divide(x, y))


def pow(base, exponent):
    """base ** exponent, with a tensor or a constant exponent (or a constant base)."""
    if isinstance(base, Tensor) and _is_number(exponent):
        kind = base.array.dtype.kind
        if kind != "f":
            floating = type(exponent) is float or isinstance(exponent, np.floating)
            base = astype(base, backend.get_default_dtype() if floating else _INT64 if kind == "b" else base.dtype)
        return PowScalar(exponent)(base)
    base, exponent = binary_operands(base, exponent)
    _check_broadcast("pow", base, exponent)
    if base.array.dtype.kind != "f":
        return Tensor._wrap(_integer_pow(base.array, exponent.array))
    return Pow()(base, exponent)


def _integer_pow(x, e):
    """x ** e on integers; a negative exponent gives 1 / x ** |e| truncated (0 unless x is 1 or -1)."""
    xp = self_xp(x)
    if x.dtype.kind == "b":
        x, e = x.astype(_INT64), e.astype(_INT64)
    neg = e < 0
    if not neg.any():
        return x ** e
    y = x ** xp.where(neg, 0, e)
    unit = xp.where(x == 1, 1, xp.where(x == -1, 1 - 2 * (e % 2), 0)).astype(y.dtype)
    return xp.where(neg, unit, y)


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (either may be a scalar).

    y = cond ? input : other;  d input = dy * cond,  d other = dy * (1 - cond).
    """
    cond = condition.array if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != _BOOL:
        cond = cond.astype(bool)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(input)  # two scalars: the first sets the dtype like a tensor would
    input, other = binary_operands(input, other)
    si, so = input.array.shape, other.array.shape
    if not (cond.shape == si == so):
        try:
            np.broadcast_shapes(cond.shape, si, so)
        except ValueError:
            raise ValueError(f"where: condition shape {cond.shape}, input shape {si} and other shape {so} "
                             "cannot be broadcast together") from None
    return Where(cond)(input, other)
