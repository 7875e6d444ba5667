"""Special functions: erf, erfc, erfinv, lgamma, digamma, polygamma, mvlgamma, i0, igamma, zeta.

    erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt;   d erf(x)/dx = 2/sqrt(pi) * exp(-x^2)
    lgamma(x) = log|Gamma(x)|;  d/dx lgamma = digamma;  d/dx polygamma(n, x) = polygamma(n + 1, x)

On the CPU each function is a compiled NumPy ufunc (Numba ``@vectorize`` around ``math`` or a
short series, compiled on first use and cached on disk); on the GPU CuPy's
``cupyx.scipy.special`` provides the same functions. Every gradient is written with these
same ops, so derivatives of any order work.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import _special_kernels as K
from .broadcast import sum_to
from .promotion import as_float, float_operands

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0

# lamina name -> (kernel builder, name in cupyx.scipy.special)
_FUNCS = {
    "erf": (K.erf, "erf"),
    "erfc": (K.erfc, "erfc"),
    "erfinv": (K.erfinv, "erfinv"),
    "lgamma": (K.lgamma, "gammaln"),
    "digamma": (K.digamma, "digamma"),
    "i0": (K.i0, "i0"),
    "i1": (K.i1, "i1"),
}


def _apply(name: str, x):
    """The special function ``name`` of a float xp array (same dtype back)."""
    build, cupy_name = _FUNCS[name]
    xp = backend.array_module(x)
    if xp is not np:  # pragma: no cover - needs CuPy and a GPU
        import cupyx.scipy.special as cs

        return getattr(cs, cupy_name)(x)
    if x.dtype not in (np.float32, np.float64):
        return build()(x.astype(np.float32)).astype(x.dtype)
    return np.asarray(build()(x))


def erf_array(x):
    """erf of a float32/float64 xp array (same dtype back)."""
    return _apply("erf", x)


def _polygamma_array(n: int, x):
    xp = backend.array_module(x)
    if xp is not np:  # pragma: no cover - needs CuPy and a GPU
        import cupyx.scipy.special as cs

        return cs.polygamma(n, x).astype(x.dtype)
    kernel = K.polygamma()
    if x.dtype not in (np.float32, np.float64):
        return kernel(np.float32(n), x.astype(np.float32)).astype(x.dtype)
    return np.asarray(kernel(x.dtype.type(n), x))


class _Special(Function):
    """y = f(x) for a named special function; ``backward`` is defined by the subclass."""

    fn = ""

    def forward(self, x):
        return _apply(self.fn, x)


class Erf(_Special):
    """y = erf(x);  dx = dy * 2/sqrt(pi) * exp(-x^2)."""

    fn = "erf"

    def backward(self, gy):
        (x,) = self.inputs
        return gy * ((x * x).neg().exp() * _TWO_OVER_SQRT_PI)


class Erfc(_Special):
    """y = erfc(x) = 1 - erf(x);  dx = -dy * 2/sqrt(pi) * exp(-x^2)."""

    fn = "erfc"

    def backward(self, gy):
        (x,) = self.inputs
        return gy * ((x * x).neg().exp() * -_TWO_OVER_SQRT_PI)


class Erfinv(_Special):
    """y = erfinv(x) (erf(y) = x, |x| < 1);  dx = dy * sqrt(pi)/2 * exp(y^2)."""

    fn = "erfinv"
    saves_inputs = False
    keep_outputs = True

    def backward(self, gy):
        y = self.outputs[0]
        return gy * ((y * y).exp() * _SQRT_PI_OVER_TWO)


class Lgamma(_Special):
    """y = log|Gamma(x)|;  dx = dy * digamma(x)."""

    fn = "lgamma"

    def backward(self, gy):
        return gy * digamma(self.inputs[0])


class Digamma(_Special):
    """y = digamma(x) = d/dx log Gamma(x);  dx = dy * polygamma(1, x)."""

    fn = "digamma"

    def backward(self, gy):
        return gy * polygamma(1, self.inputs[0])


class Polygamma(Function):
    """y = polygamma(n, x), the n-th derivative of digamma (n >= 1);  dx = dy * polygamma(n + 1, x)."""

    def __init__(self, n):
        self.n = n

    def forward(self, x):
        return _polygamma_array(self.n, x)

    def backward(self, gy):
        return gy * polygamma(self.n + 1, self.inputs[0])


class I0(_Special):
    """y = I0(x), the modified Bessel function of order 0;  dx = dy * I1(x)."""

    fn = "i0"

    def backward(self, gy):
        return gy * i1(self.inputs[0])


class I1(_Special):
    """y = I1(x), the modified Bessel function of order 1;  dx = dy * (I0(x) - I1(x) / x) (1/2 at 0)."""

    fn = "i1"

    def backward(self, gy):
        (x,) = self.inputs
        zero = x.array == 0
        safe = Tensor._wrap(x.xp.where(zero, 1, x.array).astype(x.dtype))
        d = i0(x) - i1(x) / safe
        half = Tensor._wrap(x.xp.where(zero, 0.5, 0).astype(x.dtype))
        keep = Tensor._wrap((~zero).astype(x.dtype))
        return gy * (d * keep + half)


def _special(cls, name):
    def op(x: Tensor) -> Tensor:
        return cls()(as_float(x, name))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = cls.__doc__ + " Integer inputs become the default float dtype."
    return op


erf = _special(Erf, "erf")
erfc = _special(Erfc, "erfc")
erfinv = _special(Erfinv, "erfinv")
lgamma = _special(Lgamma, "lgamma")
digamma = _special(Digamma, "digamma")
i0 = _special(I0, "i0")
i1 = _special(I1, "i1")


def polygamma(n: int, x: Tensor) -> Tensor:
    """The n-th derivative of digamma (polygamma(0, x) = digamma(x));  dx = polygamma(n + 1, x)."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n (got n={n})")
    x = as_float(x, "polygamma")
    if n == 0:
        return digamma(x)
    return Polygamma(n)(x)


def mvlgamma(x: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p``:
    y = p (p - 1)/4 log(pi) + sum_{i=0}^{p-1} lgamma(x - i/2);  dx = dy * sum_i digamma(x - i/2)."""
    p = int(p)
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got p={p}")
    x = as_float(x, "mvlgamma")
    offsets = Tensor._wrap(x.xp.arange(p, dtype=x.dtype) * x.dtype.type(-0.5))
    terms = lgamma(x.unsqueeze(-1) + offsets)
    return terms.sum(-1) + p * (p - 1) / 4.0 * math.log(math.pi)


# ---------------------------------------------------------------- two-argument functions
def _apply2(build, cupy_name: str, a, b):
    xp = backend.array_module(a)
    if xp is not np:  # pragma: no cover - needs CuPy and a GPU
        import cupyx.scipy.special as cs

        return getattr(cs, cupy_name)(a, b).astype(a.dtype)
    if a.dtype not in (np.float32, np.float64):
        return build()(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
    return np.asarray(build()(a, b))


class IGamma(Function):
    """y = P(a, x) (``upper``: Q(a, x) = 1 - P), the regularized incomplete gamma function;
    dx = +-dy * x^(a-1) e^-x / Gamma(a);  da is not implemented (as in PyTorch)."""

    def __init__(self, upper):
        self.upper = upper

    def forward(self, a, x):
        return _apply2(K.igammac if self.upper else K.igamma, "gammaincc" if self.upper else "gammainc", a, x)

    def backward(self, gy):
        a, x = self.inputs
        na, nx = self.needs_input_grad
        if na:
            raise NotImplementedError(f"the derivative for '{'igammac' if self.upper else 'igamma'}: input' "
                                      "(the shape a) is not implemented")
        d = (-x + (a - 1.0) * x.log() - lgamma(a)).exp()
        g = gy * (-d if self.upper else d)
        return None, sum_to(g, x.shape)


class Zeta(Function):
    """y = zeta(s, q) = sum_k (k + q)^-s (Hurwitz);  dq = -dy * s * zeta(s + 1, q);  ds not implemented."""

    def forward(self, s, q):
        return _apply2(K.zeta, "zeta", s, q)

    def backward(self, gy):
        s, q = self.inputs
        ns, nq = self.needs_input_grad
        if ns:
            raise NotImplementedError("the derivative for 'zeta: self' (the exponent) is not implemented")
        return None, sum_to(-gy * s * zeta(s + 1.0, q), q.shape)


def igamma(input, other) -> Tensor:
    """P(a, x): the regularized lower incomplete gamma function of a = input and x = other (broadcast)."""
    a, x = float_operands(input, other, "igamma")
    return IGamma(False)(a, x)


def igammac(input, other) -> Tensor:
    """Q(a, x) = 1 - P(a, x): the regularized upper incomplete gamma function."""
    a, x = float_operands(input, other, "igammac")
    return IGamma(True)(a, x)


def zeta(input, other) -> Tensor:
    """The Hurwitz zeta function zeta(s, q) = sum_{k>=0} (k + q)^-s of s = input, q = other."""
    s, q = float_operands(input, other, "zeta")
    return Zeta()(s, q)
