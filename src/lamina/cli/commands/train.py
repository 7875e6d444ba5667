"""``lamina train CONFIG``: train a model from a TOML config into a run directory."""
from __future__ import annotations

import os
import sys

import numpy as np

from ..errors import ConfigError

HELP = "train a model from a TOML config"
DESCRIPTION = """\
Train a model from a TOML config (see configs/*.toml) into a run directory:

  runs/<name>/config.toml           the resolved config
  runs/<name>/metrics.csv           one row per epoch
  runs/<name>/checkpoints/          best.safetensors (weights), last.safetensors (resumable state)
  runs/<name>/tensorboard/          event files, when [callbacks] tensorboard = true
  runs/<name>/test_metrics.json     the test split's metrics after training

The whole config is checked before any work starts. <name> is --name, [run] name, or the
config file's name (with -2, -3, ... added when that run directory is taken).

Text: configs/gpt_char.toml trains a character-level GPT (data.name = "char_lm", the run directory
also holds tokenizer.json); configs/bert_text.toml fine-tunes MiniLM on topic sentences
(data.name = "text_classification").

examples:
  lamina train configs/mlp_digits.toml
  lamina train configs/mlp_digits.toml --set train.epochs=5 --set optimizer.lr=3e-3
  lamina train configs/mlp_digits.toml --name exp1 --resume     # continue runs/exp1
  lamina train runs/exp1 --resume --set train.epochs=40          # train a finished run further
"""


def configure(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="a TOML config file, or a run directory (its config.toml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=5 (the value is TOML; repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run from its last checkpoint (starts it when there is none)")
    p.add_argument("--name", help="run name: the run directory is <run.dir>/<name> (default runs/<config name>)")
    p.add_argument("--run-dir", dest="run_dir", metavar="DIR", help="the run directory itself (overrides --name)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--check", action="store_true", help="only validate the config and build the run, don't train")


def _run_dir(args, cfg: dict) -> str:
    config_is_run = os.path.isdir(args.config)
    if args.run_dir:
        return args.run_dir
    if config_is_run and args.resume and not args.name:
        return args.config
    explicit = args.name or cfg["run"].get("name")
    name = explicit or os.path.splitext(os.path.basename(os.path.normpath(args.config)))[0]
    path = os.path.join(cfg["run"]["dir"], name)
    if args.resume or explicit or not _taken(path):
        return path
    i = 2
    while _taken(f"{path}-{i}"):
        i += 1
    return f"{path}-{i}"


def _taken(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path))


def run(args) -> int:
    from ... import backend
    from .. import build, config, rundir
    raw = config.apply_overrides(config.load_config(args.config), args.overrides)
    cfg = config.validate(raw)
    run_dir = _run_dir(args, cfg)
    last = os.path.join(run_dir, rundir.CHECKPOINTS, rundir.LAST)
    resume = args.resume and os.path.isfile(last)
    if not args.resume and _taken(run_dir):
        raise ConfigError(f"run directory {run_dir} already exists; pass --resume to continue it, or choose "
                          "another --name / --run-dir")
    if args.resume and not resume and not args.quiet:
        print(f"lamina: no checkpoint in {os.path.dirname(last)}: starting the run from scratch", file=sys.stderr)
    _check_device(cfg["train"]["device"])

    backend.manual_seed(cfg["train"]["seed"])
    np.random.seed(cfg["train"]["seed"])
    data = build.build_data(cfg, preprocess=_run_tokenizer(cfg, run_dir) if resume else None)
    model, cfg["model"] = build.build_model(cfg["model"], data.info, check_batch=data.sample_inputs)
    trainer, sched = build.build_trainer(cfg, model, data, run_dir, quiet=args.quiet)
    if sched is not None:
        cfg["scheduler"] = sched
    if args.check:
        print(f"config OK: {model.__class__.__name__} with {sum(p.numel() for p in model.parameters())} parameters, "
              f"{data.info['num_train']} training samples; run directory would be {run_dir}")
        return 0

    os.makedirs(run_dir, exist_ok=True)
    rundir.write_config(run_dir, cfg)
    data.preprocess.save(os.path.join(run_dir, rundir.PREPROCESS))
    if not args.quiet:
        n_params = sum(p.numel() for p in model.parameters())
        what = "resuming" if resume else "training"
        print(f"{what} {cfg['model'].get('name', 'layers model')} ({n_params:,} parameters) on {cfg['data']['name']}: "
              f"{data.info['num_train']} train / {data.info['num_val']} val / {data.info['num_test']} test samples "
              f"-> {run_dir}", flush=True)
    try:
        trainer.fit(data.train_loader, validation=data.val_loader, epochs=cfg["train"]["epochs"],
                    resume_from=last if resume else None, verbose=False)
    except KeyboardInterrupt:
        print(f"lamina: interrupted; continue with: lamina train {run_dir} --resume", file=sys.stderr)
        return 130
    return _test(trainer, model, data, run_dir, args.quiet, cfg["train"])


def _run_tokenizer(cfg: dict, run_dir: str):
    """A resumed text run's own preprocessing (its saved tokenizer), so the vocabulary cannot change
    under the checkpoint; None for other data."""
    from .. import config, rundir
    from ..data import Preprocess
    path = os.path.join(run_dir, rundir.PREPROCESS)
    if cfg["data"]["name"] not in config.TEXT_DATASETS or not os.path.isfile(path):
        return None
    return Preprocess.load(path)


def _check_device(device: str) -> None:
    from ... import backend
    try:
        dev = backend.Device(device)
    except (ValueError, TypeError, RuntimeError) as e:
        raise ConfigError(f"train.device: {' '.join(str(e).split())}") from None
    if getattr(dev, "type", "cpu") != "cpu" and not backend.cuda_available():
        raise ConfigError(f"train.device is {device!r} but no GPU is available (CuPy with CUDA); use \"cpu\"")


def _test(trainer, model, data, run_dir: str, quiet: bool, trainer_cfg: dict) -> int:
    """Evaluate the run's final weights (train.final_weights: the best checkpoint, or the last weights)
    on the test split; write test_metrics.json."""
    from .. import rundir
    if data.test_loader is None:
        if not quiet:
            print(f"no test split (data.test_fraction = 0): run directory {run_dir}")
        return 0
    best = os.path.join(run_dir, rundir.CHECKPOINTS, rundir.BEST)
    which = "last"
    if trainer_cfg["final_weights"] == "best" and os.path.isfile(best):
        rundir.load_weights(model, best)
        which = "best"
    metrics = trainer.evaluate(data.test_loader)
    if data.info["task"] == "language_model":
        from ..lm import per_char_summary
        metrics = per_char_summary(metrics)
    epochs_done = len(trainer.history.epoch)
    rundir.write_json(os.path.join(run_dir, rundir.TEST_METRICS),
                      {"split": "test", "weights": which, "num_samples": data.info["num_test"],
                       "epochs": trainer.epoch + 1, "epochs_this_call": epochs_done, "metrics": metrics})
    if not quiet:
        shown = ", ".join(f"{k} {float(v):.4f}" for k, v in metrics.items() if np.ndim(v) == 0)
        print(f"test ({which} weights): {shown}  ->  {run_dir}")
    return 0

