"""KL divergences KL(p || q) = E_p[log p(x) - log q(x)], registered per pair of distribution types.

``kl_divergence(p, q)`` finds the most specific registered pair for ``(type(p), type(q))``
(by method-resolution order: p's type first, then q's) and raises NotImplementedError when
none applies. ``@register_kl(P, Q)`` adds a pair. This file holds the same-family pairs;
``kl_cross.py`` the pairs between families (many of them +inf: q has a smaller support).

    >>> kl_divergence(Normal(mu, sigma), Normal(0., 1.))   # 0.5 (σ² + μ² - 1 - log σ²)
"""
from __future__ import annotations

import math
import warnings

from ..ops.elementwise import where
from ..tensor import Tensor
from ._linalg import batch_mahalanobis, diagonal, solve_triangular
from ._special import digamma, lgamma, xlogy
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import Gumbel
from .half_normal import HalfNormal
from .independent import Independent
from .laplace import Laplace
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from .utils import euler_constant, scalar_like, softplus, sum_rightmost

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict = {}
_KL_MEMOIZE: dict = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for p of ``type_p`` and q of ``type_q``.

    >>> @register_kl(MyDist, Normal)
    ... def kl_mine_normal(p, q): ...
    """
    if not (isinstance(type_p, type) and issubclass(type_p, Distribution)):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not (isinstance(type_q, type) and issubclass(type_q, Distribution)):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()
        return fun

    return decorator


def _dispatch_kl(type_p, type_q):
    matches = [(p, q) for (p, q) in _KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return NotImplemented
    left = min(matches, key=lambda m: (type_p.__mro__.index(m[0]), type_q.__mro__.index(m[1])))
    right = min(matches, key=lambda m: (type_q.__mro__.index(m[1]), type_p.__mro__.index(m[0])))
    if _KL_REGISTRY[left] is not _KL_REGISTRY[right]:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please register_kl"
                      f"({left[0].__name__}, {right[1].__name__})", RuntimeWarning, stacklevel=3)
    return _KL_REGISTRY[left]


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) = E_p[log p(x) - log q(x)], elementwise over the (broadcast) batch shape."""
    key = (type(p), type(q))
    fun = _KL_MEMOIZE.get(key)
    if fun is None:
        fun = _KL_MEMOIZE[key] = _dispatch_kl(*key)
    if fun is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
                                  f"{type(q).__name__}")
    return fun(p, q)


def _inf_like(x: Tensor) -> Tensor:
    return Tensor._wrap(x.xp.full(x.shape, math.inf, dtype=x.dtype))


def _inf_where(cond, x: Tensor) -> Tensor:
    return where(cond, scalar_like(x, math.inf), x)


# ---------------------------------------------------------------- same family
@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # p log(p/q) + (1-p) log((1-p)/(1-q)), with log p = -softplus(-l) and log(1-p) = -softplus(l)
    pp = p.probs
    t1 = pp * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(pp == 0, scalar_like(t1, 0.0), t1)
    t2 = (1 - pp) * (softplus(q.logits) - softplus(p.logits))
    t2 = where(pp == 1, scalar_like(t2, 0.0), t2)
    return t1 + t2


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    # n [p log(p/q) + (1-p) log((1-p)/(1-q))]; +inf where p has more trials than q
    if bool((p.total_count.array < q.total_count.array).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    pp = p.probs
    kl = p.total_count * (pp * (p.logits - q.logits) + (-pp).log1p() - (-q.probs).log1p())
    return _inf_where(p.total_count > q.total_count, kl)


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    # sum_k p_k (log p_k - log q_k); +inf where q_k = 0 < p_k, 0 terms where p_k = 0
    t = p.probs * (p.logits - q.logits)
    t = _inf_where(q.probs == 0, t)
    t = where(p.probs == 0, scalar_like(t, 0.0), t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    # log B(aq, bq) - log B(ap, bp) + (ap-aq) ψ(ap) + (bp-bq) ψ(bp) + (aq+bq-ap-bp) ψ(ap+bp)
    ap, bp, aq, bq = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    sp, sq = ap + bp, aq + bq
    t1 = lgamma(aq) + lgamma(bq) + lgamma(sp)
    t2 = lgamma(ap) + lgamma(bp) + lgamma(sq)
    return t1 - t2 + (ap - aq) * digamma(ap) + (bp - bq) * digamma(bp) + (sq - sp) * digamma(sp)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    # lgamma(sum αp) - lgamma(sum αq) - sum (lgamma αp - lgamma αq) + sum (αp - αq)(ψ(αp) - ψ(sum αp))
    ap, aq = p.concentration, q.concentration
    sp, sq = ap.sum(-1), aq.sum(-1)
    t1 = lgamma(sp) - lgamma(sq)
    t2 = (lgamma(ap) - lgamma(aq)).sum(-1)
    t3 = ((ap - aq) * (digamma(ap) - digamma(sp.unsqueeze(-1)))).sum(-1)
    return t1 - t2 + t3


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    # log(λp/λq) + λq/λp - 1
    ratio = q.rate / p.rate
    return ratio - ratio.log() - 1


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    # αq log(βp/βq) + lgamma(αq) - lgamma(αp) + (αp - αq) ψ(αp) + (βq - βp) αp/βp
    ap, bp, aq, bq = p.concentration, p.rate, q.concentration, q.rate
    t1 = aq * (bp / bq).log()
    t2 = lgamma(aq) - lgamma(ap)
    t3 = (ap - aq) * digamma(ap)
    t4 = (bq - bp) * (ap / bp)
    return t1 + t2 + t3 + t4


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    # log(βq/βp) + (μp - μq)/βq + γ βp/βq + exp((μq - μp)/βq) Γ(1 + βp/βq) - (1 + γ)
    ratio = p.scale / q.scale
    lq, lp = q.loc / q.scale, p.loc / q.scale
    t1 = -ratio.log() - lq + lp
    t2 = ratio * euler_constant
    t3 = (lq + lgamma(ratio + 1) - lp).exp()
    return t1 + t2 + t3 - (1 + euler_constant)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    # -H(p) - E_p[k] log(1 - q) - log q  with E_p[k] = 1/p - 1
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    # log(bq/bp) + |μp - μq|/bq + (bp/bq) exp(-|μp - μq|/bp) - 1
    ratio = p.scale / q.scale
    d = (p.loc - q.loc).abs()
    return -ratio.log() + d / q.scale + ratio * (-d / p.scale).exp() - 1


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    # ½ (σp²/σq² + (μp - μq)²/σq² - 1 - log(σp²/σq²))
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    # λp log(λp/λq) - (λp - λq)  (0 log 0 = 0)
    return xlogy(p.rate, p.rate) - xlogy(p.rate, q.rate) - (p.rate - q.rate)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError("KL between TransformedDistributions with different transforms is not implemented")
    if p.event_shape != q.event_shape:
        raise NotImplementedError("KL between TransformedDistributions with different event shapes is not "
                                  "implemented")
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    # log((hq - lq)/(hp - lp)), +inf unless [lp, hp] ⊂ [lq, hq]
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _inf_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    # log(((γp + γq)² + (μp - μq)²) / (4 γp γq))  (Chyzak and Nielsen, 2019)
    t1 = ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
    t2 = (p.scale * q.scale * 4).log()
    return t1 - t2


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims is not "
                                  "implemented")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


# ---------------------------------------------------------------- multivariate normals
def _kl_gaussians(loc_p, tril_p, loc_q, tril_q, batch_shape):
    """½ (tr(Σq⁻¹ Σp) + (μq-μp)ᵀ Σq⁻¹ (μq-μp) - k) + log det Lq - log det Lp, with Σ = L Lᵀ."""
    k = loc_p.shape[-1]
    half_log_det = diagonal(tril_q).log().sum(-1) - diagonal(tril_p).log().sum(-1)
    m = solve_triangular(tril_q, tril_p)                    # Lq⁻¹ Lp: tr(Σq⁻¹ Σp) = ||m||_F²
    trace = (m * m).sum((-2, -1))
    maha = batch_mahalanobis(tril_q, loc_q - loc_p)
    out = half_log_det + 0.5 * (trace + maha - k)
    return out if out.shape == tuple(batch_shape) else out.expand(*batch_shape)


def _batch(p, q):
    import numpy as np

    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes cannot be "
                         "computed")
    return tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    return _kl_gaussians(p.loc, p._unbroadcasted_scale_tril, q.loc, q._unbroadcasted_scale_tril, _batch(p, q))


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrankmultivariatenormal_lowrankmultivariatenormal(p, q):
    return _kl_gaussians(p.loc, p.scale_tril, q.loc, q.scale_tril, _batch(p, q))


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_multivariatenormal_lowrankmultivariatenormal(p, q):
    return _kl_gaussians(p.loc, p._unbroadcasted_scale_tril, q.loc, q.scale_tril, _batch(p, q))


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrankmultivariatenormal_multivariatenormal(p, q):
    return _kl_gaussians(p.loc, p.scale_tril, q.loc, q._unbroadcasted_scale_tril, _batch(p, q))


from . import kl_cross  # noqa: E402,F401  (registers the pairs between families)
