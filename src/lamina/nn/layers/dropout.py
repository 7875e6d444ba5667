"""Dropout (and alpha dropout for SELU networks): random while training, identity in eval mode."""
from __future__ import annotations

from ...tensor import Tensor
from .. import dropout_fns as DF
from .. import functional as F
from ..module import Module


class Dropout(Module):
    """Inverted dropout: y = x * m / (1 - p), m ~ Bernoulli(1 - p), in training; y = x in eval.

    Masks come from lamina's default generator, so ``lamina.manual_seed`` makes them repeat.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class AlphaDropout(Dropout):
    """Alpha dropout for SELU networks: dropped units take SELU's saturation value and an affine
    map keeps mean 0 and variance 1 (see ``nn.dropout_fns``); identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        return DF.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(Dropout):
    """Alpha dropout of whole channels of (N, C, *) inputs; identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        return DF.feature_alpha_dropout(input, self.p, self.training)
