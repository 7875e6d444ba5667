"""Observation and reward normalisation for vector envs, with running statistics that are part
of the agent's ``state_dict`` (so checkpoints, evaluation and resume see the same scaling).

Running mean and variance (Chan et al.'s parallel update) of a stream of batches ``x`` (n rows)::

    d = mean(x) - mu;  N' = N + n
    mu  <- mu + d * n / N'
    var <- (var * N + var(x) * n + d^2 * N * n / N') / N'

NormalizeObservation:  ``o' = clip((o - mu) / sqrt(var + eps), -clip, clip)``, stats of the raw o.
NormalizeReward:       ``G <- gamma * G * (1 - done) + r`` per copy (the discounted return so far),
                       ``r' = clip(r / sqrt(var_G + eps), -clip, clip)``, stats of G.

    venv = make_vec_env("Pendulum-v1", 4, wrappers=[NormalizeObservation, NormalizeReward])
    venv.get_wrapper_attr("obs_rms").mean
"""
from __future__ import annotations

import numpy as np

try:
    from gymnasium.vector import VectorWrapper
except ImportError:  # pragma: no cover - gymnasium is an optional extra
    VectorWrapper = object

__all__ = ["RunningMeanStd", "NormalizeObservation", "NormalizeReward"]


def _np(x):
    return np.asarray(getattr(x, "array", x))


class RunningMeanStd:
    """Running mean/variance of arrays of shape ``shape`` (float64), updated by batches."""

    def __init__(self, shape=(), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, x) -> None:
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        bmean, bvar = x.mean(axis=0), x.var(axis=0)
        d = bmean - self.mean
        tot = self.count + n
        self.mean = self.mean + d * n / tot
        self.var = (self.var * self.count + bvar * n + d * d * self.count * n / tot) / tot
        self.count = tot

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean = _np(state["mean"]).astype(np.float64).copy()
        self.var = _np(state["var"]).astype(np.float64).copy()
        self.count = float(state["count"])


class NormalizeObservation(VectorWrapper):
    """Standardise observations with running statistics (updated while ``training``).

    ``normalize(obs)`` applies the current statistics without updating them (agents use it in
    ``predict`` on raw observations). Same-step ``infos["final_obs"]`` are normalised too.
    """

    def __init__(self, env, epsilon: float = 1e-8, clip: float = 10.0):
        super().__init__(env)
        self.obs_rms = RunningMeanStd(env.single_observation_space.shape)
        self.epsilon, self.clip, self.training = float(epsilon), float(clip), True

    def normalize(self, obs):
        out = (np.asarray(obs, dtype=np.float64) - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return np.clip(out, -self.clip, self.clip).astype(np.float32)

    def reset(self, **kwargs):
        obs, infos = self.env.reset(**kwargs)
        if self.training:
            self.obs_rms.update(obs)
        return self.normalize(obs), infos

    def step(self, actions):
        obs, rew, term, trunc, infos = self.env.step(actions)
        if self.training:
            self.obs_rms.update(obs)
        if "final_obs" in infos:
            final = infos["final_obs"].copy()
            for i in np.flatnonzero(infos["_final_obs"]):
                final[i] = self.normalize(final[i])
            infos = dict(infos, final_obs=final)
        return self.normalize(obs), rew, term, trunc, infos

    def state_dict(self) -> dict:
        return {"obs_rms": self.obs_rms.state_dict(), "training": self.training}

    def load_state_dict(self, state: dict) -> None:
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.training = bool(state["training"])


class NormalizeReward(VectorWrapper):
    """Scale rewards by the running std of the discounted return (not centred: the sign of a
    reward is kept)."""

    def __init__(self, env, gamma: float = 0.99, epsilon: float = 1e-8, clip: float = 10.0):
        super().__init__(env)
        self.return_rms = RunningMeanStd(())
        self.returns = np.zeros(env.num_envs, dtype=np.float64)
        self.gamma, self.epsilon, self.clip, self.training = float(gamma), float(epsilon), float(clip), True

    def step(self, actions):
        obs, rew, term, trunc, infos = self.env.step(actions)
        self.returns = self.returns * self.gamma + rew
        if self.training:
            self.return_rms.update(self.returns)
        self.returns[term | trunc] = 0.0
        scaled = np.clip(rew / np.sqrt(self.return_rms.var + self.epsilon), -self.clip, self.clip)
        return obs, scaled, term, trunc, dict(infos, raw_reward=rew)  # episode statistics use the raw ones

    def state_dict(self) -> dict:
        return {"return_rms": self.return_rms.state_dict(), "returns": self.returns.copy(), "training": self.training}

    def load_state_dict(self, state: dict) -> None:
        self.return_rms.load_state_dict(state["return_rms"])
        self.returns = _np(state["returns"]).astype(np.float64).copy()
        self.training = bool(state["training"])
