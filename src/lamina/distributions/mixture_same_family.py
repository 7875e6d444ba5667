"""MixtureSameFamily: a finite mixture whose components come from one batched distribution."""
from __future__ import annotations

from ..autograd import no_grad
from ..nn.activation_fns import log_softmax
from ..tensor import Tensor
from . import constraints
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    """MixtureSameFamily(mixture_distribution=Categorical(π), component_distribution=C):
    the last batch dim of C indexes the K components.

        log p(x) = logsumexp_k (log π_k + log p_k(x))
        mean = sum_k π_k μ_k;  variance = sum_k π_k σ²_k + sum_k π_k (μ_k - mean)²
        cdf(x) = sum_k π_k cdf_k(x)

    >>> gmm = MixtureSameFamily(Categorical(logits=w), Normal(mu, sigma))   # w, mu, sigma: (K,)
    """

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of lamina.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of lamina.distributions.Distribution")
        mdbs = mixture_distribution.batch_shape
        cdbs = component_distribution.batch_shape[:-1]
        for size1, size2 in zip(reversed(mdbs), reversed(cdbs)):
            if size1 != 1 and size2 != 1 and size1 != size2:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mdbs}) is not compatible with "
                                 f"`component_distribution.batch_shape`({cdbs})")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1] if component_distribution.batch_shape else None
        if kc is not None and km != kc:
            raise ValueError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        if kc is None:
            raise ValueError("`component_distribution` needs a batch dimension for the mixture components")
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = tuple(batch_shape)
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        new._component_distribution = self._component_distribution.expand(batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        Distribution.__init__(new, batch_shape, new._component_distribution.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self):
        return self._component_distribution.support

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _weights(self):
        """Mixture probabilities shaped to broadcast against component statistics."""
        p = self._mixture_distribution.probs
        return p.reshape(*p.shape, *([1] * self._event_ndims))

    @property
    def mean(self):
        return (self._weights() * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        w = self._weights()
        d = -1 - self._event_ndims
        mean_cond_var = (w * self._component_distribution.variance).sum(d)
        diff = self._component_distribution.mean - self._pad(self.mean)
        var_cond_mean = (w * diff * diff).sum(d)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        x = self._pad(x)
        cdf_x = self._component_distribution.cdf(x)
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        x = self._pad(x)
        lp_x = self._component_distribution.log_prob(x)
        lp_m = log_softmax(self._mixture_distribution.logits, dim=-1)
        return (lp_x + lp_m).logsumexp(-1)

    def sample(self, sample_shape=()):
        with no_grad():
            comps = self._component_distribution.sample(sample_shape)        # S + B + (K,) + E
            axis = comps.ndim - 1 - self._event_ndims                        # the component axis
            s_shape = comps.shape[:axis - len(self.batch_shape)]
            idx = self._mixture_distribution.sample(s_shape).array           # S + B_mix
            lead = axis - idx.ndim
            idx = idx.reshape(idx.shape[:len(s_shape)] + (1,) * lead + idx.shape[len(s_shape):]
                              + (1,) * (1 + self._event_ndims))
            xp = comps.xp
            idx = xp.broadcast_to(idx, comps.shape[:axis] + (1,) + comps.shape[axis + 1:])
            picked = xp.take_along_axis(comps.array, idx, axis=axis)
            return Tensor._wrap(xp.squeeze(picked, axis=axis))

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  {self._component_distribution!r})")
