"""Gradual magnitude pruning while training (Zhu & Gupta, 2017, "To prune, or not to prune").

Sparsity rises from ``initial_sparsity`` to ``final_sparsity`` on a cubic schedule,

    s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_end - t_0))**3        for t_0 <= t <= t_end,

pruning every ``frequency`` steps (or epochs) and training in between, so the network recovers
from each small cut; after ``t_end`` it keeps training (fine-tuning) at ``s_f``. Each pruning
step removes the smallest-magnitude weights still alive (``lamina.nn.utils.prune``: masks
compose, pruned weights stay pruned), over all layers at once (``scope='global'``) or layer by
layer; or whole output channels of convolutions by their Ln norm (``structure='channels'``).

    pruner = GradualPruning(final_sparsity=0.8, begin=0, end=6, unit="epoch", make_permanent=True)
    Trainer(model, "cross_entropy", opt, callbacks=[pruner]).fit(train_loader, epochs=10)
    print(prune.sparsity(model))
"""
from __future__ import annotations

import numpy as np

from ..nn.layers.conv import _ConvNd
from ..nn.layers.linear import Linear
from ..nn.utils import prune
from ..tensor import Tensor
from .callbacks.base import Callback

__all__ = ["GradualPruning", "polynomial_sparsity"]


def polynomial_sparsity(t: float, initial_sparsity: float, final_sparsity: float, begin: float, end: float,
                        power: float = 3.0) -> float:
    """Zhu & Gupta's schedule: 0 before ``begin``, then s_f + (s_i - s_f)(1 - (t - begin)/(end - begin))^power,
    and ``final_sparsity`` from ``end`` on.

    >>> polynomial_sparsity(5, 0.0, 0.8, begin=0, end=10)     # 0.7
    """
    if t < begin:
        return 0.0
    if t >= end:
        return float(final_sparsity)
    frac = (t - begin) / (end - begin)
    return float(final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - frac) ** power)


def _default_targets(model, structure: str) -> list:
    """The weights of every Linear and convolution (convolutions only for channel pruning: pruning a
    Linear's outputs would remove features, or classes, the next layer expects)."""
    kinds = (_ConvNd,) if structure == "channels" else (Linear, _ConvNd)
    return [(m, "weight") for m in model.modules() if isinstance(m, kinds)]


class GradualPruning(Callback):
    """Trainer callback: prune ``parameters`` gradually to ``final_sparsity``, fine-tuning in between.

    Args:
        final_sparsity: fraction of zero weights (or channels) reached at ``end``.
        initial_sparsity: fraction pruned at ``begin`` (0 by default).
        begin / end: first and last pruning time, in ``unit``s: 'step' (optimizer steps,
            ``trainer.global_step``, pruned before the batch) or 'epoch' (pruned at the start of the
            epoch). Training after ``end`` fine-tunes the final sparse network.
        frequency: prune every this many units between ``begin`` and ``end`` (``end`` always prunes).
        scope: 'global' ranks all weights together (layers end up with different sparsities),
            'layer' gives every tensor the same sparsity.
        structure: 'unstructured' (single weights, smallest |w|) or 'channels' (whole slices along
            ``dim``, smallest Ln norm with ``n``; per layer; default targets: the convolutions).
        parameters: ``(module, name)`` pairs to prune (default: every Linear and conv weight).
        make_permanent: at the end of training, ``prune.remove`` every mask (the weights become
            plain Parameters with zeros in them).
        power: the schedule's exponent (3 in the paper).

    ``logs['sparsity']`` (the overall fraction of zeros) is added at every epoch's end.
    """

    def __init__(self, final_sparsity: float, initial_sparsity: float = 0.0, begin: int = 0, end: int | None = None,
                 frequency: int = 1, unit: str = "step", scope: str = "global", structure: str = "unstructured",
                 n=2, dim: int = 0, parameters=None, make_permanent: bool = False, power: float = 3.0):
        for name, v in (("final_sparsity", final_sparsity), ("initial_sparsity", initial_sparsity)):
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"GradualPruning: {name} must be in [0, 1], got {v}")
        if initial_sparsity > final_sparsity:
            raise ValueError(f"GradualPruning: initial_sparsity ({initial_sparsity}) must not exceed "
                             f"final_sparsity ({final_sparsity})")
        if end is None or int(end) < int(begin) or int(begin) < 0:
            raise ValueError(f"GradualPruning: need 0 <= begin <= end, got begin={begin}, end={end}")
        if int(frequency) < 1:
            raise ValueError(f"GradualPruning: frequency must be >= 1, got {frequency}")
        if unit not in ("step", "epoch"):
            raise ValueError(f"GradualPruning: unit must be 'step' or 'epoch', got {unit!r}")
        if scope not in ("global", "layer"):
            raise ValueError(f"GradualPruning: scope must be 'global' or 'layer', got {scope!r}")
        if structure not in ("unstructured", "channels"):
            raise ValueError(f"GradualPruning: structure must be 'unstructured' or 'channels', got {structure!r}")
        if structure == "channels" and scope == "global":
            raise ValueError("GradualPruning: channel pruning is per layer (scope='layer'): channels of different "
                             "layers have norms on different scales")
        self.final_sparsity, self.initial_sparsity = float(final_sparsity), float(initial_sparsity)
        self.begin, self.end, self.frequency = int(begin), int(end), int(frequency)
        self.unit, self.scope, self.structure, self.n, self.dim = unit, scope, structure, n, dim
        self.power, self.make_permanent = float(power), bool(make_permanent)
        self._parameters = list(parameters) if parameters is not None else None
        self.last_pruned = None  # the last time (step or epoch) a pruning step ran
        self.history: list = []  # (time, target sparsity) of every pruning step

    # ------------------------------------------------------------ schedule
    def target_sparsity(self, t: int) -> float:
        """The scheduled sparsity at time ``t`` (0 before ``begin``)."""
        return polynomial_sparsity(t, self.initial_sparsity, self.final_sparsity, self.begin, self.end, self.power)

    def is_pruning_time(self, t: int) -> bool:
        return self.begin <= t <= self.end and ((t - self.begin) % self.frequency == 0 or t == self.end)

    @property
    def targets(self) -> list:
        if self._parameters is None:
            self._parameters = _default_targets(self.trainer.model, self.structure)
            if not self._parameters:
                kinds = "convolution" if self.structure == "channels" else "Linear or convolution"
                raise ValueError(f"GradualPruning: the model has no {kinds} weights to prune; pass "
                                 "parameters=[(module, 'weight'), ...]")
        return self._parameters

    # ------------------------------------------------------------ one pruning step
    def prune_to(self, sparsity: float) -> None:
        """Prune (more) until the targets reach ``sparsity``; never un-prunes."""
        targets = self.targets
        scores = {(m, name): _magnitude(m, name) for m, name in targets}
        if self.structure == "channels":
            for m, name in targets:
                s = scores[(m, name)]
                dim = self.dim % s.ndim
                k = round(sparsity * s.shape[dim]) - _pruned_channels(m, name, dim)
                if k > 0:
                    prune.ln_structured(m, name, amount=k, n=self.n, dim=self.dim,
                                        importance_scores=Tensor._wrap(s))
        elif self.scope == "layer":
            for m, name in targets:
                s = scores[(m, name)]
                k = round(sparsity * s.size) - _pruned(m, name)
                if k > 0:
                    prune.l1_unstructured(m, name, amount=k, importance_scores=Tensor._wrap(s))
        else:
            total = sum(s.size for s in scores.values())
            k = round(sparsity * total) - sum(_pruned(m, name) for m, name in targets)
            if k > 0:
                prune.global_unstructured(targets, prune.L1Unstructured, amount=k,
                                          importance_scores={key: Tensor._wrap(s) for key, s in scores.items()})

    def _maybe_prune(self, t: int) -> None:
        if self.last_pruned is not None and t <= self.last_pruned:
            return
        if self.is_pruning_time(t):
            s = self.target_sparsity(t)
            self.prune_to(s)
            self.last_pruned = t
            self.history.append((t, s))

    # ------------------------------------------------------------ hooks
    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._maybe_prune(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "step":
            self._maybe_prune(self.trainer.global_step)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["sparsity"] = self.sparsity()["global"]

    def on_train_end(self, logs=None):
        if self.make_permanent:
            self.remove()

    def sparsity(self) -> prune.SparsityReport:
        """The current sparsity report of the targets."""
        return prune.sparsity(self.trainer.model, parameters=self.targets)

    def remove(self) -> None:
        """Make every mask permanent (``prune.remove``)."""
        for m, name in self.targets:
            if name + "_mask" in m._buffers:
                prune.remove(m, name)

    def state_dict(self) -> dict:
        return {"last_pruned": -1 if self.last_pruned is None else int(self.last_pruned),
                "history": [[int(t), float(s)] for t, s in self.history]}

    def load_state_dict(self, state: dict) -> None:
        last = int(state.get("last_pruned", -1))
        self.last_pruned = None if last < 0 else last
        self.history = [(int(t), float(s)) for t, s in state.get("history", [])]


def _magnitude(module, name: str) -> np.ndarray:
    """The current effective weights (``orig * mask`` when pruned) as an array: the ranking scores.
    (``module.<name>`` itself is only refreshed at the next forward, after the optimizer step.)"""
    if name + "_orig" in module._parameters:
        return module._parameters[name + "_orig"].array * module._buffers[name + "_mask"].array
    return getattr(module, name).array.copy()


def _pruned(module, name: str) -> int:
    """How many entries of ``module.<name>`` its mask zeroes (0 if it is not pruned)."""
    mask = module._buffers.get(name + "_mask")
    return 0 if mask is None else int(mask.array.size - int(mask.xp.count_nonzero(mask.array)))


def _pruned_channels(module, name: str, dim: int) -> int:
    """How many slices along ``dim`` the mask zeroes entirely (the channels structured pruning removed)."""
    mask = module._buffers.get(name + "_mask")
    if mask is None:
        return 0
    a = mask.array
    alive = (a.sum(axis=tuple(d for d in range(a.ndim) if d != dim)) != 0)
    return int(a.shape[dim] - int(alive.sum()))
