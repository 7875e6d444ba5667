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
    p.add_argument("--uncertainty", choices=("mc-dropout", "ensemble"),
                   help="also say how sure the model is: MC dropout (dropout kept on, --samples passes) or the "
                        "members of an ensemble run (lamina train --ensemble K); prints the mean prediction, "
                        "predictive entropy, mutual information and a flag above --threshold")
    p.add_argument("--samples", type=int, metavar="N", help="MC dropout passes (default 30)")
    p.add_argument("--spark", metavar="INPUT.parquet",
                   help="score a Parquet file on Spark (lamina.spark.predict_udf) and write --out OUT.parquet: the "
                        "input's columns plus class, label, probability, probabilities (a regressor: prediction); "
                        "the input column: --column, or the one array/binary/string column (needs lamina[spark])")
    p.add_argument("--out", metavar="OUT.parquet", help="where --spark writes its results")
    p.add_argument("--column", metavar="NAME", help="--spark: the column holding the inputs")
    p.add_argument("--spark-master", metavar="URL", help="--spark: Spark master (default local[*], or spark-submit's)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="flag inputs whose predictive entropy (nats) exceeds T (default: half the maximum, "
                        "log(classes) / 2); a regression run: whose predictive std exceeds T")


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
    _check_uncertainty_args(args)
    if getattr(args, "spark", None) or getattr(args, "out", None):
        return _predict_spark(args)
    loaded = rundir.load_run(args.checkpoint)
    info = loaded.preprocess.info
    if args.uncertainty:
        _check_uncertainty_model(args, loaded)
    names, x = _inputs(args, loaded)
    if args.uncertainty:
        return _predict_uncertain(args, loaded, names, x)
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


# ---------------------------------------------------------------- --uncertainty mc-dropout | ensemble
def _check_uncertainty_args(args) -> None:
    if args.uncertainty is None:
        given = [f for f, v in (("--samples", args.samples), ("--threshold", args.threshold)) if v is not None]
        if given:
            raise ConfigError(f"{given[0]} is an option of --uncertainty mc-dropout|ensemble")
        return
    if args.samples is not None and args.uncertainty == "ensemble":
        raise ConfigError("--samples is for --uncertainty mc-dropout (an ensemble's samples are its members)")
    if args.samples is not None and args.samples < 2:
        raise ConfigError(f"--samples must be at least 2, got {args.samples}")
    if args.threshold is not None and not args.threshold >= 0:
        raise ConfigError(f"--threshold must be a number >= 0, got {args.threshold}")


def _check_uncertainty_model(args, loaded) -> None:
    from ...uncertainty import DeepEnsemble, dropout_layers
    model, info = loaded.model, loaded.preprocess.info
    if info["task"] not in ("classification", "regression"):
        raise ConfigError(f"--uncertainty is for classifiers and regressors; {loaded.run_dir} is a {info['task']} run")
    if args.uncertainty == "ensemble" and not isinstance(model, DeepEnsemble):
        raise ConfigError(f"--uncertainty ensemble needs an ensemble run; {loaded.run_dir} holds one "
                          f"{type(model).__name__} (train one with lamina train CONFIG --ensemble 5, or use "
                          "--uncertainty mc-dropout on a model with dropout)")
    if args.uncertainty == "mc-dropout" and not dropout_layers(model):
        raise ConfigError(f"--uncertainty mc-dropout: the run's {type(model).__name__} has no dropout layer with "
                          "p > 0 (train it with dropout, e.g. --set model.dropout=0.2, or train an ensemble: "
                          "lamina train CONFIG --ensemble 5)")


def _predict_uncertain(args, loaded, names, x) -> int:
    """The mean prediction and its uncertainty per input, flagged above the threshold."""
    from ... import backend
    from ...uncertainty import mc_dropout_predict
    from .. import rundir
    info = loaded.preprocess.info
    task = info["task"]
    backend.manual_seed(0)  # the dropout masks: the same numbers every time
    with np.errstate(all="ignore"):
        if args.uncertainty == "ensemble":
            r = loaded.model.predict(x, batch_size=args.batch_size)
            samples = len(loaded.model)
        else:
            samples = args.samples or 30
            r = mc_dropout_predict(loaded.model, x, samples=samples, task=task, batch_size=args.batch_size)
    classes = info.get("classes")
    preds = []
    if task == "classification":
        threshold = args.threshold if args.threshold is not None else float(np.log(r.mean.shape[1]) / 2)
        for i, name in enumerate(names):
            p = r.mean[i]
            k = int(p.argmax())
            preds.append({"input": name, "class": k, "label": classes[k] if classes and k < len(classes) else str(k),
                          "probability": float(p[k]), "probabilities": [float(v) for v in p],
                          "predictive_entropy": float(r.predictive_entropy[i]),
                          "expected_entropy": float(r.expected_entropy[i]),
                          "mutual_information": float(r.mutual_information[i]),
                          "uncertain": bool(r.predictive_entropy[i] > threshold)})
        on = "predictive_entropy"
    else:
        threshold = args.threshold
        std = np.sqrt(r.variance)
        for i, name in enumerate(names):
            preds.append({"input": name, "prediction": [float(v) for v in r.mean[i]], "std": [float(v) for v in std[i]],
                          "uncertain": None if threshold is None else bool(std[i].max() > threshold)})
        on = "std"
    meta = {"method": args.uncertainty, "samples": samples, "threshold": threshold, "flag_on": on}
    if args.json:
        print(rundir.dumps_json({"checkpoint": loaded.checkpoint, "task": task, "classes": classes,
                                 "uncertainty": meta, "predictions": preds}))
        return 0
    what = f"{samples} members" if args.uncertainty == "ensemble" else f"{samples} MC dropout passes"
    quantity = "predictive entropy" if on != "std" else "std"
    limit = "" if threshold is None else f"; UNCERTAIN: {quantity} > {threshold:.4g}"
    print(f"uncertainty from {what}{limit}")
    width = max(len(p["input"]) for p in preds) if preds else 5
    for p in preds:
        flag = "  UNCERTAIN" if p["uncertain"] else ""
        if task == "classification":
            label = "" if p["label"] == str(p["class"]) else f"  ({p['label']})"
            print(f"{p['input']:<{width}}  class {p['class']}{label}  p={p['probability']:.4f}  "
                  f"entropy {p['predictive_entropy']:.4f}  mi {p['mutual_information']:.4f}{flag}")
        else:
            print(f"{p['input']:<{width}}  " + " ".join(f"{v:.6g}±{s:.3g}" for v, s in zip(p["prediction"], p["std"]))
                  + flag)
    return 0


# ---------------------------------------------------------------- --spark INPUT.parquet --out OUT.parquet
def _predict_spark(args) -> int:
    if not args.spark or not args.out:
        raise ConfigError("--spark INPUT.parquet and --out OUT.parquet go together")
    extra = [f for f, v in (("INPUTS", args.inputs), ("--text", args.texts), ("--uncertainty", args.uncertainty),
                            ("--json", args.json)) if v]
    if extra:
        raise ConfigError(f"--spark scores the Parquet file; {extra[0]} can't be combined with it")
    try:
        from ...spark import score_parquet
    except ImportError as e:
        raise ConfigError(str(e)) from None
    n = score_parquet(args.checkpoint, args.spark, args.out, column=args.column, master=args.spark_master,
                      batch_size=args.batch_size, allow_nonfinite=args.allow_nonfinite)
    print(f"scored {n} rows of {args.spark} -> {args.out}")
    return 0
