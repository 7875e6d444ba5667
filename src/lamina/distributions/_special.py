"""Differentiable special functions the distributions need (private to this package for now).

    lgamma(x) = log|Γ(x)|;             d/dx = digamma(x)
    digamma(x) = Γ'(x)/Γ(x);           d/dx = trigamma(x)
    trigamma(x) = digamma'(x);         (no derivative: array-only backward)
    erfinv(y): erf(erfinv(y)) = y;     d/dy = sqrt(pi)/2 * exp(erfinv(y)^2)
    atan(x);                           d/dx = 1/(1 + x^2)
    xlogy(x, y) = x*log(y), 0 where x == 0;   dx = log(y) (0 where x == 0),  dy = x/y
    gammainc(a, x) = P(a, x);          dx = x^(a-1) e^(-x) / Γ(a)   (no derivative in a, as torch)
    log_beta(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)

On the CPU the kernels are Numba ufuncs (``_special_kernels.py``); on a GPU the CuPy versions
from ``cupyx.scipy.special``. ``lamina.lgamma``/``digamma`` in ops/ may later replace these.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..ops.broadcast import sum_to
from ..ops.elementwise import where
from ..tensor import Tensor
from ._special_kernels import kernel

_CUPY_NAMES = {"lgamma": "gammaln", "digamma": "digamma", "erfinv": "erfinv", "gammainc": "gammainc"}


def _apply(name: str, *arrays):
    xp = backend.array_module(arrays[0])
    if xp is not np:  # pragma: no cover - needs CuPy and a GPU
        import cupyx.scipy.special as cs

        if name == "trigamma":
            return cs.polygamma(1, arrays[0])
        if name == "gamma_grad":
            return xp.asarray(kernel(name)(*[xp.asnumpy(a) for a in arrays]))
        return getattr(cs, _CUPY_NAMES[name])(*arrays)
    dt = np.result_type(*arrays)
    if dt not in (np.float32, np.float64):
        dt = np.dtype(np.float64)
    return kernel(name)(*[a.astype(dt, copy=False) for a in arrays])


def special_array(name: str, *arrays):
    """Apply the kernel ``name`` to raw xp arrays (float32/float64 in, same dtype out)."""
    return _apply(name, *arrays)


class _Unary(Function):
    kernel_name = ""

    def forward(self, x):
        return _apply(self.kernel_name, x)


class Lgamma(_Unary):
    """y = log|Γ(x)|;  dx = dy * digamma(x)."""

    kernel_name = "lgamma"

    def backward(self, gy):
        return gy * digamma(self.inputs[0])


class Digamma(_Unary):
    """y = digamma(x);  dx = dy * trigamma(x)."""

    kernel_name = "digamma"

    def backward(self, gy):
        return gy * trigamma(self.inputs[0])


class Trigamma(_Unary):
    """y = trigamma(x);  its derivative (the tetragamma function) is not provided."""

    kernel_name = "trigamma"
    differentiable = False

    def backward(self, gy):
        raise RuntimeError("the derivative of trigamma (polygamma(2, x)) is not implemented")


class Erfinv(_Unary):
    """y = erfinv(x);  dx = dy * sqrt(pi)/2 * exp(y^2)."""

    kernel_name = "erfinv"
    keep_outputs = True
    saves_inputs = False

    def backward(self, gy):
        (y,) = self.outputs
        return gy * (y * y).exp() * (math.sqrt(math.pi) / 2)


class Atan(Function):
    """y = atan(x);  dx = dy / (1 + x^2)."""

    def forward(self, x):
        return backend.array_module(x).arctan(x)

    def backward(self, gy):
        (x,) = self.inputs
        return gy / (x * x + 1)


class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = dy * sigmoid(x)."""

    def forward(self, x):
        xp = backend.array_module(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        return gy * self.inputs[0].sigmoid()


class Xlogy(Function):
    """z = x * log(y), with z = 0 where x == 0;  dx = dz * log(y) (0 where x == 0 and y <= 0),  dy = dz * x / y."""

    def forward(self, x, y):
        xp = backend.array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.where(x == 0, xp.zeros((), x.dtype), x * xp.log(y)).astype(np.result_type(x, y), copy=False)

    def backward(self, gz):
        x, y = self.inputs
        gx = gy = None
        if self.needs_input_grad[0]:
            undefined = Tensor._wrap((x.array == 0) & (y.array <= 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                gx = sum_to(where(undefined, Tensor._wrap(xp_zero(gz)), xlogy(gz, y)), x.shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gy = sum_to(gz * x / y, y.shape)
        return gx, gy


def xp_zero(t: Tensor):
    return t.xp.zeros((), dtype=t.dtype)


class GammaInc(Function):
    """P = gammainc(a, x);  dx = dP * x^(a-1) e^(-x) / Γ(a);  no derivative in ``a`` (as torch)."""

    def forward(self, a, x):
        return _apply("gammainc", a, x)

    def backward(self, gp):
        a, x = self.inputs
        if self.needs_input_grad[0]:
            raise RuntimeError("the derivative of gammainc with respect to its first argument (the "
                               "concentration) is not implemented")
        log_density = xlogy(a - 1, x) - x - lgamma(a)
        return None, sum_to(gp * log_density.exp(), x.shape)


class StandardGammaReparam(Function):
    """z = x (a Gamma(a, 1) draw made outside);  da = dz * dx/da, the implicit reparameterisation
    gradient -(dP(a, x)/da) / p(x; a) that keeps the CDF value P(a, x) of the draw fixed."""

    differentiable = False

    def __init__(self, draw):
        self.draw = draw

    def forward(self, a):
        return self.draw

    def backward(self, gz):
        (a,) = self.inputs
        g = _apply("gamma_grad", a.array.astype(np.float64), self.draw.astype(np.float64))  # differences need float64
        return Tensor._wrap((gz.array * g).astype(a.dtype, copy=False))


def _float(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return x if x.dtype.kind == "f" else x.to(backend.get_default_dtype())


def lgamma(x: Tensor) -> Tensor:
    """log|Γ(x)| elementwise (lgamma of a non-positive integer is +inf)."""
    return Lgamma()(_float(x))


def digamma(x: Tensor) -> Tensor:
    """The digamma function psi(x) = d log Γ(x) / dx (psi(0) = -inf, nan at negative integers)."""
    return Digamma()(_float(x))


def trigamma(x: Tensor) -> Tensor:
    """psi'(x) = sum_k 1/(x + k)^2, the derivative of digamma."""
    return Trigamma()(_float(x))


def erfinv(x: Tensor) -> Tensor:
    """The inverse error function on [-1, 1] (±inf at ±1, nan outside)."""
    return Erfinv()(_float(x))


def atan(x: Tensor) -> Tensor:
    return Atan()(_float(x))


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)) without overflow (no threshold: exact in float64 too)."""
    return Softplus()(_float(x))


def xlogy(x, y) -> Tensor:
    """x * log(y) with 0 where x == 0 (so 0 * log 0 = 0); either may be a Python number."""
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x, dtype=y.dtype))
    if not isinstance(y, Tensor):
        y = Tensor(np.asarray(y, dtype=x.dtype if x.dtype.kind == "f" else backend.get_default_dtype()))
    return Xlogy()(_float(x), _float(y))


def gammainc(a: Tensor, x: Tensor) -> Tensor:
    """The regularised lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a)."""
    return GammaInc()(_float(a), _float(x))


def log_beta(a: Tensor, b: Tensor) -> Tensor:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)."""
    return lgamma(a) + lgamma(b) - lgamma(a + b)


def standard_gamma(concentration: Tensor, sample_shape: tuple = (), generator=None) -> Tensor:
    """Draws x ~ Gamma(concentration, 1) of shape ``sample_shape + concentration.shape``, clamped
    below at the dtype's smallest normal number; gradients reach ``concentration`` implicitly."""
    a = concentration
    shape = tuple(sample_shape) + a.shape
    alpha = backend.to_device(a.array, backend.cpu)
    draw = backend.rng(generator).standard_gamma(np.broadcast_to(alpha.astype(np.float64), shape))
    draw = np.maximum(draw, np.finfo(a.dtype).tiny).astype(a.dtype)
    draw = backend.to_device(draw, a.device)
    if not a.requires_grad:
        return Tensor._wrap(draw)
    return StandardGammaReparam(draw)(a.expand(*shape) if shape != a.shape else a)

