"""``lamina predict CHECKPOINT INPUTS``: predicted class and probabilities for new inputs."""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError

HELP = "predict classes (and probabilities) for new inputs with a trained model"
DESCRIPTION = """\
Run a trained model on new, raw inputs: rows of numbers in a .csv (one row per input; a header
row is detected, --header/--no-header decide it; a column named like the run's target is
dropped) or a .npy array (or .npz with an array x), or image files / folders of images (PNG,
JPEG; converted to the run's image mode and size). The run's whole input pipeline is applied
(lamina.cli.pipeline: the dataset's own scaling, standardisation, image size, tokenizer), so
inputs are given as the dataset's files hold them, for example:

  digits          64 values 0..16 per row (sklearn.datasets.load_digits().data), or 8x8 images
  mnist, fashion  784 values 0..255 per row (the IDX files' pixels), or 28x28 images
  cifar10         3072 values 0..255 per row (channel-major), or 32x32 RGB images
  csv, npy        the training file's feature columns, unscaled

'lamina predict RUN --help' says it for that run. NaN/Inf inputs are refused, naming the line
and column (--allow-nonfinite predicts them anyway: their results are null in --json).

Prints one line per input (class, label, probability); --json prints every probability.

A text classifier (data.name = "text_classification") reads texts: --text "..." (repeatable),
a .txt file (one text per line) or a .csv/.tsv file (the run's text column); the run's
tokenizer (its tokenizer.json) encodes them. A language model generates: lamina generate RUN.

examples:
  lamina predict runs/mlp_digits samples.npy
  lamina predict runs/bert_text --text "The striker scored twice." --text "I baked bread."
  lamina predict runs/bert_text reviews.txt --json
  lamina predict runs/cnn_digits digit0.png digit1.png --json
  lamina predict runs/mlp_digits/checkpoints/best.safetensors features.csv --batch-size 256
"""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_NONFINITE_HINT = " (pass --allow-nonfinite to predict such rows anyway)"


def configure(p) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a run directory or a checkpoint file in one")
    p.add_argument("inputs", metavar="INPUTS", nargs="*",
                   help="a .csv, .npy/.npz file, or image files / folders (a text run: .txt or .csv files)")
    p.add_argument("--text", dest="texts", action="append", default=[], metavar="TEXT",
                   help="a text to classify (text classification runs; repeatable)")
    p.add_argument("--header", dest="header", action="store_true", default=None,
                   help="the CSV's first row is a header (default: detected)")
    p.add_argument("--no-header", dest="header", action="store_false", help="the CSV has no header row")
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="predict rows with NaN/Inf values instead of refusing the file (results: null)")
    p.add_argument("--json", action="store_true", help="print the predictions as JSON (non-finite numbers as null)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="inputs per forward pass (default 256)")


def help_epilog(argv: list) -> str | None:
    """``lamina predict RUN --help``: what a raw input of that run looks like."""
    from .. import rundir
    from ..pipeline import Preprocess
    for a in argv:
        if not a.startswith("-") and os.path.exists(a):
            run_dir, _ = rundir.find_checkpoint(a, "best")
            import textwrap
            text = "this run: " + Preprocess.load(os.path.join(run_dir, rundir.PREPROCESS)).describe()
            return textwrap.fill(text, width=96)
    return None


def _images(paths) -> list:
    files = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in sorted(os.walk(p)):
                files.extend(os.path.join(root, n) for n in sorted(names) if n.lower().endswith(IMAGE_EXTENSIONS))
        elif p.lower().endswith(IMAGE_EXTENSIONS):
            files.append(p)
        else:
            raise ConfigError(f"INPUTS: {p}: not a .csv, .npy, .npz or image file (images: "
                              f"{', '.join(IMAGE_EXTENSIONS)})")
    if not files:
        raise ConfigError(f"INPUTS: no image files found in {', '.join(paths)}")
    return files


def read_inputs(paths: list, pre, data_cfg: dict, header=None, allow_nonfinite: bool = False) -> tuple:
    """``(names of the inputs, model inputs)``: the files read by the one reader, through the run's pipeline."""
    from ..readers import check_finite, read_arrays, read_table, to_float
    for p in paths:
        if not os.path.exists(p):
            raise ConfigError(f"INPUTS: input not found: {os.path.abspath(p)}")
    first = paths[0].lower()
    if first.endswith((".csv", ".tsv", ".npy", ".npz")):
        if len(paths) > 1:
            raise ConfigError("INPUTS: give one .csv / .npy / .npz file of inputs (or several image files)")
        path = paths[0]
        if first.endswith((".npy", ".npz")):
            if header is not None:
                raise ConfigError(f"--header/--no-header are for CSV files, not {path}")
            x, _ = read_arrays(path, "INPUTS")
            if not allow_nonfinite:
                check_finite(x, path, "INPUTS", _NONFINITE_HINT)
            shape = list(pre.info["input_shape"])
            if x.ndim == len(shape) and list(x.shape) == shape:
                x = x[None]  # a single input
            return [f"{os.path.basename(path)}[{i}]" for i in range(len(x))], \
                pre.prepare(x, allow_nonfinite=allow_nonfinite)
        delim = "\t" if first.endswith(".tsv") else data_cfg.get("delimiter", ",")
        if header is None:
            header = data_cfg.get("header", "auto")
        table = read_table(path, delim, header, where="INPUTS")
        target = data_cfg.get("target")
        if table.names is not None and isinstance(target, str) and target in table.names:
            table = table.drop(table.names.index(target))
        x = to_float(table, path, "INPUTS", allow_nonfinite, _NONFINITE_HINT)
        return [f"{os.path.basename(path)}:{n}" for n in table.lines], pre.prepare(x, allow_nonfinite=allow_nonfinite)
    if header is not None:
        raise ConfigError("--header/--no-header are for CSV files")
    if not pre.info.get("image"):
        raise ConfigError(f"INPUTS: this model was trained on {pre.info['dataset']} features, not images: give a .csv "
                          "or .npy file")
    files = _images(paths)
    return files, pre.prepare(files, kind="images")


def read_texts(paths: list, texts: list, data_cfg: dict, header=None) -> tuple:
    """``(names, texts)`` from --text values, .txt files (one text per line) and .csv/.tsv files."""
    from ..text_data import read_text_table
    names, out = [f"--text[{i}]" for i in range(len(texts))], list(texts)
    for p in paths:
        if not os.path.isfile(p):
            raise ConfigError(f"INPUTS: input not found: {os.path.abspath(p)}" if not os.path.exists(p)
                              else f"INPUTS: {p}: give text files (.txt, .csv, .tsv), not a directory")
        low = p.lower()
        if low.endswith((".csv", ".tsv")):
            delim = "\t" if low.endswith(".tsv") else data_cfg.get("delimiter", ",")
            rows, _ = read_text_table(p, data_cfg.get("text_column", "text"), None, delim,
                                      header if header is not None else data_cfg.get("header", "auto"),
                                      where="INPUTS")
            names += [f"{os.path.basename(p)}:{i + 1}" for i in range(len(rows))]
            out += rows
        else:
            try:
                with open(p, encoding="utf-8") as f:
                    lines = [(i, line.rstrip("\r\n")) for i, line in enumerate(f) if line.strip()]
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"INPUTS: cannot read {p} as UTF-8 text: {' '.join(str(e).split())}") from None
            names += [f"{os.path.basename(p)}:{i + 1}" for i, _ in lines]
            out += [line for _, line in lines]
    if not out:
        raise ConfigError("no texts to classify: give --text \"...\" or a .txt / .csv file")
    return names, out


def _inputs(args, loaded) -> tuple:
    """``(names, model inputs)`` for the run's kind of data."""
    pre = loaded.preprocess
    info = pre.info
    if info.get("input_kind") != "tokens":
        if args.texts:
            raise ConfigError(f"--text is for text classification runs; this model was trained on {info['dataset']}")
        if not args.inputs:
            raise ConfigError(f"give the inputs to predict: {pre.describe()}")
        return read_inputs(args.inputs, pre, loaded.cfg["data"], args.header, args.allow_nonfinite)
    if info["task"] == "language_model":
        raise ConfigError(f"{loaded.run_dir} is a language model ({info['dataset']}): lamina predict classifies "
                          "inputs; generate text with lamina generate RUN --prompt TEXT, or score text with "
                          "lamina evaluate RUN --data file.txt")
    names, texts = read_texts(args.inputs, args.texts, loaded.cfg["data"], args.header)
    return names, pre.prepare(texts, kind="texts")


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
    with no_grad(), np.errstate(all="ignore"):
        for i in range(0, len(x), args.batch_size):
            outs.append(np.asarray(loaded.model(Tensor._wrap(np.ascontiguousarray(x[i:i + args.batch_size]))).array))
    out = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
    loss = loaded.cfg["loss"]["name"].lower()
    classes = info.get("classes")
    preds = []
    if info["task"] == "classification":
        with np.errstate(all="ignore"):
            if loss in ("nll",):
                probs = np.exp(out)
            elif loss in ("bce", "bce_with_logits") and out.shape[1] == 1:
                p1 = 1 / (1 + np.exp(-out)) if loss == "bce_with_logits" else out
                probs = np.concatenate([1 - p1, p1], axis=1)
            else:
                probs = np.asarray(nn.functional.softmax(Tensor._wrap(out.astype(np.float64)), dim=1).array)
        for name, p in zip(names, probs):
            if not np.isfinite(p).all():  # a non-finite input let through: no prediction
                preds.append({"input": name, "class": None, "label": None, "probability": None,
                              "probabilities": [float(v) for v in p]})
                continue
            k = int(p.argmax())
            preds.append({"input": name, "class": k, "label": classes[k] if classes and k < len(classes) else str(k),
                          "probability": float(p[k]), "probabilities": [float(v) for v in p]})
    else:
        for name, o in zip(names, out):
            preds.append({"input": name, "prediction": [float(v) for v in o]})
    if args.json:
        print(rundir.dumps_json({"checkpoint": loaded.checkpoint, "task": info["task"], "classes": classes,
                                 "predictions": preds}))
        return 0
    width = max(len(p["input"]) for p in preds) if preds else 5
    for p in preds:
        if info["task"] == "classification":
            if p["class"] is None:
                print(f"{p['input']:<{width}}  no prediction (non-finite input)")
                continue
            label = "" if p["label"] == str(p["class"]) else f"  ({p['label']})"
            print(f"{p['input']:<{width}}  class {p['class']}{label}  p={p['probability']:.4f}")
        else:
            print(f"{p['input']:<{width}}  " + " ".join(f"{v:.6g}" for v in p["prediction"]))
    return 0
