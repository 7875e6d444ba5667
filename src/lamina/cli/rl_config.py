"""The TOML config of a reinforcement-learning run (``lamina rl CONFIG``): schema and validation.

    [env]        id = "CartPole-v1", n_envs = 8, normalize_obs, normalize_reward,
                 kwargs = {...} (gymnasium.make's keyword arguments)
    [algorithm]  name = "ppo" (dqn, ppo, a2c, reinforce, sac) + the agent class's own arguments
                 (learning_rate, n_steps, ...); policy_kwargs = {hidden = [64, 64], ...} for the
                 on-policy agents (lamina.rl.ActorCritic's arguments)
    [rl]         total_steps, seed, log_interval, eval_every, eval_episodes, eval_threshold,
                 eval_confirm_episodes, checkpoint_every, final_eval_episodes, tensorboard
    [run]        name, dir

``validate(cfg)`` checks every key the way :mod:`lamina.cli.config` does (one ConfigError line
naming the key and, for a typo, the closest valid name), looks the environment up (an unknown
id names close ones; a missing extra such as Box2D says which), and checks that the
algorithm's action kind fits the environment's action space. It returns the resolved config
(defaults filled in), which the run directory keeps as ``config.toml``.
"""
from __future__ import annotations

import inspect

from .config import Field, _nonneg_int, _pos_int, _table, apply_overrides, load_config
from .config import _fixed as _fixed_table
from .errors import ConfigError, closest, unknown_name

__all__ = ["RL_SCHEMA", "RL_SECTIONS", "is_rl_config", "validate", "load_config", "apply_overrides",
           "env_action_kind"]

RL_SCHEMA = {
    "run": {"name": Field("str", optional=True), "dir": Field("str", "runs")},
    "env": {"id": Field("str"), "n_envs": _pos_int(1), "normalize_obs": Field("bool", False),
            "normalize_reward": Field("bool", False)},
    "rl": {"total_steps": _pos_int(), "seed": _nonneg_int(0), "log_interval": _pos_int(1000),
           "eval_every": _nonneg_int(10_000), "eval_episodes": _pos_int(10),
           "eval_threshold": Field("float", optional=True),
           "eval_confirm_episodes": _pos_int(optional=True), "checkpoint_every": _pos_int(10_000),
           "final_eval_episodes": _nonneg_int(10), "tensorboard": Field("bool", False)},
}
RL_SECTIONS = ("algorithm", "env", "rl", "run")
# words people write for a section, for the "did you mean" hint
_SECTION_ALIASES = {"environment": "env", "algo": "algorithm", "agent": "algorithm", "train": "rl", "training": "rl"}
# Agent arguments the [env]/[rl] tables fill in: never keys of [algorithm]
_FILLED = ("env", "seed", "n_envs", "log_interval", "verbose", "env_kwargs")
_POLICY_FILLED = ("observation_space", "action_space", "generator")


def is_rl_config(cfg) -> bool:
    """Whether a parsed config is a reinforcement-learning one (it has an [rl] or [algorithm] table)."""
    return isinstance(cfg, dict) and ("rl" in cfg or "algorithm" in cfg)


def _fixed(section: str, table: dict) -> dict:
    """config.py's check of a fixed table against RL_SCHEMA, plus its required keys."""
    out = _fixed_table(section, table, RL_SCHEMA)
    fields = RL_SCHEMA[section]
    missing = [k for k, f in fields.items() if k not in out and not f.optional]
    if missing:
        raise ConfigError(f"{section}.{missing[0]} is required ({fields[missing[0]].describe()})")
    return out


def _check_kwargs(fn, kwargs: dict, where: str, skip: tuple) -> None:
    """Every key of ``kwargs`` names a keyword argument of ``fn`` (the closest one when not)."""
    params = inspect.signature(fn).parameters
    valid = [n for n, p in params.items() if n not in skip and n != "self"
             and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    for key in kwargs:
        if key not in valid:
            near = closest(key, valid)
            hint = f"; did you mean {where}.{near}?" if near else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint} (valid: {', '.join(sorted(valid))})")


def _algorithm(table: dict) -> dict:
    from ..rl import ALGORITHMS
    if "name" not in table:
        raise ConfigError(f"[algorithm] needs a name (valid: {', '.join(sorted(ALGORITHMS))})")
    name = table["name"]
    if not isinstance(name, str) or name.lower() not in ALGORITHMS:
        raise unknown_name("algorithm.name", "RL algorithm", name, ALGORITHMS)
    cls = ALGORITHMS[name.lower()]
    kwargs = {k: v for k, v in table.items() if k != "name"}
    _check_kwargs(cls.__init__, kwargs, "algorithm", _FILLED)
    pk = kwargs.get("policy_kwargs")
    if pk is not None:
        if not isinstance(pk, dict):
            raise ConfigError(f"algorithm.policy_kwargs must be a table such as {{hidden = [64, 64]}}, got {pk!r}")
        from ..rl import ActorCritic
        _check_kwargs(ActorCritic.__init__, pk, "algorithm.policy_kwargs", _POLICY_FILLED)
    return {"name": name.lower(), **kwargs}


def _env(table: dict) -> dict:
    kwargs = table.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ConfigError(f"env.kwargs must be a table of gymnasium.make's keyword arguments, got {kwargs!r}")
    out = _fixed("env", {k: v for k, v in table.items() if k != "kwargs"})
    out["kwargs"] = dict(kwargs)
    return out


def env_action_kind(env_cfg: dict) -> tuple:
    """``(kind, space)`` of the configured environment's actions ('discrete', 'continuous', ...),
    made once and closed. An unknown id, a missing extra (Box2D) or bad kwargs is a ConfigError."""
    try:
        from ..rl import envs
    except ImportError as e:
        raise ConfigError(f"lamina rl needs gymnasium: pip install 'lamina[rl]' ({e})") from None
    env_id = env_cfg["id"]
    try:
        env = envs.make_env(env_id, **env_cfg["kwargs"])
    except ValueError as e:
        raise ConfigError(f"env.id: {' '.join(str(e).split())}") from None
    except ImportError as e:
        raise ConfigError(f"env.id: {_dependency(env_id, e)}") from None
    except TypeError as e:
        raise ConfigError(f"env.kwargs: {env_id} does not take these arguments: {' '.join(str(e).split())}") from None
    try:
        return envs.action_kind(env.action_space), env.action_space
    finally:
        env.close()


def _dependency(env_id: str, e: BaseException) -> str:
    text = " ".join(str(e).split())
    if "box2d" in text.lower() or "Box2D" in text:
        return (f"environment {env_id!r} needs Box2D, which is not installed: pip install 'gymnasium[box2d]' "
                "(it needs swig to build)")
    return f"environment {env_id!r} needs a dependency that is not installed: {text}"


def validate(cfg: dict, check_env: bool = True) -> dict:
    """Check an RL config completely; return it resolved (defaults filled in). Raises ConfigError.

    ``check_env=False`` skips making the environment (its id, dependencies and action space)."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"a config must be a TOML table, got {type(cfg).__name__}")
    for key in cfg:
        if key not in RL_SECTIONS:
            near = closest(key, list(RL_SECTIONS) + list(_SECTION_ALIASES))
            near = _SECTION_ALIASES.get(near, near)
            hint = f"; did you mean [{near}]?" if near else ""
            raise ConfigError(f"unknown section [{key}] in an RL config{hint} (valid: {', '.join(RL_SECTIONS)})")
    for name, example in (("env", 'id = "CartPole-v1"'), ("algorithm", 'name = "ppo"'), ("rl", "total_steps = 100000")):
        if name not in cfg:
            raise ConfigError(f"[{name}] is missing: an RL config needs [env], [algorithm] and [rl] (e.g. [{name}] "
                              f"{example})")
    out = {"run": _fixed("run", _table(cfg, "run")), "env": _env(_table(cfg, "env")),
           "algorithm": _algorithm(_table(cfg, "algorithm")), "rl": _fixed("rl", _table(cfg, "rl"))}
    rl = out["rl"]
    if rl.get("eval_confirm_episodes") is not None and rl.get("eval_threshold") is None:
        raise ConfigError("rl.eval_confirm_episodes re-checks an evaluation that reached rl.eval_threshold; "
                          "set rl.eval_threshold too")
    if rl.get("eval_threshold") is not None and rl["eval_every"] == 0:
        raise ConfigError("rl.eval_threshold stops training when an evaluation reaches it, but rl.eval_every = 0 "
                          "turns evaluation off")
    if (out["env"]["normalize_obs"] or out["env"]["normalize_reward"]) and out["algorithm"]["name"] in ("dqn", "sac"):
        raise ConfigError(f"env.normalize_obs / env.normalize_reward are for the on-policy agents (ppo, a2c, "
                          f"reinforce); {out['algorithm']['name']} stores raw transitions in its replay buffer")
    if check_env:
        from ..rl import ALGORITHMS
        cls = ALGORITHMS[out["algorithm"]["name"]]
        kind, space = env_action_kind(out["env"])
        want = cls.action_kind
        if want == "any" and kind not in ("discrete", "continuous"):
            raise ConfigError(f"algorithm.name: {cls.__name__} supports Discrete and Box action spaces; "
                              f"{out['env']['id']} has {space}")
        if want != "any" and kind != want:
            other = ("a continuous-action algorithm (sac, ppo, a2c, reinforce)" if kind == "continuous"
                     else "a discrete-action algorithm (dqn, ppo, a2c, reinforce)")
            raise ConfigError(f"algorithm.name: {cls.__name__} needs {want} actions, but {out['env']['id']} has "
                              f"{kind} actions ({space}); use {other}")
    return out
