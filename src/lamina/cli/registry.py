"""Names a config may use, and the classes or factories they stand for.

Every table of the config that names a thing (``[model] name``, ``[optimizer] name``, a layer's
``type``, ...) is looked up here; its other keys are checked against that thing's signature,
so a typo names the closest valid argument before any work starts.
"""
from __future__ import annotations

import functools
import inspect

from .errors import ConfigError, closest, unknown_name

__all__ = ["CALLBACK_FILLED", "DATASETS", "FILE_DATASETS", "RAW_INPUT", "callbacks", "check_kwargs", "layer_types",
           "losses", "lookup", "models", "optimizers", "schedulers", "transforms"]

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "mnist1d", "image_folder", "csv", "npy")
# datasets read from the user's own files: their arrays are raw input, as `predict` reads them
FILE_DATASETS = ("csv", "npy")
# What a raw input of each dataset looks like, and the dataset loader's own scaling (its arrays are
# raw / divide_by). A run saves this in its preprocessing, so `predict` and `evaluate` take raw input.
RAW_INPUT = {
    "digits": (16.0, "pixel intensities 0..16 of an 8x8 digit, as sklearn.datasets.load_digits().data holds them"),
    "mnist": (255.0, "grayscale pixels 0..255 of a 28x28 image, as in the MNIST IDX files"),
    "fashion_mnist": (255.0, "grayscale pixels 0..255 of a 28x28 image, as in the Fashion-MNIST IDX files"),
    "cifar10": (255.0, "RGB pixels 0..255 of a 3x32x32 image (channel-major), as in the CIFAR-10 binary files"),
    "image_folder": (255.0, "pixels 0..255 of an image of the run's size (channel-major)"),
    "mnist1d": (1.0, "signal values, as lamina.data.datasets.load_mnist1d gives them"),
    "csv": (1.0, "the feature columns of the training CSV, unscaled (a column named like data.target is dropped)"),
    "npy": (1.0, "features like the training .npy/.npz, unscaled"),
}
# Callback arguments the CLI fills in from the run directory (not settable in the config).
CALLBACK_FILLED = ("dirpath", "filename", "log_dir", "logdir", "first_epoch")


def lookup(table: dict, name, where: str, kind: str):
    """``table[name]`` (case-insensitive, '-' as '_'), or a ConfigError naming the closest valid name."""
    if not isinstance(name, str):
        raise ConfigError(f"{where} must be a string naming a {kind}, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    for k, v in table.items():
        if k.lower() == key:
            return v
    raise unknown_name(where, kind, name, table)


def check_kwargs(fn, kwargs: dict, where: str, skip: tuple = (), auto: tuple = ()) -> None:
    """Every key of ``kwargs`` must be a keyword argument of ``fn`` (unless ``fn`` takes ``**kwargs``),
    and every required argument must be there (except ``skip`` and ``auto``: the CLI fills those)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    named = [(n, p) for n, p in params.items() if n not in skip and n != "self"
             and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    valid = [n for n, _ in named]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        for key in kwargs:
            if key not in valid:
                near = closest(key, valid)
                hint = f"; did you mean {near!r}?" if near else ""
                raise ConfigError(f"{where}: unknown key {key!r}{hint} (valid: {', '.join(sorted(valid)) or 'none'})")
    missing = [n for n, p in named if p.default is inspect.Parameter.empty and n not in kwargs and n not in auto]
    if missing:
        raise ConfigError(f"{where}: missing required key {missing[0]!r} (valid: {', '.join(sorted(valid))})")


def accepts(fn, name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


@functools.lru_cache(maxsize=None)
def optimizers() -> dict:
    from .. import optim
    return {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
            "adagrad": optim.Adagrad}


@functools.lru_cache(maxsize=None)
def schedulers() -> dict:
    from ..optim import lr_scheduler as S
    return {"step": S.StepLR, "multistep": S.MultiStepLR, "exponential": S.ExponentialLR,
            "cosine": S.CosineAnnealingLR, "cosine_warm_restarts": S.CosineAnnealingWarmRestarts,
            "onecycle": S.OneCycleLR, "linear": S.LinearLR, "constant": S.ConstantLR, "polynomial": S.PolynomialLR}


@functools.lru_cache(maxsize=None)
def losses() -> dict:
    from .. import nn
    return {"cross_entropy": nn.CrossEntropyLoss, "nll": nn.NLLLoss, "mse": nn.MSELoss, "l1": nn.L1Loss,
            "smooth_l1": nn.SmoothL1Loss, "huber": nn.HuberLoss, "bce": nn.BCELoss,
            "bce_with_logits": nn.BCEWithLogitsLoss}


@functools.lru_cache(maxsize=None)
def layer_types() -> dict:
    """Every layer class of ``lamina.nn`` and its ``layers`` package (losses and containers left out)."""
    import importlib
    import pkgutil

    from .. import nn
    from ..nn import layers
    skip = {"Module", "Sequential", "ModuleList", "ModuleDict", "Parameter", "CosineSimilarity", "RNNBase",
            "RNNCellBase"}
    spaces = [nn] + [importlib.import_module(f"{layers.__name__}.{m.name}")
                     for m in pkgutil.iter_modules(layers.__path__) if not m.name.startswith("_")]
    out = {}
    for space in spaces:
        for name, obj in vars(space).items():
            if (isinstance(obj, type) and issubclass(obj, nn.Module) and name not in skip
                    and not name.startswith("_") and not name.endswith("Loss")):
                out[name] = obj
    return out


@functools.lru_cache(maxsize=None)
def transforms() -> dict:
    """Batched image transforms usable as ``[[transforms]]`` entries (training data only)."""
    from ..data import vision_transforms as V
    return {name: getattr(V, name) for name in ("RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
                                                  "RandomAffine", "RandomErasing", "GaussianNoise", "Normalize",
                                                  "CenterCrop") if hasattr(V, name)}


def models() -> dict:
    """The model zoo (``lamina.models``): name -> the keyword arguments ``create_model(name, ...)`` takes
    (with their defaults). Empty when the zoo isn't available."""
    try:
        from .. import models as zoo
        return {n: zoo.model_config(n) for n in zoo.list_models()}
    except (ImportError, AttributeError):
        return {}


def check_model_kwargs(name: str, keys: dict, kwargs: dict, where: str) -> None:
    """Every option of a zoo model must be one of its constructor's keys."""
    valid = sorted(keys)
    for key in kwargs:
        if key not in keys:
            near = closest(key, valid)
            hint = f"; did you mean {near!r}?" if near else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint} (valid: {', '.join(valid) or 'none'})")


def callbacks() -> dict:
    """Callback name in ``[callbacks]`` -> class (``lamina.train.callbacks``)."""
    try:
        from ..train import callbacks as C
    except ImportError:
        return {}
    want = {"early_stopping": "EarlyStopping", "checkpoint": "ModelCheckpoint",
            "reduce_lr_on_plateau": "ReduceLROnPlateau", "csv_logger": "CSVLogger", "tensorboard": "TensorBoard",
            "progress": "ProgressBar"}
    return {k: getattr(C, v) for k, v in want.items() if hasattr(C, v)}
