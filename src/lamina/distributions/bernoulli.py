"""The Bernoulli distribution."""
from __future__ import annotations

import math

from ..autograd import no_grad
from ..ops.elementwise import where
from . import constraints
from .exp_family import ExponentialFamily
from .utils import (broadcast_all, check_probs_logits, lazy_property, logits_to_probs, probs_to_logits, scalar_like,
                    softplus, uniform01)

__all__ = ["Bernoulli"]


class Bernoulli(ExponentialFamily):
    """Bernoulli(probs=p) or Bernoulli(logits=l): 1 with probability p = sigmoid(l), else 0.

        log p(x) = x l - softplus(l)  (= x log p + (1 - x) log(1 - p));   entropy = softplus(l) - l p
        mean = p;  variance = p (1 - p)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        check_probs_logits(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        which = "probs" if self._param is self.__dict__.get("probs") else "logits"
        new = self._expand_params(Bernoulli, batch_shape, (which,), _instance)
        new._param = new.__dict__[which]
        return new

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
        return self.probs

    @property
    def mode(self):
        p = self.probs
        m = (p >= 0.5).to(p.dtype)
        return where(p == 0.5, scalar_like(m, math.nan), m)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = self.probs  # outside no_grad: the lazy probs keep their graph
        with no_grad():
            return (uniform01(shape, p) < p).to(p.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return logits * value - softplus(logits)

    def entropy(self):
        return softplus(self.logits) - self.logits * self.probs

    def enumerate_support(self, expand=True):
        from ..ops.creation import arange

        values = arange(2, dtype=self._param.dtype).reshape(-1, *([1] * len(self.batch_shape)))
        return values.expand(2, *self.batch_shape) if expand else values
