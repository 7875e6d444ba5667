"""The process group: who am I (rank), how many are we (world size), and collectives on arrays.

``init_process_group()`` reads the MPI environment (``mpiexec -n 4 python train.py``): rank,
world size, and the local rank (the rank among the processes on this host). Launched without
MPI, it returns a single-process group (rank 0 of 1) whose collectives return their input, so
the same script runs with and without ``mpiexec``. mpi4py is imported only under MPI.

Collectives work in place on NumPy arrays (or a Tensor's array; CuPy arrays are staged through
the host):

    all_reduce(x)            x = sum_r x_r                  (op="mean": / world_size; "max", "min")
    broadcast(x, src=0)      x = x_src
    all_gather(x)            (world_size, *x.shape) stacked x_r
    barrier()                every rank reaches this line before any leaves it

Every wait polls with a deadline (``LAMINA_DIST_TIMEOUT`` seconds, default 600): a collective
that a dead peer never joins raises ``DistributedError`` instead of hanging (the watchdog of
``lamina.distributed.faults`` catches a dead peer on this host within a second or two).

    pg = init_process_group()
    print(pg.rank, pg.world_size, pg.local_rank)
"""
from __future__ import annotations

import os
import socket
import time

import numpy as np

from .. import backend

__all__ = ["DistributedError", "ProcessGroup", "init_process_group", "destroy_process_group", "get_process_group",
           "is_initialized", "get_rank", "get_world_size", "is_main_process", "launched_by_mpi", "all_reduce",
           "broadcast", "all_gather", "barrier"]

# environment variables set by MPI launchers (MPICH/Hydra, Intel MPI, Open MPI, PMIx, Slurm's PMI)
_MPI_ENV = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID", "HYDRA_CONTROL_FD")
_OPS = ("sum", "mean", "max", "min")
_INSTALL = "pip install 'lamina[distributed]' (mpi4py and the mpich wheel, which brings mpiexec)"


class DistributedError(RuntimeError):
    """A collective failed: a peer died, or it did not join within the timeout."""


def launched_by_mpi() -> bool:
    """True when this process was started by an MPI launcher (mpiexec/mpirun/srun)."""
    return any(k in os.environ for k in _MPI_ENV)


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"lamina.distributed: this process was launched by MPI but mpi4py is missing: {_INSTALL}") \
            from e
    return MPI


def _timeout() -> float:
    return float(os.environ.get("LAMINA_DIST_TIMEOUT", "600"))


def _host_array(x):
    """(host NumPy array, copy-back function or None) for a Tensor / NumPy / CuPy array."""
    arr = x.array if hasattr(x, "array") and not isinstance(x, np.ndarray) else x
    if isinstance(arr, np.ndarray):
        if not arr.flags.c_contiguous:
            raise ValueError(f"lamina.distributed: collectives need a C-contiguous array, got strides {arr.strides}")
        return arr, None
    host = backend.to_device(arr, backend.cpu)

    def back(h, dst=arr):
        dst[...] = backend.array_module(dst).asarray(h)
    return np.ascontiguousarray(host), back


class ProcessGroup:
    """The processes of one job. ``rank`` in ``0 .. world_size - 1``; ``local_rank`` counts the
    processes on this host (pick a GPU with it). ``comm`` is the mpi4py communicator (None when
    single-process). Build it with :func:`init_process_group`."""

    def __init__(self, comm=None):
        self.comm = comm
        self.hostname = socket.gethostname()
        if comm is None:
            self.rank, self.world_size, self.local_rank, self.local_world_size = 0, 1, 0, 1
            self.backend = "single"
            self.peers = [(self.hostname, os.getpid())]
            return
        self.backend = "mpi"
        self.rank, self.world_size = comm.Get_rank(), comm.Get_size()
        mpi = _import_mpi()
        local = comm.Split_type(mpi.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_world_size = local.Get_rank(), local.Get_size()
        local.Free()
        self.peers = comm.allgather((self.hostname, os.getpid()))  # (host, pid) of every rank: the watchdog's
        self._mpi = mpi

    # ------------------------------------------------------------ helpers
    def _wait(self, req, what: str, timeout: float | None = None):
        """Poll ``req`` until done, yielding the CPU between polls; raise after the timeout."""
        timeout = _timeout() if timeout is None else float(timeout)
        deadline, spins, nap = time.monotonic() + timeout, 0, 2e-5
        while not req.Test():
            spins += 1
            if spins > 100:
                time.sleep(nap)
                nap = min(nap * 2, 1e-3)
            if time.monotonic() > deadline:
                raise DistributedError(f"lamina.distributed: rank {self.rank}: {what} did not complete within "
                                       f"{timeout:.0f} s (a peer died or hangs; LAMINA_DIST_TIMEOUT sets the limit)")

    def dup(self) -> "ProcessGroup":
        """A group over the same processes with its own communicator (its collectives never match
        another group's)."""
        if self.comm is None:
            return ProcessGroup(None)
        return ProcessGroup(self.comm.Dup())

    # ------------------------------------------------------------ collectives on arrays
    def all_reduce(self, x, op: str = "sum"):
        """In place: ``x = op over ranks of x_r``; returns ``x`` (op: sum, mean, max, min)."""
        if op not in _OPS:
            raise ValueError(f"all_reduce: op must be one of {_OPS}, got {op!r}")
        if self.comm is None:
            return x
        arr, back = _host_array(x)
        mop = {"sum": self._mpi.SUM, "mean": self._mpi.SUM, "max": self._mpi.MAX, "min": self._mpi.MIN}[op]
        self._wait(self.comm.Iallreduce(self._mpi.IN_PLACE, arr, op=mop), f"all_reduce({op}) of {arr.shape}")
        if op == "mean":
            if arr.dtype.kind not in "fc":
                raise TypeError(f"all_reduce(op='mean') needs a floating array, got {arr.dtype}")
            arr /= self.world_size
        if back is not None:
            back(arr)
        return x

    def iall_reduce(self, arr: np.ndarray):
        """Start ``arr = sum_r arr_r`` (in place, host NumPy array); returns the MPI request (or None
        when single-process): ``.Test()`` / ``.Wait()`` it, or :meth:`wait`."""
        if self.comm is None:
            return None
        return self.comm.Iallreduce(self._mpi.IN_PLACE, arr, op=self._mpi.SUM)

    def wait(self, req, what: str = "a collective") -> None:
        if req is not None:
            self._wait(req, what)

    def broadcast(self, x, src: int = 0):
        """In place: ``x = x_src``; returns ``x``."""
        if self.comm is None:
            return x
        arr, back = _host_array(x)
        self._wait(self.comm.Ibcast(arr, root=src), f"broadcast of {arr.shape} from rank {src}")
        if back is not None:
            back(arr)
        return x

    def all_gather(self, x) -> np.ndarray:
        """A new host array of shape ``(world_size, *x.shape)``: row r is rank r's ``x``."""
        arr, _ = _host_array(x)
        if self.comm is None:
            return arr[None].copy()
        out = np.empty((self.world_size,) + arr.shape, dtype=arr.dtype)
        self._wait(self.comm.Iallgather(arr, out), f"all_gather of {arr.shape}")
        return out

    def barrier(self, timeout: float | None = None) -> None:
        if self.comm is not None:
            self._wait(self.comm.Ibarrier(), "barrier", timeout)

    # ------------------------------------------------------------ small Python objects (metadata)
    def broadcast_object(self, obj, src: int = 0):
        """``obj`` of rank ``src`` on every rank (small metadata: run directory, metric states)."""
        if self.comm is None:
            return obj
        return self.comm.bcast(obj, root=src)

    def all_gather_object(self, obj) -> list:
        if self.comm is None:
            return [obj]
        return self.comm.allgather(obj)

    def abort(self, code: int = 1) -> None:
        """End every process of the job now (MPI_Abort)."""
        if self.comm is not None:
            self.comm.Abort(code)
        os._exit(code)

    def __repr__(self):
        return (f"ProcessGroup(backend={self.backend!r}, rank={self.rank}, world_size={self.world_size}, "
                f"local_rank={self.local_rank})")


_default: ProcessGroup | None = None


def init_process_group(backend: str | None = None, watchdog: bool = True) -> ProcessGroup:
    """The default process group, made on the first call (later calls return it).

    ``backend``: None picks "mpi" when launched by an MPI launcher, else "single" (one process);
    "mpi" forces MPI (a singleton MPI job without a launcher). With more than one process and
    ``watchdog``, a thread watches the peers and ends this process, naming the lost rank, when
    one dies (``lamina.distributed.faults``).
    """
    global _default
    if _default is not None:
        return _default
    if backend not in (None, "mpi", "single"):
        raise ValueError(f"init_process_group: backend must be 'mpi', 'single' or None, got {backend!r}")
    if backend == "single" or (backend is None and not launched_by_mpi()):
        _default = ProcessGroup(None)
        return _default
    mpi = _import_mpi()
    _default = ProcessGroup(mpi.COMM_WORLD)
    if watchdog and _default.world_size > 1:
        from .faults import start_watchdog
        start_watchdog(_default)
    return _default


def destroy_process_group() -> None:
    """Forget the default group (and stop its watchdog)."""
    global _default
    from .faults import leave
    leave()
    _default = None


def get_process_group() -> ProcessGroup:
    """The default group (made by :func:`init_process_group` if needed)."""
    return _default if _default is not None else init_process_group()


def is_initialized() -> bool:
    return _default is not None


def get_rank() -> int:
    return get_process_group().rank


def get_world_size() -> int:
    return get_process_group().world_size


def is_main_process() -> bool:
    """Rank 0: the process that logs, prints and writes files."""
    return get_process_group().rank == 0


def all_reduce(x, op: str = "sum", group: ProcessGroup | None = None):
    return (group or get_process_group()).all_reduce(x, op)


def broadcast(x, src: int = 0, group: ProcessGroup | None = None):
    return (group or get_process_group()).broadcast(x, src)


def all_gather(x, group: ProcessGroup | None = None) -> np.ndarray:
    return (group or get_process_group()).all_gather(x)


def barrier(group: ProcessGroup | None = None) -> None:
    (group or get_process_group()).barrier()
