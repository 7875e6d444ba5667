"""``lamina train CONFIG --nproc N``: the command-line side of data-parallel training.

* ``relaunch(args)``: run the same ``lamina train`` command under ``mpiexec -n N`` (the mpiexec of
  this Python environment, from the ``mpich`` wheel, else the one on PATH) and return its exit code.
* ``setup_run(...)`` turns one process of the job into a data-parallel worker of the run:
  the training loader is re-made with a ``DistributedSampler`` and a per-rank batch of
  ``batch_size / world_size`` (the config's batch size stays the *global* batch, so the optimizer
  sees the same batches whatever the number of processes), BatchNorm becomes SyncBatchNorm, the
  Trainer's batches go through ``DistributedDataParallel``, the epoch logs are reduced over the
  ranks, and the writers (checkpoints, metrics.csv, TensorBoard, progress) run on rank 0 only:
  the run directory is the one a single-process run writes.

Checkpoints count positions in global batches, so a run resumes with any number of processes
(``--resume --nproc M``, or ``--nproc 1`` in-process, which keeps the data order).
"""
from __future__ import annotations

import os
import shutil
import sys

from .process_group import launched_by_mpi  # noqa: F401  (the CLI asks here)

__all__ = ["mpiexec_path", "relaunch", "shard_train_loader", "setup_model", "setup_trainer"]

_INSTALL = "pip install 'lamina[distributed]' (mpi4py and the mpich wheel, which brings mpiexec)"


def mpiexec_path() -> str | None:
    """The mpiexec beside this Python (a venv with the mpich wheel), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.isfile(here) and os.access(here, os.X_OK) else shutil.which("mpiexec")


def _is_hydra(exe: str) -> bool:
    import subprocess
    try:
        out = subprocess.run([exe, "-h"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return "-disable-auto-cleanup" in out.stdout + out.stderr


def relaunch_command(args, exe: str) -> list:
    # -disable-auto-cleanup (Hydra): a lost rank is detected and named by the survivors' watchdogs
    hydra = ["-disable-auto-cleanup"] if _is_hydra(exe) else []
    cmd = [exe, *hydra, "-n", str(args.nproc), sys.executable, "-m", "lamina", "train", args.config]
    for kv in args.overrides:
        cmd += ["--set", kv]
    for flag in ("resume", "quiet"):
        if getattr(args, flag):
            cmd.append("--" + flag)
    if args.name:
        cmd += ["--name", args.name]
    if args.run_dir:
        cmd += ["--run-dir", args.run_dir]
    return cmd + ["--nproc", str(args.nproc)]


class _RankMonitor:
    """The launcher's own watch over the ranks on this host, for when no survivor lives to name the
    lost rank (Hydra's proxy SIGKILLs the others as soon as it reaps a killed rank, even under
    ``-disable-auto-cleanup``). The ranks' pids come from the ``rank<r>.proc`` files they leave in
    ``job_dir``; ``lost`` is ``[(rank, pid, host)]`` of the first rank(s) seen ending without a
    ``rank<r>.left`` marker (empty while none)."""

    def __init__(self, job_dir: str, nproc: int):
        import socket
        import threading

        from .faults import ExitWaiter
        self.job_dir, self.nproc, self.host = job_dir, int(nproc), socket.gethostname()
        self.lost = []
        self._waiter, self._procs = ExitWaiter(), {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lamina-launcher-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from .faults import read_proc_files
        try:
            while True:
                if len(self._procs) < self.nproc:  # ranks still starting: look for their files
                    for rank, (host, pid) in read_proc_files(self.job_dir).items():
                        if rank not in self._procs and host == self.host:
                            self._procs[rank] = (rank, pid, host)
                            self._waiter.add(rank, pid)
                ended = self._waiter.wait(0.1 if len(self._procs) < self.nproc else 1.0)
                gone = [r for r in sorted(ended)
                        if not os.path.exists(os.path.join(self.job_dir, f"rank{r}.left"))]
                for r in ended:
                    self._waiter.remove(r)
                if gone:
                    self.lost = [self._procs[r] for r in gone]
                    return
                if self._done.is_set():
                    return
        finally:
            self._waiter.close()

    def stop(self) -> list:
        """Stop watching (mpiexec has ended) and return ``lost``."""
        self._done.set()
        self._waiter.wake()
        self._thread.join(timeout=5.0)
        return self.lost


def relaunch(args) -> int:
    """Run ``lamina train`` again under ``mpiexec -n args.nproc``; its exit code (a rank killed by
    a signal gives mpiexec's non-zero code). A lost rank is named on stderr: by the survivors'
    report in the job directory, else by this process, which watches the ranks of this host."""
    import subprocess

    from ..cli.errors import CLIError
    from .faults import lost_message
    exe = mpiexec_path()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        exe = None
    if exe is None:
        raise CLIError(f"--nproc {args.nproc} needs mpiexec and mpi4py: {_INSTALL}")
    import tempfile
    env = dict(os.environ)
    job_dir = tempfile.mkdtemp(prefix="lamina-dist-")
    env["LAMINA_DIST_JOB_DIR"] = job_dir  # the ranks' watchdogs report a lost rank here
    threads = str(max(1, (os.cpu_count() or 1) // int(args.nproc)))
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(k, threads)  # N processes share the cores
    try:
        monitor = _RankMonitor(job_dir, args.nproc)
        try:
            code = subprocess.call(relaunch_command(args, exe), env=env)
        except KeyboardInterrupt:
            code = 130
        lost = monitor.stop()
        reports = sorted(f for f in os.listdir(job_dir) if f.startswith("lost-by-rank") and f.endswith(".txt"))
        if code != 0 and reports:
            with open(os.path.join(job_dir, reports[0])) as f:
                sys.stderr.write(f.read())
        elif code != 0 and lost:
            for rank, pid, host in lost:
                sys.stderr.write(lost_message(rank, pid, host, f"the job stopped (mpiexec exit code {code})"))
        sys.stderr.flush()
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    return code


def group_for(args):
    """The process group when this ``lamina train`` is data-parallel (``--nproc`` given, or run by
    an MPI launcher), else None (the ordinary single-process path)."""
    from .process_group import init_process_group
    if getattr(args, "nproc", None) is None and not launched_by_mpi():
        return None
    return init_process_group()


def shard_train_loader(loader, cfg: dict, group):
    """The training loader of one rank: DistributedSampler (seed ``train.seed``), per-rank batch
    ``data.batch_size / world_size``."""
    from ..cli.errors import ConfigError
    from ..data import DataLoader
    from .sampler import DistributedSampler
    if loader is None:
        return None
    w = group.world_size
    batch = int(cfg["data"]["batch_size"])
    if batch % w:
        raise ConfigError(f"data.batch_size = {batch} is the global batch of the {w} processes: it must be "
                          f"divisible by {w}")
    sampler = DistributedSampler(loader.dataset, w, group.rank, shuffle=bool(cfg["data"]["shuffle"]),
                                 seed=int(cfg["train"]["seed"]), drop_last=bool(cfg["data"]["drop_last"]))
    return DataLoader(loader.dataset, batch_size=batch // w, sampler=sampler, drop_last=bool(cfg["data"]["drop_last"]),
                      collate_fn=None if loader._fetch_batch is not None else loader.collate_fn)


def setup_model(model, group):
    """BatchNorm -> SyncBatchNorm when there is more than one process (global-batch statistics)."""
    if group.world_size == 1:
        return model
    from .sync_batchnorm import SyncBatchNorm
    return SyncBatchNorm.convert_sync_batchnorm(model, group)


def setup_trainer(trainer, loader, group) -> None:
    """Route the Trainer's batches through DDP; global epoch logs; writers on rank 0 only."""
    from .ddp import DistributedDataParallel
    from .training import DistributedLogs, SetEpoch, rank_zero_callbacks
    if group.world_size > 1:
        trainer.forward_model = DistributedDataParallel(trainer.model, process_group=group)
    front = [DistributedLogs(group)]
    if loader is not None:
        front.append(SetEpoch(loader.sampler))
    trainer.callbacks = front + rank_zero_callbacks(trainer.callbacks, group)
    if group.world_size > 1:
        _leave_after_fit(trainer, group)


def _leave_after_fit(trainer, group) -> None:
    """After a successful ``fit`` every rank meets the others and leaves the watchdog (rank 0 then
    scores the test split alone); a failing ``fit`` marks this rank failed (no barrier at exit)."""
    from . import faults
    fit = trainer.fit

    def fit_then_leave(*args, **kwargs):
        try:
            history = fit(*args, **kwargs)
        except BaseException:
            faults.mark_failed()
            raise
        group.barrier()
        faults.leave()
        return history
    trainer.fit = fit_then_leave
