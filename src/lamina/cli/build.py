"""From a validated config to the objects of a run: data loaders, model, optimizer, scheduler,
loss, callbacks and the Trainer.

    cfg = config.validate(config.load_config("configs/mlp_digits.toml"))
    data = build_data(cfg)                       # loaders + the Preprocess that predict needs
    model = build_model(cfg["model"], data.info)
    trainer = build_trainer(cfg, model, data, run_dir)

Anything that fails while building (a layer that doesn't fit the data, an optimizer argument
out of range) is a ConfigError: nothing has been trained or written yet.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from . import generative, registry
from .config import LM_TASK, TEXT_DATASETS
from .data import load_arrays, split_arrays
from .errors import ConfigError
from .pipeline import Preprocess
from .registry import CALLBACK_FILLED

__all__ = ["CALLBACK_FILLED", "DataBundle", "build_data", "build_loss", "build_metrics", "build_model",
           "build_optimizer", "build_scheduler", "build_trainer", "model_from_layers", "param_groups",
           "split_arrays", "steps_per_epoch"]


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


@dataclass
class DataBundle:
    train_loader: object
    val_loader: object | None
    test_loader: object | None
    preprocess: Preprocess
    generators: dict
    sample_inputs: np.ndarray | None = None  # a few training inputs, to check that the model fits them
    arrays: tuple = ()  # (train, val, test) pairs of arrays after preprocessing (None where empty)

    @property
    def info(self) -> dict:
        return self.preprocess.info


def _tensors(x: np.ndarray, y: np.ndarray):
    from ..data import TensorDataset
    from ..tensor import Tensor
    return TensorDataset(Tensor._wrap(np.ascontiguousarray(x)), Tensor._wrap(np.ascontiguousarray(y)))


def build_transforms(specs: list, sample_ndim: int, generator):
    """``Compose`` of the ``[[transforms]]`` entries, each drawing from ``generator``; None if empty."""
    if not specs:
        return None
    if sample_ndim != 3:
        raise ConfigError("transforms: image augmentation needs image data (N, C, H, W); set data.as_images = true "
                          "(and use a convolutional model), or remove the [[transforms]] entries")
    from ..data.transforms import Compose
    table = registry.transforms()
    out = []
    for i, spec in enumerate(specs):
        cls = registry.lookup(table, spec["type"], f"transforms[{i}].type", "transform")
        kw = {k: v for k, v in spec.items() if k != "type"}
        if registry.accepts(cls, "generator"):
            kw["generator"] = generator
        try:
            out.append(cls(**kw))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"transforms[{i}] ({spec['type']}): {_one_line(e)}") from None
    return Compose(out)


def build_data(cfg: dict, preprocess: Preprocess | None = None, allow_nonfinite: bool = False,
               hint: str | None = None) -> DataBundle:
    """Load, split, standardise and batch the data of ``cfg['data']``.

    ``preprocess``: a trained run's input pipeline (evaluating or resuming it): the data goes through
    it (raw files from ``prepare``, a dataset loader's arrays from ``from_loaded``) instead of a new
    standardisation fitted on the training split, and labels are read as the run's classes.
    ``allow_nonfinite`` / ``hint``: let NaN/Inf features of data files through / how to say so.
    """
    from .. import backend
    from ..data.vision_transforms import TransformDataset
    d = cfg["data"]
    if d["name"] in TEXT_DATASETS:
        from .text_data import load_text_splits
        (train, val, test), pre = load_text_splits(d, preprocess)
        return _bundle(cfg, train, val, test, pre, None, {})
    kw = {} if hint is None else {"hint": hint}
    arrays = load_arrays(d, None if preprocess is None else preprocess.info, allow_nonfinite, **kw)
    train, val, test = split_arrays(d, arrays)
    if preprocess is not None:
        where = f"data.path: {d['path']}" if "path" in d else f"data ({d['name']})"

        def prep(x):
            if arrays["raw"]:
                return preprocess.prepare(x, allow_nonfinite=allow_nonfinite, where=where)
            return preprocess.from_loaded(x, where=where)
        train, val, test = ((prep(p[0]), p[1]) if p is not None else None for p in (train, val, test))
    else:
        if len(train[0]) == 0:
            raise ConfigError("data: the training split is empty")
        scaler = Preprocess.fit(train[0], d["standardize"])
        if scaler is not None:
            train, val, test = ((scaler(p[0]), p[1]) if p is not None else None for p in (train, val, test))
    x, y = train
    if preprocess is not None:
        info = dict(preprocess.info)
    else:
        info = {"dataset": d["name"], "task": d["task"], "input_shape": list(x.shape[1:]),
                "classes": arrays["classes"], "image": list(arrays["image"]) if arrays["image"] else None,
                "raw_input": {"divide_by": arrays["divide_by"], "description": registry.RAW_INPUT[d["name"]][1]}}
        if d["task"] == "classification":
            seen = int(max(p[1].max() for p in (train, val, test) if p is not None and len(p[1]))) + 1
            info["num_classes"] = max(seen, len(arrays["classes"] or ()))
        else:
            info["num_outputs"] = int(y.shape[1])
    info.update(num_train=len(x), num_val=0 if val is None else len(val[0]), num_test=0 if test is None else len(test[0]))
    pre = Preprocess(info, preprocess.scaler) if preprocess is not None else Preprocess(info, scaler)
    generators = {}
    train_ds = _tensors(x, y) if len(x) else None
    if train_ds is not None and build_transforms(cfg.get("transforms") or [], x.ndim - 1, None) is not None:
        g = backend.Generator().manual_seed(cfg["train"]["seed"] + 1)
        train_ds = TransformDataset(train_ds, build_transforms(cfg["transforms"], x.ndim - 1, g))
        generators["augment"] = g
    return _bundle(cfg, train, val, test, pre, train_ds, generators)


def _bundle(cfg: dict, train, val, test, pre: Preprocess, train_ds, generators: dict) -> DataBundle:
    """The loaders of the splits (``train_ds``: the training dataset when it is not just ``train``'s arrays)."""
    from .. import backend
    from ..data import DataLoader
    d = cfg["data"]
    x = train[0]
    if train_ds is None and len(x):
        train_ds = _tensors(*train)
    family = generative.family_of(cfg.get("model"))
    if family is not None and train_ds is not None:  # (input, target) pairs, noise, views: the family's data
        train_ds = family.wrap_train(train_ds, cfg, generators)
    train_loader = None if train_ds is None else DataLoader(
        train_ds, batch_size=d["batch_size"], shuffle=d["shuffle"], drop_last=d["drop_last"],
        generator=backend.Generator().manual_seed(cfg["train"]["seed"]))
    ebs = d["eval_batch_size"]
    val_loader = DataLoader(eval_dataset(cfg, val), batch_size=ebs) if val is not None else None
    test_loader = DataLoader(eval_dataset(cfg, test), batch_size=ebs) if test is not None else None
    return DataBundle(train_loader, val_loader, test_loader, pre, generators, x[:2], (train, val, test))


def eval_dataset(cfg: dict, pair):
    """The dataset that evaluates ``pair = (x, y)`` arrays: ``(x, y)`` itself, or what the run's model
    family trains on (``(x, x)`` for an autoencoder or VAE, no noise)."""
    ds = _tensors(*pair)
    family = generative.family_of(cfg.get("model"))
    return ds if family is None else family.wrap_eval(ds, cfg, train_arrays=lambda: build_data(cfg).arrays[0])


# ---------------------------------------------------------------- model
def model_from_layers(layers: list):
    """``nn.Sequential`` of ``[{type = "Linear", in_features = 64, out_features = 10}, {type = "ReLU"}, ...]``."""
    from .. import nn
    types = registry.layer_types()
    mods = []
    for i, spec in enumerate(layers):
        cls = registry.lookup(types, spec["type"], f"model.layers[{i}].type", "layer type")
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec.items() if k != "type"}
        try:
            mods.append(cls(**kw))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"model.layers[{i}] ({spec['type']}): {_one_line(e)}") from None
    return nn.Sequential(*mods)


def model_args(keys: dict, opts: dict, info: dict) -> dict:
    """The zoo model's options plus what the data says, for the arguments (``keys``) the config leaves out."""
    shape = info["input_shape"]
    width = info.get("num_classes") if info.get("task") == "classification" else info.get("num_outputs")
    auto = {"num_classes": width, "out_features": width, "in_features": int(np.prod(shape)),
            "in_channels": shape[0] if len(shape) >= 2 else None,
            "image_size": list(shape[1:]) if len(shape) == 3 else None,
            "input_size": shape[-1] if len(shape) >= 2 else None,
            # text data: the tokenizer's vocabulary and padding id, a language model's context length
            "vocab_size": info.get("vocab_size"), "pad_token_id": info.get("pad_token_id"),
            "block_size": info.get("block_size")}
    out = dict(opts)
    for k, v in auto.items():
        if v is not None and k not in out and k in keys:
            out[k] = v
    return out


def build_model(model_cfg: dict, info: dict, check_batch: np.ndarray | None = None):
    """The model of ``[model]``; returns ``(model, resolved options)``. With ``check_batch``
    (a few training inputs) the model runs once on it, so a shape mistake is reported now.
    ``ensemble = K`` in the table: a ``lamina.uncertainty.DeepEnsemble`` of K such models."""
    if model_cfg.get("ensemble"):
        return _build_ensemble(model_cfg, info, check_batch)
    if "layers" in model_cfg:
        model, resolved = model_from_layers(model_cfg["layers"]), dict(model_cfg)
    else:
        from .. import models as zoo
        name = model_cfg["name"]
        keys = registry.lookup(registry.models(), name, "model.name", "model")
        opts = model_args(keys, {k: v for k, v in model_cfg.items() if k != "name"}, info)
        family = generative.family_of(model_cfg)
        if family is not None:  # e.g. an unconditional GAN takes no num_classes from the data
            opts = family.model_options(model_cfg, opts)
        try:
            model = zoo.create_model(name, **opts)
        except (TypeError, ValueError, OSError) as e:  # OSError: a pretrained checkpoint that isn't there
            raise ConfigError(f"model ({name}): {_one_line(e)}") from None
        resolved = {"name": name, **opts}
    if check_batch is not None:
        family = generative.family_of(resolved)
        (family.check_forward if family is not None else _check_forward)(model, check_batch, info)
    return model, resolved


def _build_ensemble(model_cfg: dict, info: dict, check_batch):
    """A DeepEnsemble of ``model_cfg['ensemble']`` members built from the rest of the table: its forward
    gives the log of the members' averaged probabilities (classification) or their mean (regression)."""
    from ..uncertainty import DeepEnsemble
    k = int(model_cfg["ensemble"])
    base = {n: v for n, v in model_cfg.items() if n != "ensemble"}
    if generative.family_of(base) is not None or info.get("task") not in ("classification", "regression"):
        raise ConfigError(f"model.ensemble: deep ensembles are for classifiers and regressors, not "
                          f"{base.get('name', 'this model')} on {info.get('task')} data")
    members, resolved = [], base
    for _ in range(k):
        m, resolved = build_model(base, info, check_batch if not members else None)
        members.append(m)
    return DeepEnsemble(members, task=info["task"]), {**resolved, "ensemble": k}


def _check_forward(model, xb: np.ndarray, info: dict) -> None:
    from ..autograd import no_grad
    from ..tensor import Tensor
    was = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor._wrap(np.ascontiguousarray(xb)))
    except (ValueError, RuntimeError, TypeError, IndexError) as e:
        what = "token ids" if info.get("input_kind") == "tokens" else "inputs"
        raise ConfigError(f"model does not fit the data ({what} of shape {tuple(info['input_shape'])} per sample): "
                          f"{_one_line(e)}") from None
    finally:
        model.train(was)
    if info["task"] == LM_TASK:
        from .lm import token_logits
        out = token_logits(out)
        want = (len(xb), xb.shape[1], info["vocab_size"])
        if not hasattr(out, "shape") or tuple(out.shape) != want:
            raise ConfigError(f"a language model must return next-token logits of shape (batch, block_size, "
                              f"vocab_size) = {want}, got {getattr(out, 'shape', type(out).__name__)}; use "
                              "model.name = \"gpt\" (vocab_size and block_size come from the data)")
        return
    out = out[0] if isinstance(out, tuple) else out
    width = out.shape[-1] if out.ndim >= 2 else 1
    want = info.get("num_classes") if info["task"] == "classification" else info.get("num_outputs")
    if out.ndim != 2 or width != want:
        what = "classes" if info["task"] == "classification" else "target values"
        raise ConfigError(f"the model's output has shape {tuple(out.shape)} for {len(xb)} samples, but the data has "
                          f"{want} {what}: the output should be ({len(xb)}, {want})")


# ---------------------------------------------------------------- optimizer, scheduler, loss
def _kwargs(table: dict, drop=("name", "interval")) -> dict:
    return {k: (tuple(v) if isinstance(v, list) and k in ("betas", "etas", "step_sizes") else v)
            for k, v in table.items() if k not in drop}


def param_groups(model, lr: float, lr_scale: dict | None) -> list:
    """The trainable parameters (frozen ones left out), in groups by ``lr_scale``.

    ``lr_scale`` maps parameter-name patterns (``fnmatch``: ``bert.*``, ``*.bias``) to factors; a
    parameter takes the first pattern it matches and gets ``lr * factor``; the others form one
    group at ``lr``. A pattern that matches no parameter is an error (a typo would be silent);
    one whose parameters are all frozen just adds no group."""
    from fnmatch import fnmatchcase
    named = list(model.named_parameters())
    if not any(p.requires_grad for _, p in named):
        raise ConfigError("the model has no trainable parameters (everything is frozen)")
    if not lr_scale:
        return [p for _, p in named if p.requires_grad]
    groups = {pattern: [] for pattern in lr_scale}
    rest = []
    for n, p in named:
        hit = next((pat for pat in lr_scale if fnmatchcase(n, pat)), None)
        (groups[hit] if hit is not None else rest).append(p)
    for pattern, params in groups.items():
        if not params:
            names = [n for n, _ in named]
            sample = ", ".join(names if len(names) <= 4 else names[:3] + ["..."] + names[-1:])
            raise ConfigError(f"optimizer.lr_scale: pattern {pattern!r} matches no parameter of the model "
                              f"(names look like {sample})")
    out = [{"params": [p for p in rest if p.requires_grad], "lr": lr}]  # first: the lr that progress lines show
    out += [{"params": [p for p in params if p.requires_grad], "lr": lr * lr_scale[pattern]}
            for pattern, params in groups.items()]
    return [g for g in out if g["params"]]  # a frozen group (freeze_encoder) takes no part


def build_optimizer(cfg: dict, model):
    table = cfg["optimizer"]
    cls = registry.lookup(registry.optimizers(), table["name"], "optimizer.name", "optimizer")
    params = param_groups(model, table["lr"], table.get("lr_scale"))
    try:
        return cls(params, **_kwargs(table, drop=("name", "interval", "lr_scale")))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"optimizer: {_one_line(e)}") from None


# the scheduler argument that is the schedule's length, filled in from train.epochs when absent
HORIZON = {"cosine": "T_max", "onecycle": "total_steps", "polynomial": "total_iters"}


def steps_per_epoch(train_loader, grad_accum_steps: int) -> int:
    """Optimizer steps in one epoch: batches / grad_accum_steps, rounded up (a last partial cycle steps)."""
    return math.ceil(len(train_loader) / grad_accum_steps) if train_loader is not None else 1


def horizon(cfg: dict, steps: int) -> int:
    """The length of ``cfg``'s schedule when it comes from ``train.epochs``: epochs, or epochs * steps
    for a per-step schedule."""
    table = cfg.get("scheduler") or {}
    interval = table.get("interval") or ("step" if str(table.get("name", "")).lower() == "onecycle" else "epoch")
    return cfg["train"]["epochs"] * (steps if interval == "step" else 1)


def build_scheduler(cfg: dict, optimizer, steps: int):
    """``(scheduler or None, interval, resolved table)``; T_max / total_steps / max_lr filled in when absent."""
    table = cfg.get("scheduler")
    if not table:
        return None, "epoch", None
    name = table["name"].lower()
    cls = registry.lookup(registry.schedulers(), name, "scheduler.name", "scheduler")
    interval = table.get("interval") or ("step" if name == "onecycle" else "epoch")
    kw = _kwargs(table)
    length = horizon(cfg, steps)
    if name == "cosine":
        kw.setdefault("T_max", length)
    elif name == "onecycle":
        kw.setdefault("total_steps", length)
        kw.setdefault("max_lr", [g["lr"] for g in optimizer.param_groups] if cfg["optimizer"].get("lr_scale")
                      else cfg["optimizer"]["lr"])
    elif name == "polynomial":
        kw.setdefault("total_iters", length)
    try:
        sched = cls(optimizer, **kw)
    except (TypeError, ValueError, KeyError) as e:
        raise ConfigError(f"scheduler ({table['name']}): {_one_line(e)}") from None
    return sched, interval, {"name": table["name"], "interval": interval, **kw}


def build_loss(cfg: dict, info: dict | None = None):
    """The loss of ``[loss]``; for a language model (``info['task']``) taken over every position; a
    generative model's family objective (ELBO, reconstruction)."""
    family = generative.family_of(cfg.get("model"))
    if family is not None:
        return family.loss(cfg)
    table = cfg["loss"]
    cls = registry.lookup(registry.losses(), table["name"], "loss.name", "loss")
    try:
        loss = cls(**_kwargs(table))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"loss: {_one_line(e)}") from None
    if info is not None and info.get("task") == LM_TASK:
        from .lm import TokenLoss
        return TokenLoss(loss)
    return loss


def build_metrics(cfg: dict, info: dict | None = None) -> list:
    """The metrics of ``[metrics]`` (names, or per-token metrics for a language model, or a generative
    family's own: elbo, kl, ...)."""
    family = generative.family_of(cfg.get("model"))
    if family is not None:
        return family.metrics(cfg)
    names = list(cfg["metrics"]["names"])
    if info is not None and info.get("task") == LM_TASK:
        from .lm import TokenMetric
        return [TokenMetric(n) for n in names]
    return names


# ---------------------------------------------------------------- attacks and adversarial training
class AttackSpace:
    """A run's model seen from its inputs as the dataset scales them, before standardisation (images
    and digits in [0, 1]): attacks measure eps there. ``clamp`` is that range ((0, 1) for data with a
    known pixel scale, else None). Quacks like a model for ``lamina.robust`` (call, train/eval,
    training, parameters). ``to_raw`` / ``to_model`` move batches between the two spaces."""

    def __init__(self, model, preprocess):
        info = preprocess.info
        if info.get("input_kind") == "tokens":
            raise ConfigError(f"adversarial attacks perturb continuous inputs; this run reads token ids "
                              f"({info['dataset']})")
        if info.get("task") != "classification":
            raise ConfigError(f"adversarial attacks measure a classifier's accuracy; this run is {info.get('task')}")
        self.model, self.scaler = model, preprocess.scaler
        self.clamp = (0.0, 1.0) if (info.get("image") or preprocess.divide_by != 1.0) else None

    @property
    def training(self) -> bool:
        return self.model.training

    def train(self, mode: bool = True):
        self.model.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def parameters(self):
        return self.model.parameters()

    def __call__(self, x):
        return self.model(self.to_model(x))

    def to_model(self, x):
        return x if self.scaler is None else self.scaler(x)

    def to_raw(self, x):
        return x if self.scaler is None else self.scaler.inverse(x)


class AdversarialBatches:
    """The Trainer's ``batch_fn`` of ``[adversarial]``: each training batch is replaced by PGD (or FGSM)
    examples made in the ``AttackSpace`` (lamina.robust.AdversarialBatchFn), then standardised again;
    validation and test batches pass through unchanged."""

    def __init__(self, model, preprocess, table: dict, generator=None):
        from ..robust import AdversarialBatchFn
        from ..train import default_batch_fn
        self.space, self._unpack = AttackSpace(model, preprocess), default_batch_fn
        opts = dict(table)
        opts.setdefault("clamp", self.space.clamp)
        try:
            self.attack = AdversarialBatchFn.from_config(self.space, opts, batch_fn=self._raw, generator=generator)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"adversarial: {_one_line(e)}") from None

    def _raw(self, batch):
        x, y = self._unpack(batch)
        return self.space.to_raw(x), y

    def __call__(self, batch):
        if not self.space.training:
            return self._unpack(batch)
        x, y = self.attack(batch)
        return self.space.to_model(x), y


# ---------------------------------------------------------------- callbacks and trainer
DEFAULT_CALLBACKS = {"checkpoint": {"enabled": True}, "csv_logger": {"enabled": True}, "progress": {"enabled": True}}


def build_callbacks(cfg: dict, run_dir: str, has_val: bool, quiet: bool = False) -> list:
    """The Trainer's callbacks: the run directory's writers (checkpoints, metrics.csv, TensorBoard)
    plus the configured ones; a progress line per epoch unless ``quiet`` or ``progress = false``."""
    known = registry.callbacks()
    table = {**DEFAULT_CALLBACKS, **cfg.get("callbacks", {})}
    out = []
    fixed = {"checkpoint": {"dirpath": os.path.join(run_dir, "checkpoints")},
             "csv_logger": {"filename": os.path.join(run_dir, "metrics.csv"), "first_epoch": 1},
             "tensorboard": {"log_dir": os.path.join(run_dir, "tensorboard")}}
    for name, opts in table.items():
        if not opts.get("enabled", True) or name not in known or (name == "progress" and quiet):
            continue
        cls = known[name]
        kw = {k: v for k, v in opts.items() if k != "enabled"}
        kw.update({k: v for k, v in fixed.get(name, {}).items() if registry.accepts(cls, k)})
        if name == "checkpoint" and cfg["train"]["checkpoint_every_n_steps"]:
            kw.setdefault("every_n_steps", cfg["train"]["checkpoint_every_n_steps"])
        if not has_val and registry.accepts(cls, "monitor") and "monitor" not in opts:
            kw["monitor"] = "loss"  # no validation split: watch the training loss
        try:
            out.append(cls(**kw))
        except (TypeError, ValueError, ImportError) as e:
            raise ConfigError(f"callbacks.{name}: {_one_line(e)}") from None
    return out


def build_trainer(cfg: dict, model, data: DataBundle, run_dir: str, quiet: bool = False):
    """The Trainer of a run (its callbacks write into ``run_dir``); returns ``(trainer, resolved scheduler table)``."""
    from ..train import Trainer
    t = cfg["train"]
    optimizer = build_optimizer(cfg, model)
    steps = steps_per_epoch(data.train_loader, t["grad_accum_steps"])
    scheduler, interval, sched_cfg = build_scheduler(cfg, optimizer, steps)
    callbacks = build_callbacks(cfg, run_dir, data.val_loader is not None, quiet)
    family = generative.family_of(cfg.get("model"))
    make = Trainer
    if family is not None:  # KL warm-up, sample grids; its own loop (a GAN's two optimizers)
        callbacks += family.callbacks(cfg, run_dir, data)
        make = functools.partial(family.trainer, cfg, make_optimizer=build_optimizer)
    if cfg.get("adversarial"):  # PGD adversarial training: every training batch is attacked
        from .. import backend
        g = backend.Generator().manual_seed(cfg["train"]["seed"] + 2)
        data.generators["adversarial"] = g
        make = functools.partial(make, batch_fn=AdversarialBatches(model, data.preprocess, cfg["adversarial"], g))
    try:
        trainer = make(model, build_loss(cfg, data.info), optimizer, scheduler=scheduler,
                          scheduler_interval=interval, metrics=build_metrics(cfg, data.info), callbacks=callbacks,
                          grad_accum_steps=t["grad_accum_steps"], clip_grad_norm=t.get("clip_grad_norm"),
                          nonfinite=t["nonfinite"], device=None if t["device"] == "cpu" else t["device"],
                          log_every=t["log_every"], generators=data.generators)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"train: {_one_line(e)}") from None
    return trainer, sched_cfg
