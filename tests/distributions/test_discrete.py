"""Discrete families: log_prob, entropy, moments and gradients against torch.distributions (float64)."""
import numpy as np
import pytest

import lamina
import lamina.distributions as D
from _dist_parity import dist_parity, pos, real

torch = pytest.importorskip("torch")
TD = torch.distributions

S = (2, 3)


def _simplex(shape, seed=0):
    p = np.random.default_rng(seed).uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_bernoulli(param):
    p = pos(S, 0, 0.1, 0.9) if param == "probs" else real(S)
    x = (np.random.default_rng(1).random(S) < 0.5).astype(np.float64)
    dist_parity("Bernoulli", {param: p}, value=x, outs=("log_prob", "entropy", "mean", "variance"))
    dist_parity("Bernoulli", {param: p}, outs=("mode", "logits", "probs"), grad=False)


def test_bernoulli_mode_at_one_half_is_nan():
    dist_parity("Bernoulli", {"probs": np.array([0.2, 0.5, 0.7])}, outs=("mode",), grad=False)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_categorical(param):
    p = _simplex((2, 3, 4)) * 3 if param == "probs" else real((2, 3, 4))   # unnormalised probs are normalised
    x = np.random.default_rng(2).integers(0, 4, (5, 2, 3))
    dist_parity("Categorical", {param: p}, value=x, outs=("log_prob", "entropy", "probs", "logits"))
    dist_parity("Categorical", {param: p}, outs=("mode", "mean", "variance"), grad=False)


def test_categorical_zero_probability_entropy_and_log_prob():
    p = np.array([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]])
    dist_parity("Categorical", {"probs": p}, value=np.array([1, 0]), outs=("log_prob", "entropy"))


def test_categorical_enumerate_support_and_param_shape():
    p = _simplex((2, 3, 4))
    ld, td = D.Categorical(probs=lamina.tensor(p)), TD.Categorical(probs=torch.tensor(p))
    np.testing.assert_array_equal(ld.enumerate_support().numpy(), td.enumerate_support().numpy())
    assert ld.enumerate_support(expand=False).shape == tuple(td.enumerate_support(expand=False).shape)
    assert ld.param_shape == tuple(td.param_shape) and ld.batch_shape == (2, 3) and ld.event_shape == ()


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_one_hot_categorical(param):
    p = _simplex((2, 4)) if param == "probs" else real((2, 4))
    idx = np.random.default_rng(3).integers(0, 4, (3, 2))
    x = np.eye(4)[idx]
    dist_parity("OneHotCategorical", {param: p}, value=x, outs=("log_prob", "entropy", "mean", "variance"))
    dist_parity("OneHotCategorical", {param: p}, outs=("mode",), grad=False)
    ld = D.OneHotCategorical(**{param: lamina.tensor(p)})
    td = TD.OneHotCategorical(**{param: torch.tensor(p)})
    assert ld.event_shape == (4,) and ld.batch_shape == (2,)
    np.testing.assert_array_equal(ld.enumerate_support().numpy(), td.enumerate_support().numpy())


def test_one_hot_categorical_straight_through_gradient():
    logits = real((2, 4))
    lt = lamina.tensor(logits, requires_grad=True)
    s = D.OneHotCategoricalStraightThrough(logits=lt).rsample()
    assert set(np.unique(s.detach().numpy())) <= {0.0, 1.0}
    w = lamina.tensor(np.arange(4.0))
    (s * w).sum().backward()
    tt = torch.tensor(logits, requires_grad=True)
    (torch.softmax(tt, -1) * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(lt.grad.numpy(), tt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_binomial(param):
    n = np.array([[1.0, 5.0, 10.0], [3.0, 7.0, 20.0]])
    p = pos(S, 0, 0.1, 0.9) if param == "probs" else real(S)
    k = np.minimum(np.random.default_rng(4).integers(0, 8, S), n)
    dist_parity("Binomial", {"total_count": n, param: p}, value=k, outs=("log_prob", "mean", "variance"))
    dist_parity("Binomial", {"total_count": n, param: p}, outs=("mode",), grad=False)


def test_binomial_entropy_and_enumerate_support():
    dist_parity("Binomial", {"total_count": np.full(S, 6.0), "probs": pos(S, 0, 0.1, 0.9)}, outs=("entropy",))
    ld = D.Binomial(4, lamina.tensor(pos(S, 0, 0.1, 0.9)))
    td = TD.Binomial(4, torch.tensor(pos(S, 0, 0.1, 0.9)))
    np.testing.assert_array_equal(ld.enumerate_support().numpy(), td.enumerate_support().numpy())
    with pytest.raises(NotImplementedError):
        D.Binomial(lamina.tensor([2.0, 3.0]), probs=lamina.tensor([0.5, 0.5])).entropy()


def test_binomial_edge_probabilities():
    n = np.array([3.0, 3.0, 3.0])
    dist_parity("Binomial", {"total_count": n, "probs": np.array([0.0, 1.0, 0.5])}, value=np.array([0.0, 3.0, 1.0]),
                outs=("log_prob",), grad=False, atol=1e-6)


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_geometric(param):
    p = pos(S, 0, 0.1, 0.9) if param == "probs" else real(S)
    k = np.random.default_rng(5).integers(0, 6, S).astype(np.float64)
    dist_parity("Geometric", {param: p}, value=k, outs=("log_prob", "entropy", "mean", "variance"))
    dist_parity("Geometric", {param: p}, outs=("mode",), grad=False)


def test_geometric_certain_success():
    dist_parity("Geometric", {"probs": np.array([1.0, 1.0, 0.5])}, value=np.array([0.0, 0.0, 2.0]),
                outs=("log_prob",), grad=False)


def test_poisson():
    rate = pos(S, 0, 0.2, 5.0)
    k = np.random.default_rng(6).integers(0, 6, S).astype(np.float64)
    dist_parity("Poisson", {"rate": rate}, value=k, outs=("log_prob", "mean", "variance"))
    dist_parity("Poisson", {"rate": rate}, outs=("mode",), grad=False)
    dist_parity("Poisson", {"rate": np.array([0.0, 1.0])}, value=np.array([0.0, 0.0]), outs=("log_prob",), grad=False)


def test_bernoulli_enumerate_support():
    p = pos(S, 0, 0.1, 0.9)
    ld, td = D.Bernoulli(lamina.tensor(p)), TD.Bernoulli(torch.tensor(p))
    np.testing.assert_array_equal(ld.enumerate_support().numpy(), td.enumerate_support().numpy())
    np.testing.assert_array_equal(ld.enumerate_support(False).numpy(), td.enumerate_support(False).numpy())
