"""The normal (Gaussian) distribution."""
from __future__ import annotations

import math

from ..ops.special import erf
from . import constraints
from ._special import erfinv
from .exp_family import ExponentialFamily
from .utils import broadcast_all, standard_normal

__all__ = ["Normal"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Normal(ExponentialFamily):
    """Normal(loc, scale): N(μ, σ²), σ = scale > 0.

        log p(x) = -(x - μ)² / (2σ²) - log σ - log √(2π)
        cdf(x) = (1 + erf((x - μ) / (σ√2))) / 2;   entropy = 1/2 + log(σ √(2π))
        rsample: x = μ + σ ε, ε ~ N(0, 1)

    >>> d = Normal(lamina.zeros(2), lamina.ones(2))
    >>> d.rsample((4,)).shape     # (4, 2)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Normal, batch_shape, ("loc", "scale"), _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return self.loc + standard_normal(shape, self.loc) * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return z * z * -0.5 - self.scale.log() - _LOG_SQRT_2PI

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (erf((value - self.loc) / (self.scale * math.sqrt(2))) + 1) * 0.5

    def icdf(self, value):
        return self.loc + self.scale * erfinv(value * 2 - 1) * math.sqrt(2)

    def entropy(self):
        return self.scale.log() + (0.5 + _LOG_SQRT_2PI)
