"""Splitting a dataset: ``random_split`` (as torch) and a seeded, optionally stratified
train/validation/test split.

    train, val = random_split(ds, [0.9, 0.1], generator=lamina.Generator().manual_seed(0))
    train, val, test = train_val_test_split((x, y), val_fraction=0.1, test_fraction=0.2, seed=0, stratify=y)
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor
from .dataset import Dataset, Subset, TensorDataset, _take

__all__ = ["random_split", "train_val_test_split"]


def _lengths(lengths, n: int) -> list:
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in lengths):
        out = [int(x) for x in lengths]
    elif math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, f in enumerate(lengths):
            if not 0 <= f <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        out = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(out)):  # the remainder goes round-robin to the first splits, as torch
            out[i % len(out)] += 1
        for i, k in enumerate(out):
            if k == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an empty dataset",
                              stacklevel=3)
    else:
        raise ValueError(f"random_split: lengths must be integers summing to the dataset's length or fractions "
                         f"summing to 1, got {lengths}")
    if any(k < 0 for k in out):
        raise ValueError(f"random_split: lengths must be non-negative, got {out}")
    if sum(out) != n:
        raise ValueError(f"Sum of input lengths ({sum(out)}) does not equal the length of the input dataset ({n})!")
    return out


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``.

    ``lengths`` are ints summing to ``len(dataset)`` or fractions summing to 1 (each split gets
    ``floor(n * f)``, the remainder one by one to the first splits). The permutation comes from
    ``generator`` (the default generator when None).
    """
    n = len(dataset)
    sizes = _lengths(lengths, n)
    perm = backend.rng(generator).permutation(n).astype(np.int64)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _labels(stratify, n: int) -> np.ndarray:
    arr = backend.to_device(stratify.array, backend.cpu) if isinstance(stratify, Tensor) else np.asarray(stratify)
    if arr.shape[:1] != (n,) or arr.ndim != 1:
        raise ValueError(f"train_val_test_split: stratify must be a 1-D array of {n} labels, got shape {arr.shape}")
    return arr


def _split_indices(n: int, val_fraction: float, test_fraction: float, rng, labels) -> tuple:
    perm = rng.permutation(n)
    if labels is None:
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]
    # Stratified: shuffle, group by class (stable sort keeps the shuffle within a class), then
    # give each class round(n_c * fraction) test and validation samples.
    _, cls = np.unique(labels[perm], return_inverse=True)
    order = np.argsort(cls, kind="stable")
    counts = np.bincount(cls)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[cls[order]]  # position of each sample within its class
    c_test = np.round(counts * test_fraction).astype(np.int64)
    c_val = np.round(counts * val_fraction).astype(np.int64)
    k = cls[order]
    is_test = rank < c_test[k]
    is_val = ~is_test & (rank < c_test[k] + c_val[k])
    pos = order  # positions in perm; sorting them again restores the shuffled order across classes
    pick = lambda mask: perm[np.sort(pos[mask])]  # noqa: E731
    return pick(~is_test & ~is_val), pick(is_val), pick(is_test)


def train_val_test_split(data, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
                         stratify=None) -> tuple:
    """Three disjoint random parts ``(train, val, test)`` of ``data``, repeatable with ``seed``.

    ``data`` is a Dataset (-> three Subsets) or an array/tensor or a tuple of them sharing their
    first dim (-> three TensorDatasets, copied so batches index contiguous memory). The test and
    validation parts get ``round(n * fraction)`` samples; with ``stratify`` (one label per
    sample) each class is split in those proportions separately, so all three parts keep the
    class balance.
    """
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"train_val_test_split: {name} must be in [0, 1), got {f}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"train_val_test_split: val_fraction + test_fraction must be below 1 so that training "
                         f"data remains, got {val_fraction} + {test_fraction}")
    if isinstance(data, Dataset) and not isinstance(data, TensorDataset):
        source = data
    else:
        source = data if isinstance(data, TensorDataset) else (
            TensorDataset(*data) if isinstance(data, (tuple, list)) else TensorDataset(data))
    n = len(source)
    labels = None if stratify is None else _labels(stratify, n)
    parts = _split_indices(n, val_fraction, test_fraction, np.random.default_rng(seed), labels)
    if isinstance(source, TensorDataset):
        return tuple(TensorDataset(*(_take(t, idx) for t in source.tensors)) for idx in parts)
    return tuple(Subset(source, idx) for idx in parts)
