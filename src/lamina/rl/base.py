"""The Agent interface every lamina.rl algorithm implements, its callbacks and episode statistics.

An agent owns its (vector) environment, its networks and optimizers, its own random generator
and its step counter. The user-facing shape follows Stable-Baselines3:

    agent = DQN("CartPole-v1", seed=0).learn(50_000)
    mean, std = agent.evaluate("CartPole-v1", episodes=100)
    agent.save("dqn.safetensors"); agent = lamina.rl.load_agent("dqn.safetensors")

Contract (both the off-policy and the on-policy agents follow it):

* ``learn(total_steps, callback=None)`` trains until ``num_timesteps`` (environment steps summed
  over the vector env's copies) reaches ``total_steps``: the target is absolute, so a resumed
  agent is given the same number as the uninterrupted run. After every vector-env step the
  agent calls :meth:`Agent._after_step`, which counts the steps, updates the episode
  statistics, logs, and runs the callback; a callback's ``on_step`` returning ``False`` stops
  ``learn`` there, in a state that ``state_dict()`` captures exactly.
* ``predict(obs, deterministic=True)`` maps raw observations (one, or a batch) to actions
  (NumPy), applying the training env's observation normalisation if it has one.
* ``evaluate(env, episodes, deterministic=True)`` -> ``(mean, std)`` of the episodic return;
  it never touches the training env or the agent's generator.
* ``state_dict()`` / ``load_state_dict()``: networks, optimizers, the agent's generator and
  lamina's/NumPy's/Python's global ones, the replay buffer or rollout state, the environments'
  internal state (seeds, RNGs, physics state, time-limit counters, normalisation statistics),
  the current observations and the episode statistics. A run saved at step k and resumed in a
  fresh agent ends bitwise-identical to an uninterrupted run (CPU).

A subclass sets ``algorithm`` (its registry name) and ``action_kind`` ("discrete",
"continuous" or "any"), builds its parts in ``__init__`` after ``super().__init__``, lists
them in ``_components()`` ({name: object with state_dict/load_state_dict}), puts its scalar
counters in ``_extra_state()`` / ``_load_extra_state()``, and implements ``_train_iteration()``
(some env steps, each followed by ``_after_step``, plus updates) and
``_predict_array(obs, deterministic)``.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from collections import deque

import numpy as np

from .. import backend, random as lrandom
from ..train.rng_state import get_rng_states, set_rng_states
from . import envs as _envs

__all__ = ["Agent", "Callback", "CallbackList", "EpisodeStats", "EvalCallback", "ProgressPrinter",
           "StopAtStep", "array_forward", "get_algorithm", "ALGORITHMS"]

STATE_VERSION = 1
ALGORITHMS: dict[str, type] = {}


def get_algorithm(name: str) -> type:
    """The Agent class registered under ``name`` ("dqn", "sac", "ppo", ...); unknown -> ValueError
    naming the closest."""
    key = str(name).lower()
    if key in ALGORITHMS:
        return ALGORITHMS[key]
    import difflib
    close = difflib.get_close_matches(key, list(ALGORITHMS), n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown RL algorithm {name!r}{hint} (known: {', '.join(sorted(ALGORITHMS))})")


# ---------------------------------------------------------------- array forward (no graph)
def array_forward(module, x: np.ndarray) -> np.ndarray:
    """Run ``module`` on a raw array without autograd: Linear/ReLU/Tanh/Identity/Sequential in
    plain NumPy (acting and TD targets need no graph and small nets are dominated by per-op
    overhead), anything else through the module under ``no_grad``.

    >>> q = array_forward(q_net, obs.astype(np.float32))      # (B, n_actions) ndarray
    """
    from .. import nn
    kind = type(module)
    if kind is nn.Linear:
        y = x @ module.weight.array.T
        if module.bias is not None:
            y += module.bias.array
        return y
    if kind is nn.ReLU:
        return np.maximum(x, 0, dtype=x.dtype)
    if kind is nn.Tanh:
        return np.tanh(x)
    if kind is nn.Identity:
        return x
    if kind is nn.Sequential:
        for m in module:
            x = array_forward(m, x)
        return x
    fa = getattr(module, "forward_array", None)
    if fa is not None:
        return fa(x)
    from ..autograd import no_grad
    from ..tensor import Tensor
    with no_grad():
        return module(Tensor(x)).array


# ---------------------------------------------------------------- episode statistics
class EpisodeStats:
    """Per-copy running return/length and a window of the last ``window`` finished episodes.

    update(rewards, dones): ``G_i += r_i; L_i += 1``; where ``done_i``: record ``(G_i, L_i)``, reset.
    """

    def __init__(self, n_envs: int, window: int = 100):
        self.window = int(window)
        self.returns = np.zeros(n_envs, dtype=np.float64)
        self.lengths = np.zeros(n_envs, dtype=np.int64)
        self.done_returns: deque = deque(maxlen=self.window)
        self.done_lengths: deque = deque(maxlen=self.window)
        self.episodes = 0

    def update(self, rewards, dones) -> None:
        self.returns += rewards
        self.lengths += 1
        if dones.any():
            for i in np.flatnonzero(dones):
                self.done_returns.append(float(self.returns[i]))
                self.done_lengths.append(int(self.lengths[i]))
                self.episodes += 1
            self.returns[dones] = 0.0
            self.lengths[dones] = 0

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.done_returns)) if self.done_returns else math.nan

    @property
    def mean_length(self) -> float:
        return float(np.mean(self.done_lengths)) if self.done_lengths else math.nan

    def state_dict(self) -> dict:
        return {"returns": self.returns.copy(), "lengths": self.lengths.copy(), "episodes": self.episodes,
                "done_returns": np.asarray(self.done_returns, dtype=np.float64),
                "done_lengths": np.asarray(self.done_lengths, dtype=np.int64)}

    def load_state_dict(self, state: dict) -> None:
        self.returns = _np(state["returns"]).astype(np.float64).copy()
        self.lengths = _np(state["lengths"]).astype(np.int64).copy()
        self.episodes = int(state["episodes"])
        self.done_returns = deque((float(v) for v in _np(state["done_returns"])), maxlen=self.window)
        self.done_lengths = deque((int(v) for v in _np(state["done_lengths"])), maxlen=self.window)


def _np(x):
    """A loaded value (lamina Tensor after ``lamina.io.load``, or an ndarray) as an ndarray."""
    return np.asarray(getattr(x, "array", x))


# ---------------------------------------------------------------- callbacks
class Callback:
    """Hooks into ``learn``: override what you need. ``on_step`` runs after every vector-env step
    (return False to stop training there); ``on_log`` every ``log_interval`` steps with the
    progress dict (steps, steps_per_s, episodes, ep_return_mean, ep_length_mean, time_s, and the
    algorithm's losses)."""

    def on_learn_begin(self, agent) -> None:
        pass

    def on_step(self, agent) -> bool | None:
        return None

    def on_log(self, agent, logs: dict) -> None:
        pass

    def on_learn_end(self, agent) -> None:
        pass


class _FnCallback(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_step(self, agent):
        return self.fn(agent)


class CallbackList(Callback):
    """Several callbacks in order; training stops if any ``on_step`` returns False."""

    def __init__(self, callbacks=()):
        self.callbacks = [as_callback(c) for c in callbacks]

    def on_learn_begin(self, agent):
        for c in self.callbacks:
            c.on_learn_begin(agent)

    def on_step(self, agent):
        go = True
        for c in self.callbacks:
            if c.on_step(agent) is False:
                go = False
        return go

    def on_log(self, agent, logs):
        for c in self.callbacks:
            c.on_log(agent, logs)

    def on_learn_end(self, agent):
        for c in self.callbacks:
            c.on_learn_end(agent)


def as_callback(cb) -> Callback:
    """None, a Callback, a plain ``fn(agent) -> bool|None`` (used as on_step) or a list of them."""
    if cb is None:
        return Callback()
    if isinstance(cb, Callback):
        return cb
    if isinstance(cb, (list, tuple)):
        return CallbackList(cb)
    if callable(cb):
        return _FnCallback(cb)
    raise TypeError(f"callback must be a lamina.rl.Callback, a function of the agent or a list of them, "
                    f"got {type(cb).__name__}")


class StopAtStep(Callback):
    """Stop ``learn`` once ``agent.num_timesteps >= step`` (e.g. to checkpoint a run mid-way)."""

    def __init__(self, step: int):
        self.step = int(step)

    def on_step(self, agent):
        return agent.num_timesteps < self.step


class ProgressPrinter(Callback):
    """One progress line per log: steps, steps/s, mean episodic return and length."""

    def __init__(self, file=None):
        self.file = file

    def on_log(self, agent, logs):
        extra = "".join(f" {k} {v:.4g}" for k, v in logs.items()
                        if k not in ("steps", "steps_per_s", "ep_return_mean", "ep_length_mean", "episodes",
                                     "time_s") and isinstance(v, float))
        print(f"{agent.algorithm} step {logs['steps']:>8d} | {logs['steps_per_s']:7.0f} steps/s | "
              f"return {logs['ep_return_mean']:8.2f} | length {logs['ep_length_mean']:6.1f} | "
              f"episodes {logs['episodes']}{extra}", file=self.file or sys.stdout, flush=True)


class EvalCallback(Callback):
    """Evaluate every ``every`` steps on ``env`` (``episodes`` episodes, deterministic policy),
    record ``history`` [(steps, mean, std)], keep the best state (``best_state``, or written to
    ``best_path``), and stop once the mean reaches ``threshold`` (if given). ``first_solved`` is
    the step count at which the threshold was first reached.

    ``confirm_episodes``: when a screening evaluation reaches the threshold, re-evaluate with this
    many episodes and count it only if that mean also does (cheap screening, honest claims).
    """

    def __init__(self, env, every: int, episodes: int = 10, threshold: float | None = None,
                 confirm_episodes: int | None = None, best_path=None, keep_best: bool = False, seed: int = 10_000):
        self.env, self.every, self.episodes, self.threshold = env, int(every), int(episodes), threshold
        self.confirm_episodes, self.best_path, self.keep_best, self.seed = confirm_episodes, best_path, keep_best, seed
        self.history: list = []
        self.best_mean = -math.inf
        self.best_state = None
        self.first_solved = None
        self._next = None

    def on_learn_begin(self, agent):
        self._next = (agent.num_timesteps // self.every + 1) * self.every

    def on_step(self, agent):
        if agent.num_timesteps < self._next:
            return True
        self._next += self.every
        mean, std = agent.evaluate(self.env, self.episodes, seed=self.seed)
        solved = self.threshold is not None and mean >= self.threshold
        if solved and self.confirm_episodes:
            mean, std = agent.evaluate(self.env, self.confirm_episodes, seed=self.seed + 1)
            solved = mean >= self.threshold
        self.history.append((agent.num_timesteps, mean, std))
        if mean > self.best_mean:
            self.best_mean = mean
            if self.best_path is not None:
                from .checkpoint import save_agent
                save_agent(agent, self.best_path)
            elif self.keep_best:
                self.best_state = agent.state_dict()
        if solved:
            self.first_solved = agent.num_timesteps
            return False
        return True


# ---------------------------------------------------------------- the agent
class Agent:
    """Base class of lamina's RL agents (see the module docstring for the contract).

    Args:
        env: a Gymnasium id ("CartPole-v1"), an ``Env``, a ``VectorEnv``, or a zero-argument
            factory of envs. Ids and factories become a ``SyncVectorEnv`` of ``n_envs`` copies
            (same-step autoreset: a finished copy returns its last observation in
            ``infos["final_obs"]`` and the reset observation in ``obs``).
        seed: seeds the networks' initialisation, the agent's generator and the envs
            (copy ``i`` is reset with ``seed + i``).
        n_envs: copies when ``env`` is an id or a factory.
        log_interval: steps between progress logs; ``verbose=1`` prints a line each time.
    """

    algorithm = "agent"
    action_kind = "any"

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.__dict__.get("algorithm") and not cls.__name__.startswith("_"):
            ALGORITHMS[cls.algorithm] = cls

    def __init__(self, env, *, seed: int = 0, n_envs: int = 1, log_interval: int = 1000, verbose: int = 0,
                 env_kwargs: dict | None = None):
        self.env_id = _envs.env_id_of(env)
        self.env = _envs.as_vector_env(env, n_envs=n_envs, env_kwargs=env_kwargs)
        _envs.check_action_space(self.env, self.action_kind, type(self).__name__)
        self.n_envs = self.env.num_envs
        self.observation_space = self.env.single_observation_space
        self.action_space = self.env.single_action_space
        self.seed = int(seed)
        self.generator = backend.Generator().manual_seed(self.seed)
        self.rng = self.generator.numpy
        self.num_timesteps = 0
        self.log_interval = int(log_interval)
        self.verbose = int(verbose)
        self.stats = EpisodeStats(self.n_envs)
        self.train_info: dict = {}
        self.config = {"env_id": self.env_id, "n_envs": self.n_envs, "seed": self.seed,
                       "env_kwargs": dict(env_kwargs or {})}
        self._obs, _ = self.env.reset(seed=self.seed)
        self._obs_norm = _envs.find_obs_normalizer(self.env)
        self._callback: Callback = Callback()
        self._stop = False
        self._total_steps = 0

    # ---- construction helpers for subclasses
    @contextlib.contextmanager
    def _seeded(self, offset: int = 0):
        """Build networks inside: lamina's default generator is seeded from ``seed`` and restored
        afterwards, so construction is reproducible and leaves the global stream alone."""
        with lrandom.fork_rng():
            lrandom.manual_seed(self.seed * 1_000_003 + offset)
            yield

    def _components(self) -> dict:
        """{name: object with state_dict()/load_state_dict()}: networks, optimizers, buffers."""
        return {}

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    # ---- training loop
    def learn(self, total_steps: int, callback=None) -> "Agent":
        """Train until ``num_timesteps >= total_steps`` (absolute: a resumed run gets the same
        number). ``callback``: a :class:`Callback`, ``fn(agent)`` or a list; returns ``self``."""
        total_steps = int(total_steps)
        if total_steps < 0:
            raise ValueError(f"learn: total_steps must be >= 0, got {total_steps}")
        cbs = [callback] if callback is not None else []
        if self.verbose:
            cbs.append(ProgressPrinter())
        self._callback = as_callback(cbs) if len(cbs) != 1 else as_callback(cbs[0])
        self._total_steps = total_steps
        self._stop = False
        self._t0 = self._t_log = time.perf_counter()
        self._steps_log = self.num_timesteps
        self._next_log = (self.num_timesteps // self.log_interval + 1) * self.log_interval
        self._callback.on_learn_begin(self)
        while self.num_timesteps < total_steps and not self._stop:
            self._train_iteration()
        self._callback.on_learn_end(self)
        return self

    def _train_iteration(self) -> None:
        raise NotImplementedError

    def _after_step(self, rewards, terminated, truncated, infos=None) -> bool:
        """Call after every vector-env step: counts steps, updates episode statistics (with the
        unscaled rewards when NormalizeReward put them in ``infos["raw_reward"]``), logs, runs
        the callback. Returns False (and sets ``_stop``) when training must stop now."""
        self.num_timesteps += self.n_envs
        if infos is not None and "raw_reward" in infos:
            rewards = infos["raw_reward"]
        self.stats.update(rewards, terminated | truncated)
        if self.num_timesteps >= self._next_log:
            self._next_log += self.log_interval
            self._callback.on_log(self, self.progress())
        if self._callback.on_step(self) is False:
            self._stop = True
        return not self._stop

    def progress(self) -> dict:
        """steps, steps_per_s (since the last log), episodes, ep_return_mean, ep_length_mean, time_s,
        and the algorithm's ``train_info`` (losses, epsilon, alpha, ...)."""
        now = time.perf_counter()
        dt = max(now - self._t_log, 1e-9)
        sps = (self.num_timesteps - self._steps_log) / dt
        self._t_log, self._steps_log = now, self.num_timesteps
        logs = {"steps": self.num_timesteps, "steps_per_s": sps, "episodes": self.stats.episodes,
                "ep_return_mean": self.stats.mean_return, "ep_length_mean": self.stats.mean_length,
                "time_s": now - self._t0}
        logs.update({k: float(v) for k, v in self.train_info.items()})
        return logs

    # ---- acting
    def _predict_array(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        raise NotImplementedError

    def predict(self, obs, deterministic: bool = True) -> np.ndarray:
        """Actions for raw observations: ``obs`` of the observation space's shape (one action back)
        or with a leading batch axis (a batch back). Applies the training env's observation
        normalisation (frozen) when it has one.

        >>> a = agent.predict(obs)                   # int for Discrete, array for Box
        """
        x = np.asarray(obs, dtype=np.float32)
        shape = tuple(self.observation_space.shape)
        single = x.shape == shape
        if single:
            x = x[None]
        elif x.shape[1:] != shape:
            raise ValueError(f"{type(self).__name__}.predict: expected observations of shape {shape} or "
                             f"(batch, {', '.join(map(str, shape))}), got {x.shape}")
        if self._obs_norm is not None:
            x = self._obs_norm.normalize(x).astype(np.float32)
        a = self._predict_array(x, deterministic)
        return a[0] if single else a

    def evaluate(self, env, episodes: int = 10, deterministic: bool = True, seed: int = 10_000,
                 max_envs: int = 16, return_episodes: bool = False):
        """Mean and std of the undiscounted return over ``episodes`` episodes.

        ``env``: an id (``max_envs`` copies run side by side, copy ``i`` reset with ``seed + i``),
        an ``Env`` (episodes run one after another) or an env factory. Uses its own generator
        for stochastic policies, so training is not disturbed. ``return_episodes=True`` also
        returns the list of returns.

        >>> mean, std = agent.evaluate("CartPole-v1", episodes=100)
        """
        episodes = int(episodes)
        if episodes < 1:
            raise ValueError(f"evaluate: episodes must be >= 1, got {episodes}")
        if isinstance(env, str) or (callable(env) and (isinstance(env, type) or not hasattr(env, "step"))):
            n = min(episodes, max_envs)
            made = [_envs.make_env(env, **self.config.get("env_kwargs", {})) if isinstance(env, str) else env()
                    for _ in range(n)]
        else:
            n, made = 1, [env]
        for e in made:
            _envs.check_action_space_single(e, self.action_space, type(self).__name__)
        saved_rng = self.rng
        self.rng = np.random.Generator(np.random.PCG64(seed))
        try:
            targets = [episodes // n + (1 if i < episodes % n else 0) for i in range(n)]
            obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(made)]
            ret, done_returns = np.zeros(n), []
            active = [i for i in range(n) if targets[i] > 0]
            while active:
                acts = self.predict(np.stack([obs[i] for i in active]), deterministic)
                for j, i in enumerate(active):
                    obs[i], r, term, trunc, _ = made[i].step(_envs.env_action(acts[j], self.action_space))
                    ret[i] += r
                    if term or trunc:
                        done_returns.append(ret[i])
                        ret[i] = 0.0
                        targets[i] -= 1
                        if targets[i] > 0:
                            obs[i] = made[i].reset()[0]
                active = [i for i in active if targets[i] > 0]
        finally:
            self.rng = saved_rng
            if isinstance(env, str):
                for e in made:
                    e.close()
        r = np.asarray(done_returns, dtype=np.float64)
        out = (float(r.mean()), float(r.std()))
        return out + (done_returns,) if return_episodes else out

    # ---- state
    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly (see the module docstring)."""
        return {
            "algorithm": self.algorithm, "version": STATE_VERSION, "config": dict(self.config),
            "num_timesteps": self.num_timesteps,
            "components": {k: c.state_dict() for k, c in self._components().items()},
            "extra": self._extra_state(),
            "rng": {"agent": self.generator.get_state(), "global": get_rng_states()},
            "env": _envs.get_env_state(self.env),
            "obs": np.array(self._obs, copy=True),
            "episodes": self.stats.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (from this process or a checkpoint file) into this agent,
        which must have been built with the same algorithm, spaces and network sizes."""
        algo = state.get("algorithm")
        if algo != self.algorithm:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state is of a {algo!r} agent, "
                             f"this agent is {self.algorithm!r}")
        mine, saved = self._components(), state["components"]
        if set(mine) != set(saved):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state holds {sorted(saved)}, this agent "
                             f"has {sorted(mine)}")
        for k, c in mine.items():
            c.load_state_dict(saved[k])
        self._load_extra_state(state["extra"])
        self.num_timesteps = int(state["num_timesteps"])
        from ..train.rng_state import _jsonable
        self.generator.set_state(_jsonable(state["rng"]["agent"]))
        set_rng_states(state["rng"]["global"])
        exact = _envs.set_env_state(self.env, state["env"], seed=self.seed + self.num_timesteps)
        self.stats.load_state_dict(state["episodes"])
        if exact:
            self._obs = _np(state["obs"]).copy()
        else:  # the envs were reset (their state can't be captured): episodes restart
            self._obs = _envs.last_reset_obs(self.env)
            self.stats.returns[:] = 0.0
            self.stats.lengths[:] = 0

    # ---- files (SB3's shape; see checkpoint.py)
    def save(self, path, metadata: dict | None = None) -> None:
        """Write ``state_dict()`` to ``path`` atomically (safetensors + JSON, never pickle)."""
        from .checkpoint import save_agent
        save_agent(self, path, metadata=metadata)

    @classmethod
    def load(cls, path, env=None, **overrides) -> "Agent":
        """Rebuild the agent saved at ``path`` (its config, optionally overridden) and restore it."""
        from .checkpoint import load_agent
        agent = load_agent(path, env=env, **overrides)
        if not isinstance(agent, cls):
            raise ValueError(f"{cls.__name__}.load: {path} holds a {agent.algorithm!r} agent")
        return agent

    def close(self) -> None:
        self.env.close()

    def __repr__(self):
        return (f"{type(self).__name__}(env={self.env_id!r}, n_envs={self.n_envs}, seed={self.seed}, "
                f"num_timesteps={self.num_timesteps})")
