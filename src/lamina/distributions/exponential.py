"""The exponential distribution."""
from __future__ import annotations

from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, draw, full_like

__all__ = ["Exponential"]


class Exponential(ExponentialFamily):
    """Exponential(rate) on x >= 0, rate λ > 0.

        log p(x) = log λ - λ x;   cdf(x) = 1 - exp(-λ x);   entropy = 1 - log λ
        rsample: x = e / λ, e ~ Exponential(1)
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Exponential, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return full_like(self.rate, 0.0)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        e = draw(lambda g, s: g.standard_exponential(s), self._extended_shape(sample_shape), self.rate.dtype,
                 self.rate.device)
        return e / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()
