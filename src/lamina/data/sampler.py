"""Samplers: the order in which a DataLoader visits a dataset's indices (``torch.utils.data`` names).

Random samplers draw one 63-bit *epoch seed* from their ``generator`` (the default generator
when None, so ``lamina.manual_seed(s)`` fixes the order) at the start of every epoch and make
the whole epoch's indices from it in one vectorised call. ``state_dict()`` records that seed
(and the generator's state when the sampler owns one), so a resumed run replays the same epoch.

    RandomSampler(ds, generator=lamina.Generator().manual_seed(0))
    BatchSampler(SequentialSampler(ds), batch_size=32, drop_last=False)   # lists of 32 indices
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
           "WeightedRandomSampler"]


class Sampler:
    """Yields dataset indices. Subclasses define ``__iter__`` (and ``__len__`` when known);
    the built-in ones also give ``index_array()``: the epoch's indices as one int64 array."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class _EpochRandom(Sampler):
    """Shared machinery: a fresh epoch seed per epoch, drawn from ``generator``."""

    generator: backend.Generator | None

    def _epoch_rng(self) -> np.random.Generator:
        seed = getattr(self, "_resume_seed", None)
        if seed is None:
            seed = int(backend.rng(self.generator).integers(0, 2**63 - 1))
        self._resume_seed = None
        self._seed = seed
        return np.random.default_rng(seed)

    def __iter__(self):
        return iter(self.index_array().tolist())

    def state_dict(self) -> dict:
        """``seed``: the seed of the epoch in progress (None before the first); ``generator``:
        the state of the sampler's own generator (None when it uses the default one)."""
        return {"seed": getattr(self, "_seed", None),
                "generator": self.generator.get_state() if self.generator is not None else None}

    def load_state_dict(self, state: dict, resume_epoch: bool = True) -> None:
        """Restore; with ``resume_epoch`` the next epoch replays the saved seed instead of drawing one."""
        if state.get("generator") is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        self._seed = state.get("seed")
        self._resume_seed = state.get("seed") if resume_epoch else None


def _positive_int(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class RandomSampler(_EpochRandom):
    """A random permutation of the indices each epoch, or ``num_samples`` draws with replacement.

    Without replacement and ``num_samples > len(data_source)``, whole permutations are chained
    (as torch does).
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None:
            _positive_int(num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def index_array(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        rng = self._epoch_rng()
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        parts = [rng.permutation(n) for _ in range(-(-k // n))]
        return np.concatenate(parts)[:k].astype(np.int64, copy=False)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_EpochRandom):
    """The given ``indices`` in a random order each epoch (no replacement)."""

    def __init__(self, indices, generator=None):
        if isinstance(indices, Tensor):
            indices = backend.to_device(indices.array, backend.cpu)
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = generator

    def index_array(self) -> np.ndarray:
        return self.indices[self._epoch_rng().permutation(len(self.indices))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_EpochRandom):
    """``num_samples`` indices drawn with probability ``weights[i] / sum(weights)``
    (``replacement=False``: each index at most once, as ``torch.multinomial``)."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"WeightedRandomSampler: replacement should be a boolean value, "
                            f"but got replacement={replacement!r}")
        num_samples = _positive_int(num_samples, "num_samples", "WeightedRandomSampler")
        w = backend.to_device(weights.array, backend.cpu) if isinstance(weights, Tensor) else weights
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-D sequence, got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative, with a positive sum")
        nonzero = int(np.count_nonzero(w))
        if not replacement and num_samples > nonzero:
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                             f"from {nonzero} non-zero weights")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def index_array(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        draw = self._epoch_rng().choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return draw.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` (any iterable of ints) into lists of ``batch_size``;
    the last, shorter batch is dropped when ``drop_last``.

    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def index_batches(self, skip: int = 0):
        """Yield each batch as an int64 array, skipping the first ``skip`` batches (resume).

        Vectorised (array slices) when the sampler has ``index_array()``."""
        bs = self.batch_size
        if hasattr(self.sampler, "index_array"):
            idx = self.sampler.index_array()
            stop = len(idx) - len(idx) % bs if self.drop_last else len(idx)
            for start in range(skip * bs, stop, bs):
                yield idx[start:start + bs]
            return
        for i, batch in enumerate(self._lists()):
            if i >= skip:
                yield np.asarray(batch, dtype=np.int64)

    def _lists(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self):
        if hasattr(self.sampler, "index_array"):
            return (b.tolist() for b in self.index_batches())
        return self._lists()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def state_dict(self) -> dict:
        sd = getattr(self.sampler, "state_dict", None)
        return sd() if callable(sd) else {}

    def load_state_dict(self, state: dict, resume_epoch: bool = True) -> None:
        if isinstance(self.sampler, _EpochRandom):
            self.sampler.load_state_dict(state, resume_epoch)
        elif hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state)
