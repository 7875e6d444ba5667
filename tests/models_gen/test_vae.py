"""VAEs: the ELBO pieces (gradcheck + PyTorch parity), the models against a PyTorch reference,
IWAE, sampling, interpolation, the conditional VAE, KL warm-up in the Trainer, and the digits check."""
import math

import numpy as np
import pytest

import lamina
from lamina import optim
from lamina.data import DataLoader, TensorDataset
from lamina.models import (VAE, BernoulliVAEOutput, ConditionalVAE, ELBOLoss, GaussianVAEOutput, KLWarmup,
                           ReconstructionDataset, bernoulli_log_likelihood, create_model, gaussian_kl,
                           gaussian_log_likelihood)
from lamina.models.vae_loss import standard_normal_log_prob
from lamina.train import Trainer
from lamina.train.callbacks import LambdaCallback

from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng, torch

if torch is not None:
    import torch.nn.functional as TF
    from torch import distributions as TD


# ---------------------------------------------------------------- the ELBO's pieces
@requires_torch
def test_gaussian_kl_parity_and_gradcheck():
    r = rng(0)
    mu, logvar = r.standard_normal((4, 3)), r.standard_normal((4, 3)) * 0.5
    parity(gaussian_kl, mu, logvar, torch_fn=lambda m, lv: TD.kl_divergence(
        TD.Normal(m, torch.exp(0.5 * lv)), TD.Normal(torch.zeros_like(m), torch.ones_like(m))).sum(-1))
    gradcheck(gaussian_kl, mu, logvar)
    gradgradcheck(gaussian_kl, mu, logvar)


@requires_torch
def test_bernoulli_log_likelihood_parity_broadcast_and_gradcheck():
    r = rng(1)
    logits, x = r.standard_normal((3, 4, 5)) * 3, (r.random((4, 5)) > 0.5).astype(np.float64)
    parity(bernoulli_log_likelihood, logits, x,
           torch_fn=lambda l, t: TD.Bernoulli(logits=l).log_prob(t.expand_as(l)).sum(-1))
    gradcheck(bernoulli_log_likelihood, logits, r.random((3, 4, 5)))  # also the gradient in soft targets


@requires_torch
def test_gaussian_log_likelihood_parity_and_gradcheck():
    r = rng(2)
    mean, logvar, x = r.standard_normal((4, 6)), r.standard_normal((4, 6)) * 0.3, r.standard_normal((4, 6))
    parity(gaussian_log_likelihood, mean, logvar, x,
           torch_fn=lambda m, lv, t: TD.Normal(m, torch.exp(0.5 * lv)).log_prob(t).sum(-1))
    gradcheck(gaussian_log_likelihood, mean, logvar, x)
    fixed = math.log(0.25)  # σ = 0.5 as a float log-variance
    parity(lambda m, t: gaussian_log_likelihood(m, fixed, t), mean, x,
           torch_fn=lambda m, t: TD.Normal(m, 0.5).log_prob(t).sum(-1))
    gradcheck(lambda m, t: gaussian_log_likelihood(m, fixed, t), mean, x)
    parity(standard_normal_log_prob, x, torch_fn=lambda z: TD.Normal(0.0, 1.0).log_prob(z).sum(-1))
    gradcheck(standard_normal_log_prob, x)


def _torch_neg_elbo(logits, mu, logvar, x, beta):
    rec = -TF.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="none").sum(-1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
    return beta * kl - rec


@requires_torch
@pytest.mark.parametrize("beta,reduction", [(1.0, "mean"), (0.3, "sum"), (4.0, "none")])
def test_elbo_loss_parity(beta, reduction):
    r = rng(3)
    logits, mu, logvar = r.standard_normal((5, 8)), r.standard_normal((5, 2)), r.standard_normal((5, 2)) * 0.4
    x = (r.random((5, 1, 2, 4)) > 0.5).astype(np.float64)

    def lam(l, m, lv, t):
        return ELBOLoss(beta, reduction)(BernoulliVAEOutput(l, m, lv, m, t))

    def ref(l, m, lv, t):
        loss = _torch_neg_elbo(l, m, lv, t, beta)
        return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]

    parity(lam, logits, mu, logvar, x, torch_fn=ref)
    gradcheck(lam, logits, mu, logvar, x)


@requires_torch
def test_elbo_loss_gaussian_output_parity():
    r = rng(4)
    mean, rlv, mu, logvar, x = (r.standard_normal((3, 6)), r.standard_normal((3, 6)) * 0.2, r.standard_normal((3, 2)),
                                r.standard_normal((3, 2)) * 0.2, r.standard_normal((3, 6)))

    def lam(m, v, a, b, t):
        return ELBOLoss()(GaussianVAEOutput(m, v, a, b, a, t))

    def ref(m, v, a, b, t):
        rec = TD.Normal(m, torch.exp(0.5 * v)).log_prob(t).sum(-1)
        return (0.5 * (a.pow(2) + b.exp() - 1 - b).sum(-1) - rec).mean()

    parity(lam, mean, rlv, mu, logvar, x, torch_fn=ref)
    gradcheck(lam, mean, rlv, mu, logvar, x)


def test_elbo_loss_errors():
    out = BernoulliVAEOutput(lamina.randn(4, 6), lamina.randn(4, 2), lamina.randn(4, 2), lamina.randn(4, 2),
                             lamina.rand(4, 6))
    with pytest.raises(TypeError, match="class labels are not a reconstruction target"):
        ELBOLoss()(out, lamina.arange(4))
    with pytest.raises(ValueError, match=r"target of shape \(4, 5\) does not match"):
        ELBOLoss()(out, lamina.rand(4, 5))
    with pytest.raises(TypeError, match="expected a VAE's output"):
        ELBOLoss()(lamina.randn(4, 6), lamina.rand(4, 6))
    with pytest.raises(ValueError, match="beta must be a non-negative"):
        ELBOLoss(beta=-1.0)
    loss = ELBOLoss()
    loss(out)
    assert set(loss.last_terms) == {"recon_log_likelihood", "kl"}


# ---------------------------------------------------------------- the model against a torch reference
def _torch_mlp(sizes, src):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    m = torch.nn.Sequential(*layers[:-1]).double()
    m.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in src.state_dict().items()})
    return m


def _torch_vae(vae, cond=0):
    d, L, h = vae.in_features, vae.latent_dim, list(vae.hidden_sizes)
    return (_torch_mlp([d + cond] + h + [2 * L], vae.encoder), _torch_mlp([L + cond] + h[::-1] + [d], vae.decoder))


def _check_grads(lam_module, torch_module, rtol=1e-7):
    tg = {k: p.grad.numpy() for k, p in torch_module.named_parameters()}
    for k, p in lam_module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tg[k], rtol=rtol, atol=1e-10, err_msg=k)


@requires_torch
def test_vae_forward_and_loss_match_torch():
    vae = VAE(10, latent_dim=3, hidden_sizes=(7, 5)).double()
    enc, dec = _torch_vae(vae)
    x = (rng(5).random((6, 10)) > 0.5).astype(np.float64)
    lamina.manual_seed(11)
    out = vae(lamina.tensor(x))
    loss = ELBOLoss(beta=0.7)(out)
    loss.backward()
    lamina.manual_seed(11)
    eps = torch.from_numpy(lamina.randn(6, 3, dtype=lamina.float64).numpy())  # the ε forward drew
    xt = torch.from_numpy(x)
    h = enc(xt)
    mu, logvar = h[:, :3], h[:, 3:]
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = dec(z)
    ref = _torch_neg_elbo(logits, mu, logvar, xt, 0.7).mean()
    ref.backward()
    np.testing.assert_allclose(out.z.detach().numpy(), z.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.recon.detach().numpy(), logits.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-12)
    _check_grads(vae.encoder, enc)
    _check_grads(vae.decoder, dec)


def _torch_log_w(enc, dec, x, eps, L):
    h = enc(x)
    mu, logvar = h[:, :L], h[:, L:]
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps
    logits = dec(z)
    log_px = TD.Bernoulli(logits=logits).log_prob(x.expand_as(logits)).sum(-1)
    return log_px + TD.Normal(0.0, 1.0).log_prob(z).sum(-1) - TD.Normal(mu, std).log_prob(z).sum(-1), log_px, mu, logvar


@requires_torch
def test_iwae_matches_torch_and_chunks_do_not_change_it():
    vae = VAE(8, latent_dim=2, hidden_sizes=(6,)).double()
    enc, dec = _torch_vae(vae)
    x = (rng(6).random((5, 8)) > 0.5).astype(np.float64)
    k = 7
    est = vae.iwae_log_likelihood(lamina.tensor(x), k=k, chunk_size=3, generator=lamina.Generator().manual_seed(2))
    est.sum().backward()
    g = lamina.Generator().manual_seed(2)
    eps = np.concatenate([lamina.randn(c, 5, 2, generator=g, dtype=lamina.float64).numpy() for c in (3, 3, 1)])
    log_w, _, _, _ = _torch_log_w(enc, dec, torch.from_numpy(x), torch.from_numpy(eps), 2)
    ref = torch.logsumexp(log_w, 0) - math.log(k)
    ref.sum().backward()
    assert est.shape == (5,)
    np.testing.assert_allclose(est.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    _check_grads(vae.encoder, enc, rtol=1e-6)
    _check_grads(vae.decoder, dec, rtol=1e-6)
    # one chunk of all 7 samples draws the same ε (C order), so the estimate is identical
    whole = vae.iwae_log_likelihood(lamina.tensor(x), k=k, generator=lamina.Generator().manual_seed(2))
    np.testing.assert_allclose(whole.detach().numpy(), est.detach().numpy(), rtol=1e-12)


def test_iwae_and_elbo_gradcheck_in_the_input():
    vae = VAE(6, latent_dim=2, hidden_sizes=(5,), activation="tanh").double()
    x = rng(7).random((3, 6))
    gradcheck(lambda t: vae.iwae_log_likelihood(t, k=4, generator=lamina.Generator().manual_seed(0)), x)
    gradcheck(lambda t: vae.elbo(t, k=3, generator=lamina.Generator().manual_seed(0)), x)


@requires_torch
def test_elbo_estimate_matches_torch_and_iwae_bounds():
    vae = VAE(8, latent_dim=2, hidden_sizes=(6,)).double()
    enc, dec = _torch_vae(vae)
    x = (rng(8).random((4, 8)) > 0.5).astype(np.float64)
    elbo = vae.elbo(lamina.tensor(x), k=5, generator=lamina.Generator().manual_seed(4))
    eps = lamina.randn(5, 4, 2, generator=lamina.Generator().manual_seed(4), dtype=lamina.float64).numpy()
    _, log_px, mu, logvar = _torch_log_w(enc, dec, torch.from_numpy(x), torch.from_numpy(eps), 2)
    ref = log_px.mean(0) - 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
    np.testing.assert_allclose(elbo.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    with lamina.no_grad():
        xb = lamina.tensor(x)
        e = vae.elbo(xb, k=2000, generator=lamina.Generator().manual_seed(1)).numpy()
        iw = vae.iwae_log_likelihood(xb, k=2000, generator=lamina.Generator().manual_seed(1)).numpy()
    assert (iw >= e - 1e-9).all()  # the importance-weighted bound is the tighter one
    with pytest.raises(ValueError, match="k must be a positive int"):
        vae.iwae_log_likelihood(xb, k=0)


# ---------------------------------------------------------------- generation
def test_sample_interpolate_reconstruct():
    vae = VAE(12, latent_dim=3, hidden_sizes=(8,))
    s1 = vae.sample(5, generator=lamina.Generator().manual_seed(3))
    s2 = vae.sample(5, generator=lamina.Generator().manual_seed(3))
    assert s1.shape == (5, 12) and not s1.requires_grad
    np.testing.assert_array_equal(s1.numpy(), s2.numpy())
    assert ((s1.numpy() > 0) & (s1.numpy() < 1)).all()  # Bernoulli means
    z = lamina.randn(5, 3, generator=lamina.Generator().manual_seed(3))
    np.testing.assert_allclose(s1.numpy(), vae.decode(z).sigmoid().detach().numpy(), rtol=1e-6)
    x = lamina.rand(4, 12)
    walk = vae.interpolate(x[0], x[1], steps=5)
    assert walk.shape == (5, 12)
    rec = vae.reconstruct(x)
    np.testing.assert_allclose(walk.numpy()[0], rec.numpy()[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(walk.numpy()[-1], rec.numpy()[1], rtol=1e-5, atol=1e-6)
    mu = vae.encode(x)[0].detach().numpy()
    mid = vae.decode(lamina.tensor((mu[:1] + mu[1:2]) / 2)).sigmoid().detach().numpy()
    np.testing.assert_allclose(vae.interpolate(x[0], x[1], steps=3).numpy()[1], mid[0], rtol=1e-5, atol=1e-6)
    assert vae.interpolate(x[:2], x[2:], steps=4).shape == (4, 2, 12)
    with pytest.raises(ValueError, match="one shape"):
        vae.interpolate(x[0], x[:2], 3)
    with pytest.raises(ValueError, match="latent codes must have shape"):
        vae.decode(lamina.randn(2, 4))


def test_gaussian_decoders():
    x = lamina.randn(6, 10)
    learned = VAE(10, 2, (8,), likelihood="gaussian")
    out = learned(x)
    assert isinstance(out, GaussianVAEOutput) and out.recon.shape == out.recon_logvar.shape == (6, 10)
    assert learned.decoder[-1].out_features == 20  # mean and log-variance
    ELBOLoss()(out).backward()
    fixed = VAE(10, 2, (8,), likelihood="gaussian", decoder_std=0.5)
    out = fixed(x)
    np.testing.assert_allclose(out.recon_logvar.numpy(), np.full((6, 10), 2 * math.log(0.5)), rtol=1e-6)
    ref = gaussian_log_likelihood(out.recon, out.recon_logvar, x)
    np.testing.assert_allclose(out.log_px().detach().numpy(), ref.detach().numpy(), rtol=1e-5)
    assert fixed.sample(3).shape == (3, 10)
    with pytest.raises(ValueError, match="decoder_std"):
        VAE(10, likelihood="bernoulli", decoder_std=0.5)
    with pytest.raises(ValueError, match="'bernoulli' or 'gaussian'"):
        VAE(10, likelihood="poisson")


def test_vae_config_and_registry():
    vae = create_model("vae", in_features=64, latent_dim=16, hidden_sizes=[256, 256])
    assert [m.out_features for m in vae.encoder if hasattr(m, "out_features")] == [256, 256, 32]
    assert [m.out_features for m in vae.decoder if hasattr(m, "out_features")] == [256, 256, 64]
    assert VAE.from_config(vae.get_config()).get_config() == vae.get_config()
    cvae = create_model("conditional_vae", in_features=64, num_classes=10, latent_dim=4)
    assert cvae.get_config()["num_classes"] == 10 and cvae.encoder[0].in_features == 74
    with pytest.raises(TypeError, match="not conditional"):
        vae.sample(2, labels=3)


# ---------------------------------------------------------------- conditional VAE
@requires_torch
def test_conditional_vae_matches_torch_concat_reference():
    cvae = ConditionalVAE(6, num_classes=3, latent_dim=2, hidden_sizes=(5,)).double()
    enc, dec = _torch_vae(cvae, cond=3)
    x = rng(9).random((4, 6))
    labels = np.array([2, 0, 1, 2])
    lamina.manual_seed(5)
    loss = ELBOLoss()(cvae(lamina.tensor(x), lamina.tensor(labels)))
    loss.backward()
    lamina.manual_seed(5)
    eps = torch.from_numpy(lamina.randn(4, 2, dtype=lamina.float64).numpy())
    xt, y = torch.from_numpy(x), TF.one_hot(torch.from_numpy(labels), 3).double()
    h = enc(torch.cat([xt, y], -1))
    mu, logvar = h[:, :2], h[:, 2:]
    logits = dec(torch.cat([mu + torch.exp(0.5 * logvar) * eps, y], -1))
    ref = _torch_neg_elbo(logits, mu, logvar, xt, 1.0).mean()
    ref.backward()
    np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-12)
    _check_grads(cvae.encoder, enc)
    _check_grads(cvae.decoder, dec)
    # sampling decodes N(0, I) codes with the asked labels
    s = cvae.sample(3, labels=[0, 1, 2], generator=lamina.Generator().manual_seed(1))
    z = torch.from_numpy(lamina.randn(3, 2, generator=lamina.Generator().manual_seed(1), dtype=lamina.float64).numpy())
    ref_s = torch.sigmoid(dec(torch.cat([z, torch.eye(3, dtype=torch.float64)], -1)))
    np.testing.assert_allclose(s.numpy(), ref_s.detach().numpy(), rtol=1e-10)


def test_conditional_vae_api_and_errors():
    cvae = ConditionalVAE(8, num_classes=4, latent_dim=2, hidden_sizes=(6,))
    x, y = lamina.rand(5, 8), lamina.tensor([0, 1, 2, 3, 0])
    assert cvae.sample(6, labels=3).shape == (6, 8)
    assert cvae.iwae_log_likelihood(x, k=5, labels=y, chunk_size=2).shape == (5,)
    assert cvae.interpolate(x[0], x[1], steps=4, labels=2).shape == (4, 8)
    with pytest.raises(ValueError, match="labels are required"):
        cvae(x)
    with pytest.raises(IndexError, match=r"label 4 is outside \[0, 4\)"):
        cvae.sample(2, labels=4)
    with pytest.raises(ValueError, match="got 2 labels for 5 samples"):
        cvae(x, lamina.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        cvae(x, lamina.rand(5))


# ---------------------------------------------------------------- training: Trainer, KL warm-up
def test_kl_warmup_schedules_beta_in_the_trainer():
    lamina.manual_seed(0)
    vae = VAE(8, 2, (6,))
    loss = ELBOLoss()
    seen = []
    cbs = [KLWarmup(warmup_steps=4, beta=2.0, start=0.5),
           LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(loss.beta))]
    trainer = Trainer(vae, loss, optim.Adam(vae.parameters(), 1e-3), callbacks=cbs)
    x = (lamina.rand(12, 8) > 0.5).float()
    val_betas = []
    hist = trainer.fit(DataLoader(TensorDataset(x), 4), epochs=2, verbose=False,
                       validation=DataLoader(TensorDataset(x), 6),
                       callbacks=[LambdaCallback(on_test_end=lambda logs: val_betas.append(loss.beta))])
    np.testing.assert_allclose(seen, [0.5, 0.875, 1.25, 1.625, 2.0, 2.0])
    assert val_betas == [2.0, 2.0]  # validation reports the full objective
    assert hist.history["kl_beta"] == [1.25, 2.0]
    assert loss.beta == 2.0
    warm = KLWarmup(warmup_epochs=2)
    Trainer(vae, ELBOLoss(), optim.SGD(vae.parameters(), 0.0), callbacks=[warm], grad_accum_steps=2).fit(
        DataLoader(TensorDataset(x), 4), verbose=False)
    assert warm.beta_at(2) == 0.5  # 2 epochs x ceil(3 batches / 2) = 4 steps
    with pytest.raises(ValueError, match="exactly one"):
        KLWarmup()
    with pytest.raises(TypeError, match="no 'beta'"):
        Trainer(vae, "mse", optim.SGD(vae.parameters(), 0.1), callbacks=[KLWarmup(warmup_steps=2)]).fit(
            DataLoader(TensorDataset(x, x), 4), verbose=False)


def test_cvae_trains_with_the_trainer_and_labels_are_refused_as_targets():
    lamina.manual_seed(0)
    r = rng(10)
    y = r.integers(0, 2, 64)
    protos = (r.random((2, 16)) > 0.5).astype(np.float32)
    x = np.abs(protos[y] - (r.random((64, 16)) < 0.05)).astype(np.float32)
    data = TensorDataset(lamina.tensor(x), lamina.tensor(y))
    cvae = ConditionalVAE(16, num_classes=2, latent_dim=2, hidden_sizes=(32,))
    trainer = Trainer(cvae, cvae.loss_fn(), optim.Adam(cvae.parameters(), 1e-2))
    hist = trainer.fit(DataLoader(ReconstructionDataset(data, conditional=True), 16, shuffle=True), epochs=15,
                       verbose=False)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    s = cvae.sample(50, labels=1, generator=lamina.Generator().manual_seed(0)).numpy()
    assert np.abs(s.mean(0) - protos[1]).mean() < 0.25  # the samples look like the asked class
    vae = VAE(16, 2, (8,))
    with pytest.raises(TypeError, match="class labels are not a reconstruction target"):
        Trainer(vae, vae.loss_fn(), optim.SGD(vae.parameters(), 0.1)).fit(DataLoader(data, 16), verbose=False)


# ---------------------------------------------------------------- the digits check (reduced)
@requires_torch
def test_digits_vae_within_half_a_nat_of_torch():
    import vae_digits  # benchmarks/vae_digits.py: the same architecture, epochs, batch order and optimiser
    res = vae_digits.run(epochs=3, seed=0, same_init=True)
    lam, tor = res["lamina"], res["torch"]
    assert -60 < tor["elbo"] < -20  # still learning after 3 epochs
    assert abs(lam["elbo"] - tor["elbo"]) < 0.5, res
    assert abs(lam["iwae100"] - tor["iwae100"]) < 0.5, res
    assert lam["iwae100"] > lam["elbo"]
