"""``lamina evaluate RUN``: the loss and metrics of a trained model on a data split or a data file."""
from __future__ import annotations

import json
import os

import numpy as np

from ..errors import ConfigError

HELP = "evaluate a trained model (loss and metrics) on a split or a data file"
DESCRIPTION = """\
Evaluate a run's model (its best checkpoint, or the given checkpoint file) on a split of the
run's data, on the [data] of another config, or on a whole data file (.csv, .npy, .npz, or
an image folder with one subfolder per class; for a text run, a text file (char_lm) or a CSV
of texts and labels (text_classification)). The run's preprocessing (standardisation, image
size, its tokenizer) is applied; the metrics are the run's [metrics]. A language model also
reports bits_per_char and perplexity (from the loss, in nats per character).

examples:
  lamina evaluate runs/mlp_digits                     # test split, best weights
  lamina evaluate runs/mlp_digits --split val --json
  lamina evaluate runs/mlp_digits/checkpoints/last.safetensors --data more_digits.csv
"""


def configure(p) -> None:
    p.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT", help="a run directory or a checkpoint file in one")
    p.add_argument("--data", metavar="CONFIG_OR_PATH",
                   help="a TOML config whose [data] to use, or a data file/folder to evaluate as a whole")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split (default: test)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the run's config (e.g. data.eval_batch_size=256)")
    p.add_argument("--batch-size", type=int, metavar="N", help="evaluation batch size")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


_FILE_KINDS = {".csv": "csv", ".tsv": "csv", ".npy": "npy", ".npz": "npy"}


def _data_config(cfg: dict, spec: str | None) -> tuple:
    """``(cfg with the data to use, whole_file)``."""
    from .. import config
    if spec is None:
        return cfg, False
    if not os.path.exists(spec):
        raise ConfigError(f"--data: file not found: {os.path.abspath(spec)}")
    if spec.endswith(".toml"):
        other = config.load_config(spec)
        if "data" not in other:
            raise ConfigError(f"--data: {spec} has no [data] table")
        cfg = dict(cfg, data=config.validate(dict(other, model=cfg["model"]))["data"])
        return cfg, False
    name = cfg["data"]["name"]
    if name in config.TEXT_DATASETS:  # the same kind of text, read from another file
        if os.path.isdir(spec):
            raise ConfigError(f"--data: {spec} is a directory; this run reads "
                              + ("a text file" if name == "char_lm" else "a CSV file of texts and labels"))
        d = {k: v for k, v in cfg["data"].items() if k != "limit"}
        d.update(path=spec, val_fraction=0.0, test_fraction=0.0)
        if spec.lower().endswith(".tsv"):
            d["delimiter"] = "\t"
        return dict(cfg, data=d), True
    d = {k: v for k, v in cfg["data"].items() if k in config.DATA_COMMON and k != "limit"}
    d.update(val_fraction=0.0, test_fraction=0.0)
    if os.path.isdir(spec):
        d.update(name="image_folder", root=spec)
    else:
        ext = os.path.splitext(spec)[1].lower()
        if ext not in _FILE_KINDS:
            raise ConfigError(f"--data: don't know how to read {spec} (use .csv, .npy, .npz, a folder of images, "
                              "or a .toml config)")
        d.update(name=_FILE_KINDS[ext], path=spec)
        if ext == ".tsv":
            d["delimiter"] = "\t"
    return dict(cfg, data=d), True


def run(args) -> int:
    from ...train import Trainer
    from ...optim import SGD
    from .. import build, config, rundir
    loaded = rundir.load_run(args.target)
    cfg = config.apply_overrides(loaded.cfg, args.overrides)
    cfg, whole = _data_config(cfg, args.data)
    if whole and cfg["data"]["name"] == "image_folder" and loaded.preprocess.info.get("image"):
        mode, size = loaded.preprocess.info["image"]
        cfg["data"].update(mode=mode, image_size=size)
    cfg = config.validate(cfg)
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
        cfg["data"]["eval_batch_size"] = args.batch_size
    data = build.build_data(cfg, preprocess=loaded.preprocess)
    split = "train" if whole else args.split
    pair = dict(zip(("train", "val", "test"), data.arrays))[split]
    if pair is None or len(pair[0]) == 0:
        raise ConfigError(f"the {split} split is empty (data.{'val' if split == 'val' else 'test'}_fraction = 0?)")
    from ...data import DataLoader
    loader = DataLoader(build._tensors(*pair), batch_size=cfg["data"]["eval_batch_size"])
    info = loaded.preprocess.info
    trainer = Trainer(loaded.model, build.build_loss(cfg, info), SGD(loaded.model.parameters(), lr=0.0),
                      metrics=build.build_metrics(cfg, info))
    metrics = trainer.evaluate(loader)
    if info["task"] == "language_model":
        from ..lm import per_char_summary
        metrics = per_char_summary(metrics)
    result = {"run": loaded.run_dir, "checkpoint": loaded.checkpoint,
              "data": args.data if whole else cfg["data"]["name"], "split": split, "num_samples": len(pair[0]),
              "metrics": rundir.jsonable(metrics)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['data']} {split} ({len(pair[0])} samples), weights {loaded.checkpoint}")
        width = max(len(k) for k in metrics)
        for k, v in metrics.items():
            print(f"  {k:<{width}}  {float(v):.6f}" if np.ndim(v) == 0 else f"  {k:<{width}}  {np.asarray(v).tolist()}")
    return 0
