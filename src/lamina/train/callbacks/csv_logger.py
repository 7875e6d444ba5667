"""CSVLogger: one row of epoch logs per epoch (Keras' columns: ``epoch`` then the keys, sorted)."""
from __future__ import annotations

import csv
import io as _io
import os

import numpy as np

from ... import io
from .base import Callback

__all__ = ["CSVLogger"]


def _cell(v):
    if v is None:
        return "NA"
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, np.ndarray):
        return repr(v.tolist()) if v.ndim else repr(v.item())
    return str(v)


class CSVLogger(Callback):
    """Append each epoch's logs to ``filename``.

    The header is ``epoch`` and the first epoch's keys in sorted order; a key missing later is
    written ``NA``. ``append=False`` starts a new file; ``append=True``, or a run resumed from a
    checkpoint, appends (on resume, rows written after the checkpoint are dropped first, so the
    file holds each epoch once). Rows are flushed as they are written. ``first_epoch`` is the number
    written for the first epoch: 0 as Keras does, 1 to count as progress lines do (the command line).

    >>> CSVLogger("runs/a/metrics.csv")
    """

    order = 70

    def __init__(self, filename, separator: str = ",", append: bool = False, first_epoch: int = 0):
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.first_epoch = int(first_epoch)
        self.keys = None
        self.rows = 0

    def on_train_begin(self, logs=None):
        resume = self.append or self.trainer.resumed
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if resume and exists:
            with open(self.filename, newline="", encoding="utf-8") as f:
                reader = csv.reader(f, delimiter=self.sep)
                header = next(reader, None)
                self.rows = sum(1 for _ in reader)
            self.keys = header[1:] if header else None
        else:
            self.keys, self.rows = None, 0
            directory = os.path.dirname(os.path.abspath(self.filename))
            os.makedirs(directory, exist_ok=True)
            open(self.filename, "w", encoding="utf-8").close()

    def load_state_dict(self, state: dict) -> None:
        """Resume: drop the rows written after the checkpoint was taken."""
        keep, keys = int(state.get("rows", 0)), state.get("keys")
        if not os.path.exists(self.filename):
            self.rows, self.keys = 0, None
            return
        with open(self.filename, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f, delimiter=self.sep))
        body = lines[1:1 + keep]
        self.keys = list(keys) if keys is not None else (lines[0][1:] if lines else None)
        buf = _io.StringIO()
        w = csv.writer(buf, delimiter=self.sep, lineterminator="\n")
        if self.keys is not None:
            w.writerow(["epoch"] + self.keys)
        w.writerows(body)
        io.atomic_write_text(self.filename, buf.getvalue())
        self.rows = len(body)

    def state_dict(self) -> dict:
        return {"rows": self.rows, "keys": self.keys}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            header = ["epoch"] + self.keys
        else:
            header = None
        with open(self.filename, "a", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=self.sep, lineterminator="\n")
            if header is not None:
                w.writerow(header)
            w.writerow([epoch + self.first_epoch] + [_cell(logs.get(k)) for k in self.keys])
        self.rows += 1
