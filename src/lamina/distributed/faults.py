"""Faults: when a rank dies, the others end within seconds, naming it, instead of hanging.

MPI collectives wait forever for a peer that was killed (SIGKILL, out of memory). The watchdog
is a daemon thread started by ``init_process_group`` for jobs of more than one process: it
waits on each peer process on this host (a Linux pidfd per peer wakes it the moment the peer
ends; elsewhere it checks every ``interval`` seconds that the pid exists and is not a zombie).
When one is gone it writes a report for the launcher, prints

    lamina.distributed: rank 1 (pid 4242 on host) is gone: lost rank 1; rank 0 exits (code 75)

to stderr and ends this process with ``EXIT_LOST_PEER`` (75) — ``os._exit`` works even while
the main thread is blocked inside MPI. Peers on other hosts are covered by the collectives'
timeout (``LAMINA_DIST_TIMEOUT``, see ``process_group``).

The survivors cannot count on having the time to speak: Hydra's ``hydra_pmi_proxy`` SIGKILLs
the remaining processes of the host as soon as it reaps a rank killed by a signal, even under
``-disable-auto-cleanup`` (measured with mpich 5.0: about 0.05-0.5 s after the death). So
``lamina train --nproc`` watches too: each rank leaves ``rank<r>.proc`` (host, pid) in the
launcher's job directory (``LAMINA_DIST_JOB_DIR``), the launcher waits on those processes in
the same way (``ExitWaiter``) and, if no survivor's report came, names the first rank that
ended without leaving. The job then resumes from its last checkpoint (``lamina train RUN
--resume``, with any number of processes).

A rank that finishes normally is not a lost rank: at exit (``atexit``, unless an exception is
ending the process) every rank meets the others in a barrier and leaves a marker file
(``leave()``, also called by ``destroy_process_group``); the watchdog ignores a peer that left.
"""
from __future__ import annotations

import atexit
import os
import select
import socket
import sys
import tempfile
import threading
import time

__all__ = ["EXIT_LOST_PEER", "Watchdog", "ExitWaiter", "start_watchdog", "stop_watchdog", "peer_alive", "leave",
           "write_file", "read_proc_files", "lost_message"]

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


def write_file(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half of it, even if this process
    is killed while writing)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_proc_files(job_dir: str) -> dict:
    """``{rank: (host, pid)}`` from the ``rank<r>.proc`` files the ranks left in ``job_dir``."""
    procs = {}
    try:
        names = os.listdir(job_dir)
    except OSError:
        return procs
    for name in names:
        if name.startswith("rank") and name.endswith(".proc") and name[4:-5].isdigit():
            try:
                with open(os.path.join(job_dir, name)) as f:
                    host, pid = f.read().split()
                procs[int(name[4:-5])] = (host, int(pid))
            except (OSError, ValueError):
                continue
    return procs


def lost_message(rank: int, pid: int, host: str, consequence: str) -> str:
    """The one line that names a lost rank (the survivors' watchdogs and the launcher print it)."""
    return (f"lamina.distributed: rank {rank} (pid {pid} on {host}) is gone: lost rank {rank}; {consequence}. "
            "Resume the job from its last checkpoint (lamina train RUN --resume)\n")


class ExitWaiter:
    """Waits until one of the watched processes (on this host) ends.

    ``add(key, pid)`` opens a pidfd (Linux >= 5.3), which becomes readable the moment the process
    ends, whoever its parent is, and keeps naming that process even if its pid is reused; without
    pidfds the pid is checked with ``peer_alive`` at each ``wait``. ``wait(timeout)`` returns the
    keys of the watched processes that have ended (empty after ``timeout`` s or a ``wake()``).

        w = ExitWaiter(); w.add(1, pid)
        ended = w.wait(0.5)   # [1] once pid has exited
    """

    def __init__(self):
        self._procs = {}  # key -> (pid, pidfd or None)
        self._lock = threading.Lock()  # wake() from another thread never writes to a closed fd
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(self._wake_r, select.POLLIN)

    def add(self, key, pid: int) -> None:
        fd = None
        if self._poll is not None and hasattr(os, "pidfd_open"):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fd = None  # already gone: peer_alive says so at the next wait
            except OSError:
                fd = None  # no pidfds here (old kernel, seccomp): check the pid instead
        if fd is not None:
            self._poll.register(fd, select.POLLIN)
        self._procs[key] = (pid, fd)

    def remove(self, key) -> None:
        pid, fd = self._procs.pop(key, (None, None))
        if fd is not None:
            self._poll.unregister(fd)
            os.close(fd)

    def __len__(self) -> int:
        return len(self._procs)

    def wait(self, timeout: float) -> list:
        ready = set()
        if self._poll is not None:
            ready = {fd for fd, _ in self._poll.poll(max(0.0, timeout) * 1000.0)}
        else:
            select.select([self._wake_r], [], [], max(0.0, timeout))
        if self._wake_r in ready or self._poll is None:
            try:
                while os.read(self._wake_r, 64):
                    pass
            except (BlockingIOError, OSError):
                pass
        return [key for key, (pid, fd) in list(self._procs.items())
                if (fd in ready if fd is not None else not peer_alive(pid))]

    def wake(self) -> None:
        """End the current (or next) ``wait`` early (from any thread)."""
        with self._lock:
            if self._wake_w >= 0:
                try:
                    os.write(self._wake_w, b"x")
                except OSError:
                    pass

    def close(self) -> None:
        for key in list(self._procs):
            self.remove(key)
        with self._lock:
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._wake_r = self._wake_w = -1


class Watchdog(threading.Thread):
    """Daemon thread: waits on the same-host peers of ``group`` (at once through pidfds, else every
    ``interval`` s); calls ``on_lost(rank, pid, host)`` (default: report + message +
    ``os._exit(EXIT_LOST_PEER)``) for the first one that ends without having left."""

    def __init__(self, group, interval: float = 0.5, on_lost=None):
        super().__init__(name="lamina-distributed-watchdog", daemon=True)
        self.group, self.interval = group, float(interval)
        self.on_lost = on_lost or self._exit
        self._stop_event = threading.Event()
        self.watched = [(r, pid, host) for r, (host, pid) in enumerate(group.peers)
                        if r != group.rank and host == group.hostname]
        launcher_dir = os.environ.get("LAMINA_DIST_JOB_DIR")
        self.job_dir = group.broadcast_object(  # the launcher's (lamina train --nproc), or a fresh one
            launcher_dir
            or os.path.join(tempfile.gettempdir(), f"lamina-dist-{os.getpid()}-{time.time_ns()}")
            if group.rank == 0 else None)
        self._waiter = ExitWaiter()
        for r, pid, _ in self.watched:  # the peers are alive now (they just answered the broadcast)
            self._waiter.add(r, pid)
        if launcher_dir and self.job_dir == launcher_dir:  # the launcher watches this process too
            try:
                write_file(os.path.join(self.job_dir, f"rank{group.rank}.proc"),
                           f"{socket.gethostname()} {os.getpid()}\n")
            except OSError:
                pass

        self.exit_group = group.dup()  # the at-exit barrier never matches a collective in progress

    def left(self, rank: int) -> bool:
        return os.path.exists(os.path.join(self.job_dir, f"rank{rank}.left"))

    def _exit(self, rank: int, pid: int, host: str) -> None:
        msg = lost_message(rank, pid, host, f"rank {self.group.rank} exits (code {EXIT_LOST_PEER})")
        try:  # the report first: Hydra may SIGKILL this process any moment now
            write_file(os.path.join(self.job_dir, f"lost-by-rank{self.group.rank}.txt"), msg)
        except OSError:
            pass
        try:
            sys.stderr.write(msg)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(EXIT_LOST_PEER)

    def run(self) -> None:
        peers = {r: (r, pid, host) for r, pid, host in self.watched}
        try:
            while not self._stop_event.is_set() and len(self._waiter):
                for rank in self._waiter.wait(self.interval):
                    if self._stop_event.is_set():
                        return
                    if self.left(rank):  # it finished normally
                        self._waiter.remove(rank)
                        self.watched.remove(peers[rank])
                        continue
                    self.on_lost(*peers[rank])
                    return
        finally:
            self._waiter.close()

    def stop(self) -> None:
        self._stop_event.set()
        self._waiter.wake()


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
