"""ProgressBar: a tqdm bar per epoch on a terminal, one plain line per epoch elsewhere (CI, logs)."""
from __future__ import annotations

import sys
import time

import numpy as np

from .base import Callback

__all__ = ["ProgressBar", "format_logs"]


def format_logs(logs: dict) -> str:
    """``loss: 0.1234 - accuracy: 0.9500 - val_loss: ...`` (scalars only, Keras' layout)."""
    parts = []
    for k, v in logs.items():
        if v is None or np.ndim(v) != 0:
            continue
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            parts.append(f"{k}: {int(v)}")
            continue
        v = float(v)
        parts.append(f"{k}: {v:.4g}" if k in ("lr",) or abs(v) < 1e-3 and v != 0 else f"{k}: {v:.4f}")
    return " - ".join(parts)


class ProgressBar(Callback):
    """Show training progress.

    On a terminal (``file.isatty()``) with ``tqdm`` installed (``pip install lamina[progress]``):
    one bar per epoch with the running loss, throughput (samples/s) and tqdm's ETA, refreshed
    every ``trainer.log_every`` batches, ending with the epoch's logs. Otherwise (``plain=True``,
    no terminal, or no tqdm) one line per epoch::

        Epoch 3/10 - 1.52s - 8421 samples/s - loss: 0.2104 - accuracy: 0.9391 - val_loss: 0.2512 - lr: 0.001
    """

    order = 80

    def __init__(self, file=None, plain: bool | None = None):
        self.file = file
        self.plain = plain
        self.bar = None

    def _out(self):
        return self.file if self.file is not None else sys.stdout

    def on_train_begin(self, logs=None):
        use_bar = not self.plain if self.plain is not None else bool(getattr(self._out(), "isatty", lambda: False)())
        self._tqdm = None
        if use_bar:
            try:
                from tqdm.auto import tqdm
                self._tqdm = tqdm
            except ImportError:
                self._tqdm = None

    def on_epoch_begin(self, epoch, logs=None):
        t = self.trainer
        self._t0, self._samples0 = time.perf_counter(), t._samples
        if self._tqdm is not None:
            try:
                total = len(t._train_loader)
            except TypeError:
                total = None
            self.bar = self._tqdm(total=total, initial=t._batch_in_epoch, desc=f"Epoch {epoch + 1}/{t.epochs}",
                                  unit="batch", file=self._out(), leave=True, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        bar = self.bar
        if bar is None:
            return
        bar.update(1)
        if (batch + 1) % self.trainer.log_every == 0:
            t = self.trainer
            loss = t._loss_sum / t._count if t._count else float("nan")
            bar.set_postfix_str(f"loss: {loss:.4f} - {self._rate():.0f} samples/s", refresh=False)

    def _rate(self) -> float:
        dt = time.perf_counter() - self._t0
        return (self.trainer._samples - self._samples0) / dt if dt > 0 else 0.0

    def on_epoch_end(self, epoch, logs=None):
        dt = time.perf_counter() - self._t0
        text = format_logs(logs or {})
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self._rate():.0f} samples/s - {text}", refresh=True)
            self.bar.close()
            self.bar = None
            return
        out = self._out()
        out.write(f"Epoch {epoch + 1}/{self.trainer.epochs} - {dt:.2f}s - {self._rate():.0f} samples/s - {text}\n")
        out.flush()

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
