"""Elementwise ops: arithmetic, unary math, comparisons and casts (in-place updates: ``inplace.py``).

Binary ops follow NumPy broadcasting; their backward sums the gradient back to each input's
shape (``sum_to``). Dtypes follow PyTorch's promotion: Python scalars and 0-d tensors do not
widen a tensor of the same category (float32 * 2.5 stays float32), a float beats any integer
(int64 + 2.5 is float32), and ``/`` on integers gives the default float dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..backend import promote_types, result_dtype as _result_dtype  # noqa: F401 (re-exported)
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .broadcast import sum_to

_INT64 = np.dtype("int64")
_BOOL = np.dtype("bool")


# ---------------------------------------------------------------- dtype promotion
def result_type(a, b) -> np.dtype:
    """The dtype ``a <op> b`` computes in (``torch.result_type``); either may be a Python scalar."""
    a, b = _as_pair(a, b)
    return _result_dtype(a.array.dtype, b.array.dtype, a.array.ndim == 0, b.array.ndim == 0)


# ---------------------------------------------------------------- operand handling
def as_tensor_like(value, like: Tensor) -> Tensor:
    """Turn a Python scalar or array into a constant tensor that does not upcast ``like``.

    A scalar takes ``like``'s dtype unless its category is higher: a float next to an integer
    tensor becomes the default float dtype, an int next to a bool tensor becomes int64.
    """
    if isinstance(value, Tensor):
        return value
    tv = type(value)
    dt = like.array.dtype
    if tv is float or isinstance(value, np.floating):
        if dt.kind != "f":
            dt = backend.get_default_dtype()
    elif tv is int or isinstance(value, np.integer):
        if dt.kind == "b":
            dt = _INT64
    elif tv is bool or isinstance(value, np.bool_):
        pass
    elif isinstance(value, numbers.Real):  # Fraction, Decimal, ...
        return as_tensor_like(float(value), like)
    else:
        arr = backend.array_module(like.array).asarray(value)
        if arr.dtype.kind == "f" and not hasattr(value, "dtype"):
            arr = arr.astype(backend.get_default_dtype())
        elif arr.dtype.kind in "OUSV":
            raise TypeError(f"unsupported operand type {type(value).__name__} for a tensor operation")
        return Tensor._wrap(arr)
    xp = backend.array_module(like.array)
    if dt.kind in "iu":
        lo, hi = _int_range(dt)
        if not lo <= value <= hi:  # wrap around like C (and PyTorch) instead of raising
            return Tensor._wrap(xp.asarray(np.asarray(int(value) % 2**64, dtype=np.uint64).astype(dt)))
    return Tensor._wrap(xp.asarray(value, dtype=dt))


_INT_RANGES: dict = {}


def _int_range(dt):
    r = _INT_RANGES.get(dt)
    if r is None:
        info = np.iinfo(dt)
        r = _INT_RANGES[dt] = (int(info.min), int(info.max))
    return r


def _as_pair(a, b):
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = as_tensor_like(b, a)
    elif isinstance(b, Tensor):
        a = as_tensor_like(a, b)
    else:
        raise TypeError(f"expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    return a, b


def binary_operands(a, b):
    """Both operands as tensors of one dtype, promoted as PyTorch does (see ``promote_types``)."""
    a, b = _as_pair(a, b)
    da, db = a.array.dtype, b.array.dtype
    if da is not db and da != db:
        dt = _result_dtype(da, db, a.array.ndim == 0, b.array.ndim == 0)
        a, b = astype(a, dt), astype(b, dt)
    return a, b


def _operand_arrays(a, b, op: str):
    """Raw arrays of both operands in their common dtype, for ops with no gradient."""
    a, b = _as_pair(a, b)
    x, y = a.array, b.array
    if x.dtype != y.dtype:
        dt = _result_dtype(x.dtype, y.dtype, x.ndim == 0, y.ndim == 0)
        x, y = x.astype(dt, copy=False), y.astype(dt, copy=False)
    if x.shape != y.shape:
        _check_shapes(op, x.shape, y.shape)
    return x, y


def _check_shapes(op: str, sa: tuple, sb: tuple) -> None:
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}: shapes {sa} and {sb} cannot be broadcast together")


def _check_broadcast(op: str, a: Tensor, b: Tensor) -> None:
    sa, sb = a.array.shape, b.array.shape
    if sa != sb:
        _check_shapes(op, sa, sb)


# ---------------------------------------------------------------- binary arithmetic
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


def _float_and_number(t, c) -> bool:
    tc = type(c)
    return (tc is float or tc is int) and isinstance(t, Tensor) and t.array.dtype.kind == "f"


def self_xp(x):
    return backend.array_module(x)


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


def _is_number(v) -> bool:
    return (type(v) in (int, float) or isinstance(v, (np.integer, np.floating))) and not isinstance(v, bool)


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


# ---------------------------------------------------------------- unary math
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


class Identity(Function):
    """y = copy of x;  dx = dy."""

    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class Cast(Function):
    """y = x converted to ``dtype``;  dx = dy converted back to x's dtype."""

    saves_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return Cast(self.in_dtype)(gy)


class ToDevice(Function):
    """y = x on another device;  dx = dy moved back."""

    saves_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.in_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return ToDevice(self.in_device)(gy)


def _unary(op_cls, name):
    def op(x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
        if x.array.dtype.kind != "f":
            x = astype(x, backend.get_default_dtype())
        return op_cls()(x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = op_cls.__doc__
    return op


exp = _unary(Exp, "exp")
log = _unary(Log, "log")
log1p = _unary(Log1p, "log1p")
expm1 = _unary(Expm1, "expm1")
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")


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


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own memory;  dx = dy."""
    return Identity()(x)


def astype(x: Tensor, dtype) -> Tensor:
    """``x`` converted to ``dtype``; gradients flow back (in x's dtype) between float dtypes."""
    dtype = np.dtype(dtype)
    if x.array.dtype == dtype:
        return x
    if x._requires_grad and dtype.kind == "f":
        return Cast(dtype)(x)
    return Tensor._wrap(x.array.astype(dtype))


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice(backend.Device(device))(x)


def expand_copy(src, like: Tensor) -> Tensor:
    """``src`` broadcast to ``like``'s shape and dtype (the value written by ``copy_``)."""
    from .broadcast import broadcast_to

    src = as_tensor_like(src, like)
    if src.device != like.device:
        src = to_device(src, like.device)
    try:
        shape = np.broadcast_shapes(src.shape, like.shape)
    except ValueError:
        shape = None
    if shape != like.shape:
        raise RuntimeError(f"copy_: the source of shape {src.shape} cannot be broadcast to the "
                           f"destination's shape {like.shape}")
    return broadcast_to(astype(src, like.dtype), like.shape)


# ---------------------------------------------------------------- comparisons and logic (no gradient)
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
