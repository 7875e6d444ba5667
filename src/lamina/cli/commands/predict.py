"""``lamina predict CHECKPOINT INPUTS``: predicted class and probabilities for new inputs."""
from __future__ import annotations

import json
import os

import numpy as np

from ..errors import ConfigError

HELP = "predict classes (and probabilities) for new inputs with a trained model"
DESCRIPTION = """\
Run a trained model on new inputs: a .csv of numeric features (one row per input; a column
named like the run's target is dropped), a .npy array (or .npz with an array x), or image
files / folders of images (PNG, JPEG; converted to the run's image mode and size, as the
run's config says). The run's preprocessing (standardisation) is applied.

Prints one line per input (class, label, probability); --json prints every probability.

examples:
  lamina predict runs/mlp_digits samples.npy
  lamina predict runs/cnn_digits digit0.png digit1.png --json
  lamina predict runs/mlp_digits/checkpoints/best.safetensors features.csv --batch-size 256
"""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def configure(p) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a run directory or a checkpoint file in one")
    p.add_argument("inputs", metavar="INPUTS", nargs="+", help="a .csv, .npy/.npz file, or image files / folders")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="inputs per forward pass (default 256)")


def _images(paths) -> list:
    files = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in sorted(os.walk(p)):
                files.extend(os.path.join(root, n) for n in sorted(names) if n.lower().endswith(IMAGE_EXTENSIONS))
        elif p.lower().endswith(IMAGE_EXTENSIONS):
            files.append(p)
        else:
            raise ConfigError(f"{p}: not a .csv, .npy, .npz or image file (images: {', '.join(IMAGE_EXTENSIONS)})")
    if not files:
        raise ConfigError(f"no image files found in {', '.join(paths)}")
    return files


def read_inputs(paths: list, info: dict, data_cfg: dict) -> tuple:
    """``(names of the inputs, raw array (N, ...))``."""
    from ..data import load_images, read_table, to_float
    for p in paths:
        if not os.path.exists(p):
            raise ConfigError(f"input not found: {os.path.abspath(p)}")
    first = paths[0].lower()
    if first.endswith((".csv", ".tsv", ".npy", ".npz")):
        if len(paths) > 1:
            raise ConfigError("give one .csv / .npy / .npz file of inputs (or several image files)")
        path = paths[0]
        if first.endswith((".npy", ".npz")):
            try:
                if first.endswith(".npz"):
                    with np.load(path, allow_pickle=False) as z:
                        if "x" not in z:
                            raise ConfigError(f"{path} must hold an array named x, found {sorted(z.files)}")
                        x = z["x"]
                else:
                    x = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise ConfigError(f"cannot load {path}: {' '.join(str(e).split())}") from None
            if x.dtype.kind not in "fiub":
                raise ConfigError(f"{path}: inputs must be numeric, got dtype {x.dtype}")
            if x.ndim == len(info["input_shape"]) and x.ndim >= 1 and list(x.shape) == list(info["input_shape"]):
                x = x[None]  # a single input
            return [f"{os.path.basename(path)}[{i}]" for i in range(len(x))], x
        delim = "\t" if first.endswith(".tsv") else data_cfg.get("delimiter", ",")
        names, cells = read_table(path, delim, None, where="INPUTS")
        target = data_cfg.get("target")
        if names is not None and isinstance(target, str) and target in names:
            cells = np.delete(cells, names.index(target), axis=1)
        return [f"{os.path.basename(path)}:{i + 1}" for i in range(len(cells))], to_float(cells, path, "INPUTS")
    if not info.get("image"):
        raise ConfigError(f"this model was trained on {info['dataset']} features, not images: give a .csv or .npy file")
    mode, size = info["image"]
    files = _images(paths)
    return files, load_images(files, mode, size)


def run(args) -> int:
    from ... import nn
    from ...autograd import no_grad
    from ...tensor import Tensor
    from .. import rundir
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
    loaded = rundir.load_run(args.checkpoint)
    info = loaded.preprocess.info
    names, raw = read_inputs(args.inputs, info, loaded.cfg["data"])
    x = loaded.preprocess(raw)
    outs = []
    with no_grad():
        for i in range(0, len(x), args.batch_size):
            outs.append(np.asarray(loaded.model(Tensor._wrap(np.ascontiguousarray(x[i:i + args.batch_size]))).data))
    out = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
    loss = loaded.cfg["loss"]["name"].lower()
    classes = info.get("classes")
    preds = []
    if info["task"] == "classification":
        if loss in ("nll",):
            probs = np.exp(out)
        elif loss in ("bce", "bce_with_logits") and out.shape[1] == 1:
            p1 = 1 / (1 + np.exp(-out)) if loss == "bce_with_logits" else out
            probs = np.concatenate([1 - p1, p1], axis=1)
        else:
            probs = np.asarray(nn.functional.softmax(Tensor._wrap(out.astype(np.float64)), dim=1).data)
        for name, p in zip(names, probs):
            k = int(p.argmax())
            preds.append({"input": name, "class": k, "label": classes[k] if classes and k < len(classes) else str(k),
                          "probability": float(p[k]), "probabilities": [float(v) for v in p]})
    else:
        for name, o in zip(names, out):
            preds.append({"input": name, "prediction": [float(v) for v in o]})
    if args.json:
        print(json.dumps({"checkpoint": loaded.checkpoint, "task": info["task"], "classes": classes,
                          "predictions": preds}, indent=2))
        return 0
    width = max(len(p["input"]) for p in preds) if preds else 5
    for p in preds:
        if info["task"] == "classification":
            label = "" if p["label"] == str(p["class"]) else f"  ({p['label']})"
            print(f"{p['input']:<{width}}  class {p['class']}{label}  p={p['probability']:.4f}")
        else:
            print(f"{p['input']:<{width}}  " + " ".join(f"{v:.6g}" for v in p["prediction"]))
    return 0
