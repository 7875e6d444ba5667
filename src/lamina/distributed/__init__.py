"""lamina.distributed: data-parallel training over MPI (mpi4py + ``mpiexec``).

    pg = init_process_group()                      # rank, world size, local rank (1 process without MPI)
    model = DistributedDataParallel(net)           # bucketed gradient all-reduce overlapped with backward
    sampler = DistributedSampler(ds, seed=0)       # each rank its slice; sampler.set_epoch(e) per epoch
    net = SyncBatchNorm.convert_sync_batchnorm(net)

Run it with ``mpiexec -n 4 python train.py``, or ``lamina train CONFIG --nproc 4``. Install the
extra with ``pip install 'lamina[distributed]'`` (mpi4py and the ``mpich`` wheel, which brings
``mpiexec``). Importing this package does not import mpi4py; only ``init_process_group`` under
an MPI launcher does.
"""
from .ddp import DistributedDataParallel, allreduce_gradients
from .faults import EXIT_LOST_PEER, Watchdog, start_watchdog, stop_watchdog
from .process_group import (DistributedError, ProcessGroup, all_gather, all_reduce, barrier, broadcast,
                            destroy_process_group, get_process_group, get_rank, get_world_size, init_process_group,
                            is_initialized, is_main_process, launched_by_mpi)
from .sampler import DistributedSampler
from .sync_batchnorm import SyncBatchNorm, sync_batch_norm
from .training import (DistributedLogs, SetEpoch, print0, rank_zero_callbacks, rank_zero_only, reduce_mean,
                       reduce_metrics)

__all__ = ["DistributedDataParallel", "allreduce_gradients", "EXIT_LOST_PEER", "Watchdog", "start_watchdog",
           "stop_watchdog", "DistributedError", "ProcessGroup", "all_gather", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "get_process_group", "get_rank", "get_world_size", "init_process_group",
           "is_initialized", "is_main_process", "launched_by_mpi", "DistributedSampler", "SyncBatchNorm",
           "sync_batch_norm", "DistributedLogs", "SetEpoch", "print0", "rank_zero_callbacks", "rank_zero_only",
           "reduce_mean", "reduce_metrics"]
