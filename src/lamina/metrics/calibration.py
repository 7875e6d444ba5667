"""Calibration: does a model that says "90 % sure" get 90 % right?"""
from __future__ import annotations

import math

import numpy as np

from .base import Metric, to_numpy
from .classification import _check_range, _whole

__all__ = ["ExpectedCalibrationError"]


class ExpectedCalibrationError(Metric):
    """Expected calibration error over ``n_bins`` equal-width confidence bins (Guo et al., 2017).

    Each sample's confidence is its largest probability, ``conf_i = max_c p_ic``, and it is
    correct when ``argmax_c p_ic == target_i``. Bin b holds the samples with confidence in
    ``(b / n_bins, (b + 1) / n_bins]`` (a confidence of 0 goes to the first bin); with ``n_b``
    samples, accuracy ``acc_b`` and mean confidence ``conf_b``::

        norm='l1' (ECE):   sum_b (n_b / N) |acc_b - conf_b|
        norm='l2':         sqrt(sum_b (n_b / N) (acc_b - conf_b)^2)
        norm='max' (MCE):  max_b |acc_b - conf_b|              (over non-empty bins)

    ``preds``: probabilities (N, C) (or (N, C, d1, ...), classes on dim 1), or binary
    probabilities (N,) read as the two classes (1 - p, p); ``from_logits=True`` applies softmax
    (sigmoid for (N,)) first. ``targets``: class indices (N,). The state is three vectors of
    ``n_bins`` numbers, so batches, checkpoints and merges are exact.
    """

    default_name = "ece"
    higher_is_better = False
    _state_names = ("bin_count", "bin_confidence", "bin_correct")

    def __init__(self, n_bins: int = 15, norm: str = "l1", from_logits: bool = False, name=None):
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f"ExpectedCalibrationError: n_bins must be a positive integer, got {n_bins}")
        if norm not in ("l1", "l2", "max"):
            raise ValueError(f"ExpectedCalibrationError: norm must be 'l1', 'l2' or 'max', got {norm!r}")
        self.n_bins, self.norm, self.from_logits = int(n_bins), norm, bool(from_logits)
        super().__init__(name)

    def config(self) -> dict:
        return {"n_bins": self.n_bins, "norm": self.norm, "from_logits": self.from_logits, **super().config()}

    def _init_state(self):
        self.bin_count = np.zeros(self.n_bins, np.int64)
        self.bin_confidence = np.zeros(self.n_bins, np.float64)  # sum of confidences per bin
        self.bin_correct = np.zeros(self.n_bins, np.int64)

    @property
    def bin_edges(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.n_bins + 1)

    def update(self, preds, targets) -> None:
        p, t = to_numpy(preds), to_numpy(targets)
        if p.shape == t.shape:  # binary probabilities of class 1
            p = p.astype(np.float64)
            if self.from_logits:
                p = 0.5 * (1.0 + np.tanh(0.5 * p))  # sigmoid without overflow
            p = np.stack([1.0 - p.reshape(-1), p.reshape(-1)], axis=1)
        elif p.ndim == t.ndim + 1 and p.ndim >= 2 and p.shape[:1] + p.shape[2:] == t.shape:
            p = np.moveaxis(p, 1, -1).reshape(-1, p.shape[1]).astype(np.float64)
            if self.from_logits:
                p = np.exp(p - p.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
        else:
            raise self._shape_error(p, t, "probabilities (N, C) with targets (N,), or (N,) binary probabilities")
        if p.size and not (p.min() >= -1e-6 and p.max() <= 1 + 1e-6):
            raise ValueError(f"ExpectedCalibrationError: preds must be probabilities in [0, 1], got values in "
                             f"[{p.min():.4g}, {p.max():.4g}]; pass from_logits=True for logits")
        t = _whole("ExpectedCalibrationError", "targets", t).reshape(-1)
        _check_range("ExpectedCalibrationError", "targets", t, p.shape[1])
        conf = np.clip(p.max(axis=1), 0.0, 1.0)
        correct = np.argmax(p, axis=1) == t
        bins = np.searchsorted(self.bin_edges[1:-1], conf, side="left")  # edges[b] < conf <= edges[b + 1]
        self.bin_count += np.bincount(bins, minlength=self.n_bins)
        self.bin_confidence += np.bincount(bins, weights=conf, minlength=self.n_bins)
        self.bin_correct += np.bincount(bins, weights=correct, minlength=self.n_bins).astype(np.int64)

    def reliability_diagram_data(self) -> dict:
        """Per-bin data for a reliability diagram: ``bin_edges`` (n_bins + 1,), ``accuracy``,
        ``confidence`` (n_bins,; nan for empty bins) and ``count`` (n_bins,, int)."""
        count = self.bin_count
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(count > 0, self.bin_correct / count, np.nan)
            conf = np.where(count > 0, self.bin_confidence / count, np.nan)
        return {"bin_edges": self.bin_edges, "accuracy": acc, "confidence": conf, "count": count.copy()}

    def compute(self) -> float:
        total = int(self.bin_count.sum())
        if not total:
            return math.nan
        d = self.reliability_diagram_data()
        seen = d["count"] > 0
        gap = np.abs(d["accuracy"][seen] - d["confidence"][seen])
        weight = d["count"][seen] / total
        if self.norm == "l1":
            return float(np.sum(weight * gap))
        if self.norm == "l2":
            return float(np.sqrt(np.sum(weight * gap * gap)))
        return float(gap.max())
