"""Embedding: a lookup table of learned vectors, y = W[ids]."""
from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd import Function, no_grad
from ...ops import elementwise as E
from ...ops.creation import empty
from ...ops.index import IndexAdd
from ...tensor import Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter


class Lookup(Function):
    """y = W[ids] for a flat id vector: (n,) -> (n, dim);
    dW = rows of dy summed into their ids' rows (times ``row_scale``: 0 at padding_idx, 1/count
    with scale_grad_by_freq)."""

    saves_inputs = False

    def __init__(self, ids, row_scale=None):
        self.ids, self.row_scale = ids, row_scale

    def forward(self, w):
        self.rows = w.shape[0]
        return backend.array_module(w).take(w, self.ids, axis=0)

    def backward(self, gy):
        if self.row_scale is not None:
            gy = E.mask_mul(gy, self.row_scale.astype(gy.dtype, copy=False))
        return IndexAdd(0, self.ids, self.rows)(gy)


def _ids(input, weight: Tensor, name: str):
    """The ids as a flat integer array on the weight's device, checked against the table size."""
    arr = input.array if isinstance(input, Tensor) else np.asarray(input)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer ids (int64 or int32), got dtype {arr.dtype}; "
                        "token ids must be whole numbers (use .long())")
    if backend.device_of(arr) != weight.device:
        arr = backend.to_device(arr, weight.device)
    flat = arr.reshape(-1)
    n = weight.shape[0]
    if flat.size:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"{name}: index {lo if lo < 0 else hi} is out of range for a table of {n} "
                             f"embeddings (valid ids are 0..{n - 1})")
    return arr.shape, flat


def _renorm_(weight: Tensor, flat, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and without a graph, the looked-up rows whose p-norm exceeds max_norm
    to norm max_norm (scale = max_norm / (norm + 1e-7)), as torch.embedding_renorm_."""
    xp = weight.xp
    rows = xp.unique(flat)
    with no_grad():
        w = weight.array
        sel = w[rows]
        p = float(norm_type)
        if p == float("inf"):
            norms = xp.abs(sel).max(axis=1)
        else:
            norms = (xp.abs(sel) ** p).sum(axis=1) ** (1.0 / p)
        big = norms > max_norm
        if bool(big.any()):
            scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
            w[rows[big]] = sel[big] * scale[:, None]
            weight._version += 1


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """y = weight[input]: integer ids of any shape (*) -> (*, embedding_dim).

    dW[k] = sum of dy over the positions where input == k (nothing for ``padding_idx``; divided
    by the count of k in the batch with ``scale_grad_by_freq``). With ``max_norm`` the
    looked-up rows of ``weight`` are first renormalised in place to p-norm <= max_norm.

    >>> F.embedding(lamina.tensor([[0, 2]]), lamina.randn(5, 3)).shape     # (1, 2, 3)
    """
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; use sparse=False")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError(f"embedding: weight must be a 2-D tensor (num_embeddings, embedding_dim), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    shape, flat = _ids(input, weight, "embedding")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({n})")
        padding_idx %= n
    if max_norm is not None:
        _renorm_(weight, flat, max_norm, norm_type)
    scale = None
    if weight._requires_grad and (padding_idx is not None or scale_grad_by_freq):
        xp = weight.xp
        scale = xp.ones(flat.shape, dtype=weight.dtype)
        if scale_grad_by_freq:
            scale = scale / xp.bincount(flat, minlength=n)[flat]
        if padding_idx is not None:
            scale = scale * (flat != padding_idx)
        scale = scale[:, None]
    out = Lookup(flat, scale)(weight)
    return out.reshape(*shape, weight.shape[1])


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``: y = W[ids].

    ids (*) integers in [0, num_embeddings) -> (*, embedding_dim). W ~ N(0, 1) (PyTorch's
    default), with row ``padding_idx`` zeroed; that row never receives a gradient, so it stays
    a fixed "no token" vector. ``max_norm`` renormalises looked-up rows in place (p =
    ``norm_type``); ``scale_grad_by_freq`` divides each row's gradient by its count in the batch.

    >>> emb = nn.Embedding(96, 64, padding_idx=0)
    >>> emb(lamina.tensor([[3, 0, 7]])).shape          # (1, 3, 64)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Embedding: {name} must be a non-negative int, got {v!r}")
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported; use sparse=False")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                                 f"({num_embeddings})")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            w = _weight if isinstance(_weight, Tensor) else Tensor(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(w.shape)}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self, generator=None) -> None:
        """W ~ N(0, 1), then the padding row set to zero."""
        init.normal_(self.weight, generator=generator)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0
                self.weight._version += 1

    def forward(self, input) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose table is ``embeddings`` (2-D, used as is; the padding row is not
        zeroed), frozen (no gradient) unless ``freeze=False``."""
        w = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, "
                             f"embedding_dim), got shape {tuple(w.shape)}")
        rows, cols = w.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=w, _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s
