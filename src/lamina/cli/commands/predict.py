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

A text classifier (data.name = "text_classification") reads texts: --text "..." (repeatable),
a .txt file (one text per line) or a .csv/.tsv file (the run's text column); the run's
tokenizer (its tokenizer.json) encodes them.

examples:
  lamina predict runs/mlp_digits samples.npy
  lamina predict runs/bert_text --text "The striker scored twice." --text "I baked bread."
  lamina predict runs/bert_text reviews.txt --json
  lamina predict runs/cnn_digits digit0.png digit1.png --json
  lamina predict runs/mlp_digits/checkpoints/best.safetensors features.csv --batch-size 256
"""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def configure(p) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a run directory or a checkpoint file in one")
    p.add_argument("inputs", metavar="INPUTS", nargs="*",
                   help="a .csv, .npy/.npz file, or image files / folders (a text run: .txt or .csv files)")
    p.add_argument("--text", dest="texts", action="append", default=[], metavar="TEXT",
                   help="a text to classify (text classification runs; repeatable)")
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


def read_texts(paths: list, texts: list, data_cfg: dict) -> tuple:
    """``(names, texts)`` from --text values, .txt files (one text per line) and .csv/.tsv files."""
    from ..text_data import read_text_table
    names, out = [f"--text[{i}]" for i in range(len(texts))], list(texts)
    for p in paths:
        if not os.path.isfile(p):
            raise ConfigError(f"input not found: {os.path.abspath(p)}" if not os.path.exists(p)
                              else f"{p}: give text files (.txt, .csv, .tsv), not a directory")
        low = p.lower()
        if low.endswith((".csv", ".tsv")):
            delim = "\t" if low.endswith(".tsv") else data_cfg.get("delimiter", ",")
            rows, _ = read_text_table(p, data_cfg.get("text_column", "text"), None, delim,
                                      data_cfg.get("header", True), where="INPUTS")
            names += [f"{os.path.basename(p)}:{i + 1}" for i in range(len(rows))]
            out += rows
        else:
            try:
                with open(p, encoding="utf-8") as f:
                    lines = [(i, line.rstrip("\r\n")) for i, line in enumerate(f) if line.strip()]
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"cannot read {p} as UTF-8 text: {' '.join(str(e).split())}") from None
            names += [f"{os.path.basename(p)}:{i + 1}" for i, _ in lines]
            out += [line for _, line in lines]
    if not out:
        raise ConfigError("no texts to classify: give --text \"...\" or a .txt / .csv file")
    return names, out


def _inputs(args, loaded) -> tuple:
    """``(names, model inputs)`` for the run's kind of data."""
    info = loaded.preprocess.info
    if info.get("input_kind") != "tokens":
        if args.texts:
            raise ConfigError(f"--text is for text classification runs; this model was trained on {info['dataset']}")
        if not args.inputs:
            raise ConfigError("give the inputs to predict (files), see lamina predict --help")
        names, raw = read_inputs(args.inputs, info, loaded.cfg["data"])
        return names, loaded.preprocess(raw)
    if info["task"] == "language_model":
        raise ConfigError(f"{loaded.run_dir} is a language model ({info['dataset']}): lamina predict classifies "
                          "inputs; score text with lamina evaluate RUN --data file.txt, or sample from the model "
                          "with GPT.generate (examples/train_gpt.py)")
    from ..text_data import encode_texts
    names, texts = read_texts(args.inputs, args.texts, loaded.cfg["data"])
    return names, encode_texts(loaded.preprocess.tokenizer, texts, info["tokenizer"]["max_length"])


def run(args) -> int:
    from ... import nn
    from ...autograd import no_grad
    from ...tensor import Tensor
    from .. import rundir
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
    loaded = rundir.load_run(args.checkpoint)
    info = loaded.preprocess.info
    names, x = _inputs(args, loaded)
    outs = []
    with no_grad():
        for i in range(0, len(x), args.batch_size):
            outs.append(np.asarray(loaded.model(Tensor._wrap(np.ascontiguousarray(x[i:i + args.batch_size]))).array))
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
            probs = np.asarray(nn.functional.softmax(Tensor._wrap(out.astype(np.float64)), dim=1).array)
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
