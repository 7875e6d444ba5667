"""``DistributedSampler``: each rank visits its own slice of the dataset (``torch.utils.data`` API).

The epoch's order is one permutation of ``range(len(dataset))`` drawn from ``seed + epoch``
(the same on every rank; ``set_epoch(e)`` before each epoch gives a new one), made divisible
by the number of replicas by repeating its first indices (``drop_last=False``) or cutting the
tail (``drop_last=True``). Rank r takes positions r, r + W, r + 2W, ... So with a per-rank batch
of B / W, the ranks' k-th batches together are exactly positions kB .. (k+1)B - 1 of the
permutation: a one-process run with batch B and ``num_replicas=1`` sees the same global batches.

    sampler = DistributedSampler(ds, num_replicas=2, rank=pg.rank, seed=0)
    loader = DataLoader(ds, batch_size=32, sampler=sampler)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for x, y in loader: ...
"""
from __future__ import annotations

import math

import numpy as np

from ..data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Indices ``perm[rank::num_replicas]`` of the epoch's (padded or cut) permutation ``perm``.

    Args:
        dataset: anything with ``len``.
        num_replicas / rank: default to the default process group's world size and rank.
        shuffle: permute each epoch (else ``0 .. n-1``); seed: the base seed, equal on all ranks.
        drop_last: cut the tail so every rank gets ``floor(n / W)`` indices (else pad to ``ceil``).
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from .process_group import get_process_group
            pg = get_process_group()
            num_replicas = pg.world_size if num_replicas is None else num_replicas
            rank = pg.rank if rank is None else rank
        if int(num_replicas) < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {int(num_replicas) - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // self.num_replicas if self.drop_last else math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose permutation the next iteration visits (call it before each epoch)."""
        self.epoch = int(epoch)

    def global_indices(self) -> np.ndarray:
        """The epoch's whole order (every rank's indices interleaved), ``total_size`` long."""
        n = len(self.dataset)
        idx = (np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle
               else np.arange(n)).astype(np.int64, copy=False)
        if self.total_size > n:  # pad by repeating the order's head (as often as needed)
            idx = np.resize(idx, self.total_size) if n else idx
        return idx[:self.total_size]

    def index_array(self) -> np.ndarray:
        return self.global_indices()[self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def state_dict(self) -> dict:
        """``{"epoch", "shuffle_seed", "num_replicas"}``: the order is a function of these (the
        position inside the epoch is the DataLoader's, counted in batches)."""
        return {"epoch": self.epoch, "shuffle_seed": self.seed, "num_replicas": self.num_replicas}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state.get("epoch", self.epoch))
        self.seed = int(state.get("shuffle_seed", self.seed))

    def __repr__(self):
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last})")
