"""Multivariate families (MultivariateNormal, LowRankMultivariateNormal, Dirichlet) and the
wrappers Independent and MixtureSameFamily, against torch.distributions (float64)."""
import numpy as np
import pytest

import lamina
import lamina.distributions as D
from _dist_parity import dist_parity, pos, real
from helpers import gradcheck, parity

torch = pytest.importorskip("torch")
TD = torch.distributions


def _spd(batch, k, seed=0):
    a = np.random.default_rng(seed).standard_normal(batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def _tril(batch, k, seed=0):
    a = np.tril(np.random.default_rng(seed).standard_normal(batch + (k, k)), -1)
    return a + np.eye(k) * np.random.default_rng(seed + 1).uniform(0.5, 2.0, batch + (k,))[..., None]


@pytest.mark.parametrize("matrix", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_mvn(matrix):
    m = _tril((2,), 3) if matrix == "scale_tril" else _spd((2,), 3)
    dist_parity("MultivariateNormal", {"loc": real((2, 3)), matrix: m}, value=real((4, 2, 3), 1),
                outs=("log_prob", "entropy", "mean", "variance"), atol=1e-8, rtol=1e-6)

    def derived(mod):
        # scale_tril's upper triangle is structurally zero: tril() makes its gradient zero in both libraries
        def fn(loc, mat):
            d = mod.MultivariateNormal(loc, **{matrix: mat.tril() if matrix == "scale_tril" else mat})
            return d.covariance_matrix, d.precision_matrix, d.scale_tril
        return fn
    parity(derived(D), real((2, 3)), m, torch_fn=derived(TD), atol=1e-8, rtol=1e-6)


def test_mvn_broadcasts_loc_against_matrix_batch():
    dist_parity("MultivariateNormal", {"loc": real((3,)), "scale_tril": _tril((2,), 3)}, value=real((5, 1, 3), 2),
                outs=("log_prob", "entropy", "variance"))
    ld = D.MultivariateNormal(lamina.tensor(real((4, 1, 3))), scale_tril=lamina.tensor(_tril((2,), 3)))
    assert ld.batch_shape == (4, 2) and ld.event_shape == (3,)
    assert ld.sample((5,)).shape == (5, 4, 2, 3)


def test_cholesky_and_triangular_solve_gradients():
    from lamina.distributions._linalg import cholesky, solve_triangular

    gradcheck(lambda a: cholesky((a + a.mT) * 0.5), _spd((2,), 3))
    gradcheck(lambda l, b: solve_triangular(l, b), _tril((2,), 3), real((2, 3, 2)))
    gradcheck(lambda l, b: solve_triangular(l.mT, b, upper=True), _tril((), 3), real((3, 1)))
    parity(lambda a: cholesky(a), _spd((2,), 3), torch_fn=lambda a: torch.linalg.cholesky(a), atol=1e-9)


@pytest.mark.parametrize("rank", [1, 2])
def test_lowrank_mvn(rank):
    params = {"loc": real((2, 3)), "cov_factor": real((2, 3, rank), 1), "cov_diag": pos((2, 3), 2)}
    dist_parity("LowRankMultivariateNormal", params, value=real((4, 2, 3), 3),
                outs=("log_prob", "entropy", "mean", "variance"), atol=1e-8, rtol=1e-6)
    dist_parity("LowRankMultivariateNormal", params,
                outs=("covariance_matrix", "precision_matrix", "scale_tril"), atol=1e-8, rtol=1e-6)


def test_dirichlet():
    conc = pos((2, 4), 0, 0.3, 3.0)
    x = np.random.default_rng(1).dirichlet(np.ones(4), (3, 2))
    dist_parity("Dirichlet", {"concentration": conc}, value=x, outs=("log_prob", "entropy", "mean", "variance"))
    conc = np.array([[0.5, 0.2, 0.3], [1.0, 1.0, 1.0], [0.5, 1.0, 1.0], [1.5, 2.0, 3.0]])
    dist_parity("Dirichlet", {"concentration": conc}, outs=("mode",), grad=False)


def test_independent_normal():
    def make(mod):
        return lambda loc, scale, x: (lambda d: (d.log_prob(x), d.entropy(), d.mean, d.variance))(
            mod.Independent(mod.Normal(loc, scale), 1))
    parity(make(D), real((2, 3)), pos((2, 3)), real((4, 2, 3), 1), torch_fn=make(TD), atol=1e-10)
    d = D.Independent(D.Normal(lamina.zeros(2, 3, 4), lamina.ones(2, 3, 4)), 2)
    assert d.batch_shape == (2,) and d.event_shape == (3, 4) and d.has_rsample
    assert d.rsample((5,)).shape == (5, 2, 3, 4) and d.log_prob(d.sample()).shape == (2,)
    assert repr(d.support) == "IndependentConstraint(Real(), 2)"


def test_mixture_same_family_normal():
    def make(mod):
        def fn(w, mu, sigma, x):
            d = mod.MixtureSameFamily(mod.Categorical(logits=w), mod.Normal(mu, sigma))
            return d.log_prob(x), d.mean, d.variance, d.cdf(x)
        return fn
    parity(make(D), real((2, 3)), real((2, 3), 1), pos((2, 3)), real((5, 2), 2), torch_fn=make(TD), atol=1e-10)


def test_mixture_same_family_multivariate_components():
    def make(mod):
        def fn(w, mu, sigma, x):
            comp = mod.Independent(mod.Normal(mu, sigma), 1)
            d = mod.MixtureSameFamily(mod.Categorical(logits=w), comp)
            return d.log_prob(x), d.mean, d.variance
        return fn
    parity(make(D), real((3,)), real((3, 2), 1), pos((3, 2)), real((5, 2), 2), torch_fn=make(TD), atol=1e-10)


def test_mixture_samples_follow_the_mixture():
    lamina.manual_seed(0)
    w = lamina.tensor([0.2, 0.8], dtype=lamina.float64)
    mix = D.MixtureSameFamily(D.Categorical(probs=w), D.Normal(lamina.tensor([-5.0, 5.0], dtype=lamina.float64),
                                                               lamina.tensor([0.5, 0.5], dtype=lamina.float64)))
    x = mix.sample((20000,)).numpy()
    assert x.shape == (20000,)
    assert abs((x > 0).mean() - 0.8) < 0.015
    assert abs(x.mean() - mix.mean.item()) < 0.1 and abs(x.var() - mix.variance.item()) / mix.variance.item() < 0.05
    batch = D.MixtureSameFamily(D.Categorical(logits=lamina.zeros(4, 3)),
                                D.Independent(D.Normal(lamina.zeros(4, 3, 2), lamina.ones(4, 3, 2)), 1))
    assert batch.sample((5,)).shape == (5, 4, 2) and batch.batch_shape == (4,) and batch.event_shape == (2,)
