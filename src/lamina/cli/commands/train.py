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
  lamina train configs/mlp_digits.toml --nproc 2                 # data-parallel over 2 MPI processes

Data-parallel: `lamina train CONFIG --nproc N` runs itself under mpiexec -n N (as does
`mpiexec -n N lamina train CONFIG`): data.batch_size is the global batch (batch_size / N per
process), BatchNorm becomes SyncBatchNorm, gradients are averaged (lamina.distributed), and rank 0
writes the same run directory a single-process run writes. --resume works with another number of
processes (--nproc 1 keeps the data-parallel data order). Needs pip install 'lamina[distributed]'.
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
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train data-parallel over N processes (launches mpiexec -n N; needs lamina[distributed])")
    p.add_argument("--ensemble", type=int, metavar="K",
                   help="train a deep ensemble: K members (seeds seed, seed+1, ...) in RUN/members/0..K-1; the run's "
                        "evaluate/predict average them (same as [model] ensemble = K)")


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
    nproc = getattr(args, "nproc", None)
    if nproc is not None and nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    from ...distributed import launch
    if nproc is not None and nproc > 1 and not args.check and not launch.launched_by_mpi():
        return launch.relaunch(args)  # the same command under mpiexec -n N
    group = launch.group_for(args)  # None: the ordinary single-process run
    rank0 = group is None or group.rank == 0
    raw = getattr(args, "_raw_config", None)  # an ensemble member: its config comes from the ensemble's
    if raw is None:
        raw = config.apply_overrides(config.load_config(args.config), args.overrides)
        from ..rl_config import is_rl_config
        if is_rl_config(raw):  # a reinforcement-learning config: lamina train is lamina rl
            if nproc is not None or getattr(args, "ensemble", None):
                raise ConfigError("--nproc and --ensemble are for supervised runs; an [rl] config trains one agent")
            from . import rl
            return rl.run(args)
        k = _ensemble_size(args, raw)
        if k:
            return train_ensemble(args, raw, k)
    cfg = config.validate(raw)
    run_dir = _run_dir(args, cfg) if group is None else group.broadcast_object(_run_dir(args, cfg) if rank0 else None)
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
    if group is not None:
        data.train_loader = launch.shard_train_loader(data.train_loader, cfg, group)
    steps = build.steps_per_epoch(data.train_loader, cfg["train"]["grad_accum_steps"])
    if resuming:
        resume.derive_horizon_again(cfg, old_cfg, steps)
    model, cfg["model"] = build.build_model(cfg["model"], data.info, check_batch=data.sample_inputs)
    if group is not None:
        model = launch.setup_model(model, group)
    trainer, sched = build.build_trainer(cfg, model, data, run_dir, quiet=args.quiet)
    if sched is not None:
        cfg["scheduler"] = sched
    if group is not None:
        launch.setup_trainer(trainer, data.train_loader, group)
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
            if not args.quiet and rank0:
                print(f"{run_dir} has trained {done_before} epochs (train.epochs = {cfg['train']['epochs']}): "
                      "nothing to do; raise train.epochs to train it further")
            return 0
        update = resume.plan(cfg, old_cfg, trainer, model, steps, fresh_length, args.quiet or not rank0)
        extra = [update] if update is not None else []
    elif args.resume and not args.quiet and rank0:
        print(f"lamina: no checkpoint in {os.path.dirname(last)}: starting the run from scratch", file=sys.stderr)
    if cfg["train"].get("qat_epochs"):
        extra.append(_qat_callback(cfg["train"]["epochs"] - cfg["train"]["qat_epochs"]))
    if args.check:
        print(f"config OK: {model.__class__.__name__} with {sum(p.numel() for p in model.parameters())} parameters, "
              f"{data.info['num_train']} training samples; run directory would be {run_dir}")
        return 0

    if rank0:  # data-parallel: rank 0 writes the run directory
        os.makedirs(run_dir, exist_ok=True)
        rundir.write_config(run_dir, cfg)
        if not resuming:
            data.preprocess.save(os.path.join(run_dir, rundir.PREPROCESS))
    if not args.quiet and rank0:
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
    if not rank0:
        return 0
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


# ---------------------------------------------------------------- deep ensembles (--ensemble K)
MEMBERS = "members"


def _ensemble_size(args, raw: dict) -> int | None:
    """K of ``--ensemble K`` or ``[model] ensemble = K`` (None: an ordinary run)."""
    given = getattr(args, "ensemble", None)
    model = raw.get("model") if isinstance(raw.get("model"), dict) else {}
    in_cfg = model.get("ensemble")
    if given is not None and (isinstance(given, bool) or given < 2):
        raise ConfigError(f"--ensemble must be at least 2 (the number of members), got {given}")
    if given is not None and in_cfg is not None and given != in_cfg:
        raise ConfigError(f"--ensemble {given} but the config says model.ensemble = {in_cfg!r}")
    return given if given is not None else in_cfg


def train_ensemble(args, raw: dict, k: int) -> int:
    """Train K members into RUN/members/i (member i with train.seed = seed + i, each an ordinary run
    directory), then write the ensemble's own run directory: config.toml (model.ensemble = K),
    preprocess, checkpoints/best.safetensors (every member's final weights), metrics.csv (the
    members' mean per epoch) and test_metrics.json (the ensemble's and each member's test NLL)."""
    import argparse
    import copy
    from .. import config
    if getattr(args, "nproc", None) not in (None, 1):
        raise ConfigError("--ensemble trains its members one after the other; it does not combine with --nproc")
    ens_raw = copy.deepcopy(raw)
    ens_raw.setdefault("model", {})["ensemble"] = k
    cfg = config.validate(ens_raw)  # the whole config (and model.ensemble) is checked first
    run_dir = _run_dir(args, cfg)
    if not args.resume and _taken(run_dir):
        raise ConfigError(f"run directory {run_dir} already exists; pass --resume to continue it, or choose "
                          "another --name / --run-dir")
    seed = cfg["train"]["seed"]
    for i in range(k):
        member = copy.deepcopy(raw)
        member["model"] = {n: v for n, v in member["model"].items() if n != "ensemble"}
        member.setdefault("train", {})["seed"] = seed + i
        margs = argparse.Namespace(**vars(args))
        margs.run_dir = os.path.join(run_dir, MEMBERS, str(i))
        margs.name = margs.ensemble = margs.nproc = None
        margs._raw_config = member
        if not args.quiet and not args.check:
            print(f"ensemble member {i + 1}/{k} (seed {seed + i})", flush=True)
        code = run(margs)
        if code:
            return code
        if args.check:  # every member has the same config but its seed: one check says it
            print(f"ensemble of {k} members in {os.path.join(run_dir, MEMBERS)}")
            return 0
    summary = assemble_ensemble(run_dir, k, seed)
    if not args.quiet and summary is not None:
        print(summary)
    return 0


def _member_dirs(run_dir: str, k: int) -> list:
    return [os.path.join(run_dir, MEMBERS, str(i)) for i in range(k)]


def assemble_ensemble(run_dir: str, k: int, seed: int) -> str | None:
    """Write the ensemble run's files from its trained members; returns the test summary line."""
    from ... import io
    from .. import build, rundir
    from ..pipeline import Preprocess
    members = _member_dirs(run_dir, k)
    cfg = rundir.load_run_config(members[0])
    cfg["model"] = {**cfg["model"], "ensemble": k}
    cfg["train"] = {**cfg["train"], "seed": seed}
    pre = Preprocess.load(os.path.join(members[0], rundir.PREPROCESS))
    model, _ = build.build_model(cfg["model"], pre.info)
    for m, d in zip(model.members, members):
        rundir.load_weights(m, rundir.find_checkpoint(d, None)[1])
    os.makedirs(os.path.join(run_dir, rundir.CHECKPOINTS), exist_ok=True)
    rundir.write_config(run_dir, cfg)
    pre.save(os.path.join(run_dir, rundir.PREPROCESS))
    io.save(model.state_dict(), os.path.join(run_dir, rundir.CHECKPOINTS, rundir.BEST))
    _mean_metrics_csv(members, os.path.join(run_dir, "metrics.csv"))
    data = build.build_data(cfg, preprocess=pre)
    test = data.arrays[2]
    if test is None or not len(test[0]):
        return f"ensemble of {k} members (no test split) -> {run_dir}"
    from ...optim import SGD
    from ...train import Trainer
    from ...data import DataLoader
    trainer = Trainer(model, build.build_loss(cfg, pre.info), SGD(model.parameters(), lr=0.0),
                      metrics=build.build_metrics(cfg, pre.info))
    model.eval()
    metrics = trainer.evaluate(DataLoader(build.eval_dataset(cfg, test), batch_size=cfg["data"]["eval_batch_size"]))
    extra = ensemble_metrics(model, test[0], test[1], pre.info["task"])
    metrics.update(extra)
    rundir.write_json(os.path.join(run_dir, rundir.TEST_METRICS),
                      {"split": "test", "weights": "best", "num_samples": len(test[0]), "ensemble": k,
                       "members": [os.path.relpath(d, run_dir) for d in members], "metrics": metrics})
    if "nll" in extra:
        nll = extra["member_nll"]
        return (f"ensemble of {k} (test): nll {extra['nll']:.4f} (members {', '.join(f'{v:.4f}' for v in nll)}; best "
                f"member {min(nll):.4f}), disagreement {extra['disagreement']:.4f}  ->  {run_dir}")
    shown = ", ".join(f"{n} {float(v):.4f}" for n, v in metrics.items() if np.ndim(v) == 0)
    return f"ensemble of {k} (test): {shown}  ->  {run_dir}"


def ensemble_metrics(model, x, y, task: str, batch_size: int = 512) -> dict:
    """What an ensemble adds to its metrics on (x, y): classification: its NLL, each member's NLL and the
    disagreement (mean mutual information between members and label); regression: each member's MSE
    and the disagreement (mean variance of the members' outputs)."""
    from ...uncertainty import summarize_classification
    from ...uncertainty._common import softmax_np as _softmax
    outs, _ = model.member_outputs(np.ascontiguousarray(x), batch_size)         # (M, N, ...)
    y = np.asarray(y)
    if task == "classification":
        probs = _softmax(outs)
        r = summarize_classification(probs)
        def nll(p):
            return float(-np.log(np.maximum(p[np.arange(len(y)), y.astype(np.int64)], 1e-300)).mean())
        return {"nll": nll(r.mean), "member_nll": [nll(p) for p in probs],
                "disagreement": float(r.mutual_information.mean())}
    yy = y.reshape(outs.shape[1:]).astype(np.float64)
    return {"member_mse": [float(((o - yy) ** 2).mean()) for o in outs], "disagreement": float(outs.var(0).mean())}


def _mean_metrics_csv(members: list, path: str) -> None:
    """metrics.csv of the ensemble: each column's mean over the members that reached that epoch."""
    import csv
    tables = []
    for d in members:
        with open(os.path.join(d, "metrics.csv"), newline="", encoding="utf-8") as f:
            tables.append(list(csv.DictReader(f)))
    header = list(tables[0][0].keys()) if tables and tables[0] else ["epoch"]
    rows = []
    for e in range(max(len(t) for t in tables)):
        row = {}
        for col in header:
            vals = []
            for t in tables:
                try:
                    vals.append(float(t[e][col]))
                except (IndexError, KeyError, TypeError, ValueError):
                    pass
            row[col] = f"{np.mean(vals):.8g}" if vals else "NA"
        rows.append(row)
    from ...io import atomic_write_text
    lines = [",".join(header)] + [",".join(r[c] for c in header) for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")
