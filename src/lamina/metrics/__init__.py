"""Evaluation metrics accumulated batch by batch (Keras / torchmetrics style).

    from lamina.metrics import Accuracy, MetricCollection, get_metric
    metrics = MetricCollection(["accuracy", "f1", "top5_accuracy"], prefix="val_")
    for x, y in loader:
        metrics.update(model(x), y)          # lamina Tensors or NumPy arrays; no graph is built
    metrics.compute()                        # {'val_accuracy': 0.91, 'val_f1': 0.90, ...}
    metrics.reset()

Every metric keeps sufficient statistics (counts, sums, confusion matrices; ROC-AUC keeps its
scores), has a JSON-friendly ``state_dict()`` and can ``merge`` the state of another process.
"""
from .base import Metric, to_numpy
from .calibration import ExpectedCalibrationError
from .classification import Accuracy, ConfusionMatrix, F1Score, FBetaScore, Precision, Recall, TopKAccuracy
from .collection import MetricCollection, get_metric, metric_names
from .ranking import ROCAUC
from .regression import MeanAbsoluteError, MeanSquaredError, R2Score

AUROC = ROCAUC
ECE = ExpectedCalibrationError
MSE = MeanSquaredError
MAE = MeanAbsoluteError

__all__ = ["Metric", "to_numpy", "Accuracy", "TopKAccuracy", "Precision", "Recall", "FBetaScore", "F1Score",
           "ConfusionMatrix", "ROCAUC", "AUROC", "MeanSquaredError", "MSE", "MeanAbsoluteError", "MAE", "R2Score",
           "ExpectedCalibrationError", "ECE", "MetricCollection", "get_metric", "metric_names"]
