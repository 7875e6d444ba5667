"""Variational autoencoders (Kingma & Welling, 2014): the dense VAE, with its sampling and evaluation.

    q(z|x) = N(μ(x), diag σ²(x)),   [μ, log σ²] = encoder(x)          (one Linear head of 2·latent_dim)
    z = μ + σ ⊙ ε,  ε ~ N(0, I)                                          (reparameterisation)
    p(x|z) = Bernoulli(logits = decoder(z))   or   N(m(z), diag σ_x²)
    ELBO = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))                       (ELBOLoss: its negative)
    log p(x) ≈ log (1/k) Σ_k p(x, z_k) / q(z_k|x),  z_k ~ q(z|x)         (iwae_log_likelihood; Burda et al., 2016)

The conditional VAE (``conditional_vae.py``) concatenates the one-hot label to both inputs.

>>> vae = VAE(64, latent_dim=16, hidden_sizes=(256, 256))            # 64-256-256-2x16 / 16-256-256-64
>>> loss = ELBOLoss()(vae(x)); vae.iwae_log_likelihood(x_test, k=100).mean()
>>> vae.sample(16)                                                    # (16, 64) pixel probabilities
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..nn.module import Module
from ..ops.creation import randn
from ..tensor import Tensor
from .mlp import MLP
from .registry import Configurable, register_model
from .vae_loss import (BernoulliVAEOutput, ELBOLoss, GaussianVAEOutput, bernoulli_log_likelihood, gaussian_kl,
                       gaussian_log_likelihood, standard_normal_log_prob)

__all__ = ["VAE"]

_CHUNK_ELEMENTS = 1 << 21  # importance samples are decoded in chunks of about this many activations


def _positive_int(v, name, owner):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")
    return int(v)


@register_model("vae")
class VAE(Configurable, Module):
    """Dense VAE with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    Args:
        in_features: size of each (flattened) input sample.
        latent_dim: size of z.
        hidden_sizes: encoder widths (in -> hidden... -> 2·latent_dim); the decoder mirrors them
            (latent -> reversed hidden... -> in_features).
        activation: hidden activation ('relu', 'tanh', ...).
        likelihood: 'bernoulli' (decoder outputs logits; data in [0, 1]) or 'gaussian'.
        decoder_std: for 'gaussian': a fixed σ_x, or None to learn a per-pixel log σ_x² (the decoder
            then outputs 2·in_features values: mean and log-variance).

    ``forward(x)`` samples z once and returns a ``BernoulliVAEOutput`` / ``GaussianVAEOutput``
    (recon, [recon_logvar,] mu, logvar, z, x), which ``ELBOLoss`` turns into the loss.
    """

    num_classes = 0

    def __init__(self, in_features: int, latent_dim: int = 16, hidden_sizes=(256, 256), activation="relu",
                 likelihood: str = "bernoulli", decoder_std: float | None = None):
        super().__init__()
        owner = type(self).__name__
        self.in_features = _positive_int(in_features, "in_features", owner)
        self.latent_dim = _positive_int(latent_dim, "latent_dim", owner)
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        self.hidden_sizes, self.activation = tuple(hidden), activation
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"{owner}: likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if decoder_std is not None and (likelihood != "gaussian" or not float(decoder_std) > 0):
            raise ValueError(f"{owner}: decoder_std is a positive σ for the 'gaussian' likelihood (None = learned), "
                             f"got {decoder_std!r} with likelihood={likelihood!r}")
        self.likelihood = likelihood
        self.decoder_std = None if decoder_std is None else float(decoder_std)
        self._learned_var = likelihood == "gaussian" and decoder_std is None
        c = self.num_classes
        out = self.in_features * (2 if self._learned_var else 1)
        self.encoder = MLP(self.in_features + c, hidden, 2 * self.latent_dim, activation=activation)
        self.decoder = MLP(self.latent_dim + c, hidden[::-1], out, activation=activation)

    # ------------------------------------------------------------ conditioning (none here)
    def _condition(self, labels, n: int, like: Tensor):
        if labels is not None:
            raise TypeError(f"{type(self).__name__} is not conditional; use ConditionalVAE for labels")
        return None

    @staticmethod
    def _join(t: Tensor, cond):
        return t if cond is None else ops.shape.cat([t, cond.to(t.dtype)], -1)

    def _flat(self, x) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim > 2:
            x = x.flatten(1)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{type(self).__name__}(in_features={self.in_features}): input has "
                             f"{x.shape[-1] if x.ndim else 0} features (input shape {tuple(x.shape)})")
        return x

    # ------------------------------------------------------------ the pieces
    def _encode(self, x: Tensor, cond):
        h = self.encoder(self._join(x, cond))
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def encode(self, x: Tensor, labels=None):
        """(μ, log σ²) of q(z|x), each (N, latent_dim)."""
        x = self._flat(x)
        return self._encode(x, self._condition(labels, x.shape[0], x))

    def reparameterize(self, mu: Tensor, logvar: Tensor, generator=None) -> Tensor:
        """z = μ + exp(½ log σ²) ⊙ ε with ε ~ N(0, I) drawn from ``generator``: differentiable in μ and log σ²."""
        eps = randn(tuple(mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + (0.5 * logvar).exp() * eps

    def _decode_params(self, z: Tensor, cond):
        """(recon, recon_logvar): logits or mean over the last dim (..., D), and the Gaussian log-variance."""
        lead = tuple(z.shape[:-1])
        zf = z.reshape(-1, z.shape[-1])
        if cond is not None and z.ndim > 2:  # importance samples / interpolation steps: repeat the condition
            cond = cond.expand(lead + tuple(cond.shape[-1:])).reshape(-1, cond.shape[-1])
        h = self.decoder(self._join(zf, cond))
        d = self.in_features
        if self._learned_var:
            return h[:, :d].reshape(lead + (d,)), h[:, d:].reshape(lead + (d,))
        recon = h.reshape(lead + (d,))
        if self.likelihood == "gaussian":
            return recon, 2.0 * math.log(self.decoder_std)
        return recon, None

    def decode(self, z: Tensor, labels=None) -> Tensor:
        """The decoder's output for codes z (N, latent_dim): logits (Bernoulli) or the mean (Gaussian), (N, D)."""
        self._check_z(z)
        return self._decode_params(z, self._condition(labels, z.shape[0], z))[0]

    def _check_z(self, z):
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"{type(self).__name__}(latent_dim={self.latent_dim}): latent codes must have shape "
                             f"(N, {self.latent_dim}), got {got}")

    def _mean(self, recon: Tensor) -> Tensor:
        return recon.sigmoid() if self.likelihood == "bernoulli" else recon

    def _output(self, x, labels):
        xf = self._flat(x)
        cond = self._condition(labels, xf.shape[0], xf)
        mu, logvar = self._encode(xf, cond)
        z = self.reparameterize(mu, logvar)
        recon, rlv = self._decode_params(z, cond)
        if self.likelihood == "bernoulli":
            return BernoulliVAEOutput(recon, mu, logvar, z, x)
        if not isinstance(rlv, Tensor):
            rlv = ops.creation.full((1, 1), rlv, dtype=recon.dtype, device=recon.device).expand(recon.shape)
        return GaussianVAEOutput(recon, rlv, mu, logvar, z, x)

    def forward(self, x: Tensor):
        """Encode, sample z once, decode: a BernoulliVAEOutput / GaussianVAEOutput for ``ELBOLoss``."""
        return self._output(x, None)

    # ------------------------------------------------------------ evaluation
    def _log_px(self, recon, rlv, x):
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(recon, x)
        return gaussian_log_likelihood(recon, rlv, x)

    def _sample_terms(self, x, labels, k: int, chunk_size, generator):
        """Yields (μ, log σ²) first, then for each chunk of importance samples
        (log p(x|z), log p(z) - log q(z|x)), each (k_chunk, N)."""
        k = _positive_int(k, "k", f"{type(self).__name__}.iwae_log_likelihood")
        xf = self._flat(x)
        n = xf.shape[0]
        cond = self._condition(labels, n, xf)
        mu, logvar = self._encode(xf, cond)
        std = (0.5 * logvar).exp()
        if chunk_size is None:
            width = max((self.in_features,) + self.hidden_sizes)
            chunk_size = max(1, min(k, _CHUNK_ELEMENTS // max(1, n * width)))
        chunk_size = _positive_int(chunk_size, "chunk_size", f"{type(self).__name__}.iwae_log_likelihood")
        # log q(z|x) - log N(ε; 0, I) = -Σ log σ  (z = μ + σ ε): computed once per input
        log_det = -0.5 * logvar.sum(-1)
        yield mu, logvar
        for start in range(0, k, chunk_size):
            kc = min(chunk_size, k - start)
            eps = randn((kc, n, self.latent_dim), generator=generator, dtype=mu.dtype, device=mu.device)
            z = mu + std * eps
            recon, rlv = self._decode_params(z, cond)
            log_px = self._log_px(recon, rlv, xf)
            log_ratio = standard_normal_log_prob(z) - (standard_normal_log_prob(eps) + log_det)
            yield log_px, log_ratio

    def iwae_log_likelihood(self, x: Tensor, k: int = 100, labels=None, chunk_size: int | None = None,
                            generator=None) -> Tensor:
        """Importance-weighted estimate of log p(x) per sample, (N,), with k samples of q(z|x):

            log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k     (a lower bound, tight as k → ∞)

        All samples of a chunk (``chunk_size`` samples × N inputs, chosen to bound memory) run
        through the decoder as one batch. Differentiable (the IWAE objective); wrap in
        ``lamina.no_grad()`` to evaluate.
        >>> vae.iwae_log_likelihood(x_test, k=100).mean()     # nats per image
        """
        terms = self._sample_terms(x, labels, k, chunk_size, generator)
        next(terms)
        parts = [log_px + log_ratio for log_px, log_ratio in terms]
        log_w = parts[0] if len(parts) == 1 else ops.shape.cat(parts, 0)
        return log_w.logsumexp(0) - math.log(k)

    def elbo(self, x: Tensor, labels=None, k: int = 1, chunk_size: int | None = None, generator=None) -> Tensor:
        """The ELBO per sample, (N,): E_q[log p(x|z)] averaged over k samples of z, minus the analytic KL."""
        terms = self._sample_terms(x, labels, k, chunk_size, generator)
        mu, logvar = next(terms)
        total = None
        for log_px, _ in terms:
            s = log_px.sum(0)
            total = s if total is None else total + s
        return total / k - gaussian_kl(mu, logvar)

    # ------------------------------------------------------------ generation
    def _data_space(self, z, cond) -> Tensor:
        return self._mean(self._decode_params(z, cond)[0])

    def sample(self, n: int, labels=None, generator=None) -> Tensor:
        """n samples from the model, (n, in_features): z ~ N(0, I), then the decoder's mean
        (pixel probabilities for a Bernoulli decoder). No graph.
        >>> vae.sample(64).reshape(64, 1, 8, 8)
        """
        n = _positive_int(n, "n", f"{type(self).__name__}.sample")
        p = next(self.parameters())
        with no_grad():
            cond = self._condition(labels, n, p)
            z = randn((n, self.latent_dim), generator=generator, dtype=p.dtype, device=p.device)
            return self._data_space(z, cond)

    def reconstruct(self, x: Tensor, labels=None) -> Tensor:
        """The decoder's mean at z = μ(x) (no sampling, no graph), (N, in_features)."""
        with no_grad():
            xf = self._flat(x)
            cond = self._condition(labels, xf.shape[0], xf)
            return self._data_space(self._encode(xf, cond)[0], cond)

    def interpolate(self, x1: Tensor, x2: Tensor, steps: int = 8, labels=None) -> Tensor:
        """A latent walk: decode z_t = (1 - t) μ(x1) + t μ(x2) for t = 0, 1/(steps-1), ..., 1 (no graph).

        x1, x2: one sample each, (D,) or (C, H, W) -> (steps, D); or batches (N, D) / (N, C, H, W)
        -> (steps, N, D), with D = in_features.
        >>> vae.interpolate(x[0], x[1], steps=10)     # (10, 64)
        """
        steps = _positive_int(steps, "steps", f"{type(self).__name__}.interpolate")
        if not isinstance(x1, Tensor) or not isinstance(x2, Tensor) or tuple(x1.shape) != tuple(x2.shape):
            raise ValueError(f"{type(self).__name__}.interpolate: x1 and x2 must be tensors of one shape, got "
                             f"{getattr(x1, 'shape', type(x1).__name__)} and {getattr(x2, 'shape', type(x2).__name__)}")
        single = x1.numel() == self.in_features and x1.ndim not in (2, 4)  # (D,) or (C, H, W), not a batch
        with no_grad():
            a, b = (self._flat(v.reshape(1, -1) if single else v) for v in (x1, x2))
            n = a.shape[0]
            cond = self._condition(labels, n, a)
            mu = self._encode(ops.shape.cat([a, b], 0), None if cond is None else ops.shape.cat([cond, cond], 0))[0]
            m1, m2 = mu[:n], mu[n:]
            t = Tensor._wrap(a.xp.asarray(np.linspace(0.0, 1.0, steps), dtype=mu.dtype)).reshape(steps, 1, 1)
            z = m1 * (1.0 - t) + m2 * t                       # (steps, n, L)
            out = self._data_space(z, cond)                    # (steps, n, D)
            return out.reshape(steps, self.in_features) if single else out

    def loss_fn(self, beta: float = 1.0, reduction: str = "mean") -> ELBOLoss:
        """The training loss: ``ELBOLoss(beta)`` (negative ELBO in nats per sample)."""
        return ELBOLoss(beta, reduction)

    def get_config(self) -> dict:
        cfg = super().get_config()
        if not isinstance(self.activation, str):
            cfg["activation"] = self.activation.__name__
        return cfg
