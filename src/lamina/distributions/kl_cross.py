"""KL(p || q) between different families: -H(p) - E_p[log q(x)] in closed form, or +inf where
q's support does not cover p's (an unbounded p against a bounded or half-line q)."""
from __future__ import annotations

import math

from ..tensor import Tensor
from ._special import digamma, lgamma, xlogy
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .exponential import Exponential
from .gamma import Gamma
from .gumbel import Gumbel
from .kl import _inf_where, register_kl
from .laplace import Laplace
from .normal import Normal
from .poisson import Poisson
from .uniform import Uniform
from .utils import euler_constant

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _infinite(p) -> Tensor:
    """+inf of p's batch shape (q cannot explain p's draws)."""
    like = next(v for v in vars(p).values() if isinstance(v, Tensor) and v.dtype.kind == "f")
    return Tensor._wrap(like.xp.full(p.batch_shape, math.inf, dtype=like.dtype))


def _neg_normal_log_lik(q, mean, second_moment):
    """-E[log N(x; μ, σ²)] = ½ log(2πσ²) + (E[x²] - 2μ E[x] + μ²) / (2σ²)."""
    var = q.scale.pow(2)
    return q.scale.log() + _HALF_LOG_2PI + (second_moment - 2 * q.loc * mean + q.loc.pow(2)) / (2 * var)


def _neg_gumbel_log_lik(q, mean, laplace_at):
    """-E[log Gumbel(x; μ, s)] = log s + (E[x] - μ)/s + exp(μ/s) E[exp(-x/s)];  laplace_at(t) = E[exp(-t x)]."""
    return q.scale.log() + (mean - q.loc) / q.scale + (q.loc / q.scale).exp() * laplace_at(q.scale.reciprocal())


def _beta_moments(p):
    a, b = p.concentration1, p.concentration0
    m = a / (a + b)
    return m, m * (1 - m) / (a + b + 1) + m * m


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    # -H(p) - p log λ + λ
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    # -H(p) - log λ + λ E[x]
    return -p.entropy() - q.rate.log() + q.rate * _beta_moments(p)[0]


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    # -H(p) + lgamma(α) - α log β - (α - 1) E[log x] + β E[x],  E[log x] = ψ(a) - ψ(a + b)
    a, b = p.concentration1, p.concentration0
    e_log = digamma(a) - digamma(a + b)
    al, be = q.concentration, q.rate
    return -p.entropy() + lgamma(al) - al * be.log() - (al - 1) * e_log + be * _beta_moments(p)[0]


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    m, m2 = _beta_moments(p)
    return -p.entropy() + _neg_normal_log_lik(q, m, m2)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return _inf_where((q.low > 0) | (q.high < 1), result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    # -α log(β/λ) + β/λ + lgamma(α) + α γ - (1 + γ)   (E[log x] = -γ - log λ)
    ratio = q.rate / p.rate
    return -q.concentration * ratio.log() + ratio + lgamma(q.concentration) + q.concentration * euler_constant \
        - (1 + euler_constant)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    # E[exp(-t x)] = λ / (λ + t)
    return -p.entropy() + _neg_gumbel_log_lik(q, p.rate.reciprocal(), lambda t: p.rate / (p.rate + t))


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    m = p.rate.reciprocal()
    return -p.entropy() + _neg_normal_log_lik(q, m, 2 * m * m)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # E[exp(-t x)] = (β / (β + t))^α
    a, b = p.concentration, p.rate
    return -p.entropy() + _neg_gumbel_log_lik(q, a / b, lambda t: (a * (b / (b + t)).log()).exp())


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    a, b = p.concentration, p.rate
    return -p.entropy() + _neg_normal_log_lik(q, a / b, a * (a + 1) / b.pow(2))


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    m = p.loc + p.scale * euler_constant
    var = (p.scale * math.pi).pow(2) / 6
    return -p.entropy() + _neg_normal_log_lik(q, m, var + m * m)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    return -p.entropy() + _neg_normal_log_lik(q, p.loc, 2 * p.scale.pow(2) + p.loc.pow(2))


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # E[exp(-t x)] = exp(-t μ + t² σ² / 2)
    return -p.entropy() + _neg_gumbel_log_lik(q, p.loc, lambda t: (-t * p.loc + 0.5 * (t * p.scale).pow(2)).exp())


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # -H(p) + log(2b) + E|x - μq| / b,  E|x - μq| = σ √(2/π) exp(-d²/2σ²) + d erf(d / (σ√2)), d = μp - μq
    from ..ops.special import erf

    d = p.loc - q.loc
    ratio = d / p.scale
    e_abs = p.scale * math.sqrt(2 / math.pi) * (-0.5 * ratio.pow(2)).exp() + d * erf(ratio / math.sqrt(2))
    return -p.entropy() + (2 * q.scale).log() + e_abs / q.scale


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    # -log(h - l) - (a-1) E[log x] - (b-1) E[log(1-x)] + log B(a, b) on [l, h] ⊂ [0, 1]
    lo, hi = p.low, p.high
    width = hi - lo
    e_log_x = (xlogy(hi, hi) - xlogy(lo, lo) - width) / width
    e_log_1mx = -(xlogy(1 - hi, 1 - hi) - xlogy(1 - lo, 1 - lo) + width) / width
    a, b = q.concentration1, q.concentration0
    result = -width.log() - (a - 1) * e_log_x - (b - 1) * e_log_1mx + lgamma(a) + lgamma(b) - lgamma(a + b)
    return _inf_where((hi > 1) | (lo < 0), result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -(p.high - p.low).log() - q.rate.log() + q.rate * (p.high + p.low) / 2
    return _inf_where(p.low < 0, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    lo, hi = p.low, p.high
    width = hi - lo
    e_log_x = (xlogy(hi, hi) - xlogy(lo, lo) - width) / width
    a, b = q.concentration, q.rate
    result = -width.log() - a * b.log() + lgamma(a) - (a - 1) * e_log_x + b * (hi + lo) / 2
    return _inf_where(lo < 0, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    # E[exp(-t x)] = (exp(-t l) - exp(-t h)) / (t (h - l))
    lo, hi = p.low, p.high
    width = hi - lo

    def laplace_at(t):
        return ((-t * lo).exp() - (-t * hi).exp()) / (t * width)

    return -width.log() + _neg_gumbel_log_lik(q, (hi + lo) / 2, laplace_at)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    m = (p.high + p.low) / 2
    var = (p.high - p.low).pow(2) / 12
    return -(p.high - p.low).log() + _neg_normal_log_lik(q, m, var + m * m)


# q's support is a bounded interval or a half-line that p's unbounded (or larger) support exceeds
for _p, _qs in ((Exponential, (Beta, Uniform)), (Gamma, (Beta, Uniform)),
                (Gumbel, (Beta, Exponential, Gamma, Uniform)), (Laplace, (Beta, Exponential, Gamma, Uniform)),
                (Normal, (Beta, Exponential, Gamma, Uniform)), (Poisson, (Bernoulli, Binomial))):
    for _q in _qs:
        register_kl(_p, _q)(lambda p, q: _infinite(p))
