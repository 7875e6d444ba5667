"""The Poisson distribution."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from . import constraints
from ._special import lgamma, xlogy
from .exp_family import ExponentialFamily
from .utils import broadcast_all, floor

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """Poisson(rate): counts k >= 0 with rate λ >= 0.

        log p(k) = k log λ - λ - lgamma(k + 1);   mean = variance = λ;  mode = floor(λ)
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Poisson, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return floor(self.rate)

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            lam = backend.to_device(self.rate.array, backend.cpu).astype(np.float64)
            k = backend.rng(None).poisson(np.broadcast_to(lam, shape))
            return Tensor._wrap(backend.to_device(k.astype(self.rate.dtype), self.rate.device))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return xlogy(value, rate) - rate - lgamma(value + 1)
