"""The beta distribution."""
from __future__ import annotations

import numpy as np

from ..ops.elementwise import where
from . import constraints
from ._special import digamma, log_beta, standard_gamma, xlogy
from .exp_family import ExponentialFamily
from .utils import broadcast_all, finfo

__all__ = ["Beta"]


class Beta(ExponentialFamily):
    """Beta(concentration1, concentration0) = Beta(a, b) on [0, 1], a, b > 0.

        log p(x) = (a - 1) log x + (b - 1) log(1 - x) - log B(a, b)
        entropy = log B(a, b) - (a - 1) ψ(a) - (b - 1) ψ(b) + (a + b - 2) ψ(a + b)
        mean = a / (a + b);  variance = a b / ((a + b)² (a + b + 1))
        rsample: x = g_a / (g_a + g_b), g ~ Gamma(·, 1) (reparameterised)
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Beta, batch_shape, ("concentration1", "concentration0"), _instance)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        am, bm = (a - 1).clamp(min=0), (b - 1).clamp(min=0)
        with np.errstate(invalid="ignore"):  # 0/0 -> nan where a, b <= 1 (as torch)
            m = am / (am + bm)
        both_small = (a < 1) & (b < 1)
        return where(both_small, (a >= b).to(a.dtype), m)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        sample_shape = shape[:len(shape) - len(self.batch_shape)]
        ga = standard_gamma(self.concentration1, sample_shape)
        gb = standard_gamma(self.concentration0, sample_shape)
        fi = finfo(ga.dtype)
        return (ga / (ga + gb)).clamp(float(fi.tiny), 1 - float(fi.eps))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - log_beta(a, b)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return (log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (a + b - 2) * digamma(a + b))

