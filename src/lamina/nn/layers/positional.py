"""Positional encodings: tell a Transformer where each token sits in the sequence.

Both modules add a (T, d_model) table of position vectors to their input of shape
(N, T, d_model) or (T, d_model) — or (T, N, d_model) with ``batch_first=False``:

* ``SinusoidalPositionalEncoding``: fixed sines and cosines ("Attention is all you need"),
      PE[pos, 2i] = sin(pos / 10000^(2i / d)),   PE[pos, 2i + 1] = cos(pos / 10000^(2i / d)),
  kept as a non-persistent buffer (not in the state_dict), followed by dropout.
* ``LearnedPositionalEmbedding``: a learned table W (max_len, d_model), row t for position t
  (an Embedding over positions 0..T-1; init N(0, 1) as nn.Embedding).
"""
from __future__ import annotations

import math

import numpy as np

from ... import backend
from ...ops.creation import tensor
from ...tensor import Tensor
from .dropout import Dropout
from .embedding import Embedding
from ..module import Module


def sinusoidal_table(max_len: int, d_model: int, dtype=np.float32) -> np.ndarray:
    """The (max_len, d_model) sinusoidal table: sin on even features, cos on odd ones."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    div = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    pe = np.zeros((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div[: d_model // 2])
    return pe.astype(dtype)


def _seq_len(module, x: Tensor) -> tuple:
    """(T, the dim of x that holds positions) for x of shape (N, T, d), (T, d), or (T, N, d)."""
    name = type(module).__name__
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.shape[-1] != module.d_model:
        raise ValueError(f"{name}(d_model={module.d_model}): expected input of shape (N, T, {module.d_model}) or "
                         f"(T, {module.d_model}), got {x.shape}")
    dim = 1 if (x.ndim == 3 and module.batch_first) else 0
    T = x.shape[dim]
    if T > module.max_len:
        raise ValueError(f"{name}: sequence length {T} exceeds max_len={module.max_len} (input shape {x.shape})")
    return T, dim


class SinusoidalPositionalEncoding(Module):
    """y = dropout(x + PE[:T]) with the fixed sinusoidal table PE (see the module docstring).

    >>> pe = nn.SinusoidalPositionalEncoding(128, max_len=512, dropout=0.1)
    >>> pe(lamina.randn(32, 100, 128)).shape      # (32, 100, 128)
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.1, batch_first: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        self.register_buffer("pe", tensor(sinusoidal_table(max_len, d_model, dtype), device=device),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        T, dim = _seq_len(self, x)
        pe = self.pe[:T]
        if dim == 0 and x.ndim == 3:
            pe = pe.unsqueeze(1)
        if pe.dtype != x.dtype:
            pe = pe.to(x.dtype)
        return self.dropout(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(Embedding):
    """y = x + W[:T]: a learned vector per position, W of shape (max_len, d_model), N(0, 1) init.

    The state_dict key is ``weight``, as an nn.Embedding(max_len, d_model) holding the positions.

    >>> pos = nn.LearnedPositionalEmbedding(128, 64)
    >>> pos(lamina.randn(8, 100, 64)).shape       # (8, 100, 64)
    """

    def __init__(self, max_len: int, d_model: int, batch_first: bool = True, device=None, dtype=None):
        super().__init__(max_len, d_model, device=device, dtype=dtype)
        self.max_len, self.d_model, self.batch_first = max_len, d_model, batch_first

    def forward(self, x: Tensor) -> Tensor:
        T, dim = _seq_len(self, x)
        w = self.weight[:T]
        if dim == 0 and x.ndim == 3:
            w = w.unsqueeze(1)
        return x + w

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"
