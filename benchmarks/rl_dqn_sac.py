"""DQN on CartPole-v1 and SAC on Pendulum-v1: steps and wall-clock to reach the issue's bars.

Bars (issue 14): DQN reaches a mean evaluation return >= 475 within 100,000 env steps for 2 of 3
seeds; SAC reaches >= -200 within 20,000 steps. Evaluation: every ``--eval-every`` steps, 10
deterministic episodes; when they reach the bar, 100 more episodes confirm it (the claim is the
100-episode mean). Training stops at the first confirmed solve.

Hyperparameters are rl-zoo's (DQN: lr 2.3e-3, batch 64, buffer 100k, 1000 random steps, train
every 256 steps x 128 gradient steps, target copy every 10 steps, eps 1 -> 0.04 over 16% of
the budget; SAC: lr 1e-3, batch 256, tau 0.005, 100 random steps, one update per step), with
(64, 64) networks. ``--sb3`` runs Stable-Baselines3 (PyTorch) with the same settings in its own
process for a side-by-side wall-clock.

    python benchmarks/rl_dqn_sac.py                     # both, seeds 0 1 2 for DQN, 0 for SAC
    python benchmarks/rl_dqn_sac.py --algo dqn --seeds 0 --dqn-steps 50000
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

DQN_HP = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
              train_freq=256, gradient_steps=128, target_update_interval=10, exploration_fraction=0.16,
              exploration_final_eps=0.04, hidden=(64, 64))
SAC_HP = dict(learning_rate=1e-3, batch_size=256, buffer_size=1_000_000, learning_starts=100, tau=0.005,
              gamma=0.99, hidden=(64, 64))


def run_lamina(algo: str, seed: int, budget: int, eval_every: int) -> dict:
    from lamina.rl import DQN, SAC, Callback, EvalCallback
    env_id, bar, cls, hp = (("CartPole-v1", 475.0, DQN, DQN_HP) if algo == "dqn"
                            else ("Pendulum-v1", -200.0, SAC, SAC_HP))
    t0 = time.perf_counter()
    agent = cls(env_id, seed=seed, **hp)
    cb = EvalCallback(env_id, every=eval_every, episodes=10, threshold=bar, confirm_episodes=100)

    class Report(Callback):  # stream each evaluation (stderr), so a cut-short run still tells its story
        def on_step(self, agent):
            if cb.history and cb.history[-1][0] == agent.num_timesteps:
                print(f"  [{algo} seed {seed}] step {agent.num_timesteps}: eval {cb.history[-1][1]:.1f} "
                      f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    agent.learn(budget, callback=[cb, Report()])
    wall = time.perf_counter() - t0
    final = cb.history[-1][1] if cb.history else float("nan")
    return {"framework": "lamina", "algo": algo, "env": env_id, "seed": seed, "solved_at": cb.first_solved,
            "steps_run": agent.num_timesteps, "final_eval": final, "wall_s": round(wall, 1),
            "s_per_10k_steps": round(wall / agent.num_timesteps * 1e4, 2), "bar": bar, "budget": budget,
            "history": [(s, round(m, 1)) for s, m, _ in cb.history]}


def run_sb3(algo: str, seed: int, budget: int, eval_every: int) -> dict:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN, SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    torch.set_num_threads(1)
    env_id, bar = ("CartPole-v1", 475.0) if algo == "dqn" else ("Pendulum-v1", -200.0)
    hp = dict(DQN_HP if algo == "dqn" else SAC_HP)
    net = list(hp.pop("hidden"))
    if algo == "dqn":
        model = DQN("MlpPolicy", env_id, seed=seed, policy_kwargs=dict(net_arch=net), **hp)
    else:
        model = SAC("MlpPolicy", env_id, seed=seed, policy_kwargs=dict(net_arch=net), **hp)
    history, solved = [], [None]

    class Eval(BaseCallback):
        def _on_step(self):
            if self.num_timesteps % eval_every:
                return True
            env = gym.make(env_id)
            m, _ = evaluate_policy(self.model, env, n_eval_episodes=10, deterministic=True)
            if m >= bar:
                m, _ = evaluate_policy(self.model, env, n_eval_episodes=100, deterministic=True)
            history.append((self.num_timesteps, round(float(m), 1)))
            if m >= bar:
                solved[0] = self.num_timesteps
                return False
            return True

    t0 = time.perf_counter()
    model.learn(budget, callback=Eval())
    wall = time.perf_counter() - t0
    return {"framework": "sb3", "algo": algo, "env": env_id, "seed": seed, "solved_at": solved[0],
            "steps_run": int(model.num_timesteps), "final_eval": history[-1][1] if history else float("nan"),
            "wall_s": round(wall, 1), "s_per_10k_steps": round(wall / model.num_timesteps * 1e4, 2), "bar": bar,
            "budget": budget, "history": history}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--algo", choices=["dqn", "sac", "both"], default="both")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--dqn-steps", type=int, default=100_000)
    ap.add_argument("--sac-steps", type=int, default=20_000)
    ap.add_argument("--dqn-eval-every", type=int, default=5000)
    ap.add_argument("--sac-eval-every", type=int, default=2000)
    ap.add_argument("--dqn-hidden", type=int, nargs="+", default=None, help="DQN layer widths (rl-zoo: 256 256)")
    ap.add_argument("--sb3", action="store_true", help="also run Stable-Baselines3 (own process per run)")
    ap.add_argument("--child", choices=["lamina", "sb3"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    algos = ["dqn", "sac"] if args.algo == "both" else [args.algo]
    if args.dqn_hidden:
        DQN_HP["hidden"] = tuple(args.dqn_hidden)
    results = []
    for algo in algos:
        seeds = args.seeds if args.seeds is not None else ([0, 1, 2] if algo == "dqn" else [0])
        budget = args.dqn_steps if algo == "dqn" else args.sac_steps
        every = args.dqn_eval_every if algo == "dqn" else args.sac_eval_every
        for seed in seeds:
            if args.child:
                fn = run_lamina if args.child == "lamina" else run_sb3
                print(json.dumps(fn(algo, seed, budget, every)), flush=True)
                continue
            for fw in (["lamina", "sb3"] if args.sb3 else ["lamina"]):
                cmd = [sys.executable, __file__, "--child", fw, "--algo", algo, "--seeds", str(seed),
                       f"--{algo}-steps", str(budget), f"--{algo}-eval-every", str(every)]
                if args.dqn_hidden:
                    cmd += ["--dqn-hidden", *map(str, args.dqn_hidden)]
                out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
                if out.returncode:
                    print(f"{fw} {algo} seed {seed} failed (exit {out.returncode})", file=sys.stderr)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(r)
                ok = "SOLVED" if r["solved_at"] is not None else "not solved"
                print(f"{fw:6s} {algo} {r['env']} seed {seed}: {ok} at {r['solved_at']} steps "
                      f"(bar {r['bar']}, budget {budget}); last eval {r['final_eval']}; wall {r['wall_s']} s "
                      f"({r['s_per_10k_steps']} s/10k steps incl. evaluation); evals {r['history']}", flush=True)
    if not args.child:
        for algo in algos:
            for fw in (["lamina", "sb3"] if args.sb3 else ["lamina"]):
                rs = [r for r in results if r["algo"] == algo and r["framework"] == fw]
                if rs:
                    print(f"{fw} {algo}: solved {sum(r['solved_at'] is not None for r in rs)} of {len(rs)} seeds")
    return results


if __name__ == "__main__":
    main()
