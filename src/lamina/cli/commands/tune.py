"""``lamina tune CONFIG --n-trials N``: hyperparameter search with Optuna over the config's [tune] space."""
from __future__ import annotations

import os

from ..errors import ConfigError

HELP = "search hyperparameters (Optuna) over the config's [tune] space"
DESCRIPTION = """\
Search hyperparameters with Optuna. The config's [tune] table declares what to optimise and
the search space; every trial trains the config with sampled values applied (as --set would):

  [tune]
  metric = "val_accuracy"
  direction = "maximize"
  pruner = "median"                     # stop trials whose validation curve lags the median
  [tune.space]
  "optimizer.lr" = {type = "float", low = 1e-4, high = 1e-1, log = true}
  "model.dropout" = {type = "float", low = 0.0, high = 0.5, step = 0.1}
  "model.hidden_sizes" = {type = "layers", depth = [1, 3], width = [16, 256], log = true}
  "optimizer.name" = {type = "categorical", choices = ["adam", "adamw"]}

Trials are stored in a study (default sqlite:///<run.dir>/tune/<study>.db): running the command
again continues the study, and workers on several machines can share one --storage URL.
Written to <run.dir>/tune/<study>/: best_config.toml (train it with lamina train), trials.json,
and trials/trial_NNNN/ (each trial's run directory).

examples:
  lamina tune configs/mlp_digits_tune.toml --n-trials 30
  lamina tune configs/mlp_digits_tune.toml --n-trials 20 --storage postgresql://host/db --study-name mlp
  lamina tune configs/mlp_digits_tune.toml --sampler grid --set train.epochs=3
"""


def configure(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="a TOML config with a [tune] table")
    p.add_argument("--n-trials", dest="n_trials", type=int, metavar="N",
                   help="trials to run in this process (default: until --timeout, or 10 without one; "
                        "the grid sampler stops when the grid is done)")
    p.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe", help="how to sample (default tpe)")
    p.add_argument("--storage", metavar="URL", help="an Optuna storage URL (default sqlite:///<run.dir>/tune/<study>.db)")
    p.add_argument("--study-name", dest="study_name", metavar="NAME", help="study name (default: the config's name)")
    p.add_argument("--seed", type=int, help="the sampler's seed")
    p.add_argument("--timeout", type=float, metavar="SEC", help="stop starting new trials after SEC seconds")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the base config (the value is TOML; repeatable)")
    p.add_argument("--out", metavar="DIR", help="where to write results (default <run.dir>/tune/<study>)")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-trial output")


def run(args) -> int:
    from ...tune import parse_tune
    from ...tune.study import run_study
    from .. import config
    if args.n_trials is not None and args.n_trials < 1:
        raise ConfigError(f"--n-trials must be a positive integer, got {args.n_trials}")
    if args.timeout is not None and not args.timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    spec, raw = parse_tune(config.load_config(args.config))
    raw = config.apply_overrides(raw, args.overrides)
    name = args.study_name or os.path.splitext(os.path.basename(os.path.normpath(args.config)))[0]
    runs = raw.get("run", {}).get("dir", "runs") if isinstance(raw.get("run"), dict) else "runs"
    tune_dir = os.path.join(str(runs), "tune")
    storage = args.storage or f"sqlite:///{os.path.join(tune_dir, name + '.db')}"
    out_dir = args.out or os.path.join(tune_dir, name)
    n_trials = args.n_trials if args.n_trials is not None or args.timeout is not None else 10
    summary = run_study(raw, spec, n_trials, storage=storage, study_name=name, out_dir=out_dir,
                        sampler=args.sampler, seed=args.seed, timeout=args.timeout, quiet=args.quiet)
    return 0 if summary["best"] is not None else 1
