"""Bayes by Backprop: BayesianLinear / BayesianConv2d, priors, KL, ELBO, bayesian_predict."""
import math

import numpy as np
import pytest
from helpers import gradcheck, parity, rng
from unc_common import digits, train, uniform_noise

import lamina
from lamina import nn
from lamina.nn import functional as F
from lamina.uncertainty import (BayesianConv2d, BayesianLinear, ELBOLoss, GaussianPrior, ScaleMixturePrior,
                                bayesian_conv2d, bayesian_linear, bayesian_predict, gaussian_kl, kl_divergence,
                                sample_weights)

torch = pytest.importorskip("torch")


def _torch_linear_lrt(x, wm, wr, bm, br, eps):
    ws, bs = torch.nn.functional.softplus(wr), torch.nn.functional.softplus(br)
    mean = x @ wm.T + bm
    var = (x * x) @ (ws * ws).T + bs * bs
    return mean + torch.sqrt(var + 1e-16) * eps


def _torch_conv_lrt(x, wm, wr, bm, br, eps):
    ws, bs = torch.nn.functional.softplus(wr), torch.nn.functional.softplus(br)
    mean = torch.nn.functional.conv2d(x, wm, bm, stride=1, padding=1)
    var = torch.nn.functional.conv2d(x * x, ws * ws, bs * bs, stride=1, padding=1)
    return mean + torch.sqrt(var + 1e-16) * eps


# ------------------------------------------------------------------ functional forms: gradcheck + torch parity
def test_bayesian_linear_gradcheck_and_parity():
    r = rng(0)
    x, wm, wr = r.standard_normal((5, 4)), r.standard_normal((3, 4)) * 0.5, r.standard_normal((3, 4)) - 1
    bm, br, eps = r.standard_normal(3), r.standard_normal(3) - 1, r.standard_normal((5, 3))

    def fn(x, wm, wr, bm, br, eps):
        return bayesian_linear(x, wm, F.softplus(wr), bm, F.softplus(br), eps)

    gradcheck(fn, x, wm, wr, bm, br, eps)
    parity(fn, x, wm, wr, bm, br, eps, torch_fn=_torch_linear_lrt, atol=1e-10, rtol=1e-9)
    parity(fn, *(a.astype(np.float32) for a in (x, wm, wr, bm, br, eps)), torch_fn=_torch_linear_lrt)


def test_bayesian_conv2d_gradcheck_and_parity():
    r = rng(1)
    x, wm, wr = r.standard_normal((2, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)) * 0.3, r.standard_normal((3, 2, 3, 3)) - 1
    bm, br, eps = r.standard_normal(3), r.standard_normal(3) - 1, r.standard_normal((2, 3, 4, 4))

    def fn(x, wm, wr, bm, br, eps):
        return bayesian_conv2d(x, wm, F.softplus(wr), bm, F.softplus(br), eps, padding=1)

    gradcheck(fn, x, wm, wr, bm, br, eps)
    parity(fn, x, wm, wr, bm, br, eps, torch_fn=_torch_conv_lrt, atol=1e-10, rtol=1e-9)


def test_local_reparameterisation_has_the_weight_sampling_moments():
    """Sampling activations and sampling weights give the same mean and variance per unit."""
    lamina.manual_seed(0)
    layer = BayesianLinear(3, 2, posterior_rho_init=-1.0)
    x = lamina.Tensor(np.tile(np.array([[0.5, -1.0, 2.0]], np.float32), (8000, 1)))
    with lamina.no_grad():
        a = layer(x).numpy()
        layer.local_reparam = False
        w = np.stack([layer(x[:1]).numpy()[0] for _ in range(1500)])
    np.testing.assert_allclose(a.mean(0), w.mean(0), atol=0.1)
    np.testing.assert_allclose(a.var(0), w.var(0), rtol=0.15)
    ws = F.softplus(layer.weight_rho).detach().numpy()
    bs = F.softplus(layer.bias_rho).detach().numpy()
    np.testing.assert_allclose(a.var(0), (x.numpy()[0] ** 2 * ws ** 2).sum(1) + bs ** 2, rtol=0.08)


# ------------------------------------------------------------------ modules
def test_bayesian_linear_module_uses_seeded_noise_and_mean_in_eval():
    layer = BayesianLinear(4, 3).double()
    x = lamina.Tensor(rng(2).standard_normal((6, 4)))
    layer.train()
    lamina.manual_seed(5)
    y = layer(x)
    lamina.manual_seed(5)
    eps = lamina.randn(6, 3, dtype=np.float64)
    ref = bayesian_linear(x, layer.weight_mu, F.softplus(layer.weight_rho), layer.bias_mu,
                          F.softplus(layer.bias_rho), eps)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())
    layer.eval()
    with lamina.no_grad():
        np.testing.assert_allclose(layer(x).numpy(), F.linear(x, layer.weight_mu, layer.bias_mu).numpy())
        with sample_weights(layer):
            assert not np.allclose(layer(x).numpy(), layer(x).numpy())
        assert layer.sampling is None  # restored
    assert [n for n, _ in layer.named_parameters()] == ["weight_mu", "weight_rho", "bias_mu", "bias_rho"]
    np.testing.assert_allclose(layer.weight_rho.detach().numpy(), -5.0)


def test_bayesian_conv2d_module_matches_functional_and_shapes():
    conv = BayesianConv2d(2, 3, 3, padding=1).double()
    x = lamina.Tensor(rng(3).standard_normal((2, 2, 5, 5)))
    lamina.manual_seed(9)
    y = conv(x)
    lamina.manual_seed(9)
    eps = lamina.randn(2, 3, 5, 5, dtype=np.float64)
    ref = bayesian_conv2d(x, conv.weight_mu, F.softplus(conv.weight_rho), conv.bias_mu, F.softplus(conv.bias_rho),
                          eps, padding=1)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    assert conv(x[0]).shape == (3, 5, 5)
    conv.eval()
    with lamina.no_grad():
        np.testing.assert_allclose(conv(x).numpy(), F.conv2d(x, conv.weight_mu, conv.bias_mu, 1, 1).numpy())
    conv.local_reparam = False
    conv.train()
    assert conv(x).shape == (2, 3, 5, 5)
    assert BayesianConv2d(4, 8, 3, stride=2, groups=2)(lamina.randn(1, 4, 9, 9)).shape == (1, 8, 4, 4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        BayesianLinear(0, 3)
    with pytest.raises(ValueError, match=r"BayesianLinear\(in_features=4\): input has 5 features"):
        BayesianLinear(4, 3)(lamina.randn(2, 5))
    with pytest.raises(ValueError, match="prior must be 'gaussian', 'mixture'"):
        BayesianLinear(4, 3, prior="laplace")
    with pytest.raises(ValueError, match="sigma must be positive"):
        GaussianPrior(0.0)
    with pytest.raises(ValueError, match=r"pi must be in \(0, 1\)"):
        ScaleMixturePrior(pi=1.0)
    with pytest.raises(ValueError, match="divisible by groups"):
        BayesianConv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"expected \(N, 2, H, W\)"):
        BayesianConv2d(2, 4, 3)(lamina.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="no Bayesian layers"):
        kl_divergence(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no Bayesian layers"):
        ELBOLoss(nn.Linear(2, 2), num_train=10)
    with pytest.raises(ValueError, match="num_train"):
        ELBOLoss(BayesianLinear(2, 2))


# ------------------------------------------------------------------ KL terms against torch
def test_gaussian_kl_closed_form_matches_torch_and_gradcheck():
    r = rng(4)
    mu, rho = r.standard_normal((3, 4)), r.standard_normal((3, 4)) - 2

    def fn(mu, rho):
        return gaussian_kl(mu, F.softplus(rho), 0.7)

    def tfn(mu, rho):
        q = torch.distributions.Normal(mu, torch.nn.functional.softplus(rho))
        p = torch.distributions.Normal(torch.zeros_like(mu), 0.7 * torch.ones_like(mu))
        return torch.distributions.kl_divergence(q, p).sum()

    gradcheck(fn, mu, rho)
    parity(fn, mu, rho, torch_fn=tfn, atol=1e-10, rtol=1e-9)


def test_layer_kl_sums_weights_and_biases_and_model_kl_sums_layers():
    lamina.manual_seed(1)
    model = nn.Sequential(BayesianLinear(3, 4, prior_sigma=0.5), nn.ReLU(), BayesianLinear(4, 2, prior_sigma=0.5))
    total = 0.0
    for layer in (model[0], model[2]):
        for mu, rho in ((layer.weight_mu, layer.weight_rho), (layer.bias_mu, layer.bias_rho)):
            q = torch.distributions.Normal(torch.from_numpy(mu.detach().numpy().astype(np.float64)),
                                           torch.nn.functional.softplus(torch.from_numpy(
                                               rho.detach().numpy().astype(np.float64))))
            total += float(torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 0.5)).sum())
    kl = kl_divergence(model)
    assert math.isclose(float(kl.item()), total, rel_tol=1e-4)
    kl.backward()
    assert model[0].weight_rho.grad is not None


def test_scale_mixture_log_prob_and_monte_carlo_kl_match_torch():
    prior = ScaleMixturePrior(0.25, 1.5, 0.1)
    w = rng(5).standard_normal(7) * 0.5

    def tlog(w):
        mix = torch.distributions.MixtureSameFamily(
            torch.distributions.Categorical(torch.tensor([0.25, 0.75], dtype=torch.float64)),
            torch.distributions.Normal(torch.tensor([0.0, 0.0], dtype=torch.float64),
                                       torch.tensor([1.5, 0.1], dtype=torch.float64)))
        return mix.log_prob(w)

    parity(prior.log_prob, w, torch_fn=tlog, atol=1e-10, rtol=1e-9)
    # the layer's one-sample KL is log q(w) - log p(w) at the weight drawn from the generator
    layer = BayesianLinear(3, 2, prior=prior, bias=False, posterior_rho_init=-2.0).double()
    lamina.manual_seed(11)
    kl = float(layer.kl_divergence().item())
    lamina.manual_seed(11)
    eps = lamina.randn(2, 3, dtype=np.float64).numpy()
    mu = torch.from_numpy(layer.weight_mu.detach().numpy())
    sd = torch.nn.functional.softplus(torch.from_numpy(layer.weight_rho.detach().numpy()))
    wt = mu + sd * torch.from_numpy(eps)
    ref = float((torch.distributions.Normal(mu, sd).log_prob(wt) - tlog(wt)).sum())
    assert math.isclose(kl, ref, rel_tol=1e-10)
    # its expectation approaches the truth: many samples average close to a high-sample estimate
    many = np.mean([float(layer.kl_divergence(n_samples=50).item()) for _ in range(4)])
    one = np.mean([float(layer.kl_divergence().item()) for _ in range(200)])
    assert abs(many - one) < 0.1 * abs(many) + 0.5


# ------------------------------------------------------------------ the ELBO and a reduced digits run
def test_elbo_loss_adds_scaled_kl():
    lamina.manual_seed(2)
    model = nn.Sequential(BayesianLinear(4, 3))
    model.eval()  # deterministic data term
    x, y = lamina.randn(5, 4), lamina.Tensor(np.array([0, 1, 2, 0, 1]))
    elbo = ELBOLoss(model, num_train=50)
    loss = elbo(model(x), y)
    expect = float(F.cross_entropy(model(x), y).item()) + float(kl_divergence(model).item()) / 50
    assert math.isclose(float(loss.item()), expect, rel_tol=1e-5)
    assert math.isclose(elbo.last_kl, float(kl_divergence(model).item()), rel_tol=1e-6)


def test_digits_bayes_by_backprop_learns_and_is_less_sure_out_of_distribution():
    xtr, ytr, _, _, xte, yte = digits()
    lamina.manual_seed(3)
    bnn = nn.Sequential(BayesianLinear(64, 32, prior_sigma=1.0), nn.ReLU(), BayesianLinear(32, 10, prior_sigma=1.0))
    train(bnn, xtr, ytr, epochs=8, lr=1e-2, loss_fn=ELBOLoss(bnn, num_train=len(xtr)))
    assert not bnn.training
    r_in = bayesian_predict(bnn, xte, samples=10)
    r_out = bayesian_predict(bnn, uniform_noise(len(xte)), samples=10)
    assert (r_in.mean.argmax(1) == yte).mean() > 0.85
    assert r_out.predictive_entropy.mean() > r_in.predictive_entropy.mean()
    assert all(m.sampling is None for m in (bnn[0], bnn[2])) and not bnn.training
