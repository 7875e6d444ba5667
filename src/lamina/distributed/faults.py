"""Faults: when a rank dies, the others end within seconds, naming it, instead of hanging.

MPI collectives wait forever for a peer that was killed (SIGKILL, out of memory). The watchdog
is a daemon thread started by ``init_process_group`` for jobs of more than one process: every
``interval`` seconds it checks that each peer process on this host is still alive (its pid,
learnt at start-up, exists and is not a zombie). When one is gone it prints

    lamina.distributed: rank 1 (pid 4242 on host) is gone: lost rank 1; rank 0 exits (code 75)

to stderr and ends this process with ``EXIT_LOST_PEER`` (75) — ``os._exit`` works even while
the main thread is blocked inside MPI. Peers on other hosts are covered by the collectives'
timeout (``LAMINA_DIST_TIMEOUT``, see ``process_group``), and by the launcher: Hydra's mpiexec
kills the remaining processes when one ends abnormally (``lamina train --nproc`` starts mpiexec
with ``-disable-auto-cleanup``, so the watchdog's message is the one you read). The job then
resumes from its last checkpoint (``lamina train RUN --resume``, with any number of processes).

A rank that finishes normally is not a lost rank: at exit (``atexit``, unless an exception is
ending the process) every rank meets the others in a barrier and leaves a marker file
(``leave()``, also called by ``destroy_process_group``); the watchdog ignores a peer that left.
"""
from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading
import time

__all__ = ["EXIT_LOST_PEER", "Watchdog", "start_watchdog", "stop_watchdog", "peer_alive", "leave"]

EXIT_LOST_PEER = 75  # EX_TEMPFAIL: try again (resume)

_watchdog = None
_failed = False  # an uncaught exception is ending this process: don't wait for the others at exit


def peer_alive(pid: int) -> bool:
    """True while the process ``pid`` (on this host) exists and has not exited (zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(pid, 0) is all we know


class Watchdog(threading.Thread):
    """Daemon thread: checks the same-host peers of ``group`` every ``interval`` s; calls
    ``on_lost(rank, pid, host)`` (default: message + ``os._exit(EXIT_LOST_PEER)``) for a dead one."""

    def __init__(self, group, interval: float = 0.5, on_lost=None):
        super().__init__(name="lamina-distributed-watchdog", daemon=True)
        self.group, self.interval = group, float(interval)
        self.on_lost = on_lost or self._exit
        self._stop_event = threading.Event()
        self.watched = [(r, pid, host) for r, (host, pid) in enumerate(group.peers)
                        if r != group.rank and host == group.hostname]
        self.job_dir = group.broadcast_object(  # the launcher's (lamina train --nproc), or a fresh one
            os.environ.get("LAMINA_DIST_JOB_DIR")
            or os.path.join(tempfile.gettempdir(), f"lamina-dist-{os.getpid()}-{time.time_ns()}")
            if group.rank == 0 else None)

        self.exit_group = group.dup()  # the at-exit barrier never matches a collective in progress

    def left(self, rank: int) -> bool:
        return os.path.exists(os.path.join(self.job_dir, f"rank{rank}.left"))

    def _exit(self, rank: int, pid: int, host: str) -> None:
        msg = (f"lamina.distributed: rank {rank} (pid {pid} on {host}) is gone: lost rank {rank}; "
               f"rank {self.group.rank} exits (code {EXIT_LOST_PEER}). Resume the job from its last "
               "checkpoint (lamina train RUN --resume)\n")
        sys.stderr.write(msg)
        sys.stderr.flush()
        try:  # also for the launcher: mpiexec may stop forwarding output once a rank has died
            os.makedirs(self.job_dir, exist_ok=True)
            with open(os.path.join(self.job_dir, f"lost-by-rank{self.group.rank}.txt"), "w") as f:
                f.write(msg)
        except OSError:
            pass
        os._exit(EXIT_LOST_PEER)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for rank, pid, host in list(self.watched):
                if not peer_alive(pid):
                    if self.left(rank):  # it finished normally
                        self.watched.remove((rank, pid, host))
                        continue
                    self.on_lost(rank, pid, host)
                    return

    def stop(self) -> None:
        self._stop_event.set()


def start_watchdog(group, interval: float | None = None) -> Watchdog:
    """Start (once) the watchdog of ``group``; ``LAMINA_DIST_WATCHDOG_INTERVAL`` sets the period."""
    global _watchdog
    if _watchdog is None:
        if interval is None:
            interval = float(os.environ.get("LAMINA_DIST_WATCHDOG_INTERVAL", "0.5"))
        _watchdog = Watchdog(group, interval)
        _watchdog.start()
        _install_exit_hooks()
    return _watchdog


def leave() -> None:
    """Say this rank is finishing normally (its peers' watchdogs won't call it lost); stop ours."""
    w = _watchdog
    if w is None:
        return
    try:
        os.makedirs(w.job_dir, exist_ok=True)
        open(os.path.join(w.job_dir, f"rank{w.group.rank}.left"), "w").close()
    except OSError:
        pass
    stop_watchdog()


def mark_failed() -> None:
    """This process is ending on an error: at exit, don't wait for the others (they will find it
    gone and stop, naming it)."""
    global _failed
    _failed = True


def _install_exit_hooks() -> None:
    previous = sys.excepthook

    def hook(*exc):
        global _failed
        _failed = True
        previous(*exc)
    sys.excepthook = hook
    atexit.register(_at_exit)


def _at_exit() -> None:
    w = _watchdog
    if w is None or _failed:
        return
    try:
        w.exit_group.barrier(timeout=60.0)  # everyone is done: nobody is lost by leaving now
    except Exception:  # noqa: BLE001 - exiting anyway
        return
    leave()


def stop_watchdog() -> None:
    global _watchdog
    if _watchdog is not None:
        _watchdog.stop()
        _watchdog = None
