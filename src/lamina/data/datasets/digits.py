"""The 8x8 handwritten digits bundled with scikit-learn (1797 images, 10 classes).

No download: the data ships inside scikit-learn, the optional extra ``lamina[datasets]``.

    x, y = load_digits()                       # (1797, 64) float32 in [0, 1], (1797,) int64
    train, val, test = load_digits_splits(seed=0)
"""
from __future__ import annotations

import functools

import numpy as np

from ...tensor import Tensor
from ..split import train_val_test_split

__all__ = ["load_digits", "load_digits_splits"]


@functools.lru_cache(maxsize=1)
def _raw() -> tuple:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as e:
        raise ImportError("load_digits needs scikit-learn, which is not installed: "
                          "pip install lamina[datasets]  (or: pip install scikit-learn)") from e
    bunch = sk_load_digits()
    x = (bunch.data.astype(np.float32) / np.float32(16.0))  # pixel intensities are 0..16
    y = bunch.target.astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_digits(as_images: bool = False, as_numpy: bool = False) -> tuple:
    """Features and labels of the digits data set.

    Features are float32 in [0, 1], shape (1797, 64), or (1797, 1, 8, 8) with ``as_images``
    (NCHW, for convolutional nets); labels are int64 in 0..9. Lamina Tensors, or NumPy
    arrays with ``as_numpy``. Each call returns fresh copies.
    """
    x, y = _raw()
    x, y = x.copy(), y.copy()
    if as_images:
        x = x.reshape(-1, 1, 8, 8)
    if as_numpy:
        return x, y
    return Tensor._wrap(x), Tensor._wrap(y)


def load_digits_splits(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                       as_images: bool = False, stratify: bool = True) -> tuple:
    """``(train, val, test)`` TensorDatasets of ``(features, labels)``, split with ``seed``.

    With ``stratify`` (default) every part keeps the class proportions of the whole set.
    """
    x, y = load_digits(as_images=as_images, as_numpy=True)
    return train_val_test_split((x, y), val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                                stratify=y if stratify else None)
