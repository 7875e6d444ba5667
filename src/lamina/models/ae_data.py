"""Data for autoencoders: input corruption (noise transforms) and ``(input, target)`` pairs.

    noisy = MaskingNoise(0.3, generator=g)(x)        # each element zeroed with probability 0.3
    noisy = GaussianNoise(0.2, generator=g)(x)       # x + 0.2 ε   (lamina.data.GaussianNoise)
    train = ReconstructionDataset(train_ds, noise=MaskingNoise(0.3, generator=g))   # (noisy x, x)
    loader = DataLoader(train, batch_size=64, shuffle=True)

Both transforms work on whole batches (one draw for the batch, no loop over samples), on
Tensors or arrays of any shape, and draw from their ``generator`` (or lamina's default one), so a
seed repeats them.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..data.augment import GaussianNoise
from ..data.dataset import Dataset, TensorDataset, batch_fetcher
from ..data.transform_base import Transform
from ..tensor import Tensor

__all__ = ["GaussianNoise", "MaskingNoise", "ReconstructionDataset"]


def _raw(x, owner):
    if isinstance(x, Tensor):
        return x.array, True
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise TypeError(f"{owner}: input should be float data, got dtype {arr.dtype}")
    return arr, False


class MaskingNoise(Transform):
    """Masking noise: ``y = x · m`` with m_j ~ Bernoulli(1 - p) drawn per element (dropout without rescaling).

    >>> MaskingNoise(0.5, generator=lamina.Generator().manual_seed(0))(lamina.ones(2, 4))   # about half zeros
    """

    def __init__(self, p: float = 0.25, value: float = 0.0, *, generator=None):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"MaskingNoise: p should be in [0, 1], got {p}")
        self.p, self.value, self.generator = float(p), float(value), generator

    def get_params(self, x) -> dict:
        arr, _ = _raw(x, "MaskingNoise")
        return {"mask": backend.rng(self.generator).random(arr.shape) < self.p}

    def apply(self, x, params: dict):
        arr, is_tensor = _raw(x, "MaskingNoise")
        if arr.dtype.kind != "f":
            raise TypeError(f"MaskingNoise: input should be float data, got dtype {arr.dtype}")
        xp = backend.array_module(arr)
        mask = xp.asarray(params["mask"])
        if mask.shape != arr.shape:
            raise ValueError(f"MaskingNoise: mask of shape {tuple(mask.shape)} does not fit input of shape {tuple(arr.shape)}")
        out = xp.where(mask, arr.dtype.type(self.value), arr)
        return Tensor._wrap(out) if is_tensor else out

    def __call__(self, x):
        return self.apply(x, self.get_params(x))

    def extra_repr(self) -> str:
        return f"p={self.p}" + (f", value={self.value}" if self.value else "")


class ReconstructionDataset(Dataset):
    """``(noise(x), x)`` pairs from a data set, for training autoencoders and VAEs with the Trainer.

    ``data`` is a Dataset whose samples are ``x`` or ``(x, label, ...)``, or a Tensor/array of
    inputs. Labels are dropped, except with ``conditional=True``: then a sample is
    ``((noise(x), label), x)``, the input of a conditional model. ``noise`` (a batched
    transform, e.g. :class:`MaskingNoise`) corrupts the input only; None keeps it clean.
    Array-backed data keeps the DataLoader's fast path (one fetch and one noise draw per batch).

    >>> loader = DataLoader(ReconstructionDataset(train_ds, noise=MaskingNoise(0.3)), 64, shuffle=True)
    """

    def __init__(self, data, noise=None, conditional: bool = False):
        if isinstance(data, (Tensor, np.ndarray)):
            data = TensorDataset(data if isinstance(data, Tensor) else Tensor._wrap(np.asarray(data)))
        if noise is not None and not callable(noise):
            raise TypeError(f"ReconstructionDataset: noise must be a callable transform or None, got {type(noise).__name__}")
        self.dataset, self.noise, self.conditional = data, noise, bool(conditional)
        fetch = batch_fetcher(data)
        if fetch is not None:
            self.get_batch = lambda indices: self._pair(fetch(indices))

    def _pair(self, sample):
        if isinstance(sample, (tuple, list)):
            x = sample[0]
            label = sample[1] if len(sample) > 1 else None
        else:
            x, label = sample, None
        noisy = x if self.noise is None else self.noise(x)
        if self.conditional:
            if label is None:
                raise ValueError("ReconstructionDataset(conditional=True): the data has no labels; its samples "
                                 "must be (x, label)")
            return [noisy, label], x
        return noisy, x

    def __getitem__(self, index):
        noisy, x = self._pair(self.dataset[index])
        return (tuple(noisy) if isinstance(noisy, list) else noisy), x

    def __len__(self) -> int:
        return len(self.dataset)

    def __repr__(self):
        return f"ReconstructionDataset({self.dataset!r}, noise={self.noise!r}, conditional={self.conditional})"
