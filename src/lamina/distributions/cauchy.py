"""The Cauchy (Lorentz) distribution."""
from __future__ import annotations

import math

from . import constraints
from ._special import atan
from .distribution import Distribution
from .utils import broadcast_all, draw, full_like

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    """Cauchy(loc, scale): density 1 / (π γ (1 + ((x - x0) / γ)²)), γ = scale > 0.

        log p(x) = -log π - log γ - log1p(((x - x0) / γ)²);   entropy = log(4π γ)
        cdf(x) = atan((x - x0) / γ) / π + 1/2;  the mean is undefined (nan), the variance inf
        rsample: x = x0 + γ c, c a standard Cauchy draw
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Cauchy, batch_shape, ("loc", "scale"), _instance)

    @property
    def mean(self):
        return full_like(self.loc, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return full_like(self.loc, float("inf"))

    def rsample(self, sample_shape=()):
        c = draw(lambda g, s: g.standard_cauchy(s), self._extended_shape(sample_shape), self.loc.dtype,
                 self.loc.device)
        return self.loc + c * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z * z).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        angle = (value - 0.5) * math.pi
        return angle.sin() / angle.cos() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
