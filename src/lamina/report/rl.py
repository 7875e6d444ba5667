"""The report of a reinforcement-learning run (``lamina rl``): return against environment steps.

    runs/<name>/report/
      return.png      mean episodic return of training (last 100 episodes, per log) and of the
                      deterministic policy's evaluations (mean ± std), against steps
      length.png      mean episode length during training
      index.html      the plots and a table: last and best values, the final evaluation

    build_rl_report("runs/ppo_cartpole")
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

__all__ = ["build_rl_report", "plot_return", "plot_length"]

PLOTS = ("return.png", "length.png")


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _col(rows: list, key: str) -> np.ndarray:
    return np.asarray([r.get(key, math.nan) for r in rows], dtype=float)


def plot_return(progress: list, evaluations: list, path: str, threshold: float | None = None,
                title: str = "return") -> str | None:
    """Training return (mean of the last episodes, per log) and evaluation return (mean ± std)
    against steps; None when there is nothing to draw."""
    train_x, train_y = _col(progress, "steps"), _col(progress, "ep_return_mean")
    eval_x, eval_y, eval_s = (_col(evaluations, k) for k in ("steps", "eval_return_mean", "eval_return_std"))
    has_train = bool(np.isfinite(train_y).any())
    if not has_train and not len(eval_x):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    if has_train:
        ax.plot(train_x, train_y, label="training (mean of the last 100 episodes)", color="tab:blue")
    if len(eval_x):
        ax.plot(eval_x, eval_y, "o-", label="evaluation (deterministic policy)", color="tab:orange", markersize=3)
        ax.fill_between(eval_x, eval_y - eval_s, eval_y + eval_s, color="tab:orange", alpha=0.2, linewidth=0)
    if threshold is not None:
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episodic return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_length(progress: list, path: str) -> str | None:
    """Mean episode length during training against steps; None without finished episodes."""
    x, y = _col(progress, "steps"), _col(progress, "ep_length_mean")
    if not np.isfinite(y).any():
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(x, y, color="tab:green")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode length")
    ax.set_title("episode length (training)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _save(fig, path: str) -> str:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _summary(run_dir: str) -> dict:
    path = os.path.join(run_dir, "summary.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _best(values: np.ndarray):
    return float(np.nanmax(values)) if np.isfinite(values).any() else None


def build_rl_report(run_dir: str, out_dir: str | None = None) -> dict:
    """Write return.png, length.png and index.html of an RL run into ``out_dir`` (default
    ``run_dir/report``); return ``{'index': path, 'images': {caption: path}, 'notes': [...]}``."""
    from ..cli.commands.rl import EVALUATIONS, PROGRESS, load_run_config, read_history
    from ..cli.errors import ConfigError
    from .index import REPORT, write_index
    if not os.path.isdir(run_dir):
        raise ConfigError(f"run directory not found: {run_dir}")
    if not os.path.isfile(os.path.join(run_dir, PROGRESS)) and not os.path.isfile(os.path.join(run_dir, EVALUATIONS)):
        raise ConfigError(f"{run_dir} has no {PROGRESS} yet: has the run logged a step?")
    try:
        progress, evaluations = read_history(run_dir)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"cannot read the history of {run_dir}: {' '.join(str(e).split())}") from None
    cfg = load_run_config(run_dir)
    summary = _summary(run_dir)
    notes = []
    if not np.isfinite(_col(progress, "ep_return_mean")).any():
        notes.append("no training episode has finished yet")
    if not evaluations:
        notes.append("no evaluation yet (rl.eval_every)")
    rows = []
    for label, values in (("training return", _col(progress, "ep_return_mean")),
                          ("training episode length", _col(progress, "ep_length_mean")),
                          ("evaluation return", _col(evaluations, "eval_return_mean"))):
        finite = values[np.isfinite(values)]
        if len(finite):
            final = summary.get("final_eval_return_mean") if label == "evaluation return" else None
            rows.append((label, float(finite[-1]), _best(values), final))
    if summary.get("final_eval_episodes"):
        notes.append(f"final evaluation (last column): {summary['final_eval_episodes']} episodes, deterministic "
                     f"policy, after {summary.get('steps')} steps")
    if summary.get("solved_at") is not None:
        notes.append(f"reached rl.eval_threshold = {summary.get('eval_threshold')} at step {summary['solved_at']}")
    out_dir = out_dir or os.path.join(run_dir, REPORT)
    os.makedirs(out_dir, exist_ok=True)
    title = f"{cfg['algorithm']['name']} on {cfg['env']['id']}"
    jobs = [(f"return against steps ({title})", "return.png",
             lambda p: plot_return(progress, evaluations, p, cfg["rl"].get("eval_threshold"), title)),
            ("episode length", "length.png", lambda p: plot_length(progress, p))]
    images = {}
    for caption, name, fn in jobs:
        if fn(os.path.join(out_dir, name)) is not None:
            images[caption] = name
    for name in PLOTS:  # stale plots of an earlier report
        if name not in images.values() and os.path.isfile(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))
    name = os.path.basename(os.path.normpath(os.path.abspath(run_dir)))
    index = write_index(out_dir, f"lamina rl run {name}: {title}", images, rows, notes)
    return {"index": index, "images": {c: os.path.join(out_dir, f) for c, f in images.items()}, "notes": notes}
