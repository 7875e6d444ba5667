"""Elementwise (and affine) transforms: y = f(x) applied entry by entry, with log|dy/dx|.

    ExpTransform        y = exp(x)                     log|J| = x
    SigmoidTransform    y = 1 / (1 + exp(-x))          log|J| = -softplus(-x) - softplus(x)
    TanhTransform       y = tanh(x)                    log|J| = 2 (log 2 - x - softplus(-2x))
    SoftplusTransform   y = log(1 + exp(x))            log|J| = -softplus(-x)
    PowerTransform      y = x^p                        log|J| = log|p y / x|
    AbsTransform        y = |x|                        (not bijective)
    AffineTransform     y = loc + scale x              log|J| = log|scale|

Import them from ``lamina.distributions.transforms`` (or ``lamina.distributions``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor
from . import constraints
from ._special import softplus
from .transforms import Transform
from .utils import finfo, sum_rightmost

__all__ = ["AbsTransform", "AffineTransform", "ExpTransform", "PowerTransform", "SigmoidTransform",
           "SoftplusTransform", "TanhTransform"]


class ExpTransform(Transform):
    """y = exp(x);  x = log(y);  log|dy/dx| = x."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def __eq__(self, other):
        return isinstance(other, ExpTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class PowerTransform(Transform):
    """y = x^exponent on x > 0;  log|dy/dx| = log|exponent * y / x|."""

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.exponent = exponent

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else PowerTransform(self.exponent, cache_size=cache_size)

    @property
    def sign(self):
        e = self.exponent
        return e.sign() if isinstance(e, Tensor) else (1 if e > 0 else -1 if e < 0 else 0)

    def __eq__(self, other):
        if not isinstance(other, PowerTransform):
            return False
        a, b = self.exponent, other.exponent
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            return bool(np.all(np.asarray(a.numpy() if isinstance(a, Tensor) else a)
                               == np.asarray(b.numpy() if isinstance(b, Tensor) else b)))
        return a == b

    __hash__ = object.__hash__

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(1 / self.exponent) if not isinstance(self.exponent, Tensor) else y.pow(self.exponent.reciprocal())

    def log_abs_det_jacobian(self, x, y):
        return (self.exponent * y / x).abs().log()


def _clipped_sigmoid(x):
    eps = finfo(x.dtype)
    return x.sigmoid().clamp(float(eps.tiny), 1.0 - float(eps.eps))


class SigmoidTransform(Transform):
    """y = sigmoid(x) (clipped into (0, 1));  x = log(y) - log1p(-y);  log|J| = -softplus(-x) - softplus(x)."""

    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = 1

    def __eq__(self, other):
        return isinstance(other, SigmoidTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return _clipped_sigmoid(x)

    def _inverse(self, y):
        eps = finfo(y.dtype)
        y = y.clamp(float(eps.tiny), 1.0 - float(eps.eps))
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)


class SoftplusTransform(Transform):
    """y = log(1 + exp(x));  x = y + log(-expm1(-y));  log|J| = -softplus(-x)."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def __eq__(self, other):
        return isinstance(other, SoftplusTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return softplus(x)

    def _inverse(self, y):
        return (-(-y).expm1()).log() + y

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x)


class TanhTransform(Transform):
    """y = tanh(x);  x = atanh(y) = (log1p(y) - log1p(-y)) / 2;  log|J| = 2 (log 2 - x - softplus(-2x)).

    Use ``cache_size=1`` when log-probabilities of your own samples are needed (SAC): the inverse
    of a saturated y = ±1 is then the cached x instead of ±inf.
    """

    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = 1

    def __eq__(self, other):
        return isinstance(other, TanhTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        with np.errstate(divide="ignore"):  # atanh(±1) = ±inf, as torch (without a warning)
            return (y.log1p() - (-y).log1p()) * 0.5

    def log_abs_det_jacobian(self, x, y):
        return (math.log(2.0) - x - softplus(x * -2.0)) * 2.0


class AbsTransform(Transform):
    """y = |x|; the 'inverse' returns y (the non-negative branch)."""

    domain = constraints.real
    codomain = constraints.positive

    def __eq__(self, other):
        return isinstance(other, AbsTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


class AffineTransform(Transform):
    """y = loc + scale * x;  x = (y - loc) / scale;  log|J| = log|scale| (summed over ``event_dim``
    rightmost dims). ``loc`` and ``scale`` are tensors or numbers."""

    bijective = True

    def __init__(self, loc, scale, event_dim: int = 0, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.loc = loc
        self.scale = scale
        self._event_dim = event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        return constraints.real if self._event_dim == 0 else constraints.independent(constraints.real, self._event_dim)

    codomain = domain

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def __eq__(self, other):
        if not isinstance(other, AffineTransform):
            return False
        for a, b in ((self.loc, other.loc), (self.scale, other.scale)):
            if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
                if a != b:
                    return False
            else:
                aa = a.numpy() if isinstance(a, Tensor) else a
                bb = b.numpy() if isinstance(b, Tensor) else b
                if not bool(np.all(np.asarray(aa) == np.asarray(bb))):
                    return False
        return True

    __hash__ = object.__hash__

    @property
    def sign(self):
        s = self.scale
        if isinstance(s, numbers.Real):
            return 1 if s > 0 else -1 if s < 0 else 0
        return s.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale
        if isinstance(scale, numbers.Real):
            out = Tensor._wrap(x.xp.full(x.shape, math.log(abs(scale)), dtype=x.dtype))
        else:
            out = scale.abs().log()
            shape = tuple(np.broadcast_shapes(out.shape, x.shape))
            if out.shape != shape:
                out = out.expand(*shape)
        return sum_rightmost(out, self._event_dim)

    def forward_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), _shape_of(self.loc), _shape_of(self.scale)))

    def inverse_shape(self, shape):
        return tuple(np.broadcast_shapes(tuple(shape), _shape_of(self.loc), _shape_of(self.scale)))

    def __repr__(self):
        return "AffineTransform()"


def _shape_of(v) -> tuple:
    return tuple(v.shape) if isinstance(v, Tensor) else ()
