"""MNIST-1D (Greydanus, 2020): 1-D signals of length 40 made from 10 digit templates.

Generated locally by the ``mnist1d`` package (the optional extra ``lamina[datasets]``) with its
``make_dataset``: nothing is downloaded, nothing is unpickled. Small and hard enough that an
MLP and a CNN differ clearly; generating 5000 samples takes a few seconds.

    (x_train, y_train), (x_test, y_test) = load_mnist1d()      # (4000, 40), (1000, 40) float32
"""
from __future__ import annotations

import functools
import random

import numpy as np

from ...tensor import Tensor

__all__ = ["load_mnist1d"]


@functools.lru_cache(maxsize=4)
def _generate(n_samples: int, seed: int, train_split: float) -> tuple:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise ImportError("load_mnist1d needs the mnist1d package, which is not installed: "
                          "pip install lamina[datasets]  (or: pip install mnist1d)") from e
    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = n_samples, seed, train_split
    np_state, py_state = np.random.get_state(), random.getstate()
    try:  # make_dataset seeds NumPy's and Python's global generators: restore them afterwards
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    out = (data["x"].astype(np.float32), data["y"].astype(np.int64),
           data["x_test"].astype(np.float32), data["y_test"].astype(np.int64))
    for a in out:
        a.setflags(write=False)
    return out


def load_mnist1d(n_samples: int = 5000, seed: int = 42, train_split: float = 0.8, as_numpy: bool = False) -> tuple:
    """``((x_train, y_train), (x_test, y_test))`` of MNIST-1D.

    ``n_samples`` signals in all (rounded down to a multiple of 10: the same number per
    class), generated from ``seed`` (42 and 5000 are the package's defaults, those of the
    published data set), shuffled, standardised to mean 0 and std 1, and split
    ``train_split`` : ``1 - train_split``. x: (N, 40) float32; y: (N,) int64 in 0..9. Lamina
    Tensors, or NumPy arrays with ``as_numpy``. Results are cached; each call returns copies.
    """
    if int(n_samples) < 10:
        raise ValueError(f"load_mnist1d: n_samples must be at least 10 (one per class), got {n_samples}")
    if not 0.0 < train_split < 1.0:
        raise ValueError(f"load_mnist1d: train_split must be in (0, 1), got {train_split}")
    arrays = [a.copy() for a in _generate(int(n_samples), int(seed), float(train_split))]
    if not as_numpy:
        arrays = [Tensor._wrap(a) for a in arrays]
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])
