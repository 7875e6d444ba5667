"""LRScheduler, the base of every learning-rate scheduler, and the lambda schedulers.

A scheduler sets ``group['lr']`` of each parameter group of its optimizer: creating it sets the lr
of epoch 0, ``step()`` moves to the next epoch, ``get_last_lr()`` gives the current lrs.

    sched = LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
    for epoch in range(10):
        train_one_epoch(); sched.step()
"""
from __future__ import annotations

import types
import warnings

from ..optimizer import Optimizer


def _per_group(name: str, optimizer: Optimizer, value) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have one value per parameter group: got {len(value)} values "
                             f"for {len(optimizer.param_groups)} groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class: subclasses implement ``get_lr()`` (the lrs for ``self.last_epoch``).

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        last_epoch: index of the last epoch; -1 (default) starts a fresh schedule and records
            each group's ``initial_lr``. Resume from a checkpoint with ``load_state_dict``.
    """

    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param 'initial_lr' is not specified in "
                                   f"param_groups[{i}] when resuming with last_epoch={last_epoch}; load the "
                                   "optimizer's state first, or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``, deprecated, using the closed form)."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn("passing an epoch to scheduler.step() is deprecated; call step() without "
                          "arguments", UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (numbers, lists, strings)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


class _LambdaMixin:
    def _set_lambdas(self, optimizer, lr_lambda):
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * len(optimizer.param_groups)
        if len(fns) != len(optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}: expected {len(optimizer.param_groups)} lr_lambdas, "
                             f"got {len(fns)}")
        for fn in fns:
            if not callable(fn):
                raise TypeError(f"{type(self).__name__}: lr_lambda should be a function, got {type(fn).__name__}")
        self.lr_lambdas = fns

    def state_dict(self) -> dict:
        """Functions are not saved (only the attributes of callable objects)."""
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        sd["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                            for fn in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        fns = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for fn, saved in zip(self.lr_lambdas, fns):
            if saved is not None:
                fn.__dict__.update(saved)


class LambdaLR(_LambdaMixin, LRScheduler):
    """lr = base_lr * lr_lambda(epoch).

    >>> sched = LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
    """

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self._set_lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaMixin, LRScheduler):
    """lr = lr * lr_lambda(epoch) at every step after the first."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self._set_lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [g["lr"] * fn(self.last_epoch) for fn, g in zip(self.lr_lambdas, self.optimizer.param_groups)]
