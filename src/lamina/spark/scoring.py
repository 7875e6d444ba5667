"""Scoring raw inputs with a run, as ``lamina predict`` does, for Spark's Python workers.

``load(run_dir)`` loads a run once per Python process (cached by the checkpoint file and its
modification time), ``model_input`` turns a batch of a DataFrame column into model input through
the run's ``Preprocess``, ``score`` computes what ``lamina predict --json`` prints: for a classifier
the class, its label, its probability and every probability (softmax in float64 of the model's
float32 outputs, forward passes of ``batch_size`` rows), for a regressor the outputs.
"""
from __future__ import annotations

import io
import os
import threading

import numpy as np

__all__ = ["OUTPUT_COLUMNS", "load", "model_input", "output_columns", "score"]

_CACHE: dict = {}
_LOCK = threading.Lock()

# the columns a classifier / a regressor adds, as lamina predict --json names them
OUTPUT_COLUMNS = {"classification": ("class", "label", "probability", "probabilities"), "regression": ("prediction",)}


def load(run_dir: str, prefer: str | None = None):
    """The run's ``LoadedRun`` (model in eval mode + Preprocess), loaded once per process."""
    from ..cli import rundir
    run, ckpt = rundir.find_checkpoint(run_dir, prefer)
    key = (os.path.abspath(ckpt), os.path.getmtime(ckpt), prefer)
    with _LOCK:
        loaded = _CACHE.get(key)
        if loaded is None:
            loaded = rundir.load_run(run_dir, prefer)
            _CACHE.clear()  # one model per process: a new checkpoint replaces the old one
            _CACHE[key] = loaded
    return loaded


def output_columns(info: dict) -> tuple:
    task = info.get("task")
    if task not in OUTPUT_COLUMNS:
        from ..cli.errors import ConfigError
        raise ConfigError(f"Spark scoring is for classifiers and regressors; this run's task is {task}")
    return OUTPUT_COLUMNS[task]


def model_input(pre, values, kind: str | None = None, allow_nonfinite: bool = False, where: str = "column"):
    """Model input from one batch of a column: feature arrays (lists/arrays of numbers), images (bytes
    of an encoded file, or paths) or texts (strings, for a text run). ``kind`` ('features', 'images',
    'texts') is inferred from the values when None."""
    values = list(values)
    if kind is None:
        first = next((v for v in values if v is not None), None)
        if isinstance(first, (bytes, bytearray, memoryview)):
            kind = "images"
        elif isinstance(first, str):
            kind = "texts" if pre.info.get("input_kind") == "tokens" else "images"
        else:
            kind = "features"
    if kind == "images":
        values = [io.BytesIO(bytes(v)) if isinstance(v, (bytes, bytearray, memoryview)) else v for v in values]
        return pre.prepare(values, kind="images", where=where)
    if kind == "texts":
        return pre.prepare([str(v) for v in values], kind="texts", where=where)
    if not values:
        return pre.prepare(np.zeros((0, pre.values_per_row), np.float32), where=where)
    x = np.stack([np.asarray(v) for v in values])
    return pre.prepare(x, allow_nonfinite=allow_nonfinite, where=where)


def _forward(model, x, batch_size: int) -> np.ndarray:
    from ..autograd import no_grad
    from ..tensor import Tensor
    outs = []
    with no_grad(), np.errstate(all="ignore"):
        for i in range(0, len(x), batch_size):
            outs.append(np.asarray(model(Tensor._wrap(np.ascontiguousarray(x[i:i + batch_size]))).array))
    return np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)


def score(loaded, x, batch_size: int = 256) -> dict:
    """``{column: values}`` for model inputs ``x``: lamina predict's numbers (see the module docstring).
    A row with a non-finite probability gets class/label/probability None."""
    from .. import nn
    from ..tensor import Tensor
    info = loaded.preprocess.info
    out = _forward(loaded.model, x, int(batch_size))
    if info["task"] != "classification":
        return {"prediction": [[float(v) for v in o] for o in out]}
    loss = loaded.cfg["loss"]["name"].lower()
    with np.errstate(all="ignore"):
        if loss in ("nll",):
            probs = np.exp(out)
        elif loss in ("bce", "bce_with_logits") and out.shape[1] == 1:
            p1 = 1 / (1 + np.exp(-out)) if loss == "bce_with_logits" else out
            probs = np.concatenate([1 - p1, p1], axis=1)
        else:
            probs = np.asarray(nn.functional.softmax(Tensor._wrap(out.astype(np.float64)), dim=1).array)
    probs = np.asarray(probs, dtype=np.float64)
    classes = info.get("classes")
    finite = np.isfinite(probs).all(axis=1)
    k = np.where(finite, probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64), 0)
    labels = [(classes[c] if classes and c < len(classes) else str(c)) if ok else None for c, ok in zip(k, finite)]
    return {"class": [int(c) if ok else None for c, ok in zip(k, finite)], "label": labels,
            "probability": [float(p[c]) if ok else None for p, c, ok in zip(probs, k, finite)],
            "probabilities": [[float(v) for v in p] for p in probs]}
