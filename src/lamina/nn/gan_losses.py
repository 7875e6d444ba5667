"""GAN objectives: the non-saturating (BCE) loss, the hinge loss, the Wasserstein critic loss and
the WGAN-GP gradient penalty.

With real logits r = D(x) and fake logits f = D(G(z)), means over the batch:

    non-saturating   L_D = softplus(-r) + softplus(f)     L_G = softplus(-f)      (BCE with logits)
    hinge            L_D = relu(1 - r) + relu(1 + f)      L_G = -f
    wasserstein      L_D = f - r                          L_G = -f
    gradient penalty GP  = mean_i (||∇_x̂ D(x̂_i)||₂ - 1)²,  x̂ = ε x + (1 - ε) G(z),  ε ~ U(0, 1) per sample

The gradient penalty differentiates through the critic's input gradient: it is computed with
``lamina.grad(..., create_graph=True)``, so ``gp.backward()`` reaches the critic's parameters
through second derivatives.

>>> d_loss = discriminator_loss(D(x), D(fake.detach())) ;  g_loss = generator_loss(D(fake))
>>> d_loss = d_loss + 10 * gradient_penalty(D, x, fake.detach())          # WGAN-GP
"""
from __future__ import annotations

from ..autograd import enable_grad, grad
from ..ops.creation import rand
from ..tensor import Tensor
from . import functional as F

__all__ = ["LOSS_KINDS", "canonical_kind", "discriminator_loss", "generator_loss", "wasserstein_critic_loss",
           "gradient_penalty"]

LOSS_KINDS = ("non_saturating", "hinge", "wasserstein")
_ALIASES = {"non_saturating": "non_saturating", "ns": "non_saturating", "bce": "non_saturating",
            "gan": "non_saturating", "hinge": "hinge", "wasserstein": "wasserstein", "wgan": "wasserstein",
            "wgan_gp": "wasserstein"}


def canonical_kind(kind: str) -> str:
    """'non_saturating', 'hinge' or 'wasserstein' from a name or alias ('ns', 'bce', 'wgan', 'wgan-gp')."""
    key = str(kind).lower().replace("-", "_")
    if key not in _ALIASES:
        raise ValueError(f"GAN loss: unknown kind {kind!r}; expected one of {', '.join(LOSS_KINDS)} "
                         f"(aliases: {', '.join(k for k in _ALIASES if k not in LOSS_KINDS)})")
    return _ALIASES[key]


def _logits(name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"GAN loss: {name} must be a Tensor of discriminator outputs, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"GAN loss: {name} must be a float tensor, got dtype {t.dtype}")
    return t


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The WGAN critic's loss, mean D(G(z)) - mean D(x): minimising it widens the critic's gap, whose
    negative estimates the Wasserstein-1 distance (for a 1-Lipschitz critic)."""
    return _logits("fake_scores", fake_scores).mean() - _logits("real_scores", real_scores).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    """The discriminator's (critic's) loss on real and fake logits, a scalar (see the module docstring).

    real_logits (N,), fake_logits (M,): D's outputs. 'non_saturating' is the sum of two BCE-with-logits
    means, with target 1 for real and 0 for fake (as PyTorch's DCGAN example sums errD_real + errD_fake).
    >>> discriminator_loss(D(x), D(G(z).detach()))
    """
    kind = canonical_kind(kind)
    r, f = _logits("real_logits", real_logits), _logits("fake_logits", fake_logits)
    if kind == "non_saturating":
        return F.softplus(-r).mean() + F.softplus(f).mean()
    if kind == "hinge":
        return F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()
    return wasserstein_critic_loss(r, f)


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    """The generator's loss on D's logits for its samples: softplus(-f) (non-saturating: BCE with
    target 1), or -f (hinge and Wasserstein), mean over the batch."""
    kind = canonical_kind(kind)
    f = _logits("fake_logits", fake_logits)
    return F.softplus(-f).mean() if kind == "non_saturating" else -f.mean()


def gradient_penalty(critic, real: Tensor, fake: Tensor, *critic_args, epsilon: Tensor | None = None,
                     generator=None, target: float = 1.0) -> Tensor:
    """WGAN-GP's penalty mean_i (||∇_x̂ critic(x̂)_i||₂ - target)² on x̂ = ε real + (1 - ε) fake.

    ``critic(x̂, *critic_args)`` gives one score per sample (N,) (e.g. the labels of a conditional
    critic go in ``critic_args``). ``epsilon``: the (N,) mixing weights, drawn U(0, 1) from
    ``generator`` when not given. ``fake`` should be detached (the penalty trains the critic).
    The input gradient is taken with ``create_graph=True``: the result is differentiable w.r.t.
    the critic's parameters (a second-order gradient).
    >>> gp = gradient_penalty(D, x, fake.detach());  (d_loss + 10 * gp).backward()
    """
    real, fake = _logits("real", real), _logits("fake", fake)
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the "
                         "same shape")
    n = real.shape[0]
    if epsilon is None:
        epsilon = rand(n, generator=generator, dtype=real.dtype, device=real.device)
    elif tuple(epsilon.shape) != (n,):
        raise ValueError(f"gradient_penalty: epsilon must have shape ({n},), got {tuple(epsilon.shape)}")
    eps = epsilon.reshape(n, *([1] * (real.ndim - 1)))
    with enable_grad():
        x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
        scores = critic(x_hat, *critic_args)
        g, = grad(scores.sum(), x_hat, create_graph=True)
        norms = g.reshape(n, -1).norm(2, dim=1)
        return ((norms - target) ** 2).mean()
