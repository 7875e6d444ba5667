"""Training helpers for data-parallel runs: metrics reduced over the ranks, rank-0-only side effects.

* ``reduce_mean(value, count)``: the global mean of per-rank means weighted by their counts.
* ``reduce_metrics(metrics)``: new metric objects holding every rank's merged state
  (``Metric.merge``), so ``compute()`` gives the metric of the global data.
* ``rank_zero_only(fn)``: a decorator; the function runs on rank 0 and returns None elsewhere.
  ``print0`` is ``print`` on rank 0.
* ``DistributedLogs``: a Trainer callback (put it first) that replaces the epoch's training
  ``loss`` and metrics in the logs by their global values before anything logs them.
* ``SetEpoch``: calls ``sampler.set_epoch(epoch)`` at each epoch's start (resumed runs included).
* ``rank_zero_callbacks(callbacks)``: the callbacks a rank keeps: rank 0 all of them, the other
  ranks none of the writers (checkpoints, CSV, TensorBoard, progress).

    trainer.callbacks = [DistributedLogs(), SetEpoch(sampler)] + rank_zero_callbacks(trainer.callbacks)
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..train.callbacks.base import Callback
from .process_group import get_process_group

__all__ = ["reduce_mean", "reduce_metrics", "rank_zero_only", "print0", "DistributedLogs", "SetEpoch",
           "rank_zero_callbacks", "WRITER_CALLBACKS"]

# callbacks that write files or the terminal: rank 0's job
WRITER_CALLBACKS = ("ModelCheckpoint", "CSVLogger", "TensorBoard", "ProgressBar")


def reduce_mean(value: float, count: float, group=None) -> float:
    """sum_r value_r * count_r / sum_r count_r (nan when no rank counted anything)."""
    g = group or get_process_group()
    buf = np.array([float(value) * float(count) if count else 0.0, float(count)], dtype=np.float64)
    g.all_reduce(buf)
    return float(buf[0] / buf[1]) if buf[1] else math.nan


def reduce_metrics(metrics, group=None) -> list:
    """For each metric, a fresh one holding the merged states of every rank (inputs unchanged)."""
    g = group or get_process_group()
    states = g.all_gather_object([m.state_dict() for m in metrics])
    out = []
    for i, m in enumerate(metrics):
        merged = m._fresh()
        for rank_states in states:
            part = m._fresh()
            part.load_state_dict(rank_states[i])
            merged.merge(part)
        out.append(merged)
    return out


def rank_zero_only(fn):
    """Run ``fn`` on rank 0 only (other ranks get None)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if get_process_group().rank == 0:
            return fn(*args, **kwargs)
        return None
    return wrapper


@rank_zero_only
def print0(*args, **kwargs) -> None:
    print(*args, **kwargs)


class DistributedLogs(Callback):
    """Global epoch logs: ``loss`` = sample-weighted mean over all ranks' batches, each training
    metric computed from every rank's merged state. Put it first in the callback list (other
    callbacks then see, write and monitor the global values: all ranks decide alike, e.g. early
    stopping). Validation runs on every rank over the whole validation split, so ``val_*``
    values are already global."""

    def __init__(self, group=None):
        self.group = group

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        g = self.group or get_process_group()
        if g.world_size == 1:
            return
        t = self.trainer
        total = np.array([t._loss_sum, float(t._count)], dtype=np.float64)
        g.all_reduce(total)
        logs["loss"] = float(total[0] / total[1]) if total[1] else math.nan
        for m in reduce_metrics(t.metrics, g):
            v = m.compute()
            logs[m.name] = float(v) if np.ndim(v) == 0 else v


class SetEpoch(Callback):
    """``sampler.set_epoch(epoch)`` at the start of every epoch (so each epoch has its own order
    and a resumed epoch replays its own)."""

    def __init__(self, sampler):
        self.sampler = sampler

    def on_epoch_begin(self, epoch, logs=None):
        self.sampler.set_epoch(epoch)


def rank_zero_callbacks(callbacks, group=None) -> list:
    """``callbacks`` on rank 0; elsewhere without the writers (``WRITER_CALLBACKS``)."""
    g = group or get_process_group()
    if g.rank == 0:
        return list(callbacks)
    return [c for c in callbacks if type(c).__name__ not in WRITER_CALLBACKS]
