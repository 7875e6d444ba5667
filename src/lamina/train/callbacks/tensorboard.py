"""TensorBoard: event files with scalars, learning rates, weight/gradient histograms and the model text.

Needs the optional ``tensorboardX`` package (``pip install lamina[tensorboard]``), imported
only when the callback is created. View with ``tensorboard --logdir runs/``.
"""
from __future__ import annotations

import numpy as np

from ... import backend
from .base import Callback

__all__ = ["TensorBoard"]


def _summary_writer():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError("the TensorBoard callback needs tensorboardX, which is not installed: "
                          "pip install 'lamina[tensorboard]'  (or: pip install tensorboardX)") from e
    return SummaryWriter


def _host(a) -> np.ndarray:
    return np.asarray(backend.to_device(a, backend.cpu))


class TensorBoard(Callback):
    """Write TensorBoard event files to ``log_dir``; every event's step is the global
    (optimizer) step, and ``epoch/epoch`` maps steps to epochs.

    * ``epoch/<key>`` for every scalar of the epoch logs (loss, metrics, val_*, lr);
    * ``step/loss`` and ``step/lr`` every ``update_freq`` optimizer steps (default: the trainer's
      ``log_every``; ``'epoch'`` turns per-step scalars off);
    * ``weights/<name>`` and ``grads/<name>`` histograms every ``histogram_freq`` epochs
      (0: never); gradients are those of the epoch's last optimizer step;
    * ``model``: the model's repr as text, once.

    A resumed run (``fit(resume_from=...)``) writes to the same ``log_dir`` with a purge step,
    so TensorBoard hides events the interrupted run wrote after its checkpoint.

    >>> TensorBoard("runs/a/tb", histogram_freq=1)
    """

    order = 60

    def __init__(self, log_dir="runs/tensorboard", histogram_freq: int = 0, update_freq="auto",
                 write_model_text: bool = True, flush_secs: int = 30):
        self._Writer = _summary_writer()
        if update_freq not in ("auto", "epoch") and (not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'auto', 'epoch' or a positive int, got {update_freq!r}")
        if histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be >= 0, got {histogram_freq}")
        self.log_dir, self.histogram_freq, self.update_freq = str(log_dir), int(histogram_freq), update_freq
        self.write_model_text, self.flush_secs = write_model_text, flush_secs
        self.writer = None
        self._grads = None

    def on_train_begin(self, logs=None):
        t = self.trainer
        purge = t.global_step if t.resumed else None
        self.writer = self._Writer(logdir=self.log_dir, purge_step=purge, flush_secs=self.flush_secs)
        self._freq = None if self.update_freq == "epoch" else (
            t.log_every if self.update_freq == "auto" else int(self.update_freq))
        self._last_step = t.global_step
        if self.write_model_text and not t.resumed:
            self.writer.add_text("model", "```\n" + repr(self.model) + "\n```", t.global_step)

    def _histogram_epoch(self, epoch) -> bool:
        return self.histogram_freq > 0 and (epoch + 1) % self.histogram_freq == 0

    def on_before_optimizer_step(self, step):
        if self._histogram_epoch(self.trainer.epoch):  # keep references: zero_grad replaces, never overwrites
            self._grads = [(name, p.grad) for name, p in self.model.named_parameters() if p.grad is not None]

    def on_train_batch_end(self, batch, logs=None):
        step = self.trainer.global_step
        if self._freq is None or step == self._last_step or step % self._freq:
            return
        self._last_step = step
        self.writer.add_scalar("step/loss", float(logs["loss"]), step)
        self.writer.add_scalar("step/lr", float(self.trainer.optimizer.param_groups[0]["lr"]), step)
        for k, v in logs.items():
            if k not in ("loss", "batch_size") and np.ndim(v) == 0:
                self.writer.add_scalar(f"step/{k}", float(v), step)

    def on_epoch_end(self, epoch, logs=None):
        step, w = self.trainer.global_step, self.writer
        w.add_scalar("epoch/epoch", epoch, step)
        for k, v in (logs or {}).items():
            if v is not None and np.ndim(v) == 0:
                w.add_scalar(f"epoch/{k}", float(v), step)
        if self._histogram_epoch(epoch):
            for name, p in self.model.named_parameters():
                w.add_histogram(f"weights/{name}", _host(p.array), step)
            for name, g in self._grads or []:
                w.add_histogram(f"grads/{name}", _host(g.array), step)
            self._grads = None
        w.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
