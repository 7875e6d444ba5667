"""Matrix products split over lamina's threads (the thread policy is ``lamina/_threads.py``).

``mm`` splits a plain product by rows (or columns), ``batched_matmul`` a stack of products along
its first batch axis longer than 1; each part runs with BLAS on one thread.
"""
from __future__ import annotations

import numpy as np

from .._threads import (SPLIT_MIN_MACS, get_num_threads, in_policy, num_threads, policy, run,  # noqa: F401
                        set_num_threads, split)


def _numpy(*arrays) -> bool:
    return all(type(a) is np.ndarray for a in arrays)


def batched_matmul(a, b):
    """``a @ b`` for stacks of matrices (NumPy broadcasting rules), the stack split along its
    first batch axis longer than 1 over lamina's threads. Same result as ``np.matmul(a, b)``."""
    if not _numpy(a, b) or a.ndim < 3 and b.ndim < 3 or a.ndim < 2 or b.ndim < 2:
        return a @ b
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if a.shape[-1] != b.shape[-2]:
        return np.matmul(a, b)  # numpy's own error
    axis = next((i for i, size in enumerate(batch) if size > 1), None)  # split the first axis longer than 1
    if axis is None:
        return np.matmul(a, b)
    parts = split(batch[axis], m * k * n * int(np.prod(batch)))
    if len(parts) == 1:
        return np.matmul(a, b)
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (m, n), dtype=np.result_type(a, b))
    lead = (slice(None),) * axis

    def part(i, lo, hi):
        idx = lead + (slice(lo, hi),)
        np.matmul(a[idx], b[idx], out=out[idx])

    run(parts, part)
    return out


def mm(a, b):
    """``a @ b`` for 2-D arrays, split over lamina's threads by rows of ``a`` (or by columns of
    ``b`` when ``a`` has few rows). Same result as ``a @ b``."""
    if not _numpy(a, b) or a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        return a @ b
    (m, k), n = a.shape, b.shape[1]
    by_rows = m >= n or m >= 256
    parts = split(m if by_rows else n, m * k * n)
    if len(parts) == 1:
        return a @ b
    out = np.empty((m, n), dtype=np.result_type(a, b))

    if by_rows:
        def part(i, lo, hi):
            np.matmul(a[lo:hi], b, out=out[lo:hi])
    else:
        def part(i, lo, hi):
            np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])

    run(parts, part)
    return out
