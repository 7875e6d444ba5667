"""Deep ensembles (Lakshminarayanan et al., 2017): M networks trained from different random
initialisations; their averaged prediction is better calibrated than any one of them and
their disagreement measures what the data did not pin down.

    p(y | x) = (1/M) sum_m softmax(f_m(x))
    disagreement: mutual information H[p] - (1/M) sum_m H[p_m], and Var_m p_m

>>> ens = DeepEnsemble([make_model() for _ in range(5)])          # or DeepEnsemble.from_checkpoints
>>> r = ens.predict(x_test); r.mean, r.mutual_information
"""
from __future__ import annotations

import math
import os

import numpy as np

from .. import backend, io
from ..autograd import no_grad
from ..nn.containers import ModuleList
from ..nn.module import Module
from ..ops.shape import stack
from ._common import iterate_inputs, split_outputs, summarize

__all__ = ["DeepEnsemble", "train_ensemble", "load_weights"]


def load_weights(path) -> dict:
    """A model ``state_dict`` from a weight file (``best.safetensors``) or a training-state
    checkpoint (``last.safetensors``, whose ``'model'`` entry is used)."""
    state = io.load(os.fspath(path))
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        return state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"load_weights: {os.fspath(path)!r} does not hold a state_dict (got {type(state).__name__})")
    return state


class DeepEnsemble(Module):
    """An ensemble of M models of the same task.

    ``forward(x)`` is differentiable: for ``task='classification'`` it returns the log of the
    averaged probabilities, log (1/M) sum_m softmax(f_m(x)) (N, C) — so ``argmax`` gives the
    ensemble's class and ``F.nll_loss`` its NLL; for ``'regression'``, the mean of the outputs.
    ``predict`` gives the full uncertainty summary (members are the samples).

    Args:
        models: a list of Modules (members, registered as ``members.0``, ``members.1``, ...).
        task: 'classification' (members output logits) or 'regression'.

    >>> ens = DeepEnsemble([MLP(64, [64], 10) for _ in range(5)])
    >>> ens(x).exp().sum(1)            # ones: averaged probabilities
    """

    def __init__(self, models, task: str = "classification"):
        super().__init__()
        models = list(models)
        if not models:
            raise ValueError("DeepEnsemble: needs at least one model, got an empty list")
        for i, m in enumerate(models):
            if not isinstance(m, Module):
                raise TypeError(f"DeepEnsemble: member {i} must be a lamina Module, got {type(m).__name__}")
        if task not in ("classification", "regression"):
            raise ValueError(f"DeepEnsemble: task must be 'classification' or 'regression', got {task!r}")
        self.members = ModuleList(models)
        self.task = task

    @classmethod
    def from_checkpoints(cls, paths, model_fn, task: str = "classification", strict: bool = True) -> "DeepEnsemble":
        """Build one model per checkpoint with ``model_fn()`` and load its weights.

        ``paths``: weight files or training-state checkpoints (see ``load_weights``).
        """
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not paths:
            raise ValueError("DeepEnsemble.from_checkpoints: no checkpoint paths given")
        models = []
        for p in paths:
            m = model_fn()
            m.load_state_dict(load_weights(p), strict=strict)
            models.append(m)
        return cls(models, task=task)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x):
        outs = [m(x) for m in self.members]
        if self.task == "regression":
            if isinstance(outs[0], (tuple, list)):  # heteroscedastic members: average the mixture's moments
                raise TypeError("DeepEnsemble.forward: members return (mean, log_var); use predict() for them")
            total = outs[0]
            for o in outs[1:]:
                total = total + o
            return total / len(outs)
        logp = [o.log_softmax(dim=-1) for o in outs]
        return stack(logp).logsumexp(dim=0) - math.log(len(outs))

    def member_outputs(self, inputs, batch_size: int = 256):
        """Raw outputs of every member, (M, N, ...) float64 (and (M, N, ...) log-variances or None)."""
        mains, lvs = [], []
        with no_grad():
            was = self.training
            self.eval()
            try:
                for x in iterate_inputs(inputs, batch_size, self):
                    outs = [split_outputs(m(x)) for m in self.members]
                    mains.append(np.stack([o[0] for o in outs]))
                    lvs.append(None if outs[0][1] is None else np.stack([o[1] for o in outs]))
            finally:
                self.train(was)
        if not mains:
            raise ValueError("DeepEnsemble: the inputs yielded no batches")
        return np.concatenate(mains, axis=1), (None if lvs[0] is None else np.concatenate(lvs, axis=1))

    def predict(self, inputs, batch_size: int = 256, from_logits: bool = True, return_samples: bool = False):
        """Uncertainty summary with the members as the samples (members in eval mode).

        Returns ``ClassificationUncertainty`` (mean, predictive_entropy, expected_entropy,
        mutual_information — the disagreement —, variance) or ``RegressionUncertainty``.
        """
        outputs, log_vars = self.member_outputs(inputs, batch_size)
        return summarize(outputs, log_vars, self.task, from_logits, return_samples)

    def extra_repr(self) -> str:
        return f"members={len(self.members)}, task={self.task!r}"


def train_ensemble(model_fn, fit_fn, n_members: int = 5, seed: int = 0, task: str = "classification") -> DeepEnsemble:
    """Train ``n_members`` models, member i with ``lamina.manual_seed(seed + i)`` set before it
    is built (so initialisation, shuffling and dropout differ), and return their ensemble.

    ``model_fn()`` builds a fresh model; ``fit_fn(model, i)`` trains it in place (e.g. with a
    ``Trainer``).

    >>> ens = train_ensemble(lambda: MLP(64, [64], 10), lambda m, i: Trainer(m, ...).fit(loader, epochs=20))
    """
    if int(n_members) != n_members or n_members < 1:
        raise ValueError(f"train_ensemble: n_members must be a positive integer, got {n_members!r}")
    models = []
    for i in range(int(n_members)):
        backend.manual_seed(int(seed) + i)
        m = model_fn()
        fit_fn(m, i)
        models.append(m)
    return DeepEnsemble(models, task=task)

