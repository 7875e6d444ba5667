"""``get_metric(name)``, the string-to-metric factory the CLI and configs use, and
``MetricCollection``, several metrics updated and read together."""
from __future__ import annotations

import difflib
import re

from .base import Metric
from .calibration import ExpectedCalibrationError
from .classification import Accuracy, ConfusionMatrix, F1Score, FBetaScore, Precision, Recall, TopKAccuracy
from .ranking import ROCAUC
from .regression import MeanAbsoluteError, MeanSquaredError, R2Score

__all__ = ["get_metric", "metric_names", "MetricCollection"]

# canonical name -> (class, fixed keyword arguments)
_METRICS = {
    "accuracy": (Accuracy, {}),
    "top_k_accuracy": (TopKAccuracy, {}),
    "precision": (Precision, {}),
    "recall": (Recall, {}),
    "f1": (F1Score, {}),
    "fbeta": (FBetaScore, {}),
    "confusion_matrix": (ConfusionMatrix, {}),
    "roc_auc": (ROCAUC, {}),
    "mse": (MeanSquaredError, {}),
    "rmse": (MeanSquaredError, {"squared": False}),
    "mae": (MeanAbsoluteError, {}),
    "r2": (R2Score, {}),
    "ece": (ExpectedCalibrationError, {}),
}
_ALIASES = {
    "acc": "accuracy", "accuracy_score": "accuracy", "top_k_accuracy_score": "top_k_accuracy",
    "precision_score": "precision", "recall_score": "recall", "f1_score": "f1", "fbeta_score": "fbeta",
    "auroc": "roc_auc", "auc": "roc_auc", "roc_auc_score": "roc_auc",
    "mean_squared_error": "mse", "root_mean_squared_error": "rmse", "mean_absolute_error": "mae",
    "r2_score": "r2", "expected_calibration_error": "ece",
}
_TOPK = re.compile(r"top_?(\d+)(?:_accuracy)?$")


def metric_names() -> list:
    """The names ``get_metric`` accepts (``topK_accuracy`` for any K, e.g. 'top5_accuracy')."""
    return sorted(_METRICS) + ["top5_accuracy"] + sorted(_ALIASES)


def get_metric(name, /, **kwargs) -> Metric:
    """A metric from its name: ``get_metric('f1', average='weighted')``, ``get_metric('top5_accuracy')``.

    Names: accuracy, topK_accuracy (e.g. top5_accuracy) or top_k_accuracy (k=...), precision,
    recall, f1, fbeta, confusion_matrix, roc_auc, mse, rmse, mae, r2, ece, and scikit-learn's
    function names as aliases (f1_score, mean_squared_error, ...). The metric's ``name`` is the
    name asked for unless ``name=`` is given. A Metric instance is returned as it is.
    """
    if isinstance(name, Metric):
        if kwargs:
            raise TypeError(f"get_metric: keyword arguments {sorted(kwargs)} given with a Metric instance")
        return name
    if not isinstance(name, str):
        raise TypeError(f"get_metric: expected a metric name (str) or a Metric, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    kwargs.setdefault("name", name)
    topk = _TOPK.match(key)
    if topk:
        k = int(topk.group(1))
        if kwargs.get("k", k) != k:
            raise ValueError(f"get_metric: {name!r} means k={k}, but k={kwargs['k']} was given")
        kwargs["k"] = k
        return TopKAccuracy(**kwargs)
    key = _ALIASES.get(key, key)
    if key not in _METRICS:
        valid = metric_names()
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"get_metric: unknown metric {name!r}{hint} Valid names: {', '.join(valid)}")
    cls, fixed = _METRICS[key]
    return cls(**fixed, **kwargs)


class MetricCollection:
    """Several metrics fed the same ``(preds, targets)``, read as one dict.

    >>> val = MetricCollection(["accuracy", "f1", "top5_accuracy"], prefix="val_")
    >>> val.update(logits, y); val.compute()   # {'val_accuracy': 0.9, 'val_f1': 0.88, ...}

    ``metrics``: a list of names or Metric instances (keyed by their ``name``), or a dict
    ``{key: name or Metric}``. ``state_dict`` / ``load_state_dict`` / ``merge`` / ``reset`` act
    on every member.
    """

    def __init__(self, metrics, prefix: str = ""):
        if isinstance(metrics, (str, Metric)):
            metrics = [metrics]
        if isinstance(metrics, dict):
            items = [(k, get_metric(m, name=k) if isinstance(m, str) else get_metric(m)) for k, m in metrics.items()]
        else:
            items = [(m.name, m) for m in (get_metric(x) for x in metrics)]
        self._metrics: dict = {}
        for key, m in items:
            if key in self._metrics:
                raise ValueError(f"MetricCollection: two metrics are named {key!r}; give one a different name=")
            self._metrics[key] = m
        self.prefix = prefix

    def update(self, preds, targets) -> None:
        for m in self._metrics.values():
            m.update(preds, targets)

    def compute(self) -> dict:
        return {self.prefix + k: m.compute() for k, m in self._metrics.items()}

    def reset(self) -> None:
        for m in self._metrics.values():
            m.reset()

    def state_dict(self) -> dict:
        return {k: m.state_dict() for k, m in self._metrics.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        missing = [k for k in self._metrics if k not in state_dict]
        unexpected = [k for k in state_dict if k not in self._metrics]
        if missing or unexpected:
            raise ValueError(f"MetricCollection.load_state_dict: missing {missing}, unexpected {unexpected}")
        for k, m in self._metrics.items():
            m.load_state_dict(state_dict[k])

    def merge(self, other: "MetricCollection") -> "MetricCollection":
        if set(other.keys()) != set(self.keys()):
            raise ValueError(f"MetricCollection.merge: keys differ: {sorted(self.keys())} and {sorted(other.keys())}")
        for k, m in self._metrics.items():
            m.merge(other[k])
        return self

    def clone(self, prefix: str | None = None) -> "MetricCollection":
        """A copy (state included) with a new prefix, e.g. a validation twin of the training metrics."""
        out = MetricCollection({k: m.clone() for k, m in self._metrics.items()},
                               prefix=self.prefix if prefix is None else prefix)
        return out

    def __getitem__(self, key: str) -> Metric:
        return self._metrics[key]

    def __contains__(self, key) -> bool:
        return key in self._metrics

    def __iter__(self):
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    def keys(self):
        return self._metrics.keys()

    def values(self):
        return self._metrics.values()

    def items(self):
        return self._metrics.items()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {m!r}" for k, m in self._metrics.items())
        return f"MetricCollection({{{inner}}}, prefix={self.prefix!r})"
