"""BLAS thread policy: stacks of small matrix products run on one BLAS thread per core.

NumPy hands each matrix of a stacked ``matmul`` to BLAS separately. For the small matrices of
attention (128 products of 128×32 by 32×128 per call in the ``gpt`` workload) OpenBLAS's
threaded mode costs more than it gains: every product wakes and joins the thread team, and
when another process holds a core the team waits for a preempted thread. Measured on that
call (2 cores, one busy): 10.7 ms with two OpenBLAS threads, 3.3 ms with one.

So ``batched_matmul`` switches BLAS to one thread for the call and, when the stack is large
enough to pay for it, splits it along the leading batch axis over a small pool of Python
threads, one per BLAS thread that was configured (NumPy releases the GIL inside ``matmul``).
Large single products keep BLAS's own threads, which win there.

The switch uses threadpoolctl's handle on the BLAS library (``set_num_threads`` is global to
the process, so the previous count is restored afterwards). Without threadpoolctl, or for
CuPy arrays, everything is a plain ``matmul``.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# A product of this many multiply-adds or fewer (per matrix) counts as "small".
SMALL_MACS = 1 << 21
# Below this much work in total, a single thread does the whole stack (waking another costs more).
SPLIT_MIN_MACS = 1 << 21


class _Blas:
    """The BLAS libraries' thread controls, found once, and a thread pool to split stacks over."""

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

    def executor(self, workers: int) -> ThreadPoolExecutor:
        # a forked child (DataLoader workers) inherits the pool object but not its threads
        if self.pool is None or self.pool_pid != os.getpid() or self.pool._max_workers != workers:
            with self.lock:
                if self.pool is None or self.pool_pid != os.getpid() or self.pool._max_workers != workers:
                    self.pool = ThreadPoolExecutor(workers, thread_name_prefix="lamina-blas")
                    self.pool_pid = os.getpid()
        return self.pool


_BLAS = _Blas()
# set while a stack is being computed, so nested or concurrent calls don't fight over the count
_ACTIVE = threading.Lock()


def batched_matmul(a, b):
    """``a @ b`` for stacks of matrices (NumPy broadcasting rules), with one BLAS thread per product.

    Same result as ``np.matmul(a, b)``; only the threading differs (see the module docstring).
    """
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 3 and b.ndim < 3 \
            or a.ndim < 2 or b.ndim < 2:
        return a @ b
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if m * k * n > SMALL_MACS:
        return np.matmul(a, b)
    libs = _BLAS.controllers()
    if not libs or not _ACTIVE.acquire(blocking=False):
        return np.matmul(a, b)
    try:
        counts = [lib.num_threads for lib in libs]
        threads = max(counts)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        for lib in libs:
            lib.set_num_threads(1)
        try:
            lead = batch[0] if batch else 1
            workers = min(threads, lead)
            if workers < 2 or m * k * n * int(np.prod(batch)) < SPLIT_MIN_MACS:
                return np.matmul(a, b)
            a = np.broadcast_to(a, batch + a.shape[-2:])
            b = np.broadcast_to(b, batch + b.shape[-2:])
            out = np.empty(batch + (m, n), dtype=np.result_type(a, b))
            bounds = [lead * i // workers for i in range(workers + 1)]
            pool = _BLAS.executor(workers - 1)
            futures = [pool.submit(np.matmul, a[lo:hi], b[lo:hi], out=out[lo:hi])
                       for lo, hi in zip(bounds[1:-1], bounds[2:])]
            np.matmul(a[:bounds[1]], b[:bounds[1]], out=out[:bounds[1]])  # the caller's share
            for f in futures:
                f.result()
            return out
        finally:
            for lib, count in zip(libs, counts):
                lib.set_num_threads(count)
    finally:
        _ACTIVE.release()
