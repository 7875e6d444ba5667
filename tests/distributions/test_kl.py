"""KL divergences: every registered pair against torch's value and gradients (float64), the
dispatch rules, and NotImplementedError for unregistered pairs."""
import numpy as np
import pytest

import lamina
import lamina.distributions as D
from lamina.distributions.kl import _KL_REGISTRY
from helpers import parity

torch = pytest.importorskip("torch")
TD = torch.distributions

B = (2, 3)


def _u(seed, lo, hi, shape=B):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def _n(seed, shape=B):
    return np.random.default_rng(seed).standard_normal(shape)


def _tril(seed, k=3):
    a = np.tril(_n(seed, (2, k, k)), -1)
    return a + np.eye(k) * _u(seed + 7, 0.5, 1.5, (2, k))[..., None]


# family -> (arrays(seed), build(module, *tensors))
FAMILIES = {
    "Normal": (lambda s: [_n(s), _u(s, 0.5, 2)], lambda m, a, b: m.Normal(a, b)),
    "LogNormal": (lambda s: [_n(s) * 0.3, _u(s, 0.3, 1)], lambda m, a, b: m.LogNormal(a, b)),
    "HalfNormal": (lambda s: [_u(s, 0.5, 2)], lambda m, a: m.HalfNormal(a)),
    "Uniform": (lambda s: [_u(s, 0.05, 0.4), _u(s + 1, 0.6, 0.95)], lambda m, a, b: m.Uniform(a, b)),
    "Exponential": (lambda s: [_u(s, 0.5, 2)], lambda m, a: m.Exponential(a)),
    "Laplace": (lambda s: [_n(s), _u(s, 0.5, 2)], lambda m, a, b: m.Laplace(a, b)),
    "Cauchy": (lambda s: [_n(s), _u(s, 0.5, 2)], lambda m, a, b: m.Cauchy(a, b)),
    "Gumbel": (lambda s: [_n(s), _u(s, 0.5, 2)], lambda m, a, b: m.Gumbel(a, b)),
    "Gamma": (lambda s: [_u(s, 0.5, 3), _u(s + 1, 0.5, 2)], lambda m, a, b: m.Gamma(a, b)),
    "Beta": (lambda s: [_u(s, 0.5, 3), _u(s + 1, 0.5, 3)], lambda m, a, b: m.Beta(a, b)),
    "Dirichlet": (lambda s: [_u(s, 0.5, 3, (2, 4))], lambda m, a: m.Dirichlet(a)),
    "Bernoulli": (lambda s: [_u(s, 0.1, 0.9)], lambda m, p: m.Bernoulli(probs=p)),
    "Binomial": (lambda s: [_u(s, 0.1, 0.9)], lambda m, p: m.Binomial(10, probs=p)),
    "Geometric": (lambda s: [_u(s, 0.1, 0.9)], lambda m, p: m.Geometric(probs=p)),
    "Poisson": (lambda s: [_u(s, 0.5, 3)], lambda m, r: m.Poisson(r)),
    "Categorical": (lambda s: [_n(s, (2, 4))], lambda m, l: m.Categorical(logits=l)),
    "OneHotCategorical": (lambda s: [_n(s, (2, 4))], lambda m, l: m.OneHotCategorical(logits=l)),
    "MultivariateNormal": (lambda s: [_n(s, (2, 3)), _tril(s)],
                           lambda m, loc, l: m.MultivariateNormal(loc, scale_tril=l.tril())),
    "LowRankMultivariateNormal": (lambda s: [_n(s, (2, 3)), _n(s + 1, (2, 3, 2)), _u(s, 0.5, 2, (2, 3))],
                                  lambda m, loc, w, d: m.LowRankMultivariateNormal(loc, w, d)),
    "Independent": (lambda s: [_n(s), _u(s, 0.5, 2)], lambda m, a, b: m.Independent(m.Normal(a, b), 1)),
    "TransformedDistribution": (lambda s: [_n(s) * 0.3, _u(s, 0.3, 1)],
                                lambda m, a, b: m.TransformedDistribution(m.Normal(a, b), m.transforms.ExpTransform())),
}


def _pairs():
    return sorted((p.__name__, q.__name__) for p, q in _KL_REGISTRY)


def test_every_registered_pair_has_a_test_family():
    missing = [pq for pq in _pairs() if pq[0] not in FAMILIES or pq[1] not in FAMILIES]
    assert not missing, f"registered KL pairs without a test family: {missing}"
    torch_pairs = {(p.__name__, q.__name__) for p, q in TD.kl._KL_REGISTRY}
    ours = set(_pairs())
    expected = {pq for pq in torch_pairs if pq[0] in FAMILIES and pq[1] in FAMILIES and "ExponentialFamily" not in pq}
    assert expected <= ours, f"torch registers pairs we do not: {sorted(expected - ours)}"


@pytest.mark.parametrize("pname,qname", _pairs())
def test_kl_matches_torch(pname, qname):
    pa, pb = FAMILIES[pname]
    qa, qb = FAMILIES[qname]
    p_arrays, q_arrays = pa(0), qa(1)
    n = len(p_arrays)

    def make(mod):
        return lambda *ts: mod.kl_divergence(pb(mod, *ts[:n]), qb(mod, *ts[n:]))
    parity(make(D), *p_arrays, *q_arrays, torch_fn=make(TD), atol=1e-8, rtol=1e-6)


def test_kl_infinite_where_supports_do_not_nest():
    p = D.Uniform(lamina.tensor([0.0, -1.0, 0.2]), lamina.tensor([1.0, 0.5, 0.8]))
    q = D.Uniform(lamina.tensor([0.0, 0.0, 0.0]), lamina.tensor([1.0, 1.0, 1.0]))
    tp = TD.Uniform(torch.tensor([0.0, -1.0, 0.2]), torch.tensor([1.0, 0.5, 0.8]))
    tq = TD.Uniform(torch.zeros(3), torch.ones(3))
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), TD.kl_divergence(tp, tq).numpy(), rtol=1e-6)
    assert np.isinf(D.kl_divergence(D.Normal(0.0, 1.0), D.Uniform(0.0, 1.0)).numpy())
    beta = D.kl_divergence(D.Uniform(lamina.tensor([-0.5, 0.2]), lamina.tensor([0.5, 0.7])),
                           D.Beta(lamina.tensor([2.0, 2.0]), lamina.tensor([3.0, 3.0]))).numpy()
    assert np.isinf(beta[0]) and np.isfinite(beta[1])


def test_kl_categorical_with_zero_probabilities():
    p = np.array([[0.0, 0.5, 0.5], [0.2, 0.8, 0.0]])
    q = np.array([[0.3, 0.7, 0.0], [0.1, 0.1, 0.8]])
    lv = D.kl_divergence(D.Categorical(probs=lamina.tensor(p)), D.Categorical(probs=lamina.tensor(q))).numpy()
    tv = TD.kl_divergence(TD.Categorical(probs=torch.tensor(p)), TD.Categorical(probs=torch.tensor(q))).numpy()
    np.testing.assert_allclose(lv, tv)
    assert np.isinf(lv[0]) and np.isfinite(lv[1])


def test_kl_binomial_needs_enough_trials_in_q():
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Binomial(3, probs=lamina.tensor(0.5)), D.Binomial(5, probs=lamina.tensor(0.5)))
    assert np.isinf(D.kl_divergence(D.Binomial(5, probs=lamina.tensor(0.5)),
                                    D.Binomial(3, probs=lamina.tensor(0.5))).item())


def test_unregistered_pairs_raise_not_implemented():
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(logits=lamina.zeros(3)))
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.LogNormal(0.0, 1.0), D.Gumbel(0.0, 1.0))  # different transforms
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Independent(D.Normal(lamina.zeros(2, 3), 1.0), 1),
                        D.Independent(D.Normal(lamina.zeros(2, 3), 1.0), 2))
    with pytest.raises(ValueError):
        D.kl_divergence(D.MultivariateNormal(lamina.zeros(2), scale_tril=lamina.eye(2)),
                        D.MultivariateNormal(lamina.zeros(3), scale_tril=lamina.eye(3)))


def test_register_kl_most_specific_pair_wins():
    class MyNormal(D.Normal):
        pass

    assert np.isclose(D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item(), 0.5)

    @D.register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return lamina.tensor(42.0)

    try:
        assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == 42.0
        assert np.isclose(D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 1.0)).item(), 0.5)
        assert D.kl_divergence(D.Chi2(lamina.tensor(3.0)), D.Chi2(lamina.tensor(3.0))).item() == pytest.approx(0.0)
    finally:
        del _KL_REGISTRY[MyNormal, D.Normal]
        D.kl.__dict__["_KL_MEMOIZE"].clear()
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def test_vae_kl_term():
    """The VAE's KL(q(z|x) || N(0, I)) summed over latent dims, with gradients to mu and log_var."""
    mu_np, lv_np = _n(0, (4, 8)), _n(1, (4, 8)) * 0.3

    def make(mod, lib):
        def fn(mu, log_var):
            q = mod.Independent(mod.Normal(mu, (log_var * 0.5).exp()), 1)
            prior = mod.Independent(mod.Normal(lib.zeros_like(mu), lib.ones_like(mu)), 1)
            return mod.kl_divergence(q, prior)
        return fn
    out = parity(make(D, lamina), mu_np, lv_np, torch_fn=make(TD, torch), atol=1e-10)[0]
    closed = -0.5 * (1 + lv_np - mu_np ** 2 - np.exp(lv_np)).sum(-1)
    np.testing.assert_allclose(out.detach().numpy(), closed, rtol=1e-10)
