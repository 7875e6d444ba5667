"""``lamina.special``: PyTorch's ``torch.special`` namespace, differentiable where PyTorch's is.

    expit(x) = 1 / (1 + e^-x)            entr(x) = -x log x (0 at 0, -inf below 0)
    ndtr(x) = (1 + erf(x / sqrt 2)) / 2  ndtri(p) = sqrt 2 erfinv(2p - 1)
    i0e(x) = e^-|x| I0(x)                i1e(x) = e^-|x| I1(x)
    xlog1py(x, y) = x log1p(y) (0 where x == 0)

    >>> lamina.special.ndtr(lamina.tensor([0.0]))     # tensor([0.5000])
"""
from __future__ import annotations

import math

from .ops.arithmetic import where
from .ops.elementwise import exp2, expm1, log1p, logit, round, sinc, xlogy  # noqa: F401
from .ops.explog import xlog1py  # noqa: F401
from .ops.promotion import as_float
from .ops.reduce import logsumexp  # noqa: F401
from .ops.special import digamma, erf, erfc, erfinv, i0, i1, igamma, igammac, lgamma, mvlgamma, polygamma, zeta  # noqa: F401
from .ops.unary import abs as _abs
from .ops.unary import log, sigmoid
from .tensor import Tensor

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
gammainc = igamma
gammaincc = igammac
modified_bessel_i0 = i0
modified_bessel_i1 = i1
_SQRT_HALF = math.sqrt(0.5)


def i0e(x: Tensor) -> Tensor:
    """The exponentially scaled modified Bessel function of order 0: e^-|x| I0(x)."""
    x = as_float(x, "i0e")
    return i0(x) * (-_abs(x)).exp()


def i1e(x: Tensor) -> Tensor:
    """The exponentially scaled modified Bessel function of order 1: e^-|x| I1(x)."""
    x = as_float(x, "i1e")
    return i1(x) * (-_abs(x)).exp()


def entr(x: Tensor) -> Tensor:
    """-x log x elementwise (0 at x = 0, -inf for x < 0)."""
    x = as_float(x, "entr")
    pos = x.array > 0
    safe = where(pos, x, 1.0)
    inner = where(pos, -x * log(safe), 0.0)
    return where(x.array < 0, -math.inf, inner)


def ndtr(x: Tensor) -> Tensor:
    """The standard normal CDF: (1 + erf(x / sqrt 2)) / 2."""
    x = as_float(x, "ndtr")
    return (erf(x * _SQRT_HALF) + 1.0) * 0.5


def log_ndtr(x: Tensor) -> Tensor:
    """log of the standard normal CDF (erfc form, accurate in the left tail)."""
    x = as_float(x, "log_ndtr")
    return log(erfc(x * -_SQRT_HALF) * 0.5)


def ndtri(p: Tensor) -> Tensor:
    """The standard normal quantile function: sqrt 2 erfinv(2p - 1)."""
    p = as_float(p, "ndtri")
    return erfinv(p * 2.0 - 1.0) * math.sqrt(2.0)


def softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """softmax along ``dim`` (``torch.special.softmax``)."""
    from .nn import functional as F

    return F.softmax(input if dtype is None else input.to(dtype), dim)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """log-softmax along ``dim`` (``torch.special.log_softmax``)."""
    from .nn import functional as F

    return F.log_softmax(input if dtype is None else input.to(dtype), dim)
