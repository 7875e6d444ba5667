"""EmbeddingBag: sums, means or maxima of bags of embeddings, without building the (n, dim) rows
of every bag as separate tensors.

A bag b holds the ids input[offsets[b]:offsets[b+1]] (1-D input with ``offsets``) or one row
of a 2-D input; entries equal to ``padding_idx`` are left out. With rows r_i = W[id_i]:

    sum   y_b = sum_i w_i r_i              (w_i = per_sample_weights, else 1)
    mean  y_b = sum_i r_i / |b|            (0 for an empty bag)
    max   y_b = max_i r_i per feature      (the gradient goes to the first maximum)
"""
from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd import no_grad
from ...ops import elementwise as E
from ...ops.creation import empty
from ...ops.index import IndexAdd
from ...tensor import Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter
from .embedding import Lookup, _renorm_

_MODES = ("sum", "mean", "max")


def _int_array(t, what: str, xp):
    arr = t.array if isinstance(t, Tensor) else np.asarray(t)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"embedding_bag: Expected tensor for argument '{what}' to have one of the following "
                           f"scalar types: Long, Int; but got dtype {arr.dtype} instead")
    return xp.asarray(arr).astype(np.int64, copy=False)


def _bags(input, offsets, include_last_offset: bool, xp):
    """(flat ids, bag index of each id, number of bags) from a 2-D input or a 1-D input + offsets."""
    ids = _int_array(input, "indices", xp)
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets).__name__}")
        b, n = ids.shape
        return ids.reshape(-1), xp.repeat(xp.arange(b), n), b
    if ids.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {ids.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    off = _int_array(offsets, "offsets", xp)
    if off.ndim != 1:
        raise ValueError(f"offsets has to be a 1D Tensor, but got Tensor of dimension {off.ndim}")
    n = ids.shape[0]
    if off.size:
        if int(off[0]) != 0:
            raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                               f"position 0. However, got {int(off[0])}")
        if int(off[-1]) > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of "
                               f"{int(off[-1])}")
        if off.size > 1 and bool((off[1:] < off[:-1]).any()):
            raise RuntimeError(f"embedding_bag: offsets must be non-decreasing, got {off.tolist()}")
    if include_last_offset:
        if off.size == 0:
            raise RuntimeError("embedding_bag: include_last_offset needs at least one offset")
        starts, b = off[:-1], off.size - 1
        n_used = int(off[-1])
    else:
        starts, b, n_used = off, off.size, n
    ids = ids[:n_used]
    bag = xp.searchsorted(starts, xp.arange(n_used), side="right") - 1
    return ids, bag, b


def embedding_bag(input, weight: Tensor, offsets=None, max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Reduce bags of embeddings: (B, L) ids, or 1-D ids with (B,) ``offsets`` -> (B, embedding_dim).

    >>> w = lamina.randn(10, 3)
    >>> F.embedding_bag(lamina.tensor([1, 2, 4, 5, 4, 3]), w, lamina.tensor([0, 4])).shape   # (2, 3)
    """
    if sparse:
        raise NotImplementedError("embedding_bag: sparse gradients are not supported; use sparse=False")
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError(f"embedding_bag: weight has to be a 2D Tensor, but got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    xp = weight.xp
    in_shape = tuple(getattr(input, "shape", np.shape(input)))
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}').")
        if tuple(per_sample_weights.shape) != in_shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is not None, "
                             f"then it must have the same shape as the input ({in_shape})")
    ids, bag, n_bags = _bags(input, offsets, include_last_offset, xp)
    rows_total, dim = weight.shape
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= rows_total):
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise IndexError(f"embedding_bag: index {bad} is not in the valid range [0, {rows_total})")
    keep = None
    if padding_idx is not None:
        if not -rows_total <= padding_idx < rows_total:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} must be within num_embeddings ({rows_total})")
        keep = ids != padding_idx % rows_total
    psw = None
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)[: ids.shape[0]]
    if keep is not None and not bool(keep.all()):
        ids, bag = ids[keep], bag[keep]
        if psw is not None:
            psw = psw[Tensor._wrap(xp.nonzero(keep)[0])]
    if max_norm is not None:
        _renorm_(weight, ids, max_norm, norm_type)
    scale = None
    if scale_grad_by_freq and weight.requires_grad:
        scale = (1.0 / xp.bincount(ids, minlength=rows_total)[ids]).astype(weight.dtype)[:, None]
    rows = Lookup(ids, scale)(weight)                                 # (n, dim)
    counts = xp.bincount(bag, minlength=n_bags)
    if mode == "max":
        return _bag_max(rows, bag, counts, n_bags, xp)
    if psw is not None:
        rows = rows * psw.to(rows.dtype).unsqueeze(1)
    out = IndexAdd(0, bag, n_bags)(rows)                              # (B, dim)
    if mode == "mean":
        out = out * Tensor._wrap((1.0 / xp.maximum(counts, 1)).astype(weight.dtype)[:, None])
    return out


def _bag_max(rows: Tensor, bag, counts, n_bags: int, xp) -> Tensor:
    """Per-bag, per-feature max of ``rows`` (grouped by bag, in order); empty bags give 0."""
    n, dim = rows.shape
    if n == 0:
        return Tensor._wrap(xp.zeros((n_bags, dim), dtype=rows.dtype)) + rows.sum() * 0
    r = rows.array
    nonempty = counts > 0
    starts = xp.concatenate([xp.zeros(1, dtype=np.int64), xp.cumsum(counts)[:-1]])[nonempty]
    best = xp.maximum.reduceat(r, starts, axis=0)                     # (B', dim)
    full_best = xp.zeros((n_bags, dim), dtype=r.dtype)
    full_best[nonempty] = best
    is_max = r == full_best[bag]                                      # (n, dim)
    pos = xp.where(is_max, xp.arange(n)[:, None], n)
    first = xp.minimum.reduceat(pos, starts, axis=0)                  # first arg-max of each bag and feature
    index = xp.zeros((n_bags, dim), dtype=np.int64)
    index[nonempty] = first
    out = rows.gather(0, Tensor._wrap(index))
    if bool(nonempty.all()):
        return out
    return E.mask_mul(out, nonempty[:, None])


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings: forward(input, offsets=None, per_sample_weights=None).

    weight (num_embeddings, embedding_dim) ~ N(0, 1), with row ``padding_idx`` zeroed (PyTorch's
    init); entries equal to padding_idx are left out of their bag.

    >>> bag = nn.EmbeddingBag(1000, 64, mode="mean")
    >>> bag(lamina.tensor([3, 7, 7, 1, 9]), lamina.tensor([0, 3])).shape     # (2, 64)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight=None, include_last_offset: bool = False, padding_idx: int | None = None, device=None,
                 dtype=None):
        super().__init__()
        if mode not in _MODES:
            raise ValueError("mode has to be one of sum, mean or max")
        if sparse:
            raise NotImplementedError("EmbeddingBag: sparse gradients are not supported; use sparse=False")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError("padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset, self.padding_idx = mode, sparse, include_last_offset, \
            padding_idx
        if _weight is None:
            dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype, device=device))
            self.reset_parameters()
        else:
            w = _weight if isinstance(_weight, Tensor) else Tensor(_weight)
            if tuple(w.shape) != (num_embeddings, embedding_dim):
                raise ValueError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(w)

    def reset_parameters(self, generator=None) -> None:
        """W ~ N(0, 1), then the padding row set to zero."""
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0
                self.weight._version += 1

    def forward(self, input, offsets=None, per_sample_weights=None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag whose table is ``embeddings`` (2-D, used as is), frozen unless ``freeze=False``."""
        w = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        if w.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = w.shape
        bag = cls(rows, cols, max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                  mode=mode, sparse=sparse, _weight=w, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag
