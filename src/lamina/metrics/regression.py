"""Regression metrics: MeanSquaredError (RMSE with ``squared=False``), MeanAbsoluteError, R2Score.

``preds`` and ``targets`` have the same shape: (N,) for one output, (N, D) (or (N, d1, ...),
flattened to D outputs) for several. A trailing 1 on one side only, (N, 1) against (N,), is
squeezed away rather than broadcast to (N, N). Each metric keeps per-output sums, so
``multioutput`` behaves as scikit-learn's: 'uniform_average' (mean of the per-output values),
'raw_values' (a NumPy array (D,)), and for R2 also 'variance_weighted'.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Metric, to_numpy

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "R2Score"]


class _RegressionMetric(Metric):
    higher_is_better = False
    _multioutputs = ("uniform_average", "raw_values")

    def __init__(self, multioutput: str = "uniform_average", name=None):
        if multioutput not in self._multioutputs:
            raise ValueError(f"{type(self).__name__}: multioutput must be one of {self._multioutputs}, "
                             f"got {multioutput!r}")
        self.multioutput = multioutput
        super().__init__(name)

    def config(self) -> dict:
        return {"multioutput": self.multioutput, **super().config()}

    def _pair(self, preds, targets) -> tuple:
        """float64 (N, D) views of preds and targets, after the shape checks."""
        p, t = to_numpy(preds), to_numpy(targets)
        if p.shape != t.shape:
            if p.shape == t.shape + (1,):
                p = p[..., 0]
            elif t.shape == p.shape + (1,):
                t = t[..., 0]
            else:
                raise self._shape_error(p, t, "equal shapes, (N,) or (N, D)")
        for what, a in (("preds", p), ("targets", t)):
            if a.dtype.kind not in "biuf":
                raise TypeError(f"{type(self).__name__}: {what} must be numbers, got dtype {a.dtype}")
        n, d = (p.shape[0], int(np.prod(p.shape[1:]))) if p.ndim else (1, 1)
        p = p.reshape(n, d).astype(np.float64, copy=False)
        t = t.reshape(n, d).astype(np.float64, copy=False)
        known = self._num_outputs()
        if known is not None and p.shape[1] != known:
            raise ValueError(f"{type(self).__name__}: batch has {p.shape[1]} outputs per sample (shape "
                             f"{tuple(to_numpy(preds).shape)}), earlier batches had {known}")
        return p, t

    def _num_outputs(self):
        first = getattr(self, self._state_names[0])
        return None if first is None else first.shape[0]

    def _merge(self, other) -> None:
        a, b = self._num_outputs(), other._num_outputs()
        if a is not None and b is not None and a != b:
            raise ValueError(f"{type(self).__name__}.merge: {a} outputs against {b}")
        super()._merge(other)

    def _average(self, values: np.ndarray):
        return values if self.multioutput == "raw_values" else float(values.mean())


class MeanSquaredError(_RegressionMetric):
    """Mean squared error ``MSE = (1/N) sum_i (pred_i - target_i)^2`` (per output, then averaged).

    ``squared=False`` gives the root, ``RMSE = sqrt(MSE)`` — per output before the average, as
    scikit-learn's ``root_mean_squared_error``.
    """

    default_name = "mse"
    _state_names = ("sum_squared_error", "count")

    def __init__(self, squared: bool = True, multioutput: str = "uniform_average", name=None):
        self.squared = bool(squared)
        super().__init__(multioutput, name if name is not None else ("mse" if self.squared else "rmse"))

    def config(self) -> dict:
        return {"squared": self.squared, **super().config()}

    def _init_state(self):
        self.sum_squared_error, self.count = None, 0

    def update(self, preds, targets) -> None:
        p, t = self._pair(preds, targets)
        sse = np.square(p - t).sum(axis=0)
        self.sum_squared_error = sse if self.sum_squared_error is None else self.sum_squared_error + sse
        self.count += p.shape[0]

    def compute(self):
        if not self.count:
            return math.nan
        mse = self.sum_squared_error / self.count
        return self._average(mse if self.squared else np.sqrt(mse))


class MeanAbsoluteError(_RegressionMetric):
    """Mean absolute error ``MAE = (1/N) sum_i |pred_i - target_i|`` (per output, then averaged)."""

    default_name = "mae"
    _state_names = ("sum_abs_error", "count")

    def _init_state(self):
        self.sum_abs_error, self.count = None, 0

    def update(self, preds, targets) -> None:
        p, t = self._pair(preds, targets)
        sae = np.abs(p - t).sum(axis=0)
        self.sum_abs_error = sae if self.sum_abs_error is None else self.sum_abs_error + sae
        self.count += p.shape[0]

    def compute(self):
        if not self.count:
            return math.nan
        return self._average(self.sum_abs_error / self.count)


def _merge_moments(n_a, mean_a, m2_a, n_b, mean_b, m2_b) -> tuple:
    """Chan et al.'s parallel update of (count, mean, sum of squared deviations): exact in
    exact arithmetic and numerically stable, unlike ``sum(y^2) - sum(y)^2 / n``."""
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), m2_a + m2_b + delta * delta * (n_a * n_b / n)


class R2Score(_RegressionMetric):
    """Coefficient of determination ``R^2 = 1 - SS_res / SS_tot`` per output, with
    ``SS_res = sum_i (target_i - pred_i)^2`` and ``SS_tot = sum_i (target_i - mean(target))^2``.

    SS_tot is accumulated with Chan's parallel mean/variance update, so batch-wise and merged
    results equal the one-pass value. As scikit-learn (``force_finite=True``): a constant target
    (SS_tot = 0) gives 1.0 for a perfect prediction and 0.0 otherwise; fewer than two samples
    give nan. ``multioutput='variance_weighted'`` weights each output's R^2 by its SS_tot.
    """

    default_name = "r2"
    higher_is_better = True
    _multioutputs = ("uniform_average", "raw_values", "variance_weighted")
    _state_names = ("sum_squared_error", "count", "target_mean", "target_m2", "target_min", "target_max")

    def _init_state(self):
        self.count = 0
        self.sum_squared_error = self.target_mean = self.target_m2 = self.target_min = self.target_max = None

    def update(self, preds, targets) -> None:
        p, t = self._pair(preds, targets)
        n = p.shape[0]
        if n == 0:
            return
        mean = t.mean(axis=0)
        stats = (np.square(p - t).sum(axis=0), n, mean, np.square(t - mean).sum(axis=0), t.min(axis=0), t.max(axis=0))
        self._add(*stats)

    def _add(self, sse, n, mean, m2, lo, hi) -> None:
        if self.sum_squared_error is None:
            (self.sum_squared_error, self.count, self.target_mean, self.target_m2,
             self.target_min, self.target_max) = sse, n, mean, m2, lo, hi
            return
        self.sum_squared_error = self.sum_squared_error + sse
        self.count, self.target_mean, self.target_m2 = _merge_moments(
            self.count, self.target_mean, self.target_m2, n, mean, m2)
        self.target_min, self.target_max = np.minimum(self.target_min, lo), np.maximum(self.target_max, hi)

    def _merge(self, other) -> None:
        if other.sum_squared_error is not None:
            a, b = self._num_outputs(), other._num_outputs()
            if a is not None and a != b:
                raise ValueError(f"R2Score.merge: {a} outputs against {b}")
            self._add(other.sum_squared_error.copy(), int(other.count), other.target_mean.copy(),
                      other.target_m2.copy(), other.target_min.copy(), other.target_max.copy())

    def compute(self):
        if self.count < 2:
            return math.nan
        num = self.sum_squared_error
        den = np.where(self.target_min == self.target_max, 0.0, self.target_m2)  # exactly 0 for constant targets
        scores = np.ones_like(num)
        valid = (den != 0) & (num != 0)
        scores[valid] = 1 - num[valid] / den[valid]
        scores[(num != 0) & (den == 0)] = 0.0
        if self.multioutput == "variance_weighted":
            return float(np.average(scores, weights=den)) if np.any(den != 0) else float(scores.mean())
        return self._average(scores)
