r"""DQN (Mnih et al., 2015) with Double DQN, dueling heads and prioritised replay as options.

Acting (epsilon-greedy, linear schedule over the first ``exploration_fraction`` of the run)::

    eps_t = eps_start + (eps_end - eps_start) * min(1, t / (exploration_fraction * T))
    a_t   = uniform random action with probability eps_t, else argmax_a Q(s_t, a)

Learning, every ``train_freq`` env steps after ``learning_starts``, ``gradient_steps`` times,
on a minibatch ``(s, a, r, s', d)`` from the replay buffer (``d`` = terminated, not truncated)::

    y      = r + gamma * (1 - d) * max_a' Qbar(s', a')                 (DQN)
    y      = r + gamma * (1 - d) * Qbar(s', argmax_a' Q(s', a'))        (Double DQN)
    delta  = Q(s, a) - y
    L      = mean_i w_i * huber(delta_i),  huber(x) = x^2/2 if |x| <= 1 else |x| - 1/2
    theta <- Adam(theta, clip_grad_norm(dL/dtheta, max_grad_norm))

(``w_i = 1`` with uniform replay; with prioritised replay the importance weights, and the
sampled priorities become ``|delta_i| + eps``; beta anneals linearly to 1 over the run.)
Target network ``Qbar``, every ``target_update_interval`` env steps::

    theta_bar <- tau * theta + (1 - tau) * theta_bar       (tau = 1: a hard copy)

Dueling head: ``Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')`` on a shared trunk.

Targets and acting run on raw arrays (no graph); only ``Q(s, a)`` of the online network is
recorded for backpropagation.

    agent = DQN("CartPole-v1", seed=0).learn(50_000)
"""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor
from .base import Agent, array_forward
from .replay import PrioritizedReplayBuffer, ReplayBuffer

__all__ = ["DQN", "QNetwork", "dqn_target", "double_dqn_target"]


def dqn_target(rewards, dones, next_q_target, gamma: float) -> np.ndarray:
    """``y = r + gamma (1 - d) max_a' Qbar(s', a')``; arrays (B,), (B,), (B, A) -> (B,)."""
    return rewards + gamma * (1.0 - dones) * next_q_target.max(axis=1)


def double_dqn_target(rewards, dones, next_q_online, next_q_target, gamma: float) -> np.ndarray:
    """``y = r + gamma (1 - d) Qbar(s', argmax_a' Q(s', a'))``: the online net picks, the target net rates."""
    best = next_q_online.argmax(axis=1)
    return rewards + gamma * (1.0 - dones) * np.take_along_axis(next_q_target, best[:, None], axis=1)[:, 0]


def _activation(name: str):
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
    if name not in acts:
        raise ValueError(f"activation must be one of {sorted(acts)}, got {name!r}")
    return acts[name]


def mlp(sizes, activation: str = "relu", last_activation: bool = False) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ...`` with ``activation`` between them."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(_activation(activation)())
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """``Q(s, .)``: an MLP from observations (B, obs_dim) to action values (B, n_actions);
    ``dueling=True`` splits the last layer into V (B, 1) and A (B, n_actions) heads."""

    def __init__(self, obs_dim: int, n_actions: int, hidden=(64, 64), activation: str = "relu",
                 dueling: bool = False):
        super().__init__()
        self.dueling = bool(dueling)
        hidden = list(hidden)
        if self.dueling:
            self.trunk = mlp([obs_dim, *hidden], activation, last_activation=True)
            self.value = nn.Linear(hidden[-1] if hidden else obs_dim, 1)
            self.advantage = nn.Linear(hidden[-1] if hidden else obs_dim, n_actions)
        else:
            self.trunk = mlp([obs_dim, *hidden, n_actions], activation)

    def forward(self, obs: Tensor) -> Tensor:
        h = self.trunk(obs)
        if not self.dueling:
            return h
        adv = self.advantage(h)
        return self.value(h) + adv - adv.mean(dim=1, keepdim=True)

    def forward_array(self, obs: np.ndarray) -> np.ndarray:
        """The same values on raw arrays, without recording a graph (acting, targets)."""
        h = array_forward(self.trunk, obs)
        if not self.dueling:
            return h
        adv = array_forward(self.advantage, h)
        return array_forward(self.value, h) + adv - adv.mean(axis=1, keepdims=True)


class _Counter:
    """A holder for the scalar schedule state (so it rides in ``_components``)."""


class DQN(Agent):
    """Deep Q-learning for Discrete action spaces (update rules in the module docstring).

    Defaults are rl-zoo's CartPole-v1 settings except the network (64, 64).

    Args:
        env, seed, n_envs, log_interval, verbose: see :class:`lamina.rl.base.Agent`.
        learning_rate, batch_size, buffer_size, learning_starts, gamma: the usual meaning.
        train_freq: env steps (per copy) between training rounds; gradient_steps per round.
        target_update_interval: env steps between target updates; tau: 1 = hard copy, <1 Polyak.
        exploration_fraction, exploration_initial_eps, exploration_final_eps: the eps schedule.
        max_grad_norm: global gradient-norm clip. hidden, activation: the Q network's MLP.
        double_q, dueling: the two options. prioritized, per_alpha, per_beta0, per_eps: PER.
    """

    algorithm = "dqn"
    action_kind = "discrete"

    def __init__(self, env, *, learning_rate: float = 2.3e-3, batch_size: int = 64, buffer_size: int = 100_000,
                 learning_starts: int = 1000, gamma: float = 0.99, train_freq: int = 256, gradient_steps: int = 128,
                 target_update_interval: int = 10, tau: float = 1.0, exploration_fraction: float = 0.16,
                 exploration_initial_eps: float = 1.0, exploration_final_eps: float = 0.04,
                 max_grad_norm: float = 10.0, hidden=(64, 64), activation: str = "relu", double_q: bool = False,
                 dueling: bool = False, prioritized: bool = False, per_alpha: float = 0.6, per_beta0: float = 0.4,
                 per_eps: float = 1e-6, seed: int = 0, n_envs: int = 1, log_interval: int = 1000, verbose: int = 0,
                 env_kwargs: dict | None = None):
        super().__init__(env, seed=seed, n_envs=n_envs, log_interval=log_interval, verbose=verbose,
                         env_kwargs=env_kwargs)
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"DQN: tau must be in (0, 1], got {tau}")
        for name, v in (("batch_size", batch_size), ("train_freq", train_freq),
                        ("target_update_interval", target_update_interval)):
            if int(v) < 1:
                raise ValueError(f"DQN: {name} must be >= 1, got {v}")
        hp = dict(learning_rate=float(learning_rate), batch_size=int(batch_size), buffer_size=int(buffer_size),
                  learning_starts=int(learning_starts), gamma=float(gamma), train_freq=int(train_freq),
                  gradient_steps=int(gradient_steps), target_update_interval=int(target_update_interval),
                  tau=float(tau), exploration_fraction=float(exploration_fraction),
                  exploration_initial_eps=float(exploration_initial_eps),
                  exploration_final_eps=float(exploration_final_eps), max_grad_norm=float(max_grad_norm),
                  hidden=[int(h) for h in hidden], activation=activation, double_q=bool(double_q),
                  dueling=bool(dueling), prioritized=bool(prioritized), per_alpha=float(per_alpha),
                  per_beta0=float(per_beta0), per_eps=float(per_eps))
        self.config.update(hp)
        self.hp = hp
        obs_dim = int(np.prod(self.observation_space.shape))
        self.n_actions = int(self.action_space.n)
        with self._seeded():
            self.q_net = QNetwork(obs_dim, self.n_actions, hp["hidden"], activation, dueling)
            self.q_target = QNetwork(obs_dim, self.n_actions, hp["hidden"], activation, dueling)
        self.q_target.load_state_dict(self.q_net.state_dict())
        self._pairs = [(t.array, s.array) for t, s in zip(self.q_target.parameters(), self.q_net.parameters())]
        self.optimizer = optim.Adam(self.q_net.parameters(), lr=hp["learning_rate"])
        buf_cls = PrioritizedReplayBuffer if prioritized else ReplayBuffer
        kw = dict(alpha=per_alpha, eps=per_eps) if prioritized else {}
        self.replay = buf_cls(hp["buffer_size"], self.observation_space.shape, (), np.int64, **kw)
        self.n_updates = 0
        self.exploration_rate = hp["exploration_initial_eps"]
        self._params = list(self.q_net.parameters())

    # ---- state
    def _components(self) -> dict:
        return {"q_net": self.q_net, "q_target": self.q_target, "optimizer": self.optimizer, "replay": self.replay}

    def _extra_state(self) -> dict:
        return {"n_updates": self.n_updates, "exploration_rate": self.exploration_rate}

    def _load_extra_state(self, state: dict) -> None:
        self.n_updates = int(state["n_updates"])
        self.exploration_rate = float(state["exploration_rate"])

    # ---- acting
    def _predict_array(self, obs, deterministic: bool):
        greedy = self.q_net.forward_array(obs).argmax(axis=1)
        if deterministic:
            return greedy
        explore = self.rng.random(len(obs)) < self.exploration_rate
        return np.where(explore, self.rng.integers(0, self.n_actions, len(obs)), greedy)

    def epsilon(self, t: int) -> float:
        hp = self.hp
        span = hp["exploration_fraction"] * max(self._total_steps, 1)
        frac = min(1.0, t / span) if span > 0 else 1.0
        return hp["exploration_initial_eps"] + frac * (hp["exploration_final_eps"] - hp["exploration_initial_eps"])

    # ---- loop
    def _train_iteration(self) -> None:
        hp = self.hp
        self.exploration_rate = self.epsilon(self.num_timesteps)
        obs = self._obs
        if self.num_timesteps < hp["learning_starts"]:
            actions = self.rng.integers(0, self.n_actions, self.n_envs)
        else:
            actions = self._predict_array(obs, deterministic=False)
        next_obs, rewards, terminated, truncated, infos = self.env.step(actions)
        real_next = next_obs
        if "final_obs" in infos:  # same-step autoreset: bootstrap from the episode's last observation
            real_next = next_obs.copy()
            for i in np.flatnonzero(infos["_final_obs"]):
                real_next[i] = infos["final_obs"][i]
        self.replay.add(obs, actions, rewards, real_next, terminated)
        self._obs = next_obs
        steps = self.num_timesteps + self.n_envs
        calls = steps // self.n_envs
        if steps > hp["learning_starts"] and calls % hp["train_freq"] == 0:
            self.train(hp["gradient_steps"])
        if calls % max(hp["target_update_interval"] // self.n_envs, 1) == 0:
            self._update_target()
        self._after_step(rewards, terminated, truncated, infos)

    def _update_target(self) -> None:
        tau = self.hp["tau"]
        if tau == 1.0:
            for t, s in self._pairs:
                np.copyto(t, s)
        else:
            for t, s in self._pairs:
                t *= 1.0 - tau
                t += tau * s

    def train(self, gradient_steps: int) -> None:
        """``gradient_steps`` minibatch updates of the online network (see the module docstring)."""
        hp = self.hp
        per = hp["prioritized"]
        beta = hp["per_beta0"] + (1.0 - hp["per_beta0"]) * min(1.0, self.num_timesteps / max(self._total_steps, 1))
        loss_sum = 0.0
        for _ in range(gradient_steps):
            b = self.replay.sample(hp["batch_size"], self.rng, beta=beta)
            next_t = self.q_target.forward_array(b.next_obs)
            if hp["double_q"]:
                y = double_dqn_target(b.rewards, b.dones, self.q_net.forward_array(b.next_obs), next_t, hp["gamma"])
            else:
                y = dqn_target(b.rewards, b.dones, next_t, hp["gamma"])
            y = y.astype(np.float32)
            q = self.q_net(Tensor(b.obs))[np.arange(len(y)), b.actions]
            if per:
                per_sample = F.smooth_l1_loss(q, Tensor(y), reduction="none")
                loss = (per_sample * Tensor(b.weights)).mean()
                self.replay.update_priorities(b.indices, q.array - y)
            else:
                loss = F.smooth_l1_loss(q, Tensor(y))
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self._params, hp["max_grad_norm"])
            self.optimizer.step()
            loss_sum += float(loss.array)
        self.n_updates += gradient_steps
        self.train_info = {"loss": loss_sum / max(gradient_steps, 1), "epsilon": self.exploration_rate,
                           "n_updates": float(self.n_updates)}

    def q_values(self, obs) -> np.ndarray:
        """``Q(s, .)`` for raw observations (B, obs_dim) -> (B, n_actions), no graph."""
        with no_grad():
            return self.q_net.forward_array(np.asarray(obs, dtype=np.float32))
