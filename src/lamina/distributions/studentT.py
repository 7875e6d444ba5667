"""Student's t distribution."""
from __future__ import annotations

import math

from ..ops.elementwise import where
from . import constraints
from ._special import digamma, lgamma
from .chi2 import Chi2
from .distribution import Distribution
from .utils import broadcast_all, scalar_like, standard_normal

__all__ = ["StudentT"]


class StudentT(Distribution):
    """StudentT(df, loc, scale): location-scale t with ν = df > 0 degrees of freedom.

        log p(x) = -(ν+1)/2 log1p(y²/ν) - log σ - ½ log(νπ) - lgamma(ν/2) + lgamma((ν+1)/2),  y = (x-μ)/σ
        entropy = log σ + (ν+1)/2 (ψ((ν+1)/2) - ψ(ν/2)) + ½ log ν + log B(ν/2, ½)
        rsample: x = μ + σ z / sqrt(c/ν), z ~ N(0, 1), c ~ χ²(ν)
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(self.df.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(StudentT, batch_shape, ("df", "loc", "scale"), _instance)
        new._chi2 = self._chi2.expand(tuple(batch_shape))
        return new

    @property
    def mean(self):
        return where(self.df > 1, self.loc, scalar_like(self.loc, math.nan))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / where(df > 2, df - 2, scalar_like(df, 1.0))
        out = where(df > 2, finite, scalar_like(df, math.inf))
        return where(df > 1, out, scalar_like(df, math.nan))

    def rsample(self, sample_shape=()):
        z = standard_normal(self._extended_shape(sample_shape), self.df)
        c = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * z * (c / self.df).rsqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        df = self.df
        norm = self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi) + lgamma(df * 0.5) - lgamma((df + 1) * 0.5)
        return -0.5 * (df + 1) * (y * y / df).log1p() - norm

    def entropy(self):
        df = self.df
        lbeta = lgamma(df * 0.5) + math.lgamma(0.5) - lgamma((df + 1) * 0.5)
        return (self.scale.log() + (df + 1) * 0.5 * (digamma((df + 1) * 0.5) - digamma(df * 0.5))
                + 0.5 * df.log() + lbeta)
