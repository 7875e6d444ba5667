"""The rollout buffer of on-policy agents: T steps of N ``gymnasium.vector`` environments.

A rollout is filled one vector step at a time (every array is (T, N, ...)), then
:meth:`RolloutBuffer.compute_returns` runs generalised advantage estimation over it
(:func:`lamina.rl.gae.compute_gae`) and :meth:`RolloutBuffer.minibatches` cuts the T·N
transitions into shuffled minibatches of index arrays:

    A, R = GAE(r, V, terminated, truncated, V(s_T), V(final_obs); γ, λ)
    minibatches = split(permutation(T·N), batch_size)

:class:`OnPolicyAgent` (at the end of this file) is the loop REINFORCE, A2C and PPO share: fill
the buffer by acting in the vector env, run GAE, let the subclass update, empty the buffer.

    >>> buf = RolloutBuffer(32, 8, obs_shape=(4,), action_shape=())
    >>> buf.add(obs, actions, log_probs, values, rewards, terminated, truncated, final_values)
    >>> buf.compute_returns(last_values, gamma=0.98, gae_lambda=0.8)
"""
from __future__ import annotations

import numpy as np

from .gae import compute_gae

__all__ = ["RolloutBuffer"]

_FIELDS = ("obs", "actions", "log_probs", "values", "rewards", "terminated", "truncated", "final_values",
           "advantages", "returns")


class RolloutBuffer:
    """Storage for ``n_steps`` × ``n_envs`` transitions of one rollout (arrays, no graph).

    Args:
        n_steps, n_envs: T and N.
        obs_shape: one environment's observation shape.
        action_shape: one action's shape (``()`` for a discrete index).
        action_dtype: int64 for discrete, float for continuous actions.
        dtype: the float dtype of observations, values and advantages (float32).
    """

    def __init__(self, n_steps: int, n_envs: int, obs_shape, action_shape=(), action_dtype=np.int64,
                 dtype=np.float32):
        if int(n_steps) < 1 or int(n_envs) < 1:
            raise ValueError(f"RolloutBuffer: n_steps and n_envs must be >= 1, got {n_steps} and {n_envs}")
        self.n_steps, self.n_envs = int(n_steps), int(n_envs)
        T, N = self.n_steps, self.n_envs
        self.obs = np.zeros((T, N, *obs_shape), dtype=dtype)
        self.actions = np.zeros((T, N, *action_shape), dtype=action_dtype)
        self.log_probs = np.zeros((T, N), dtype=dtype)
        self.values = np.zeros((T, N), dtype=dtype)
        self.rewards = np.zeros((T, N), dtype=dtype)
        self.terminated = np.zeros((T, N), dtype=bool)
        self.truncated = np.zeros((T, N), dtype=bool)
        self.final_values = np.zeros((T, N), dtype=dtype)
        self.advantages = np.zeros((T, N), dtype=dtype)
        self.returns = np.zeros((T, N), dtype=dtype)
        self.pos = 0

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def reset(self) -> None:
        self.pos = 0

    def add(self, obs, actions, log_probs, values, rewards, terminated, truncated, final_values=None) -> None:
        """Store one vector step: the observation acted on, the stored action, log π(a|s), V(s), and
        the step's reward and flags; ``final_values`` is V(final_obs) for truncated environments."""
        if self.full:
            raise RuntimeError(f"RolloutBuffer: full ({self.n_steps} steps); call reset() after the update")
        t = self.pos
        self.obs[t] = obs
        self.actions[t] = actions
        self.log_probs[t] = log_probs
        self.values[t] = values
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.final_values[t] = 0.0 if final_values is None else final_values
        self.pos = t + 1

    def compute_returns(self, last_values, gamma: float, gae_lambda: float) -> None:
        """Fill ``advantages`` and ``returns`` (T, N) by GAE; ``last_values`` is V(s_T) (N,)."""
        if not self.full:
            raise RuntimeError(f"RolloutBuffer: compute_returns needs a full rollout, have {self.pos} of "
                               f"{self.n_steps} steps")
        adv, ret = compute_gae(self.rewards, self.values, self.terminated, self.truncated, last_values,
                               gamma, gae_lambda, self.final_values)
        self.advantages[...] = adv
        self.returns[...] = ret

    def flat(self, name: str) -> np.ndarray:
        """Field ``name`` with the (T, N) axes merged into one of T·N transitions (a view)."""
        a = getattr(self, name)
        return a.reshape(self.n_steps * self.n_envs, *a.shape[2:])

    def minibatches(self, batch_size: int, rng: np.random.Generator) -> list:
        """A shuffled split of the T·N transition indices into index arrays of ``batch_size`` (the
        last one smaller when batch_size does not divide T·N)."""
        n = self.n_steps * self.n_envs
        if not 1 <= batch_size:
            raise ValueError(f"RolloutBuffer: batch_size must be >= 1, got {batch_size}")
        perm = rng.permutation(n)
        return [perm[i:i + batch_size] for i in range(0, n, batch_size)]

    def state_dict(self) -> dict:
        d = {k: getattr(self, k).copy() for k in _FIELDS}
        d["pos"] = self.pos
        return d

    def load_state_dict(self, state: dict) -> None:
        for k in _FIELDS:
            src = np.asarray(getattr(state[k], "array", state[k]))
            dst = getattr(self, k)
            if src.shape != dst.shape:
                raise ValueError(f"RolloutBuffer.load_state_dict: {k} has shape {src.shape}, expected {dst.shape}")
            dst[...] = src
        self.pos = int(state["pos"])


# ---------------------------------------------------------------- the on-policy loop (REINFORCE, A2C, PPO)
from .base import Agent  # noqa: E402  (the buffer above needs nothing from it)


class OnPolicyAgent(Agent):
    """The rollout-then-update loop that REINFORCE, A2C and PPO share.

    One iteration: act ``n_steps`` times in the N vector-env copies with the current policy
    (:meth:`ActorCritic.act` on arrays, no graph), storing each step in the :class:`RolloutBuffer`;
    then A, R = GAE(...) with V(s_T) of the observation after the rollout; then the subclass's
    :meth:`_update` (gradient steps on the stored data); then the buffer is emptied. The learning
    rate follows lr_k = lr_0 · (1 - steps / total_steps) when ``anneal_lr`` (``total_steps`` is the
    ``learn`` target, so a resumed run anneals exactly as an uninterrupted one). A stop requested
    by a callback mid-rollout leaves the partial rollout in the buffer (it is part of the state),
    and the next ``learn`` continues filling it.

    Subclasses implement ``_make_optimizer()`` and ``_update()`` (setting ``self.train_info``).
    """

    algorithm = ""  # abstract: not registered

    def __init__(self, env, *, n_steps: int, gamma: float, gae_lambda: float, learning_rate: float,
                 anneal_lr: bool, max_grad_norm: float | None, policy_kwargs: dict | None, seed: int, n_envs: int,
                 log_interval: int, verbose: int, env_kwargs: dict | None):
        super().__init__(env, seed=seed, n_envs=n_envs, log_interval=log_interval, verbose=verbose,
                         env_kwargs=env_kwargs)
        from .policies import ActorCritic
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"{type(self).__name__}: n_steps must be an int >= 1, got {n_steps!r}")
        if not learning_rate > 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be > 0, got {learning_rate!r}")
        if not 0.0 <= gamma <= 1.0 or not 0.0 <= gae_lambda <= 1.0:
            raise ValueError(f"{type(self).__name__}: gamma and gae_lambda must be in [0, 1], "
                             f"got {gamma}, {gae_lambda}")
        self.n_steps, self.gamma, self.gae_lambda = int(n_steps), float(gamma), float(gae_lambda)
        self.learning_rate, self.anneal_lr = float(learning_rate), bool(anneal_lr)
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.policy_kwargs = dict(policy_kwargs or {})
        with self._seeded():
            self.policy = ActorCritic(self.observation_space, self.action_space, **self.policy_kwargs)
        self.params = list(self.policy.parameters())
        discrete = self.policy.kind == "discrete"
        self.buffer = RolloutBuffer(self.n_steps, self.n_envs, tuple(self.observation_space.shape),
                                    self.policy.action_shape, np.int64 if discrete else np.float32)
        self.optimizer = self._make_optimizer()
        self.iterations = 0
        self.n_updates = 0
        self.config.update(n_steps=self.n_steps, gamma=self.gamma, gae_lambda=self.gae_lambda,
                           learning_rate=self.learning_rate, anneal_lr=self.anneal_lr,
                           max_grad_norm=self.max_grad_norm, policy_kwargs=self.policy_kwargs)

    # ---- parts
    def _make_optimizer(self):
        raise NotImplementedError

    def _update(self) -> None:
        raise NotImplementedError

    def _components(self) -> dict:
        return {"policy": self.policy, "optimizer": self.optimizer, "rollout": self.buffer}

    def _extra_state(self) -> dict:
        return {"iterations": self.iterations, "n_updates": self.n_updates}

    def _load_extra_state(self, state: dict) -> None:
        self.iterations = int(state["iterations"])
        self.n_updates = int(state["n_updates"])

    # ---- schedule
    def _progress_remaining(self) -> float:
        """1 - steps / total_steps, in [0, 1] (1 when no target is known)."""
        if self._total_steps <= 0:
            return 1.0
        return max(0.0, 1.0 - self.num_timesteps / self._total_steps)

    def _set_lr(self) -> float:
        lr = self.learning_rate * (self._progress_remaining() if self.anneal_lr else 1.0)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return lr

    # ---- the loop
    def _collect(self) -> bool:
        """Fill the buffer from its current position; False if a callback stopped training."""
        pol, buf, env = self.policy, self.buffer, self.env
        while not buf.full:
            obs = self._obs
            env_actions, actions, log_probs, values = pol.act(obs, self.rng)
            next_obs, rewards, terminated, truncated, infos = env.step(env_actions)
            boot = truncated & ~terminated
            final_values = None
            if boot.any():  # a time limit cut the episode: bootstrap from V(final observation)
                idx = np.flatnonzero(boot)
                final_obs = np.stack([np.asarray(infos["final_obs"][i], dtype=np.float32) for i in idx])
                final_values = np.zeros(self.n_envs, dtype=np.float32)
                final_values[idx] = pol.predict_values(final_obs)
            buf.add(obs, actions, log_probs, values, rewards, terminated, truncated, final_values)
            self._obs = next_obs
            if not self._after_step(rewards, terminated, truncated, infos):
                return False
        return True

    def _train_iteration(self) -> None:
        if not self._collect():
            return
        self.buffer.compute_returns(self.policy.predict_values(self._obs), self.gamma, self.gae_lambda)
        self._update()
        self.buffer.reset()
        self.iterations += 1

    def _predict_array(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.policy.act(obs, self.rng, deterministic)[0]

    # ---- helpers for _update
    def _clip_and_step(self) -> float:
        """Clip the global gradient norm (if ``max_grad_norm``) and take an optimizer step; returns
        the norm before clipping (nan when not clipped)."""
        norm = float("nan")
        if self.max_grad_norm is not None:
            from ..nn.utils import clip_grad_norm_
            norm = float(clip_grad_norm_(self.params, self.max_grad_norm))
        self.optimizer.step()
        self.n_updates += 1
        return norm
