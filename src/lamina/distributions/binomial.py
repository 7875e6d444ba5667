"""The binomial distribution."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..ops.creation import arange
from ..tensor import Tensor
from . import constraints
from ._special import lgamma
from .distribution import Distribution
from .utils import (broadcast_all, check_probs_logits, floor, lazy_property, logits_to_probs, probs_to_logits,
                    softplus)

__all__ = ["Binomial"]


class Binomial(Distribution):
    """Binomial(total_count=n, probs=p | logits=l): the number of successes in n trials.

        log p(k) = log C(n, k) + k l - n softplus(l)  (= log C(n, k) + k log p + (n - k) log(1 - p))
        mean = n p;  variance = n p (1 - p);  mode = min(floor((n + 1) p), n)
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        check_probs_logits(probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.to(self.probs.dtype)
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.to(self.logits.dtype)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        which = "probs" if self._param is self.__dict__.get("probs") else "logits"
        new = self._expand_params(Binomial, batch_shape, ("total_count", which), _instance)
        new._param = new.__dict__[which]
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return floor((self.total_count + 1) * self.probs).clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = self.probs  # outside no_grad: the lazy probs keep their graph
        with no_grad():
            n = backend.to_device(self.total_count.array, backend.cpu).astype(np.int64)
            p = backend.to_device(probs.array, backend.cpu).astype(np.float64)
            k = backend.rng(None).binomial(np.broadcast_to(n, shape), np.broadcast_to(p, shape))
            return Tensor._wrap(backend.to_device(k.astype(probs.dtype), probs.device))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_binom = lgamma(n + 1) - lgamma(value + 1) - lgamma(n - value + 1)
        return log_binom + value * self.logits - n * softplus(self.logits)

    def _homogeneous_count(self, what: str) -> int:
        n = self.total_count.array
        top = int(n.max()) if n.size else 0
        if n.size and not bool((n == top).all()):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return top

    def entropy(self):
        top = self._homogeneous_count("entropy")
        values = arange(top + 1, dtype=self._param.dtype).reshape(-1, *([1] * len(self.batch_shape)))
        lp = self.log_prob(values.expand(top + 1, *self.batch_shape) if self.batch_shape else values.reshape(-1))
        return -(lp.exp() * lp).sum(0)

    def enumerate_support(self, expand=True):
        top = self._homogeneous_count("enumerate_support")
        values = arange(1 + top, dtype=self._param.dtype).reshape(-1, *([1] * len(self.batch_shape)))
        return values.expand(top + 1, *self.batch_shape) if expand else values
