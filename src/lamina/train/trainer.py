"""Trainer: ``fit`` / ``evaluate`` / ``predict`` over DataLoaders, Keras-style, with callbacks.

The loop is short: for each batch, forward, loss, backward, and every ``grad_accum_steps``
batches clip + ``optimizer.step()``. Everything else — logging, progress, checkpoints, early
stopping, lr changes — is a callback (``lamina.train.callbacks``).

    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                      metrics=["accuracy"], callbacks=[EarlyStopping(patience=3)])
    history = trainer.fit(train_loader, validation=val_loader, epochs=20)
    trainer.evaluate(test_loader)          # {'loss': 0.21, 'accuracy': 0.94}
    probs = trainer.predict(x_test)        # a Tensor of model outputs

Batches: a loader yields ``(x, y)`` pairs (tuples or lists, as ``DataLoader(TensorDataset(x, y))``
does) or dicts with keys ``'x'`` and ``'y'``; ``x`` may itself be a tuple of inputs
(``model(*x)``). Anything else: pass ``batch_fn(batch) -> (x, y)``.

The epoch's ``loss`` is the mean over samples of the batch losses (weighted by batch size).
Gradient accumulation divides each loss by ``grad_accum_steps`` and steps every that many
batches, and once more at the end of an epoch. A non-finite loss raises (``nonfinite='raise'``)
naming the epoch, step and value, or is skipped (``'skip'``: no backward for that batch) and
counted in the logs as ``skipped_batches``.
"""
from __future__ import annotations

import itertools
import math
import os
import sys

import numpy as np

from .. import _threads, backend
from ..autograd import no_grad
from ..data import DataLoader, TensorDataset
from ..metrics import get_metric
from ..optim import clip_grad_norm_, clip_grad_value_
from ..optim.lr_scheduler import ReduceLROnPlateau as _PlateauScheduler
from ..tensor import Tensor
from .callbacks.base import CallbackList, History
from .checkpointing import load_training_state, restore_callback_states, save_training_state

__all__ = ["Trainer", "default_batch_fn"]

_LOSSES = {"cross_entropy": "CrossEntropyLoss", "crossentropy": "CrossEntropyLoss", "mse": "MSELoss",
           "l1": "L1Loss", "mae": "L1Loss", "nll": "NLLLoss", "bce": "BCELoss", "bce_with_logits": "BCEWithLogitsLoss",
           "huber": "HuberLoss", "smooth_l1": "SmoothL1Loss"}


def default_batch_fn(batch):
    """``(x, y)`` from a batch: a 2-sequence, a 1-sequence or bare input (y=None), or a dict with 'x'/'y'."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
        raise ValueError(f"Trainer: a batch is a sequence of {len(batch)} elements; expected (x, y). Pass "
                         "batch_fn=lambda batch: (inputs, targets) to unpack other layouts")
    if isinstance(batch, dict):
        if "x" not in batch:
            raise ValueError(f"Trainer: a dict batch needs keys 'x' (and 'y'); got {sorted(batch)}. Pass batch_fn")
        return batch["x"], batch.get("y")
    return batch, None


def _num_samples(x) -> int:
    while isinstance(x, (tuple, list)):
        x = x[0]
    if isinstance(x, dict):
        x = next(iter(x.values()))
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape else 1


def _scalar_or_array(v):
    return float(v) if isinstance(v, (float, int, np.floating, np.integer)) or np.ndim(v) == 0 else v


class Trainer:
    """Trains ``model`` with ``loss_fn(outputs, targets)`` and ``optimizer``.

    Args:
        model: a ``lamina.nn.Module``.
        loss_fn: a callable returning a scalar Tensor (a loss module, or a name: 'cross_entropy', 'mse', ...).
        optimizer: a ``lamina.optim.Optimizer`` over the model's parameters.
        scheduler: an lr scheduler, stepped every epoch or every optimizer step (``scheduler_interval``);
            a ``ReduceLROnPlateau`` scheduler is stepped with ``val_loss`` (``loss`` without validation).
        metrics: Metric objects or names (``lamina.metrics.get_metric``), reported per epoch for the
            training data and, with ``val_`` prefix, for the validation data.
        callbacks: ``Callback`` objects (``fit(callbacks=...)`` adds more for one call).
        grad_accum_steps: optimizer step every this many batches (loss divided by it).
        clip_grad_norm / clip_grad_value: clip the gradients before each step (total 2-norm / each entry).
        nonfinite: 'raise' (RuntimeError naming epoch, step and loss) or 'skip' a batch whose loss is NaN/Inf.
        device: move the model and every batch there (default: where the model is).
        log_every: callbacks that log per step (TensorBoard, ProgressBar) do so every this many steps.
        batch_fn: ``batch -> (x, y)`` for loaders with other batch layouts.
        generators: named extra ``lamina.Generator``s whose states checkpoints store (e.g. one used
            by a random transform); the default generator and the loaders' are always stored.
        checkpoint_dir / checkpoint_every_n_steps: shortcut for a ``ModelCheckpoint(checkpoint_dir,
            every_n_steps=..., save_best=False)`` writing a resumable ``last.safetensors``.
    """

    def __init__(self, model, loss_fn, optimizer, scheduler=None, scheduler_interval: str = "epoch", metrics=None,
                 callbacks=None, grad_accum_steps: int = 1, clip_grad_norm: float | None = None,
                 clip_grad_value: float | None = None, nonfinite: str = "raise", device=None, log_every: int = 10,
                 batch_fn=None, generators=None, checkpoint_dir=None, checkpoint_every_n_steps: int | None = None):
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if nonfinite not in ("raise", "skip"):
            raise ValueError(f"Trainer: nonfinite must be 'raise' or 'skip', got {nonfinite!r}")
        if int(grad_accum_steps) < 1:
            raise ValueError(f"Trainer: grad_accum_steps must be >= 1, got {grad_accum_steps}")
        if int(log_every) < 1:
            raise ValueError(f"Trainer: log_every must be >= 1, got {log_every}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.loss_fn = self._resolve_loss(loss_fn)
        self.scheduler_interval, self.nonfinite = scheduler_interval, nonfinite
        self.grad_accum_steps, self.log_every = int(grad_accum_steps), int(log_every)
        self.clip_grad_norm, self.clip_grad_value = clip_grad_norm, clip_grad_value
        self.metrics = [get_metric(m) for m in (metrics or [])]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"Trainer: metric names must be unique and not 'loss', got {names}")
        self.callbacks = list(callbacks or [])
        if checkpoint_dir is not None:
            from .callbacks.checkpoint import ModelCheckpoint
            self.callbacks.append(ModelCheckpoint(checkpoint_dir, save_best=False, every_n_steps=checkpoint_every_n_steps))
        elif checkpoint_every_n_steps is not None:
            raise ValueError("Trainer: checkpoint_every_n_steps needs checkpoint_dir")
        self.batch_fn = batch_fn or default_batch_fn
        if isinstance(generators, (list, tuple)):
            generators = {f"generator{i}": g for i, g in enumerate(generators)}
        self.generators = dict(generators or {})
        self.device = backend.Device(device) if device is not None else None
        if self.device is not None:
            model.to(self.device)
        self.history = History()
        self.forward_model = None  # a wrapper of model the batches go through (lamina.distributed's DDP)
        self.config = None  # a JSON-able dict stored in checkpoints (e.g. the run's config)
        self.stop_training = False
        self.resumed = False
        self.epoch, self.global_step, self.epochs = 0, 0, 0
        self._callbacks = None
        self._train_loader = self._val_loader = None
        self._reset_epoch()
        self._epoch_complete = False
        self._micro = self._accumulated = 0

    @staticmethod
    def _resolve_loss(loss_fn):
        if isinstance(loss_fn, str):
            from .. import nn
            key = loss_fn.lower().replace("-", "_")
            if key not in _LOSSES:
                raise ValueError(f"Trainer: unknown loss {loss_fn!r}; names: {', '.join(sorted(_LOSSES))}, or pass a callable")
            return getattr(nn, _LOSSES[key])()
        if not callable(loss_fn):
            raise TypeError(f"Trainer: loss_fn must be callable (outputs, targets) -> scalar Tensor, got {type(loss_fn).__name__}")
        return loss_fn

    def _reset_epoch(self):
        self._batch_in_epoch, self._loss_sum, self._count, self._samples, self._skipped = 0, 0.0, 0, 0, 0

    # ------------------------------------------------------------ one batch
    def _to_device(self, t):
        if isinstance(t, np.ndarray):
            t = Tensor._wrap(t)
        if self.device is not None and isinstance(t, Tensor) and t.device != self.device:
            return t.to(self.device)
        if isinstance(t, (tuple, list)):
            return type(t)(self._to_device(v) for v in t)
        if isinstance(t, dict):
            return {k: self._to_device(v) for k, v in t.items()}
        return t

    def _forward(self, x):
        model = self.model if self.forward_model is None else self.forward_model
        if isinstance(x, (tuple, list)):
            return model(*x)
        if isinstance(x, dict):
            return model(**x)
        return model(x)

    def _optimizer_step(self, cbs):
        if self._accumulated:  # at least one batch of the cycle had a finite loss
            if self.clip_grad_value is not None:
                clip_grad_value_(self._params, self.clip_grad_value)
            if self.clip_grad_norm is not None:
                self.last_grad_norm = float(clip_grad_norm_(self._params, self.clip_grad_norm))
            if cbs.has("on_before_optimizer_step"):
                cbs.call("on_before_optimizer_step", self.global_step)
            self.optimizer.step()
            self.global_step += 1
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
        self.optimizer.zero_grad()
        self._micro = self._accumulated = 0

    def _nonfinite(self, value, epoch, batch):
        if self.nonfinite == "raise":
            raise RuntimeError(f"Trainer: the loss is {value} (not finite) at epoch {epoch + 1}, batch {batch + 1} of "
                               f"the epoch, global step {self.global_step}; lower the learning rate, clip gradients "
                               "(clip_grad_norm=...), check the data, or pass nonfinite='skip'")
        self._skipped += 1

    def _train_epoch(self, loader, epoch, cbs, skip=0):
        model, loss_fn, batch_fn, metrics = self.model, self.loss_fn, self.batch_fn, self.metrics
        k = self.grad_accum_steps
        begin, end = cbs.has("on_train_batch_begin"), cbs.has("on_train_batch_end")
        logs = self._batch_logs
        model.train()
        for batch in (itertools.islice(loader, skip, None) if skip else loader):
            b = self._batch_in_epoch
            if begin:
                cbs.call("on_train_batch_begin", b, logs)
            x, y = batch_fn(batch)
            x, y = self._to_device(x), self._to_device(y)
            out = self._forward(x)
            loss = loss_fn(out, y)
            value = float(loss.array)
            n = _num_samples(x)
            self._samples += n
            if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
                (loss / k if k > 1 else loss).backward()
                self._loss_sum += value * n
                self._count += n
                self._accumulated += 1
                for m in metrics:
                    m.update(out, y)
            else:
                self._nonfinite(value, epoch, b)
            self._micro += 1
            if self._micro == k:
                self._optimizer_step(cbs)
            self._batch_in_epoch = b + 1
            if end:
                logs["loss"] = value
                logs["batch_size"] = n
                cbs.call("on_train_batch_end", b, logs)
            if self.stop_training:
                break
        if self._micro:
            self._optimizer_step(cbs)
        out = {"loss": self._loss_sum / self._count if self._count else math.nan}
        for m in metrics:
            out[m.name] = _scalar_or_array(m.compute())
        if self.nonfinite == "skip":
            out["skipped_batches"] = self._skipped
        return out

    # ------------------------------------------------------------ fit
    def _callback_list(self, extra, verbose, with_history=True):
        cbs = list(self.callbacks) + list(extra or [])
        if with_history:
            cbs.append(self.history)
        from .callbacks.progress import ProgressBar
        if not any(isinstance(c, ProgressBar) for c in cbs):
            if verbose == "auto":
                verbose = sys.stdout.isatty()
            if verbose:
                cbs.append(ProgressBar())
        return CallbackList(cbs, self)

    def _as_loader(self, data, batch_size, what):
        if isinstance(data, tuple) and len(data) == 2 and all(isinstance(d, (Tensor, np.ndarray)) for d in data):
            x, y = (d if isinstance(d, Tensor) else Tensor._wrap(np.asarray(d)) for d in data)
            return DataLoader(TensorDataset(x, y), batch_size=batch_size)
        if isinstance(data, (Tensor, np.ndarray)):
            x = data if isinstance(data, Tensor) else Tensor._wrap(np.asarray(data))
            return DataLoader(TensorDataset(x), batch_size=batch_size)
        if not hasattr(data, "__iter__"):
            raise TypeError(f"Trainer.{what}: expected a DataLoader, an iterable of batches, or (x, y) tensors; "
                            f"got {type(data).__name__}")
        return data

    @_threads.under_policy
    def fit(self, train_loader, validation=None, epochs: int = 1, initial_epoch: int = 0, resume_from=None,
            callbacks=None, verbose="auto") -> History:
        """Train for epochs ``initial_epoch .. epochs - 1`` (Keras' convention); return the History.

        ``validation``: a loader (or ``(x, y)`` tensors) evaluated after every epoch (``val_*`` logs).
        ``resume_from``: a training-state checkpoint (file, or a directory holding ``last.safetensors``)
        to continue exactly where it was written; History, callbacks and data order included (a
        loader without ``state_dict``/``load_state_dict`` restarts the epoch and skips the batches
        already done). An interrupted epoch gets ``on_epoch_begin`` again when it resumes.
        ``verbose``: 'auto' shows a ProgressBar when stdout is a terminal; True/False force it.
        """
        bs = getattr(train_loader, "batch_size", None) or 128
        train_loader = self._as_loader(train_loader, bs, "fit")
        val_loader = self._as_loader(validation, bs, "fit") if validation is not None else None
        self._train_loader, self._val_loader = train_loader, val_loader
        self.epochs = int(epochs)
        self.history = History()
        cbs = self._callbacks = self._callback_list(callbacks, verbose)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._batch_logs = {}
        self.stop_training, self.resumed = False, resume_from is not None
        self.epoch, self._epoch_complete = int(initial_epoch), True
        self.epoch -= 1  # "the epoch before the first one is complete"
        self.optimizer.zero_grad()
        self._micro = self._accumulated = 0
        state = None
        if resume_from is not None:
            path = os.fspath(resume_from)
            if os.path.isdir(path):
                path = os.path.join(path, "last.safetensors")
            state = load_training_state(path, self, train_loader, val_loader)
        logs = {}
        cbs.call("on_train_begin", logs)
        if state is not None:
            restore_callback_states(cbs, state)
        try:
            start = self.epoch + 1 if self._epoch_complete else self.epoch
            for epoch in range(start, self.epochs):
                if self.stop_training:
                    break
                resuming = not self._epoch_complete and epoch == self.epoch
                self.epoch, self._epoch_complete = epoch, False
                if not resuming:
                    self._reset_epoch()
                    for m in self.metrics:
                        m.reset()
                cbs.call("on_epoch_begin", epoch, {})
                # a loader without load_state_dict restarts its epoch: skip the batches already done
                skip = self._batch_in_epoch if resuming and not hasattr(train_loader, "load_state_dict") else 0
                logs = self._train_epoch(train_loader, epoch, cbs, skip)
                if val_loader is not None:
                    cbs.call("on_validation_begin", {})
                    val = self._evaluate(val_loader, cbs, [m._fresh() for m in self.metrics])
                    val_logs = {"val_" + k: v for k, v in val.items()}
                    cbs.call("on_validation_end", val_logs)
                    logs.update(val_logs)
                self.epoch_lrs = [float(g["lr"]) for g in self.optimizer.param_groups]
                logs["lr"] = self.epoch_lrs[0]
                if self.scheduler is not None and self.scheduler_interval == "epoch":
                    if isinstance(self.scheduler, _PlateauScheduler):
                        self.scheduler.step(logs.get("val_loss", logs["loss"]))
                    else:
                        self.scheduler.step()
                self._epoch_complete = True
                cbs.call("on_epoch_end", epoch, logs)
        finally:
            self.model.train()
        cbs.call("on_train_end", logs)
        return self.history

    # ------------------------------------------------------------ evaluate / predict
    def _evaluate(self, loader, cbs, metrics):
        was_training = self.model.training
        self.model.eval()
        cbs.call("on_test_begin", {})
        total, count = 0.0, 0
        begin, end = cbs.has("on_test_batch_begin"), cbs.has("on_test_batch_end")
        logs = {}
        try:
            with no_grad():
                for b, batch in enumerate(loader):
                    if begin:
                        cbs.call("on_test_batch_begin", b, logs)
                    x, y = self.batch_fn(batch)
                    x, y = self._to_device(x), self._to_device(y)
                    out = self._forward(x)
                    value = float(self.loss_fn(out, y).array)
                    n = _num_samples(x)
                    total += value * n
                    count += n
                    for m in metrics:
                        m.update(out, y)
                    if end:
                        logs["loss"], logs["batch_size"] = value, n
                        cbs.call("on_test_batch_end", b, logs)
        finally:
            self.model.train(was_training)
        result = {"loss": total / count if count else math.nan}
        for m in metrics:
            result[m.name] = _scalar_or_array(m.compute())
        cbs.call("on_test_end", result)
        return result

    @_threads.under_policy
    def evaluate(self, loader, batch_size: int = 128, callbacks=None) -> dict:
        """Mean loss and every metric over ``loader`` (or ``(x, y)`` tensors) in eval mode, without
        recording a graph: ``{'loss': ..., 'accuracy': ...}``."""
        loader = self._as_loader(loader, batch_size, "evaluate")
        cbs = self._callback_list(callbacks, False, with_history=False)
        return self._evaluate(loader, cbs, [m._fresh() for m in self.metrics])

    @_threads.under_policy
    def predict(self, data, batch_size: int = 32, callbacks=None):
        """The model's outputs for every batch of ``data`` (a loader, or an input Tensor/array split
        into ``batch_size`` rows), concatenated along dim 0, in eval mode without a graph.
        Loader batches are unpacked with ``batch_fn`` and the targets ignored."""
        loader = self._as_loader(data, batch_size, "predict")
        cbs = self._callback_list(callbacks, False, with_history=False)
        was_training = self.model.training
        self.model.eval()
        cbs.call("on_predict_begin", {})
        outs = []
        try:
            with no_grad():
                for b, batch in enumerate(loader):
                    cbs.call("on_predict_batch_begin", b, {})
                    x, _ = self.batch_fn(batch)
                    out = self._forward(self._to_device(x))
                    outs.append(out)
                    cbs.call("on_predict_batch_end", b, {"outputs": out})
        finally:
            self.model.train(was_training)
        cbs.call("on_predict_end", {})
        if not outs:
            raise ValueError("Trainer.predict: the data yielded no batches")
        if isinstance(outs[0], (tuple, list)):
            return tuple(_cat([o[i] for o in outs]) for i in range(len(outs[0])))
        return _cat(outs)

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path, loader=None, val_loader=None) -> None:
        """Write the full training state (see ``lamina.train.checkpointing``) to ``path``, atomically."""
        save_training_state(path, self, loader, val_loader)

    def load_checkpoint(self, path, loader=None, val_loader=None) -> dict:
        """Restore model, optimizer, scheduler, counters, generators and loader states from ``path``."""
        return load_training_state(path, self, loader, val_loader)

    def __repr__(self):
        return (f"Trainer(model={type(self.model).__name__}, optimizer={type(self.optimizer).__name__}, "
                f"metrics={[m.name for m in self.metrics]}, callbacks={[type(c).__name__ for c in self.callbacks]})")


def _cat(tensors):
    t0 = tensors[0]
    return Tensor._wrap(t0.xp.concatenate([t.array for t in tensors], axis=0))
