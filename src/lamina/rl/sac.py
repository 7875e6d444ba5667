r"""SAC (Haarnoja et al., 2018): twin Q critics, a tanh-squashed Gaussian policy and a learned
temperature, for Box action spaces.

Policy: ``u = mu(s) + sigma(s) * eps`` with ``eps ~ N(0, I)`` (reparameterised), ``a = tanh(u)``
in [-1, 1]^d (rescaled to the env's bounds when acting), ``log sigma`` clamped to [-20, 2]::

    log pi(a|s) = sum_j [ -eps_j^2/2 - log sigma_j - log(2 pi)/2 - log(1 - tanh(u_j)^2) ]
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))              (stable form)

One gradient step on a minibatch ``(s, a, r, s', d)`` (``alpha = exp(log_alpha)`` before its update)::

    L_alpha = -mean( log_alpha * (log pi(a~|s) + H_target) ),  H_target = -dim(A)
    y       = r + gamma (1 - d) ( min_j Qbar_j(s', a') - alpha log pi(a'|s') ),   a' ~ pi(.|s')
    L_Q     = 1/2 sum_{j=1,2} mean( (Q_j(s, a) - y)^2 )
    L_pi    = mean( alpha log pi(a~|s) - min_j Q_j(s, a~) ),      a~ ~ pi(.|s) (reparameterised)
    theta_bar_j <- tau theta_j + (1 - tau) theta_bar_j

The target ``y`` and acting run on raw arrays (no graph).

    agent = SAC("Pendulum-v1", seed=0, learning_rate=1e-3).learn(20_000)
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn, optim
from ..nn import functional as F
from ..tensor import Tensor
from .base import Agent, array_forward
from .dqn import mlp
from .replay import ReplayBuffer

__all__ = ["SAC", "Actor", "TwinQ", "temperature_loss", "squashed_log_prob_array"]

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG2 = math.log(2.0)


def temperature_loss(log_alpha: Tensor, log_prob, target_entropy: float) -> Tensor:
    """``L = -mean(log_alpha * (log_prob + H_target))`` (log_prob is a constant here);
    ``dL/dlog_alpha = -mean(log_prob + H_target)``: alpha grows while the entropy is below target."""
    lp = np.asarray(getattr(log_prob, "array", log_prob))
    return -(log_alpha * Tensor((lp + target_entropy).astype(log_alpha.dtype))).mean()


def squashed_log_prob_array(eps, log_std, u) -> np.ndarray:
    """``log pi(tanh(u))`` for ``u = mu + exp(log_std) * eps`` on arrays, summed over the last axis."""
    corr = 2.0 * (_LOG2 - u - np.logaddexp(0.0, -2.0 * u))
    return (-0.5 * eps * eps - log_std - _HALF_LOG_2PI - corr).sum(axis=-1)


class Actor(nn.Module):
    """``s -> (mu, log_sigma)``: an MLP trunk and two linear heads (B, act_dim) each."""

    def __init__(self, obs_dim: int, act_dim: int, hidden=(256, 256), activation: str = "relu"):
        super().__init__()
        self.trunk = mlp([obs_dim, *hidden], activation, last_activation=True)
        self.mu = nn.Linear(hidden[-1], act_dim)
        self.log_std = nn.Linear(hidden[-1], act_dim)

    def forward(self, obs: Tensor):
        h = self.trunk(obs)
        return self.mu(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def forward_array(self, obs: np.ndarray):
        h = array_forward(self.trunk, obs)
        return array_forward(self.mu, h), np.clip(array_forward(self.log_std, h), LOG_STD_MIN, LOG_STD_MAX)


class TwinQ(nn.Module):
    """``(s, a) -> (Q_1(s, a), Q_2(s, a))``, two independent MLPs on ``[s, a]``, each (B,)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden=(256, 256), activation: str = "relu"):
        super().__init__()
        self.q1 = mlp([obs_dim + act_dim, *hidden, 1], activation)
        self.q2 = mlp([obs_dim + act_dim, *hidden, 1], activation)

    def forward(self, obs: Tensor, act: Tensor):
        x = _cat(obs, act)
        return self.q1(x).squeeze(1), self.q2(x).squeeze(1)

    def forward_array(self, obs: np.ndarray, act: np.ndarray):
        x = np.concatenate([obs, act], axis=1)
        return array_forward(self.q1, x)[:, 0], array_forward(self.q2, x)[:, 0]


def _cat(a: Tensor, b: Tensor) -> Tensor:
    from .. import cat
    return cat([a, b], dim=1)


class SAC(Agent):
    """Soft actor-critic for Box action spaces (update rules in the module docstring).

    Defaults are rl-zoo's Pendulum-v1 settings (learning rate 1e-3, batch 256, tau 0.005,
    one gradient step per env step after 100 random steps, (256, 256) networks).

    Args:
        env, seed, n_envs, log_interval, verbose: see :class:`lamina.rl.base.Agent`.
        learning_rate (actor, critics and temperature), buffer_size, learning_starts, batch_size,
        tau, gamma, train_freq (env steps between rounds), gradient_steps (per round),
        target_update_interval (gradient steps between target updates).
        init_alpha: the starting temperature; learn_alpha=False keeps it fixed.
        target_entropy: default ``-dim(A)``. hidden, activation: the MLPs.
    """

    algorithm = "sac"
    action_kind = "continuous"

    def __init__(self, env, *, learning_rate: float = 1e-3, buffer_size: int = 1_000_000, learning_starts: int = 100,
                 batch_size: int = 256, tau: float = 0.005, gamma: float = 0.99, train_freq: int = 1,
                 gradient_steps: int = 1, target_update_interval: int = 1, init_alpha: float = 1.0,
                 learn_alpha: bool = True, target_entropy: float | None = None, hidden=(256, 256),
                 activation: str = "relu", seed: int = 0, n_envs: int = 1, log_interval: int = 1000, verbose: int = 0,
                 env_kwargs: dict | None = None):
        super().__init__(env, seed=seed, n_envs=n_envs, log_interval=log_interval, verbose=verbose,
                         env_kwargs=env_kwargs)
        act_dim = int(np.prod(self.action_space.shape))
        obs_dim = int(np.prod(self.observation_space.shape))
        if target_entropy is None:
            target_entropy = -float(act_dim)
        if init_alpha <= 0:
            raise ValueError(f"SAC: init_alpha must be > 0, got {init_alpha}")
        hp = dict(learning_rate=float(learning_rate), buffer_size=int(buffer_size), learning_starts=int(learning_starts),
                  batch_size=int(batch_size), tau=float(tau), gamma=float(gamma), train_freq=int(train_freq),
                  gradient_steps=int(gradient_steps), target_update_interval=int(target_update_interval),
                  init_alpha=float(init_alpha), learn_alpha=bool(learn_alpha), target_entropy=float(target_entropy),
                  hidden=[int(h) for h in hidden], activation=activation)
        self.config.update(hp)
        self.hp = hp
        self.act_dim = act_dim
        low, high = self.action_space.low.astype(np.float64), self.action_space.high.astype(np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"SAC needs a bounded Box action space (tanh squashing), got {self.action_space}")
        self._scale, self._shift = (high - low) / 2.0, (high + low) / 2.0
        with self._seeded():
            self.actor = Actor(obs_dim, act_dim, hp["hidden"], activation)
            self.critic = TwinQ(obs_dim, act_dim, hp["hidden"], activation)
            self.critic_target = TwinQ(obs_dim, act_dim, hp["hidden"], activation)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.log_alpha = nn.Parameter(Tensor(np.full((1,), math.log(init_alpha), dtype=np.float32)))
        self._alpha_holder = nn.ParameterDict({"log_alpha": self.log_alpha})
        lr = hp["learning_rate"]
        self.actor_optimizer = optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_optimizer = optim.Adam(self.critic.parameters(), lr=lr)
        self.alpha_optimizer = optim.Adam([self.log_alpha], lr=lr)
        self.replay = ReplayBuffer(hp["buffer_size"], self.observation_space.shape, (act_dim,), np.float32)
        self.n_updates = 0
        self._critic_params = list(self.critic.parameters())
        self._actor_params = list(self.actor.parameters())
        self._pairs = [(t.array, s.array) for t, s in zip(self.critic_target.parameters(), self._critic_params)]

    # ---- state
    def _components(self) -> dict:
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target,
                "temperature": self._alpha_holder, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer, "alpha_optimizer": self.alpha_optimizer,
                "replay": self.replay}

    def _extra_state(self) -> dict:
        return {"n_updates": self.n_updates}

    def _load_extra_state(self, state: dict) -> None:
        self.n_updates = int(state["n_updates"])

    @property
    def alpha(self) -> float:
        return float(np.exp(self.log_alpha.array[0]))

    # ---- acting
    def _sample_array(self, obs, deterministic: bool):
        """(a in [-1, 1]^d, log pi(a|s) or None) on arrays."""
        mu, log_std = self.actor.forward_array(obs)
        if deterministic:
            return np.tanh(mu), None
        eps = self.rng.standard_normal(mu.shape).astype(np.float32)
        u = mu + np.exp(log_std) * eps
        return np.tanh(u), squashed_log_prob_array(eps, log_std, u)

    def _to_env(self, a):
        return (a * self._scale + self._shift).astype(self.action_space.dtype)

    def _predict_array(self, obs, deterministic: bool):
        return self._to_env(self._sample_array(obs, deterministic)[0])

    # ---- loop
    def _train_iteration(self) -> None:
        hp = self.hp
        obs = self._obs
        if self.num_timesteps < hp["learning_starts"]:
            a = self.rng.uniform(-1.0, 1.0, (self.n_envs, self.act_dim)).astype(np.float32)
        else:
            a = self._sample_array(obs, deterministic=False)[0]
        next_obs, rewards, terminated, truncated, infos = self.env.step(self._to_env(a))
        real_next = next_obs
        if "final_obs" in infos:  # same-step autoreset: bootstrap from the episode's last observation
            real_next = next_obs.copy()
            for i in np.flatnonzero(infos["_final_obs"]):
                real_next[i] = infos["final_obs"][i]
        self.replay.add(obs, a, rewards, real_next, terminated)
        self._obs = next_obs
        steps = self.num_timesteps + self.n_envs
        if steps > hp["learning_starts"] and (steps // self.n_envs) % hp["train_freq"] == 0:
            self.train(hp["gradient_steps"])
        self._after_step(rewards, terminated, truncated, infos)

    def train(self, gradient_steps: int) -> None:
        """``gradient_steps`` SAC updates (see the module docstring)."""
        hp = self.hp
        gamma, B = hp["gamma"], hp["batch_size"]
        logs = np.zeros(4)
        for _ in range(gradient_steps):
            b = self.replay.sample(B, self.rng)
            obs = Tensor(b.obs)
            # a~ ~ pi(.|s), reparameterised (graph through the actor)
            mu, log_std = self.actor(obs)
            eps = self.rng.standard_normal(mu.shape).astype(np.float32)
            u = mu + log_std.exp() * Tensor(eps)
            a_pi = u.tanh()
            corr = 2.0 * (_LOG2 - u - F.softplus(-2.0 * u))
            log_prob = (-0.5 * Tensor(eps * eps) - log_std - _HALF_LOG_2PI - corr).sum(dim=1)
            # temperature (alpha from before its step)
            alpha = self.alpha
            if hp["learn_alpha"]:
                a_loss = temperature_loss(self.log_alpha, log_prob.array, hp["target_entropy"])
                self.alpha_optimizer.zero_grad()
                a_loss.backward()
                self.alpha_optimizer.step()
                logs[3] += float(a_loss.array)
            # critics, towards the soft target y (arrays, no graph)
            a_next, logp_next = self._sample_array(b.next_obs, deterministic=False)
            q1_t, q2_t = self.critic_target.forward_array(b.next_obs, a_next)
            y = (b.rewards + gamma * (1.0 - b.dones) * (np.minimum(q1_t, q2_t) - alpha * logp_next)).astype(np.float32)
            q1, q2 = self.critic(obs, Tensor(b.actions))
            yt = Tensor(y)
            q_loss = 0.5 * (F.mse_loss(q1, yt) + F.mse_loss(q2, yt))
            self.critic_optimizer.zero_grad()
            q_loss.backward()
            self.critic_optimizer.step()
            # actor, through the (just updated) critics, whose weights get no gradient here
            for p in self._critic_params:
                p.requires_grad = False
            q1_pi, q2_pi = self.critic(obs, a_pi)
            pi_loss = (alpha * log_prob - q1_pi.minimum(q2_pi)).mean()
            self.actor_optimizer.zero_grad()
            pi_loss.backward()
            self.actor_optimizer.step()
            for p in self._critic_params:
                p.requires_grad = True
            self.n_updates += 1
            if self.n_updates % hp["target_update_interval"] == 0:
                tau = hp["tau"]
                for t, s in self._pairs:
                    t *= 1.0 - tau
                    t += tau * s
            logs[:3] += (float(q_loss.array), float(pi_loss.array), -float(log_prob.array.mean()))
        n = max(gradient_steps, 1)
        self.train_info = {"critic_loss": logs[0] / n, "actor_loss": logs[1] / n, "entropy": logs[2] / n,
                           "alpha_loss": logs[3] / n, "alpha": self.alpha}
