"""Heteroscedastic regression: the Gaussian NLL, the mean/log-variance head, predictions."""
import math

import numpy as np
import pytest
from helpers import gradcheck, parity, rng

import lamina
from lamina import nn, optim
from lamina.uncertainty import (DeepEnsemble, GaussianNLLLoss, HeteroscedasticHead, HeteroscedasticRegressor,
                                gaussian_nll, heteroscedastic_predict, mc_dropout_predict)

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_matches_torch_gaussian_nll_loss(full, reduction):
    r = rng(0)
    mean, log_var, target = r.standard_normal((6, 2)), r.standard_normal((6, 2)), r.standard_normal((6, 2))
    tloss = torch.nn.GaussianNLLLoss(full=full, reduction=reduction)
    parity(lambda m, lv, t: gaussian_nll(m, lv, t, full=full, reduction=reduction), mean, log_var, target,
           torch_fn=lambda m, lv, t: tloss(m, t, lv.exp()), atol=1e-10, rtol=1e-9)


def test_gaussian_nll_gradcheck_and_errors():
    r = rng(1)
    gradcheck(lambda m, lv, t: gaussian_nll(m, lv, t), r.standard_normal((4, 3)), r.standard_normal((4, 3)),
              r.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="target shape"):
        gaussian_nll(lamina.zeros(4, 1), lamina.zeros(4, 1), lamina.zeros(4))
    with pytest.raises(ValueError, match="reduction must be"):
        gaussian_nll(lamina.zeros(2), lamina.zeros(2), lamina.zeros(2), reduction="batchmean")
    with pytest.raises(TypeError, match=r"\(mean, log_var\) pair"):
        GaussianNLLLoss()(lamina.zeros(2, 1), lamina.zeros(2))
    # a (N,) target for (N, 1) outputs is accepted by the loss callable, and clamping bounds log_var
    loss = GaussianNLLLoss(min_log_var=-1.0)((lamina.zeros(3, 1), lamina.full((3, 1), -10.0)), lamina.ones(3))
    assert math.isclose(float(loss.item()), 0.5 * (-1.0 + math.e), rel_tol=1e-6)


def test_head_learns_input_dependent_noise():
    """y = x + noise with std 0.05 for x < 0 and 0.5 for x > 0: the predicted variances follow."""
    lamina.manual_seed(0)
    r = np.random.default_rng(0)
    x = r.uniform(-1, 1, (256, 1)).astype(np.float32)
    y = (x + np.where(x < 0, 0.05, 0.5) * r.standard_normal(x.shape)).astype(np.float32)
    model = HeteroscedasticRegressor(nn.Sequential(nn.Linear(1, 32), nn.Tanh()), 32, 1)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = GaussianNLLLoss()
    for _ in range(200):
        opt.zero_grad()
        loss_fn(model(lamina.Tensor(x)), lamina.Tensor(y[:, 0])).backward()
        opt.step()
    probe = np.array([[-0.5], [0.5]], np.float32)
    res = heteroscedastic_predict(model, probe)
    std = np.sqrt(res.aleatoric_variance[:, 0])
    assert 0.02 < std[0] < 0.12 and 0.35 < std[1] < 0.7
    np.testing.assert_allclose(res.variance, res.aleatoric_variance)
    assert np.abs(res.mean[:, 0] - probe[:, 0]).max() < 0.15
    with pytest.raises(ValueError, match="must return \\(mean, log_var\\)"):
        heteroscedastic_predict(nn.Linear(1, 1), probe)


def test_head_initial_log_var_and_mc_dropout_total_variance():
    head = HeteroscedasticHead(8, 2, init_log_var=-2.0)
    mean, log_var = head(lamina.zeros(3, 8))
    np.testing.assert_allclose(log_var.detach().numpy(), -2.0)
    assert mean.shape == (3, 2)
    lamina.manual_seed(1)
    model = HeteroscedasticRegressor(nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3)), 16, 1)
    x = np.random.default_rng(0).random((5, 2)).astype(np.float32)
    r = mc_dropout_predict(model, x, samples=8, task="regression", return_samples=True)
    np.testing.assert_allclose(r.variance, r.epistemic_variance + r.aleatoric_variance)
    assert (r.epistemic_variance > 0).all() and (r.aleatoric_variance > 0).all()
    with pytest.raises(ValueError, match="use task='regression'"):
        mc_dropout_predict(model, x, samples=2)
    ens = DeepEnsemble([HeteroscedasticRegressor(nn.Linear(2, 4), 4, 1) for _ in range(3)], task="regression")
    e = ens.predict(x)
    assert e.mean.shape == (5, 1) and (e.aleatoric_variance > 0).all()
