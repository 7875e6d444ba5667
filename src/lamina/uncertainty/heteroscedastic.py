"""Heteroscedastic regression (Nix & Weigend, 1994; Kendall & Gal, 2017): the network predicts
a mean and a variance for every input, trained by the Gaussian negative log-likelihood

    NLL = 1/2 (log sigma^2 + (y - mu)^2 / sigma^2) [+ 1/2 log 2 pi],   sigma^2 = exp(log_var)

so noisy regions of the input space get a large predicted variance (aleatoric uncertainty)
instead of dragging the mean. Predicting log sigma^2 keeps the variance positive without a
constraint. Combined with MC dropout or an ensemble, the total predictive variance is the
mean of the sigma_t^2 (aleatoric) plus the variance of the mu_t (epistemic).

>>> model = HeteroscedasticRegressor(nn.Sequential(nn.Linear(8, 64), nn.ReLU()), 64, 1)
>>> mean, log_var = model(x);  loss = gaussian_nll(mean, log_var, y)
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad
from ..nn.layers.linear import Linear
from ..nn.module import Module
from ..tensor import Tensor
from ._common import RegressionUncertainty, iterate_inputs, split_outputs, summarize_regression

__all__ = ["gaussian_nll", "GaussianNLLLoss", "HeteroscedasticHead", "HeteroscedasticRegressor",
           "heteroscedastic_predict"]


def gaussian_nll(mean: Tensor, log_var: Tensor, target: Tensor, full: bool = False, reduction: str = "mean",
                 min_log_var: float | None = None, max_log_var: float | None = None) -> Tensor:
    """1/2 (log_var + (target - mean)^2 exp(-log_var)) [+ 1/2 log 2 pi], reduced over every element.

    All three of the same shape (broadcasting as arithmetic). Equal to torch's
    ``GaussianNLLLoss()(mean, target, var=exp(log_var))`` where var > its eps (1e-6).
    ``min_log_var`` / ``max_log_var`` clamp the predicted log-variance (a common guard
    against a collapsing variance early in training).
    dmean = (mean - target) exp(-log_var);  dlog_var = 1/2 (1 - (target - mean)^2 exp(-log_var)).
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"gaussian_nll: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if tuple(mean.shape) != tuple(log_var.shape):
        raise ValueError(f"gaussian_nll: mean shape {tuple(mean.shape)} and log_var shape {tuple(log_var.shape)} "
                         "differ")
    if tuple(mean.shape) != tuple(target.shape):
        raise ValueError(f"gaussian_nll: mean shape {tuple(mean.shape)} and target shape {tuple(target.shape)} "
                         "differ (a (N,) target for an (N, 1) output? reshape it)")
    if min_log_var is not None or max_log_var is not None:
        log_var = log_var.clamp(min_log_var, max_log_var)
    diff = target - mean
    loss = (log_var + diff * diff * (-log_var).exp()) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2.0 * math.pi)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class GaussianNLLLoss:
    """``gaussian_nll`` as a loss callable for a model returning ``(mean, log_var)``:
    ``loss((mean, log_var), target)`` (plugs into ``Trainer``)."""

    def __init__(self, full: bool = False, reduction: str = "mean", min_log_var=None, max_log_var=None):
        self.full, self.reduction, self.min_log_var, self.max_log_var = full, reduction, min_log_var, max_log_var

    def __call__(self, outputs, target) -> Tensor:
        if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
            raise TypeError("GaussianNLLLoss: outputs must be the (mean, log_var) pair of a heteroscedastic model, "
                            f"got {type(outputs).__name__}")
        mean, log_var = outputs
        if target.ndim == mean.ndim - 1 and mean.shape[-1] == 1:
            target = target.unsqueeze(-1)
        return gaussian_nll(mean, log_var, target.to(mean.dtype), self.full, self.reduction, self.min_log_var,
                            self.max_log_var)


class HeteroscedasticHead(Module):
    """Two linear maps of a feature vector: (*, in_features) -> (mean, log_var), each (*, out_features).

    ``log_var`` starts near ``init_log_var`` (its weights are scaled down), a stable start.

    >>> mean, log_var = HeteroscedasticHead(64, 1)(h)        # h (N, 64) -> (N, 1), (N, 1)
    """

    def __init__(self, in_features: int, out_features: int = 1, init_log_var: float = 0.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.mean = Linear(in_features, out_features)
        self.log_var = Linear(in_features, out_features)
        with no_grad():
            self.log_var.weight.mul_(0.1)
            self.log_var.bias.fill_(float(init_log_var))

    def forward(self, h: Tensor):
        return self.mean(h), self.log_var(h)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class HeteroscedasticRegressor(Module):
    """``backbone`` (inputs -> (N, features)) followed by a ``HeteroscedasticHead``: returns (mean, log_var)."""

    def __init__(self, backbone: Module, features: int, out_features: int = 1, init_log_var: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.head = HeteroscedasticHead(features, out_features, init_log_var)

    def forward(self, x: Tensor):
        return self.head(self.backbone(x))


def heteroscedastic_predict(model, inputs, batch_size: int = 256) -> RegressionUncertainty:
    """One deterministic pass (eval mode): mean and predicted variance exp(log_var) as the
    aleatoric variance. For epistemic uncertainty too, use ``mc_dropout_predict(...,
    task='regression')`` or a ``DeepEnsemble(task='regression')`` of such models."""
    was = [(m, m.training) for m in model.modules()]
    means, lvs = [], []
    try:
        model.eval()
        with no_grad():
            for x in iterate_inputs(inputs, batch_size, model):
                mu, lv = split_outputs(model(x))
                if lv is None:
                    raise ValueError("heteroscedastic_predict: the model must return (mean, log_var), it returned "
                                     "one Tensor")
                means.append(mu)
                lvs.append(lv)
    finally:
        for m, flag in was:
            m.training = flag
    if not means:
        raise ValueError("heteroscedastic_predict: the inputs yielded no batches")
    return summarize_regression(np.concatenate(means)[None], np.concatenate(lvs)[None])
