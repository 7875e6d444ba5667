"""Agent checkpoints: an agent's whole ``state_dict()`` in one safetensors file, written atomically.

The file (``lamina.io.save``: tensors + JSON, never pickle; temporary file, fsync, rename, so
a crash mid-write leaves the previous checkpoint intact) holds the algorithm name and its
config (enough to rebuild the agent), the networks, optimizers, replay buffer or rollout
state, every generator, the environments' state and current observations, and the episode
statistics. Resuming from it continues the run exactly.

    save_agent(agent, "run/checkpoints/last.safetensors")
    agent = load_agent("run/checkpoints/last.safetensors")        # rebuilt from its config
    agent.learn(100_000)                                            # continues to the same total
"""
from __future__ import annotations

import os

from .. import io
from ..io import CheckpointError
from .base import Callback, get_algorithm

__all__ = ["KIND", "CheckpointCallback", "save_agent", "load_agent", "load_agent_state"]

KIND = "lamina.rl_agent"


def save_agent(agent, path, metadata: dict | None = None) -> None:
    """Write ``agent.state_dict()`` to ``path`` atomically (parent directories are created)."""
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    meta = {"lamina.kind": KIND, "algorithm": agent.algorithm, "num_timesteps": str(agent.num_timesteps)}
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    io.save(agent.state_dict(), path, metadata=meta)


def load_agent_state(path) -> dict:
    """The state dict saved by :func:`save_agent`; CheckpointError if ``path`` holds something else."""
    meta = io.read_metadata(path)
    if meta.get("lamina.kind") != KIND:
        raise CheckpointError(f"{os.fspath(path)} is not an RL agent checkpoint (kind {meta.get('lamina.kind')!r}, "
                              f"expected {KIND!r})")
    return io.load(path)


def load_agent(path, env=None, **overrides):
    """Rebuild the agent saved at ``path`` from its algorithm and config, then restore its state.

    ``env`` replaces the saved env id (an id, Env or VectorEnv built the same way);
    ``overrides`` replace config entries that don't change the saved shapes (e.g. ``verbose``).
    """
    state = load_agent_state(path)
    cls = get_algorithm(state["algorithm"])
    config = dict(state["config"])
    env_id, n_envs = config.pop("env_id"), config.pop("n_envs")
    env_kwargs = config.pop("env_kwargs", None) or None
    config.update(overrides)
    if env is None:
        if env_id is None:
            raise ValueError(f"load_agent: {os.fspath(path)} was trained on an unregistered environment; pass env=")
        env = env_id
    agent = cls(env, n_envs=n_envs, env_kwargs=env_kwargs, **_kwargs(config))
    agent.load_state_dict(state)
    return agent


def _kwargs(config: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}


class CheckpointCallback(Callback):
    """Save the agent to ``path`` every ``every`` env steps and when ``learn`` ends."""

    def __init__(self, path, every: int, at_end: bool = True):
        self.path, self.every, self.at_end = path, int(every), at_end
        self._next = None

    def on_learn_begin(self, agent):
        self._next = (agent.num_timesteps // self.every + 1) * self.every

    def on_step(self, agent):
        if agent.num_timesteps >= self._next:
            self._next += self.every
            save_agent(agent, self.path)
        return True

    def on_learn_end(self, agent):
        if self.at_end:
            save_agent(agent, self.path)
