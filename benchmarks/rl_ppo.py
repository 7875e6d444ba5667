"""PPO on CartPole-v1, lamina against Stable-Baselines3 with the same hyperparameters, and PPO on Pendulum-v1.

    python benchmarks/rl_ppo.py                      # everything (several minutes on a quiet machine)
    python benchmarks/rl_ppo.py --seeds 1 --timing-rounds 1 --pendulum-steps 0   # a quick look

Three parts, each run in its own processes (one BLAS/torch thread), frameworks alternating:

1. Steps to solve CartPole-v1 with rl-zoo's settings (8 envs, 32 steps, batch 256, 20 epochs,
   GAE λ 0.8, γ 0.98, lr 1e-3 and clip 0.2 both decayed linearly over 100k steps, ent 0, Adam ε 1e-5,
   max grad norm 0.5, 64x64 tanh actor and critic): every ``--eval-every`` steps the deterministic
   policy plays 10 episodes; when their mean reaches 475 it plays 100 more (other seeds) and the run
   counts as solved at that step if that mean is >= 475 too. Training wall-clock excludes evaluation.
2. Wall-clock (and CPU) seconds per 10,000 training steps, median over ``--timing-rounds``
   alternating rounds of 10,240 steps after a 1,024-step warm-up; ratio lamina / SB3.
3. PPO on Pendulum-v1 (lamina): the first step where the mean return over 10 (then 20 confirming)
   episodes is >= -300, within ``--pendulum-steps``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

ZOO = dict(n_envs=8, n_steps=32, batch_size=256, n_epochs=20, gae_lambda=0.8, gamma=0.98, learning_rate=1e-3,
           clip_range=0.2, ent_coef=0.0)
PENDULUM = dict(n_envs=4, n_steps=256, batch_size=256, n_epochs=10, gamma=0.9, gae_lambda=0.95, learning_rate=1e-3,
                policy_kwargs={"log_std_init": -0.5})
EVAL_SEED = 10_000


# ---------------------------------------------------------------- lamina workers
def _lamina_agent(seed: int, total: int):
    import lamina
    from lamina.rl import PPO
    lamina.set_num_threads(1)  # one thread, as SB3's torch below
    z = dict(ZOO)
    return PPO("CartPole-v1", seed=seed, anneal_lr=True, anneal_clip_range=True, **z), total


def lamina_solve(seed: int, max_steps: int, every: int) -> dict:
    from lamina.rl import Callback
    agent, _ = _lamina_agent(seed, max_steps)
    out = {"framework": "lamina", "seed": seed, "solved_at": None, "train_s": 0.0, "evals": []}

    class Eval(Callback):
        def __init__(self):
            self.next, self.eval_s, self.eval_cpu = every, 0.0, 0.0

        def on_step(self, a):
            if a.num_timesteps < self.next:
                return True
            self.next += every
            t, c = time.perf_counter(), time.process_time()
            mean, _ = a.evaluate("CartPole-v1", episodes=10, seed=EVAL_SEED)
            if mean >= 475:
                mean, _ = a.evaluate("CartPole-v1", episodes=100, seed=EVAL_SEED + 100)
            self.eval_s += time.perf_counter() - t
            self.eval_cpu += time.process_time() - c
            out["evals"].append((a.num_timesteps, round(mean, 1)))
            if mean >= 475:
                out["solved_at"] = a.num_timesteps
                return False
            return True

    cb = Eval()
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(max_steps, callback=cb)
    out["train_s"] = time.perf_counter() - t0 - cb.eval_s
    out["train_cpu_s"] = time.process_time() - c0 - cb.eval_cpu
    out["steps"] = agent.num_timesteps
    return out


def lamina_timing(steps: int) -> dict:
    agent, _ = _lamina_agent(0, 10**9)
    agent.learn(1024)
    t, c = time.perf_counter(), time.process_time()
    agent.learn(1024 + steps)
    return {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "steps": agent.num_timesteps - 1024}


def lamina_pendulum(max_steps: int, every: int) -> dict:
    import lamina
    from lamina.rl import PPO, Callback
    lamina.set_num_threads(1)
    agent = PPO("Pendulum-v1", seed=0, **PENDULUM)
    out = {"framework": "lamina", "env": "Pendulum-v1", "solved_at": None, "evals": []}

    class Eval(Callback):
        def __init__(self):
            self.next, self.eval_s, self.eval_cpu = every, 0.0, 0.0

        def on_step(self, a):
            if a.num_timesteps < self.next:
                return True
            self.next += every
            t, c = time.perf_counter(), time.process_time()
            mean, _ = a.evaluate("Pendulum-v1", episodes=10, seed=EVAL_SEED)
            if mean >= -300:
                mean, _ = a.evaluate("Pendulum-v1", episodes=20, seed=EVAL_SEED + 100)
            self.eval_s += time.perf_counter() - t
            self.eval_cpu += time.process_time() - c
            out["evals"].append((a.num_timesteps, round(mean, 1)))
            if mean >= -300:
                out["solved_at"] = a.num_timesteps
                return False
            return True

    cb = Eval()
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(max_steps, callback=cb)
    out["train_s"] = time.perf_counter() - t0 - cb.eval_s
    out["train_cpu_s"] = time.process_time() - c0 - cb.eval_cpu
    return out


# ---------------------------------------------------------------- SB3 workers
def _sb3_model(seed: int):
    import torch
    torch.set_num_threads(1)
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    z = dict(ZOO)
    n_envs, lr, clip = z.pop("n_envs"), z.pop("learning_rate"), z.pop("clip_range")
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
    return PPO("MlpPolicy", env, learning_rate=lambda p: lr * p, clip_range=lambda p: clip * p, seed=seed,
               device="cpu", verbose=0, **z)


def _sb3_eval(model, episodes: int, seed: int) -> float:
    import gymnasium as gym
    import numpy as np
    n = min(episodes, 16)
    envs = [gym.make("CartPole-v1") for _ in range(n)]
    targets = [episodes // n + (1 if i < episodes % n else 0) for i in range(n)]
    obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]
    ret, done = np.zeros(n), []
    active = list(range(n))
    while active:
        acts, _ = model.predict(np.stack([obs[i] for i in active]), deterministic=True)
        for j, i in enumerate(active):
            obs[i], r, term, trunc, _ = envs[i].step(int(acts[j]))
            ret[i] += r
            if term or trunc:
                done.append(ret[i])
                ret[i], targets[i] = 0.0, targets[i] - 1
                if targets[i] > 0:
                    obs[i] = envs[i].reset()[0]
        active = [i for i in active if targets[i] > 0]
    return float(np.mean(done))


def sb3_solve(seed: int, max_steps: int, every: int) -> dict:
    from stable_baselines3.common.callbacks import BaseCallback
    model = _sb3_model(seed)
    out = {"framework": "sb3", "seed": seed, "solved_at": None, "evals": []}

    class Eval(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next, self.eval_s, self.eval_cpu = every, 0.0, 0.0

        def _on_step(self):
            if self.num_timesteps < self.next:
                return True
            self.next += every
            t, c = time.perf_counter(), time.process_time()
            mean = _sb3_eval(self.model, 10, EVAL_SEED)
            if mean >= 475:
                mean = _sb3_eval(self.model, 100, EVAL_SEED + 100)
            self.eval_s += time.perf_counter() - t
            self.eval_cpu += time.process_time() - c
            out["evals"].append((self.num_timesteps, round(mean, 1)))
            if mean >= 475:
                out["solved_at"] = self.num_timesteps
                return False
            return True

    cb = Eval()
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(max_steps, callback=cb)
    out["train_s"] = time.perf_counter() - t0 - cb.eval_s
    out["train_cpu_s"] = time.process_time() - c0 - cb.eval_cpu
    out["steps"] = model.num_timesteps
    return out


def sb3_timing(steps: int) -> dict:
    model = _sb3_model(0)
    model.learn(1024)
    t, c = time.perf_counter(), time.process_time()
    model.learn(steps, reset_num_timesteps=False)
    return {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "steps": model.num_timesteps - 1024}


WORKERS = {"lamina_solve": lamina_solve, "lamina_timing": lamina_timing, "lamina_pendulum": lamina_pendulum,
           "sb3_solve": sb3_solve, "sb3_timing": sb3_timing}


# ---------------------------------------------------------------- driver
def _run(name: str, *args) -> dict:
    cmd = [sys.executable, __file__, "--worker", json.dumps([name, list(args)])]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=100_000)
    ap.add_argument("--eval-every", type=int, default=5_120)
    ap.add_argument("--timing-rounds", type=int, default=3)
    ap.add_argument("--timing-steps", type=int, default=10_240)
    ap.add_argument("--pendulum-steps", type=int, default=200_000)
    ap.add_argument("--skip-sb3", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, wargs = json.loads(args.worker)
        print(json.dumps(WORKERS[name](*wargs)))
        return 0
    have_sb3 = not args.skip_sb3
    if have_sb3:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            print("stable-baselines3 is not installed: lamina only (pip install stable-baselines3)")
            have_sb3 = False
    frameworks = ["lamina"] + (["sb3"] if have_sb3 else [])
    print(f"PPO CartPole-v1, rl-zoo settings {ZOO}, lr and clip linear to 0 over {args.max_steps} steps")
    if args.seeds > 0:
        print("\n1. steps to solve (mean deterministic return >= 475 over 100 episodes)")
        print(f"{'framework':>9} {'seed':>4} {'solved at':>10} {'train s':>8} {'s/10k':>6} {'cpu s':>6}  "
              "evaluations (steps, mean)")
        solve = {f: [] for f in frameworks}
        for seed in range(args.seeds):
            for f in frameworks:
                r = _run(f"{f}_solve", seed, args.max_steps, args.eval_every)
                solve[f].append(r)
                if "error" in r:
                    print(f"{f:>9} {seed:>4} error: {r['error']}")
                    continue
                per10k = r["train_s"] / max(r["steps"], 1) * 1e4
                print(f"{f:>9} {seed:>4} {str(r['solved_at']):>10} {r['train_s']:8.1f} {per10k:6.2f} "
                      f"{r['train_cpu_s']:6.1f}  "
                      f"{' '.join(f'({s},{m:g})' for s, m in r['evals'])}", flush=True)
        for f in frameworks:
            ok = [r["solved_at"] for r in solve[f] if r.get("solved_at") is not None]
            print(f"{f}: solved {len(ok)}/{args.seeds} seeds" + (f", mean steps {sum(ok) / len(ok):.0f}" if ok else ""))

    if args.timing_rounds > 0:
        print(f"\n2. training time per 10,000 steps ({args.timing_rounds} alternating rounds of {args.timing_steps} steps)")
        times = {f: [] for f in frameworks}
        for _ in range(args.timing_rounds):
            for f in frameworks:
                r = _run(f"{f}_timing", args.timing_steps)
                if "error" not in r:
                    times[f].append(r)
        med = {}
        for f in frameworks:
            if not times[f]:
                print(f"{f:>9}: failed")
                continue
            w = _median([r["wall_s"] / r["steps"] * 1e4 for r in times[f]])
            c = _median([r["cpu_s"] / r["steps"] * 1e4 for r in times[f]])
            med[f] = (w, c)
            rounds = ", ".join(f"{r['wall_s'] / r['steps'] * 1e4:.2f}" for r in times[f])
            print(f"{f:>9}: {w:6.2f} s wall, {c:6.2f} s CPU per 10k steps (rounds, wall: {rounds})")
        if "lamina" in med and "sb3" in med:
            print(f"ratio lamina/SB3: {med['lamina'][0] / med['sb3'][0]:.2f} wall, {med['lamina'][1] / med['sb3'][1]:.2f} CPU")

    if args.pendulum_steps > 0:
        print(f"\n3. PPO Pendulum-v1 {PENDULUM}: first mean return >= -300 within {args.pendulum_steps} steps")
        r = _run("lamina_pendulum", args.pendulum_steps, 10_240)
        if "error" in r:
            print(f"   error: {r['error']}")
        else:
            print(f"   solved at {r['solved_at']} steps, training {r['train_s']:.1f} s ({r['train_cpu_s']:.1f} s CPU); "
                  "evaluations "
                  f"{' '.join(f'({s},{m:g})' for s, m in r['evals'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
