"""The multivariate normal distribution."""
from __future__ import annotations

import math

import numpy as np

from . import constraints
from ._linalg import batch_mahalanobis, cholesky, cholesky_inverse, diagonal, precision_to_scale_tril
from .distribution import Distribution
from .utils import lazy_property, standard_normal

__all__ = ["MultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)


class MultivariateNormal(Distribution):
    """MultivariateNormal(loc, covariance_matrix=Σ | precision_matrix=Σ⁻¹ | scale_tril=L), Σ = L Lᵀ.

        log p(x) = -½ (k log 2π + ||L⁻¹(x - μ)||²) - sum_i log L_ii
        entropy = ½ k (1 + log 2π) + sum_i log L_ii
        rsample: x = μ + L ε, ε ~ N(0, I_k)

    loc: (..., k); the matrix: (..., k, k); batch dims broadcast. Exactly one matrix is given.

    >>> d = MultivariateNormal(lamina.zeros(2), scale_tril=lamina.tensor([[1., 0.], [0.5, 2.]]))
    >>> d.rsample((3,)).shape      # (3, 2)
    """

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        if scale_tril is not None:
            matrix, name = scale_tril, "scale_tril"
        elif covariance_matrix is not None:
            matrix, name = covariance_matrix, "covariance_matrix"
        else:
            matrix, name = precision_matrix, "precision_matrix"
        if matrix.ndim < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional leading batch dimensions")
        try:
            batch_shape = tuple(np.broadcast_shapes(matrix.shape[:-2], loc.shape[:-1]))
        except ValueError:
            raise RuntimeError(f"MultivariateNormal: loc of shape {loc.shape} and {name} of shape {matrix.shape} "
                               "have batch shapes that cannot be broadcast together") from None
        k = loc.shape[-1]
        if matrix.shape[-2:] != (k, k):
            raise ValueError(f"MultivariateNormal: {name} must have shape (..., {k}, {k}) to match loc's last "
                             f"dimension {k}, got {matrix.shape}")
        self.__dict__[name] = matrix.expand(*batch_shape, k, k)
        self.loc = loc.expand(*batch_shape, k)
        super().__init__(batch_shape, (k,), validate_args=validate_args)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = scale_tril
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(precision_matrix)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(MultivariateNormal, batch_shape,
                                  ("loc", "covariance_matrix", "precision_matrix", "scale_tril"), _instance)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        l = self._unbroadcasted_scale_tril
        return (l @ l.mT).expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def precision_matrix(self):
        return cholesky_inverse(self._unbroadcasted_scale_tril).expand(
            *self._batch_shape, *self._event_shape, *self._event_shape)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        l = self._unbroadcasted_scale_tril
        return (l * l).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = standard_normal(shape, self.loc)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        l = self._unbroadcasted_scale_tril
        diff = value - self.loc
        m = batch_mahalanobis(l, diff)
        half_log_det = diagonal(l).log().sum(-1)
        return (m + self._event_shape[0] * _LOG_2PI) * -0.5 - half_log_det

    def entropy(self):
        half_log_det = diagonal(self._unbroadcasted_scale_tril).log().sum(-1)
        h = half_log_det + 0.5 * self._event_shape[0] * (1.0 + _LOG_2PI)
        return h if h.shape == self._batch_shape else h.expand(*self._batch_shape)
