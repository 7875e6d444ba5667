"""Experience replay: a uniform ring buffer and a prioritised one (Schaul et al., 2016).

Uniform: transitions ``(s, a, r, s', d)`` live in preallocated arrays; the write position wraps
around (``pos = (pos + 1) mod capacity``), overwriting the oldest; ``sample(B)`` draws indices
i.i.d. uniform over the filled part (with replacement).

Prioritised (proportional variant), priorities ``p_i = |delta_i| + eps`` (new transitions get
the largest priority seen so far)::

    P(i) = p_i^alpha / sum_k p_k^alpha
    w_i  = (N * P(i))^(-beta) / max_j (N * P(j))^(-beta)      (max over the sampled batch)

Sampling is stratified: the total mass is cut into B equal segments and one ``u`` drawn
uniformly in each; a sum tree (every node holds the sum of its children, leaves hold
``p^alpha``) finds the leaf whose prefix-sum interval holds ``u`` in O(log N), vectorised over
the batch.

    buf = ReplayBuffer(100_000, obs_shape=(4,), action_shape=(), action_dtype=np.int64)
    buf.add(obs, action, reward, next_obs, terminated)     # leading axis: the env copies
    batch = buf.sample(64, rng)                            # batch.obs (64, 4), batch.actions (64,)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Batch", "ReplayBuffer", "PrioritizedReplayBuffer"]


def _np(x):
    return np.asarray(getattr(x, "array", x))


class Batch(NamedTuple):
    """A sampled minibatch; ``weights`` is None for uniform replay."""
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    indices: np.ndarray
    weights: np.ndarray | None = None


class ReplayBuffer:
    """A ring buffer of ``capacity`` transitions (float32 observations, rewards and done flags).

    ``dones`` stores *termination* only (1.0 when the episode ended in a terminal state): a
    time-limit truncation still bootstraps from ``next_obs``.
    """

    def __init__(self, capacity: int, obs_shape, action_shape=(), action_dtype=np.int64, obs_dtype=np.float32):
        capacity = int(capacity)
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _slots(self, n: int):
        if n == 1:
            return self.pos
        return (self.pos + np.arange(n)) % self.capacity

    def add(self, obs, actions, rewards, next_obs, dones) -> None:
        """Store one transition per env copy (arrays with a leading axis of length n_envs)."""
        n = len(rewards)
        if n > self.capacity:
            raise ValueError(f"ReplayBuffer.add: {n} transitions don't fit a capacity of {self.capacity}")
        i = self._slots(n)
        if n == 1:
            obs, actions, next_obs = obs[0], actions[0], next_obs[0]
            rewards, dones = rewards[0], dones[0]
        self.obs[i] = obs
        self.actions[i] = actions
        self.rewards[i] = rewards
        self.next_obs[i] = next_obs
        self.dones[i] = dones
        self._written(i)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def _written(self, i) -> None:
        pass

    def _gather(self, idx, weights=None) -> Batch:
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.dones[idx],
                     idx, weights)

    def sample(self, batch_size: int, rng: np.random.Generator, **_) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement: ``idx = rng.integers(0, size, B)``."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        return self._gather(rng.integers(0, self.size, size=batch_size))

    def state_dict(self) -> dict:
        n = self.size
        return {"capacity": self.capacity, "pos": self.pos, "size": n, "obs": self.obs[:n].copy(),
                "next_obs": self.next_obs[:n].copy(), "actions": self.actions[:n].copy(),
                "rewards": self.rewards[:n].copy(), "dones": self.dones[:n].copy()}

    def load_state_dict(self, state: dict) -> None:
        if int(state["capacity"]) != self.capacity:
            raise ValueError(f"{type(self).__name__}.load_state_dict: saved capacity {state['capacity']}, "
                             f"this buffer has {self.capacity}")
        n = int(state["size"])
        for k in ("obs", "next_obs", "actions", "rewards", "dones"):
            src = _np(state[k])
            dst = getattr(self, k)
            if src.shape[1:] != dst.shape[1:]:
                raise ValueError(f"{type(self).__name__}.load_state_dict: saved {k} of shape {src.shape[1:]} per "
                                 f"transition, this buffer holds {dst.shape[1:]}")
            dst[:n] = src
        self.pos, self.size = int(state["pos"]), n


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritised replay (see the module docstring); ``alpha`` sets how strongly
    priorities bias sampling (0: uniform), ``beta`` (passed to ``sample``) the importance-weight
    correction (1: full)."""

    def __init__(self, capacity: int, obs_shape, action_shape=(), action_dtype=np.int64, obs_dtype=np.float32,
                 alpha: float = 0.6, eps: float = 1e-6):
        super().__init__(capacity, obs_shape, action_shape, action_dtype, obs_dtype)
        if alpha < 0:
            raise ValueError(f"PrioritizedReplayBuffer: alpha must be >= 0, got {alpha}")
        self.alpha, self.eps = float(alpha), float(eps)
        self._leaves = 1 << max(0, (capacity - 1).bit_length())
        self.tree = np.zeros(2 * self._leaves, dtype=np.float64)
        self.max_priority = 1.0

    # ---- sum tree
    def _set(self, idx, values) -> None:
        tree, L = self.tree, self._leaves
        if np.ndim(idx) == 0:
            j = int(idx) + L
            tree[j] = values
            j >>= 1
            while j >= 1:
                tree[j] = tree[2 * j] + tree[2 * j + 1]
                j >>= 1
            return
        nodes = np.asarray(idx) + L
        tree[nodes] = values
        nodes = np.unique(nodes >> 1)
        while nodes[0] >= 1:
            tree[nodes] = tree[2 * nodes] + tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes >> 1)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def find(self, u) -> np.ndarray:
        """Leaf indices whose prefix-sum interval ``[S_{i-1}, S_i)`` holds each ``u`` (mass units)."""
        u = np.array(u, dtype=np.float64)
        idx = np.ones(u.shape, dtype=np.int64)
        while idx[0] < self._leaves:
            left = 2 * idx
            lv = self.tree[left]
            right = u >= lv
            u = np.where(right, u - lv, u)
            idx = left + right
        return np.minimum(idx - self._leaves, self.size - 1)

    def probabilities(self, idx=None) -> np.ndarray:
        """``P(i) = p_i^alpha / sum p^alpha`` for stored transitions ``idx`` (all by default)."""
        idx = np.arange(self.size) if idx is None else np.asarray(idx)
        return self.tree[idx + self._leaves] / self.total

    def _written(self, i) -> None:
        self._set(i, self.max_priority ** self.alpha)

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        """Stratified proportional sampling; ``weights`` are the normalised importance weights."""
        if self.size == 0:
            raise ValueError("PrioritizedReplayBuffer.sample: the buffer is empty")
        seg = self.total / batch_size
        u = (np.arange(batch_size) + rng.random(batch_size)) * seg
        idx = self.find(u)
        w = (self.size * self.probabilities(idx)) ** (-float(beta))
        return self._gather(idx, (w / w.max()).astype(np.float32))

    def update_priorities(self, idx, td_errors) -> None:
        """``p_i = |delta_i| + eps`` for the sampled ``idx`` (after the learning step)."""
        p = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(p.max()))
        self._set(np.asarray(idx), p ** self.alpha)

    def state_dict(self) -> dict:
        st = super().state_dict()
        st.update(priorities=self.tree[self._leaves:self._leaves + self.size].copy(), max_priority=self.max_priority,
                  alpha=self.alpha)
        return st

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tree[:] = 0.0
        n = self.size
        if n:
            self._set(np.arange(n), _np(state["priorities"]).astype(np.float64))
        self.max_priority = float(state["max_priority"])
