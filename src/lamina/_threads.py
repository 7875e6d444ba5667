"""Thread policy — lamina's intra-op threads: inside lamina's work BLAS runs on one thread and lamina splits
the work itself; outside it, BLAS is left exactly as the user set it.

NumPy's OpenBLAS threads every product above a small size, and lamina's ops are mostly products
between memory-bound copies (im2col, col2im, cell updates) that run on the calling thread. Left
to itself, OpenBLAS's second thread wakes for every product, sits idle through the copies (an
OpenBLAS worker spins for a long while before it sleeps, taking a core from everything else),
and waits for a preempted thread whenever another process holds a core. Measured on 2 cores:

* attention's stack of 128 (128×32)·(32×128) products: 10.7 ms on two OpenBLAS threads,
  3.3 ms on one; single calls stalled for up to 2 s when the machine was busy;
* the lstm step: 94-118 ms with two OpenBLAS threads, burning 2× its wall time in CPU, and
  76 ms with BLAS on one thread and the batch split over two threads of lamina's own.

So lamina owns the threads *while it works*, and only then. Importing lamina changes nothing:
lamina's thread count (``lamina.get_num_threads`` / ``set_num_threads``) starts as the count
BLAS is configured with (``OPENBLAS_NUM_THREADS``, else one per core). ``policy`` is the region
of lamina's work — a module's forward, a backward pass, the Trainer's loops — entered by the
outermost of them: it sets BLAS to one thread and puts the user's setting back when the last
one leaves. An op splits its work into contiguous parts, one per thread, and runs them on a
small pool of Python threads (NumPy and the Numba kernels release the GIL):

    parts = split(n, macs)          # [(0, 16), (16, 32)], or [(0, 32)] when not worth waking a thread
    run(parts, fn)                  # fn(i, lo, hi) for every part, side by side

An op called outside any region (``F.linear`` in a user's own loop) does the same for its parts,
holding BLAS at one thread only while they run. Conv splits its batch (im2col + GEMM + col2im
per part), attention and batched matmul their stacks, recurrent layers their sequences (each
part runs the whole time loop), norms and softmax their rows or channels, and ``mm`` a plain
product's rows or columns. Without threadpoolctl (or a BLAS it cannot drive) lamina leaves BLAS
alone and runs every op as one part.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Below this much work in total, one thread does it all (waking another costs more).
SPLIT_MIN_MACS = 1 << 21


class _Threads:
    """BLAS's thread controls (found once), lamina's thread count, the policy region's depth and
    the pool that runs the parts."""

    def __init__(self):
        self.lock = threading.RLock()
        self.libs = None      # threadpoolctl controllers of the BLAS libraries we drive
        self.count = 1        # lamina's threads: the parts an op is split into
        self.depth = 0        # how many policy regions are open (all threads together)
        self.saved = None     # the user's BLAS thread counts while a region is open
        self.pool = None
        self.pool_pid = None
        self.pool_size = 0

    def discover(self):
        """Find the BLAS libraries and adopt their configured thread count (changes nothing)."""
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


def _one_blas_thread(libs):
    """Set every BLAS library to one thread; the previous counts, or None if all were at one."""
    counts = [lib.num_threads for lib in libs]
    if not any(c > 1 for c in counts):
        return None
    for lib in libs:
        lib.set_num_threads(1)
    return counts


def _restore_blas(libs, counts) -> None:
    if counts is not None:
        for lib, count in zip(libs, counts):
            lib.set_num_threads(count)


class _Policy:
    """``with policy:`` — lamina's work: BLAS on one thread until the outermost region leaves,
    then the user's setting again. Re-entrant and shared by all threads."""

    __slots__ = ()

    def __enter__(self):
        t = _T
        with t.lock:
            if t.depth == 0:
                t.saved = _one_blas_thread(t.discover())
            t.depth += 1
        return self

    def __exit__(self, *exc):
        t = _T
        with t.lock:
            t.depth -= 1
            if t.depth == 0:
                _restore_blas(t.libs, t.saved)
                t.saved = None
        return False


policy = _Policy()


def in_policy() -> bool:
    """True inside lamina's work (a policy region is open)."""
    return _T.depth > 0


def get_num_threads() -> int:
    """The number of threads lamina splits an op's work over (BLAS itself runs on one meanwhile)."""
    _T.discover()
    return _T.count


def set_num_threads(n: int) -> None:
    """Split ops over ``n`` threads from now on (like ``torch.set_num_threads``); BLAS's own
    setting, used outside lamina's work, is not changed."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _T.discover()
    _T.count = n


class num_threads:
    """``with lamina.num_threads(n):`` — lamina's ops split over ``n`` threads inside the block."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.prev = get_num_threads()
        set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        set_num_threads(self.prev)
        return False


def split(n: int, macs: int, min_macs: int | None = None) -> list:
    """Contiguous ``(lo, hi)`` parts of ``range(n)``: one per thread when the work (``macs``
    multiply-adds in all) is worth splitting, else the single part ``[(0, n)]``."""
    _T.discover()
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
    libs = _T.discover()
    if len(parts) == 1 or not _ACTIVE.acquire(blocking=False):
        if serial is not None:
            serial()
            return
        for i, (lo, hi) in enumerate(parts):
            fn(i, lo, hi)
        return
    try:
        # BLAS on one thread while the parts run (a no-op inside a policy region, where it already is)
        counts = _one_blas_thread(libs)
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
            _restore_blas(libs, counts)
    finally:
        _ACTIVE.release()


def in_parts(kernel, total: int, work: int, *args, min_work: int | None = None) -> None:
    """``kernel(*args, lo, hi)`` over ``range(total)``, cut into one part per thread of lamina's
    when ``work`` (multiply-adds in all) is at least ``min_work``."""
    run(split(total, work, min_macs=min_work), lambda i, lo, hi: kernel(*args, lo, hi))


def under_policy(fn):
    """Decorator: run ``fn`` as lamina's work (the Trainer's loops), inside one policy region."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with policy:
            return fn(*args, **kwargs)

    return wrapper
