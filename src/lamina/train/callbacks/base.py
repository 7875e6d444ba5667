"""Callback, CallbackList and History: the hooks every side effect of training goes through.

A callback overrides the hooks it needs (Keras' names); the Trainer calls them in order::

    on_train_begin(logs)                      once per fit
      on_epoch_begin(epoch, logs)             epoch counts from 0
        on_train_batch_begin(batch, logs)     batch: index within the epoch
        on_before_optimizer_step(step)        gradients are ready (clipped), before optimizer.step()
        on_train_batch_end(batch, logs)       logs: {'loss': batch loss, 'batch_size': n}
      on_validation_begin / on_validation_end(logs)      inside fit, logs: {'val_loss', 'val_<metric>'}
      on_epoch_end(epoch, logs)               logs: loss, metrics, val_*, lr (callbacks may add keys)
    on_train_end(logs)
    on_test_begin/end, on_test_batch_begin/end, on_predict_begin/end, on_predict_batch_begin/end

``self.trainer`` is set before ``on_train_begin``; set ``trainer.stop_training = True`` to stop
after the current batch. A callback whose state matters for an exact resume (counters, best
scores) returns it from ``state_dict()`` and takes it back in ``load_state_dict()``; the
training-state checkpoint stores it (numbers, strings, lists, dicts and arrays only).

The batch ``logs`` dict is reused from batch to batch (no allocation per step): copy it to keep it.
"""
from __future__ import annotations

import re

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "resolve_mode"]

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_before_optimizer_step", "on_validation_begin", "on_validation_end",
         "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_begin",
         "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: every hook does nothing. ``order`` sorts callbacks (lower runs first; log
    writers run after callbacks that add keys, checkpoints run last so they save everything)."""

    order = 0
    trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return self.trainer.model

    def state_dict(self) -> dict:
        """What an exact resume needs (empty for stateless callbacks)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_before_optimizer_step(self, step): pass
    def on_validation_begin(self, logs=None): pass
    def on_validation_end(self, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if name not in HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; hooks are {', '.join(HOOKS)}")
            setattr(self, name, fn)


class History(Callback):
    """Records every epoch's logs: ``history.history['val_loss'][i]`` is epoch ``history.epoch[i]``'s.

    Runs after the callbacks that add keys to the logs, before the checkpoints (which store it).
    """

    order = 90

    def __init__(self):
        self.epoch: list = []
        self.history: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        n = len(self.epoch) - 1
        for k, v in (logs or {}).items():
            self.history.setdefault(k, [None] * n).append(v)
        for k, vals in self.history.items():  # a key missing this epoch
            if len(vals) <= n:
                vals.append(None)

    def state_dict(self) -> dict:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = [int(e) for e in state.get("epoch", [])]
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


class CallbackList:
    """Calls a hook on every callback that overrides it (hooks nobody overrides cost nothing:
    ``has(hook)`` lets the trainer skip them)."""

    def __init__(self, callbacks, trainer):
        self.callbacks = sorted(callbacks, key=lambda c: getattr(c, "order", 0))  # stable
        for cb in self.callbacks:
            cb.set_trainer(trainer)
        self._subscribers = {h: [getattr(cb, h) for cb in self.callbacks
                                 if getattr(type(cb), h, None) is not getattr(Callback, h) or h in cb.__dict__]
                             for h in HOOKS}

    def has(self, hook: str) -> bool:
        return bool(self._subscribers[hook])

    def call(self, hook: str, *args) -> None:
        for fn in self._subscribers[hook]:
            fn(*args)

    def keyed(self) -> dict:
        """Callbacks by a stable key (class name, ``_1``, ``_2`` for repeats), for checkpoints."""
        out, seen = {}, {}
        for cb in self.callbacks:
            name = type(cb).__name__
            i = seen.get(name, 0)
            seen[name] = i + 1
            out[name if i == 0 else f"{name}_{i}"] = cb
        return out

    def __iter__(self):
        return iter(self.callbacks)


_MAX_WORDS = re.compile(r"(acc|accuracy|auc|f1|fbeta|precision|recall|r2|iou|dice|score)")


def resolve_mode(monitor: str, mode: str, trainer=None, owner: str = "callback") -> str:
    """'min' or 'max' for a monitored key: explicit, or 'auto' from the metric's ``higher_is_better``
    (``val_`` prefix ignored), else from its name (accuracy-like names are maximised)."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    name = monitor[4:] if monitor.startswith("val_") else monitor
    for m in getattr(trainer, "metrics", None) or []:
        if m.name == name and m.higher_is_better is not None:
            return "max" if m.higher_is_better else "min"
    if "loss" in name or "error" in name:
        return "min"
    return "max" if _MAX_WORDS.search(name) else "min"


def is_better(current: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Improvement by more than ``min_delta`` (absolute) in direction ``mode``."""
    if best is None:
        return True
    return current < best - min_delta if mode == "min" else current > best + min_delta
