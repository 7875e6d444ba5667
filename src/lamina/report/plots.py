"""Plots of a run directory with matplotlib (Agg backend: no display needed).

    history = read_metrics("runs/mlp_digits/metrics.csv")     # {'epoch': [...], 'loss': [...], ...}
    plot_losses(history, "runs/mlp_digits/report/loss.png")
    plot_confusion(cm, classes, "runs/mlp_digits/report/confusion_matrix.png")
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

__all__ = ["metric_names", "plot_confusion", "plot_losses", "plot_lr", "plot_metrics", "read_metrics"]


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def read_metrics(path: str) -> dict:
    """``metrics.csv`` (CSVLogger) as ``{column: list of floats}`` (``NA`` and non-numbers -> NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    out = {k: [] for k in header}
    for row in body:
        for k, cell in zip(header, row):
            try:
                out[k].append(float(cell))
            except ValueError:
                out[k].append(math.nan)
    return out


def metric_names(history: dict) -> list:
    """The metrics other than loss and lr (``accuracy`` for columns ``accuracy`` / ``val_accuracy``)."""
    names = []
    for k in history:
        base = k[4:] if k.startswith("val_") else k
        if base not in ("epoch", "loss", "lr") and base not in names and not _all_nan(history[k]):
            names.append(base)
    return names


def _all_nan(values) -> bool:
    return not len(values) or bool(np.all(np.isnan(np.asarray(values, dtype=float))))


def _epochs(history: dict) -> np.ndarray:
    """The epoch numbers, 1-based as the progress lines count (metrics.csv of ``lamina train`` numbers
    epochs from 1; a file numbered from 0, as Keras' CSVLogger writes, is shifted)."""
    n = max(len(v) for v in history.values())
    x = np.asarray(history.get("epoch", range(n)), dtype=float)
    return x + 1 if len(x) and np.nanmin(x) == 0 else x


def _curves(ax, history: dict, key: str, label: str) -> None:
    x = _epochs(history)
    for k, style, what in ((key, "-o", "train"), ("val_" + key, "-s", "val")):
        if k in history and not _all_nan(history[k]):
            ax.plot(x, history[k], style, markersize=3, label=f"{what} {label}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    ax.legend()


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def plot_losses(history: dict, path: str) -> str:
    """Training and validation loss per epoch (log scale when it spans more than a decade); None when
    the run logs no ``loss`` (a GAN logs ``d_loss`` and ``g_loss``, drawn by the generative section)."""
    if not any(len(history.get(k, [])) for k in ("loss", "val_loss")):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    _curves(ax, history, "loss", "loss")
    vals = np.asarray([v for k in ("loss", "val_loss") for v in history.get(k, [])], dtype=float)
    vals = vals[np.isfinite(vals)]
    if len(vals) and vals.min() > 0 and vals.max() / vals.min() > 10:
        ax.set_yscale("log")
    ax.set_title("loss")
    return _save(fig, path)


def plot_metrics(history: dict, path: str, names=None) -> str | None:
    """One panel per metric, training and validation curves; None when there is no metric."""
    names = list(names) if names is not None else metric_names(history)
    if not names:
        return None
    plt = _plt()
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.5 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        _curves(ax, history, name, name)
        ax.set_title(name)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return _save(fig, path)


def plot_lr(history: dict, path: str) -> str | None:
    """The learning rate of each epoch, every epoch shown: a log scale when it spans more than a
    decade, symlog (linear near 0) when it also reaches 0 (a cosine schedule's last epoch), so no
    point falls off the plot; None without lr."""
    if "lr" not in history or _all_nan(history["lr"]):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lr = np.asarray(history["lr"], dtype=float)
    ax.plot(_epochs(history), lr, "-o", markersize=3)
    pos = lr[np.isfinite(lr) & (lr > 0)]
    if len(pos) and pos.max() / pos.min() > 10:
        if np.any(np.isfinite(lr) & (lr <= 0)):
            ax.set_yscale("symlog", linthresh=float(pos.min()))
        else:
            ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_confusion(cm, path: str, classes=None, title: str = "confusion matrix (test)") -> str:
    """Counts ``cm[i, j]`` (true i, predicted j) coloured by row-normalised rate, counts written in cells
    when there are at most 20 classes."""
    plt = _plt()
    cm = np.asarray(cm)
    n = cm.shape[0]
    rate = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.45 * n, 14)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    labels = [str(c) for c in classes] if classes is not None and len(classes) == n else [str(i) for i in range(n)]
    ticks = np.arange(n)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(labels, rotation=45 if max(map(len, labels)) > 2 else 0, ha="right" if max(
        map(len, labels)) > 2 else "center")
    ax.set_yticklabels(labels)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if rate[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)
