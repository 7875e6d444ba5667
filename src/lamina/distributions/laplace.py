"""The Laplace (double exponential) distribution."""
from __future__ import annotations

import math

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, draw, finfo

__all__ = ["Laplace"]


class Laplace(Distribution):
    """Laplace(loc, scale): density exp(-|x - μ| / b) / (2b), b = scale > 0.

        log p(x) = -log(2b) - |x - μ| / b;   entropy = 1 + log(2b)
        cdf(x) = 1/2 - sign(x - μ) expm1(-|x - μ| / b) / 2
        rsample: x = μ - b sign(u) log(1 - |u|), u ~ U(-1, 1)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Laplace, batch_shape, ("loc", "scale"), _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self.scale.pow(2) * 2

    @property
    def stddev(self):
        return self.scale * math.sqrt(2)

    def rsample(self, sample_shape=()):
        eps = float(finfo(self.loc.dtype).eps)
        u = draw(lambda g, s: g.uniform(eps - 1, 1, s), self._extended_shape(sample_shape), self.loc.dtype,
                 self.loc.device)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -(self.scale * 2).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (term.abs() * -2).log1p()

    def entropy(self):
        return 1 + (self.scale * 2).log()
