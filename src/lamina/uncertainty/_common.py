"""Shared pieces of ``lamina.uncertainty``: batching inputs, the result tuples, and the
entropy decomposition of a set of sampled predictive distributions.

Every prediction routine here runs a model over *inputs* that may be a Tensor, a NumPy
array, or an iterable of batches (a DataLoader yielding ``(x, y)``, ``[x]``, ``x`` or
``{'x': ...}``), and returns NumPy arrays (float64) on the host.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..metrics.base import to_numpy
from ..tensor import Tensor

__all__ = ["ClassificationUncertainty", "RegressionUncertainty", "summarize_classification",
           "summarize_regression", "entropy", "softmax_np", "iterate_inputs"]

ClassificationUncertainty = namedtuple(
    "ClassificationUncertainty",
    ["mean", "predictive_entropy", "expected_entropy", "mutual_information", "variance", "samples"])
ClassificationUncertainty.__doc__ = """Uncertainty of a classifier from T sampled predictive distributions p_t (N, C).

* ``mean``: (N, C) the predictive distribution p = (1/T) sum_t p_t;
* ``predictive_entropy``: (N,) H[p] = -sum_c p_c log p_c (total uncertainty, nats);
* ``expected_entropy``: (N,) (1/T) sum_t H[p_t] (aleatoric part);
* ``mutual_information``: (N,) H[p] - (1/T) sum_t H[p_t] >= 0 (epistemic part, the BALD score);
* ``variance``: (N, C) the variance over samples of each class probability;
* ``samples``: (T, N, C) the sampled distributions (None unless asked for).

``result._asdict()`` gives a plain dict."""

RegressionUncertainty = namedtuple(
    "RegressionUncertainty", ["mean", "variance", "epistemic_variance", "aleatoric_variance", "samples"])
RegressionUncertainty.__doc__ = """Uncertainty of a regressor from T sampled outputs mu_t (N, D).

* ``mean``: (N, D) (1/T) sum_t mu_t;
* ``epistemic_variance``: (N, D) the variance of mu_t over the samples (0 when T = 1);
* ``aleatoric_variance``: (N, D) (1/T) sum_t sigma_t^2 for a heteroscedastic model returning
  ``(mean, log_var)``, else zeros;
* ``variance``: (N, D) the total, epistemic + aleatoric (law of total variance);
* ``samples``: (T, N, D) the sampled means (None unless asked for)."""


def softmax_np(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax in float64, shifted by the max so that large logits do not overflow."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def entropy(probs: np.ndarray, axis: int = -1) -> np.ndarray:
    """H[p] = -sum_c p_c log p_c in nats, with 0 log 0 = 0."""
    p = np.asarray(probs, dtype=np.float64)
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=axis)


def summarize_classification(probs, return_samples: bool = False) -> ClassificationUncertainty:
    """The entropy decomposition of sampled predictive distributions ``probs`` (T, N, C).

    >>> r = summarize_classification(np.stack([p1, p2]))      # two (N, C) distributions
    >>> r.mutual_information                                   # (N,), zero where p1 == p2
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3:
        raise ValueError(f"summarize_classification: probs must be (T, N, C) sampled distributions, "
                         f"got shape {p.shape}")
    mean = p.mean(axis=0)
    h_mean = entropy(mean)
    h_each = entropy(p).mean(axis=0)
    mi = np.maximum(h_mean - h_each, 0.0)  # >= 0 by Jensen; clip rounding below zero
    return ClassificationUncertainty(mean, h_mean, h_each, mi, p.var(axis=0), p if return_samples else None)


def summarize_regression(means, log_vars=None, return_samples: bool = False) -> RegressionUncertainty:
    """Law of total variance over T sampled outputs: ``means`` (T, N, D) (or (T, N)), optional
    ``log_vars`` of the same shape from a heteroscedastic head."""
    m = np.asarray(means, dtype=np.float64)
    if m.ndim < 2:
        raise ValueError(f"summarize_regression: means must be (T, N, ...) sampled outputs, got shape {m.shape}")
    epistemic = m.var(axis=0)
    if log_vars is None:
        aleatoric = np.zeros_like(epistemic)
    else:
        lv = np.asarray(log_vars, dtype=np.float64)
        if lv.shape != m.shape:
            raise ValueError(f"summarize_regression: log_vars shape {lv.shape} differs from means shape {m.shape}")
        aleatoric = np.exp(lv).mean(axis=0)
    return RegressionUncertainty(m.mean(axis=0), epistemic + aleatoric, epistemic, aleatoric,
                                 m if return_samples else None)


# ------------------------------------------------------------------ running a model over inputs
def _batch_x(batch):
    """The input part of one batch from a loader."""
    if isinstance(batch, dict):
        if "x" not in batch:
            raise ValueError(f"uncertainty: a dict batch needs the key 'x', got keys {sorted(batch)}")
        return batch["x"]
    if isinstance(batch, (tuple, list)):
        if len(batch) in (1, 2):
            return batch[0]
        raise ValueError(f"uncertainty: a batch is a sequence of {len(batch)} elements; expected (x, y) or (x,)")
    return batch


def _reference_param(model):
    for p in model.parameters():
        return p
    return None


def as_input_tensor(x, model) -> Tensor:
    """``x`` as a Tensor on the model's device; NumPy float arrays take the model's dtype."""
    ref = _reference_param(model)
    if not isinstance(x, Tensor):
        arr = np.asarray(x) if not hasattr(x, "__cuda_array_interface__") else x
        if ref is not None and getattr(arr, "dtype", None) is not None and arr.dtype.kind == "f":
            arr = arr.astype(ref.dtype, copy=False)
        x = Tensor(arr)
    if ref is not None and x.device != ref.device:
        x = x.to(ref.device)
    return x


def iterate_inputs(inputs, batch_size: int, model):
    """Yield input Tensors of at most ``batch_size`` rows from a Tensor/array or a loader."""
    if isinstance(inputs, (Tensor, np.ndarray)) or hasattr(inputs, "__cuda_array_interface__"):
        x = as_input_tensor(inputs, model)
        if x.ndim == 0:
            raise ValueError("uncertainty: inputs must have a batch dimension, got a 0-d array")
        for i in range(0, x.shape[0], batch_size):
            yield x[i:i + batch_size]
        return
    if isinstance(inputs, (list, tuple)):
        raise TypeError("uncertainty: inputs must be a Tensor, a NumPy array or a DataLoader, got a "
                        f"{type(inputs).__name__} (wrap lists with numpy.asarray)")
    try:
        it = iter(inputs)
    except TypeError:
        raise TypeError(f"uncertainty: inputs must be a Tensor, a NumPy array or a DataLoader, got "
                        f"{type(inputs).__name__}") from None
    for batch in it:
        yield as_input_tensor(_batch_x(batch), model)


def split_outputs(out):
    """(main, log_var or None) as host float64 arrays from a model output (a Tensor or a
    ``(mean, log_var)`` pair from a heteroscedastic head)."""
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(f"uncertainty: a model returning a tuple must return (mean, log_var), got {len(out)} items")
        return to_numpy(out[0]).astype(np.float64), to_numpy(out[1]).astype(np.float64)
    if not isinstance(out, Tensor):
        raise TypeError(f"uncertainty: the model must return a Tensor (or (mean, log_var)), got {type(out).__name__}")
    return to_numpy(out).astype(np.float64), None


def repeat_rows(x: Tensor, times: int) -> Tensor:
    """``x`` stacked ``times`` times along dim 0: row t * n + i is a copy of row i."""
    xp = x.xp
    return Tensor(xp.concatenate([x.array] * times, axis=0)) if times > 1 else x


def stochastic_passes(model, inputs, samples: int, batch_size: int, batched: bool, max_rows: int):
    """Run ``model`` ``samples`` times over every batch (the caller sets its random layers on).

    Returns (outputs (T, N, ...), log_vars (T, N, ...) or None). With ``batched`` the T passes
    over a chunk of n inputs are one forward pass over the chunk repeated T times (n T rows,
    at most ``max_rows``): every row gets its own dropout mask / activation noise, which is
    exactly T independent passes for layers that treat rows independently.
    """
    if int(samples) != samples or samples < 1:
        raise ValueError(f"uncertainty: samples must be a positive integer, got {samples!r}")
    samples = int(samples)
    chunks, chunks_lv = [], []
    with no_grad():
        for x in iterate_inputs(inputs, batch_size, model):
            n = x.shape[0]
            step = max(1, max_rows // samples) if batched else n
            for i in range(0, n, step):
                xc = x[i:i + step]
                m = xc.shape[0]
                if batched:
                    main, lv = split_outputs(model(repeat_rows(xc, samples)))
                    main = main.reshape((samples, m) + main.shape[1:])
                    lv = None if lv is None else lv.reshape((samples, m) + lv.shape[1:])
                else:
                    outs = [split_outputs(model(xc)) for _ in range(samples)]
                    main = np.stack([o[0] for o in outs])
                    lv = None if outs[0][1] is None else np.stack([o[1] for o in outs])
                chunks.append(main)
                chunks_lv.append(lv)
    if not chunks:
        raise ValueError("uncertainty: the inputs yielded no batches")
    out = np.concatenate(chunks, axis=1)
    lvs = None if chunks_lv[0] is None else np.concatenate(chunks_lv, axis=1)
    return out, lvs


def summarize(outputs, log_vars, task: str, from_logits: bool, return_samples: bool):
    """Classification (outputs are logits or probabilities, (T, N, C)) or regression summary."""
    if task == "classification":
        if log_vars is not None:
            raise ValueError("uncertainty: task='classification' but the model returned (mean, log_var); "
                             "use task='regression'")
        if outputs.ndim != 3:
            raise ValueError(f"uncertainty: a classifier must output (N, C) scores, got per-sample output shape "
                             f"{outputs.shape[1:]}")
        probs = softmax_np(outputs) if from_logits else outputs
        return summarize_classification(probs, return_samples)
    if task == "regression":
        return summarize_regression(outputs, log_vars, return_samples)
    raise ValueError(f"uncertainty: task must be 'classification' or 'regression', got {task!r}")


def device_of(model):
    ref = _reference_param(model)
    return ref.device if ref is not None else backend.cpu
