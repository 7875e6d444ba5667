"""Stochastic weight averaging (SWA) and exponential moving averages (EMA) of a model's weights.

As ``torch.optim.swa_utils``: ``AveragedModel`` keeps a copy of a model whose parameters are the
running average of the model's (equal weights for SWA, ``get_ema_multi_avg_fn(decay)`` for EMA),
``update_bn`` recomputes BatchNorm statistics for the averaged weights, ``SWALR`` anneals the lr
to a constant SWA learning rate.

    swa_model = AveragedModel(model)
    swa_sched = SWALR(opt, swa_lr=0.05)
    for epoch in range(100):
        train_one_epoch()
        if epoch >= 75:
            swa_model.update_parameters(model); swa_sched.step()
    update_bn(train_loader, swa_model)
"""
from __future__ import annotations

import itertools
import math
from copy import deepcopy

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..nn.layers.normalization import _BatchNorm
from ..nn.module import Module
from ..ops.creation import tensor
from ..tensor import Tensor
from ._common import lerp_
from .lr_scheduler.base import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _is_float(t: Tensor) -> bool:
    return t.dtype.kind in "fc"


def get_ema_multi_avg_fn(decay: float = 0.999):
    """In-place EMA of lists of tensors: ``W_ema = decay * W_ema + (1 - decay) * W`` (torch.lerp)."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_params, current_params, _num_averaged) -> None:
        for e, c in zip(ema_params, current_params):
            if _is_float(e):
                lerp_(e.array, c.array, 1 - decay)
            else:  # integer buffers: the float average, truncated back (as PyTorch's copy_)
                e.array[...] = e.array * decay + c.array * (1 - decay)
            e._version += 1

    return ema_update


def get_swa_multi_avg_fn():
    """In-place running mean of lists of tensors: ``W_swa = W_swa + (W - W_swa) / (n + 1)``."""

    def swa_update(averaged_params, current_params, num_averaged) -> None:
        n = int(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)
        # PyTorch divides the int64 tensor n_averaged: the weight is a float32 number then
        w = float(np.float32(1) / np.float32(n + 1)) if isinstance(num_averaged, Tensor) else 1 / (n + 1)
        for a, c in zip(averaged_params, current_params):
            if _is_float(a):
                lerp_(a.array, c.array, w)
            else:
                a.array[...] = a.array + (c.array - a.array) / (n + 1)
            a._version += 1

    return swa_update


def get_ema_avg_fn(decay: float = 0.999):
    """EMA of one tensor, returned: ``decay * W_ema + (1 - decay) * W``."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return Tensor._wrap(decay * ema_param.array + (1 - decay) * current_param.array)

    return ema_update


def get_swa_avg_fn():
    """Running mean of one tensor, returned: ``W_swa + (W - W_swa) / (n + 1)``."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        n = int(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)
        a = averaged_param.array
        return Tensor._wrap(a + (current_param.array - a) / (n + 1))

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are the average of the model's over the calls of
    ``update_parameters(model)``: ``W_avg = W_avg + (W - W_avg) / (n + 1)`` by default (SWA,
    Izmailov et al., 2018), or any ``avg_fn(W_avg, W, n) -> new W_avg`` / in-place
    ``multi_avg_fn(list_avg, list_model, n)`` (EMA: ``get_ema_multi_avg_fn(0.999)``). The first
    call copies the weights. Buffers (BatchNorm statistics) are copied from the model, or
    averaged too with ``use_buffers=True``; ``n_averaged`` is a buffer (in the state_dict).

    Args:
        model: the module to average (deep-copied; the copy is ``self.module``).
        device: where to keep the averaged copy (default: where the model is).
        avg_fn, multi_avg_fn: the averaging rule (at most one of them; default SWA).
        use_buffers: average the buffers as well instead of copying them.

    >>> ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    >>> opt.step(); ema.update_parameters(model)
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=backend.int64, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        if self.use_buffers:
            mine = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.module.parameters(), model.parameters()
        pairs = [(a, Tensor._wrap(backend.to_device(m.array, a.device))) for a, m in zip(mine, theirs)]
        n = int(self.n_averaged.array)
        with no_grad():
            if n == 0:
                for a, m in pairs:
                    a.array[...] = m.array
                    a._version += 1
            elif self.multi_avg_fn is not None:
                by_kind: dict = {}
                for a, m in pairs:  # one call per (device, dtype), as PyTorch groups them
                    by_kind.setdefault((str(a.device), a.dtype), []).append((a, m))
                for group in by_kind.values():
                    self.multi_avg_fn([a.detach() for a, _ in group], [m for _, m in group], self.n_averaged)
                    for a, _ in group:
                        a._version += 1
            else:  # avg_fn, or the equal-weight mean (PyTorch's CPU path: a + (m - a) / (n + 1))
                fn = self.avg_fn or get_swa_avg_fn()
                for a, m in pairs:
                    a.array[...] = _array(fn(a.detach(), m, self.n_averaged))
                    a._version += 1
            if not self.use_buffers:
                for b, mb in zip(self.module.buffers(), model.buffers()):
                    b.array[...] = backend.to_device(mb.array, b.device)
                    b._version += 1
        self.n_averaged.array[...] = n + 1
        self.n_averaged._version += 1


def _array(value):
    return value.array if isinstance(value, Tensor) else value


def update_bn(loader, model: Module, device=None) -> None:
    """Recompute every BatchNorm's running statistics with one pass over ``loader`` (no gradients).

    The statistics are reset and accumulated as a cumulative average (momentum None) over all
    batches; momenta and the train/eval mode are restored afterwards. A batch is a tensor, a
    list/tuple whose first item is the input, or a dict with an ``'x'`` entry.

    >>> update_bn(train_loader, swa_model)
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                elif isinstance(batch, dict):
                    batch = batch["x"]
                if device is not None:
                    batch = batch.to(device)
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr from its current value to ``swa_lr`` over ``anneal_epochs`` epochs,
    then keep it there (for the SWA phase of training), as ``torch.optim.swa_utils.SWALR``.

    With ``a = anneal(min(1, epoch / anneal_epochs))`` (``cos``: (1 - cos(pi t)) / 2, ``linear``: t),
    lr = swa_lr * a + lr_start * (1 - a), computed recursively from the current lr so that it
    takes over smoothly from another scheduler.

    >>> swa_sched = SWALR(opt, swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear")
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1):
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy!r}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self._anneal(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
