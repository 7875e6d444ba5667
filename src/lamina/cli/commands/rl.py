"""``lamina rl CONFIG``: train a reinforcement-learning agent (lamina.rl) from a TOML config.

Also the RL side of ``lamina evaluate RUN --episodes N [--video out.gif]`` (:func:`evaluate_run`)
and the helpers the report uses to recognise an RL run (:func:`is_rl_run`).
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time

from ..errors import ConfigError, one_line

HELP = "train a reinforcement-learning agent (DQN, PPO, A2C, REINFORCE, SAC) on a Gymnasium environment"
DESCRIPTION = """\
Train an agent of lamina.rl on a Gymnasium environment from a TOML config (see configs/dqn_cartpole.toml,
ppo_cartpole.toml, a2c_cartpole.toml, ppo_pendulum.toml, sac_pendulum.toml, ppo_lunarlander.toml):

  [env]        id = "CartPole-v1", n_envs, normalize_obs, normalize_reward, kwargs = {...}
  [algorithm]  name = "dqn" | "ppo" | "a2c" | "reinforce" | "sac" + the agent's arguments
               (learning_rate, n_steps, batch_size, ...; policy_kwargs = {hidden = [64, 64]})
  [rl]         total_steps, seed, log_interval, eval_every, eval_episodes, eval_threshold (stop when an
               evaluation reaches it), eval_confirm_episodes, checkpoint_every, final_eval_episodes,
               tensorboard
  [run]        name, dir

The run directory:

  runs/<name>/config.toml                   the resolved config
  runs/<name>/progress.csv                  one row per log: steps, steps/s, mean episodic return and
                                            length (last 100 episodes), the algorithm's losses
  runs/<name>/evaluations.csv               steps, mean and std of the deterministic policy's return
  runs/<name>/history.json                  both tables as JSON
  runs/<name>/summary.json                  final evaluation, best evaluation, steps, wall-clock time
  runs/<name>/checkpoints/last.safetensors  the whole agent state (networks, optimizers, replay buffer or
                                            rollout, every RNG, the environments): --resume continues exactly
  runs/<name>/checkpoints/best.safetensors  the agent at its best evaluation
  runs/<name>/tensorboard/                  event files, when [rl] tensorboard = true

A killed run resumes from its last checkpoint (written every rl.checkpoint_every steps) with
--resume and ends bitwise-identical to an uninterrupted run (CPU; environments whose state can
be captured, such as the classic-control ones). Everything is checked before anything is
written: an unknown environment id (close ones are named), an algorithm whose actions don't fit
the environment's, an unknown key (the closest valid one is named) exit with code 2.

examples:
  lamina rl configs/ppo_cartpole.toml
  lamina rl configs/dqn_cartpole.toml --set rl.seed=1 --name dqn_seed1
  lamina rl runs/dqn_cartpole --resume                   # continue a killed run
  lamina evaluate runs/ppo_cartpole --episodes 100 --video cartpole.gif
  lamina report runs/ppo_cartpole                        # return against steps
"""

PROGRESS, EVALUATIONS, HISTORY, SUMMARY = "progress.csv", "evaluations.csv", "history.json", "summary.json"
TENSORBOARD = "tensorboard"
_PROGRESS_KEYS = ("steps", "time_s", "steps_per_s", "episodes", "ep_return_mean", "ep_length_mean")
_EVAL_KEYS = ("steps", "eval_return_mean", "eval_return_std")


def configure(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="a TOML config file, or a run directory (its config.toml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set rl.total_steps=50000 (the value is TOML; repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run from its last checkpoint (starts it when there is none)")
    p.add_argument("--name", help="run name: the run directory is <run.dir>/<name> (default runs/<config name>)")
    p.add_argument("--run-dir", dest="run_dir", metavar="DIR", help="the run directory itself (overrides --name)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--check", action="store_true", help="only validate the config and build the agent, don't train")


# ---------------------------------------------------------------- building
def build_env(cfg: dict):
    """The training vector env of a validated config (lamina's normalisation wrappers when asked)."""
    from ...rl import NormalizeObservation, NormalizeReward, make_vec_env
    env, algo = cfg["env"], cfg["algorithm"]
    wrappers = []
    if env["normalize_obs"]:
        wrappers.append(NormalizeObservation)
    if env["normalize_reward"]:
        gamma = float(algo.get("gamma", 0.99))
        wrappers.append(lambda v: NormalizeReward(v, gamma=gamma))
    return make_vec_env(env["id"], env["n_envs"], wrappers=wrappers, **env["kwargs"])


def build_agent(cfg: dict, verbose: int = 0):
    """The agent of a validated config (its own arguments checked by its constructor: ConfigError)."""
    from ...rl import get_algorithm
    algo = dict(cfg["algorithm"])
    cls = get_algorithm(algo.pop("name"))
    venv = build_env(cfg)
    try:
        return cls(venv, seed=cfg["rl"]["seed"], log_interval=cfg["rl"]["log_interval"], verbose=verbose,
                   env_kwargs=cfg["env"]["kwargs"], **algo)
    except (ValueError, TypeError) as e:
        venv.close()
        raise ConfigError(f"algorithm: {one_line(e)}") from None


def load_state(agent, path: str) -> None:
    """Restore the checkpoint at ``path`` into ``agent``; a corrupt or mismatched file is a ConfigError."""
    from ...io import CheckpointError
    from ...rl import load_agent_state
    try:
        state = load_agent_state(path)
        agent.load_state_dict(state)
    except (CheckpointError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise ConfigError(f"cannot resume from {path}: {one_line(e)}") from None


# ---------------------------------------------------------------- history files
def _read_rows(path: str) -> list:
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_history(run_dir: str) -> tuple:
    """``(progress rows, evaluation rows)`` of an RL run as lists of {column: float}."""
    def num(rows):
        out = []
        for r in rows:
            row = {}
            for k, v in r.items():
                try:
                    row[k] = float(v)
                except (TypeError, ValueError):
                    row[k] = math.nan
            out.append(row)
        return out
    return num(_read_rows(os.path.join(run_dir, PROGRESS))), num(_read_rows(os.path.join(run_dir, EVALUATIONS)))


def _fmt(v) -> str:
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return str(v)
    v = float(v)
    return "NA" if not math.isfinite(v) else repr(v)


class _Table:
    """A CSV file that rows are appended to (flushed per row); columns grow as new keys appear."""

    def __init__(self, path: str, first: tuple, keep_until: int | None):
        self.path, self.first = path, first
        rows = _read_rows(path)
        if keep_until is not None:  # a resumed run: drop what the killed run wrote after its checkpoint
            rows = [r for r in rows if _as_float(r.get("steps")) <= keep_until]
        else:
            rows = []
        self.rows = rows
        self.columns = list(rows[0].keys()) if rows else list(first)
        self._write_all()

    def _write_all(self) -> None:
        from ...io import atomic_write_text
        lines = [",".join(self.columns)] + [",".join(str(r.get(c, "NA")) for c in self.columns) for r in self.rows]
        atomic_write_text(self.path, "\n".join(lines) + "\n")

    def append(self, values: dict) -> None:
        row = {k: _fmt(v) for k, v in values.items() if isinstance(v, (int, float))}
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new:
            self.columns += new
            self._write_all()
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(",".join(row.get(c, "NA") for c in self.columns) + "\n")


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.inf


def _make_recorder(run_dir: str, resume_step: int | None, tensorboard: bool):
    from ...rl import Callback

    class Recorder(Callback):
        """Appends each progress log to progress.csv and each evaluation (of ``evaluator``) to
        evaluations.csv, and mirrors both to TensorBoard when asked."""

        def __init__(self):
            self.progress = _Table(os.path.join(run_dir, PROGRESS), _PROGRESS_KEYS, resume_step)
            self.evals = _Table(os.path.join(run_dir, EVALUATIONS), _EVAL_KEYS, resume_step)
            self.evaluator = None
            self._seen = 0
            self.writer = None
            if tensorboard:
                from tensorboardX import SummaryWriter
                self.writer = SummaryWriter(logdir=os.path.join(run_dir, TENSORBOARD), purge_step=resume_step)

        def on_log(self, agent, logs):
            self.progress.append(logs)
            if self.writer is not None:
                for k, v in logs.items():
                    if k != "steps" and isinstance(v, (int, float)) and math.isfinite(v):
                        self.writer.add_scalar(f"train/{k}", v, logs["steps"])

        def on_step(self, agent):  # runs after the evaluator in the callback list
            hist = self.evaluator.history if self.evaluator is not None else []
            while self._seen < len(hist):
                steps, mean, std = hist[self._seen]
                self._seen += 1
                self.evals.append({"steps": int(steps), "eval_return_mean": mean, "eval_return_std": std})
                if self.writer is not None:
                    self.writer.add_scalar("eval/return_mean", mean, steps)
                    self.writer.add_scalar("eval/return_std", std, steps)
            return True

        def on_learn_end(self, agent):
            self.on_step(agent)
            if self.writer is not None:
                self.writer.close()

    return Recorder()


def _write_history_json(run_dir: str) -> None:
    from .. import rundir
    progress, evals = read_history(run_dir)
    rundir.write_json(os.path.join(run_dir, HISTORY), {"progress": progress, "evaluations": evals})


# ---------------------------------------------------------------- the command
def _stopped_by_threshold(run_dir: str, cfg: dict, steps: int) -> bool:
    """A finished run that stopped because an evaluation reached rl.eval_threshold (at ``steps``)."""
    import json
    path = os.path.join(run_dir, SUMMARY)
    if not os.path.isfile(path) or cfg["rl"].get("eval_threshold") is None:
        return False
    try:
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
    except (OSError, ValueError):
        return False
    return s.get("solved_at") == steps and s.get("eval_threshold") == cfg["rl"]["eval_threshold"]


def _same_run(cfg: dict, old: dict, run_dir: str) -> None:
    """--resume continues the same agent: [env], [algorithm] and rl.seed must not change."""
    for section in ("env", "algorithm"):
        if cfg[section] != old[section]:
            keys = sorted(k for k in set(cfg[section]) | set(old[section])
                          if cfg[section].get(k) != old[section].get(k))
            k = keys[0] if keys else "?"
            raise ConfigError(f"{section}.{k} = {cfg[section].get(k)!r} but the run {run_dir} was trained with "
                              f"{old[section].get(k)!r}: a resumed run keeps its environment and agent; start a new "
                              "run (another --name) instead")
    if cfg["rl"]["seed"] != old["rl"]["seed"]:
        raise ConfigError(f"rl.seed = {cfg['rl']['seed']} but the run {run_dir} was trained with seed "
                          f"{old['rl']['seed']}")


def load_run_config(run_dir: str) -> dict:
    """The validated config.toml of an RL run directory."""
    from .. import rl_config
    path = os.path.join(run_dir, "config.toml")
    if not os.path.isfile(path):
        raise ConfigError(f"{run_dir} has no config.toml: is it a run directory written by lamina rl?")
    try:
        return rl_config.validate(rl_config.load_config(path))
    except ConfigError as e:
        raise ConfigError(f"the run's {path} is not a valid RL config: {e}") from None


def _seed_globals(seed: int) -> None:
    """lamina's, NumPy's and Python's global generators, seeded as ``lamina train`` does."""
    import random
    import numpy as np
    from ... import backend
    backend.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def run(args) -> int:
    from .. import rl_config, rundir
    from .train import _run_dir, _taken
    raw = rl_config.apply_overrides(rl_config.load_config(args.config), args.overrides)
    cfg = rl_config.validate(raw)
    run_dir = _run_dir(args, cfg)
    last = os.path.join(run_dir, rundir.CHECKPOINTS, rundir.LAST)
    best = os.path.join(run_dir, rundir.CHECKPOINTS, rundir.BEST)
    resuming = args.resume and os.path.isfile(last)
    if not args.resume and _taken(run_dir):
        raise ConfigError(f"run directory {run_dir} already exists; pass --resume to continue it, or choose "
                          "another --name / --run-dir")
    if cfg["rl"]["tensorboard"]:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise ConfigError("rl.tensorboard = true needs tensorboardX: pip install 'lamina[tensorboard]'") from None
    # everything is checked before anything is written: config, environment, agent, checkpoint
    if resuming:
        _same_run(cfg, load_run_config(run_dir), run_dir)
    _seed_globals(cfg["rl"]["seed"])  # a resumed run restores the checkpoint's generators instead
    agent = build_agent(cfg)
    try:
        if resuming:
            load_state(agent, last)
        total = cfg["rl"]["total_steps"]
        n_params = sum(p.numel() for name, c in agent._components().items()
                       if hasattr(c, "parameters") and "target" not in name for p in c.parameters())
        if args.check:
            print(f"config OK: {type(agent).__name__} on {cfg['env']['id']} ({cfg['env']['n_envs']} envs, "
                  f"{n_params:,} parameters); run directory would be {run_dir}")
            return 0
        if resuming and (agent.num_timesteps >= total or _stopped_by_threshold(run_dir, cfg, agent.num_timesteps)):
            if not args.quiet:
                print(f"{run_dir} has trained {agent.num_timesteps} steps (rl.total_steps = {total}): nothing to do; "
                      "raise rl.total_steps to train it further")
            return 0
        elif args.resume and not resuming and not args.quiet:
            print(f"lamina: no checkpoint in {os.path.dirname(last)}: starting the run from scratch", file=sys.stderr)
        os.makedirs(os.path.join(run_dir, rundir.CHECKPOINTS), exist_ok=True)
        rundir.write_config(run_dir, cfg)
        if not args.quiet:
            what = "resuming at step %d" % agent.num_timesteps if resuming else "training"
            print(f"{what} {type(agent).__name__} ({n_params:,} parameters) on {cfg['env']['id']} x "
                  f"{cfg['env']['n_envs']} for {total:,} steps -> {run_dir}", flush=True)
        return _train(agent, cfg, run_dir, last, best, resuming, args.quiet)
    finally:
        agent.close()


def _train(agent, cfg: dict, run_dir: str, last: str, best: str, resuming: bool, quiet: bool) -> int:
    from .. import rundir
    from ...rl import CheckpointCallback, EvalCallback, ProgressPrinter
    rl = cfg["rl"]
    recorder = _make_recorder(run_dir, agent.num_timesteps if resuming else None, rl["tensorboard"])
    callbacks = []
    evaluator = None
    if rl["eval_every"] > 0:
        evaluator = EvalCallback(cfg["env"]["id"], every=rl["eval_every"], episodes=rl["eval_episodes"],
                                 threshold=rl.get("eval_threshold"), confirm_episodes=rl.get("eval_confirm_episodes"),
                                 best_path=best)
        done = [r for r in recorder.evals.rows]
        if done:  # a resumed run: the best so far is the best of the evaluations before its checkpoint
            evaluator.best_mean = max(_as_float(r["eval_return_mean"]) for r in done)
            evaluator.history = [(int(_as_float(r["steps"])), _as_float(r["eval_return_mean"]),
                                  _as_float(r["eval_return_std"])) for r in done]
            recorder._seen = len(evaluator.history)
        recorder.evaluator = evaluator
        callbacks.append(evaluator)
    callbacks.append(recorder)
    if not quiet:
        callbacks.append(ProgressPrinter())
    # last: the checkpoint written after the step's evaluation and records (so resume drops nothing it keeps)
    callbacks.append(CheckpointCallback(last, every=rl["checkpoint_every"]))
    t0 = time.perf_counter()
    start = agent.num_timesteps
    try:
        agent.learn(rl["total_steps"], callback=callbacks)
    except KeyboardInterrupt:
        print(f"lamina: interrupted; continue with: lamina rl {run_dir} --resume", file=sys.stderr)
        return 130
    wall = time.perf_counter() - t0
    _write_history_json(run_dir)
    summary = {"env": cfg["env"]["id"], "algorithm": cfg["algorithm"]["name"], "steps": agent.num_timesteps,
               "steps_this_call": agent.num_timesteps - start, "wall_s_this_call": wall,
               "train_return_mean": agent.stats.mean_return, "episodes": agent.stats.episodes}
    if evaluator is not None:
        summary.update(best_eval_return=evaluator.best_mean if evaluator.history else None,
                       solved_at=evaluator.first_solved, eval_threshold=rl.get("eval_threshold"))
    n = rl["final_eval_episodes"]
    if n:
        mean, std = agent.evaluate(cfg["env"]["id"], episodes=n)
        summary.update(final_eval_return_mean=mean, final_eval_return_std=std, final_eval_episodes=n)
    rundir.write_json(os.path.join(run_dir, SUMMARY), summary)
    if not quiet:
        parts = [f"{agent.num_timesteps} steps in {wall:.1f} s"]
        if n:
            parts.append(f"final return {summary['final_eval_return_mean']:.2f} ± {summary['final_eval_return_std']:.2f}"
                         f" over {n} episodes")
        if evaluator is not None and evaluator.history:
            parts.append(f"best evaluation {evaluator.best_mean:.2f}")
        if evaluator is not None and evaluator.first_solved is not None:
            parts.append(f"reached {rl['eval_threshold']:g} at step {evaluator.first_solved}")
        print(", ".join(parts) + f"  ->  {run_dir}")
    return 0


# ---------------------------------------------------------------- evaluate and video of an RL run
def is_rl_run(path) -> bool:
    """Whether ``path`` is an RL run directory (its config.toml has [rl]) or an RL agent checkpoint."""
    path = os.fspath(path)
    if os.path.isdir(path):
        cfg_path = os.path.join(path, "config.toml")
        if os.path.basename(os.path.normpath(path)) == "checkpoints":
            cfg_path = os.path.join(os.path.dirname(os.path.normpath(path)), "config.toml")
        if not os.path.isfile(cfg_path):
            return False
        from .. import rl_config
        try:
            return rl_config.is_rl_config(rl_config.load_config(cfg_path))
        except ConfigError:
            return False
    if os.path.isfile(path) and path.endswith(".safetensors"):
        from ... import io
        from ...rl.checkpoint import KIND
        try:
            return io.read_metadata(path).get("lamina.kind") == KIND
        except Exception:  # noqa: BLE001 - not a readable checkpoint: not an RL one either
            return False
    return False


def load_run_agent(path: str, prefer: str = "best"):
    """``(agent, cfg, run_dir, checkpoint)`` of an RL run directory (its best checkpoint, else the last)
    or of a checkpoint file in one."""
    from .. import rundir
    run_dir, ckpt = rundir.find_checkpoint(path, prefer)
    cfg = load_run_config(run_dir)
    agent = build_agent(cfg)
    try:
        load_state(agent, ckpt)
    except ConfigError:
        agent.close()
        raise
    return agent, cfg, run_dir, ckpt


def record_video(agent, env_id: str, path: str, seed: int = 10_000, env_kwargs: dict | None = None,
                 max_frames: int = 1000, fps: int | None = None) -> dict:
    """One episode of the deterministic policy from ``rgb_array`` frames, written as a GIF (Pillow)."""
    import numpy as np
    from PIL import Image
    from ...rl import envs
    for var in ("SDL_AUDIODRIVER", "SDL_VIDEODRIVER"):  # rgb_array frames need no sound or window (SDL
        os.environ.setdefault(var, "dummy")              # complains at exit on a machine without them)
    try:
        env = envs.make_env(env_id, render_mode="rgb_array", **(env_kwargs or {}))
    except (ValueError, ImportError) as e:
        raise ConfigError(f"--video: {one_line(e)}") from None
    try:
        obs, _ = env.reset(seed=seed)
        frames, ret, done = [env.render()], 0.0, False
        while not done and len(frames) < max_frames:
            obs, r, term, trunc, _ = env.step(envs.env_action(agent.predict(obs, deterministic=True), agent.action_space))
            ret += float(r)
            done = term or trunc
            frames.append(env.render())
        fps = fps or int(env.metadata.get("render_fps") or 30)
    finally:
        env.close()
    if frames[0] is None:
        raise ConfigError(f"--video: {env_id} renders no rgb_array frames")
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=max(int(1000 / fps), 20),
                   loop=0)
    return {"path": path, "frames": len(frames), "return": ret, "steps": len(frames) - 1, "fps": fps}


def evaluate_run(args) -> int:
    """``lamina evaluate RUN --episodes N [--video out.gif] [--json]`` for an RL run: mean and std of
    the return of the deterministic policy over N episodes (and one recorded episode)."""
    from .. import rundir
    for flag, value, default in (("--data", args.data, None), ("--attack", args.attack, None),
                                 ("--iwae", args.iwae, None), ("--batch-size", args.batch_size, None),
                                 ("--set", args.overrides or None, None)):
        if value != default:
            raise ConfigError(f"{flag} is for supervised runs; an RL run is evaluated on its environment "
                              "(--episodes N, --video out.gif)")
    episodes = 10 if args.episodes is None else args.episodes
    if episodes < 1:
        raise ConfigError(f"--episodes must be a positive integer, got {episodes}")
    if args.video is not None and not args.video.lower().endswith(".gif"):
        raise ConfigError(f"--video writes a GIF: give a path ending in .gif, got {args.video}")
    seed = 10_000 if args.seed is None else args.seed
    agent, cfg, run_dir, ckpt = load_run_agent(args.target)
    try:
        env_id, kwargs = cfg["env"]["id"], cfg["env"]["kwargs"]
        t0 = time.perf_counter()
        mean, std, returns = agent.evaluate(env_id, episodes=episodes, seed=seed, return_episodes=True)
        result = {"run": run_dir, "checkpoint": ckpt, "seed": seed,
                  "env": env_id, "algorithm": cfg["algorithm"]["name"], "steps_trained": agent.num_timesteps,
                  "episodes": episodes, "deterministic": True, "return_mean": mean, "return_std": std,
                  "return_min": float(min(returns)), "return_max": float(max(returns)),
                  "wall_s": time.perf_counter() - t0}
        if args.video is not None:
            result["video"] = record_video(agent, env_id, args.video, seed=seed, env_kwargs=kwargs)
    finally:
        agent.close()
    if args.json:
        print(rundir.dumps_json(result))
    else:
        print(f"{env_id}, {episodes} episodes, deterministic policy, {cfg['algorithm']['name']} after "
              f"{agent.num_timesteps} steps ({ckpt})")
        print(f"  return  {mean:.2f} ± {std:.2f}  (min {result['return_min']:.2f}, max {result['return_max']:.2f})")
        if args.video is not None:
            v = result["video"]
            print(f"  video   {v['path']}: one episode, {v['steps']} steps, return {v['return']:.2f}")
    return 0
