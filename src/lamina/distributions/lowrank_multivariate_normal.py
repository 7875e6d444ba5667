"""The multivariate normal with a low-rank-plus-diagonal covariance."""
from __future__ import annotations

import math

import numpy as np

from . import constraints
from ._linalg import cholesky, diag_embed, diagonal, eye_like, solve_triangular
from .distribution import Distribution
from .utils import lazy_property, standard_normal

__all__ = ["LowRankMultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)


class LowRankMultivariateNormal(Distribution):
    """LowRankMultivariateNormal(loc, cov_factor=W, cov_diag=D): N(μ, W Wᵀ + diag(D)), W (..., k, r).

    With the capacitance C = I_r + Wᵀ D⁻¹ W (so det Σ = det C · prod D, and Woodbury for Σ⁻¹):
        log p(x) = -½ (k log 2π + log det Σ + (x-μ)ᵀ D⁻¹ (x-μ) - ||L_C⁻¹ Wᵀ D⁻¹ (x-μ)||²)
        rsample: x = μ + W ε_r + √D ε_k
    Cost O(k r²) instead of O(k³).
    """

    arg_constraints = {"loc": constraints.real_vector, "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = loc.shape[-1:]
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading batch dimensions")
        if cov_factor.shape[-2:-1] != event_shape:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {event_shape[0]} x m")
        if cov_diag.shape[-1:] != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {event_shape}")
        try:
            batch_shape = tuple(np.broadcast_shapes(loc.shape[:-1], cov_factor.shape[:-2], cov_diag.shape[:-1]))
        except ValueError:
            raise ValueError(f"Incompatible batch shapes: loc {loc.shape}, cov_factor {cov_factor.shape}, "
                             f"cov_diag {cov_diag.shape}") from None
        k, r = event_shape[0], cov_factor.shape[-1]
        self.loc = loc.expand(*batch_shape, k)
        self.cov_factor = cov_factor.expand(*batch_shape, k, r)
        self.cov_diag = cov_diag.expand(*batch_shape, k)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._capacitance_tril = self._capacitance(cov_factor, cov_diag)

    @staticmethod
    def _capacitance(w, d):
        wt_dinv = w.mT / d.unsqueeze(-2)
        return cholesky(wt_dinv @ w + eye_like(w, w.shape[-1]))

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(LowRankMultivariateNormal, batch_shape, ("loc", "cov_factor", "cov_diag"), _instance)
        for name in ("_unbroadcasted_cov_factor", "_unbroadcasted_cov_diag", "_capacitance_tril"):
            setattr(new, name, getattr(self, name))
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        w = self._unbroadcasted_cov_factor
        return ((w * w).sum(-1) + self._unbroadcasted_cov_diag).expand(*self._batch_shape, *self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        w = self._unbroadcasted_cov_factor
        cov = w @ w.mT + diag_embed(self._unbroadcasted_cov_diag)
        return cov.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def scale_tril(self):
        return cholesky(self.covariance_matrix)

    @lazy_property
    def precision_matrix(self):
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        a = solve_triangular(self._capacitance_tril, w.mT / d.unsqueeze(-2))
        prec = diag_embed(d.reciprocal()) - a.mT @ a
        return prec.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        w = self._unbroadcasted_cov_factor
        eps_w = standard_normal(shape[:-1] + (w.shape[-1],), self.loc)
        eps_d = standard_normal(shape, self.loc)
        return self.loc + (w @ eps_w.unsqueeze(-1)).squeeze(-1) + self._unbroadcasted_cov_diag.sqrt() * eps_d

    def _log_det(self):
        return diagonal(self._capacitance_tril).log().sum(-1) * 2 + self._unbroadcasted_cov_diag.log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        diff = value - self.loc
        wt_dinv_x = (w.mT @ (diff / d).unsqueeze(-1))
        z = solve_triangular(self._capacitance_tril, wt_dinv_x).squeeze(-1)
        m = (diff * diff / d).sum(-1) - (z * z).sum(-1)
        return (m + self._log_det() + self._event_shape[0] * _LOG_2PI) * -0.5

    def entropy(self):
        h = (self._log_det() + self._event_shape[0] * (1.0 + _LOG_2PI)) * 0.5
        return h if h.shape == self._batch_shape else h.expand(*self._batch_shape)
