"""Activation functions (the math behind the activation layers).

Each nonlinearity is one fused Function: its forward runs on arrays, its backward is written
with Tensor ops (so second derivatives work). Formulas, with dy the upstream gradient:

    leaky_relu  y = x if x > 0 else s x                 dx = dy * (1 if x > 0 else s)
    elu/selu    y = k (x if x > 0 else a (e^x - 1))     dx = dy * (k if x > 0 else y + k a)
    gelu        y = x Phi(x)                            dx = dy * (Phi(x) + x phi(x))
    gelu tanh   y = x/2 (1 + tanh(u)), u = c (x + 0.044715 x^3)
    silu        y = x sigmoid(x)                        dx = dy * s (1 + x (1 - s))
    mish        y = x tanh(softplus(x))                 dx = dy * (t + x sigmoid(x) (1 - t^2))
    softplus    y = log(1 + e^(b x)) / b                dx = dy * sigmoid(b x)
    hardtanh    y = clamp(x, lo, hi)                    dx = dy * [lo < x < hi]
    softmax     y = e^x / sum e^x                       dx = y (dy - sum(dy y))
    log_softmax y = x - logsumexp(x)                    dx = dy - softmax(x) sum(dy)
"""
from __future__ import annotations

import math
import warnings

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..ops import elementwise as E
from ..ops.special import erf, erf_array
from ..tensor import Tensor
from . import _kernels

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _check(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype} (convert it with .float())")
    return x


def _at_least_1d(fn):
    """Run an in-place array helper on 0-d inputs too (NumPy ufuncs turn 0-d arrays into scalars)."""
    def wrapper(x, *rest):
        if x.ndim:
            return fn(x, *rest)
        return fn(x.reshape(1), *[r.reshape(1) if getattr(r, "ndim", 1) == 0 else r for r in rest]).reshape(())

    wrapper.__doc__ = fn.__doc__
    return wrapper


# ---------------------------------------------------------------- piecewise-linear
class LeakyReLU(Function):
    """y = x if x > 0 else s x;  dx = dy * (1 if x > 0 else s)."""

    saves_inputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = backend.array_module(x)
        self.mask = x > 0
        return xp.where(self.mask, x, x * x.dtype.type(self.slope))

    def backward(self, gy):
        t = gy.dtype.type
        return gy * Tensor._wrap(gy.xp.where(self.mask, t(1), t(self.slope)))


class Hardtanh(Function):
    """y = clamp(x, lo, hi);  dx = dy * [lo < x < hi] (PyTorch's open interval)."""

    saves_inputs = False

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.mask = (x > self.lo) & (x < self.hi)
        return backend.array_module(x).clip(x, self.lo, self.hi).astype(x.dtype, copy=False)

    def backward(self, gy):
        return E.mask_mul(gy, self.mask)


# ---------------------------------------------------------------- exponential family
class ELU(Function):
    """y = k (x if x > 0 else a (e^x - 1));  dx = dy * (k if x > 0 else y + k a)."""

    saves_inputs = False
    keep_outputs = True

    def __init__(self, alpha=1.0, scale=1.0):
        self.alpha, self.scale = alpha, scale

    def forward(self, x):
        xp = backend.array_module(x)
        self.mask = x > 0
        return _elu_array(x, self.mask, self.alpha, self.scale)

    def backward(self, gy):
        (y,) = self.outputs
        slope_neg = y + self.scale * self.alpha
        return E.where(Tensor._wrap(self.mask), gy * self.scale if self.scale != 1.0 else gy, gy * slope_neg)


@_at_least_1d
def _elu_array(x, mask, alpha, scale):
    xp = backend.array_module(x)
    neg = xp.minimum(x, x.dtype.type(0))
    xp.expm1(neg, out=neg)
    neg *= x.dtype.type(alpha)
    y = xp.where(mask, x, neg)
    if scale != 1.0:
        y *= x.dtype.type(scale)
    return y


class GELU(Function):
    """y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dx = dy * (Phi(x) + x phi(x)).

    ``approximate='tanh'``: y = x/2 (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi).
    """

    def __init__(self, approximate="none"):
        self.approximate = approximate

    def forward(self, x):
        if self.approximate == "tanh":
            return _gelu_tanh_array(x)
        k = _kernels.get("gelu", x)
        if k is not None:
            return _kernels.apply(k, x)
        t = x.dtype.type
        return t(0.5) * x * (t(1.0) + erf_array(x * t(_SQRT_HALF)))

    def backward(self, gy):
        (x,) = self.inputs
        if not is_grad_enabled():  # no second derivative wanted: array code, fewest passes
            xd, g = x.array, gy.array
            if self.approximate == "none":
                k = _kernels.get("gelu_bwd", xd, g)
                if k is not None:
                    return Tensor._wrap(_kernels.apply(k, xd, g))
            else:
                return Tensor._wrap(_gelu_tanh_grad(xd, g))
        if self.approximate == "tanh":
            x2 = x * x
            th = E.tanh((x + x2 * x * 0.044715) * _TANH_C)
            du = (x2 * (3 * 0.044715) + 1.0) * _TANH_C
            return gy * ((th + 1.0) * 0.5 + x * 0.5 * (1.0 - th * th) * du)
        cdf = (erf(x * _SQRT_HALF) + 1.0) * 0.5
        pdf = E.exp(x * x * -0.5) * _INV_SQRT_2PI
        return gy * (cdf + x * pdf)


@_at_least_1d
def _gelu_tanh_array(x):
    """0.5 x (1 + tanh(c x (1 + 0.044715 x^2))), in place after the first pass."""
    xp = backend.array_module(x)
    T = x.dtype.type
    t = x * x
    t *= T(0.044715)
    t += 1
    t *= x
    t *= T(_TANH_C)
    xp.tanh(t, out=t)
    t += 1
    t *= x
    t *= T(0.5)
    return t


@_at_least_1d
def _gelu_tanh_grad(x, g):
    """dy * (0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3k x^2)), t = tanh(c x (1 + k x^2)), on arrays."""
    xp = backend.array_module(x)
    T = x.dtype.type
    x2 = x * x
    t = x2 * T(0.044715)
    t += 1
    t *= x
    t *= T(_TANH_C)
    xp.tanh(t, out=t)
    du = x2
    du *= T(3 * 0.044715 * _TANH_C)
    du += T(_TANH_C)           # c (1 + 3k x^2)
    sech2 = t * t
    xp.subtract(1, sech2, out=sech2)
    sech2 *= x
    sech2 *= du                # x (1 - t^2) c (1 + 3k x^2)
    t += 1
    t += sech2
    t *= T(0.5)
    t *= g
    return t


@_at_least_1d
def _sigmoid_array(x):
    """1 / (1 + e^-x) on an array, without overflow: e^-|x| / (1 + e^-|x|) for x < 0."""
    xp = backend.array_module(x)
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    d = e + 1
    s = xp.where(x >= 0, x.dtype.type(1), e)
    s /= d
    return s


class SiLU(Function):
    """y = x sigmoid(x);  dx = dy * s (1 + x (1 - s)), s = sigmoid(x)."""

    def forward(self, x):
        s = _sigmoid_array(x)
        s *= x
        return s

    def backward(self, gy):
        (x,) = self.inputs
        if not is_grad_enabled():
            return Tensor._wrap(_silu_grad(x.array, gy.array))
        s = E.sigmoid(x)
        return gy * s * (x * (1.0 - s) + 1.0)


@_at_least_1d
def _silu_grad(x, g):
    """dy * s (1 + x (1 - s)) on arrays."""
    s = _sigmoid_array(x)
    t = 1 - s
    t *= x
    t += 1
    t *= s
    t *= g
    return t


@_at_least_1d
def _softplus_array(x, beta, threshold):
    """log(1 + e^(b x)) / b as log1p(e^-|bx|) + max(bx, 0) (no overflow); x itself where b x > threshold."""
    xp = backend.array_module(x)
    bx = x * x.dtype.type(beta) if beta != 1 else x
    sp = xp.abs(bx)
    xp.negative(sp, out=sp)
    xp.exp(sp, out=sp)
    xp.log1p(sp, out=sp)
    sp += xp.maximum(bx, 0)
    if beta != 1:
        sp /= x.dtype.type(beta)
    return xp.where(bx > threshold, x, sp) if threshold != math.inf else sp


@_at_least_1d
def _tanh_softplus(x):
    """tanh(log(1 + e^x)) = a / (a + 2) with a = e^x (e^x + 2) (e^x capped at e^20, where t = 1)."""
    xp = backend.array_module(x)
    n = xp.minimum(x, x.dtype.type(20))
    xp.exp(n, out=n)
    a = n + 2
    a *= n
    t = a + 2
    xp.divide(a, t, out=t)
    return t


class Softplus(Function):
    """y = log(1 + e^(b x)) / b (y = x where b x > threshold);  dx = dy * sigmoid(b x) (dy there)."""

    def __init__(self, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return _softplus_array(x, self.beta, self.threshold)

    def backward(self, gy):
        (x,) = self.inputs
        bx = x * self.beta if self.beta != 1 else x
        g = gy * E.sigmoid(bx)
        if self.threshold == math.inf:
            return g
        return E.where(Tensor._wrap(bx.array > self.threshold), gy, g)


class Mish(Function):
    """y = x tanh(softplus(x));  dx = dy * (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x))."""

    def forward(self, x):
        return x * _tanh_softplus(x)

    def backward(self, gy):
        (x,) = self.inputs
        if not is_grad_enabled():
            return Tensor._wrap(_mish_grad(x.array, gy.array))
        t = E.tanh(Softplus(1.0, 20.0)(x))
        return gy * (t + x * E.sigmoid(x) * (1.0 - t * t))


# ---------------------------------------------------------------- softmax family
class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)) along ``dim``;  dx = y * (dy - sum(dy * y))."""

    saves_inputs = False
    keep_outputs = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = backend.array_module(x)
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        e /= e.sum(axis=self.dim, keepdims=True)
        return e

    def backward(self, gy):
        (y,) = self.outputs
        return y * (gy - (gy * y).sum(self.dim, keepdim=True))


class LogSoftmax(Function):
    """y = x - max - log(sum(exp(x - max))) along ``dim``;  dx = dy - exp(y) * sum(dy)."""

    saves_inputs = False
    keep_outputs = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = backend.array_module(x)
        s = x - x.max(axis=self.dim, keepdims=True)
        s -= xp.log(xp.exp(s).sum(axis=self.dim, keepdims=True))
        return s

    def backward(self, gy):
        (y,) = self.outputs
        return gy - E.exp(y) * gy.sum(self.dim, keepdim=True)


def _softmax_dim(x: Tensor, dim, name: str) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                      "Change the call to include dim=X as an argument.", stacklevel=3)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor of shape {x.shape}")
    return dim % nd if x.ndim else None


# ---------------------------------------------------------------- public functions
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return E.relu(_check(input, "relu"))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return Hardtanh(0.0, 6.0)(_check(input, "relu6"))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return LeakyReLU(negative_slope)(_check(input, "leaky_relu"))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (e^x - 1)."""
    return ELU(alpha, 1.0)(_check(input, "elu"))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants (alpha 1.6733, scale 1.0507)."""
    return ELU(SELU_ALPHA, SELU_SCALE)(_check(input, "selu"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) (exact, with erf) or its tanh approximation (``approximate='tanh'``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(_check(input, "gelu"))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (a.k.a. swish)."""
    return SiLU()(_check(input, "silu"))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return Mish()(_check(input, "mish"))


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x)."""
    return E.sigmoid(_check(input, "sigmoid"))


def tanh(input: Tensor) -> Tensor:
    return E.tanh(_check(input, "tanh"))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold."""
    return Softplus(beta, threshold)(_check(input, "softplus"))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return Hardtanh(min_val, max_val)(_check(input, "hardtanh"))


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (computed stably, with the max subtracted)."""
    x = _check(input, "softmax")
    if dtype is not None:
        x = x.to(dtype)
    return Softmax(_softmax_dim(x, dim, "softmax"))(x)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``: log-probabilities, stable for large logits."""
    x = _check(input, "log_softmax")
    if dtype is not None:
        x = x.to(dtype)
    return LogSoftmax(_softmax_dim(x, dim, "log_softmax"))(x)


@_at_least_1d
def _mish_grad(x, gy):
    """dy * (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x)), on arrays."""
    xp = backend.array_module(x)
    t = _tanh_softplus(x)
    g = t * t
    xp.subtract(1, g, out=g)
    g *= x
    g *= _sigmoid_array(x)
    g += t
    g *= gy
    return g
