"""Training-state checkpoints: everything needed to resume a run exactly, in one atomic file.

A checkpoint (one safetensors file written by ``lamina.io.save``: tensors + JSON, never
pickle; temporary file, fsync, rename, so a crash mid-write leaves the previous one intact)
holds:

* ``model``, ``optimizer``, ``scheduler``: their ``state_dict()``s;
* ``trainer``: epoch, position in the epoch (batches done), whether the epoch is complete,
  global step, the epoch's running sums (loss, samples, skipped batches), the gradient
  accumulation position, and ``stop_training``;
* ``metrics``: the training metrics' states (mid-epoch);
* ``grads``: the accumulated gradients, when saved in the middle of an accumulation cycle;
* ``rng``: lamina's default generator, NumPy's and Python's global generators, and the
  trainer's named ``generators``;
* ``loader`` / ``val_loader``: the DataLoaders' states (epoch order seed, position);
* ``callbacks``: each callback's ``state_dict()`` (History, EarlyStopping counters and best
  weights, ModelCheckpoint's best score, ...), keyed by class name;
* ``config``: ``trainer.config`` (a JSON-able dict the caller may set, e.g. the run's config).

A run killed at any point and resumed with ``fit(..., resume_from=path)`` from its last
checkpoint ends with bitwise the same weights as an uninterrupted run (CPU), provided all
its randomness comes from generators stored here.

    save_training_state("ckpt/last.safetensors", trainer, loader)
    state = load_training_state("ckpt/last.safetensors", trainer, loader)
"""
from __future__ import annotations

import os

from .. import io
from ..io import CheckpointError
from .rng_state import get_rng_states, set_rng_states

__all__ = ["save_training_state", "load_training_state", "restore_callback_states", "KIND"]

KIND = "lamina.training_state"
VERSION = 1
_COUNTERS = ("epoch", "batch_in_epoch", "epoch_complete", "global_step", "micro", "accumulated",
             "loss_sum", "count", "samples", "skipped", "stop_training")


def _loader_state(loader):
    sd = getattr(loader, "state_dict", None)
    return sd() if callable(sd) else None


def save_training_state(path, trainer, loader=None, val_loader=None) -> None:
    """Write the full training state of ``trainer`` (and of the data loaders) to ``path``, atomically.

    ``loader`` / ``val_loader`` default to the loaders of the ``fit`` in progress.
    """
    loader = loader if loader is not None else trainer._train_loader
    val_loader = val_loader if val_loader is not None else trainer._val_loader
    counters = {k: getattr(trainer, "_" + k if k not in ("epoch", "global_step", "stop_training") else k)
                for k in _COUNTERS}
    grads = {}
    if trainer._micro:  # in the middle of an accumulation cycle: the gradients are state too
        grads = {name: p.grad for name, p in trainer.model.named_parameters() if p.grad is not None}
    cbs = trainer._callbacks
    state = {
        "kind": KIND, "version": VERSION,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "trainer": counters,
        "metrics": [m.state_dict() for m in trainer.metrics],
        "grads": grads,
        "rng": get_rng_states(trainer.generators),
        "loader": _loader_state(loader),
        "val_loader": _loader_state(val_loader),
        "callbacks": {k: cb.state_dict() for k, cb in cbs.keyed().items()} if cbs is not None else {},
        "config": getattr(trainer, "config", None),
    }
    io.save(state, path, metadata={"lamina.kind": KIND, "epoch": str(trainer.epoch),
                                   "global_step": str(trainer.global_step)})


def load_training_state(path, trainer, loader=None, val_loader=None) -> dict:
    """Restore what :func:`save_training_state` wrote into ``trainer``, its model, optimizer,
    scheduler, metrics, the random generators and the loaders; return the raw state (its
    ``'callbacks'`` entry is applied by :func:`restore_callback_states`).

    Raises FileNotFoundError, or ``lamina.io.CheckpointError`` naming the file when it is
    corrupted, truncated or not a training-state checkpoint.
    """
    path = os.fspath(path)
    state = io.load(path, as_numpy=True)
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise CheckpointError(f"cannot resume from {path!r}: it is not a training-state checkpoint "
                              f"(a file written by save_training_state / ModelCheckpoint's last checkpoint)")
    missing = [k for k in ("model", "optimizer", "trainer", "rng") if k not in state]
    if missing:
        raise CheckpointError(f"cannot resume from {path!r}: the checkpoint lacks {', '.join(missing)}")
    if trainer.scheduler is not None and state.get("scheduler") is None:
        raise CheckpointError(f"cannot resume from {path!r}: the trainer has a scheduler "
                              f"({type(trainer.scheduler).__name__}) but the checkpoint has no scheduler state")
    for what, obj in (("model", trainer.model), ("optimizer", trainer.optimizer), ("scheduler", trainer.scheduler)):
        if obj is None:
            continue
        try:
            obj.load_state_dict(state[what])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"cannot resume from {path!r}: the {what} ({type(obj).__name__}) does not match "
                                  f"the checkpoint: {e}") from e
    c = state["trainer"]
    trainer.epoch, trainer.global_step, trainer.stop_training = int(c["epoch"]), int(c["global_step"]), bool(
        c["stop_training"])
    for k in ("batch_in_epoch", "micro", "accumulated", "count", "samples", "skipped"):
        setattr(trainer, "_" + k, int(c[k]))
    trainer._epoch_complete, trainer._loss_sum = bool(c["epoch_complete"]), float(c["loss_sum"])
    saved_metrics = state.get("metrics") or []
    if len(saved_metrics) != len(trainer.metrics):
        raise CheckpointError(f"cannot resume from {path!r}: it holds {len(saved_metrics)} metric states, the "
                              f"trainer has {len(trainer.metrics)} metrics")
    for m, s in zip(trainer.metrics, saved_metrics):
        m.load_state_dict(s)
    params = dict(trainer.model.named_parameters())
    for name, g in (state.get("grads") or {}).items():
        p = params[name]
        p.grad = type(p)._wrap(p.xp.asarray(g, dtype=p.dtype))
    set_rng_states(state["rng"], trainer.generators)
    for ld, key in ((loader, "loader"), (val_loader, "val_loader")):
        if ld is not None and state.get(key) is not None and hasattr(ld, "load_state_dict"):
            ld.load_state_dict(state[key])
    return state


def restore_callback_states(callbacks, state: dict) -> None:
    """Give each callback its saved state (matched by class name and position)."""
    saved = state.get("callbacks") or {}
    for key, cb in callbacks.keyed().items():
        if key in saved:
            cb.load_state_dict(saved[key])
