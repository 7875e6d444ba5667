"""Continuous scalar families: values and gradients of log_prob, cdf, icdf, entropy and moments
against torch.distributions (float64)."""
import numpy as np
import pytest

from _dist_parity import dist_parity, pos, real

S = (2, 3)
U = np.random.default_rng(7).uniform(0.05, 0.95, S)


def test_normal():
    dist_parity("Normal", {"loc": real(S), "scale": pos(S)}, value=real(S, 1), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev", "mode"))


def test_normal_broadcasts_value_and_params():
    dist_parity("Normal", {"loc": real((3,)), "scale": pos((2, 1))}, value=real((4, 1, 1, 3), 2),
                outs=("log_prob", "cdf", "entropy"))


def test_lognormal():
    dist_parity("LogNormal", {"loc": real(S) * 0.3, "scale": pos(S, 1, 0.3, 1.0)}, value=pos(S, 2), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "mode"))


def test_halfnormal():
    dist_parity("HalfNormal", {"scale": pos(S)}, value=pos(S, 2, 0.0, 3.0), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance"))


def test_uniform():
    lo = real(S)
    dist_parity("Uniform", {"low": lo, "high": lo + pos(S)}, value=lo + 0.3, prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev"))


def test_exponential():
    dist_parity("Exponential", {"rate": pos(S)}, value=pos(S, 1, 0.0, 3.0), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev", "mode"))


def test_laplace():
    dist_parity("Laplace", {"loc": real(S), "scale": pos(S)}, value=real(S, 3), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev"))


def test_cauchy():
    dist_parity("Cauchy", {"loc": real(S), "scale": pos(S)}, value=real(S, 3), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mode"))
    dist_parity("Cauchy", {"loc": real(S), "scale": pos(S)}, outs=("mean", "variance"), grad=False)


def test_studentt():
    df = np.array([[0.7, 1.5, 2.5], [3.0, 5.0, 30.0]])
    dist_parity("StudentT", {"df": df, "loc": real(S), "scale": pos(S)}, value=real(S, 4),
                outs=("log_prob", "entropy", "mode"))
    dist_parity("StudentT", {"df": df, "loc": real(S), "scale": pos(S)}, outs=("mean", "variance"), grad=False)
    dist_parity("StudentT", {"df": df + 2.5, "loc": real(S), "scale": pos(S)}, outs=("mean", "variance"))


def test_gamma():
    dist_parity("Gamma", {"concentration": pos(S, 0, 0.3, 4.0), "rate": pos(S, 1)}, value=pos(S, 2, 0.1, 3.0),
                outs=("log_prob", "entropy", "mean", "variance"))
    dist_parity("Gamma", {"concentration": pos(S, 0, 0.3, 4.0), "rate": pos(S, 1)}, outs=("mode",), grad=False)


def test_gamma_cdf_gradient_in_value_and_rate():
    import lamina
    import lamina.distributions as D
    import torch

    a = pos(S, 0, 0.3, 4.0)
    from helpers import parity
    parity(lambda b, x: D.Gamma(lamina.tensor(a), b).cdf(x), pos(S, 1), pos(S, 2, 0.1, 3.0),
           torch_fn=lambda b, x: torch.distributions.Gamma(torch.tensor(a), b).cdf(x), atol=1e-9, rtol=1e-7)


def test_chi2():
    dist_parity("Chi2", {"df": pos(S, 0, 0.5, 6.0)}, value=pos(S, 2, 0.1, 3.0),
                outs=("log_prob", "entropy", "mean", "variance"))


def test_beta():
    dist_parity("Beta", {"concentration1": pos(S, 0, 0.3, 4.0), "concentration0": pos(S, 1, 0.3, 4.0)},
                value=pos(S, 2, 0.05, 0.95), outs=("log_prob", "entropy", "mean", "variance"))
    c1 = np.array([0.5, 1.0, 1.0, 2.0, 3.0])
    c0 = np.array([0.5, 1.0, 0.5, 1.0, 2.0])
    dist_parity("Beta", {"concentration1": c1, "concentration0": c0}, outs=("mode",), grad=False)


def test_gumbel():
    dist_parity("Gumbel", {"loc": real(S), "scale": pos(S)}, value=real(S, 5), prob=U,
                outs=("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev", "mode"))


@pytest.mark.parametrize("name,params", [
    ("Normal", {"loc": real(S), "scale": pos(S)}),
    ("Laplace", {"loc": real(S), "scale": pos(S)}),
    ("Gamma", {"concentration": pos(S), "rate": pos(S, 1)}),
])
def test_log_prob_with_scalar_and_python_float_parameters(name, params):
    import lamina.distributions as D
    import torch.distributions as TD
    import lamina
    import torch

    k1, k2 = list(params)
    ld = getattr(D, name)(**{k1: 0.7, k2: lamina.tensor(params[k2])})
    td = getattr(TD, name)(**{k1: 0.7, k2: torch.tensor(params[k2])})
    x = pos(S, 9)
    assert ld.batch_shape == tuple(td.batch_shape)
    np.testing.assert_allclose(ld.log_prob(lamina.tensor(x)).numpy(), td.log_prob(torch.tensor(x)).numpy(),
                               rtol=1e-6)
