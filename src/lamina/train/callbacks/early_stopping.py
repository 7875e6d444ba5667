"""EarlyStopping: stop training when a monitored value has stopped improving (Keras semantics)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ... import backend
from .base import Callback, is_better, resolve_mode

__all__ = ["EarlyStopping"]


def _scalar(value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Each epoch end: ``wait += 1``; an improvement (``current < best - min_delta`` in mode 'min',
    ``current > best + min_delta`` in 'max') sets ``best = current, wait = 0``; when
    ``wait >= patience`` training stops. ``mode='auto'`` reads the direction from the metric
    (losses and errors go down, accuracy-like scores up). ``baseline``: an improvement that does
    not beat it does not reset ``wait``. ``restore_best_weights``: at the end of training, load
    the weights of the best epoch. ``start_from_epoch``: epochs before it are ignored (warm-up).

    >>> Trainer(model, loss, opt, callbacks=[EarlyStopping("val_loss", patience=3, restore_best_weights=True)])
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.min_delta, self.patience = monitor, abs(float(min_delta)), int(patience)
        self.verbose, self.mode, self.baseline = verbose, mode, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, int(start_from_epoch)
        self._reset()

    def _reset(self):
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0
        self.best_weights = None
        self._warned = False

    def on_train_begin(self, logs=None):
        self._reset()
        self._mode = resolve_mode(self.monitor, self.mode, self.trainer, "EarlyStopping")

    def on_epoch_end(self, epoch, logs=None):
        current = _scalar((logs or {}).get(self.monitor))
        if current is None:
            if not self._warned:
                warnings.warn(f"EarlyStopping: monitored value {self.monitor!r} is not in the logs (available: "
                              f"{', '.join(sorted(logs or {}))}); early stopping is inactive", RuntimeWarning)
                self._warned = True
            return
        if epoch < self.start_from_epoch or math.isnan(current):
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._snapshot()
            self.best_epoch = epoch
        self.wait += 1
        if is_better(current, self.best, self._mode, self.min_delta):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot()
            if self.baseline is None or is_better(current, self.baseline, self._mode, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping (best {self.monitor} = {self.best:.6g} "
                  f"at epoch {self.best_epoch + 1})")
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")

    def _snapshot(self) -> dict:
        return {k: np.array(backend.to_device(v.array, backend.cpu), copy=True) for k, v in self.model.state_dict().items()}

    def state_dict(self) -> dict:
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        self.best, self.best_epoch = state["best"], int(state["best_epoch"])
        bw = state.get("best_weights")
        self.best_weights = None if bw is None else {k: np.asarray(getattr(v, "array", v)) for k, v in bw.items()}
