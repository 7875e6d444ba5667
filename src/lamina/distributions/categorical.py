"""The categorical distribution over {0, ..., K-1}."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import check_probs_logits, finfo, full_like, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical"]


class Categorical(Distribution):
    """Categorical(probs=p) or Categorical(logits=l): class k with probability p_k = softmax(l)_k.

        log p(k) = l_k - logsumexp(l);   entropy = -sum_k p_k log p_k
        probs/logits have shape batch_shape + (K,); a draw is an int64 index of shape batch_shape.

    ``probs`` are normalised to sum to 1 (non-negative required); ``logits`` need not be normalised.

    >>> pi = Categorical(logits=policy(obs))          # obs: (B, n_obs) -> logits (B, n_actions)
    >>> a = pi.sample(); pi.log_prob(a).shape         # (B,)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        check_probs_logits(probs, logits)
        if probs is not None:
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = self._param.shape[:-1] if self._param.ndim > 1 else ()
        super().__init__(batch_shape, (), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        which = "probs" if self._param is self.__dict__.get("probs") else "logits"
        new = self._expand_params(Categorical, batch_shape, (which,), _instance)
        new._param = new.__dict__[which]
        new._num_events = self._num_events
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return full_like(self._param, math.nan, self._extended_shape())

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return full_like(self._param, math.nan, self._extended_shape())

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = self.probs  # outside no_grad: the lazy probs keep their graph for a later entropy()
        with no_grad():
            p = probs.array.reshape(-1, self._num_events)
            xp = probs.xp
            cdf = xp.cumsum(p, axis=-1)
            cdf = cdf / cdf[:, -1:]
            n = int(np.prod(shape[:len(shape) - len(self.batch_shape)], dtype=np.int64))
            from .. import backend

            u = backend.to_device(backend.rng(None).random((n, p.shape[0])), probs.device)
            idx = (u[..., None] >= cdf).sum(-1)
            idx = xp.minimum(idx, self._num_events - 1).astype(np.int64)
            return Tensor._wrap(idx.reshape(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        v = value.long().unsqueeze(-1)
        shape = tuple(np.broadcast_shapes(v.shape, self.logits.shape))
        v = v.expand(*shape[:-1], 1)
        logits = self.logits if self.logits.shape == shape else self.logits.expand(*shape)
        return logits.gather(-1, v).squeeze(-1)

    def entropy(self):
        logits = self.logits.clamp(min=float(finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        from ..ops.creation import arange

        values = arange(self._num_events).reshape(-1, *([1] * len(self.batch_shape)))
        return values.expand(self._num_events, *self.batch_shape) if expand else values
