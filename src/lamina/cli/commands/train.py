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
  runs/<name>/metrics.csv           one row per epoch (epochs numbered from 1, as the progress lines)
  runs/<name>/checkpoints/          best.safetensors (weights), last.safetensors (resumable state)
  runs/<name>/tensorboard/          event files, when [callbacks] tensorboard = true
  runs/<name>/test_metrics.json     the test split's metrics after training
  runs/<name>/preprocess.safetensors  the input pipeline (raw input -> model input) predict applies

[train] qat_epochs = k trains the last k epochs under int8 fake quantization (quantization-aware
training: Linear/Conv1d/Conv2d weights per-channel, activations per-tensor); the checkpoints keep
the float weights, ready for `lamina export` with int8 quantization.

Everything is checked before anything is written: the config, the data, the model against the
data and, with --resume, the run's config, preprocessing and checkpoint (loaded into the new
model): a failure (exit code 2) leaves the run directory byte-for-byte as it was. <name> is
--name, [run] name, or the config file's name, with -2, -3, ... added when that run directory
is taken (--run-dir is used as given; --resume continues the named run).

--resume --set train.epochs=N: a schedule whose length came from train.epochs (cosine T_max,
onecycle total_steps, polynomial total_iters) is recomputed for N epochs as if the run had been
configured so from the start, and continues from that schedule's learning rate at the current
step (a notice says which); other schedules just continue. The input pipeline ([data] name,
standardize, image size, tokenizer, ...) can't change on resume.

Text: configs/gpt_char.toml trains a character-level GPT (data.name = "char_lm", the run directory
also holds tokenizer.json; sample from it with lamina generate); configs/bert_text.toml
fine-tunes MiniLM on topic sentences (data.name = "text_classification").

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
    """--run-dir as given; a run directory given as CONFIG with --resume; else <run.dir>/<name>, with
    -2, -3, ... added when that directory is taken (not with --resume: that continues it)."""
    if args.run_dir:
        return args.run_dir
    if os.path.isdir(args.config) and args.resume and not args.name:
        return args.config
    name = args.name or cfg["run"].get("name") or os.path.splitext(os.path.basename(os.path.normpath(args.config)))[0]
    path = os.path.join(cfg["run"]["dir"], name)
    if args.resume or not _taken(path):
        return path
    i = 2
    while _taken(f"{path}-{i}"):
        i += 1
    return f"{path}-{i}"


def _taken(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path))


# [data] keys that shape the run's input pipeline or its vocabulary: fixed once the run has trained
_PIPELINE_KEYS = ("name", "standardize", "as_images", "image_size", "mode", "target", "task", "vocab", "block_size",
                  "tokenizer", "max_length")


def _same_pipeline(cfg: dict, old: dict, run_dir: str) -> None:
    for key in _PIPELINE_KEYS:
        a, b = cfg["data"].get(key), old["data"].get(key)
        if a != b:
            raise ConfigError(f"data.{key} = {a!r} but the run {run_dir} was trained with {b!r}: the input pipeline "
                              "of a run is fixed once it has trained; start a new run (another --name) instead")


def run(args) -> int:
    from ... import backend
    from .. import build, config, resume, rundir
    from ..pipeline import Preprocess
    raw = config.apply_overrides(config.load_config(args.config), args.overrides)
    cfg = config.validate(raw)
    run_dir = _run_dir(args, cfg)
    last = os.path.join(run_dir, rundir.CHECKPOINTS, rundir.LAST)
    resuming = args.resume and os.path.isfile(last)
    if not args.resume and _taken(run_dir):
        raise ConfigError(f"run directory {run_dir} already exists; pass --resume to continue it, or choose "
                          "another --name / --run-dir")
    _check_device(cfg["train"]["device"])

    # everything is checked before anything is written: config, data, model, the run's pipeline and
    # the checkpoint (loaded into the trainer now); a failure leaves the run directory as it was
    old_cfg = pre = None
    if resuming:
        old_cfg = rundir.load_run_config(run_dir)
        pre = Preprocess.load(os.path.join(run_dir, rundir.PREPROCESS))
        _same_pipeline(cfg, old_cfg, run_dir)
    backend.manual_seed(cfg["train"]["seed"])
    np.random.seed(cfg["train"]["seed"])
    data = build.build_data(cfg, preprocess=pre)
    steps = build.steps_per_epoch(data.train_loader, cfg["train"]["grad_accum_steps"])
    if resuming:
        resume.derive_horizon_again(cfg, old_cfg, steps)
    model, cfg["model"] = build.build_model(cfg["model"], data.info, check_batch=data.sample_inputs)
    trainer, sched = build.build_trainer(cfg, model, data, run_dir, quiet=args.quiet)
    if sched is not None:
        cfg["scheduler"] = sched
    key = build.HORIZON.get(str((sched or {}).get("name", "")).lower())
    fresh_length = None if key is None or trainer.scheduler is None else getattr(trainer.scheduler, key, None)
    extra, done_before = [], 0
    if resuming:
        resume.load_checkpoint(trainer, data, last)
        done_before = resume.epochs_done(trainer)
        best = os.path.join(run_dir, rundir.CHECKPOINTS, rundir.BEST)
        if cfg["train"]["final_weights"] == "best" and os.path.isfile(best):
            rundir.load_weights(model, best)  # the test split will be scored with it: check it now (fit
            # loads the training state again, so the model starts from the last checkpoint all the same)
        tested = data.test_loader is None or os.path.isfile(os.path.join(run_dir, rundir.TEST_METRICS))
        if done_before >= cfg["train"]["epochs"] and tested:
            if not args.quiet:
                print(f"{run_dir} has trained {done_before} epochs (train.epochs = {cfg['train']['epochs']}): "
                      "nothing to do; raise train.epochs to train it further")
            return 0
        update = resume.plan(cfg, old_cfg, trainer, model, steps, fresh_length, args.quiet)
        extra = [update] if update is not None else []
    elif args.resume and not args.quiet:
        print(f"lamina: no checkpoint in {os.path.dirname(last)}: starting the run from scratch", file=sys.stderr)
    if cfg["train"].get("qat_epochs"):
        extra.append(_qat_callback(cfg["train"]["epochs"] - cfg["train"]["qat_epochs"]))
    if args.check:
        print(f"config OK: {model.__class__.__name__} with {sum(p.numel() for p in model.parameters())} parameters, "
              f"{data.info['num_train']} training samples; run directory would be {run_dir}")
        return 0

    os.makedirs(run_dir, exist_ok=True)
    rundir.write_config(run_dir, cfg)
    if not resuming:
        data.preprocess.save(os.path.join(run_dir, rundir.PREPROCESS))
    if not args.quiet:
        n_params = sum(p.numel() for p in model.parameters())
        what = "resuming" if resuming else "training"
        print(f"{what} {cfg['model'].get('name', 'layers model')} ({n_params:,} parameters) on {cfg['data']['name']}: "
              f"{data.info['num_train']} train / {data.info['num_val']} val / {data.info['num_test']} test samples "
              f"-> {run_dir}", flush=True)
    try:
        trainer.fit(data.train_loader, validation=data.val_loader, epochs=cfg["train"]["epochs"],
                    resume_from=last if resuming else None, callbacks=extra, verbose=False)
    except KeyboardInterrupt:
        print(f"lamina: interrupted; continue with: lamina train {run_dir} --resume", file=sys.stderr)
        return 130
    return _test(trainer, model, data, run_dir, args.quiet, cfg["train"], done_before)


def _qat_callback(start_epoch: int):
    """[train] qat_epochs = k: from epoch ``epochs - k`` (counted from 0) on, the model trains under int8
    fake quantization (lamina.quantization.prepare_qat, in place: the optimizer keeps its parameters,
    checkpoints keep their keys; a resumed run prepares the model again at its next epoch)."""
    from ...train.callbacks.base import Callback

    class QATCallback(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            from ...quantization import prepare_qat, qat_modules
            if epoch >= start_epoch and not qat_modules(self.model):
                prepare_qat(self.model)

    return QATCallback()


def _check_device(device: str) -> None:
    from ... import backend
    try:
        dev = backend.Device(device)
    except (ValueError, TypeError, RuntimeError) as e:
        raise ConfigError(f"train.device: {' '.join(str(e).split())}") from None
    if getattr(dev, "type", "cpu") != "cpu" and not backend.cuda_available():
        raise ConfigError(f"train.device is {device!r} but no GPU is available (CuPy with CUDA); use \"cpu\"")


def _test(trainer, model, data, run_dir: str, quiet: bool, trainer_cfg: dict, done_before: int) -> int:
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
    from ..resume import epochs_done
    done = epochs_done(trainer)
    rundir.write_json(os.path.join(run_dir, rundir.TEST_METRICS),
                      {"split": "test", "weights": which, "num_samples": data.info["num_test"],
                       "epochs": done, "epochs_this_call": done - done_before, "metrics": metrics})
    if not quiet:
        shown = ", ".join(f"{k} {float(v):.4f}" for k, v in metrics.items() if np.ndim(v) == 0)
        print(f"test ({which} weights): {shown}  ->  {run_dir}")
    return 0

