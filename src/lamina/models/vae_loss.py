"""The VAE objective: log-likelihoods of the decoders, the Gaussian KL, the ELBO loss and KL warm-up.

    ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || N(0, I))          (one sample of z per input)
    loss    = mean_i -(log p(x_i|z_i) - β · KL_i)                     (ELBOLoss, nats per sample)

Every function sums over the last (feature) dimension and keeps the leading ones, so the same
code serves a batch (N, D) and importance samples (k, N, D).

>>> loss_fn = ELBOLoss(beta=1.0)
>>> trainer = Trainer(vae, loss_fn, opt, callbacks=[KLWarmup(warmup_steps=1000)])
"""
from __future__ import annotations

import math
from collections import namedtuple

from ..nn import functional as F
from ..tensor import Tensor
from ..train.callbacks.base import Callback

__all__ = ["BernoulliVAEOutput", "ELBOLoss", "GaussianVAEOutput", "KLWarmup", "bernoulli_log_likelihood",
           "gaussian_kl", "gaussian_log_likelihood", "standard_normal_log_prob"]

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) || N(0, I)) = ½ Σ_j (μ_j² + σ_j² - 1 - log σ_j²), summed over the last dim.

    mu, logvar (= log σ²): (..., L); returns (...).
    >>> gaussian_kl(lamina.zeros(3, 2), lamina.zeros(3, 2))     # [0., 0., 0.]
    """
    return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(-1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x | logits) = Σ_j x_j log σ(l_j) + (1 - x_j) log(1 - σ(l_j)), summed over the last dim.

    logits: (..., D); x: broadcastable to it (binary, or in [0, 1]); returns (...).
    Computed stably from the logits (binary_cross_entropy_with_logits).
    """
    if tuple(x.shape) != tuple(logits.shape):
        x = x.expand(logits.shape)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def gaussian_log_likelihood(mean: Tensor, logvar, x: Tensor) -> Tensor:
    """log N(x; m, diag σ²) = -½ Σ_j (log 2π + log σ_j² + (x_j - m_j)² / σ_j²), summed over the last dim.

    mean: (..., D); logvar (= log σ²): a Tensor broadcastable to it or a float; x: broadcastable.
    """
    diff = x - mean
    if isinstance(logvar, Tensor):
        return -0.5 * (LOG_2PI + logvar + diff * diff * (-logvar).exp()).sum(-1)
    return -0.5 * ((diff * diff).sum(-1) * math.exp(-logvar) + mean.shape[-1] * (LOG_2PI + logvar))


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) = -½ Σ_j (z_j² + log 2π), summed over the last dim."""
    return -0.5 * (z * z + LOG_2PI).sum(-1)


def _flat_target(target, like: Tensor, owner: str) -> Tensor:
    if not isinstance(target, Tensor):
        raise TypeError(f"{owner}: target must be a Tensor, got {type(target).__name__}")
    if target.dtype.kind != "f":
        raise TypeError(f"{owner}: target must be a float tensor (the data to reconstruct), got dtype {target.dtype} "
                        f"of shape {tuple(target.shape)}; class labels are not a reconstruction target (train on "
                        "ReconstructionDataset(data), or a loader without labels)")
    n, d = like.shape[0], like.shape[-1]
    if target.ndim == 0 or target.shape[0] != n or target.numel() != n * d:
        raise ValueError(f"{owner}: target of shape {tuple(target.shape)} does not match the reconstruction of "
                         f"shape {tuple(like.shape)}")
    return target.reshape(n, d)


class BernoulliVAEOutput(namedtuple("BernoulliVAEOutput", ["recon", "mu", "logvar", "z", "x"])):
    """A Bernoulli VAE's forward result: decoder ``recon`` logits (N, D), q(z|x) = N(mu, exp(logvar))
    (N, L), the sampled ``z`` (N, L) and the input ``x`` (the default reconstruction target)."""

    __slots__ = ()
    likelihood = "bernoulli"

    def log_px(self, target: Tensor | None = None) -> Tensor:
        """log p(target | z) per sample (N,); target defaults to the input x."""
        t = _flat_target(self.x if target is None else target, self.recon, "ELBOLoss")
        return bernoulli_log_likelihood(self.recon, t)

    def kl(self) -> Tensor:
        """KL(q(z|x) || N(0, I)) per sample (N,)."""
        return gaussian_kl(self.mu, self.logvar)


class GaussianVAEOutput(namedtuple("GaussianVAEOutput", ["recon", "recon_logvar", "mu", "logvar", "z", "x"])):
    """A Gaussian VAE's forward result: decoder mean ``recon`` and log-variance ``recon_logvar`` (N, D),
    then as :class:`BernoulliVAEOutput`."""

    __slots__ = ()
    likelihood = "gaussian"

    def log_px(self, target: Tensor | None = None) -> Tensor:
        t = _flat_target(self.x if target is None else target, self.recon, "ELBOLoss")
        return gaussian_log_likelihood(self.recon, self.recon_logvar, t)

    kl = BernoulliVAEOutput.kl


class ELBOLoss:
    """Negative ELBO: ``loss_i = -(log p(x_i | z_i) - β · KL(q(z|x_i) || N(0, I)))``, in nats per sample.

    Called as ``loss(outputs, target=None)`` on a VAE's forward result; the target is the data to
    reconstruct (the model's input when None, as for a loader without labels; a denoising setup
    passes the clean data). ``reduction``: 'mean' over the batch (default), 'sum', or 'none' (N,).
    ``beta`` may be changed between steps (``KLWarmup`` does). ``last_terms`` holds the latest
    batch means of the reconstruction log-likelihood and the KL (detached), for logging.

    >>> ELBOLoss(beta=4.0)(vae(x))          # a β-VAE's loss, a scalar
    """

    def __init__(self, beta: float = 1.0, reduction: str = "mean"):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"ELBOLoss: {reduction} is not a valid value for reduction")
        self.beta, self.reduction = float(beta), reduction
        self.last_terms = {}

    @property
    def beta(self) -> float:
        return self._beta

    @beta.setter
    def beta(self, value) -> None:
        value = float(value)
        if not value >= 0.0:
            raise ValueError(f"ELBOLoss: beta must be a non-negative number, got {value}")
        self._beta = value

    def __call__(self, outputs, target=None) -> Tensor:
        if not hasattr(outputs, "log_px") or not hasattr(outputs, "kl"):
            raise TypeError(f"ELBOLoss: expected a VAE's output (BernoulliVAEOutput or GaussianVAEOutput), got "
                            f"{type(outputs).__name__}; the model must be a VAE")
        rec, kl = outputs.log_px(target), outputs.kl()
        loss = kl * self.beta - rec if self.beta != 1.0 else kl - rec
        self.last_terms = {"recon_log_likelihood": rec.detach().mean(), "kl": kl.detach().mean()}
        if self.reduction == "mean":
            return loss.mean()
        return loss.sum() if self.reduction == "sum" else loss

    def __repr__(self):
        return f"ELBOLoss(beta={self.beta}, reduction={self.reduction!r})"


class KLWarmup(Callback):
    """KL warm-up (Bowman et al., 2016; Sønderby et al., 2016): β grows linearly from ``start`` to
    ``beta`` over the first ``warmup_steps`` optimizer steps (or ``warmup_epochs`` epochs of the
    training loader), then stays:

        β(step) = start + (beta - start) · min(1, step / warmup_steps)

    Sets ``trainer.loss_fn.beta`` (an :class:`ELBOLoss`) before every training batch; validation,
    ``evaluate`` after training and the end of training use the final ``beta``, so ``val_loss`` is
    the full objective. β depends only on the global step, so a resumed run continues the
    schedule exactly. The epoch logs get ``kl_beta`` (the β of the epoch's last batch).

    >>> Trainer(vae, ELBOLoss(), opt, callbacks=[KLWarmup(warmup_epochs=10)])
    """

    order = 5  # before log writers, which read the epoch logs

    def __init__(self, warmup_steps: int | None = None, warmup_epochs: int | None = None, beta: float = 1.0,
                 start: float = 0.0):
        if (warmup_steps is None) == (warmup_epochs is None):
            raise ValueError("KLWarmup: give exactly one of warmup_steps and warmup_epochs")
        n = warmup_steps if warmup_steps is not None else warmup_epochs
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"KLWarmup: the warm-up length must be a non-negative int, got {n!r}")
        if not (beta >= 0 and start >= 0):
            raise ValueError(f"KLWarmup: beta and start must be non-negative, got beta={beta}, start={start}")
        self.warmup_steps, self.warmup_epochs = warmup_steps, warmup_epochs
        self.beta, self.start = float(beta), float(start)
        self._steps = warmup_steps
        self._current = self.start

    def beta_at(self, step: int) -> float:
        """β after ``step`` optimizer steps."""
        n = self._steps
        if n is None:
            raise RuntimeError("KLWarmup: the number of warm-up steps is known once training begins "
                               "(warmup_epochs needs the training loader's length)")
        frac = 1.0 if n == 0 else min(1.0, step / n)
        return self.start + (self.beta - self.start) * frac

    def _loss(self):
        loss = self.trainer.loss_fn
        if not hasattr(loss, "beta"):
            raise TypeError(f"KLWarmup: the trainer's loss ({type(loss).__name__}) has no 'beta' to schedule; "
                            "use ELBOLoss")
        return loss

    def on_train_begin(self, logs=None):
        self._loss()
        if self.warmup_epochs is not None:
            loader = self.trainer._train_loader
            try:
                batches = len(loader)
            except TypeError:
                raise TypeError("KLWarmup(warmup_epochs=...): the training loader has no len(); use warmup_steps") from None
            accum = getattr(self.trainer, "grad_accum_steps", 1)
            self._steps = self.warmup_epochs * -(-batches // accum)

    def on_train_batch_begin(self, batch, logs=None):
        self._current = self.beta_at(self.trainer.global_step)
        self._loss().beta = self._current

    def on_test_begin(self, logs=None):
        self._loss().beta = self.beta

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["kl_beta"] = self._current

    def on_train_end(self, logs=None):
        self._loss().beta = self.beta

    def __repr__(self):
        what = f"warmup_steps={self.warmup_steps}" if self.warmup_steps is not None else f"warmup_epochs={self.warmup_epochs}"
        return f"KLWarmup({what}, beta={self.beta}, start={self.start})"
