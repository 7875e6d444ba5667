"""Feature importance for tabular models: permutation importance and SHAP values.

    permutation importance_j = score(X, y) - mean_r score(X with column j shuffled (repeat r), y)
    SHAP: phi_j with  f(x) = E[f(X_background)] + sum_j phi_j   (Lundberg & Lee, 2017; the ``shap`` package)

Both treat the model as a black box through a *predict function* ``f(X: ndarray (N, F)) -> ndarray``;
``predict_fn(model)`` makes one from a lamina model (class probabilities by default).

>>> imp = permutation_importance(model, x_val, y_val, metric="accuracy", n_repeats=5)
>>> phi = shap_values(model, x_val[:20], background=x_train[:50])        # (20, F, C)
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from ._common import as_tensor, batched, eval_mode, forward_scores, to_numpy

__all__ = ["predict_fn", "permutation_importance", "PermutationImportance", "shap_values"]


def predict_fn(model, output: str = "probability", batch_size: int = 1024):
    """A NumPy function X (N, F) -> outputs for a lamina model: 'probability' (softmax of the scores),
    'logits' (the raw scores) or 'label' (argmax). Runs in eval mode without a graph. A plain
    callable (already a predict function) is returned as it is."""
    if output not in ("probability", "logits", "label"):
        raise ValueError(f"predict_fn: output must be 'probability', 'logits' or 'label', got {output!r}")
    if not hasattr(model, "parameters"):
        return model

    def f(X):
        X = np.asarray(X)
        outs = []
        with eval_mode(model), no_grad():
            for sl in batched(len(X), batch_size):
                s = forward_scores(model, as_tensor(X[sl], model, model_dtype(model))).array
                if output == "probability" and s.ndim == 2:
                    s = s - s.max(1, keepdims=True)
                    s = backend.array_module(s).exp(s)
                    s = s / s.sum(1, keepdims=True)
                elif output == "label":
                    s = s.argmax(1)
                outs.append(to_numpy(s))
        return np.concatenate(outs, 0)

    return f


def model_dtype(model):
    for p in model.parameters():
        return p.dtype
    return None


class PermutationImportance(NamedTuple):
    """``importances_mean`` (F,), ``importances_std`` (F,), ``importances`` (F, n_repeats) and the
    unshuffled ``baseline_score`` (sklearn's names)."""

    importances_mean: np.ndarray
    importances_std: np.ndarray
    importances: np.ndarray
    baseline_score: float


def _scores(metric, pred, y):
    """metric over blocks: pred (K, N, ...) -> (K,) (higher is better)."""
    if metric == "accuracy":
        labels = pred.argmax(-1) if pred.ndim == 3 else pred
        return (labels == y[None]).mean(1)
    if metric in ("neg_mse", "mse"):
        err = ((pred - y[None]) ** 2).reshape(pred.shape[0], -1).mean(1)
        return -err
    if metric == "neg_log_loss":
        p = pred[:, np.arange(len(y)), y]
        return np.log(np.clip(p, 1e-15, 1.0)).mean(1)
    raise ValueError(f"permutation_importance: metric must be 'accuracy', 'neg_mse', 'neg_log_loss' or a callable "
                     f"(y_true, y_pred) -> score, got {metric!r}")


def permutation_importance(model, X, y, metric="accuracy", n_repeats: int = 5, generator=None,
                           output: str | None = None, batch_size: int = 4096) -> PermutationImportance:
    """How much the score drops when one feature's column is shuffled (Breiman, 2001).

    model: a lamina model (or a predict function X -> outputs). metric: 'accuracy' (class scores or
    labels against int labels y), 'neg_mse' (regression), 'neg_log_loss' (probabilities), or a
    callable ``(y_true, y_pred) -> float`` (higher is better). All F * n_repeats shuffled copies
    of X go through the model in batches of ``batch_size`` rows; ``generator`` draws the shuffles.
    """
    if not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise ValueError(f"permutation_importance: n_repeats must be a positive int, got {n_repeats!r}")
    X = np.asarray(X.numpy() if isinstance(X, Tensor) else X)
    y = np.asarray(y.numpy() if isinstance(y, Tensor) else y)
    if X.ndim != 2 or len(y) != len(X):
        raise ValueError(f"permutation_importance: X must be (N, features) with one target per row, got X "
                         f"{X.shape}, y {y.shape}")
    f = predict_fn(model, output or ("probability" if metric == "neg_log_loss" else "logits"))
    N, F = X.shape
    R = int(n_repeats)
    perms = backend.rng(generator).random((F, R, N)).argsort(-1)              # one shuffle per (feature, repeat)
    Xs = np.broadcast_to(X, (F, R, N, F)).copy()
    cols = np.arange(F)
    Xs[cols, :, :, cols] = X[perms, cols[:, None, None]]                       # column j of block (j, r) shuffled
    pred = np.concatenate([f(c) for c in np.array_split(Xs.reshape(F * R * N, F), max(1, F * R * N // batch_size))])
    base_pred = f(X)
    if callable(metric):
        base = float(metric(y, base_pred))
        blocks = pred.reshape((F * R, N) + pred.shape[1:])
        scores = np.array([metric(y, b) for b in blocks], dtype=np.float64)  # one call per (feature, repeat)
    else:
        base = float(_scores(metric, base_pred[None], y)[0])
        scores = _scores(metric, pred.reshape((F * R, N) + pred.shape[1:]), y)
    imp = base - scores.reshape(F, R)
    return PermutationImportance(imp.mean(1), imp.std(1), imp, base)


def shap_values(model, X, background, nsamples="auto", output: str = "probability", explainer: str = "kernel",
                **explainer_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values of ``X`` (N, F) through the ``shap`` package -> ``(values, expected_value)``.

    values: (N, F) for a single output, (N, F, C) for C outputs (class probabilities by default;
    ``output`` as ``predict_fn``); expected_value: E[f(background)] ((C,) or a scalar). Local accuracy:
    ``values.sum(1) + expected_value == f(X)``. explainer: 'kernel' (KernelExplainer, model-agnostic,
    ``nsamples`` coalitions per row) or 'permutation' (shap's permutation explainer over a masker of
    ``background``). Needs ``pip install shap`` (the extra ``lamina[explain]``).
    """
    try:
        import shap
    except ImportError as e:          # pragma: no cover - shap is an optional dependency
        raise ImportError("shap_values needs the shap package: pip install 'lamina[explain]' (or: pip install shap)") from e
    f = predict_fn(model, output)
    X = np.asarray(X.numpy() if isinstance(X, Tensor) else X)
    background = np.asarray(background.numpy() if isinstance(background, Tensor) else background)
    if X.ndim != 2 or background.ndim != 2 or background.shape[1] != X.shape[1]:
        raise ValueError(f"shap_values: X and background must be (rows, features) with the same features, got "
                         f"{X.shape} and {background.shape}")
    if explainer == "kernel":
        ex = shap.KernelExplainer(f, background, **explainer_kwargs)
        values = ex.shap_values(X, nsamples=nsamples, silent=True)
        expected = ex.expected_value
    elif explainer == "permutation":
        ex = shap.explainers.Permutation(f, shap.maskers.Independent(background, max_samples=len(background)),
                                         **explainer_kwargs)
        res = ex(X) if nsamples == "auto" else ex(X, max_evals=nsamples)
        values, expected = res.values, res.base_values[0]
    else:
        raise ValueError(f"shap_values: explainer must be 'kernel' or 'permutation', got {explainer!r}")
    if isinstance(values, list):       # older shap: one (N, F) array per output
        values = np.stack(values, -1)
    return np.asarray(values), np.asarray(expected)
