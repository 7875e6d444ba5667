"""The relaxed (Concrete / binary Gumbel-softmax) Bernoulli distribution."""
from __future__ import annotations

from . import constraints
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import SigmoidTransform
from .utils import (as_float_tensor, broadcast_all, check_probs_logits, clamp_probs, lazy_property,
                    logits_to_probs, probs_to_logits, softplus, uniform01)

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]


class LogitRelaxedBernoulli(Distribution):
    """LogitRelaxedBernoulli(temperature τ, probs | logits l): the logit of a RelaxedBernoulli draw,
    a logistic variable with location l/τ and scale 1/τ.

        log p(y) = log τ + l - τ y - 2 softplus(l - τ y)
        rsample: y = (l + log u - log(1 - u)) / τ, u ~ U(0, 1)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        check_probs_logits(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        self.temperature = as_float_tensor(temperature, self._param)
        super().__init__(self._param.shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        which = "probs" if self._param is self.__dict__.get("probs") else "logits"
        new = self._expand_params(LogitRelaxedBernoulli, batch_shape, (which,), _instance)
        new._param = new.__dict__[which]
        new.temperature = self.temperature
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

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(*shape) if self.probs.shape != shape else self.probs)
        u = clamp_probs(uniform01(shape, probs))
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return self.temperature.log() + diff - softplus(diff) * 2


class RelaxedBernoulli(TransformedDistribution):
    """RelaxedBernoulli(temperature τ, probs | logits): sigmoid of a LogitRelaxedBernoulli draw, a
    differentiable stand-in for a Bernoulli draw on (0, 1) (Maddison et al.; Jang et al., 2017).
    As τ -> 0 the draws approach {0, 1}."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedBernoulli, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs
