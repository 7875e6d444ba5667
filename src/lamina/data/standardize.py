"""``Standardize``: (x - mean) / std with statistics fitted on training data only."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from .transform_base import Transform

__all__ = ["Standardize"]


class Standardize(Transform):
    """Per-feature standardisation fitted on training data: ``y = (x - mean) / std``.

    ``fit(x)`` computes ``mean`` and the population ``std`` over ``dim`` (default 0, the sample
    dim: one statistic per feature; ``dim=(0, 2, 3)`` gives per-channel statistics of NCHW
    images), in float64, stored in ``x``'s dtype. Features whose std is below ``eps`` are only
    centred (std taken as 1), as scikit-learn's StandardScaler does. ``inverse(y) = y * std + mean``.
    The transform applies to a batch shaped like the fitted data or to a single sample (the
    sample dim dropped), and returns the same kind it gets (Tensor or NumPy array).

    >>> scaler = Standardize().fit(x_train)       # x_train: (N, F)
    >>> x_test_std = scaler(x_test)
    """

    def __init__(self, dim=0, eps: float = 1e-7):
        self.dim = (dim,) if isinstance(dim, int) else tuple(dim)
        self.eps = float(eps)
        self.mean = None
        self.std = None

    def fit(self, x) -> "Standardize":
        arr = backend.to_device(x.array, backend.cpu) if isinstance(x, Tensor) else np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"Standardize.fit: expected numeric data, got dtype {arr.dtype}")
        dims = tuple(sorted(d % arr.ndim for d in self.dim)) if arr.ndim else ()
        if any(not -arr.ndim <= d < arr.ndim for d in self.dim):
            raise ValueError(f"Standardize.fit: dim {self.dim} is out of range for data of shape {arr.shape}")
        if any(arr.shape[d] == 0 for d in dims):
            raise ValueError(f"Standardize.fit: cannot fit on empty data of shape {arr.shape}")
        a64 = arr.astype(np.float64)
        mean = a64.mean(axis=dims, keepdims=True)
        std = a64.std(axis=dims, keepdims=True)
        std[std < self.eps] = 1.0
        out = arr.dtype if arr.dtype.kind == "f" else backend.get_default_dtype()
        self.mean, self.std = mean.astype(out), std.astype(out)
        self._dims = dims
        return self

    def fit_transform(self, x):
        return self.fit(x)(x)

    def _stats(self, x, op: str):
        if self.mean is None:
            raise RuntimeError(f"Standardize.{op}: call fit(x) on the training data first")
        ndim, shape = x.ndim, tuple(x.shape)
        mean, std = self.mean, self.std
        if ndim == mean.ndim - 1 and 0 in self._dims:  # a single sample: drop the sample dim
            mean, std = mean[0], std[0]
        elif ndim != mean.ndim:
            raise ValueError(f"Standardize.{op}: fitted on {mean.ndim}-d data (statistics of shape "
                             f"{self.mean.shape}) but got input of shape {shape}")
        try:
            np.broadcast_shapes(mean.shape, shape)
        except ValueError:
            raise ValueError(f"Standardize.{op}: input of shape {shape} does not match the fitted statistics "
                             f"of shape {self.mean.shape}") from None
        if isinstance(x, Tensor):
            xp = x.xp
            dt = x.dtype if x.dtype.kind == "f" else mean.dtype
            mean = Tensor._wrap(xp.asarray(mean, dtype=dt))
            std = Tensor._wrap(xp.asarray(std, dtype=dt))
        return mean, std

    def __call__(self, x):
        x = x if isinstance(x, Tensor) else np.asarray(x)
        mean, std = self._stats(x, "__call__")
        if isinstance(x, Tensor) and x.dtype.kind != "f":
            x = x.to(mean.dtype)
        return (x - mean) / std

    def inverse(self, y):
        y = y if isinstance(y, Tensor) else np.asarray(y)
        mean, std = self._stats(y, "inverse")
        return y * std + mean

    def state_dict(self) -> dict:
        if self.mean is None:
            return {"dim": list(self.dim), "eps": self.eps}
        return {"dim": list(self.dim), "eps": self.eps, "mean": Tensor._wrap(self.mean.copy()),
                "std": Tensor._wrap(self.std.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.dim, self.eps = tuple(state["dim"]), float(state["eps"])
        if "mean" in state:
            conv = lambda v: backend.to_device(v.array, backend.cpu) if isinstance(v, Tensor) else np.asarray(v)  # noqa: E731
            self.mean, self.std = conv(state["mean"]).copy(), conv(state["std"]).copy()
            self._dims = tuple(sorted(d % self.mean.ndim for d in self.dim))
        else:
            self.mean = self.std = None

    def extra_repr(self) -> str:
        fitted = "" if self.mean is None else f", fitted on {self.mean.ndim}-d data"
        return f"dim={self.dim if len(self.dim) > 1 else self.dim[0]}, eps={self.eps}{fitted}"
