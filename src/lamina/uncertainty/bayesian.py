"""Bayes by Backprop (Blundell et al., 2015): layers whose weights are Gaussian random
variables, trained by maximising the evidence lower bound.

Posterior per weight: q(w) = N(mu, sigma^2), sigma = softplus(rho) = log(1 + e^rho) > 0.
Loss per sample (negative ELBO / N):   E_q[-log p(y | x, w)] + KL(q || prior) / N_train.

Local reparameterisation (Kingma et al., 2015): instead of sampling a weight matrix, sample
each pre-activation from its exact Gaussian given the input,

    Linear:  b = x mu_W^T + mu_b + sqrt(x^2 (sigma_W^2)^T + sigma_b^2) * eps,   eps ~ N(0, 1)
    Conv2d:  b = conv(x, mu_W) + mu_b + sqrt(conv(x^2, sigma_W^2) + sigma_b^2) * eps

(for a convolution this samples each activation independently, ignoring the correlation of
overlapping patches that share weights: the usual "sample activations" approximation).
Gradients have lower variance and each row of a batch gets its own noise.

Priors: ``GaussianPrior(sigma)`` (KL in closed form) or ``ScaleMixturePrior(pi, sigma1,
sigma2)`` (pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2); KL by Monte Carlo from one fresh
weight sample). ``kl_divergence(model)`` sums the KL of every Bayesian layer.

In ``train()`` mode the layers sample; in ``eval()`` they use the posterior mean, unless
``layer.sampling = True`` (``sample_weights(model)`` does it for a block, and
``bayesian_predict`` for T prediction passes).

>>> model = nn.Sequential(BayesianLinear(64, 100), nn.ReLU(), BayesianLinear(100, 10))
>>> loss = F.cross_entropy(model(x), y) + kl_divergence(model) / n_train
"""
from __future__ import annotations

import contextlib
import math

from .. import backend
from ..nn import functional as F
from ..nn import init
from ..nn.layers.conv import _ntuple
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..ops.creation import empty, randn
from ..ops.explog import logaddexp
from ..tensor import Tensor
from ._common import stochastic_passes, summarize

__all__ = ["GaussianPrior", "ScaleMixturePrior", "BayesianLinear", "BayesianConv2d", "bayesian_linear",
           "bayesian_conv2d", "gaussian_kl", "kl_divergence", "bayesian_layers", "sample_weights",
           "bayesian_predict", "ELBOLoss"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ------------------------------------------------------------------ priors
class GaussianPrior:
    """p(w) = N(0, sigma^2) for every weight;  KL(N(mu, s^2) || p) in closed form."""

    def __init__(self, sigma: float = 1.0):
        if not sigma > 0:
            raise ValueError(f"GaussianPrior: sigma must be positive, got {sigma!r}")
        self.sigma = float(sigma)

    def log_prob(self, w: Tensor) -> Tensor:
        """log N(w; 0, sigma^2), elementwise."""
        return (w * w) * (-0.5 / self.sigma ** 2) - (_HALF_LOG_2PI + math.log(self.sigma))

    def kl(self, mu: Tensor, sigma: Tensor) -> Tensor:
        """sum of KL(N(mu, sigma^2) || N(0, s_p^2)) = log(s_p / sigma) + (sigma^2 + mu^2) / (2 s_p^2) - 1/2."""
        return gaussian_kl(mu, sigma, self.sigma)

    def __repr__(self):
        return f"GaussianPrior(sigma={self.sigma})"


class ScaleMixturePrior:
    """p(w) = pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2), sigma1 > sigma2 (Blundell et al.):
    a heavy component and one concentrated at zero. Its KL has no closed form (Monte Carlo)."""

    def __init__(self, pi: float = 0.5, sigma1: float = 1.0, sigma2: float = math.exp(-6.0)):
        if not 0.0 < pi < 1.0:
            raise ValueError(f"ScaleMixturePrior: pi must be in (0, 1), got {pi!r}")
        if not (sigma1 > 0 and sigma2 > 0):
            raise ValueError(f"ScaleMixturePrior: sigma1 and sigma2 must be positive, got {sigma1!r}, {sigma2!r}")
        self.pi, self.sigma1, self.sigma2 = float(pi), float(sigma1), float(sigma2)

    def log_prob(self, w: Tensor) -> Tensor:
        """log(pi N(w; 0, s1^2) + (1 - pi) N(w; 0, s2^2)), elementwise, computed with logaddexp."""
        w2 = w * w
        a = w2 * (-0.5 / self.sigma1 ** 2) + (math.log(self.pi) - _HALF_LOG_2PI - math.log(self.sigma1))
        b = w2 * (-0.5 / self.sigma2 ** 2) + (math.log1p(-self.pi) - _HALF_LOG_2PI - math.log(self.sigma2))
        return logaddexp(a, b)

    def __repr__(self):
        return f"ScaleMixturePrior(pi={self.pi}, sigma1={self.sigma1}, sigma2={self.sigma2:.4g})"


def _make_prior(prior, prior_sigma, prior_pi, prior_sigma1, prior_sigma2, owner):
    if isinstance(prior, (GaussianPrior, ScaleMixturePrior)):
        return prior
    if prior == "gaussian":
        return GaussianPrior(prior_sigma)
    if prior in ("mixture", "scale_mixture"):
        return ScaleMixturePrior(prior_pi, prior_sigma1, prior_sigma2)
    raise ValueError(f"{owner}: prior must be 'gaussian', 'mixture' or a prior object, got {prior!r}")


def gaussian_kl(mu: Tensor, sigma: Tensor, prior_sigma: float) -> Tensor:
    """sum KL(N(mu, sigma^2) || N(0, prior_sigma^2)) = sum log(s_p / sigma) + (sigma^2 + mu^2) / (2 s_p^2) - 1/2."""
    inv = 0.5 / prior_sigma ** 2
    return ((sigma * sigma + mu * mu) * inv - sigma.log()).sum() + mu.numel() * (math.log(prior_sigma) - 0.5)


# ------------------------------------------------------------------ functional forms
def _noise_like(shape, ref: Tensor, generator=None) -> Tensor:
    return randn(*shape, generator=generator, dtype=ref.dtype, device=ref.device)


def bayesian_linear(input: Tensor, weight_mu: Tensor, weight_sigma: Tensor, bias_mu: Tensor | None = None,
                    bias_sigma: Tensor | None = None, noise: Tensor | None = None, generator=None) -> Tensor:
    """Local reparameterisation: y = x mu_W^T + mu_b + sqrt(x^2 (sigma_W^2)^T + sigma_b^2) * noise.

    input (*, in), weight_* (out, in), bias_* (out,), noise (*, out) (drawn from N(0, 1) when None).
    """
    mean = F.linear(input, weight_mu, bias_mu)
    var = F.linear(input * input, weight_sigma * weight_sigma,
                   None if bias_sigma is None else bias_sigma * bias_sigma)
    if noise is None:
        noise = _noise_like(mean.shape, mean, generator)
    return mean + (var + 1e-16).sqrt() * noise


def bayesian_conv2d(input: Tensor, weight_mu: Tensor, weight_sigma: Tensor, bias_mu: Tensor | None = None,
                    bias_sigma: Tensor | None = None, noise: Tensor | None = None, stride=1, padding=0,
                    dilation=1, groups: int = 1, generator=None) -> Tensor:
    """Sampled activations: y = conv(x, mu_W) + mu_b + sqrt(conv(x^2, sigma_W^2) + sigma_b^2) * noise.

    input (N, C_in, H, W), weight_* (C_out, C_in / groups, kH, kW), noise like the output.
    """
    mean = F.conv2d(input, weight_mu, bias_mu, stride, padding, dilation, groups)
    var = F.conv2d(input * input, weight_sigma * weight_sigma,
                   None if bias_sigma is None else bias_sigma * bias_sigma, stride, padding, dilation, groups)
    if noise is None:
        noise = _noise_like(mean.shape, mean, generator)
    return mean + (var + 1e-16).sqrt() * noise


# ------------------------------------------------------------------ layers
class _BayesianLayer(Module):
    """Posterior parameters (weight_mu, weight_rho[, bias_mu, bias_rho]), the prior, the KL."""

    def _setup(self, weight_shape, fan_in, bias, prior, prior_sigma, prior_pi, prior_sigma1, prior_sigma2,
               posterior_rho_init, local_reparam, device, dtype):
        owner = type(self).__name__
        self.prior = _make_prior(prior, prior_sigma, prior_pi, prior_sigma1, prior_sigma2, owner)
        self.posterior_rho_init = float(posterior_rho_init)
        self.local_reparam = bool(local_reparam)
        self.sampling = None  # None: sample in train mode only; True / False: always / never
        self.generator = None
        self._fan_in = fan_in
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        self.weight_mu = Parameter(empty(*weight_shape, dtype=dtype, device=device))
        self.weight_rho = Parameter(empty(*weight_shape, dtype=dtype, device=device))
        if bias:
            self.bias_mu = Parameter(empty(weight_shape[0], dtype=dtype, device=device))
            self.bias_rho = Parameter(empty(weight_shape[0], dtype=dtype, device=device))
        else:
            self.register_parameter("bias_mu", None)
            self.register_parameter("bias_rho", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """mu as PyTorch's default init of the same layer; rho = posterior_rho_init everywhere."""
        init.kaiming_uniform_(self.weight_mu, a=math.sqrt(5), generator=generator)
        init.constant_(self.weight_rho, self.posterior_rho_init)
        if self.bias_mu is not None:
            bound = 1.0 / math.sqrt(self._fan_in) if self._fan_in > 0 else 0.0
            init.uniform_(self.bias_mu, -bound, bound, generator=generator)
            init.constant_(self.bias_rho, self.posterior_rho_init)

    @property
    def weight_sigma(self) -> Tensor:
        return F.softplus(self.weight_rho)

    @property
    def bias_sigma(self):
        return None if self.bias_rho is None else F.softplus(self.bias_rho)

    def is_sampling(self) -> bool:
        return self.training if self.sampling is None else bool(self.sampling)

    def _sample_weights(self):
        """(W, b) drawn from the posterior: mu + sigma * eps."""
        w = self.weight_mu + self.weight_sigma * _noise_like(self.weight_mu.shape, self.weight_mu, self.generator)
        b = None
        if self.bias_mu is not None:
            b = self.bias_mu + self.bias_sigma * _noise_like(self.bias_mu.shape, self.bias_mu, self.generator)
        return w, b

    def _pairs(self):
        yield self.weight_mu, self.weight_sigma
        if self.bias_mu is not None:
            yield self.bias_mu, self.bias_sigma

    def kl_divergence(self, n_samples: int = 1) -> Tensor:
        """KL(q || prior) summed over the layer's weights (and biases): closed form for a
        Gaussian prior, else the mean over ``n_samples`` draws w ~ q of log q(w) - log p(w)."""
        total = None
        for mu, sigma in self._pairs():
            if isinstance(self.prior, GaussianPrior):
                term = self.prior.kl(mu, sigma)
            else:
                term = None
                for _ in range(n_samples):
                    eps = _noise_like(mu.shape, mu, self.generator)
                    w = mu + sigma * eps
                    # log q(w) with (w - mu) / sigma = eps exactly
                    log_q = -(sigma.log() + eps * eps * 0.5 + _HALF_LOG_2PI)
                    t = (log_q - self.prior.log_prob(w)).sum()
                    term = t if term is None else term + t
                term = term / n_samples
            total = term if total is None else total + term
        return total

    def _extra(self) -> str:
        return f", prior={self.prior!r}, local_reparam={self.local_reparam}"


class BayesianLinear(_BayesianLayer):
    """A Linear layer with a Gaussian posterior over W (out, in) and b (out,):
    (*, in_features) -> (*, out_features), sampled by local reparameterisation in training.

    Args:
        prior: 'gaussian' (N(0, prior_sigma^2)), 'mixture' (ScaleMixturePrior(prior_pi,
            prior_sigma1, prior_sigma2)) or a prior object.
        posterior_rho_init: initial rho (sigma = softplus(rho); -5 gives sigma ~ 0.0067).
        local_reparam: sample pre-activations (True) or one weight matrix per forward (False).

    >>> layer = BayesianLinear(64, 10)
    >>> layer(lamina.randn(32, 64)).shape, layer.kl_divergence()      # (32, 10), a scalar
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, prior="gaussian",
                 prior_sigma: float = 1.0, prior_pi: float = 0.5, prior_sigma1: float = 1.0,
                 prior_sigma2: float = math.exp(-6.0), posterior_rho_init: float = -5.0, local_reparam: bool = True,
                 device=None, dtype=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"BayesianLinear: {name} must be a positive int, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        self._setup((out_features, in_features), in_features, bias, prior, prior_sigma, prior_pi, prior_sigma1,
                    prior_sigma2, posterior_rho_init, local_reparam, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(f"BayesianLinear(in_features={self.in_features}): input has "
                             f"{input.shape[-1] if input.ndim else 0} features (input shape {tuple(input.shape)})")
        if not self.is_sampling():
            return F.linear(input, self.weight_mu, self.bias_mu)
        if self.local_reparam:
            return bayesian_linear(input, self.weight_mu, self.weight_sigma, self.bias_mu, self.bias_sigma,
                                   generator=self.generator)
        w, b = self._sample_weights()
        return F.linear(input, w, b)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias_mu is not None}" + self._extra())


class BayesianConv2d(_BayesianLayer):
    """A Conv2d layer with a Gaussian posterior over its weight (out, in / groups, kH, kW) and bias:
    (N, C_in, H, W) -> (N, C_out, H_out, W_out); in training each output activation is sampled
    from its Gaussian given the input (``local_reparam=True``) or one kernel is drawn per forward.

    Arguments as ``nn.Conv2d`` (zero padding only) and ``BayesianLinear`` (prior, rho init).

    >>> conv = BayesianConv2d(1, 8, 3, padding=1)
    >>> conv(lamina.randn(4, 1, 8, 8)).shape                # (4, 8, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, prior="gaussian", prior_sigma: float = 1.0,
                 prior_pi: float = 0.5, prior_sigma1: float = 1.0, prior_sigma2: float = math.exp(-6.0),
                 posterior_rho_init: float = -5.0, local_reparam: bool = True, device=None, dtype=None):
        super().__init__()
        op = "BayesianConv2d"
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{op}: {name} must be a positive int, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        self.kernel_size = _ntuple(kernel_size, 2, "kernel_size", op, 1)
        self.stride = _ntuple(stride, 2, "stride", op, 1)
        self.dilation = _ntuple(dilation, 2, "dilation", op, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, 2, "padding", op, 0)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self._setup(shape, (in_channels // groups) * math.prod(self.kernel_size), bias, prior, prior_sigma,
                    prior_pi, prior_sigma1, prior_sigma2, posterior_rho_init, local_reparam, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4) or input.shape[-3] != self.in_channels:
            raise ValueError(f"BayesianConv2d(in_channels={self.in_channels}): expected (N, {self.in_channels}, H, W) "
                             f"input, got shape {tuple(input.shape)}")
        unbatched = input.ndim == 3
        x = input.unsqueeze(0) if unbatched else input
        args = (self.stride, self.padding, self.dilation, self.groups)
        if not self.is_sampling():
            y = F.conv2d(x, self.weight_mu, self.bias_mu, *args)
        elif self.local_reparam:
            y = bayesian_conv2d(x, self.weight_mu, self.weight_sigma, self.bias_mu, self.bias_sigma, None, *args,
                                generator=self.generator)
        else:
            w, b = self._sample_weights()
            y = F.conv2d(x, w, b, *args)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + f", bias={self.bias_mu is not None}" + self._extra()


# ------------------------------------------------------------------ model-level helpers
def bayesian_layers(model) -> list:
    """The model's Bayesian layers (``BayesianLinear``, ``BayesianConv2d``, any ``_BayesianLayer``)."""
    return [m for m in model.modules() if isinstance(m, _BayesianLayer)]


def kl_divergence(model, n_samples: int = 1) -> Tensor:
    """Sum of KL(q || prior) over every Bayesian layer of ``model`` (a differentiable scalar).

    Add it to the data loss scaled by 1 / N_train (``ELBOLoss`` does this). Raises
    ``ValueError`` for a model without Bayesian layers.
    """
    layers = bayesian_layers(model)
    if not layers:
        raise ValueError(f"kl_divergence: the {type(model).__name__} model has no Bayesian layers "
                         "(BayesianLinear / BayesianConv2d)")
    total = layers[0].kl_divergence(n_samples)
    for m in layers[1:]:
        total = total + m.kl_divergence(n_samples)
    return total


class ELBOLoss:
    """Negative ELBO per training sample: loss_fn(outputs, targets) + kl_weight * KL(q || prior).

    ``kl_weight`` defaults to 1 / ``num_train`` (the KL of the whole data set, spread over its
    samples, since ``loss_fn`` is a mean over the batch). A callable ``(outputs, targets) ->
    scalar``, so it plugs into ``Trainer(model, ELBOLoss(model, n_train), optimizer)``.
    """

    def __init__(self, model, num_train: int | None = None, kl_weight: float | None = None, loss_fn=None,
                 n_samples: int = 1):
        if kl_weight is None:
            if num_train is None or num_train <= 0:
                raise ValueError("ELBOLoss: give num_train (the training set size) or kl_weight")
            kl_weight = 1.0 / num_train
        if not bayesian_layers(model):
            raise ValueError(f"ELBOLoss: the {type(model).__name__} model has no Bayesian layers "
                             "(BayesianLinear / BayesianConv2d); its loss has no KL term")
        self.model, self.kl_weight, self.n_samples = model, float(kl_weight), int(n_samples)
        self.loss_fn = loss_fn or F.cross_entropy
        self.last_kl = None

    def __call__(self, outputs, targets) -> Tensor:
        kl = kl_divergence(self.model, self.n_samples)
        self.last_kl = float(kl.item())
        return self.loss_fn(outputs, targets) + kl * self.kl_weight


@contextlib.contextmanager
def sample_weights(model, enabled: bool = True):
    """Inside the block every Bayesian layer samples (``enabled``) or uses its mean, in any mode."""
    layers = bayesian_layers(model)
    if not layers:
        raise ValueError(f"sample_weights: the {type(model).__name__} model has no Bayesian layers "
                         "(BayesianLinear / BayesianConv2d)")
    saved = [(m, m.sampling) for m in layers]
    try:
        for m in layers:
            m.sampling = bool(enabled)
        yield model
    finally:
        for m, s in saved:
            m.sampling = s


def bayesian_predict(model, inputs, samples: int = 30, task: str = "classification", from_logits: bool = True,
                     batch_size: int = 256, max_rows: int = 8192, return_samples: bool = False):
    """T = ``samples`` passes of a Bayesian network (eval mode, its Bayesian layers sampling).

    Returns the same summaries as ``mc_dropout_predict`` (``ClassificationUncertainty`` or
    ``RegressionUncertainty``). The passes are batched (inputs repeated T times) when every
    layer uses local reparameterisation, since each row then gets its own noise.

    >>> r = bayesian_predict(model, x_test, samples=30)
    >>> r.predictive_entropy.mean()
    """
    batched = all(m.local_reparam for m in bayesian_layers(model))
    was = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with sample_weights(model):
            outputs, log_vars = stochastic_passes(model, inputs, samples, batch_size, batched, max_rows)
    finally:
        for m, flag in was:
            m.training = flag
    return summarize(outputs, log_vars, task, from_logits, return_samples)
