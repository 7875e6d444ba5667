"""The one reader of the user's data files: training, ``evaluate`` and ``predict`` all read through it.

    table = read_table("digits.csv")                     # Table(names or None, cells, line numbers)
    x = to_float(table, "digits.csv", "INPUTS")          # float32 (N, F); NaN/Inf refused, naming line and column
    x, y = read_arrays("digits.npz", "INPUTS")           # .npy (features) or .npz (arrays x and y)
    images = load_images(["a.png"], "L", [8, 8])         # (N, C, H, W) float32 in [0, 1]

So a file gives the same rows whichever command reads it. Every problem is a ConfigError
(exit code 2) naming the file, and the line and column where it is.

CSV files: fields separated by ``delimiter`` (double quotes as in RFC 4180, so a quoted field may
hold the delimiter or a newline); blank lines are skipped; every row must have as many fields as
the first. ``header``: True (the first row names the columns), False (every row is data) or
"auto" (the default everywhere): the first row is a header when, in every column whose other
rows are all numbers, it holds a name, not a number. So no data row is ever dropped by a guess (a
row with a bad field is read, and the field reported); a header of numbers needs ``header = true``.

Numbers must be finite: a NaN or infinite value (or one too large for float32) is refused with
its line and column, unless the caller lets them through (``predict/evaluate --allow-nonfinite``).
"""
from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, one_line

__all__ = ["IMAGE_EXTENSIONS", "Table", "check_finite", "detect_header", "load_images", "read_arrays", "read_rows",
           "read_table", "to_float"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Table:
    """A CSV file's column ``names`` (None without a header), ``cells`` (N, C) of str, and the
    file's ``lines`` (1-based line number of each row, for messages)."""
    names: list | None
    cells: np.ndarray
    lines: np.ndarray

    def column(self, spec, key: str, path: str) -> int:
        """The index of column ``spec`` (a name, or an integer index, negative from the end)."""
        ncol = self.cells.shape[1]
        if isinstance(spec, str):
            if self.names is None or spec not in self.names:
                have = ", ".join(self.names) if self.names else "no header row; give a column index"
                raise ConfigError(f"{key}: column {spec!r} not found in {path} (columns: {have})")
            return self.names.index(spec)
        if not -ncol <= spec < ncol:
            raise ConfigError(f"{key}: column index {spec} is out of range for {ncol} columns")
        return spec % ncol

    def drop(self, col: int) -> "Table":
        names = None if self.names is None else self.names[:col] + self.names[col + 1:]
        return Table(names, np.delete(self.cells, col, axis=1), self.lines)


# ---------------------------------------------------------------- CSV
def read_rows(path: str, delimiter: str = ",", where: str = "data.path") -> tuple:
    """``(rows, line numbers)``: the non-blank rows of a CSV file as lists of str, all of one length."""
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: file not found: {os.path.abspath(path)}")
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            start = 1
            for row in reader:
                if row and any(c.strip() for c in row):
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: {path} is not UTF-8 text ({one_line(e)})") from None
    except (OSError, csv.Error, ValueError) as e:
        raise ConfigError(f"{where}: cannot read {path} as a table separated by {delimiter!r}: {one_line(e)}") \
            from None
    if not rows:
        raise ConfigError(f"{where}: {path} has no rows")
    width = len(rows[0])
    bad = next((i for i, r in enumerate(rows) if len(r) != width), None)
    if bad is not None:
        raise ConfigError(f"{where}: line {lines[bad]} of {path} has {len(rows[bad])} fields, expected {width} "
                          f"(as on line {lines[0]}; quote fields that hold the delimiter {delimiter!r})")
    return rows, lines


def _numeric(cells: np.ndarray) -> np.ndarray:
    """Per column: whether every cell parses as a number."""
    try:
        cells.astype(np.float64)
        return np.ones(cells.shape[1], dtype=bool)
    except ValueError:
        pass
    out = np.zeros(cells.shape[1], dtype=bool)
    for j in range(cells.shape[1]):  # only on files that hold text columns
        try:
            cells[:, j].astype(np.float64)
            out[j] = True
        except ValueError:
            pass
    return out


def detect_header(cells: np.ndarray) -> bool:
    """Whether the first row of ``cells`` (str, (N, C)) is a header: in every column whose other rows
    are all numbers, its field is not a number (a single row: none of its fields is a number). A data
    row with one bad field is not a header: it is read as data, and the bad field reported."""
    first = _numeric(cells[:1])
    if len(cells) == 1:
        return not first.any()
    numeric = _numeric(cells[1:])
    return bool(numeric.any() and not np.any(numeric & first))


def read_table(path: str, delimiter: str = ",", header="auto", where: str = "data.path") -> Table:
    """A CSV file as a :class:`Table` (``header``: True, False or "auto"; see the module docstring)."""
    rows, lines = read_rows(path, delimiter, where)
    cells = np.char.strip(np.asarray(rows, dtype=str))
    if cells.ndim != 2:  # pragma: no cover - read_rows checked the widths
        raise ConfigError(f"{where}: {path} is not a table")
    if header == "auto":
        header = detect_header(cells)
    names = [str(c) for c in cells[0]] if header else None
    lines = np.asarray(lines)
    if header:
        cells, lines = cells[1:], lines[1:]
    if len(cells) == 0:
        raise ConfigError(f"{where}: {path} has a header row but no rows of data")
    return Table(names, cells, lines)


def _col_name(table: Table, j: int) -> str:
    return f"column {j + 1}" + (f" ({table.names[j]!r})" if table.names is not None else "")


def to_float(table: Table, path: str, where: str, allow_nonfinite: bool = False, hint: str = "") -> np.ndarray:
    """The cells as float32 (N, C); a cell that is not a number, or not finite, is a ConfigError
    naming its line and column (``hint``: how to let non-finite values through, when a caller can)."""
    cells = table.cells
    try:
        x64 = cells.astype(np.float64)
    except ValueError:
        ok = _numeric(cells)
        j = int(np.argmin(ok))
        bad = np.flatnonzero([not _is_number(c) for c in cells[:, j]])[0]
        raise ConfigError(f"{where}: {path} line {table.lines[bad]}, {_col_name(table, j)}: {str(cells[bad, j])!r} is "
                          "not a number") from None
    if not allow_nonfinite:
        finite = np.isfinite(x64) & (np.abs(np.nan_to_num(x64)) <= _F32_MAX)
        if not finite.all():
            i, j = np.argwhere(~finite)[0]
            what = "too large for float32" if np.isfinite(x64[i, j]) else "not a finite number"
            raise ConfigError(f"{where}: {path} line {table.lines[i]}, {_col_name(table, j)}: {str(cells[i, j])!r} is "
                              f"{what}{hint}")
    with np.errstate(over="ignore"):
        return x64.astype(np.float32)


def _is_number(s) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- .npy / .npz
def read_arrays(path: str, where: str, need_y: bool = False) -> tuple:
    """``(x, y or None)`` of a .npy file (features) or an .npz file (arrays ``x`` and, optionally, ``y``).
    ``x`` must be numeric with a sample dimension; nothing is unpickled."""
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: file not found: {os.path.abspath(path)}")
    y = None
    try:
        loaded = np.load(path, allow_pickle=False)
        if path.lower().endswith(".npz"):
            if not hasattr(loaded, "files"):
                raise ConfigError(f"{where}: {path} is a single .npy array, not an .npz archive of arrays x and y")
            with loaded as z:
                if "x" not in z.files or (need_y and "y" not in z.files):
                    want = "x and y" if need_y else "x (and y for labels)"
                    raise ConfigError(f"{where}: {path} must hold arrays named {want}, found {sorted(z.files)}")
                x = z["x"]
                y = z["y"] if "y" in z.files else None
        elif hasattr(loaded, "files"):
            loaded.close()
            raise ConfigError(f"{where}: {path} is an .npz archive; name it .npz (arrays x and y)")
        else:
            x = loaded
    except ConfigError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise ConfigError(f"{where}: cannot load {path} as a NumPy array file: {one_line(e)}") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiub":
        raise ConfigError(f"{where}: {path} must hold numbers, got dtype {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim == 0:
        raise ConfigError(f"{where}: {path} holds a single number; expected one row per sample")
    if y is not None and (y.ndim == 0 or len(y) != len(x)):
        raise ConfigError(f"{where}: {path} has {len(x)} rows of x but {'one' if y.ndim == 0 else len(y)} labels y")
    return x, y


def check_finite(x: np.ndarray, path: str, where: str, hint: str = "") -> None:
    """Refuse NaN/Inf (and float32 overflow) in an array read from ``path``, naming the first index."""
    if x.dtype.kind != "f":
        return
    bad = ~np.isfinite(x)
    if x.dtype.itemsize > 4:
        bad |= np.abs(np.nan_to_num(x)) > _F32_MAX
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        what = "too large for float32" if np.isfinite(x[idx]) else "not a finite number"
        raise ConfigError(f"{where}: {path}: x[{', '.join(map(str, idx))}] = {float(x[idx])!r} is {what}{hint}")


# ---------------------------------------------------------------- images
def load_images(paths, mode: str, size, where: str = "INPUTS") -> np.ndarray:
    """Decode image files with Pillow to ``(N, C, H, W)`` float32 in [0, 1] (pixel / 255), converted to
    ``mode`` and resized to ``size = [height, width]`` (bilinear) when given."""
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
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
            raise ConfigError(f"{where}: cannot decode image {p}: {one_line(e)}") from None
        out.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    if len({a.shape for a in out}) > 1:
        raise ConfigError(f"{where}: images have different sizes ({sorted({a.shape for a in out})[:3]}...); set "
                          "data.image_size = [height, width] to resize them")
    return np.stack(out).astype(np.float32) / np.float32(255)
