"""``lamina train RUN --resume``: the checkpoint checked before anything is written, and the
learning-rate schedule fitted to a new ``train.epochs``.

Checking: :func:`load_checkpoint` loads the whole training state (model, optimizer, scheduler,
counters, generators, loader positions) into the freshly built Trainer. A truncated, corrupt or
mismatched checkpoint (``--set model.hidden_sizes=[128]``) is a ConfigError here, before the run
directory is touched; ``Trainer.fit(resume_from=...)`` then loads the same state again.

A new length (``--resume --set train.epochs=N``): a schedule whose length the run derived from
``train.epochs`` (cosine's ``T_max``, onecycle's ``total_steps``, polynomial's ``total_iters``)
is recomputed for N epochs, *as if the run had been configured with N epochs from the start*:
the schedule is rebuilt with the new length and replayed up to the step the checkpoint reached,
so the learning rate continues from that schedule's value at this step and ends where it ends
(cosine: ``eta_min`` at the last step of epoch N). Example: a 30-epoch cosine run that finished
(lr 0) and is extended to 40 epochs continues at step 75% of the new schedule, lr =
lr0 * (1 + cos(0.75 pi)) / 2 = 0.15 lr0, and anneals to 0 at epoch 40. Its new length is written
to config.toml. A length given explicitly (``--set scheduler.T_max=...``, or a config whose
length differs from what its epochs give) is kept; a length equal to the one the old epochs give is
taken as derived from them. Schedules without a length (step, exponential, ...) just continue. A
notice on stderr says what happened.
"""
from __future__ import annotations

import copy
import sys

from ..train.callbacks import Callback
from .build import HORIZON, build_optimizer, build_scheduler, horizon
from .errors import ConfigError, one_line

__all__ = ["ScheduleUpdate", "derive_horizon_again", "epochs_done", "load_checkpoint", "plan", "replay_schedule"]


def load_checkpoint(trainer, data, path: str) -> None:
    """Load the training state at ``path`` into ``trainer`` (and the loaders of ``data``) now, so that
    any problem with it is a ConfigError (exit code 2) before anything is written."""
    from ..io import CheckpointError
    from ..train.checkpointing import load_training_state
    try:
        load_training_state(path, trainer, data.train_loader, data.val_loader)
    except (CheckpointError, OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        text = one_line(e)
        raise ConfigError(text if text.startswith("cannot resume from") else f"cannot resume from {path}: {text}") \
            from None


def epochs_done(trainer) -> int:
    """Completed epochs of a trainer holding a loaded state."""
    return trainer.epoch + 1 if trainer._epoch_complete else trainer.epoch


def derive_horizon_again(cfg: dict, old_cfg: dict, steps: int) -> None:
    """In ``cfg`` (the resumed config), drop a schedule length the run derived from its old
    ``train.epochs`` (it equals that derivation and the user did not change it), so that
    ``build_scheduler`` derives it from the new epochs."""
    table, old = cfg.get("scheduler"), old_cfg.get("scheduler")
    if not table or not old or str(table.get("name", "")).lower() != str(old.get("name", "")).lower():
        return
    key = HORIZON.get(str(table["name"]).lower())
    if key is None or key not in table or table[key] != old.get(key):
        return
    if old.get(key) == horizon(old_cfg, steps):
        del table[key]


def replay_schedule(cfg: dict, model, steps: int, last_epoch: int) -> tuple:
    """``(scheduler state, optimizer group settings)`` of ``cfg``'s schedule built afresh and stepped
    ``last_epoch`` times: the state an uninterrupted run with ``cfg``'s epochs has at that point."""
    optimizer = build_optimizer(cfg, model)
    scheduler, _, _ = build_scheduler(cfg, optimizer, steps)
    try:
        for _ in range(last_epoch):
            scheduler.step()
    except (ValueError, ZeroDivisionError) as e:
        raise ConfigError(f"scheduler ({cfg['scheduler']['name']}): cannot continue the schedule at step "
                          f"{last_epoch} with train.epochs = {cfg['train']['epochs']}: {one_line(e)}") from None
    groups = [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return copy.deepcopy(scheduler.state_dict()), groups


def plan(cfg: dict, old_cfg: dict | None, trainer, model, steps: int, fresh_length, quiet: bool):
    """After :func:`load_checkpoint`: a :class:`ScheduleUpdate` callback when the schedule's length
    differs from the checkpoint's (None otherwise), with a notice on stderr."""
    sched = trainer.scheduler
    table = cfg.get("scheduler") or {}
    key = HORIZON.get(str(table.get("name", "")).lower())
    if sched is None or key is None or fresh_length is None:
        return None
    saved = getattr(sched, key, None)
    if saved == fresh_length:
        return None
    t = sched.last_epoch
    state, groups = replay_schedule(cfg, model, steps, t)
    if not quiet:
        was = old_cfg["train"]["epochs"] if old_cfg else "?"
        before, after = float(sched.get_last_lr()[0]), float(groups[0]["lr"])
        unit = "steps" if table.get("interval") == "step" else "epochs"
        print(f"lamina: note: train.epochs {was} -> {cfg['train']['epochs']}: the {table['name']} schedule is "
              f"recomputed for the new length ({key} {saved} -> {fresh_length} {unit}) as if the run had been "
              f"configured so from the start; at {unit[:-1]} {t} its learning rate is {after:.4g} "
              f"(the old schedule had {before:.4g})", file=sys.stderr)
    return ScheduleUpdate(state, groups)


class ScheduleUpdate(Callback):
    """Sets the scheduler's state and the optimizer's group settings (lr, initial_lr, momentum...)
    right after ``fit`` has loaded the checkpoint (the first ``on_train_begin``)."""

    order = -1000

    def __init__(self, scheduler_state: dict, groups: list):
        self.scheduler_state, self.groups = scheduler_state, groups

    def on_train_begin(self, logs=None):
        trainer = self.trainer
        trainer.scheduler.load_state_dict(copy.deepcopy(self.scheduler_state))
        for group, new in zip(trainer.optimizer.param_groups, self.groups):
            group.update(copy.deepcopy(new))
