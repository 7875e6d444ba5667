"""BLAS thread policy: many small products run one BLAS thread per core, side by side.

NumPy hands each matrix of a stacked ``matmul`` to BLAS separately, and a convolution is a
handful of medium GEMMs between memory-bound copies (im2col, col2im). OpenBLAS's threaded mode
loses on such calls: every product wakes and joins its thread team, the copies around it run
on one core, and when another process holds a core the team waits for a preempted thread.
Measured (2 cores): attention's stacked product of 128 (128×32)·(32×128) matrices took
10.7 ms on two OpenBLAS threads and 3.3 ms on one; single calls stalled for up to 2 s.

So these ops split their work into contiguous chunks along the batch axis and run the chunks
on a small pool of Python threads (NumPy releases the GIL in ``matmul`` and in array copies)
while BLAS itself is set to one thread. The pool has as many threads as BLAS was configured
to use, so ``OPENBLAS_NUM_THREADS=1`` still means one core. Large single products (an MLP's
layers, a transformer's projections) keep BLAS's own threads, which win there.

    parts = split(n, macs)          # [(0, 16), (16, 32)], or [(0, 32)] when not worth it
    run(parts, fn)                  # fn(i, lo, hi) for every part, in parallel, BLAS on 1 thread

The thread switch uses threadpoolctl's handle on the BLAS library (``set_num_threads`` is
global to the process, so the previous count is restored afterwards). Without threadpoolctl,
or for CuPy arrays, every op runs as one part.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# A product of this many multiply-adds or fewer (per matrix) counts as "small" for batched_matmul.
SMALL_MACS = 1 << 21
# Below this much work in total, one thread does it all (waking another costs more).
SPLIT_MIN_MACS = 1 << 21


class _Blas:
    """The BLAS libraries' thread controls, found once, and the thread pool that runs the parts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.libs = None      # threadpoolctl lib controllers whose thread count we can set
        self.pool = None
        self.pool_pid = None

    def controllers(self):
        if self.libs is None:
            with self.lock:
                if self.libs is None:
                    try:
                        from threadpoolctl import ThreadpoolController
                        libs = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                                if hasattr(lib, "set_num_threads")]
                    except Exception:  # no threadpoolctl, or a BLAS it can't drive: no policy
                        libs = []
                    self.libs = libs
        return self.libs

    def threads(self) -> int:
        """The number of threads BLAS is configured to use (1 without a drivable BLAS)."""
        return max((lib.num_threads for lib in self.controllers()), default=1)

    def executor(self, workers: int) -> ThreadPoolExecutor:
        # a forked child (DataLoader workers) inherits the pool object but not its threads
        with self.lock:
            if self.pool is None or self.pool_pid != os.getpid() or self.pool._max_workers != workers:
                self.pool = ThreadPoolExecutor(workers, thread_name_prefix="lamina-blas")
                self.pool_pid = os.getpid()
            return self.pool


_BLAS = _Blas()
# held while parts run, so nested or concurrent calls run serially instead of fighting over the count
_ACTIVE = threading.Lock()


def split(n: int, macs: int, min_macs: int | None = None) -> list:
    """Contiguous ``(lo, hi)`` parts of ``range(n)``: one per BLAS thread when the work (``macs``
    multiply-adds in all) is worth splitting, else the single part ``[(0, n)]``."""
    threads = min(_BLAS.threads(), n)
    if threads < 2 or macs < (SPLIT_MIN_MACS if min_macs is None else min_macs):
        return [(0, n)]
    bounds = [n * i // threads for i in range(threads + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run(parts: list, fn) -> None:
    """Call ``fn(i, lo, hi)`` for each part with BLAS set to one thread, the parts shared out in
    contiguous groups over as many threads as BLAS was configured to use. Exceptions propagate."""
    libs = _BLAS.controllers()
    if not libs or not _ACTIVE.acquire(blocking=False):
        for i, (lo, hi) in enumerate(parts):
            fn(i, lo, hi)
        return
    try:
        counts = [lib.num_threads for lib in libs]
        workers = min(max(counts), len(parts))
        if max(counts) > 1:
            for lib in libs:
                lib.set_num_threads(1)

        def group(g):
            for i in range(len(parts) * g // workers, len(parts) * (g + 1) // workers):
                fn(i, *parts[i])

        try:
            if workers == 1:
                group(0)
                return
            futures = [_BLAS.executor(workers - 1).submit(group, g) for g in range(1, workers)]
            try:
                group(0)  # the caller's own share
            finally:
                for f in futures:
                    f.result()
        finally:
            if max(counts) > 1:
                for lib, count in zip(libs, counts):
                    lib.set_num_threads(count)
    finally:
        _ACTIVE.release()


def batched_matmul(a, b):
    """``a @ b`` for stacks of matrices (NumPy broadcasting rules); stacks of small products
    run with one BLAS thread per core, split along the leading batch axis.

    Same result as ``np.matmul(a, b)``; only the threading differs (see the module docstring).
    """
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 3 and b.ndim < 3 \
            or a.ndim < 2 or b.ndim < 2:
        return a @ b
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if m * k * n > SMALL_MACS or not _BLAS.controllers():
        return np.matmul(a, b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if len(batch) == 0 or a.shape[-1] != b.shape[-2]:
        return np.matmul(a, b)  # numpy's own result or error
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (m, n), dtype=np.result_type(a, b))
    parts = split(batch[0], m * k * n * int(np.prod(batch)))

    def part(i, lo, hi):
        np.matmul(a[lo:hi], b[lo:hi], out=out[lo:hi])

    run(parts, part)  # one part: still on one BLAS thread, small products gain nothing from a team
    return out
