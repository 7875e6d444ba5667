"""Data for the command line: a validated ``[data]`` table -> NumPy arrays -> datasets and loaders.

Every data set ends up as arrays in memory (features float32, labels int64 or float32 targets):
the DataLoader then batches them with one fancy index per batch. Splits: digits, csv, npy
and image_folder are split train/val/test with ``data.seed`` (stratified for classification);
mnist, fashion_mnist, cifar10 and mnist1d keep their official test set and take the
validation part out of the training set.

The preprocessing a trained model expects (input shape, standardisation statistics, image
mode and size, class names) is a :class:`Preprocess`, saved beside the checkpoints so that
``lamina predict`` can apply it to new inputs.
"""
from __future__ import annotations

import os

import numpy as np

from ..data.transforms import Standardize
from .errors import ConfigError

__all__ = ["Preprocess", "load_arrays", "load_images", "read_table"]

# image mode and size of the data sets that are images (for ``lamina predict`` on image files)
_IMAGES = {"digits": ("L", [8, 8]), "mnist": ("L", [28, 28]), "fashion_mnist": ("L", [28, 28]),
           "cifar10": ("RGB", [32, 32])}


# ---------------------------------------------------------------- tables and images
def read_table(path: str, delimiter: str = ",", header: bool | None = None, where: str = "data.path"):
    """``(column names or None, rows as an array of str)`` of a CSV file."""
    try:
        raw = np.loadtxt(path, delimiter=delimiter, dtype=str, ndmin=2, comments=None)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{where}: cannot read {path} as a table separated by {delimiter!r}: "
                          f"{' '.join(str(e).split())}") from None
    if raw.size == 0:
        raise ConfigError(f"{where}: {path} is empty")
    raw = np.char.strip(raw)
    if header is None:  # guess: a first row that isn't numeric is a header
        try:
            raw[0].astype(np.float64)
            header = False
        except ValueError:
            header = True
    names = [str(c) for c in raw[0]] if header else None
    return names, raw[1:] if header else raw


def to_float(cells: np.ndarray, path: str, where: str) -> np.ndarray:
    try:
        return cells.astype(np.float32)
    except ValueError:
        bad = str(next(c for c in cells.ravel() if not _is_number(c)))
        raise ConfigError(f"{where}: {path} has a non-numeric value {bad!r} in a feature column") from None


def _is_number(s) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load_images(paths, mode: str, size) -> np.ndarray:
    """Decode image files with Pillow to ``(N, C, H, W)`` float32 in [0, 1], converted to ``mode``
    and resized to ``size = [height, width]`` (bilinear) when given."""
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError("reading image files needs Pillow: pip install lamina[vision]  (or: pip install pillow)") \
            from None
    out = []
    for p in paths:
        try:
            with Image.open(p) as img:
                img = img.convert(mode)
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.BILINEAR)
                arr = np.asarray(img, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as e:
            raise ConfigError(f"cannot decode image {p}: {' '.join(str(e).split())}") from None
        out.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    if len({a.shape for a in out}) > 1:
        raise ConfigError(f"images have different sizes ({sorted({a.shape for a in out})[:3]}...); set "
                          "data.image_size = [height, width] to resize them")
    return np.stack(out).astype(np.float32) / np.float32(255)


# ---------------------------------------------------------------- the data sets
def _numpy(t):
    return np.asarray(getattr(t, "array", t))


def _csv(d: dict):
    names, cells = read_table(d["path"], d["delimiter"], d["header"])
    if len(cells) == 0 or cells.shape[1] < 2:
        raise ConfigError(f"data.path: {d['path']} needs at least one feature column and a target column, and a row")
    ncol = cells.shape[1]
    target = d["target"]
    if isinstance(target, str):
        if names is None or target not in names:
            raise ConfigError(f"data.target: column {target!r} not found in {d['path']} (columns: "
                              f"{', '.join(names) if names else 'no header row'})")
        col = names.index(target)
    else:
        if not -ncol <= target < ncol:
            raise ConfigError(f"data.target: column index {target} is out of range for {ncol} columns")
        col = target % ncol
    x = to_float(np.delete(cells, col, axis=1), d["path"], "data.path")
    return x, cells[:, col], None


def _npy(d: dict):
    path = d["path"]
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                if "x" not in z or "y" not in z:
                    raise ConfigError(f"data.path: {path} must hold arrays named x and y, found {sorted(z.files)}")
                x, y = z["x"], z["y"]
        else:
            x = np.load(path, allow_pickle=False)
            y = np.load(d["targets_path"], allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ConfigError(f"data.path: cannot load {path}: {' '.join(str(e).split())}") from None
    if x.dtype.kind not in "fiub":
        raise ConfigError(f"data.path: features in {path} must be numeric, got dtype {x.dtype}")
    if len(x) != len(y):
        raise ConfigError(f"data: {len(x)} feature rows but {len(y)} targets")
    return x.astype(np.float32), y, None


def _labels(y: np.ndarray, task: str, classes):
    """Targets as int64 class indices (classification, with class names) or float32 (regression)."""
    if task == "regression":
        try:
            y = np.asarray(y).astype(np.float32)
        except ValueError:
            raise ConfigError("data: regression targets must be numbers") from None
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
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise ConfigError("data: classification targets must be whole numbers or class names; set "
                          "data.task = \"regression\" for real-valued targets")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ConfigError(f"data: class labels must be >= 0, found {int(y.min())}")
    return y, None


def load_arrays(d: dict) -> dict:
    """``{'train': (x, y), 'test': (x, y) or None, 'classes': names or None, 'image': (mode, size) or None}``.

    Raises ConfigError for anything wrong with the data files.
    """
    name = d["name"]
    try:
        return _load(d, name)
    except ConfigError:
        raise
    except ImportError as e:
        raise ConfigError(f"data ({name}): {' '.join(str(e).split())}") from None
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"data ({name}): {' '.join(str(e).split())}") from None


def _load(d: dict, name: str) -> dict:
    from ..data import datasets as D
    test, classes, image = None, None, _IMAGES.get(name)
    if name == "digits":
        x, y = D.load_digits(as_numpy=True)
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
        x = load_images([p for p, _ in folder.samples], d["mode"], d.get("image_size"))
        y, classes = np.asarray(folder.targets, dtype=np.int64), folder.classes
        image = (d["mode"], list(x.shape[2:]))
    elif name == "csv":
        x, y, classes = _csv(d)
    else:
        x, y, classes = _npy(d)
    y, found = _labels(y, d["task"], classes)
    classes = classes if classes is not None else found
    if test is not None:
        test = (test[0], _labels(test[1], d["task"], classes)[0])
    if not d["as_images"] and x.ndim > 2:  # flat features unless images were asked for
        x = x.reshape(len(x), -1)
        test = None if test is None else (test[0].reshape(len(test[0]), -1), test[1])
    return {"train": (x, y), "test": test, "classes": classes, "image": image}


# ---------------------------------------------------------------- preprocessing
class Preprocess:
    """What the model expects of an input: its shape, standardisation, and the image conversion.

    ``info`` is JSON: ``dataset``, ``task``, ``input_shape`` (one sample), ``num_classes`` /
    ``num_outputs``, ``classes`` (names or None), ``image`` (``[mode, [h, w]]`` or None).
    Text data (``input_kind = "tokens"``) adds ``vocab_size``, ``tokenizer`` (``{kind, file, ...}``)
    and holds the ``tokenizer`` itself; ``save`` writes it beside the preprocessing file.
    """

    def __init__(self, info: dict, scaler: Standardize | None = None, tokenizer=None,
                 tokenizer_source: str | None = None):
        self.info, self.scaler = info, scaler
        self.tokenizer, self.tokenizer_source = tokenizer, tokenizer_source

    @staticmethod
    def fit(x_train: np.ndarray, standardize: bool) -> Standardize | None:
        if not standardize:
            return None
        dim = 0 if x_train.ndim <= 2 else (0,) + tuple(range(2, x_train.ndim))  # per feature / per channel
        return Standardize(dim=dim).fit(x_train)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Reshape raw inputs ``(N, ...)`` to the model's input shape and standardise them."""
        if self.info.get("input_kind") == "tokens":
            return np.asarray(x, dtype=np.int64)
        shape = tuple(self.info["input_shape"])
        x = np.asarray(x, dtype=np.float32)
        if x.shape[1:] != shape:
            if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
                raise ConfigError(f"inputs have shape {tuple(x.shape[1:])} per sample ({int(np.prod(x.shape[1:]))} "
                                  f"values) but the model takes {shape} ({int(np.prod(shape))} values)")
            x = x.reshape((len(x),) + shape)
        return np.ascontiguousarray(self.scaler(x)) if self.scaler is not None else x

    def state(self) -> dict:
        return {"info": self.info, "standardize": None if self.scaler is None else self.scaler.state_dict()}

    def save(self, path: str) -> None:
        """Write the info and statistics to ``path`` (and the tokenizer of text data beside it)."""
        from .. import io
        if self.tokenizer is not None:
            from .text_data import save_tokenizer
            self.tokenizer_source = save_tokenizer(self.tokenizer, self.info["tokenizer"],
                                                   os.path.dirname(os.path.abspath(path)), self.tokenizer_source)
        io.save(self.state(), path)

    @classmethod
    def load(cls, path: str) -> "Preprocess":
        from .. import io
        if not os.path.isfile(path):
            raise ConfigError(f"preprocessing file not found: {path}")
        state = io.load(path, as_numpy=True)
        scaler = None
        if state.get("standardize") is not None:
            scaler = Standardize()
            scaler.load_state_dict(state["standardize"])
        tokenizer = source = None
        if state["info"].get("tokenizer"):
            from .text_data import load_tokenizer
            tokenizer, source = load_tokenizer(state["info"]["tokenizer"], os.path.dirname(os.path.abspath(path)))
        return cls(state["info"], scaler, tokenizer, source)
