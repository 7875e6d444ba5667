"""Robust accuracy: the accuracy a model keeps when every test input is attacked.

    robust accuracy = mean_i [ argmax f(x_i + delta_i) == y_i ],  delta_i = attack(x_i, y_i) within eps

>>> robust_accuracy(model, x_test, y_test, eps=0.1)         # {'clean_accuracy': 0.97, 'robust_accuracy': 0.61, ...}
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .attacks import fgsm, pgd, predict_labels

__all__ = ["robust_accuracy", "ATTACKS"]

ATTACKS = {"pgd": pgd, "fgsm": fgsm}


def _batches(data, batch_size):
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
        x = x.array if isinstance(x, Tensor) else np.asarray(x)
        y = y.array if isinstance(y, Tensor) else np.asarray(y)
        for i in range(0, len(y), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]
        return
    for batch in data:                          # a DataLoader of (x, y) batches
        x, y = batch[0], batch[1]
        yield (x.array if isinstance(x, Tensor) else x), (y.array if isinstance(y, Tensor) else y)


def robust_accuracy(model, data, labels=None, eps: float = 0.1, attack: str = "pgd", batch_size: int = 256,
                    **attack_kwargs) -> dict:
    """Clean and attacked accuracy of ``model`` on ``data`` ((x, y) arrays, x with ``labels``, or a loader).

    attack: 'pgd' or 'fgsm' (``attack_kwargs`` go to it: steps, alpha, norm, random_start, clamp, ...).
    Returns ``{'clean_accuracy', 'robust_accuracy', 'attack', 'eps', 'n', 'final_loss'}``; robust
    accuracy counts an example as robust only if the attacked input is still classified correctly.
    """
    if attack not in ATTACKS:
        raise ValueError(f"robust_accuracy: attack must be one of {', '.join(ATTACKS)}, got {attack!r}")
    if labels is not None:
        data = (data, labels)
    clean = robust = n = 0
    loss_sum = 0.0
    for x, y in _batches(data, batch_size):
        y = np.asarray(y.get() if hasattr(y, "get") else y)
        clean += int((predict_labels(model, x) == y).sum())
        res = ATTACKS[attack](model, x, y, eps, **attack_kwargs)
        robust += int((predict_labels(model, res.inputs) == y).sum())
        loss_sum += float(res.losses[-1]) * len(y)
        n += len(y)
    if n == 0:
        raise ValueError("robust_accuracy: the data held no examples")
    return {"clean_accuracy": clean / n, "robust_accuracy": robust / n, "attack": attack, "eps": float(eps), "n": n,
            "final_loss": loss_sum / n}
