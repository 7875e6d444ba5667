"""Client splits of a dataset: IID (shuffled, equal shares) and non-IID (label skew drawn from a Dirichlet).

    parts = iid_split(len(y), num_clients=10, seed=0)           # list of index arrays
    parts = dirichlet_split(y, num_clients=10, alpha=0.5, seed=0)
    x_client, y_client = x[parts[3]], y[parts[3]]

Dirichlet label skew (Hsu, Qi & Brown 2019, "Measuring the effects of non-identical data
distribution"): for every class k, proportions p_k ~ Dir(alpha * 1_N) over the N clients, and the
samples of class k are dealt out in those proportions. alpha -> inf is IID; alpha = 0.5 gives each
client a few dominant classes; alpha -> 0 one class per client. A draw that leaves some client with
fewer than ``min_size`` samples is redrawn (the common practice), up to ``max_tries`` times.

Both splits are deterministic given ``seed`` (NumPy's PCG64) and partition the indices: every
index appears in exactly one client's array, each array sorted ascending.
"""
from __future__ import annotations

import numpy as np

__all__ = ["dirichlet_split", "iid_split", "label_histogram", "split_indices"]


def _check_clients(num_clients, n: int) -> int:
    if isinstance(num_clients, bool) or not isinstance(num_clients, (int, np.integer)) or num_clients < 1:
        raise ValueError(f"num_clients must be a positive integer, got {num_clients!r}")
    if num_clients > n:
        raise ValueError(f"num_clients = {num_clients} but the dataset has only {n} samples: every client "
                         "needs at least one")
    return int(num_clients)


def iid_split(num_samples: int, num_clients: int, seed: int = 0) -> list:
    """``num_clients`` index arrays of a random permutation of ``range(num_samples)``, sizes differing by at most 1."""
    n = int(num_samples)
    k = _check_clients(num_clients, n)
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(perm, k)]


def dirichlet_split(labels, num_clients: int, alpha: float, seed: int = 0, min_size: int = 1,
                    max_tries: int = 1000) -> list:
    """Non-IID split by label: class k's samples are dealt to the clients in proportions ~ Dir(alpha).

    ``labels``: (N,) integer class labels. Returns ``num_clients`` sorted index arrays partitioning
    ``range(N)``; each holds at least ``min_size`` samples (draws that don't are redrawn; ValueError
    after ``max_tries``).
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ValueError(f"dirichlet_split: labels must be a 1-D array of integer classes, got shape {y.shape} "
                         f"dtype {y.dtype}")
    k = _check_clients(num_clients, len(y))
    if not (isinstance(alpha, (int, float, np.floating)) and np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"dirichlet_split: alpha must be a positive number, got {alpha!r}")
    min_size = int(min_size)
    if min_size * k > len(y):
        raise ValueError(f"dirichlet_split: {k} clients with at least {min_size} samples each need "
                         f"{min_size * k} samples, the dataset has {len(y)}")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    by_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    for _ in range(int(max_tries)):
        parts = [[] for _ in range(k)]
        for idx in by_class:
            p = rng.dirichlet(np.full(k, float(alpha)))
            cuts = (np.cumsum(p)[:-1] * len(idx)).astype(np.int64)
            for i, chunk in enumerate(np.split(idx, cuts)):
                parts[i].append(chunk)
        out = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(p) for p in out) >= min_size:
            return out
    raise ValueError(f"dirichlet_split: no draw in {max_tries} gave every one of {k} clients at least {min_size} "
                     f"samples (alpha = {alpha}); raise alpha, lower min_size or use fewer clients")


def split_indices(labels, num_clients: int, alpha: float | None = None, seed: int = 0, min_size: int = 1) -> list:
    """``iid_split`` when ``alpha`` is None, else ``dirichlet_split`` (labels needed)."""
    if alpha is None:
        return iid_split(len(labels), num_clients, seed)
    return dirichlet_split(labels, num_clients, alpha, seed, min_size=min_size)


def label_histogram(labels, parts: list, num_classes: int | None = None) -> np.ndarray:
    """(clients, classes) counts of each class in each client's part: how skewed a split is."""
    y = np.asarray(labels)
    c = int(num_classes if num_classes is not None else y.max() + 1)
    return np.stack([np.bincount(y[p], minlength=c) for p in parts]) if parts else np.zeros((0, c), np.int64)
