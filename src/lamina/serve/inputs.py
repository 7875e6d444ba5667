"""Request payloads -> model inputs, through the run's own pipeline (``Preprocess.prepare``).

    names, x = from_json(body_bytes, pre)            # {"inputs": [[...], ...]} / {"texts": [...]} / {"images": [...]}
    names, x = from_files([("a.png", "image/png", data)], pre)   # an upload: images, a CSV, a .npy, a text file

Every problem is an :class:`InputError` with the HTTP status to answer and a message naming it:
400 a body that is not JSON or lacks the field, 422 inputs that don't fit the model (number of
values, type, NaN/Inf, a file that is not an image), 415 a file of an unknown kind.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import os
import tempfile

import numpy as np

from ..cli.errors import ConfigError, one_line

__all__ = ["IMAGE_EXTENSIONS", "InputError", "from_files", "from_json"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
FIELDS = ("inputs", "texts", "images")


class InputError(Exception):
    """A request the server cannot use: ``status`` (4xx) and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = int(status), message


def _is_text_run(pre) -> bool:
    return pre.info.get("input_kind") == "tokens"


def _hint(pre) -> str:
    if _is_text_run(pre):
        return 'send {"texts": ["...", ...]}'
    hint = f'send {{"inputs": [[...], ...]}} with {pre.values_per_row} values per row'
    return hint + (', or {"images": ["<base64 PNG/JPEG>", ...]}' if pre.info.get("image") else "")


def _prepare(pre, raw, kind: str, where: str):
    try:
        return pre.prepare(raw, kind=kind, where=where)
    except ConfigError as e:
        raise InputError(422, one_line(e)) from None


def _rows(value, pre) -> np.ndarray:
    """``inputs`` of a JSON body as a numeric array ``(N, ...)`` (the messages name what is wrong)."""
    if not isinstance(value, list):
        raise InputError(422, f"'inputs' must be a list of rows (lists of numbers), got {type(value).__name__}")
    if not value:
        raise InputError(422, "'inputs' is empty: give at least one row")
    if not isinstance(value[0], list):
        raise InputError(422, f"'inputs' must be a list of rows, each a list of {pre.values_per_row} numbers; "
                              f"got a list of {type(value[0]).__name__} (wrap a single row as [[...]])")
    try:
        x = np.asarray(value)
    except (ValueError, TypeError):
        lengths = [len(r) if isinstance(r, list) else None for r in value]
        bad = next((i for i, n in enumerate(lengths) if n != lengths[0]), None)
        where = f"row 0 has {lengths[0]} values, row {bad} has {lengths[bad]}" if bad is not None \
            else "nested lists of unequal lengths"
        raise InputError(422, f"'inputs': rows must all have the same number of values ({where})") from None
    if x.dtype.kind not in "iuf":
        flat = np.asarray(value, dtype=object).reshape(-1) if x.dtype != object else x.reshape(-1)
        bad = next((v for v in flat if isinstance(v, bool) or not isinstance(v, (int, float))), None)
        what = f"{type(bad).__name__} {bad!r:.40}" if bad is not None else "an integer too large for 64 bits"
        raise InputError(422, f"'inputs' must hold numbers only; found {what}")
    if x.ndim < 2:
        raise InputError(422, "'inputs' must be a list of rows (lists of numbers)")
    return x


def _texts(value) -> list:
    if not isinstance(value, list) or not value:
        raise InputError(422, "'texts' must be a non-empty list of strings")
    bad = next((i for i, t in enumerate(value) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(422, f"'texts' must hold strings; texts[{bad}] is {type(value[bad]).__name__}")
    return value


class _Named(io.BytesIO):
    """Image bytes that name themselves in Pillow's error messages."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name

    def __str__(self):
        return self.name

    def __repr__(self):
        return repr(self.name)


def _decode_images(value) -> list:
    if not isinstance(value, list) or not value:
        raise InputError(422, "'images' must be a non-empty list of base64-encoded image files")
    out = []
    for i, s in enumerate(value):
        if not isinstance(s, str):
            raise InputError(422, f"images[{i}] must be a base64 string, got {type(s).__name__}")
        if s.startswith("data:") and "," in s:  # a data URL: data:image/png;base64,....
            s = s.split(",", 1)[1]
        try:
            out.append(_Named(base64.b64decode(s, validate=True), f"images[{i}]"))
        except (binascii.Error, ValueError):
            raise InputError(422, f"images[{i}] is not valid base64") from None
    return out


def from_json(body: bytes, pre) -> tuple:
    """``(names, model inputs)`` of a ``POST /predict`` JSON body."""
    if not body:
        raise InputError(400, f"the request body is empty: {_hint(pre)}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(400, f"the body is not valid JSON: {one_line(e)}") from None
    except RecursionError:
        raise InputError(400, "the body is not usable JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(400, f"the body must be a JSON object, got {type(data).__name__}: {_hint(pre)}")
    given = [k for k in FIELDS if k in data]
    if not given:
        raise InputError(400, f"missing field: {_hint(pre)}" + (f" (got fields {sorted(data)[:5]})" if data else ""))
    if len(given) > 1:
        raise InputError(400, f"give one of 'inputs', 'texts', 'images', not {' and '.join(repr(g) for g in given)}")
    field = given[0]
    if field == "texts":
        if not _is_text_run(pre):
            raise InputError(422, f"this model reads {pre.info.get('dataset')} features, not texts: {_hint(pre)}")
        texts = _texts(data["texts"])
        return [f"texts[{i}]" for i in range(len(texts))], _prepare(pre, texts, "texts", "texts")
    if _is_text_run(pre):
        raise InputError(422, f"this model reads text: {_hint(pre)}")
    if field == "images":
        if not pre.info.get("image"):
            raise InputError(422, f"this model was trained on {pre.info.get('dataset')} features, not images: "
                                  f"{_hint(pre)}")
        files = _decode_images(data["images"])
        return [f.name for f in files], _prepare(pre, files, "images", "images")
    x = _rows(data["inputs"], pre)
    return [f"inputs[{i}]" for i in range(len(x))], _prepare(pre, x, "features", "inputs")


# ---------------------------------------------------------------- uploads
def _safe_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/")) or "upload"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:100]


def _table(name: str, data: bytes, pre) -> tuple:
    from ..cli.readers import read_table, to_float
    delim = "\t" if name.lower().endswith(".tsv") else ","
    with tempfile.TemporaryDirectory(prefix="lamina-serve-") as d:
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            table = read_table(path, delim, "auto", where="file")
            x = to_float(table, name, "file")
        except ConfigError as e:
            raise InputError(422, one_line(e).replace(path, name)) from None
    return [f"{name}:{n}" for n in table.lines], _prepare(pre, x, "features", name)


def _npy(name: str, data: bytes, pre) -> tuple:
    try:
        x = np.load(io.BytesIO(data), allow_pickle=False)
        if isinstance(x, np.lib.npyio.NpzFile):
            if "x" not in x.files:
                raise ValueError(f"the .npz has no array 'x' (it has {x.files[:5]})")
            x = x["x"]
    except (ValueError, OSError, EOFError) as e:
        raise InputError(422, f"file {name}: not a readable .npy/.npz array: {one_line(e)}") from None
    shape = list(pre.info["input_shape"])
    if x.ndim == len(shape) and list(x.shape) == shape:
        x = x[None]
    if x.dtype.kind not in "biuf":
        raise InputError(422, f"file {name}: the array must hold numbers, got dtype {x.dtype}")
    return [f"{name}[{i}]" for i in range(len(x))], _prepare(pre, x, "features", name)


def _lines(name: str, data: bytes) -> list:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(422, f"file {name} is not UTF-8 text: {one_line(e)}") from None
    return [line for line in text.splitlines() if line.strip()]


def from_files(files: list, pre) -> tuple:
    """``(names, model inputs)`` of uploaded files ``[(filename, content type, bytes), ...]``."""
    if not files:
        raise InputError(400, "no file in the upload: send multipart/form-data with a file field "
                              "(an image, a .csv of rows, a .npy array, or a .txt of texts for a text model)")
    if _is_text_run(pre):
        names, texts = [], []
        for filename, ctype, data in files:
            name = _safe_name(filename)
            if name.lower().endswith((".csv", ".tsv")):
                from ..cli.text_data import read_text_table
                with tempfile.TemporaryDirectory(prefix="lamina-serve-") as d:
                    path = os.path.join(d, name)
                    with open(path, "wb") as f:
                        f.write(data)
                    try:
                        rows, _ = read_text_table(path, "text", None, "\t" if name.lower().endswith(".tsv") else ",",
                                                  "auto", where="file")
                    except ConfigError as e:
                        raise InputError(422, one_line(e).replace(path, name)) from None
            else:
                rows = _lines(name, data)
            names += [f"{name}:{i + 1}" for i in range(len(rows))]
            texts += rows
        if not texts:
            raise InputError(422, "the uploaded files hold no text")
        return names, _prepare(pre, texts, "texts", "file")
    names, parts, images = [], [], []
    for filename, ctype, data in files:
        name, ctype = _safe_name(filename), (ctype or "").lower()
        low = name.lower()
        if low.endswith((".csv", ".tsv")) or ctype in ("text/csv", "text/tab-separated-values"):
            n, x = _table(name, data, pre)
        elif low.endswith((".npy", ".npz")):
            n, x = _npy(name, data, pre)
        elif low.endswith(IMAGE_EXTENSIONS) or ctype.startswith("image/") or not low.endswith(".txt"):
            if not pre.info.get("image"):
                raise InputError(415, f"file {name}: this model was trained on {pre.info.get('dataset')} features; "
                                      "upload a .csv of rows or a .npy array")
            images.append(_Named(data, name))
            continue
        else:
            raise InputError(415, f"file {name}: a text file is for text models; this one reads "
                                  f"{pre.info.get('dataset')} features: upload a .csv of rows or a .npy array")
        names += n
        parts.append(x)
    if images:
        try:
            x = pre.prepare(images, kind="images", where="file")
        except ConfigError as e:
            msg = one_line(e)
            if "cannot decode image" in msg:
                msg += " (not an image file: upload a PNG/JPEG image, a .csv of rows or a .npy array)"
            raise InputError(422, msg) from None
        names += [f.name for f in images]
        parts.append(x)
    shapes = {p.shape[1:] for p in parts}
    if len(shapes) > 1:  # pragma: no cover - prepare gives every input the model's shape
        raise InputError(422, f"the uploaded files give inputs of different shapes {sorted(shapes)}")
    return names, np.concatenate(parts) if len(parts) > 1 else parts[0]
