"""Adversarial training (Madry et al., 2018): train on PGD examples generated for every batch.

    min_theta  E_(x,y) [ max_{||delta|| <= eps} L(f_theta(x + delta), y) ]

The inner max is PGD (``lamina.robust.pgd``) against the current weights; the outer min is the
Trainer's ordinary step. ``AdversarialBatchFn`` is a Trainer ``batch_fn``: while the model is in
training mode it swaps each batch's inputs for their adversarial versions (or appends them to the
clean ones, ``mix=True``: the loss is then the mean of the clean and the adversarial loss, as
Goodfellow et al.); in eval mode (validation, evaluate, predict) batches pass through unchanged.

>>> adv = AdversarialBatchFn(model, eps=0.1, steps=7)
>>> Trainer(model, "cross_entropy", optim.Adam(model.parameters()), batch_fn=adv).fit(loader, epochs=10)
>>> AdversarialBatchFn.from_config(model, {"eps": 0.1, "steps": 7, "norm": "linf"})      # a config section
"""
from __future__ import annotations

import difflib

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..train.trainer import default_batch_fn
from .attacks import fgsm, pgd

__all__ = ["AdversarialBatchFn"]

_KEYS = ("eps", "attack", "steps", "alpha", "norm", "random_start", "clamp", "mix")


class AdversarialBatchFn:
    """A Trainer ``batch_fn`` that returns (x_adv, y) for training batches (see the module docstring).

    Args:
        model: the model being trained (the attack runs against its current weights, in eval mode).
        eps, steps, alpha, norm, random_start, clamp: the PGD attack's (``attack='fgsm'``: one step).
        mix: keep the clean batch too (x and x_adv concatenated, y twice).
        batch_fn: how to unpack a loader's batch into (x, y) (the Trainer's default).
        generator: a ``lamina.Generator`` for the random starts (store it in the Trainer's
            ``generators`` for an exact resume).
    """

    def __init__(self, model, eps: float, attack: str = "pgd", steps: int = 7, alpha: float | None = None,
                 norm: str = "linf", random_start: bool = True, clamp=(0.0, 1.0), mix: bool = False,
                 batch_fn=None, generator=None):
        if attack not in ("pgd", "fgsm"):
            raise ValueError(f"AdversarialBatchFn: attack must be 'pgd' or 'fgsm', got {attack!r}")
        if not eps >= 0:
            raise ValueError(f"AdversarialBatchFn: eps must be >= 0, got {eps!r}")
        self.model, self.eps, self.attack, self.steps, self.alpha = model, float(eps), attack, int(steps), alpha
        self.norm, self.random_start, self.clamp, self.mix = norm, bool(random_start), clamp, bool(mix)
        self.batch_fn, self.generator = batch_fn or default_batch_fn, generator
        self.last_losses = None        # the last batch's per-step attack losses

    @classmethod
    def from_config(cls, model, config: dict, **kwargs) -> "AdversarialBatchFn":
        """From a config section like ``{"eps": 0.1, "steps": 7, "norm": "linf", "mix": false}``; an unknown
        key raises ValueError naming the closest valid one."""
        for k in config:
            if k not in _KEYS:
                close = difflib.get_close_matches(k, _KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"adversarial training: unknown key {k!r}{hint}; valid keys: {', '.join(_KEYS)}")
        if "eps" not in config:
            raise ValueError("adversarial training: the config needs eps (the attack budget, e.g. eps = 0.1)")
        cfg = dict(config)
        if cfg.get("clamp") is not None:
            cfg["clamp"] = tuple(cfg["clamp"])
        return cls(model, **cfg, **kwargs)

    def __call__(self, batch):
        x, y = self.batch_fn(batch)
        if not self.model.training or y is None or self.eps == 0:
            return x, y
        if self.attack == "fgsm":
            res = fgsm(self.model, x, y, self.eps, norm=self.norm, clamp=self.clamp)
        else:
            res = pgd(self.model, x, y, self.eps, alpha=self.alpha, steps=self.steps, norm=self.norm,
                      random_start=self.random_start, clamp=self.clamp, generator=self.generator)
        self.last_losses = res.losses
        x_adv = res.inputs
        if not self.mix:
            return x_adv, y
        xa = x.array if isinstance(x, Tensor) else np.asarray(x)
        ya = y.array if isinstance(y, Tensor) else np.asarray(y)
        aa = x_adv.array if isinstance(x_adv, Tensor) else x_adv
        xp = backend.array_module(aa)
        return Tensor._wrap(xp.concatenate([xp.asarray(xa), aa])), Tensor._wrap(xp.concatenate([xp.asarray(ya)] * 2))

    def __repr__(self):
        return (f"AdversarialBatchFn(attack={self.attack!r}, eps={self.eps}, steps={self.steps}, norm={self.norm!r}, "
                f"mix={self.mix})")
