"""Data for the command line: a validated ``[data]`` table -> NumPy arrays -> train/val/test splits.

Every data set ends up as arrays in memory (features float32, labels int64 or float32 targets):
the DataLoader then batches them with one fancy index per batch. Splits: digits, csv, npy
and image_folder are split train/val/test with ``data.seed`` (stratified for classification);
mnist, fashion_mnist, cifar10 and mnist1d keep their official test set and take the
validation part out of the training set.

The user's own files (csv, npy) are read by ``lamina.cli.readers``, the same reader that
``evaluate`` and ``predict`` use, so a file gives the same rows to every command; NaN or
infinite features are refused there. What the trained model expects of an input (the
dataset's scaling, the input shape, standardisation, image mode and size, class names) is the
run's :class:`~lamina.cli.pipeline.Preprocess`, saved beside the checkpoints.
"""
from __future__ import annotations

import numpy as np

from .errors import ConfigError, one_line
from .pipeline import Preprocess
from .readers import check_finite, load_images, read_arrays, read_table, to_float
from .registry import FILE_DATASETS, RAW_INPUT

__all__ = ["Preprocess", "labels", "load_arrays", "run_labels", "split_arrays"]

# image mode and size of the data sets that are images (for ``lamina predict`` on image files)
_IMAGES = {"digits": ("L", [8, 8]), "mnist": ("L", [28, 28]), "fashion_mnist": ("L", [28, 28]),
           "cifar10": ("RGB", [32, 32])}
TRAINING_DATA = " (training data must be finite: fix or drop that row)"


# ---------------------------------------------------------------- the user's files
def _csv(d: dict, where: str, allow_nonfinite: bool, hint: str):
    table = read_table(d["path"], d.get("delimiter", ","), d.get("header", "auto"), where=where)
    if table.cells.shape[1] < 2:
        raise ConfigError(f"{where}: {d['path']} needs at least one feature column and a target column")
    col = table.column(d.get("target", -1), "data.target", d["path"])
    x = to_float(table.drop(col), d["path"], where, allow_nonfinite, hint)
    return x, table.cells[:, col], None


def _npy(d: dict, where: str, allow_nonfinite: bool, hint: str):
    path = d["path"]
    if path.lower().endswith(".npz"):
        x, y = read_arrays(path, where, need_y=True)
    else:
        x, _ = read_arrays(path, where)
        if "targets_path" not in d:
            raise ConfigError("data.targets_path is required when data.path is a .npy file of features "
                              "(or give an .npz file with arrays x and y)")
        y, _ = read_arrays(d["targets_path"], "data.targets_path")
        if len(y) != len(x):
            raise ConfigError(f"data: {len(x)} feature rows in {path} but {len(y)} targets in {d['targets_path']}")
    if not allow_nonfinite:
        check_finite(x, path, where, hint)
    return x.astype(np.float32), y, None


# ---------------------------------------------------------------- labels
def labels(y: np.ndarray, task: str, classes):
    """Targets as int64 class indices (classification, with class names) or float32 (regression)."""
    if task == "regression":
        try:
            y = np.asarray(y).astype(np.float32)
        except ValueError:
            raise ConfigError("data: regression targets must be numbers") from None
        if not np.isfinite(y).all():
            raise ConfigError("data: regression targets must be finite numbers (found NaN or infinity)")
        return (y[:, None] if y.ndim == 1 else y), None
    y = np.asarray(y)
    if classes is not None:
        return y.astype(np.int64), list(classes)
    if y.dtype.kind in "US":
        try:
            num = y.astype(np.float64)
        except ValueError:
            names, idx = np.unique(y, return_inverse=True)
            return idx.astype(np.int64), [str(n) for n in names]
        y = num
    if y.dtype.kind == "f" and not (np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0)):
        raise ConfigError("data: classification targets must be whole numbers or class names; set "
                          "data.task = \"regression\" for real-valued targets")
    if y.dtype.kind not in "fiub":
        raise ConfigError(f"data: classification targets must be whole numbers or class names, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ConfigError(f"data: class labels must be >= 0, found {int(y.min())}")
    return y, None


def run_labels(y: np.ndarray, info: dict, path: str) -> np.ndarray:
    """Labels of data evaluated by a trained run: class names map to the run's indices, integers
    must be below its number of classes (so a file holding some classes is scored correctly)."""
    if info.get("task") != "classification":
        return labels(y, "regression", None)[0]
    classes, n = info.get("classes"), int(info.get("num_classes") or 0)
    y = np.asarray(y)
    if classes:
        index = {str(c): i for i, c in enumerate(classes)}
        text = y.astype(str)
        if np.isin(text, list(index)).all():
            return np.asarray([index[t] for t in text.tolist()], dtype=np.int64)
    try:
        out = labels(y, "classification", None)
    except ConfigError as e:
        hint = f" (the run's classes: {', '.join(map(str, classes))})" if classes else ""
        raise ConfigError(f"{path}: {one_line(e)}{hint}") from None
    if out[1] is not None:  # names that are not the run's classes
        bad = next(str(v) for v in y.astype(str) if not classes or str(v) not in classes)
        have = f"the run's classes: {', '.join(map(str, classes))}" if classes else f"labels 0..{n - 1}"
        raise ConfigError(f"{path}: label {bad!r} is not one of the run's classes ({have})")
    idx = out[0]
    if idx.size and n and idx.max() >= n:
        raise ConfigError(f"{path}: label {int(idx.max())} is out of range for the run's {n} classes (0..{n - 1})")
    return idx


# ---------------------------------------------------------------- the data sets
def _numpy(t):
    return np.asarray(getattr(t, "array", t))


def load_arrays(d: dict, run_info: dict | None = None, allow_nonfinite: bool = False,
                hint: str = TRAINING_DATA) -> dict:
    """``{'train': (x, y), 'test': (x, y) or None, 'classes': names or None, 'image': (mode, size) or None,
    'raw': bool}``. ``raw``: the arrays are raw input (the user's csv/npy files), not yet divided by
    the dataset's scaling. ``run_info``: a trained run's preprocessing info, whose classes the labels
    are read as (evaluating a run on data).

    Raises ConfigError for anything wrong with the data files.
    """
    name = d["name"]
    try:
        return _load(d, name, run_info, allow_nonfinite, hint)
    except ConfigError:
        raise
    except (ImportError, OSError, ValueError, KeyError, EOFError) as e:
        raise ConfigError(f"data ({name}): {one_line(e)}") from None


def _load(d: dict, name: str, run_info, allow_nonfinite: bool, hint: str) -> dict:
    from ..data import datasets as D
    test, classes, image = None, None, _IMAGES.get(name)
    if name == "digits":
        x, y = D.load_digits(as_numpy=True)   # pixel intensities 0..16, divided by 16
        x = x.reshape(-1, 1, 8, 8)
    elif name in ("mnist", "fashion_mnist"):
        kind = "mnist" if name == "mnist" else "fashion"
        tr = D.MNIST(d["root"], train=True, download=d["download"], kind=kind)
        te = D.MNIST(d["root"], train=False, download=d["download"], kind=kind)
        x, y = (_numpy(t) for t in tr.tensors)
        test = tuple(_numpy(t) for t in te.tensors)
        classes = getattr(tr, "classes", None)
    elif name == "cifar10":
        tr = D.CIFAR10(d["root"], train=True, download=d["download"])
        te = D.CIFAR10(d["root"], train=False, download=d["download"])
        x, y = (_numpy(t) for t in tr.tensors)
        test = tuple(_numpy(t) for t in te.tensors)
        classes = getattr(tr, "classes", None)
    elif name == "mnist1d":
        (x, y), test = D.load_mnist1d(n_samples=d["n_samples"], as_numpy=True)  # the published seed (42)
        x, test = x[:, None, :], (test[0][:, None, :], test[1])
    elif name == "image_folder":
        folder = D.ImageFolder(d["root"], mode=d["mode"])
        x = load_images([p for p, _ in folder.samples], d["mode"], d.get("image_size"), where="data.root")
        y, classes = np.asarray(folder.targets, dtype=np.int64), folder.classes
        if run_info is not None:  # scored by a trained run: its classes are matched by the folders' names
            y = np.asarray(folder.classes)[y]
        image = (d["mode"], list(x.shape[2:]))
    elif name == "csv":
        x, y, classes = _csv(d, "data.path", allow_nonfinite, hint)
    else:
        x, y, classes = _npy(d, "data.path", allow_nonfinite, hint)
    if len(x) == 0:
        raise ConfigError(f"data ({name}): no samples")
    where = d.get("path", name)
    if run_info is not None:
        y = run_labels(y, run_info, where)
        test = None if test is None else (test[0], run_labels(test[1], run_info, where))
        classes = run_info.get("classes")
    else:
        y, found = labels(y, d["task"], classes)
        classes = classes if classes is not None else found
        test = None if test is None else (test[0], labels(test[1], d["task"], classes)[0])
    if not d["as_images"] and x.ndim > 2:  # flat features unless images were asked for
        x = x.reshape(len(x), -1)
        test = None if test is None else (test[0].reshape(len(test[0]), -1), test[1])
    return {"train": (x, y), "test": test, "classes": classes, "image": image, "raw": name in FILE_DATASETS,
            "divide_by": RAW_INPUT[name][0]}


def split_arrays(d: dict, arrays: dict) -> tuple:
    """``(train, val, test)`` pairs of arrays (val/test None when empty)."""
    from ..data import train_val_test_split
    x, y = arrays["train"]
    strat = y if d.get("stratify", True) and d.get("task", "classification") == "classification" else None
    test_frac = 0.0 if arrays["test"] is not None else d["test_fraction"]
    try:
        parts = train_val_test_split((x, y), val_fraction=d["val_fraction"], test_fraction=test_frac,
                                     seed=d.get("seed", 0), stratify=strat)
    except ValueError as e:
        raise ConfigError(f"data: cannot split {len(x)} samples: {one_line(e)}") from None
    train, val, test = (tuple(np.asarray(t.array) for t in p.tensors) for p in parts)
    if arrays["test"] is not None:
        test = arrays["test"]
    if d.get("limit"):
        train = (train[0][:d["limit"]], train[1][:d["limit"]])
    return train, (val if len(val[0]) else None), (test if len(test[0]) else None)
