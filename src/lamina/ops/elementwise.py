"""Elementwise ops: arithmetic, unary math, comparisons, casts and in-place updates.

Binary ops follow NumPy broadcasting; their backward sums the gradient back to each input's
shape (``sum_to``). Python scalars take the tensor's dtype (they do not upcast float32).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .broadcast import sum_to


# ---------------------------------------------------------------- operand handling
def as_tensor_like(value, like: Tensor) -> Tensor:
    """Turn a Python scalar or array into a constant tensor that does not upcast ``like``."""
    if isinstance(value, Tensor):
        return value
    xp = like.xp
    if isinstance(value, (bool, np.bool_)):
        dt = like.dtype if like.dtype.kind != "b" else np.dtype(bool)
        return Tensor._wrap(xp.asarray(value, dtype=dt))
    if isinstance(value, numbers.Integral):
        dt = like.dtype if like.dtype.kind in "iuf" else np.dtype("int64")
        return Tensor._wrap(xp.asarray(value, dtype=dt))
    if isinstance(value, numbers.Real):
        dt = like.dtype if like.dtype.kind == "f" else backend.get_default_dtype()
        return Tensor._wrap(xp.asarray(value, dtype=dt))
    arr = xp.asarray(value)
    if arr.dtype.kind == "f" and not hasattr(value, "dtype"):
        arr = arr.astype(backend.get_default_dtype())
    return Tensor._wrap(arr)


def binary_operands(a, b):
    """Both operands as tensors of one dtype (PyTorch's promotion: a float beats an int)."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
        a = as_tensor_like(a, b)
    elif not isinstance(b, Tensor):
        b = as_tensor_like(b, a)
    if a.data.dtype != b.data.dtype:
        ka, kb = a.data.dtype.kind, b.data.dtype.kind
        if ka == "f" and kb != "f":
            b = astype(b, a.dtype)
        elif kb == "f" and ka != "f":
            a = astype(a, b.dtype)
        else:
            dt = np.promote_types(a.dtype, b.dtype)
            a, b = astype(a, dt), astype(b, dt)
    return a, b


def _check_broadcast(op: str, a: Tensor, b: Tensor) -> None:
    sa, sb = a.data.shape, b.data.shape
    if sa == sb:
        return
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}: shapes {sa} and {sb} cannot be broadcast together")


# ---------------------------------------------------------------- binary arithmetic
class Add(Function):
    """y = a + b;  da = dy, db = dy (summed over broadcast dims)."""

    saves_inputs = False

    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        return a + b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        return (sum_to(gy, self.sa) if na else None), (sum_to(gy, self.sb) if nb else None)


class Sub(Function):
    """y = a - b;  da = dy, db = -dy."""

    saves_inputs = False

    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        return a - b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        return (sum_to(gy, self.sa) if na else None), (sum_to(-gy, self.sb) if nb else None)


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
    """y = x ** c (c a constant);  dx = dy * c * x ** (c - 1)."""

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
            return gy * 0.0
        if c == 1:
            return gy
        if c == 2:
            return gy * x * 2.0
        return gy * c * pow(x, c - 1)


class Pow(Function):
    """y = a ** b;  da = dy * b * a ** (b - 1),  db = dy * y * log(a) (0 where a == 0 and b >= 0)."""

    keep_outputs = True

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(gy * b * pow(a, b - 1.0), a.shape) if na else None
        gb = None
        if nb:
            (y,) = self.outputs
            safe_log = where(logical_and(eq(a, 0), ge(b, 0)), 0.0, log(a))
            gb = sum_to(gy * y * safe_log, b.shape)
        return ga, gb


class Maximum(Function):
    """y = max(a, b);  da = dy * ([a > b] + [a == b] / 2),  db likewise (ties split the gradient)."""

    def forward(self, a, b):
        return self_xp(a).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        xp = a.xp
        wa = (a.data > b.data).astype(gy.dtype) + 0.5 * (a.data == b.data).astype(gy.dtype)
        wa = Tensor._wrap(wa.astype(gy.dtype, copy=False))
        na, nb = self.needs_input_grad
        return (sum_to(gy * wa, a.shape) if na else None), (sum_to(gy * (1.0 - wa), b.shape) if nb else None)


class Minimum(Function):
    """y = min(a, b);  da = dy * ([a < b] + [a == b] / 2),  db likewise."""

    def forward(self, a, b):
        return self_xp(a).minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        wa = (a.data < b.data).astype(gy.dtype) + 0.5 * (a.data == b.data).astype(gy.dtype)
        wa = Tensor._wrap(wa.astype(gy.dtype, copy=False))
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
            q = Tensor._wrap(a.xp.floor(a.data / b.data))
            gb = sum_to(-gy * q, b.shape)
        return (sum_to(gy, a.shape) if na else None), gb


class Where(Function):
    """y = cond ? a : b;  da = dy * cond,  db = dy * (1 - cond)."""

    saves_inputs = False

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        return self_xp(a).where(self.cond, a, b)

    def backward(self, gy):
        na, nb = self.needs_input_grad
        zero = Tensor._wrap(gy.xp.zeros((), dtype=gy.dtype))
        c = self.cond
        ga = sum_to(Where(c)(gy, zero), self.sa) if na else None
        gb = sum_to(Where(c)(zero, gy), self.sb) if nb else None
        return ga, gb


def self_xp(x):
    return backend.array_module(x)


def _binary(op_cls, name):
    def op(a, b):
        a, b = binary_operands(a, b)
        if a.data.shape != b.data.shape:
            _check_broadcast(name, a, b)
        return op_cls()(a, b)

    op.__name__ = name
    return op


add = _binary(Add, "add")
sub = _binary(Sub, "sub")
mul = _binary(Mul, "mul")
maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")
remainder = _binary(Remainder, "remainder")


def div(a, b, rounding_mode=None):
    """a / b (true division; integers divide to the default float dtype)."""
    if rounding_mode == "floor":
        return floordiv(a, b)
    if rounding_mode == "trunc":
        q = div(a, b)
        return Tensor._wrap(q.xp.trunc(q.data).astype(binary_operands(a, b)[0].dtype))
    a, b = binary_operands(a, b)
    if a.data.dtype.kind != "f":
        a, b = astype(a, backend.get_default_dtype()), astype(b, backend.get_default_dtype())
    if a.data.shape != b.data.shape:
        _check_broadcast("div", a, b)
    return Div()(a, b)


def floordiv(a, b):
    """floor(a / b); not differentiable (as in PyTorch)."""
    a, b = binary_operands(a, b)
    _check_broadcast("floordiv", a, b)
    return Tensor._wrap(a.xp.floor_divide(a.data, b.data))


def pow(base, exponent):
    """base ** exponent, with a tensor or a constant exponent (or a constant base)."""
    if isinstance(base, Tensor) and isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
        return PowScalar(exponent)(base)
    base, exponent = binary_operands(base, exponent)
    if base.data.dtype.kind != "f" and exponent.data.dtype.kind != "f":
        return Tensor._wrap(base.data ** exponent.data)
    _check_broadcast("pow", base, exponent)
    return Pow()(base, exponent)


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (either may be a scalar)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    input, other = binary_operands(input, other)
    np.broadcast_shapes(cond.shape, input.shape, other.shape)  # raises on a mismatch
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
        return 1.0 / self_xp(x).sqrt(x)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * y * y * y * -0.5


class Abs(Function):
    """y = |x|;  dx = dy * sign(x)."""

    def forward(self, x):
        return self_xp(x).abs(x)

    def backward(self, gy):
        return gy * sign(self.inputs[0])


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
        return -gy * sin(self.inputs[0])


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
        # exp(-|x|) never overflows: sigmoid(x) = 1/(1+e) for x>=0, e/(1+e) for x<0
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)

    def backward(self, gy):
        y = self.outputs[0]
        return gy * y * (1.0 - y)


class ReLU(Function):
    """y = max(x, 0);  dx = dy * [x > 0]."""

    saves_inputs = False

    def forward(self, x):
        y = self_xp(x).maximum(x, 0)
        self.mask = y > 0
        return y

    def backward(self, gy):
        return mask_mul(gy, self.mask)


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
    """y = min(max(x, lo), hi);  dx = dy * [lo <= x <= hi]."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return self_xp(x).clip(x, self.lo, self.hi).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0].data
        m = np.bool_(True)
        if self.lo is not None:
            m = x >= self.lo
        if self.hi is not None:
            m = m & (x <= self.hi)
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
        if x.data.dtype.kind != "f":
            x = astype(x, backend.get_default_dtype())
        return op_cls()(x)

    op.__name__ = name
    op.__doc__ = op_cls.__doc__
    return op


neg = lambda x: Neg()(x)  # noqa: E731
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


def relu(x: Tensor) -> Tensor:
    return ReLU()(x)


def abs(x: Tensor) -> Tensor:
    return Abs()(x)


def sign(x: Tensor) -> Tensor:
    """sign(x) in {-1, 0, 1}; its gradient is zero."""
    return Tensor._wrap(x.xp.sign(x.data))


def square(x: Tensor) -> Tensor:
    return PowScalar(2)(x)


def reciprocal(x: Tensor) -> Tensor:
    return div(1.0, x)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """Clip to [min, max]; bounds may be scalars or tensors."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp(min, max)(x)


def clone(x: Tensor) -> Tensor:
    return Identity()(x)


def astype(x: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if x.data.dtype == dtype:
        return x
    if x._requires_grad and dtype.kind == "f":
        return Cast(dtype)(x)
    return Tensor._wrap(x.data.astype(dtype))


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice(backend.Device(device))(x)


def expand_copy(src, like: Tensor) -> Tensor:
    """``src`` broadcast to ``like``'s shape and dtype (the value written by ``copy_``)."""
    from .broadcast import broadcast_to

    src = as_tensor_like(src, like)
    if src.device != like.device:
        src = to_device(src, like.device)
    return broadcast_to(astype(src, like.dtype), like.shape)


# ---------------------------------------------------------------- comparisons (no gradient)
def _compare(ufunc_name):
    def op(a, b):
        a, b = binary_operands(a, b)
        _check_broadcast(ufunc_name, a, b)
        return Tensor._wrap(getattr(a.xp, ufunc_name)(a.data, b.data))

    op.__name__ = ufunc_name
    return op


lt = _compare("less")
le = _compare("less_equal")
gt = _compare("greater")
ge = _compare("greater_equal")
eq = _compare("equal")
ne = _compare("not_equal")
logical_and = _compare("logical_and")
logical_or = _compare("logical_or")
logical_xor = _compare("logical_xor")


def logical_not(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.logical_not(x.data))


def isnan(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.isnan(x.data))


def isinf(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.isinf(x.data))


def isfinite(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.isfinite(x.data))


# ---------------------------------------------------------------- in-place updates
def _check_inplace(t: Tensor, what: str) -> None:
    if t._requires_grad and t._ctx is None and is_grad_enabled():
        raise RuntimeError(
            f"a leaf tensor that requires grad (shape {t.shape}) is being used in an in-place operation "
            f"({what}); wrap the update in `with lamina.no_grad():` or use an out-of-place op")


def inplace(t: Tensor, fn, *args) -> Tensor:
    """Apply ``t = fn(t, *args)`` in place, keeping ``t``'s dtype.

    Outside a graph the new values are written into ``t``'s array (views see them). Inside a
    graph ``t`` is rebound to the result's node, and its version is bumped so that any op that
    saved the old value refuses to backward.
    """
    _check_inplace(t, getattr(fn, "__name__", "in-place op"))
    tracking = is_grad_enabled() and (t._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args))
    res = fn(t, *args)
    if res.dtype != t.dtype:
        if t.dtype.kind != "f" and res.dtype.kind == "f":
            raise RuntimeError(f"result type {res.dtype} can't be cast to the desired output type {t.dtype}")
        res = astype(res, t.dtype)
    if tracking:
        t.data = res.data if res.shape == t.shape else res.xp.broadcast_to(res.data, t.shape).copy()
        t._ctx, t._out_idx, t._requires_grad = res._ctx, res._out_idx, res._requires_grad
    else:
        t.data[...] = res.data
    t._version += 1
    return t


def fill_(t: Tensor, value) -> Tensor:
    _check_inplace(t, "fill_")
    if isinstance(value, Tensor):
        value = value.item()
    if t._ctx is not None and is_grad_enabled():
        t.data = t.xp.full(t.shape, value, dtype=t.dtype)
        t._ctx, t._requires_grad = None, False
    else:
        t.data[...] = value
    t._version += 1
    return t


def fill_random_(t: Tensor, kind: str, a, b, generator=None) -> Tensor:
    """Fill in place from U(a, b) or N(a, b**2), drawn from ``generator`` (the default one if None)."""
    _check_inplace(t, f"{kind}_")
    rng = backend.rng(generator)
    draw = rng.uniform(a, b, t.shape) if kind == "uniform" else rng.normal(a, b, t.shape)
    t.data[...] = backend.to_device(draw.astype(t.dtype), t.device) if t.device.type != "cpu" else draw
    t._version += 1
    return t
