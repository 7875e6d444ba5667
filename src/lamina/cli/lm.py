"""Language-model outputs for the Trainer: every position of a sequence is one classification.

A language model maps ``(B, T)`` token ids to ``(B, T, V)`` next-token logits (GPT returns
``(logits, loss)``; the loss slot is None without targets). The losses and metrics of
``lamina.nn`` / ``lamina.metrics`` follow PyTorch's layout, class dimension second, so
``(B, T, V)`` is not what they read. These adapters flatten instead: logits to ``(B*T, V)`` and
targets ``(B, T)`` to ``(B*T,)``, so the loss is the mean cross-entropy per token (nats per
character for char-level data) and ``accuracy`` is the fraction of next characters predicted.
"""
from __future__ import annotations

import math

from ..metrics import Metric, get_metric, to_numpy

__all__ = ["TokenLoss", "TokenMetric", "per_char_summary", "token_logits"]


def token_logits(out):
    """The logits of a model's output: ``out`` itself, or the first element of a tuple (GPT's)."""
    return out[0] if isinstance(out, (tuple, list)) else out


class TokenLoss:
    """``loss(logits (B*T, V), targets (B*T,))`` of a ``(B, T, V)`` output and ``(B, T)`` targets."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, out, targets):
        logits = token_logits(out)
        if logits.ndim == 3:
            logits = logits.reshape(-1, logits.shape[-1])
            targets = targets.reshape(-1)
        return self.loss(logits, targets)

    def __repr__(self) -> str:
        return f"TokenLoss({self.loss!r})"


class TokenMetric(Metric):
    """A classification metric (``get_metric(metric)``) over every position of a language model's output."""

    def __init__(self, metric: str, name: str | None = None):
        self.metric, self.inner = metric, get_metric(metric)
        self.higher_is_better = self.inner.higher_is_better
        super().__init__(name if name is not None else self.inner.name)

    def reset(self) -> None:
        self.inner.reset()

    def update(self, preds, targets) -> None:
        p, t = to_numpy(token_logits(preds)), to_numpy(targets)
        if p.ndim == 3:
            p, t = p.reshape(-1, p.shape[-1]), t.reshape(-1)
        self.inner.update(p, t)

    def compute(self):
        return self.inner.compute()

    def config(self) -> dict:
        return {"metric": self.metric, "name": self.name}

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.inner.load_state_dict(state_dict)

    def _merge(self, other: "TokenMetric") -> None:
        self.inner.merge(other.inner)


def per_char_summary(metrics: dict) -> dict:
    """``metrics`` plus ``bits_per_char`` (loss / ln 2) and ``perplexity`` (exp loss) from the mean
    cross-entropy ``loss`` in nats per character."""
    loss = metrics.get("loss")
    if loss is None or not math.isfinite(float(loss)):
        return metrics
    return {**metrics, "bits_per_char": float(loss) / math.log(2.0), "perplexity": math.exp(float(loss))}
