"""The Dirichlet distribution over the probability simplex."""
from __future__ import annotations

import numpy as np

from ..ops.elementwise import where
from ..ops.index import one_hot
from . import constraints
from ._special import digamma, lgamma, standard_gamma, xlogy
from .exp_family import ExponentialFamily
from .utils import finfo

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """Dirichlet(concentration): α of shape (..., K), α > 0; draws are probability vectors.

        log p(x) = sum_k (α_k - 1) log x_k + lgamma(α0) - sum_k lgamma(α_k),  α0 = sum_k α_k
        entropy = sum_k lgamma(α_k) - lgamma(α0) + (α0 - K) ψ(α0) - sum_k (α_k - 1) ψ(α_k)
        mean = α / α0;  variance = α (α0 - α) / (α0² (α0 + 1))
        rsample: x = g / sum(g), g_k ~ Gamma(α_k, 1) (reparameterised)
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Dirichlet, batch_shape, ("concentration",), _instance)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        a = self.concentration
        am = (a - 1).clamp(min=0)
        with np.errstate(invalid="ignore"):  # 0/0 -> nan where every α <= 1 (as torch)
            m = am / am.sum(-1, keepdim=True)
        all_small = (a < 1).all(-1, keepdim=True)
        peak = one_hot(a.argmax(-1), a.shape[-1]).to(a.dtype)
        return where(all_small, peak, m)

    @property
    def variance(self):
        a = self.concentration
        a0 = a.sum(-1, keepdim=True)
        return a * (a0 - a) / (a0.pow(2) * (a0 + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        g = standard_gamma(self.concentration, shape[:len(shape) - len(self.batch_shape) - 1])
        return (g / g.sum(-1, keepdim=True)).clamp(min=float(finfo(g.dtype).tiny))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return xlogy(a - 1, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1)

    def entropy(self):
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return lgamma(a).sum(-1) - lgamma(a0) + (a0 - k) * digamma(a0) - ((a - 1) * digamma(a)).sum(-1)
