"""ONNX export of the generative model zoo (autoencoders, VAEs): onnxruntime against lamina at two
batch sizes. A VAE exports its deterministic graph x -> (reconstruction at z = μ, μ, log σ²), and
``VAEDecoder`` its generator z -> pixel means (the noise is an input).

``GENERATIVE_CASES`` (name -> (builder, make_inputs)) is read by test_export_zoo_coverage.py.
"""
import numpy as np
import pytest

from export_util import assert_exports, lonnx, run_onnx

import lamina
from lamina.models import create_model
from lamina import nn
from lamina.nn import Module
from lamina.onnx.converters.zoo_generative import VAEDecoder


class _Deterministic(Module):
    """What the VAE export computes, as a lamina module: (reconstruct(x), *encode(x))."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, x, labels=None):
        kw = {"labels": labels} if labels is not None else {}
        return (self.vae.reconstruct(x, **kw),) + tuple(self.vae.encode(x, **kw))

    def onnx_export(self, ctx, x, labels=None):
        return ctx.call(self.vae, x, *([labels] if labels is not None else []), name="vae")


def _build(name, wrap=None, **config):
    def builder():
        lamina.manual_seed(0)
        m = create_model(name, **config)
        return wrap(m) if wrap else m
    builder.__name__ = f"build_{name}"
    return builder


def _flat(n):
    return (lamina.rand(n, 64),)


def _images(n):
    return (lamina.rand(n, 1, 8, 8),)


def _with_labels(n):
    return (lamina.rand(n, 64), lamina.tensor(np.arange(n, dtype=np.int64) % 10))


GENERATIVE_CASES = {
    "autoencoder": (_build("autoencoder", in_features=64, hidden_sizes=[32], latent_dim=4), _images),
    "denoising_autoencoder": (_build("denoising_autoencoder", in_features=64, hidden_sizes=[32], latent_dim=4,
                                     reconstruction="bce"), _flat),
    "conv_autoencoder": (_build("conv_autoencoder", in_channels=1, image_size=8, channels=(4, 8), latent_dim=4),
                         _images),
    "vae": (_build("vae", _Deterministic, in_features=64, latent_dim=4, hidden_sizes=(32,)), _images),
    "conditional_vae": (_build("conditional_vae", _Deterministic, in_features=64, num_classes=10, latent_dim=4,
                               hidden_sizes=(32,), likelihood="gaussian"), _with_labels),
}


def _noise(n, latent=8, conditional=False):
    z = (lamina.randn(n, latent),)
    return z + ((lamina.tensor(np.arange(n, dtype=np.int64) % 10),) if conditional else ())


def _randomise_batchnorm(model):
    rng = np.random.default_rng(0)
    for m in model.modules():
        if hasattr(m, "running_var") and m.running_var is not None:
            m.running_mean.array[...] = rng.normal(0, 0.2, m.running_mean.shape)
            m.running_var.array[...] = rng.uniform(0.5, 1.5, m.running_var.shape)
    return model


def _gan(name, **config):
    build = _build(name, **config)
    return lambda: _randomise_batchnorm(build())


# a GAN exports its generator: noise z [, labels] -> images; SimCLR the projection of one view;
# a spiking MLP its unrolled time loop (deterministic 'direct' encoding)
GAN_CASES = {
    "gan": (_gan("gan", arch="mlp", latent_dim=8, image_shape=(1, 8, 8), hidden_sizes=(16,)), _noise),
    "mlp_gan": (_gan("mlp_gan", latent_dim=8, image_shape=(1, 8, 8), hidden_sizes=(16,)), _noise),
    "dcgan": (_gan("dcgan", latent_dim=8, image_shape=(1, 16, 16), base_channels=4), _noise),
    "wgan_gp": (_gan("wgan_gp", latent_dim=8, image_shape=(1, 16, 16), base_channels=4), _noise),
    "cgan": (_gan("cgan", latent_dim=8, image_shape=(1, 8, 8), hidden_sizes=(16,), num_classes=10),
             lambda n: _noise(n, conditional=True)),
}
REPRESENTATION_CASES = {
    "simclr": (_gan("simclr", in_channels=1, input_size=8, widths=(4, 8), feature_dim=16, hidden_dim=16,
                    projection_dim=8), _images),
    "snn_mlp": (_build("snn_mlp", in_features=64, hidden_sizes=(16,), out_features=10, num_steps=5,
                       encoding="direct", beta=0.8, threshold=0.2), _flat),
    "spiking_mlp": (_build("spiking_mlp", in_features=64, hidden_sizes=(16,), out_features=10, num_steps=4,
                           encoding="direct", reset="zero", readout="membrane", threshold=0.3), _flat),
}
_EVERY_CASE = {**GENERATIVE_CASES, **GAN_CASES, **REPRESENTATION_CASES}


def test_a_spiking_mlp_exports_on_encoded_spikes():
    lamina.manual_seed(3)
    model = create_model("snn_mlp", in_features=64, hidden_sizes=(16,), num_steps=6, encoding="none", threshold=0.3)
    model.eval()
    spikes = lambda n: ((lamina.rand(6, n, 64) < 0.3).float(),)
    proto = lonnx.export(model, spikes(3), dynamic_axes={"input": {1: "batch"}, "output": {0: "batch"}})
    x = spikes(5)[0]
    (got,) = run_onnx(proto, {"input": x.numpy()})
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-4)


@pytest.mark.parametrize("name", sorted(_EVERY_CASE))
def test_generative_model_exports(name):
    builder, make_inputs = _EVERY_CASE[name]
    assert_exports(builder(), make_inputs, batch_sizes=(2, 5))


def test_a_vae_exports_itself_as_reconstruction_mu_logvar():
    lamina.manual_seed(1)
    vae = create_model("vae", in_features=64, latent_dim=3, hidden_sizes=(16,), likelihood="gaussian")
    x = lamina.rand(4, 64)
    proto = lonnx.export(vae, (x,), output_names=["reconstruction", "mu", "logvar"])
    rec, mu, logvar = run_onnx(proto, {"input": x.numpy()})
    want_mu, want_logvar = vae.encode(x)
    np.testing.assert_allclose(mu, want_mu.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, want_logvar.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(rec, vae.reconstruct(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("conditional", [False, True])
def test_the_vae_decoder_turns_noise_into_samples(conditional):
    lamina.manual_seed(2)
    name = "conditional_vae" if conditional else "vae"
    vae = create_model(name, in_features=64, latent_dim=3, hidden_sizes=(16,))
    vae.eval()
    dec = VAEDecoder(vae)
    make = (lambda n: (lamina.randn(n, 3), lamina.tensor(np.arange(n, dtype=np.int64) % 10))) if conditional \
        else (lambda n: (lamina.randn(n, 3),))
    assert_exports(dec, make, batch_sizes=(3, 7))
    g = lamina.Generator().manual_seed(5)   # the decoder is vae.sample's second half
    z = lamina.randn(4, 3, generator=lamina.Generator().manual_seed(5))
    labels = np.full(4, 2, dtype=np.int64) if conditional else None
    np.testing.assert_allclose(dec(z, labels).detach().numpy() if conditional else dec(z).detach().numpy(),
                               vae.sample(4, labels=labels, generator=g).numpy(), atol=1e-6)


def test_a_conditional_vae_needs_its_labels_to_export():
    vae = create_model("conditional_vae", in_features=64, latent_dim=3, hidden_sizes=(16,))
    with pytest.raises(lonnx.ExportError, match="labels"):
        lonnx.export(vae, (lamina.rand(2, 64),))


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_lif_one_step_with_and_without_a_membrane(reset):
    lif = nn.LIF(beta=0.8, threshold=0.5, reset=reset)

    class TwoSteps(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif = lif

        def forward(self, x):
            s1, m1 = self.lif(x)
            return self.lif(x * 0.5, m1)

        def onnx_export(self, ctx, x):
            s1, m1 = ctx.call(self.lif, x, name="lif")
            half = ctx.op("Mul", x, ctx.const(np.float32(0.5), "half"), out=x.tensor * 0.5)
            return ctx.call(self.lif, half, m1, name="lif")

    assert_exports(TwoSteps(), lambda n: (lamina.randn(n, 7) + 0.6,))
