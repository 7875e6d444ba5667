"""ROC-AUC, the one metric that must keep every score: the area depends on the ranking of all
samples together, which no fixed-size summary preserves exactly.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .base import Metric, to_numpy
from .classification import _check_range, _check_task, _whole

__all__ = ["ROCAUC", "rank_auc"]


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUC of each column of ``scores`` (N, K) against the boolean ``positive`` (N, K).

    Mann-Whitney form with average ranks for ties, which is exactly the trapezoidal area under
    the ROC curve (a tie between a positive and a negative counts one half)::

        AUC = (sum_{i positive} rank_i - P (P + 1) / 2) / (P * Q)     (P positives, Q negatives)

    A column without positives or without negatives gives nan.
    """
    n = scores.shape[0]
    order = np.argsort(scores, axis=0, kind="stable")
    s = np.take_along_axis(scores, order, axis=0)
    y = np.take_along_axis(positive, order, axis=0)
    idx = np.arange(n)[:, None]
    starts = np.ones(s.shape, bool)
    starts[1:] = s[1:] != s[:-1]  # a tie group starts here
    ends = np.ones(s.shape, bool)
    ends[:-1] = starts[1:]
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, idx, n - 1)[::-1], axis=0)[::-1]
    ranks = (first + last) * 0.5 + 1.0  # 1-based average rank of the tie group
    n_pos = y.sum(axis=0).astype(np.float64)
    n_neg = n - n_pos
    u = np.where(y, ranks, 0.0).sum(axis=0) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


class ROCAUC(Metric):
    """Area under the ROC curve (TPR against FPR as the threshold sweeps the scores).

    * binary: ``preds`` scores (N,) (probabilities or logits: only their order matters; (N, 1)
      and, with ``task='binary'``, the positive column of (N, 2) also work), ``targets`` in {0, 1};
    * multiclass, one-vs-rest: ``preds`` (N, C), ``targets`` (N,) in [0, C); the AUC of class c
      uses column c with class c as positive. ``average='macro'`` is the plain mean over classes
      (scikit-learn's ``roc_auc_score(multi_class='ovr', average='macro')``), 'weighted' weights
      by each class's count, None returns the C values.

    Ties count one half (exactly scikit-learn's trapezoid on the ROC curve), see ``rank_auc``.
    AUC is undefined when a class has no positive or no negative sample: that gives nan (with a
    warning), as scikit-learn. Memory: every score is stored (chunks, one per ``update``; the
    state dict holds them concatenated), O(N * C); compute sorts them, O(N log N) per class.
    """

    default_name = "roc_auc"
    _state_names = ("scores", "targets")

    def __init__(self, num_classes=None, average="macro", task=None, ignore_index=None, name=None):
        _check_task("ROCAUC", task)
        if average not in ("macro", "weighted", None):
            raise ValueError(f"ROCAUC: average must be 'macro', 'weighted' or None, got {average!r}")
        self.num_classes, self.average, self.task, self.ignore_index = num_classes, average, task, ignore_index
        super().__init__(name)

    def config(self) -> dict:
        return {"num_classes": self.num_classes, "average": self.average, "task": self.task,
                "ignore_index": self.ignore_index, **super().config()}

    def _init_state(self):
        self.scores, self.targets = [], []

    def update(self, preds, targets) -> None:
        s, t = to_numpy(preds), to_numpy(targets)
        if s.ndim == 2 and (s.shape[1] == 1 or (self.task == "binary" and s.shape[1] == 2)):
            s = s[:, -1]
        if s.shape[:1] != t.shape or s.ndim not in (1, 2) or t.ndim != 1:
            raise self._shape_error(s, t, "scores (N,) or (N, C) with targets (N,)")
        binary = s.ndim == 1
        if self.task == "multiclass" and binary:
            raise ValueError(f"ROCAUC: task='multiclass' needs scores (N, C), got shape {tuple(s.shape)}")
        if self.task == "binary" and not binary:
            raise ValueError(f"ROCAUC: task='binary' needs scores (N,), (N, 1) or (N, 2), got shape {tuple(s.shape)}")
        if not binary and self.num_classes is not None and s.shape[1] != self.num_classes:
            raise ValueError(f"ROCAUC: preds have {s.shape[1]} scores per sample but num_classes={self.num_classes}")
        if self.scores and self.scores[0].shape[1:] != s.shape[1:]:
            raise ValueError(f"ROCAUC: scores of shape {tuple(s.shape)} after earlier batches of shape "
                             f"(N, {', '.join(map(str, self.scores[0].shape[1:]))})")
        if s.dtype.kind not in "biuf":
            raise TypeError(f"ROCAUC: scores must be numbers, got dtype {s.dtype}")
        if s.dtype.kind == "f" and np.isnan(s).any():
            raise ValueError("ROCAUC: scores contain NaN")
        t = _whole("ROCAUC", "targets", t)
        if self.ignore_index is not None:
            keep = t != self.ignore_index
            s, t = s[keep], t[keep]
        _check_range("ROCAUC", "targets", t, 2 if binary else s.shape[1])
        self.scores.append(s if s.dtype.kind == "f" else s.astype(np.float64))
        self.targets.append(t.astype(np.int32))

    def state_dict(self) -> dict:
        self._consolidate()
        return super().state_dict()

    def _consolidate(self) -> None:
        if len(self.scores) > 1:
            self.scores, self.targets = [np.concatenate(self.scores)], [np.concatenate(self.targets)]

    def _merge(self, other) -> None:
        if self.scores and other.scores and self.scores[0].shape[1:] != other.scores[0].shape[1:]:
            raise ValueError("ROCAUC.merge: the two metrics saw scores of different shapes "
                             f"{self.scores[0].shape[1:]} and {other.scores[0].shape[1:]}")
        self.scores = self.scores + [a.copy() for a in other.scores]
        self.targets = self.targets + [a.copy() for a in other.targets]

    def compute(self):
        if not self.scores:
            return math.nan
        self._consolidate()
        s, t = self.scores[0], self.targets[0]
        if s.ndim == 1:
            auc = rank_auc(s[:, None], (t == 1)[:, None])
        else:
            pos = t[:, None] == np.arange(s.shape[1])
            auc = rank_auc(s, pos)
        if np.isnan(auc).any():
            warnings.warn("ROCAUC: a class has no positive or no negative sample in the targets; "
                          "its AUC is not defined (nan)", RuntimeWarning, stacklevel=2)
        if s.ndim == 1:
            return float(auc[0])
        if self.average is None:
            return auc
        if self.average == "weighted":
            weights = pos.sum(axis=0)
            if weights.sum() == 0:
                return 0.0
            return float(np.average(np.where(weights > 0, auc, 0.0), weights=weights))
        return float(auc.mean())
