"""Datasets: indexable collections of samples, as in ``torch.utils.data``.

A map-style :class:`Dataset` answers ``len(ds)`` and ``ds[i]``. :class:`TensorDataset` wraps
equal-length tensors (or NumPy arrays) and is the fast case: the DataLoader builds each batch
with one fancy index per tensor (``x.array[indices]``) instead of a Python loop over samples.

    ds = TensorDataset(x, y)          # x: (N, 784) float32, y: (N,) int64
    x0, y0 = ds[0]
    train, val = random_split(ds, [0.9, 0.1])
"""
from __future__ import annotations

import bisect
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["ConcatDataset", "Dataset", "IterableDataset", "Subset", "TensorDataset"]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``. The DataLoader batches it in order
    (no sampler, no shuffling)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it instead of indexing")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is a stream without a length (define __len__ to give it one)")

    def __add__(self, other):
        raise TypeError("ConcatDataset does not support IterableDataset")


def _take(t: Tensor, index) -> Tensor:
    """``t[index]`` without recording a graph (datasets hold data, not parameters)."""
    if isinstance(index, np.ndarray):
        index = t.xp.asarray(index) if t.xp is not np else index
    return Tensor._wrap(t.array[index])


class TensorDataset(Dataset):
    """Samples are ``(t0[i], t1[i], ...)``: tensors (or arrays) sharing their first dimension.

    >>> ds = TensorDataset(lamina.randn(100, 3), lamina.arange(100))
    >>> x, y = ds[5]            # shapes (3,) and ()
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        ts = []
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                arr = np.asarray(t) if not hasattr(t, "shape") else t
                if getattr(arr, "dtype", None) is None or arr.dtype.kind == "O":
                    raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected a tensor or array")
                t = Tensor._wrap(arr)
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d tensor; every tensor needs a first "
                                 "(sample) dimension")
            ts.append(t)
        sizes = [t.shape[0] for t in ts]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in ts)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes} "
                             f"(shapes {shapes}) must all be equal")
        self.tensors = tuple(ts)

    def __getitem__(self, index):
        return tuple(_take(t, index) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> list:
        """One fancy index per tensor: ``[t[indices] for t in tensors]`` (what default_collate
        of the samples would give)."""
        return [_take(t, indices) for t in self.tensors]

    def __repr__(self):
        return f"TensorDataset({', '.join(f'{tuple(t.shape)} {t.dtype}' for t in self.tensors)})"


def _index_array(indices) -> np.ndarray:
    if isinstance(indices, Tensor):
        indices = backend.to_device(indices.array, backend.cpu)
    arr = np.asarray(indices)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"expected a 1-D sequence of integer indices, got {arr.dtype} with shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset: Dataset, indices):
        self.dataset = dataset
        self.indices = _index_array(indices)
        n = len(dataset)
        if self.indices.size and (self.indices.max() >= n or self.indices.min() < -n):
            raise IndexError(f"Subset: indices range over [{self.indices.min()}, {self.indices.max()}] "
                             f"but the dataset has {n} samples")

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(self.indices[i])] for i in index]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __repr__(self):
        return f"Subset({len(self)} of {self.dataset!r})"


class ConcatDataset(Dataset):
    """The samples of several datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if not isinstance(index, numbers.Integral):
            raise TypeError(f"ConcatDataset indices must be integers, got {type(index).__name__}")
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"index {index} is out of range for a dataset of length {n}")
            index += n
        if index >= n:
            raise IndexError(f"index {index} is out of range for a dataset of length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def batch_fetcher(dataset):
    """A function ``indices (int64 array) -> collated batch`` made of one fancy index per
    tensor, or None when ``dataset`` holds no array-backed tensors to index directly.

    Works for TensorDataset, Subsets of it (indices mapped first), and any dataset exposing
    a ``get_batch(indices)`` method or a ``tensors`` tuple of equal-length tensors/arrays.
    """
    if isinstance(dataset, Subset):
        inner = batch_fetcher(dataset.dataset)
        if inner is None:
            return None
        idx = dataset.indices
        return lambda indices: inner(idx[indices])
    get = getattr(dataset, "get_batch", None)
    if callable(get):
        return get
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, (tuple, list)) and tensors and all(hasattr(t, "shape") for t in tensors):
        ts = [t if isinstance(t, Tensor) else Tensor._wrap(t) for t in tensors]
        if len({t.shape[0] if t.ndim else None for t in ts}) == 1 and ts[0].ndim:
            return lambda indices: [_take(t, indices) for t in ts]
    return None
