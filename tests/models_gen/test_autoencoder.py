"""Autoencoders: dense / conv / denoising models, reconstruction losses, noise transforms, training."""
import numpy as np
import pytest

import lamina
from lamina import optim
from lamina.data import DataLoader, TensorDataset
from lamina.data.vision_transforms import GaussianNoise
from lamina.models import (Autoencoder, ConvAutoencoder, DenoisingAutoencoder, MaskingNoise, ReconstructionDataset,
                           ReconstructionLoss, create_model, reconstruction_error)
from lamina.train import Trainer

from helpers import gradcheck, parity, requires_torch, rng, torch

if torch is not None:
    import torch.nn.functional as TF


def _torch_mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _load(torch_module, lamina_module):
    torch_module.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in lamina_module.state_dict().items()})
    return torch_module


def _grads(model):
    return {k: p.grad.detach().numpy() for k, p in model.named_parameters()}


# ---------------------------------------------------------------- losses
@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reconstruction_loss_mse_parity(reduction):
    r = rng(0)
    x, t = r.standard_normal((4, 6)), r.standard_normal((4, 6))
    parity(lambda a, b: ReconstructionLoss("mse", reduction)(a, b), x, t,
           torch_fn=lambda a, b: TF.mse_loss(a, b, reduction=reduction))


@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reconstruction_loss_bce_logits_parity(reduction):
    r = rng(1)
    logits, t = r.standard_normal((5, 7)) * 3, r.random((5, 7))
    parity(lambda a, b: ReconstructionLoss("bce", reduction)(a, b), logits, t,
           torch_fn=lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction))


def test_reconstruction_losses_gradcheck():
    r = rng(2)
    x, t = r.standard_normal((3, 4)), r.random((3, 4))
    gradcheck(lambda a, b: ReconstructionLoss("mse")(a, b), x, t)
    gradcheck(lambda a, b: ReconstructionLoss("bce", "sum")(a, b), x * 4, t)
    gradcheck(lambda a, b: reconstruction_error(a, b, "bce"), x, t)
    gradcheck(lambda a, b: reconstruction_error(a, b, "mse"), x.reshape(3, 1, 2, 2), t.reshape(3, 4))


@requires_torch
@pytest.mark.parametrize("kind", ["mse", "bce"])
def test_reconstruction_error_per_sample_parity(kind):
    r = rng(3)
    recon, t = r.standard_normal((4, 2, 3)), r.random((4, 6))

    def ref(a, b):
        f = TF.mse_loss if kind == "mse" else TF.binary_cross_entropy_with_logits
        return f(a, b.reshape(a.shape), reduction="none").reshape(4, -1).mean(1)

    parity(lambda a, b: reconstruction_error(a, b, kind), recon, t, torch_fn=ref)


def test_reconstruction_loss_errors():
    x = lamina.randn(4, 6)
    with pytest.raises(ValueError, match="no target"):
        ReconstructionLoss()(x, None)
    with pytest.raises(TypeError, match="class labels"):
        ReconstructionLoss()(x, lamina.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="does not match"):
        ReconstructionLoss()(x, lamina.randn(4, 5))
    with pytest.raises(ValueError, match="'mse' or 'bce'"):
        ReconstructionLoss("l1")
    with pytest.raises(ValueError, match="reduction"):
        ReconstructionLoss("mse", "avg")
    with pytest.raises(ValueError, match="'mse' or 'bce'"):
        Autoencoder(8, [4], 2, reconstruction="cross_entropy")


# ---------------------------------------------------------------- dense autoencoder
@requires_torch
def test_dense_autoencoder_parity_with_torch():
    ae = Autoencoder(12, [10, 6], latent_dim=3, reconstruction="bce")
    enc, dec = _load(_torch_mlp([12, 10, 6, 3]), ae.encoder), _load(_torch_mlp([3, 6, 10, 12]), ae.decoder)
    x = rng(4).random((5, 1, 3, 4)).astype(np.float32)
    out = ae(lamina.tensor(x))
    assert out.shape == (5, 1, 3, 4)
    loss = ae.loss_fn()(out, lamina.tensor(x))
    loss.backward()
    xt = torch.from_numpy(x)
    z_ref = enc(xt.flatten(1))
    ref = dec(z_ref).reshape(xt.shape)
    ref_loss = TF.binary_cross_entropy_with_logits(ref, xt)
    ref_loss.backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ae.encode(lamina.tensor(x)).detach().numpy(), z_ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(loss), ref_loss.item(), rtol=1e-6)
    for name, g in _grads(ae.encoder).items():
        np.testing.assert_allclose(g, _grads(enc)[name], rtol=1e-4, atol=1e-6)
    for name, g in _grads(ae.decoder).items():
        np.testing.assert_allclose(g, _grads(dec)[name], rtol=1e-4, atol=1e-6)
    # reconstruct is sigmoid(logits) for 'bce'; anomaly_score the per-sample BCE
    np.testing.assert_allclose(ae.reconstruct(lamina.tensor(x)).numpy(), torch.sigmoid(ref).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    ref_score = TF.binary_cross_entropy_with_logits(ref, xt, reduction="none").reshape(5, -1).mean(1)
    np.testing.assert_allclose(ae.anomaly_score(lamina.tensor(x)).numpy(), ref_score.detach().numpy(), rtol=1e-5)


def test_autoencoder_api_and_config():
    ae = create_model("autoencoder", in_features=16, hidden_sizes=[8], latent_dim=2, activation="tanh")
    assert isinstance(ae, Autoencoder)
    cfg = ae.get_config()
    assert cfg == {"in_features": 16, "hidden_sizes": [8], "latent_dim": 2, "activation": "tanh", "reconstruction": "mse"}
    twin = Autoencoder.from_config(cfg)
    twin.load_state_dict(ae.state_dict())
    x = lamina.randn(3, 16)
    np.testing.assert_array_equal(twin(x).detach().numpy(), ae(x).detach().numpy())
    z = ae.encode(x)
    assert z.shape == (3, 2)
    assert ae.decode(z).shape == (3, 16)
    with pytest.raises(ValueError, match="latent codes must have shape"):
        ae.decode(lamina.randn(3, 5))
    with pytest.raises(ValueError, match="input has 15 features"):
        ae(lamina.randn(3, 15))
    with pytest.raises(ValueError, match="unknown config key 'latent_size'; did you mean 'latent_dim'"):
        Autoencoder.from_config({"in_features": 4, "latent_size": 2})
    with pytest.raises(ValueError, match="latent_dim must be a positive int"):
        Autoencoder(4, [3], 0)


# ---------------------------------------------------------------- convolutional autoencoder
def _torch_conv_ae(cae):
    nn = torch.nn
    enc = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, 6, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(6 * 2 * 2, 3))
    dec = nn.Sequential(nn.Linear(3, 6 * 2 * 2), nn.ReLU(), nn.Unflatten(1, (6, 2, 2)),
                        nn.ConvTranspose2d(6, 4, 3, 2, 1, output_padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(4, 1, 3, 2, 1, output_padding=1))
    return _load(enc, cae.encoder), _load(dec, cae.decoder)


@requires_torch
def test_conv_autoencoder_parity_with_torch():
    cae = ConvAutoencoder(1, image_size=8, channels=(4, 6), latent_dim=3)
    enc, dec = _torch_conv_ae(cae)
    x = rng(5).random((2, 1, 8, 8)).astype(np.float32)
    out = cae(lamina.tensor(x))
    loss = cae.loss_fn()(out, lamina.tensor(x))
    loss.backward()
    xt = torch.from_numpy(x)
    ref = dec(enc(xt))
    ref_loss = TF.mse_loss(ref, xt)
    ref_loss.backward()
    assert out.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(loss), ref_loss.item(), rtol=1e-5)
    for mod, tmod in ((cae.encoder, enc), (cae.decoder, dec)):
        tg = _grads(tmod)
        for name, g in _grads(mod).items():
            np.testing.assert_allclose(g, tg[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_conv_autoencoder_shapes_and_errors():
    cae = ConvAutoencoder(2, image_size=(8, 16), channels=(4,), latent_dim=5, reconstruction="bce")
    x = lamina.rand(3, 2, 8, 16)
    assert cae(x).shape == (3, 2, 8, 16)
    assert cae.encode(x).shape == (3, 5)
    assert cae.anomaly_score(x).shape == (3,)
    assert ConvAutoencoder.from_config(cae.get_config()).get_config() == cae.get_config()
    assert cae.get_config()["image_size"] == [8, 16]
    with pytest.raises(ValueError, match="divisible by 2\\*\\*len\\(channels\\) = 4"):
        ConvAutoencoder(1, image_size=6, channels=(4, 8))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2, 8, 16\)"):
        cae(lamina.rand(3, 1, 8, 16))


# ---------------------------------------------------------------- noise and data
def test_masking_noise_is_seeded_and_masks():
    x = lamina.ones(200, 50)
    a = MaskingNoise(0.3, generator=lamina.Generator().manual_seed(7))(x)
    b = MaskingNoise(0.3, generator=lamina.Generator().manual_seed(7))(x)
    assert isinstance(a, lamina.Tensor)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    frac = 1 - a.numpy().mean()
    assert 0.28 < frac < 0.32
    arr = MaskingNoise(0.5, value=-1.0, generator=lamina.Generator().manual_seed(0))(np.zeros((4, 3), np.float32) + 2)
    assert isinstance(arr, np.ndarray) and set(np.unique(arr)) <= {-1.0, 2.0}
    with pytest.raises(ValueError, match=r"p should be in \[0, 1\]"):
        MaskingNoise(1.5)
    with pytest.raises(TypeError, match="float data"):
        MaskingNoise(0.1)(np.ones(3, dtype=np.int64))


def test_reconstruction_dataset_pairs_and_noise():
    x = lamina.tensor(rng(6).random((10, 4)).astype(np.float32) + 1)
    y = lamina.arange(10)
    ds = ReconstructionDataset(TensorDataset(x, y), noise=MaskingNoise(0.5, generator=lamina.Generator().manual_seed(1)))
    noisy, clean = ds.get_batch(np.arange(10))
    np.testing.assert_array_equal(clean.numpy(), x.numpy())
    n = noisy.numpy()
    assert ((n == 0) | (n == x.numpy())).all() and (n == 0).any()
    noisy1, clean1 = ds[3]
    assert noisy1.shape == (4,) and np.array_equal(clean1.numpy(), x.numpy()[3])
    # through a DataLoader: (noisy, clean) batches; conditional keeps the label as a model input
    batches = list(DataLoader(ReconstructionDataset(x), batch_size=4))
    assert len(batches) == 3 and np.array_equal(batches[0][0].numpy(), batches[0][1].numpy())
    (inp, lab), tgt = next(iter(DataLoader(ReconstructionDataset(TensorDataset(x, y), conditional=True), 4)))
    assert np.array_equal(lab.numpy(), [0, 1, 2, 3]) and np.array_equal(inp.numpy(), tgt.numpy())
    with pytest.raises(ValueError, match="has no labels"):
        ReconstructionDataset(x, conditional=True)[0]
    with pytest.raises(TypeError, match="noise must be a callable"):
        ReconstructionDataset(x, noise=0.3)


def test_denoising_autoencoder_noise_transforms():
    dae = create_model("denoising_autoencoder", in_features=8, hidden_sizes=[6], latent_dim=2, noise="gaussian",
                       noise_level=0.2)
    t = dae.noise_transform(lamina.Generator().manual_seed(0))
    assert isinstance(t, GaussianNoise) and t.std == 0.2
    assert isinstance(DenoisingAutoencoder(8, noise="masking").noise_transform(), MaskingNoise)
    assert dae.get_config()["noise"] == "gaussian"
    with pytest.raises(ValueError, match="'masking' or 'gaussian'"):
        DenoisingAutoencoder(8, noise="salt")
    with pytest.raises(ValueError, match="out of range"):
        DenoisingAutoencoder(8, noise="masking", noise_level=1.0)


# ---------------------------------------------------------------- training with the Trainer
def _subspace_data(n, seed):
    r = rng(seed)
    basis = np.linalg.qr(r.standard_normal((16, 2)))[0].T  # 2 directions in 16-D
    return (r.standard_normal((n, 2)) @ basis * 2).astype(np.float32), basis


def test_denoising_autoencoder_trains_and_scores_anomalies():
    x, basis = _subspace_data(256, 0)
    lamina.manual_seed(0)
    dae = DenoisingAutoencoder(16, [32], latent_dim=2, noise="gaussian", noise_level=0.1)
    train = ReconstructionDataset(x, noise=dae.noise_transform(lamina.Generator().manual_seed(3)))
    trainer = Trainer(dae, dae.loss_fn(), optim.Adam(dae.parameters(), lr=1e-2))
    hist = trainer.fit(DataLoader(train, 32, shuffle=True), epochs=20, verbose=False)
    assert hist.history["loss"][-1] < 0.25 * hist.history["loss"][0]
    ev = trainer.evaluate(DataLoader(ReconstructionDataset(x), 64))
    assert ev["loss"] < 0.2
    # points off the learned plane are anomalies: their reconstruction error is far larger
    normal = lamina.tensor((_subspace_data(64, 1)[0] @ basis.T @ basis).astype(np.float32))
    r = rng(2).standard_normal((64, 16)).astype(np.float32)
    off = lamina.tensor(((r - r @ basis.T @ basis) * 2).astype(np.float32))
    s_norm, s_off = dae.anomaly_score(normal).numpy(), dae.anomaly_score(off).numpy()
    assert s_norm.shape == (64,)
    assert np.median(s_off) > 5 * np.median(s_norm)


def test_autoencoder_loss_needs_a_target():
    ae = Autoencoder(4, [3], 2)
    trainer = Trainer(ae, ae.loss_fn(), optim.SGD(ae.parameters(), lr=0.1))
    x = lamina.randn(8, 4)
    with pytest.raises(ValueError, match="ReconstructionDataset"):
        trainer.fit(DataLoader(TensorDataset(x), 4), verbose=False)
    with pytest.raises(TypeError, match="class labels are not a reconstruction target"):
        trainer.fit(DataLoader(TensorDataset(x, lamina.arange(8)), 4), verbose=False)
