"""Gymnasium environments for lamina's agents: making and seeding them, checking them, and
capturing their full state for exact resume.

    env = make_env("CartPole-v1")                       # gymnasium.make, with a helpful error
    venv = make_vec_env("Pendulum-v1", n_envs=4, seed=0) # SyncVectorEnv, same-step autoreset
    check_action_space(venv, "continuous", "SAC")       # ValueError on a Discrete env

State capture (``get_env_state`` / ``set_env_state``): a classic-control env's whole state is
plain data on its layers: the physics ``state``, its ``np_random`` generator, the TimeLimit's
``_elapsed_steps``, wrappers' flags, and the running statistics of lamina's normalisation
wrappers (their ``state_dict``). Every layer's attributes that hold numbers, strings, arrays or
NumPy generators are recorded. An env whose layers hold other objects (a Box2D world, a
subprocess) can't be captured: its state says so, and restoring resets the envs (seeded) with
a warning, because that resumed run can't be bitwise-identical.
"""
from __future__ import annotations

import difflib
import enum
import warnings

import numpy as np

__all__ = ["make_env", "make_vec_env", "as_vector_env", "env_id_of", "check_env_id", "check_action_space",
           "check_action_space_single", "action_kind", "env_action", "get_env_state", "set_env_state",
           "find_obs_normalizer", "last_reset_obs"]


def _gym():
    try:
        import gymnasium
    except ImportError as e:  # pragma: no cover - gymnasium is an optional extra
        raise ImportError("lamina.rl needs gymnasium: pip install 'lamina[rl]'") from e
    return gymnasium


# ---------------------------------------------------------------- ids
def check_env_id(env_id: str) -> None:
    """Raise ValueError naming the closest registered ids when ``env_id`` is not registered."""
    gym = _gym()
    if env_id in gym.registry:
        return
    ids = list(gym.registry)
    low = {i.lower(): i for i in ids}
    close = difflib.get_close_matches(env_id.lower(), list(low), n=3, cutoff=0.6)
    if not close:  # match the name without its version ("CartPole-v9" -> CartPole-v0/v1)
        base = env_id.split("-v")[0].lower()
        close = [i for i in low if i.split("-v")[0] == base][:3]
    hint = f"; did you mean {', '.join(repr(low[c]) for c in close)}?" if close else ""
    raise ValueError(f"unknown environment id {env_id!r}{hint}")


def env_id_of(env) -> str | None:
    """The registered id of ``env`` (a string is returned as is), or None."""
    if isinstance(env, str):
        return env
    spec = getattr(env, "spec", None)
    if spec is None and hasattr(env, "envs"):
        spec = getattr(env.envs[0], "spec", None)
    return getattr(spec, "id", None)


def make_env(env_id: str, *, seed: int | None = None, render_mode: str | None = None, **kwargs):
    """``gymnasium.make(env_id, **kwargs)``; an unknown id is a ValueError naming close ones.
    ``seed`` resets the env once with it (``env.reset(seed=seed)``)."""
    gym = _gym()
    check_env_id(env_id)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        raise ImportError(f"environment {env_id!r} needs an extra dependency: {e}") from e
    if seed is not None:
        env.reset(seed=seed)
    return env


def make_vec_env(env_id, n_envs: int = 1, *, seed: int | None = None, wrappers=(), autoreset_mode: str = "same_step",
                 **kwargs):
    """``n_envs`` copies of ``env_id`` (an id or a zero-argument env factory) in a ``SyncVectorEnv``.

    ``autoreset_mode``: "same_step" (default; a finished copy's last observation is in
    ``infos["final_obs"]``, ``obs`` already holds the reset one) or "next_step" (Gymnasium's
    default). ``wrappers``: vector wrappers applied in order, e.g. ``[NormalizeObservation]``.
    ``seed`` resets copy ``i`` with ``seed + i``.
    """
    gym = _gym()
    from gymnasium.vector import AutoresetMode, SyncVectorEnv
    n_envs = int(n_envs)
    if n_envs < 1:
        raise ValueError(f"make_vec_env: n_envs must be >= 1, got {n_envs}")
    modes = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP}
    if autoreset_mode not in modes:
        raise ValueError(f"make_vec_env: autoreset_mode must be one of {sorted(modes)}, got {autoreset_mode!r}")
    if isinstance(env_id, str):
        check_env_id(env_id)
        fns = [lambda: gym.make(env_id, **kwargs) for _ in range(n_envs)]
    elif callable(env_id):
        fns = [env_id for _ in range(n_envs)]
    else:
        raise TypeError(f"make_vec_env: expected an env id or a factory, got {type(env_id).__name__}")
    venv = SyncVectorEnv(fns, autoreset_mode=modes[autoreset_mode])
    for w in wrappers:
        venv = w(venv)
    if seed is not None:
        venv.reset(seed=seed)
    return venv


def as_vector_env(env, n_envs: int = 1, env_kwargs: dict | None = None):
    """A VectorEnv from an id, a factory, a single Env (wrapped alone) or a VectorEnv (as is)."""
    gym = _gym()
    if isinstance(env, gym.vector.VectorEnv):
        return env
    if isinstance(env, gym.Env):
        if n_envs != 1:
            raise ValueError("as_vector_env: pass an env id or a factory to get several copies, not an Env object")
        return make_vec_env(lambda: env, 1)
    if isinstance(env, str) or callable(env):
        return make_vec_env(env, n_envs, **(env_kwargs or {}))
    raise TypeError(f"expected an environment id, a gymnasium Env or VectorEnv, or an env factory; "
                    f"got {type(env).__name__}")


# ---------------------------------------------------------------- action spaces
def action_kind(space) -> str:
    """'discrete' (Discrete), 'continuous' (Box), or the space's class name."""
    from gymnasium import spaces
    if isinstance(space, spaces.Discrete):
        return "discrete"
    if isinstance(space, spaces.Box):
        return "continuous"
    return type(space).__name__


def check_action_space(env, expected: str, algorithm: str) -> None:
    """ValueError when the env's actions are not of the ``expected`` kind ("discrete",
    "continuous", "any"), e.g. SAC on CartPole or DQN on Pendulum, in one line."""
    space = getattr(env, "single_action_space", None) or env.action_space
    kind = action_kind(space)
    if expected == "any":
        if kind in ("discrete", "continuous"):
            return
        raise ValueError(f"{algorithm} supports Discrete and Box action spaces; {env_id_of(env) or 'the environment'} "
                         f"has {space}")
    if kind != expected:
        name = env_id_of(env) or "the environment"
        raise ValueError(f"{algorithm} needs a {expected} action space ({'Box' if expected == 'continuous' else 'Discrete'}"
                         f"), but {name} has {kind} actions ({space})")
    obs = getattr(env, "single_observation_space", None) or env.observation_space
    from gymnasium import spaces
    if not isinstance(obs, spaces.Box):
        raise ValueError(f"{algorithm} needs Box observations (vectors); {env_id_of(env) or 'the environment'} has "
                         f"{obs} (flatten or one-hot encode it with a gymnasium wrapper)")


def check_action_space_single(env, space, algorithm: str) -> None:
    """The evaluation env must have the training env's action space."""
    if env.action_space != space:
        raise ValueError(f"{algorithm}.evaluate: the environment's action space {env.action_space} differs from "
                         f"the one the agent was trained on ({space})")


def env_action(a, space):
    """One action as the env expects it (a Python int for Discrete)."""
    return int(a) if action_kind(space) == "discrete" else a


# ---------------------------------------------------------------- state capture
_SKIP = {"_saved_kwargs", "_previous_data", "spec", "_cached_spec", "metadata", "_metadata", "render_mode",
         "screen", "clock", "envs", "env", "action_space", "observation_space", "_action_space",
         "_observation_space", "env_fns", "single_action_space", "single_observation_space", "_env_obs", "_observations"}
_OPAQUE_OK = ("Space", "EnvSpec", "function", "method", "type")


def _plain(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str, np.ndarray, np.generic)):
        return True
    if isinstance(v, (tuple, list)):
        return all(_plain(x) for x in v)
    return False


def _encode(v):
    if isinstance(v, np.generic):
        return {"np": np.asarray(v)}  # keep float32 scalars float32
    if isinstance(v, np.ndarray):
        return {"np": v.copy()} if v.dtype != object else None
    if isinstance(v, tuple):
        return {"tuple": [_encode(x) for x in v]}
    if isinstance(v, list):
        return {"list": [_encode(x) for x in v]}
    return {"v": v}


def _decode(d):
    if "np" in d:
        a = np.asarray(getattr(d["np"], "array", d["np"])).copy()
        return a[()] if a.ndim == 0 else a
    if "tuple" in d:
        return tuple(_decode(x) for x in d["tuple"])
    if "list" in d:
        return [_decode(x) for x in d["list"]]
    return d["v"]


def _layers(env):
    """The env and every layer under it (``.env`` chain), then sub-envs of a vector env."""
    out, x = [], env
    while x is not None:
        out.append(x)
        x = x.__dict__.get("env")
    return out


def _capture(obj, path: str, opaque: list) -> dict:
    if callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None)):
        return {"state_dict": obj.state_dict()}
    attrs = {}
    for k, v in vars(obj).items():
        if k in _SKIP or isinstance(v, enum.Enum):
            continue
        if isinstance(v, np.random.Generator):
            attrs[k] = {"bitgen": _bitgen_state(v)}
        elif _plain(v):
            enc = _encode(v)
            if enc is not None:
                attrs[k] = enc
        elif not any(t in type(v).__name__ for t in _OPAQUE_OK) and not callable(v):
            opaque.append(f"{path}.{k} ({type(v).__name__})")
    return {"attrs": attrs}


def _bitgen_state(g: np.random.Generator) -> dict:
    st = g.bit_generator.state
    if st["bit_generator"] != "PCG64":
        return {"unsupported": st["bit_generator"]}
    return {"bit_generator": "PCG64", "state": str(st["state"]["state"]), "inc": str(st["state"]["inc"]),
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def _set_bitgen(g: np.random.Generator, st: dict) -> None:
    g.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": int(st["state"]), "inc": int(st["inc"])},
                             "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def get_env_state(env) -> dict:
    """The full state of a (vector) env as tensors and JSON values: one entry per layer of the
    vector env's wrapper chain and per layer of each sub-env. ``complete`` is False (with
    ``opaque`` naming what could not be captured) for envs holding non-data objects."""
    opaque: list = []
    vec = [_capture(x, type(x).__name__, opaque) for x in _layers(env)]
    subs = []
    for i, sub in enumerate(getattr(_layers(env)[-1], "envs", []) or []):
        subs.append([_capture(x, f"envs[{i}].{type(x).__name__}", opaque) for x in _layers(sub)])
    return {"vector": vec, "envs": subs, "complete": not opaque, "opaque": opaque,
            "layers": [type(x).__name__ for x in _layers(env)]}


def _restore(obj, st: dict) -> None:
    if "state_dict" in st:
        obj.load_state_dict(st["state_dict"])
        return
    for k, enc in st["attrs"].items():
        if "bitgen" in enc:
            if "unsupported" not in enc["bitgen"]:
                _set_bitgen(getattr(obj, k), enc["bitgen"])
        else:
            setattr(obj, k, _decode(enc))


def set_env_state(env, state: dict, seed: int = 0) -> bool:
    """Restore :func:`get_env_state` into an env built the same way. Returns True when the state
    was complete (the env continues exactly); otherwise restores what it can (normalisation
    statistics), resets the envs with ``seed``, warns, and returns False."""
    layers = _layers(env)
    names = [type(x).__name__ for x in layers]
    if names != list(state["layers"]):
        raise ValueError(f"set_env_state: the saved environment has wrapper layers {list(state['layers'])}, "
                         f"this one has {names}")
    subs = getattr(layers[-1], "envs", []) or []
    if len(subs) != len(state["envs"]):
        raise ValueError(f"set_env_state: the saved vector env has {len(state['envs'])} copies, this one {len(subs)}")
    if not state["complete"]:
        for x, st in zip(layers, state["vector"]):
            if "state_dict" in st:
                _restore(x, st)
        warnings.warn("the environment's state can't be captured (" + ", ".join(state["opaque"][:3]) +
                      "): the resumed run resets its environments, so it is not bitwise-identical to an "
                      "uninterrupted one", RuntimeWarning, stacklevel=3)
        env._lamina_reset_obs = env.reset(seed=seed)[0]
        return False
    for x, st in zip(layers, state["vector"]):
        _restore(x, st)
    for sub, sts in zip(subs, state["envs"]):
        for x, st in zip(_layers(sub), sts):
            _restore(x, st)
    return True


def last_reset_obs(env):
    """Observations of the reset done by a :func:`set_env_state` that could not restore exactly."""
    return env.__dict__.pop("_lamina_reset_obs")


def find_obs_normalizer(env):
    """The first layer of ``env`` with a ``normalize(obs)`` method (lamina's NormalizeObservation)."""
    for x in _layers(env):
        if callable(getattr(x, "normalize", None)) and hasattr(x, "obs_rms"):
            return x
    return None
