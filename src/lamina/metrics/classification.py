"""Classification metrics: Accuracy, TopKAccuracy, Precision, Recall, F1Score/FBetaScore,
ConfusionMatrix (ROC-AUC lives in ``ranking.py``).

What ``preds`` may be, for ``targets`` of class indices with shape (N,) (or (N, d1, ...)):

* class indices, same shape as ``targets`` (integer or bool dtype);
* scores — logits or probabilities — of shape (N, C) (or (N, C, d1, ...): the class dimension
  is dim 1, as in ``F.cross_entropy``); the predicted class is the argmax (first on ties);
* with ``task='binary'``: probabilities or logits of the same shape as ``targets`` (or (N, 1)),
  predicted class ``p > threshold``. Logits are recognised when a batch holds a value outside
  [0, 1] (as torchmetrics does) or always with ``from_logits=True``; for logits the test is
  ``x > log(t / (1 - t))``, i.e. ``sigmoid(x) > t``. With ``task=None`` floating preds of the
  targets' shape are taken as binary.

Targets must be whole numbers in [0, num_classes) ({0, 1} for binary); ``ignore_index`` drops
the samples whose target equals it (as ``F.cross_entropy``).
"""
from __future__ import annotations

import math

import numpy as np

from .base import Metric, to_numpy

__all__ = ["Accuracy", "TopKAccuracy", "Precision", "Recall", "FBetaScore", "F1Score", "ConfusionMatrix"]

_TASKS = (None, "binary", "multiclass")
_AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _check_task(metric: str, task) -> None:
    if task not in _TASKS:
        raise ValueError(f"{metric}: task must be one of {_TASKS}, got {task!r}")


def _whole(metric: str, what: str, a: np.ndarray) -> np.ndarray:
    """``a`` as int64, refusing values that are not whole numbers."""
    if a.dtype.kind in "biu":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind != "f":
        raise TypeError(f"{metric}: {what} must be numbers, got dtype {a.dtype}")
    if a.size and not np.all(np.isfinite(a) & (a == np.round(a))):
        raise ValueError(f"{metric}: {what} must be whole class indices, got non-integer values such as "
                         f"{a[~(np.isfinite(a) & (a == np.round(a)))].ravel()[0]}")
    return a.astype(np.int64)


def _check_range(metric: str, what: str, a: np.ndarray, num_classes, note: str = "") -> None:
    if not a.size:
        return
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or (num_classes is not None and hi >= num_classes):
        bad = lo if lo < 0 else hi
        bound = f"[0, {num_classes})" if num_classes is not None else "[0, inf)"
        raise ValueError(f"{metric}: {what} hold class index {bad}, outside {bound}{note}")


def binary_labels(preds: np.ndarray, threshold: float, from_logits) -> np.ndarray:
    """0/1 predictions from probabilities or logits (``sigmoid(x) > threshold``)."""
    if from_logits is None:
        from_logits = bool(preds.size) and (preds.min() < 0 or preds.max() > 1)
    if from_logits:
        cut = -math.inf if threshold <= 0 else math.inf if threshold >= 1 else math.log(threshold / (1 - threshold))
        return (preds > cut).astype(np.int64)
    return (preds > threshold).astype(np.int64)


def class_labels(m, preds, targets, task=None, num_classes=None, threshold=0.5, from_logits=None,
                 ignore_index=None):
    """(predicted classes, target classes), both int64 of shape (M,), validated, and the number of
    classes the preds imply (C for scores, 2 for binary, else None)."""
    name = type(m).__name__
    p, t = to_numpy(preds), to_numpy(targets)
    hint = None
    if task != "multiclass" and p.ndim == t.ndim + 1 and p.ndim >= 2 and p.shape[1] == 1:
        p = p.reshape(p.shape[:1] + p.shape[2:])  # (N, 1) sigmoid outputs are binary
        task = "binary"
    if p.ndim == t.ndim + 1 and p.ndim >= 2:
        if p.shape[:1] + p.shape[2:] != t.shape:
            raise m._shape_error(p, t, "scores (N, C, ...) with targets (N, ...), or preds of the targets' shape")
        hint = p.shape[1]
        if num_classes is not None and hint != num_classes:
            raise ValueError(f"{name}: preds have {hint} scores per sample (shape {tuple(p.shape)}) "
                             f"but num_classes={num_classes}")
        p = np.argmax(p, axis=1)
    elif p.shape == t.shape:
        if p.dtype.kind == "f" and task != "multiclass":
            task = "binary"
            p = binary_labels(p, threshold, from_logits)
        else:
            p = _whole(name, "preds", p)
    else:
        raise m._shape_error(p, t, "scores (N, C, ...) with targets (N, ...), or preds of the targets' shape")
    p, t = p.reshape(-1), _whole(name, "targets", t).reshape(-1)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    note = ""
    if task == "binary":
        if num_classes not in (None, 2):
            raise ValueError(f"{name}: a binary task (task='binary', or floating preds of the targets' shape) "
                             f"needs num_classes=2 or None, got {num_classes}; pass integer class indices "
                             "or scores (N, C) for a multiclass task")
        num_classes = hint = 2
        note = " (binary task: floating preds of the targets' shape are read as probabilities or logits)"
    _check_range(name, "targets", t, num_classes, note)
    _check_range(name, "preds", p, num_classes, note)
    return p, t, hint


def _classes_needed(current: int, hint, p: np.ndarray, t: np.ndarray) -> int:
    """How many classes the state must cover after this batch (it grows when num_classes is None)."""
    seen = max(int(p.max()), int(t.max())) + 1 if t.size else 0
    return max(current, hint or 0, seen)


class _ClassificationMetric(Metric):
    def __init__(self, num_classes=None, task=None, threshold=0.5, from_logits=None, ignore_index=None, name=None):
        _check_task(type(self).__name__, task)
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"{type(self).__name__}: num_classes must be a positive integer, got {num_classes}")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.task, self.threshold = task, float(threshold)
        self.from_logits, self.ignore_index = from_logits, ignore_index
        super().__init__(name)

    def config(self) -> dict:
        return {"num_classes": self.num_classes, "task": self.task, "threshold": self.threshold,
                "from_logits": self.from_logits, "ignore_index": self.ignore_index, **super().config()}

    def _labels(self, preds, targets):
        return class_labels(self, preds, targets, self.task, self.num_classes, self.threshold, self.from_logits,
                            self.ignore_index)


class Accuracy(_ClassificationMetric):
    """Fraction of correct predictions: ``acc = (1/N) * sum_i [pred_i == target_i]``.

    >>> acc = Accuracy(); acc.update(logits, targets)   # logits (N, C), targets (N,)
    >>> acc.compute()                                   # 0.93
    """

    default_name = "accuracy"
    _state_names = ("correct", "total")

    def _init_state(self):
        self.correct, self.total = 0, 0

    def update(self, preds, targets) -> None:
        p, t, _ = self._labels(preds, targets)
        self.correct += int(np.count_nonzero(p == t))
        self.total += int(t.size)

    def compute(self) -> float:
        return self.correct / self.total if self.total else math.nan


class TopKAccuracy(Metric):
    """Fraction of samples whose target is among the ``k`` highest scores:
    ``acc@k = (1/N) * sum_i [rank_i(target_i) < k]``.

    ``preds`` are scores (N, C) (or (N, C, d1, ...)), ``targets`` (N,) class indices. Ties are
    ranked as in scikit-learn's ``top_k_accuracy_score`` (among equal scores the higher class
    index ranks first): ``rank = #{j: s_j > s_t} + #{j > t: s_j == s_t}``.
    """

    _state_names = ("correct", "total")

    def __init__(self, k: int = 5, ignore_index=None, name=None):
        if int(k) != k or k < 1:
            raise ValueError(f"TopKAccuracy: k must be a positive integer, got {k}")
        self.k, self.ignore_index = int(k), ignore_index
        super().__init__(name if name is not None else f"top{self.k}_accuracy")

    def config(self) -> dict:
        return {"k": self.k, "ignore_index": self.ignore_index, **super().config()}

    def _init_state(self):
        self.correct, self.total = 0, 0

    def update(self, preds, targets) -> None:
        p, t = to_numpy(preds), to_numpy(targets)
        if p.ndim != t.ndim + 1 or p.ndim < 2 or p.shape[:1] + p.shape[2:] != t.shape:
            raise self._shape_error(p, t, "scores (N, C, ...) with targets (N, ...)")
        c = p.shape[1]
        s = np.moveaxis(p, 1, -1).reshape(-1, c)
        t = _whole("TopKAccuracy", "targets", t).reshape(-1)
        if self.ignore_index is not None:
            keep = t != self.ignore_index
            s, t = s[keep], t[keep]
        _check_range("TopKAccuracy", "targets", t, c)
        st = np.take_along_axis(s, t[:, None], axis=1)
        rank = np.count_nonzero(s > st, axis=1) + np.count_nonzero((s == st) & (np.arange(c) > t[:, None]), axis=1)
        self.correct += int(np.count_nonzero(rank < self.k))
        self.total += int(t.size)

    def compute(self) -> float:
        return self.correct / self.total if self.total else math.nan


class _PerClassCounts(_ClassificationMetric):
    """Keeps per-class ``tp``, ``pred_sum`` (= tp + fp) and ``true_sum`` (= tp + fn).

    ``average``: 'binary' (the score of class 1), 'micro' (counts summed over classes first),
    'macro' (unweighted mean over the classes that occur in targets or preds, as scikit-learn
    with ``labels=None``), 'weighted' (mean weighted by each class's support), None (one score
    per class 0..C-1, a NumPy array). A 0/0 gives ``zero_division`` (0.0 by default, no warning;
    with ``nan`` the nan classes are left out of the average, as scikit-learn).
    ``num_classes`` may be None: it is then the largest class seen plus one.
    """

    _state_names = ("tp", "pred_sum", "true_sum")

    def __init__(self, num_classes=None, average="macro", task=None, threshold=0.5, from_logits=None,
                 ignore_index=None, zero_division=0.0, name=None):
        if average not in _AVERAGES:
            raise ValueError(f"{type(self).__name__}: average must be one of {_AVERAGES}, got {average!r}")
        if not (zero_division in (0, 1) or (isinstance(zero_division, float) and math.isnan(zero_division))):
            raise ValueError(f"{type(self).__name__}: zero_division must be 0.0, 1.0 or nan, got {zero_division!r}")
        if average == "binary" and task is None:
            task = "binary"
        if average == "binary" and task != "binary":
            raise ValueError(f"{type(self).__name__}: average='binary' needs task='binary', got task={task!r}")
        self.average, self.zero_division = average, float(zero_division)
        super().__init__(num_classes, task, threshold, from_logits, ignore_index, name)

    def config(self) -> dict:
        return {**super().config(), "average": self.average, "zero_division": self.zero_division}

    def _init_state(self):
        n = self.num_classes or 0
        self.tp, self.pred_sum, self.true_sum = (np.zeros(n, np.int64) for _ in range(3))

    def update(self, preds, targets) -> None:
        p, t, hint = self._labels(preds, targets)
        n = _classes_needed(self.tp.size, hint, p, t)
        self.tp = np.pad(self.tp, (0, n - self.tp.size)) + np.bincount(t[p == t], minlength=n)
        self.pred_sum = np.pad(self.pred_sum, (0, n - self.pred_sum.size)) + np.bincount(p, minlength=n)
        self.true_sum = np.pad(self.true_sum, (0, n - self.true_sum.size)) + np.bincount(t, minlength=n)

    def _fraction(self, tp, pred_sum, true_sum) -> tuple:
        """(numerator, denominator) per class; subclasses say which counts make their score."""
        raise NotImplementedError

    def compute(self):
        tp, pred_sum, true_sum = self.tp, self.pred_sum, self.true_sum
        if self.average == "binary":
            tp, pred_sum, true_sum = (np.pad(a, (0, max(0, 2 - a.size)))[1:2] for a in (tp, pred_sum, true_sum))
        elif self.average == "micro":
            tp, pred_sum, true_sum = (a.sum(keepdims=True) for a in (tp, pred_sum, true_sum))
        num, den = self._fraction(tp, pred_sum, true_sum)
        score = np.where(den > 0, num / np.where(den > 0, den, 1), self.zero_division).astype(np.float64)
        if self.average is None:
            return score
        if self.average in ("macro", "weighted"):
            present = (true_sum + pred_sum) > 0
            weights = true_sum[present] if self.average == "weighted" else None
            score = score[present]
        else:
            weights = None
        ok = ~np.isnan(score)  # zero_division=nan: left out of the average
        if not ok.any():
            return math.nan
        if weights is not None and weights[ok].sum() == 0:
            weights = None  # all weights zero: plain mean (as scikit-learn)
        return float(np.average(score[ok], weights=None if weights is None else weights[ok]))


class Precision(_PerClassCounts):
    """Precision ``tp / (tp + fp)``: of the samples predicted as a class, the fraction that are.
    See ``_PerClassCounts`` for ``average`` and ``zero_division``."""

    default_name = "precision"

    def _fraction(self, tp, pred_sum, true_sum):
        return tp, pred_sum


class Recall(_PerClassCounts):
    """Recall ``tp / (tp + fn)``: of the samples of a class, the fraction predicted as it.
    See ``_PerClassCounts`` for ``average`` and ``zero_division``."""

    default_name = "recall"

    def _fraction(self, tp, pred_sum, true_sum):
        return tp, true_sum


class FBetaScore(_PerClassCounts):
    """F-beta ``(1 + b^2) * P * R / (b^2 * P + R) = (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp)``.
    See ``_PerClassCounts`` for ``average`` and ``zero_division`` (0/0 when a class is neither
    predicted nor present)."""

    default_name = "fbeta"

    def __init__(self, beta: float = 1.0, num_classes=None, average="macro", task=None, threshold=0.5,
                 from_logits=None, ignore_index=None, zero_division=0.0, name=None):
        if not beta >= 0:
            raise ValueError(f"{type(self).__name__}: beta must be >= 0, got {beta}")
        self.beta = float(beta)
        super().__init__(num_classes, average, task, threshold, from_logits, ignore_index, zero_division, name)

    def config(self) -> dict:
        return {"beta": self.beta, **super().config()}

    def _fraction(self, tp, pred_sum, true_sum):
        b2 = self.beta ** 2
        return (1 + b2) * tp, b2 * true_sum + pred_sum


class F1Score(FBetaScore):
    """F1 ``2 * P * R / (P + R) = 2 tp / (2 tp + fp + fn)``, the harmonic mean of precision and
    recall. See ``_PerClassCounts`` for ``average`` and ``zero_division``."""

    default_name = "f1"

    def __init__(self, num_classes=None, average="macro", task=None, threshold=0.5, from_logits=None,
                 ignore_index=None, zero_division=0.0, name=None):
        super().__init__(1.0, num_classes, average, task, threshold, from_logits, ignore_index, zero_division, name)

    def config(self) -> dict:
        cfg = super().config()
        del cfg["beta"]
        return cfg


class ConfusionMatrix(_ClassificationMetric):
    """Counts ``cm[i, j]`` = number of samples of true class i predicted as class j (rows: targets,
    columns: predictions, as scikit-learn and torchmetrics).

    ``normalize``: None (counts, int64), 'true' (each row divided by its sum: recall on the
    diagonal), 'pred' (each column by its sum: precision on the diagonal), 'all' (by N); a 0/0
    row or column gives zeros. ``compute()`` returns a NumPy array (C, C).
    """

    default_name = "confusion_matrix"
    higher_is_better = None
    _state_names = ("confmat",)

    def __init__(self, num_classes=None, normalize=None, task=None, threshold=0.5, from_logits=None,
                 ignore_index=None, name=None):
        if normalize not in (None, "true", "pred", "all"):
            raise ValueError(f"ConfusionMatrix: normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
        self.normalize = normalize
        super().__init__(num_classes, task, threshold, from_logits, ignore_index, name)

    def config(self) -> dict:
        return {**super().config(), "normalize": self.normalize}

    def _init_state(self):
        n = self.num_classes or 0
        self.confmat = np.zeros((n, n), np.int64)

    def update(self, preds, targets) -> None:
        p, t, hint = self._labels(preds, targets)
        n = _classes_needed(self.confmat.shape[0], hint, p, t)
        grow = n - self.confmat.shape[0]
        counts = np.bincount(t * n + p, minlength=n * n).reshape(n, n)
        self.confmat = np.pad(self.confmat, ((0, grow), (0, grow))) + counts

    def compute(self) -> np.ndarray:
        cm = self.confmat
        if self.normalize is None:
            return cm.copy()
        axis = {"true": 1, "pred": 0, "all": None}[self.normalize]
        den = np.broadcast_to(cm.sum(axis=axis, keepdims=True), cm.shape)
        return np.where(den > 0, cm / np.where(den > 0, den, 1), 0.0)
