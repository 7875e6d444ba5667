"""The geometric distribution (failures before the first success)."""
from __future__ import annotations

from ..autograd import no_grad
from ..ops.elementwise import where
from . import constraints
from .distribution import Distribution
from .utils import (broadcast_all, check_probs_logits, finfo, floor, full_like, lazy_property, logits_to_probs,
                    probs_to_logits, scalar_like, softplus, uniform01)

__all__ = ["Geometric"]


class Geometric(Distribution):
    """Geometric(probs=p | logits=l): the number k >= 0 of failures before the first success, 0 < p <= 1.

        log p(k) = k log(1 - p) + log p;   entropy = (softplus(l) - l p) / p
        mean = 1/p - 1;  variance = (1/p - 1) / p;  mode = 0
        sample: k = floor(log u / log(1 - p)), u ~ U(0, 1)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        check_probs_logits(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        param = self.probs if probs is not None else self.logits
        super().__init__(param.shape, (), validate_args=validate_args)
        if self._validate_args and probs is not None:
            bad = ~(self.probs.array > 0)
            if bad.any():
                raise ValueError(
                    f"Expected parameter probs (Tensor of shape {tuple(self.probs.shape)}) of distribution {self!r} "
                    f"to be positive but found invalid values:\n{self.probs.array[bad]}")

    def expand(self, batch_shape, _instance=None):
        names = ("probs",) if "probs" in self.__dict__ else ("logits",)
        return self._expand_params(Geometric, batch_shape, names, _instance)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return full_like(self.probs, 0.0)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = self.probs  # outside no_grad: the lazy probs keep their graph
        with no_grad():
            u = uniform01(shape, p).clamp(min=float(finfo(p.dtype).tiny))
            return floor(u.log() / (-p).log1p())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        certain = (probs == 1) & (value == 0)
        p = where(certain, scalar_like(probs, 0.0), probs)
        return value * (-p).log1p() + self.probs.log()

    def entropy(self):
        return (softplus(self.logits) - self.logits * self.probs) / self.probs
