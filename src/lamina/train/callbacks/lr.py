"""Learning-rate callbacks: ReduceLROnPlateau, LearningRateScheduler, LearningRateMonitor."""
from __future__ import annotations

import warnings

from ...optim import lr_scheduler
from .base import Callback, resolve_mode

__all__ = ["ReduceLROnPlateau", "LearningRateScheduler", "LearningRateMonitor"]


class ReduceLROnPlateau(Callback):
    """Multiply every group's lr by ``factor`` when ``logs[monitor]`` has not improved for
    ``patience`` epochs (``lamina.optim.lr_scheduler.ReduceLROnPlateau`` stepped at each epoch end;
    see it for ``threshold``, ``threshold_mode``, ``cooldown``, ``min_lr``, ``eps``).

    >>> ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8, verbose: int = 0):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor={factor} should be < 1.0")
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self._kwargs = dict(factor=factor, patience=patience, threshold=threshold, threshold_mode=threshold_mode,
                            cooldown=cooldown, min_lr=min_lr, eps=eps)
        self.scheduler = None
        self._warned = False

    def on_train_begin(self, logs=None):
        mode = resolve_mode(self.monitor, self.mode, self.trainer, "ReduceLROnPlateau")
        self.scheduler = lr_scheduler.ReduceLROnPlateau(self.trainer.optimizer, mode=mode, **self._kwargs)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            if not self._warned:
                warnings.warn(f"ReduceLROnPlateau: monitored value {self.monitor!r} is not in the logs (available: "
                              f"{', '.join(sorted(logs or {}))}); the lr is not changed", RuntimeWarning)
                self._warned = True
            return
        before = [g["lr"] for g in self.trainer.optimizer.param_groups]
        self.scheduler.step(current)
        after = [g["lr"] for g in self.trainer.optimizer.param_groups]
        if self.verbose and after != before:
            print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {after[0]:.6g}.")

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if state and self.scheduler is not None:
            self.scheduler.load_state_dict(dict(state))


class LearningRateScheduler(Callback):
    """Set every group's lr to ``schedule(epoch, lr)`` at the start of each epoch (Keras)."""

    def __init__(self, schedule, verbose: int = 0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        groups = self.trainer.optimizer.param_groups
        lr = float(self.schedule(epoch, float(groups[0]["lr"])))
        for g in groups:
            g["lr"] = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:.6g}.")


class LearningRateMonitor(Callback):
    """Add the learning rate of every parameter group to the logs: ``lr`` for one group,
    ``lr_group0``, ``lr_group1``, ... for several (with ``log_momentum``, ``momentum`` likewise:
    SGD's momentum or Adam's beta1). Epoch values are those in force during the epoch's last
    step (before an epoch-interval scheduler moves them). ``logging_interval='step'`` also adds them to every batch's
    logs (after the step), for per-step loggers; 'epoch' (default) only to the epoch logs.
    """

    order = -10  # before the loggers read the logs

    def __init__(self, logging_interval: str = "epoch", log_momentum: bool = False):
        if logging_interval not in ("epoch", "step"):
            raise ValueError(f"LearningRateMonitor: logging_interval must be 'epoch' or 'step', got {logging_interval!r}")
        self.logging_interval, self.log_momentum = logging_interval, log_momentum

    def _values(self, lrs=None) -> dict:
        groups = self.trainer.optimizer.param_groups
        out = {}
        for i, g in enumerate(groups):
            suffix = "" if len(groups) == 1 else f"_group{i}"
            out["lr" + suffix] = float(g["lr"]) if lrs is None else lrs[i]
            if self.log_momentum:
                m = g.get("momentum", g.get("betas", (None,))[0])
                if m is not None:
                    out["momentum" + suffix] = float(m)
        return out

    def on_train_batch_end(self, batch, logs=None):
        if self.logging_interval == "step" and logs is not None:
            logs.update(self._values())

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # the lrs in force at the end of the epoch, before an epoch scheduler's step
            logs.update(self._values(self.trainer.epoch_lrs))
