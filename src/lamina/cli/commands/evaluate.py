"""``lamina evaluate RUN``: the loss and metrics of a trained model on a data split or a data file."""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError

HELP = "evaluate a trained model (loss and metrics) on a split or a data file"
DESCRIPTION = """\
Evaluate a run's model (its final weights, or the given checkpoint file) on a split of the
run's data, on the [data] of another config, or on a whole data file: a .csv (features and a
label column: the run's target column for a csv run, else the last one), a .npy/.npz (an .npz
with arrays x and y), or an image folder with one subfolder per class; for a text run, a text
file (char_lm) or a CSV of texts and labels (text_classification).

A data file is raw input, read by the same reader as predict and training (a header row is
detected; --header/--no-header or --set data.header=... decide it), and goes through the run's
whole input pipeline (the dataset's scaling, standardisation, image size, tokenizer). Labels
are the run's class names or indices. NaN/Inf features are refused, naming the line and column
(--allow-nonfinite evaluates them anyway; non-finite results are null in --json). The metrics
are the run's [metrics]; a language model also reports bits_per_char and perplexity.

examples:
  lamina evaluate runs/mlp_digits                     # test split, final weights
  lamina evaluate runs/mlp_digits --split val --json
  lamina evaluate runs/mlp_digits/checkpoints/last.safetensors --data more_digits.csv --no-header

A reinforcement-learning run (lamina rl) is evaluated in its environment: mean and std of the
return of the deterministic policy over --episodes N (best checkpoint, else the last), and
--video OUT.gif records one episode from the environment's rgb_array frames:
  lamina evaluate runs/ppo_cartpole --episodes 100 --video cartpole.gif
"""


def configure(p) -> None:
    p.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT", help="a run directory or a checkpoint file in one")
    p.add_argument("--data", metavar="CONFIG_OR_PATH",
                   help="a TOML config whose [data] to use, or a data file/folder to evaluate as a whole")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split (default: test)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the run's config (e.g. data.eval_batch_size=256, data.header=false)")
    p.add_argument("--batch-size", type=int, metavar="N", help="evaluation batch size")
    p.add_argument("--header", dest="header", action="store_true", default=None,
                   help="the --data CSV's first row is a header (default: detected)")
    p.add_argument("--no-header", dest="header", action="store_false", help="the --data CSV has no header row")
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="evaluate rows with NaN/Inf features instead of refusing the file")
    p.add_argument("--json", action="store_true", help="print the result as JSON (non-finite numbers as null)")
    p.add_argument("--iwae", type=int, metavar="K",
                   help="a VAE run: also the importance-weighted log-likelihood with K samples per input (iwae_K)")
    p.add_argument("--attack", choices=("pgd", "fgsm"),
                   help="also attack every input (lamina.robust) and report clean and robust accuracy")
    p.add_argument("--eps", type=float, metavar="E", default=None,
                   help="the attack budget, on the inputs as the dataset scales them (images, digits: [0, 1]) "
                        "before standardisation (default 0.1)")
    p.add_argument("--steps", type=int, metavar="N", default=None, help="PGD steps (default 10)")
    p.add_argument("--norm", choices=("linf", "l2"), default="linf", help="the attack's norm (default linf)")
    # reinforcement-learning runs (lamina rl): the return of the deterministic policy, and a video
    p.add_argument("--episodes", type=int, metavar="N", default=None,
                   help="an RL run: mean and std of the return over N episodes (default 10)")
    p.add_argument("--video", metavar="OUT.gif", default=None, help="an RL run: also record one episode as a GIF")
    p.add_argument("--seed", type=int, default=None, help="an RL run: reset seed of the first episode (default 10000)")


_SETTABLE = ("data", "metrics", "loss")
_FILE_KINDS = {".csv": "csv", ".tsv": "csv", ".npy": "npy", ".npz": "npy"}


def _data_config(cfg: dict, spec: str | None, header) -> tuple:
    """``(cfg with the data to use, whole_file)``."""
    from .. import config
    data_header = cfg["data"].get("header")  # --set data.header=... on a run whose data has no such key
    if spec is None:
        if header is not None:
            raise ConfigError("--header/--no-header are for a --data CSV file")
        return cfg, False
    if not os.path.exists(spec):
        raise ConfigError(f"--data: file not found: {os.path.abspath(spec)}")
    header = header if header is not None else (data_header if data_header is not None else "auto")
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
        if name == "text_classification":
            d["header"] = header
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
        if ext == ".npy":
            raise ConfigError(f"--data: {spec} holds features only; evaluate needs labels: give an .npz with arrays "
                              "x and y, or a .csv with a label column (lamina predict takes features alone)")
        d.update(name=_FILE_KINDS[ext], path=spec)
        if d["name"] == "csv":
            d["header"] = header
            for key in ("target", "delimiter"):
                if key in cfg["data"]:
                    d[key] = cfg["data"][key]
            if ext == ".tsv":
                d["delimiter"] = "\t"
        elif header not in (None, "auto"):
            raise ConfigError(f"--header/--no-header are for CSV files, not {spec}")
    return dict(cfg, data=d), True


def run(args) -> int:
    from .rl import evaluate_run, is_rl_run
    if is_rl_run(args.target):  # a lamina rl run: episodes in its environment, not a data split
        return evaluate_run(args)
    rl_only = [f for f, v in (("--episodes", args.episodes), ("--video", args.video), ("--seed", args.seed))
               if v is not None]
    if rl_only:
        raise ConfigError(f"{rl_only[0]} is for reinforcement-learning runs (lamina rl); {args.target} is not one")
    from ...data import DataLoader
    from ...optim import SGD
    from ...train import Trainer
    from ... import backend
    from .. import build, config, generative, rundir
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
    for item in args.overrides:  # the run's model and training are what they are: only data, metrics, loss apply
        section = item.partition("=")[0].strip().split(".")[0]
        if section not in _SETTABLE:
            raise ConfigError(f"--set {item.partition('=')[0].strip()}: evaluate uses the run's trained model; only "
                              f"[{'], ['.join(_SETTABLE)}] settings apply to an evaluation")
    _check_attack(args)
    loaded = rundir.load_run(args.target)
    space = build.AttackSpace(loaded.model, loaded.preprocess) if args.attack else None
    cfg = config.apply_overrides(loaded.cfg, args.overrides)
    cfg, whole = _data_config(cfg, args.data, args.header)
    if whole and cfg["data"]["name"] == "image_folder" and loaded.preprocess.info.get("image"):
        mode, size = loaded.preprocess.info["image"]
        cfg["data"].update(mode=mode, image_size=size)
    cfg = config.validate(cfg)
    if args.batch_size is not None:
        cfg["data"]["eval_batch_size"] = args.batch_size
    data = build.build_data(cfg, preprocess=loaded.preprocess, allow_nonfinite=args.allow_nonfinite,
                            hint=" (pass --allow-nonfinite to evaluate such rows anyway)")
    split = "all" if whole else args.split
    # a whole file is split with no val/test part: all of its rows are the "train" part
    pair = data.arrays[0] if whole else dict(zip(("train", "val", "test"), data.arrays))[split]
    if pair is None or len(pair[0]) == 0:
        raise ConfigError(f"the {split} split is empty (data.{'val' if split == 'val' else 'test'}_fraction = 0?)")
    loader = DataLoader(build.eval_dataset(cfg, pair), batch_size=cfg["data"]["eval_batch_size"])
    info = loaded.preprocess.info
    trainer = Trainer(loaded.model, build.build_loss(cfg, info), SGD(loaded.model.parameters(), lr=0.0),
                      metrics=build.build_metrics(cfg, info))
    family = generative.family_of(cfg["model"])
    if args.iwae is not None and (args.iwae < 1 or family is None):
        raise ConfigError(f"--iwae must be a positive integer, got {args.iwae}" if args.iwae < 1 else
                          "--iwae: the importance-weighted log-likelihood is for VAE runs")
    backend.manual_seed(0)  # a VAE's loss samples z: the same numbers every time
    metrics = trainer.evaluate(loader)
    if family is not None:
        metrics.update(family.evaluate_extra(loaded.model, pair[0], pair[1], args.iwae, seed=0))
    if info["task"] == "language_model":
        from ..lm import per_char_summary
        metrics = per_char_summary(metrics)
    from ...uncertainty import DeepEnsemble
    if isinstance(loaded.model, DeepEnsemble):  # an ensemble run: its NLL, each member's, their disagreement
        from .train import ensemble_metrics
        metrics.update(ensemble_metrics(loaded.model, pair[0], pair[1], info["task"]))
    attack = _attack(args, space, pair) if space is not None else None
    if attack is not None:
        metrics.update(clean_accuracy=attack["clean_accuracy"], robust_accuracy=attack["robust_accuracy"])
    result = {"run": loaded.run_dir, "checkpoint": loaded.checkpoint,
              "data": args.data if whole else cfg["data"]["name"], "split": split, "num_samples": len(pair[0]),
              "metrics": metrics}
    if attack is not None:
        result["attack"] = attack
    if args.json:
        print(rundir.dumps_json(result))
    else:
        what = "the whole file" if whole else f"{split} split"
        print(f"{result['data']}, {what} ({len(pair[0])} samples), weights {loaded.checkpoint}")
        if attack is not None:
            steps = f", {attack['steps']} steps" if attack["attack"] == "pgd" else ""
            print(f"attack: {attack['attack']} ({attack['norm']}, eps {attack['eps']:g}{steps}) on {attack['space']}")
        width = max(len(k) for k in metrics)
        for k, v in metrics.items():
            print(f"  {k:<{width}}  {float(v):.6f}" if np.ndim(v) == 0 else f"  {k:<{width}}  {np.asarray(v).tolist()}")
    return 0


def _check_attack(args) -> None:
    if args.attack is None:
        extra = [f for f, v in (("--eps", args.eps), ("--steps", args.steps)) if v is not None]
        if extra:
            raise ConfigError(f"{extra[0]} is an option of --attack pgd|fgsm")
        return
    if args.eps is None:
        args.eps = 0.1
    if not args.eps >= 0 or args.eps == float("inf"):
        raise ConfigError(f"--eps must be a number >= 0, got {args.eps}")
    if args.steps is not None and (args.steps < 1 or args.attack == "fgsm"):
        raise ConfigError("--steps is for --attack pgd (fgsm takes one step)" if args.attack == "fgsm" else
                          f"--steps must be a positive integer, got {args.steps}")


def _attack(args, space, pair) -> dict:
    """Clean and robust accuracy of the run's model on ``pair`` under the attack of the arguments."""
    from ... import backend
    from ...robust import robust_accuracy
    kw = {"norm": args.norm, "clamp": space.clamp}
    if args.attack == "pgd":
        kw.update(steps=args.steps or 10, generator=backend.Generator().manual_seed(0))
    res = robust_accuracy(space, space.to_raw(np.ascontiguousarray(pair[0])), np.asarray(pair[1]), eps=args.eps,
                          attack=args.attack, **kw)
    where = ("inputs scaled to [0, 1], before standardisation" if space.clamp is not None else
             "the raw input features (unbounded), before standardisation")
    return {**res, "norm": args.norm, "steps": kw.get("steps", 1), "space": where}
