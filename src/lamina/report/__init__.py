"""Reports of a run directory (``lamina report``): matplotlib plots and an index.html."""
from .index import build_report, confusion_matrix, write_index
from .plots import plot_confusion, plot_losses, plot_lr, plot_metrics, read_metrics

__all__ = ["build_report", "confusion_matrix", "write_index", "plot_confusion", "plot_losses", "plot_lr",
           "plot_metrics", "read_metrics"]
