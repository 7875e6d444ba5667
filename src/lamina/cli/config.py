"""The TOML run config: its schema, ``--set`` overrides, and validation before any work starts.

A config is a handful of tables (see ``configs/*.toml``)::

    [model]      name = "mlp" + the model's options, or layers = [{type = "Linear", ...}, ...]
    [data]       name = "digits" (required: there is no default dataset), batch_size, val_fraction,
                 test_fraction, standardize, ...; csv files: path, target, delimiter,
                 header = true | false | "auto" (default: a first row that isn't numbers is a header)
    [[transforms]] type = "RandomCrop", size = 28, padding = 2      (training data only)
    [optimizer]  name = "adamw", lr = 1e-3 + the optimizer's options
                 lr_scale = {"bert.*" = 0.02}: parameters whose names match get lr * factor
    [scheduler]  name = "cosine", interval = "step" + the scheduler's options
    [loss]       name = "cross_entropy" + the loss's options
    [train]      epochs, grad_accum_steps, clip_grad_norm, nonfinite, seed, qat_epochs, ...
    [callbacks]  early_stopping = {patience = 5}, tensorboard = true, ...
    [metrics]    names = ["accuracy", "f1"]
    [run]        name, dir

Text data (``lamina.cli.text_data``) has its own [data] keys:

    name = "char_lm"               character-level language modelling (model: gpt; vocab_size and
                                   block_size come from the data); path (UTF-8 text; default: the
                                   docstrings of Python's standard library), block_size, stride,
                                   max_chars, vocab = "text" | "ascii"
    name = "text_classification"   texts and labels (model: bert_classifier); path (CSV; default: the
                                   built-in topic sentences), text_column, label_column, delimiter,
                                   header (default "auto": a header row), tokenizer = "minilm" |
                                   a tokenizer.json, max_length

``validate(cfg)`` checks every key against this schema (fixed tables) or against the
signature of the class a ``name``/``type`` picks (model, layers, optimizer, ...). Any mistake
raises one ConfigError line naming the key, what is allowed and, for a typo, the closest
valid name. It returns the resolved config: defaults filled in, ready to write to the run
directory.
"""
from __future__ import annotations

import copy
import math
import os

from . import generative, registry, tomlio
from .errors import ConfigError, closest, unknown_name

__all__ = ["Field", "SCHEMA", "apply_overrides", "load_config", "validate"]

_NO_DEFAULT = object()


class Field:
    """One key of a fixed table: its kind, allowed range or choices, and default."""

    def __init__(self, kind: str, default=_NO_DEFAULT, *, lo=None, hi=None, lo_open=False, hi_open=False,
                 choices=None, optional=False):
        self.kind, self.default = kind, default
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.choices, self.optional = choices, optional

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = {"int": "integer", "float": "number", "bool": "boolean (true or false)", "str": "string",
                "str_list": "list of strings", "size": "positive integer or a list [height, width]",
                "column": "column name (string) or index (integer)",
                "header": "boolean (true or false) or \"auto\" (a first row that isn't numbers is a header)"}[self.kind]
        if self.kind in ("int", "float"):
            if self.lo == 0 and self.hi is None:
                return f"a {'positive' if self.lo_open else 'non-negative'} {noun}"
            if self.lo is not None and self.hi is not None:
                lb, rb = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
                return f"a {noun} in {lb}{self.lo}, {self.hi}{rb}"
            if self.lo is not None:
                return f"a {noun} {'>' if self.lo_open else '>='} {self.lo}"
        return ("an " if noun[0] in "aeiou" else "a ") + noun

    def check(self, value, where: str):
        bad = ConfigError(f"{where} must be {self.describe()}, got {value!r}")
        k = self.kind
        if self.choices:
            if value not in self.choices:
                near = closest(value, self.choices) if isinstance(value, str) else None
                hint = f" (did you mean {near!r}?)" if near else ""
                raise ConfigError(f"{where} must be {self.describe()}, got {value!r}{hint}")
            return value
        if k == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if k == "header":
            if not isinstance(value, bool) and value != "auto":
                raise bad
            return value
        if k == "str":
            if not isinstance(value, str):
                raise bad
            return value
        if k == "str_list":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad
            return value
        if k == "column":
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise bad
            return value
        if k == "size":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return [value, value]
            if (isinstance(value, list) and len(value) == 2
                    and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
                return value
            raise bad
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if k == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad
                value = int(value)
        else:
            value = float(value)
            if math.isnan(value):
                raise bad
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            raise bad
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            raise bad
        return value


def _pos_int(default=_NO_DEFAULT, **kw):
    return Field("int", default, lo=0, lo_open=True, **kw)


def _nonneg_int(default=_NO_DEFAULT, **kw):
    return Field("int", default, lo=0, **kw)


def _fraction(default):
    return Field("float", default, lo=0, hi=1, hi_open=True)


SCHEMA = {
    "run": {"name": Field("str", optional=True), "dir": Field("str", "runs")},
    "data": {
        "name": Field("str"), "root": Field("str", "data"), "path": Field("str", optional=True),
        "targets_path": Field("str", optional=True), "target": Field("column", -1),
        "download": Field("bool", False), "as_images": Field("bool", False),
        "val_fraction": _fraction(0.1), "test_fraction": _fraction(0.2), "seed": _nonneg_int(0),
        "batch_size": _pos_int(64), "eval_batch_size": _pos_int(512), "shuffle": Field("bool", True),
        "drop_last": Field("bool", False), "standardize": Field("bool", False), "stratify": Field("bool", True),
        "task": Field("str", "classification", choices=("classification", "regression")),
        "n_samples": _pos_int(5000), "image_size": Field("size", optional=True),
        "mode": Field("str", "RGB", choices=("RGB", "L")), "delimiter": Field("str", ","),
        "header": Field("header", "auto"), "limit": _pos_int(optional=True),
        # text: char_lm (character-level language modelling) and text_classification
        "block_size": _pos_int(128), "stride": _pos_int(optional=True), "max_chars": _pos_int(optional=True),
        "vocab": Field("str", "text", choices=("text", "ascii")),
        "text_column": Field("column", "text"), "label_column": Field("column", "label"),
        "max_length": _pos_int(128), "tokenizer": Field("str", "minilm"),
    },
    "train": {
        "epochs": _pos_int(10), "grad_accum_steps": _pos_int(1),
        "clip_grad_norm": Field("float", optional=True, lo=0, lo_open=True),
        "nonfinite": Field("str", "raise", choices=("raise", "skip")),
        "seed": _nonneg_int(0), "checkpoint_every_n_steps": _nonneg_int(0), "device": Field("str", "cpu"),
        "log_every": _pos_int(10),
        "final_weights": Field("str", "best", choices=("best", "last")),
        # quantization-aware training (int8 fake quantization) for the last qat_epochs epochs
        "qat_epochs": _nonneg_int(optional=True),
    },
    "metrics": {"names": Field("str_list", ["accuracy"])},
    # adversarial training (lamina.robust.AdversarialBatchFn): every training batch is attacked with
    # PGD/FGSM; eps is measured on the inputs as the dataset scales them (images in [0, 1]), before
    # standardisation. clamp = [low, high] is checked by _adversarial.
    "adversarial": {"eps": Field("float", lo=0), "attack": Field("str", "pgd", choices=("pgd", "fgsm")),
                    "steps": _pos_int(7), "alpha": Field("float", optional=True, lo=0, lo_open=True),
                    "norm": Field("str", "linf", choices=("linf", "l2")), "random_start": Field("bool", True),
                    "mix": Field("bool", False)},
}
# [data] keys every array dataset uses, and those only some datasets use
DATA_COMMON = ("name", "as_images", "val_fraction", "test_fraction", "seed", "batch_size", "eval_batch_size",
               "shuffle", "drop_last", "standardize", "stratify", "task", "limit")
DATA_KEYS = {"digits": (), "mnist": ("root", "download"), "fashion_mnist": ("root", "download"),
             "cifar10": ("root", "download"), "mnist1d": ("n_samples",), "image_folder": ("root", "image_size", "mode"),
             "csv": ("path", "target", "delimiter", "header"), "npy": ("path", "targets_path"),
             "char_lm": ("path", "block_size", "stride", "max_chars", "vocab"),
             "text_classification": ("path", "text_column", "label_column", "max_length", "tokenizer", "delimiter",
                                     "header", "stratify", "seed")}
# the text datasets hold token ids: no standardisation, images or regression; their own keys instead
TEXT_DATASETS = ("char_lm", "text_classification")
TEXT_COMMON = ("name", "val_fraction", "test_fraction", "batch_size", "eval_batch_size", "shuffle", "drop_last",
               "limit")
LM_TASK = "language_model"  # the task of char_lm data: (B, T) ids -> (B, T, vocab) next-token logits


def data_keys(name: str) -> set:
    """The [data] keys the dataset ``name`` uses."""
    return set(TEXT_COMMON if name in TEXT_DATASETS else DATA_COMMON) | set(DATA_KEYS[name])


def data_task(data: dict) -> str:
    """'classification', 'regression' or 'language_model' for a validated [data] table."""
    return LM_TASK if data["name"] == "char_lm" else data.get("task", "classification")
NAMED = {  # tables whose keys are a name plus the named class's own arguments
    "model": None, "optimizer": ("adam", registry.optimizers, "optimizer"),
    "scheduler": (None, registry.schedulers, "scheduler"), "loss": ("cross_entropy", registry.losses, "loss"),
}
SECTIONS = sorted(list(SCHEMA) + list(NAMED) + ["callbacks", "transforms"])
SCHEDULER_INTERVALS = ("epoch", "step")
# Arguments the CLI fills in itself: never asked of the user.
_OPTIMIZER_SKIP = ("params",)
_SCHEDULER_SKIP = ("optimizer", "last_epoch", "lr_lambda", "schedulers")
_AUTO = ("T_max", "total_steps", "max_lr")  # filled in from the epochs and the optimizer's lr


# ---------------------------------------------------------------- loading and overrides
def load_config(path) -> dict:
    """Parse the TOML file at ``path``; a missing file or bad TOML is a ConfigError."""
    path = os.fspath(path)
    if os.path.isdir(path):
        cand = os.path.join(path, "config.toml")
        if not os.path.isfile(cand):
            raise ConfigError(f"{path} is a directory without a config.toml")
        path = cand
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    try:
        return tomlio.loads(text)
    except tomlio.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def apply_overrides(cfg: dict, overrides) -> dict:
    """A copy of ``cfg`` with each ``'a.b.c=value'`` set (the value parsed as TOML, bare words as strings)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not key or not all(p.strip() for p in parts):
            raise ConfigError(f"--set expects KEY=VALUE with a dotted key such as train.epochs=5, got {item!r}")
        try:
            value = tomlio.parse_value(text)
        except tomlio.TOMLDecodeError as e:
            raise ConfigError(f"--set {key}: {text.strip()!r} is not a valid TOML value ({e})") from None
        node = cfg
        for i, p in enumerate(parts[:-1]):
            p = p.strip()
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {'.'.join(parts[:i + 1])} is not a table")
        node[parts[-1].strip()] = value
    return cfg


# ---------------------------------------------------------------- validation
def _table(cfg: dict, name: str) -> dict:
    value = cfg.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table, got {value!r}")
    return value


def _fixed(section: str, table: dict, schema: dict | None = None) -> dict:
    """``table`` checked against ``schema[section]`` (lamina train's SCHEMA by default), defaults filled in."""
    fields = (SCHEMA if schema is None else schema)[section]
    out = {}
    for key, value in table.items():
        if key not in fields:
            near = closest(key, fields)
            hint = f"; did you mean {section}.{near}?" if near else ""
            raise ConfigError(f"{section}: unknown key {key!r}{hint} (valid: {', '.join(sorted(fields))})")
        out[key] = fields[key].check(value, f"{section}.{key}")
    for key, f in fields.items():
        if key not in out and f.default is not _NO_DEFAULT:
            out[key] = copy.deepcopy(f.default)
    return out


def _named(section: str, table: dict) -> dict:
    default, table_fn, kind = NAMED[section]
    out = dict(table)
    if "name" not in out:
        if default is None:
            raise ConfigError(f"[{section}] needs a name (valid: {', '.join(sorted(table_fn()))})")
        out["name"] = default
    if section == "scheduler":
        default = "step" if str(out["name"]).lower() == "onecycle" else "epoch"  # 1cycle is a per-batch policy
        out["interval"] = Field("str", choices=SCHEDULER_INTERVALS).check(
            out.get("interval", default), "scheduler.interval")
    cls = registry.lookup(table_fn(), out["name"], f"{section}.name", kind)
    kwargs = {k: v for k, v in out.items() if k not in ("name", "interval", "lr_scale")}
    if section == "optimizer" and "lr_scale" in out:
        out["lr_scale"] = _lr_scale(out["lr_scale"])
    skip = _OPTIMIZER_SKIP if section == "optimizer" else _SCHEDULER_SKIP
    registry.check_kwargs(cls, kwargs, section, skip=skip, auto=_AUTO)
    if section == "optimizer":
        out.setdefault("lr", 1e-3)
        lr = out["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or math.isinf(lr):
            raise ConfigError(f"optimizer.lr must be a positive number, got {lr!r}")
        _dry_optimizer(cls, kwargs)
    return out


def _lr_scale(value) -> dict:
    """``optimizer.lr_scale``: {"<parameter name pattern>" = factor}; each factor a positive number."""
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"optimizer.lr_scale must be a table of parameter-name patterns and factors, such as "
                          f"{{\"bert.*\" = 0.02}}, got {value!r}")
    for pattern, factor in value.items():
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0 or math.isinf(factor):
            raise ConfigError(f"optimizer.lr_scale[{pattern!r}] must be a positive number, got {factor!r}")
    return {str(k): float(v) for k, v in value.items()}


def _dry_optimizer(cls, kwargs: dict) -> None:
    """Let the optimizer check its own arguments (betas, momentum, ...) on a one-element parameter."""
    from ..nn import Parameter
    from ..ops.creation import zeros
    try:
        cls([Parameter(zeros(1))], **kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"optimizer: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _model(table: dict) -> dict:
    if "ensemble" in table:  # a deep ensemble of that model (lamina train --ensemble K writes it)
        k = table["ensemble"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ConfigError(f"model.ensemble must be an integer >= 2 (the number of members), got {k!r}")
        return {**_model({n: v for n, v in table.items() if n != "ensemble"}), "ensemble": k}
    has_name, has_layers = "name" in table, "layers" in table
    if has_name == has_layers:
        raise ConfigError("[model] needs either name = \"<zoo model>\" or layers = [...], "
                          + ("not both" if has_name else "and has neither"))
    if has_name:
        zoo = registry.models()
        if not zoo:
            raise ConfigError("model.name: the model zoo (lamina.models) is not available; use layers = [...]")
        keys = registry.lookup(zoo, table["name"], "model.name", "model")
        registry.check_model_kwargs(table["name"], keys, {k: v for k, v in table.items() if k != "name"},
                                    f"model ({table['name']})")
        return dict(table)
    extra = [k for k in table if k != "layers"]
    if extra:
        raise ConfigError(f"model: unknown key {extra[0]!r} next to layers (a layers model takes only layers = [...])")
    layers = table["layers"]
    if not isinstance(layers, list) or not layers:
        raise ConfigError(f"model.layers must be a non-empty list of tables such as {{type = \"ReLU\"}}, "
                          f"got {layers!r}")
    types = registry.layer_types()
    for i, spec in enumerate(layers):
        where = f"model.layers[{i}]"
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError(f"{where} must be a table with a type, such as {{type = \"Linear\", in_features = 64, "
                              f"out_features = 10}}, got {spec!r}")
        cls = registry.lookup(types, spec["type"], f"{where}.type", "layer type")
        registry.check_kwargs(cls, {k: v for k, v in spec.items() if k != "type"}, f"{where} ({spec['type']})")
    return {"layers": [dict(s) for s in layers]}


def _transforms(value) -> list:
    if isinstance(value, dict):  # [transforms] train = [...]
        extra = [k for k in value if k != "train"]
        if extra:
            raise ConfigError(f"transforms: unknown key {extra[0]!r} (use [[transforms]] entries, "
                              "or [transforms] train = [...])")
        value = value.get("train", [])
    if not isinstance(value, list):
        raise ConfigError(f"transforms must be a list of tables such as {{type = \"RandomHorizontalFlip\"}}, "
                          f"got {value!r}")
    table = registry.transforms()
    for i, spec in enumerate(value):
        where = f"transforms[{i}]"
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError(f"{where} must be a table with a type, such as {{type = \"RandomHorizontalFlip\"}}, "
                              f"got {spec!r}")
        cls = registry.lookup(table, spec["type"], f"{where}.type", "transform")
        registry.check_kwargs(cls, {k: v for k, v in spec.items() if k != "type"}, f"{where} ({spec['type']})",
                              skip=("generator", "inplace"))
    return [dict(s) for s in value]


def _callbacks(table: dict) -> dict:
    known = registry.callbacks()
    out = {}
    for name, value in table.items():
        where = f"callbacks.{name}"
        if name in generative.CALLBACKS:  # sample_grid: generative runs only (checked in validate)
            out[name] = generative.sample_grid_options(value, where)
            continue
        if name not in known:
            raise unknown_name("callbacks", "callback", name, known or ("(the trainer is not available)",))
        if isinstance(value, bool):
            out[name] = {"enabled": value}
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be true/false or a table of its options, got {value!r}")
        opts = {k: v for k, v in value.items() if k != "enabled"}
        if "enabled" in value and not isinstance(value["enabled"], bool):
            raise ConfigError(f"{where}.enabled must be a boolean (true or false), got {value['enabled']!r}")
        registry.check_kwargs(known[name], opts, where, skip=registry.CALLBACK_FILLED)
        out[name] = {"enabled": value.get("enabled", True), **opts}
    return out


def _metrics(cfg: dict, task: str) -> dict:
    value = cfg.get("metrics", {})
    if isinstance(value, (list, str)):  # metrics = ["accuracy"] at the top level
        value = {"names": value}
    if not isinstance(value, dict):
        raise ConfigError(f"metrics must be a list of metric names, got {value!r}")
    if task == "regression" and "names" not in value:
        value = {**value, "names": ["mse", "mae"]}
    out = _fixed("metrics", value)
    from ..metrics import get_metric, metric_names
    from ..metrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score
    for i, name in enumerate(out["names"]):
        try:
            m = get_metric(name)
        except (ValueError, TypeError):
            raise unknown_name(f"metrics.names[{i}]", "metric", name, metric_names()) from None
        if task == LM_TASK and isinstance(m, (MeanSquaredError, MeanAbsoluteError, R2Score)):
            raise ConfigError(f"metrics.names[{i}]: {name!r} is a regression metric; a language model is scored per "
                              "character with classification metrics (accuracy, top5_accuracy, ...)")
    return out


def _check_files(data: dict) -> None:
    name = data["name"]
    if name in TEXT_DATASETS:
        if "path" in data and not os.path.isfile(data["path"]):
            what = "text file" if name == "char_lm" else "CSV file of texts and labels"
            raise ConfigError(f"data.path: {what} not found: {os.path.abspath(data['path'])}")
        tok = data.get("tokenizer", "minilm")
        if name == "text_classification" and tok.lower() != "minilm" and not os.path.exists(tok):
            raise ConfigError(f"data.tokenizer: file not found: {os.path.abspath(tok)} (give a tokenizer.json, a "
                              "directory holding one, or \"minilm\")")
        return
    if name in ("csv", "npy"):
        if "path" not in data:
            raise ConfigError(f"data.path is required for the {name} dataset (the {name} file of features)")
        paths = [("path", data["path"])] + ([("targets_path", data["targets_path"])] if "targets_path" in data else [])
        for key, p in paths:
            if not os.path.isfile(p):
                raise ConfigError(f"data.{key}: file not found: {os.path.abspath(p)}")
        if name == "npy" and data["path"].endswith(".npy") and "targets_path" not in data:
            raise ConfigError("data.targets_path is required when data.path is a .npy file of features "
                              "(or give an .npz file with arrays x and y)")
        return
    if name not in ("mnist", "fashion_mnist", "cifar10", "image_folder"):
        return
    root = data["root"]
    if name == "image_folder":
        if not os.path.isdir(root):
            raise ConfigError(f"data.root: image folder not found: {os.path.abspath(root)}")
        return
    if data["download"]:
        return
    if name in ("mnist", "fashion_mnist"):
        folder = "MNIST" if name == "mnist" else "FashionMNIST"
        first = "train-images-idx3-ubyte"
        places = [os.path.join(root, folder, "raw"), root]
        if not any(os.path.isfile(os.path.join(d, first + ext)) for d in places for ext in ("", ".gz")):
            raise ConfigError(f"data.root: {name} files not found: {os.path.abspath(os.path.join(places[0], first))}"
                              f"[.gz] (nor in {os.path.abspath(root)}); put the IDX files there or set "
                              "data.download = true")
    elif name == "cifar10":
        places = [os.path.join(root, "cifar-10-batches-bin"), root]
        if not any(os.path.isfile(os.path.join(d, "data_batch_1.bin")) for d in places):
            raise ConfigError(f"data.root: cifar10 files not found: "
                              f"{os.path.abspath(os.path.join(places[0], 'data_batch_1.bin'))}; extract "
                              "cifar-10-binary.tar.gz into data.root or set data.download = true")


def _data(table: dict) -> dict:
    if "name" not in table:
        raise ConfigError(f"[data] needs a name: the dataset to train on (valid: {', '.join(sorted(DATA_KEYS))})")
    data = _fixed("data", table)
    name = data["name"]
    if name not in DATA_KEYS:
        raise unknown_name("data.name", "dataset", name, DATA_KEYS)
    keep = data_keys(name)
    for key in table:
        if key not in keep:
            users = [n for n in DATA_KEYS if key in data_keys(n)]
            raise ConfigError(f"data.{key} is not used by the {name} dataset (it is for: {', '.join(users)})")
    out = {k: v for k, v in data.items() if k in keep}
    if name == "char_lm" and out.get("stride", 1) > out["block_size"]:
        raise ConfigError(f"data.stride ({out['stride']}) must be at most data.block_size ({out['block_size']}): "
                          "a larger stride skips characters")
    return out


def _adversarial(table: dict, task: str, data: dict) -> dict:
    """``[adversarial]``: PGD adversarial training of a classifier on continuous inputs."""
    clamp = table.get("clamp")
    out = _fixed("adversarial", {k: v for k, v in table.items() if k != "clamp"})
    if "eps" not in out:
        raise ConfigError("adversarial.eps is required: the attack budget (e.g. eps = 0.1 for inputs in [0, 1])")
    if clamp is not None:
        if (not isinstance(clamp, list) or len(clamp) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, float))
                                                                 for v in clamp) or not clamp[0] < clamp[1]):
            raise ConfigError(f"adversarial.clamp must be [low, high] with low < high, got {clamp!r}")
        out["clamp"] = [float(v) for v in clamp]
    if task != "classification" or data["name"] in TEXT_DATASETS:
        raise ConfigError("[adversarial] training attacks a classifier's continuous inputs (features or images); "
                          f"this run is {'a text run' if data['name'] in TEXT_DATASETS else task}")
    return out


def validate(cfg: dict, check_files: bool = True) -> dict:
    """Check ``cfg`` completely; return it resolved (defaults filled in). Raises ConfigError.

    ``check_files=False`` skips checking that the data files exist (predicting from a run)."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"a config must be a TOML table, got {type(cfg).__name__}")
    for key in cfg:
        if key not in SECTIONS:
            near = closest(key, SECTIONS)
            hint = f"; did you mean [{near}]?" if near else ""
            raise ConfigError(f"unknown section [{key}]{hint} (valid: {', '.join(SECTIONS)})")
    out = {"run": _fixed("run", _table(cfg, "run"))}
    if "model" not in cfg:
        raise ConfigError("[model] is missing: give name = \"<zoo model>\" or layers = [...]")
    out["model"] = _model(_table(cfg, "model"))
    if "data" not in cfg:
        raise ConfigError("[data] is missing: give name = \"<dataset>\" (e.g. [data] name = \"digits\"; "
                          f"valid: {', '.join(sorted(DATA_KEYS))})")
    data = _data(_table(cfg, "data"))
    if data["val_fraction"] + data["test_fraction"] >= 1:
        raise ConfigError(f"data.val_fraction + data.test_fraction must be below 1, got "
                          f"{data['val_fraction']} + {data['test_fraction']}")
    if check_files:
        _check_files(data)
    out["data"] = data
    out["transforms"] = _transforms(cfg.get("transforms", []))
    out["optimizer"] = _named("optimizer", _table(cfg, "optimizer"))
    if "scheduler" in cfg:
        out["scheduler"] = _named("scheduler", _table(cfg, "scheduler"))
    task = data_task(data)
    if data["name"] in TEXT_DATASETS and out["transforms"]:
        raise ConfigError(f"transforms: [[transforms]] augment images; the {data['name']} dataset holds text")
    loss = _table(cfg, "loss")
    family = generative.family_of(out["model"])
    if task == "regression" and "name" not in loss and family is None:
        loss = {"name": "mse", **loss}
    # a generative model's loss is its family's objective (elbo, reconstruction, ...)
    out["loss"] = family.validate_loss(loss, out["model"]) if family else _named("loss", loss)
    if task == LM_TASK and str(out["loss"]["name"]).lower() != "cross_entropy":
        raise ConfigError(f"loss.name: a language model (data.name = \"char_lm\") trains with cross_entropy over "
                          f"every position, got {out['loss']['name']!r}")
    out["train"] = _fixed("train", _table(cfg, "train"))
    if out["train"].get("qat_epochs", 0) > out["train"]["epochs"]:
        raise ConfigError(f"train.qat_epochs ({out['train']['qat_epochs']}) must not exceed train.epochs "
                          f"({out['train']['epochs']}): QAT fine-tunes the last epochs of the run")
    out["callbacks"] = _callbacks(_table(cfg, "callbacks"))
    if "adversarial" in cfg:
        out["adversarial"] = _adversarial(_table(cfg, "adversarial"), task, data)
    if family is None:
        out["metrics"] = _metrics(cfg, task)
        extra = [k for k in generative.CALLBACKS if k in out["callbacks"]]
        if extra:
            raise ConfigError(f"callbacks.{extra[0]} is for generative models (autoencoders, VAEs, ...), not "
                              f"{out['model'].get('name', 'a layers model')}")
    else:
        value = cfg.get("metrics", {})
        value = value.get("names") if isinstance(value, dict) else value
        out["metrics"] = family.validate_metrics(value)
        family.check_config(out)
    return out
