"""The one-hot categorical distribution (a categorical draw as a one-hot vector)."""
from __future__ import annotations

from ..ops.index import one_hot
from ..tensor import Tensor
from . import constraints
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(Distribution):
    """OneHotCategorical(probs=p) or (logits=l): a draw is e_k (one-hot of length K) with probability p_k.

        log p(e_k) = log p_k;   entropy = -sum_k p_k log p_k;   mean = p;  variance = p (1 - p)
        event_shape = (K,)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        param = self._categorical._param
        super().__init__(self._categorical.batch_shape, param.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategorical, _instance)
        new._categorical = self._categorical.expand(tuple(batch_shape))
        Distribution.__init__(new, tuple(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _param(self):
        return self._categorical._param

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        p = self._categorical.probs
        return one_hot(p.argmax(-1), p.shape[-1]).to(p.dtype)

    @property
    def variance(self):
        p = self._categorical.probs
        return p * (1 - p)

    def sample(self, sample_shape=()):
        p = self._categorical.probs
        idx = self._categorical.sample(sample_shape)
        return one_hot(idx, p.shape[-1]).to(p.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        eye = Tensor._wrap(self._param.xp.eye(n, dtype=self._param.dtype))
        values = eye.reshape(n, *([1] * len(self.batch_shape)), n)
        return values.expand(n, *self.batch_shape, n) if expand else values

    def __repr__(self):
        c = self._categorical
        name = "probs" if c._param is c.__dict__.get("probs") else "logits"
        return f"{type(self).__name__}({name}: {c._param.shape})"


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose ``rsample`` passes gradients straight through (Bengio et al., 2013):
    forward value is the one-hot draw s, gradient is that of p:  y = s + p - stop_grad(p)."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        s = self.sample(sample_shape)
        p = self._categorical.probs
        return s + (p - p.detach())
