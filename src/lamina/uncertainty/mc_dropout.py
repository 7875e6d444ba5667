"""Monte Carlo dropout (Gal & Ghahramani, 2016): keep dropout on at prediction time and
read the spread of T stochastic passes as the model's (epistemic) uncertainty.

    p_t = softmax(f(x; mask_t)),  p = (1/T) sum_t p_t
    predictive entropy H[p] = expected entropy (1/T) sum_t H[p_t] + mutual information

Only the dropout layers are switched to training mode: BatchNorm and every other layer
stay in evaluation mode, so running statistics are used and never updated.

>>> r = mc_dropout_predict(model, x_test, samples=30)
>>> r.mean.argmax(1), r.mutual_information          # (N,) labels, (N,) epistemic uncertainty
"""
from __future__ import annotations

import contextlib

from ..nn.layers.dropout import Dropout
from ..nn.layers.normalization import _DropoutNd
from ._common import stochastic_passes, summarize

__all__ = ["mc_dropout", "mc_dropout_predict", "dropout_layers"]

_DROPOUT_TYPES = (Dropout, _DropoutNd)


def dropout_layers(model) -> list:
    """The ``(name, module)`` pairs of the model's dropout layers with p > 0."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _DROPOUT_TYPES) and m.p > 0]


@contextlib.contextmanager
def mc_dropout(model):
    """Inside the block the model is in eval mode except its dropout layers, which sample masks.

    Every module's ``training`` flag is restored on exit. Raises ``ValueError`` when the model
    has no dropout layer with p > 0 (there would be nothing random to sample).
    """
    layers = dropout_layers(model)
    if not layers:
        n_zero = sum(isinstance(m, _DROPOUT_TYPES) for m in model.modules())
        detail = f" (its {n_zero} dropout layer(s) have p=0)" if n_zero else ""
        raise ValueError(f"MC dropout needs dropout layers, but the {type(model).__name__} model has none with "
                         f"p > 0{detail}; build it with dropout (e.g. MLP(..., dropout=0.1)) or use a "
                         "DeepEnsemble / Bayesian layers for its uncertainty")
    saved = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        for _, m in layers:
            m.training = True
        yield model
    finally:
        for m, flag in saved:
            m.training = flag


def mc_dropout_predict(model, inputs, samples: int = 30, task: str = "classification", from_logits: bool = True,
                       batch_size: int = 256, batched: bool = True, max_rows: int = 8192,
                       return_samples: bool = False):
    """T = ``samples`` stochastic passes with dropout on; their predictive summary.

    Args:
        model: a Module containing dropout layers.
        inputs: (N, ...) Tensor or NumPy array, or a DataLoader (its ``x`` is used).
        task: 'classification' (outputs are logits, or probabilities with ``from_logits=False``)
            or 'regression' (outputs (N, D), or ``(mean, log_var)`` from a heteroscedastic head).
        batched: run the T passes over a chunk as one pass over the chunk repeated T times
            (at most ``max_rows`` rows per forward); False loops T forwards per batch.
        return_samples: keep the (T, N, ...) sampled outputs in ``result.samples``.

    Returns ``ClassificationUncertainty`` (mean (N, C), predictive_entropy, expected_entropy,
    mutual_information (N,), variance (N, C)) or ``RegressionUncertainty`` (mean, variance,
    epistemic_variance, aleatoric_variance (N, D)); NumPy float64 arrays.

    >>> r = mc_dropout_predict(MLP(64, [128], 10, dropout=0.2), x, samples=20)
    >>> r.predictive_entropy.shape        # (N,)
    """
    with mc_dropout(model):
        outputs, log_vars = stochastic_passes(model, inputs, samples, batch_size, batched, max_rows)
    return summarize(outputs, log_vars, task, from_logits, return_samples)
