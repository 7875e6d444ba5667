"""lamina's intra-op threads: BLAS runs on one thread, and lamina splits the work itself.

NumPy's OpenBLAS threads every product above a small size, and lamina's ops are mostly products
between memory-bound copies (im2col, col2im, cell updates) that run on the calling thread. Left
to itself, OpenBLAS's second thread wakes for every product, sits idle through the copies (an
OpenBLAS worker spins for a long while before it sleeps, taking a core from everything else),
and waits for a preempted thread whenever another process holds a core. Measured on 2 cores:

* attention's stack of 128 (128×32)·(32×128) products: 10.7 ms on two OpenBLAS threads,
  3.3 ms on one; single calls stalled for up to 2 s when the machine was busy;
* the lstm step: 94-118 ms with two OpenBLAS threads, burning 2× its wall time in CPU, and
  76 ms with BLAS on one thread and the batch split over two threads of lamina's own.

So lamina takes the threads over when it loads: it reads how many threads BLAS was configured
to use (``OPENBLAS_NUM_THREADS``, else one per core), keeps that as its own thread count
(``lamina.get_num_threads`` / ``set_num_threads``), and sets BLAS to one thread. An op then
splits its work into contiguous parts, one per thread, and runs them on a small pool of Python
threads (NumPy releases the GIL in ``matmul`` and in array loops):

    parts = split(n, macs)          # [(0, 16), (16, 32)], or [(0, 32)] when not worth waking a thread
    run(parts, fn)                  # fn(i, lo, hi) for every part, side by side

Conv splits its batch (im2col + GEMM + col2im per part), attention and batched matmul their
stacks, recurrent layers their sequences (each part runs the whole time loop), and ``mm`` a
plain product's rows or columns. Without threadpoolctl (or a BLAS it cannot drive) lamina
leaves BLAS alone and runs every op as one part.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Below this much work in total, one thread does it all (waking another costs more).
SPLIT_MIN_MACS = 1 << 21


class _Threads:
    """BLAS's thread controls (found once), lamina's thread count, and the pool that runs the parts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.libs = None      # threadpoolctl controllers of the BLAS libraries we drive
        self.count = 1        # lamina's threads: the parts an op is split into
        self.pool = None
        self.pool_pid = None
        self.pool_size = 0

    def take_over(self):
        """Find the BLAS libraries, adopt their thread count, set them to one thread."""
        if self.libs is None:
            with self.lock:
                if self.libs is None:
                    try:
                        from threadpoolctl import ThreadpoolController
                        libs = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                                if hasattr(lib, "set_num_threads")]
                    except Exception:  # no threadpoolctl, or a BLAS it can't drive: leave BLAS alone
                        libs = []
                    if libs:
                        self.count = max(1, max(lib.num_threads for lib in libs))
                        for lib in libs:
                            lib.set_num_threads(1)
                    self.libs = libs
        return self.libs

    def executor(self, workers: int) -> ThreadPoolExecutor:
        # a forked child (DataLoader workers) inherits the pool object but not its threads
        with self.lock:
            if self.pool is None or self.pool_pid != os.getpid() or self.pool_size < workers:
                self.pool = ThreadPoolExecutor(workers, thread_name_prefix="lamina")
                self.pool_pid, self.pool_size = os.getpid(), workers
            return self.pool


_T = _Threads()
# held while parts run, so nested or concurrent calls run serially instead of oversubscribing
_ACTIVE = threading.Lock()


def get_num_threads() -> int:
    """The number of threads lamina splits an op's work over (BLAS itself runs on one)."""
    _T.take_over()
    return _T.count


def set_num_threads(n: int) -> None:
    """Split ops over ``n`` threads from now on (like ``torch.set_num_threads``); Numba's parallel
    kernels follow, up to the ``NUMBA_NUM_THREADS`` they started with."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _T.take_over()
    _T.count = n
    try:
        import numba
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except Exception:  # pragma: no cover - numba missing or its pool not startable
        pass


def split(n: int, macs: int, min_macs: int | None = None) -> list:
    """Contiguous ``(lo, hi)`` parts of ``range(n)``: one per thread when the work (``macs``
    multiply-adds in all) is worth splitting, else the single part ``[(0, n)]``."""
    _T.take_over()
    threads = min(_T.count, n)
    if threads < 2 or macs < (SPLIT_MIN_MACS if min_macs is None else min_macs):
        return [(0, n)]
    bounds = [n * i // threads for i in range(threads + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run(parts: list, fn, serial=None) -> None:
    """Call ``fn(i, lo, hi)`` for each part, the parts shared out in contiguous groups over
    lamina's threads, BLAS on one thread throughout. Exceptions propagate.

    Parts that synchronise with each other (a barrier per step) must run side by side: they
    pass ``serial``, called instead when they cannot (one part, or another op's parts running).
    """
    libs = _T.take_over()
    if len(parts) == 1 or not _ACTIVE.acquire(blocking=False):
        if serial is not None:
            serial()
            return
        for i, (lo, hi) in enumerate(parts):
            fn(i, lo, hi)
        return
    try:
        counts = [lib.num_threads for lib in libs]
        reset = any(c > 1 for c in counts)  # someone raised BLAS's threads since: one each while parts run
        if reset:
            for lib in libs:
                lib.set_num_threads(1)
        workers = len(parts) if serial is not None else min(_T.count, len(parts))

        def group(g):
            for i in range(len(parts) * g // workers, len(parts) * (g + 1) // workers):
                fn(i, *parts[i])

        try:
            futures = [_T.executor(workers - 1).submit(group, g) for g in range(1, workers)]
            try:
                group(0)  # the caller's own share
            finally:
                for f in futures:
                    f.result()
        finally:
            if reset:
                for lib, count in zip(libs, counts):
                    lib.set_num_threads(count)
    finally:
        _ACTIVE.release()


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
