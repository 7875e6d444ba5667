"""ModelCheckpoint: the best weights and a resumable last checkpoint, written atomically."""
from __future__ import annotations

import math
import os
import warnings

from ... import io
from .base import Callback, is_better, resolve_mode

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save ``best.safetensors`` (model weights of the best epoch) and ``last.safetensors`` (the
    full training state: resume with ``fit(..., resume_from=dirpath)``) in ``dirpath``.

    * best: every ``every_n_epochs`` epochs, if ``logs[monitor]`` improved (direction ``mode``;
      'auto' reads it from the metric), the model's ``state_dict`` is written as a plain weight
      file (``model.load_state_dict(lamina.io.load(path))``); its header metadata holds the
      epoch, monitored key and score (``lamina.io.read_metadata``).
    * last: at the end of every ``every_n_epochs`` epochs and, with ``every_n_steps``, after
      every that many optimizer steps (so a run killed mid-epoch loses at most that many steps).

    Every write goes through ``lamina.io.save`` (temporary file, fsync, rename): a crash while
    writing leaves the previous file intact. This callback runs after all others, so the state
    it saves includes what they did at the same hook.

    >>> ModelCheckpoint("runs/a/checkpoints", monitor="val_accuracy", every_n_steps=500)
    """

    order = 100

    def __init__(self, dirpath, monitor: str | None = "val_loss", mode: str = "auto", save_best: bool = True,
                 save_last: bool = True, every_n_epochs: int = 1, every_n_steps: int | None = None,
                 best_name: str = "best.safetensors", last_name: str = "last.safetensors", verbose: int = 0):
        if every_n_epochs is not None and every_n_epochs < 1:
            raise ValueError(f"ModelCheckpoint: every_n_epochs must be >= 1 (or None), got {every_n_epochs}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"ModelCheckpoint: every_n_steps must be >= 1 (or None), got {every_n_steps}")
        if save_best and monitor is None:
            raise ValueError("ModelCheckpoint: save_best=True needs a monitor key")
        self.dirpath = os.fspath(dirpath)
        self.monitor, self.mode, self.save_best, self.save_last = monitor, mode, save_best, save_last
        self.every_n_epochs, self.every_n_steps, self.verbose = every_n_epochs, every_n_steps, verbose
        self.best_path = os.path.join(self.dirpath, best_name)
        self.last_path = os.path.join(self.dirpath, last_name)
        self.best_score = None
        self.best_epoch = None
        self._last_step = None
        self._warned = False

    def on_train_begin(self, logs=None):
        os.makedirs(self.dirpath, exist_ok=True)
        if self.monitor is not None:
            self._mode = resolve_mode(self.monitor, self.mode, self.trainer, "ModelCheckpoint")
        self._last_step = self.trainer.global_step  # no save before the first new step

    def on_train_batch_end(self, batch, logs=None):
        n, step = self.every_n_steps, self.trainer.global_step
        if n and self.save_last and step % n == 0 and step != self._last_step:
            self._last_step = step
            self._save_last()

    def on_epoch_end(self, epoch, logs=None):
        if not self.every_n_epochs or (epoch + 1) % self.every_n_epochs:
            return
        if self.save_best:
            self._maybe_save_best(epoch, logs or {})
        if self.save_last:
            self._last_step = self.trainer.global_step
            self._save_last()

    def _maybe_save_best(self, epoch, logs):
        current = logs.get(self.monitor)
        try:
            current = float(current)
        except (TypeError, ValueError):
            current = None
        if current is None or math.isnan(current):
            if not self._warned:
                warnings.warn(f"ModelCheckpoint: monitored value {self.monitor!r} is not in the logs (available: "
                              f"{', '.join(sorted(logs))}); the best checkpoint is not written", RuntimeWarning)
                self._warned = True
            return
        if not is_better(current, self.best_score, self._mode):
            return
        self.best_score, self.best_epoch = current, epoch
        io.save(self.model.state_dict(), self.best_path,
                metadata={"epoch": str(epoch), "monitor": self.monitor, "score": repr(current)})
        if self.verbose:
            print(f"Epoch {epoch + 1}: {self.monitor} improved to {current:.6g}, saved {self.best_path}")

    def _save_last(self):
        self.trainer.save_checkpoint(self.last_path)

    def state_dict(self) -> dict:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best_score, self.best_epoch = state.get("best_score"), state.get("best_epoch")
