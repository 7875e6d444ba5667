"""ONNX converters for the generative model zoo: autoencoders and VAEs (GANs, SimCLR and spiking
networks plug in here the same way when they land).

What each export computes (deterministic graphs: onnxruntime gives lamina's numbers):

    Autoencoder, DenoisingAutoencoder,   x -> x̂ = decoder(encoder(x)), shaped like x: the forward
    ConvAutoencoder                      (logits for reconstruction='bce': apply a sigmoid to show)
    VAE                                  x -> (reconstruction, mu, logvar): the decoder's mean at
                                         z = μ(x) (pixel probabilities for a Bernoulli decoder,
                                         = ``vae.reconstruct(x)``) and q(z|x)'s parameters
                                         (= ``vae.encode(x)``)
    ConditionalVAE                       (x, labels int64) -> the same, conditioned on the labels
    VAEDecoder(vae)                      z [, labels] -> the decoder's mean: the generator. Sample
                                         in the deployment with z ~ N(0, I) drawn there.

A VAE's own ``forward`` draws ε and cannot be compared with lamina; the exported graph is what a
deployer needs from it: embeddings (μ), uncertainty (log σ²), reconstructions and anomaly scores
(reconstruction error) — and, through ``VAEDecoder``, new samples from noise fed as an input.

    lamina.onnx.export(vae, lamina.rand(1, 64), "vae.onnx", output_names=["reconstruction", "mu", "logvar"])
    lamina.onnx.export(VAEDecoder(vae), lamina.randn(1, vae.latent_dim), "vae_decoder.onnx")
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ...autograd import no_grad
from ...models.autoencoder import Autoencoder, ConvAutoencoder
from ...models.conditional_vae import ConditionalVAE
from ...models.vae import VAE
from ...nn.module import Module
from ...tensor import Tensor
from .._registry import register_converter

__all__ = ["VAEDecoder"]


def _flatten1(ctx, x):
    return ctx.op("Flatten", x, axis=1, out=x.tensor.flatten(1))


@register_converter(Autoencoder)
def _autoencoder(ctx, m, x):
    """decoder(encoder(flatten(x))) reshaped like x (Shape(x): the batch stays dynamic)."""
    xf = _flatten1(ctx, x) if x.rank > 2 else x
    out = ctx.call(m.decoder, ctx.call(m.encoder, xf, name="encoder"), name="decoder")
    if x.rank > 2:
        out = ctx.op("Reshape", out, ctx.op("Shape", x), out=out.tensor.reshape(x.tensor.shape))
    return out


@register_converter(ConvAutoencoder)
def _conv_autoencoder(ctx, m, x):
    """decoder(encoder(x)): convolutions down to the code, transposed convolutions back."""
    if x.rank != 4:
        raise ctx.error(f"ConvAutoencoder on a {x.rank}-D input (it takes (N, C, H, W))")
    return ctx.call(m.decoder, ctx.call(m.encoder, x, name="encoder"), name="decoder")


def _onehot(ctx, m, labels):
    """one_hot(labels) as Gather(rows of the identity): (N,) int64 -> (N, num_classes) float."""
    if labels is None:
        raise ctx.error("ConditionalVAE without labels (export it with (x, labels) example inputs)")
    lab = np.asarray(labels.tensor.array).reshape(-1).astype(np.int64)
    ids = labels if labels.tensor.dtype == np.int64 else ctx.op("Cast", labels, to=7)
    ids = ctx.op("Reshape", ids, ctx.ints([-1]))
    rows = np.eye(m.num_classes, dtype=np.float32)
    return ctx.op("Gather", ctx.const(rows, "one_hot_rows"), ids, axis=0, out=Tensor(rows[lab]))


def _join(ctx, v, cond):
    if cond is None:
        return v
    return ctx.op("Concat", v, cond, axis=1, out=ops.shape.cat([v.tensor, cond.tensor.to(v.tensor.dtype)], 1))


def _columns(ctx, h, start, stop):
    """h[:, start:stop]."""
    return ctx.op("Slice", h, ctx.ints([start]), ctx.ints([stop]), ctx.ints([1]), out=h.tensor[:, start:stop])


def _decoder_mean(ctx, m, z, cond):
    """The decoder's mean in data space: sigmoid(logits) (Bernoulli) or the mean columns (Gaussian)."""
    h = ctx.call(m.decoder, _join(ctx, z, cond), name="decoder")
    if m._learned_var:  # mean and log-variance side by side: keep the mean
        h = _columns(ctx, h, 0, m.in_features)
    return ctx.op("Sigmoid", h, out=h.tensor.sigmoid()) if m.likelihood == "bernoulli" else h


@register_converter(VAE, ConditionalVAE)
def _vae(ctx, m, x, labels=None):
    """x [, labels] -> (decoder mean at z = μ, μ, log σ²); the encoder head split in two halves."""
    xf = _flatten1(ctx, x) if x.rank > 2 else x
    cond = _onehot(ctx, m, labels) if m.num_classes else None
    h = ctx.call(m.encoder, _join(ctx, xf, cond), name="encoder")
    L = m.latent_dim
    mu, logvar = _columns(ctx, h, 0, L), _columns(ctx, h, L, 2 * L)
    recon = _decoder_mean(ctx, m, mu, cond)
    with no_grad():  # what the graph computes, in lamina (checked by the exporter)
        lab = None if labels is None else labels.tensor
        kw = {"labels": lab} if m.num_classes else {}
        recon.tensor = m.reconstruct(x.tensor, **kw)
        mu.tensor, logvar.tensor = m.encode(x.tensor, **kw)
    return recon, mu, logvar


class VAEDecoder(Module):
    """A VAE's generator as a module of its own: ``z [, labels] -> decoder mean`` (N, in_features).

    Feeding z ~ N(0, I) gives samples (``vae.sample``); for export, where noise comes from outside.
    >>> lamina.onnx.export(VAEDecoder(vae), lamina.randn(1, vae.latent_dim), "decoder.onnx")
    """

    def __init__(self, vae: VAE):
        super().__init__()
        if not isinstance(vae, VAE):
            raise TypeError(f"VAEDecoder: expected a VAE or ConditionalVAE, got {type(vae).__name__}")
        self.vae = vae

    def forward(self, z: Tensor, labels=None) -> Tensor:
        out = self.vae.decode(z, labels=labels) if self.vae.num_classes else self.vae.decode(z)
        return out.sigmoid() if self.vae.likelihood == "bernoulli" else out


@register_converter(VAEDecoder)
def _vae_decoder(ctx, m, z, labels=None):
    vae = m.vae
    if z.rank != 2 or z.shape[1] != vae.latent_dim:
        raise ctx.error(f"VAEDecoder on codes of shape {z.shape} (expected (N, {vae.latent_dim}))")
    cond = _onehot(ctx, vae, labels) if vae.num_classes else None
    ctx.path.append("vae")
    try:
        return _decoder_mean(ctx, vae, z, cond)
    finally:
        ctx.path.pop()


# ---------------------------------------------------------------- GANs: the generator, noise -> image
from ...models.gan import GAN, DCGANGenerator, MLPGenerator  # noqa: E402
from ...models.simclr import SimCLR  # noqa: E402
from ...models.spiking import SpikingMLP  # noqa: E402
from ...nn.layers.spiking import LIF  # noqa: E402


@register_converter(GAN)
def _gan(ctx, m, z, labels=None):
    """A GAN's forward is its generator: z [, labels] -> images in [-1, 1] (the discriminator is a
    training tool and is not exported)."""
    return ctx.call(m.generator, z, *([labels] if labels is not None else []), name="generator")


def _gan_input(ctx, m, z, labels):
    if m.num_classes is None:
        return z
    if labels is None:
        raise ctx.error(f"{type(m).__name__} is conditional: export it with (z, labels) example inputs")
    emb = ctx.call(m.embedding, labels, name="embedding")
    return ctx.op("Concat", z, emb, axis=1, out=ops.shape.cat([z.tensor, emb.tensor], 1))


@register_converter(DCGANGenerator)
def _dcgan_generator(ctx, m, z, labels=None):
    """net(reshape([z, embedding(labels)], (N, -1, 1, 1))): transposed convolutions from a 1x1 code."""
    h = _gan_input(ctx, m, z, labels)
    h = ctx.op("Reshape", h, ctx.ints([0, -1, 1, 1]), out=h.tensor.reshape(h.tensor.shape[0], -1, 1, 1))
    return ctx.call(m.net, h, name="net")


@register_converter(MLPGenerator)
def _mlp_generator(ctx, m, z, labels=None):
    """reshape(net([z, embedding(labels)]), (N, *image_shape))."""
    h = ctx.call(m.net, _gan_input(ctx, m, z, labels), name="net")
    return ctx.op("Reshape", h, ctx.ints([0, *m.image_shape]))


# ---------------------------------------------------------------- SimCLR: x -> projection z
@register_converter(SimCLR)
def _simclr(ctx, m, x, x2=None):
    """projector(encoder(x)) for one view (flat rows are reshaped to (N, C, H, W)); ``encode`` features
    are the encoder's output: export ``model.encoder`` for them."""
    if x2 is not None:
        raise ctx.error("SimCLR with two views (export one view: the projection of x)")
    if x.rank == 2:
        x = ctx.op("Reshape", x, ctx.ints([0, m.in_channels, *m.hw]),
                   out=x.tensor.reshape(x.tensor.shape[0], m.in_channels, *m.hw))
    return ctx.call(m.projector, ctx.call(m.encoder, x, name="encoder"), name="projector")


# ---------------------------------------------------------------- spiking MLP: the time loop unrolled
def _lif_step(ctx, lif, cur, mem, beta, thr, dtype):
    """One LIF step as nodes: ``(spike, new membrane)``; ``mem`` None is u = 0 (no decay, no reset)."""
    to = int(_onnx_type(dtype))
    if mem is None:
        mem = cur
    else:
        decayed = ctx.op("Mul", beta, mem)
        if lif.reset == "none":
            mem = ctx.op("Add", decayed, cur)
        else:
            r = ctx.op("Cast", ctx.op("Greater", mem, thr), to=to)
            if lif.reset == "subtract":
                mem = ctx.op("Sub", ctx.op("Add", decayed, cur), ctx.op("Mul", r, thr))
            else:
                keep = ctx.op("Sub", ctx.const(np.asarray(1.0, dtype), "one"), r)
                mem = ctx.op("Add", ctx.op("Mul", beta, ctx.op("Mul", keep, mem)), cur)
    spike = ctx.op("Cast", ctx.op("Greater", ctx.op("Sub", mem, thr), ctx.const(np.asarray(0.0, dtype), "zero")), to=to)
    return spike, mem


def _onnx_type(dtype):
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


@register_converter(LIF)
def _lif(ctx, m, x, mem=None):
    """``nn.LIF`` one time step: (spike, membrane), the update written out in ``_spiking_mlp``."""
    dtype = np.dtype(x.tensor.dtype)
    beta = ctx.const(np.clip(np.asarray(m.beta.detach().numpy(), dtype), 0.0, 1.0), "beta")
    thr = ctx.const(np.asarray(m.threshold, dtype), "threshold")
    return _lif_step(ctx, m, x, mem, beta, thr, dtype)


@register_converter(SpikingMLP)
def _spiking_mlp(ctx, m, x):
    """The T steps unrolled: per layer cur_t = W s_t + b, then the LIF update of ``nn.LIF``

        r = (u > θ);  u = β u + cur_t - r θ   ('subtract')  |  β (1 - r) u + cur_t  ('zero')  |  β u + cur_t
        s_t = (u - θ > 0)

    and the readout (spike counts summed over time, or the mean membrane of the last layer). The
    input is deterministic: encoding 'direct' (x, (B, F), every step) or 'none' (already encoded
    spikes (T, B, F)); rate and latency coding draw random spikes, so encode outside and export
    the model with encoding='none'."""
    if m.encoding not in ("direct", "none"):
        raise ctx.error(f"SpikingMLP(encoding={m.encoding!r}): a random spike encoding; export with "
                        "encoding='none' (feed encoded spikes (T, B, F)) or 'direct'")
    T = m.num_steps
    if m.encoding == "direct":
        if x.rank != 2:
            x = ctx.op("Flatten", x, axis=1)
        steps = [x] * T
    else:
        xs = ctx.op("Reshape", x, ctx.ints([0, 0, -1]))
        steps = [ctx.op("Gather", xs, ctx.const(np.asarray(t, np.int64), "t"), axis=0)
                 for t in range(T)]
    dtype = np.float32
    for i, (fc, lif) in enumerate(zip(m.fcs, m.lifs)):
        ctx.path.append(f"fcs.{i}")
        wt = ctx.op("Transpose", ctx.param(fc.weight, "weight"), perm=[1, 0])
        bias = ctx.param(fc.bias, "bias") if fc.bias is not None else None
        ctx.path[-1] = f"lifs.{i}"
        beta = ctx.const(np.clip(np.asarray(lif.beta.detach().numpy(), dtype), 0.0, 1.0), "beta")
        thr = ctx.const(np.asarray(lif.threshold, dtype), "threshold")
        ctx.path.pop()
        mem, spikes, mems = None, [], []
        for s in steps:  # time steps: a small fixed number
            cur = ctx.op("MatMul", s, wt)
            cur = ctx.op("Add", cur, bias) if bias is not None else cur
            spike, mem = _lif_step(ctx, lif, cur, mem, beta, thr, dtype)
            spikes.append(spike)
            mems.append(mem)
        steps = spikes
    total = spikes[0] if m.readout == "count" else mems[0]
    for v in (spikes if m.readout == "count" else mems)[1:]:
        total = ctx.op("Add", total, v)
    if m.readout != "count":
        total = ctx.op("Div", total, ctx.const(np.asarray(float(T), dtype), "num_steps"))
    return total
