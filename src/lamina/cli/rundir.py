"""The run directory and what the commands read back from it.

    runs/<name>/
      config.toml              the resolved config (defaults and inferred model arguments filled in)
      preprocess.safetensors   the input pipeline: raw input -> model input (lamina.cli.pipeline)
      tokenizer.json           the tokenizer of a text run
      metrics.csv              one row per epoch, numbered from 1 (CSVLogger)
      tensorboard/             event files (when callbacks.tensorboard is on)
      checkpoints/best.safetensors   weights of the best epoch (monitor: val_loss by default)
      checkpoints/last.safetensors   the full training state: `lamina train ... --resume` continues it
      test_metrics.json        the test split's metrics after training
      report/                  plots (lamina report)
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from . import tomlio
from .build import build_model
from .config import load_config, validate
from .errors import ConfigError, one_line
from .pipeline import Preprocess

__all__ = ["CONFIG", "PREPROCESS", "TEST_METRICS", "LoadedRun", "dumps_json", "find_checkpoint", "jsonable",
           "load_run", "load_run_config", "load_weights", "write_config", "write_json"]

CONFIG, PREPROCESS, TEST_METRICS = "config.toml", "preprocess.safetensors", "test_metrics.json"
CHECKPOINTS, BEST, LAST = "checkpoints", "best.safetensors", "last.safetensors"


def write_config(run_dir: str, cfg: dict) -> str:
    from ..io import atomic_write_text
    path = os.path.join(run_dir, CONFIG)
    atomic_write_text(path, "# resolved by lamina train: every default and inferred value is written out\n"
                      + tomlio.dumps(cfg))
    return path


def jsonable(v):
    """Metrics and logs as plain JSON (arrays -> lists, NaN -> null)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    from ..tensor import Tensor
    if isinstance(v, Tensor):
        v = np.asarray(v.array)
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist()) if v.ndim else jsonable(v.item())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def dumps_json(obj, indent: int | None = 2) -> str:
    """Strict JSON of ``obj`` (``jsonable``: NaN and infinities become null, never a bare NaN)."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)


def write_json(path: str, obj) -> None:
    from ..io import atomic_write_text
    atomic_write_text(path, dumps_json(obj) + "\n")


def find_checkpoint(path: str, prefer: str | None = "best") -> tuple:
    """``(run_dir, checkpoint file)`` of a run directory, its checkpoints folder, or a checkpoint file.

    In a directory, ``prefer`` ('best' or 'last') picks the file, falling back to the other;
    None reads the run's ``train.final_weights``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"run directory or checkpoint not found: {path}")
    if os.path.isfile(path):
        folder = os.path.dirname(os.path.abspath(path))
        run_dir = os.path.dirname(folder) if os.path.basename(folder) == CHECKPOINTS else folder
        return run_dir, path
    run_dir = os.path.dirname(os.path.abspath(path)) if os.path.basename(os.path.abspath(path)) == CHECKPOINTS \
        else path
    if prefer is None:
        prefer = "best"
        try:
            prefer = tomlio.loads(open(os.path.join(run_dir, CONFIG), encoding="utf-8").read())["train"][
                "final_weights"]
        except (OSError, KeyError, TypeError, ValueError):
            pass
    order = (BEST, LAST) if prefer == "best" else (LAST, BEST)
    for name in order:
        cand = os.path.join(run_dir, CHECKPOINTS, name)
        if os.path.isfile(cand):
            return run_dir, cand
    raise ConfigError(f"no checkpoint in {os.path.join(run_dir, CHECKPOINTS)} (expected {BEST} or {LAST}); "
                      "has the run trained an epoch yet?")


def load_weights(model, checkpoint: str) -> str:
    """Load a weight file (``best``) or a training-state checkpoint (``last``) into ``model``; returns the kind."""
    from .. import io
    try:
        state = io.load(checkpoint)
    except (io.CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"cannot read checkpoint {checkpoint}: {one_line(e)}") from None
    kind = "weights"
    if isinstance(state, dict) and state.get("kind") == "lamina.training_state":
        state, kind = state.get("model"), "training_state"
    if not isinstance(state, dict):
        raise ConfigError(f"checkpoint {checkpoint} holds no model weights (a state dict of tensors)")
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as e:
        raise ConfigError(f"checkpoint {checkpoint} does not fit the model of the run's config: "
                          f"{one_line(e)}") from None
    return kind


@dataclass
class LoadedRun:
    run_dir: str
    checkpoint: str
    cfg: dict
    preprocess: object
    model: object


def load_run_config(run_dir: str) -> dict:
    """The validated ``config.toml`` of a run directory (ConfigError when it is missing or broken)."""
    cfg_path = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(cfg_path):
        raise ConfigError(f"{run_dir} has no {CONFIG}: is it a run directory written by lamina train?")
    try:
        return validate(load_config(cfg_path), check_files=False)
    except ConfigError as e:
        raise ConfigError(f"the run's {cfg_path} is not a valid config: {e}") from None


def load_run(path: str, prefer: str | None = None) -> LoadedRun:
    """The model of a finished (or running) run with its checkpoint's weights, in eval mode."""
    run_dir, ckpt = find_checkpoint(path, prefer)
    cfg = load_run_config(run_dir)
    pre = Preprocess.load(os.path.join(run_dir, PREPROCESS))
    model, _ = build_model(cfg["model"], pre.info)
    load_weights(model, ckpt)
    model.eval()
    return LoadedRun(run_dir, ckpt, cfg, pre, model)
