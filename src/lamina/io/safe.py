"""Weight files: nested structures of tensors in one safetensors file, never pickle.

File layout (one ordinary safetensors file):

* every tensor or array in ``obj`` is a safetensors tensor whose name is its path in the
  structure joined by dots (``"state.0.exp_avg"``); a flat ``{str: tensor}`` state dict
  therefore gets exactly its own keys, so other safetensors tools read it as plain weights;
* the header metadata (str -> str) holds ``"lamina.structure"``: the structure as JSON, with
  ``{"__tensor__": name}`` where a tensor was, ``{"__tuple__": [...]}`` for tuples and
  ``{"__dict__": [[key, value], ...]}`` for dicts whose keys are not all strings (int keys of
  an optimizer state stay ints); and ``"lamina.crc32"``: CRC-32s of the structure and of each
  tensor, checked on load so flipped bytes are reported instead of silently loaded.

    lamina.io.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.safetensors")
    ckpt = lamina.io.load("ckpt.safetensors")

Loading can't run code: the file holds only numbers, and JSON for everything else.
"""
from __future__ import annotations

import errno
import json
import os
import zlib

import numpy as np
import safetensors
import safetensors.numpy

from .. import backend
from ..tensor import Tensor
from .atomic import atomic_path

__all__ = ["CheckpointError", "load", "load_state_dict_from", "read_metadata", "save"]

FORMAT_VERSION = "1"
_STRUCTURE, _CRC, _VERSION = "lamina.structure", "lamina.crc32", "lamina.format"
_MARKERS = ("__tensor__", "__tuple__", "__dict__")
_MAX_HEADER = 100_000_000  # the safetensors limit
_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64", "I8": "int8", "I16": "int16",
           "I32": "int32", "I64": "int64", "U8": "uint8", "U16": "uint16", "U32": "uint32",
           "U64": "uint64", "BOOL": "bool"}
_SAVABLE = {np.dtype(v) for v in _DTYPES.values()}


class CheckpointError(ValueError):
    """A weight file that can't be read: truncated, corrupted, or not safetensors at all."""


# ---------------------------------------------------------------- save
def _to_array(value, where: str) -> np.ndarray:
    arr = value.array if isinstance(value, Tensor) else value
    arr = np.asarray(backend.to_device(arr, backend.cpu))
    if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d arrays into 1-d ones)
        arr = arr.copy(order="C")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if arr.dtype not in _SAVABLE:
        raise TypeError(f"lamina.io.save: tensor at {where!r} has dtype {arr.dtype}, which a weight file can't "
                        f"hold (supported: float16/32/64, int8..64, uint8..64, bool)")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr


class _Encoder:
    """Turns ``obj`` into JSON-able structure + a flat {name: array} dict."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def name(self, path: list) -> str:
        base = ".".join(path) or "tensor"
        name, i = base, 1
        while name in self.arrays or name == "__metadata__":
            name, i = f"{base}#{i}", i + 1
        return name

    def encode(self, obj, path: list):
        if isinstance(obj, (Tensor, np.ndarray)):
            name = self.name(path)
            self.arrays[name] = _to_array(obj, ".".join(path))
            return {"__tensor__": name}
        if isinstance(obj, np.generic):
            return obj.item()
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, dict):
            plain = all(type(k) is str for k in obj) and not (len(obj) == 1 and next(iter(obj)) in _MARKERS)
            if plain:
                return {k: self.encode(v, path + [k]) for k, v in obj.items()}
            return {"__dict__": [[self.key(k, path), self.encode(v, path + [str(k)])] for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
        raise TypeError(f"lamina.io.save: cannot save a {type(obj).__name__} at {'.'.join(path) or '<root>'!r}; "
                        "a weight file holds tensors, arrays, numbers, strings, bools, None, and dicts, lists "
                        "and tuples of them (never pickled objects)")

    def key(self, k, path):
        if isinstance(k, np.generic):
            k = k.item()
        if k is None or isinstance(k, (bool, int, float, str)):
            return k
        if isinstance(k, tuple):
            return {"__tuple__": [self.key(v, path) for v in k]}
        raise TypeError(f"lamina.io.save: dict key {k!r} at {'.'.join(path) or '<root>'!r} has type "
                        f"{type(k).__name__}; keys must be str, int, float, bool, None or tuples of them")


def _write_file(arrays: dict, filename: str, metadata: dict) -> None:
    safetensors.numpy.save_file(arrays, filename, metadata=metadata)


def save(obj, path, metadata: dict | None = None) -> None:
    """Write ``obj`` (tensors, arrays and JSON-able values, nested in dicts/lists/tuples) to ``path``.

    One safetensors file, written atomically (temporary file, fsync, rename): a crash mid-save
    leaves any previous file at ``path`` intact. ``metadata`` adds your own str -> str header
    entries. Tensors are saved detached (values only, no ``requires_grad``).

    >>> lamina.io.save(model.state_dict(), "model.safetensors")
    """
    enc = _Encoder()
    structure = enc.encode(obj, [])
    meta = {"format": "pt"}  # tensor layouts follow PyTorch's state dicts; HF loaders check this entry
    for k, v in (metadata or {}).items():
        if not (isinstance(k, str) and isinstance(v, str)):
            raise TypeError(f"lamina.io.save: metadata must map str to str, got {k!r}: {v!r}")
        meta[k] = v
    meta[_VERSION] = FORMAT_VERSION
    meta[_STRUCTURE] = json.dumps(structure, separators=(",", ":"))
    crcs = {"structure": zlib.crc32(meta[_STRUCTURE].encode()),
            "tensors": {k: zlib.crc32(a) for k, a in enc.arrays.items()}}
    meta[_CRC] = json.dumps(crcs, separators=(",", ":"))
    with atomic_path(path) as tmp:
        _write_file(enc.arrays, tmp, meta)


# ---------------------------------------------------------------- load
def _fail(path, what: str):
    raise CheckpointError(f"cannot load {os.fspath(path)!r}: {what}")


def _hint(head: bytes) -> str:
    if head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        return ("; it looks like a pickle/zip file (e.g. from torch.save), which lamina never unpickles: export "
                "the weights with safetensors.torch.save_file(model.state_dict(), path)")
    return ""


def _read_header(path) -> tuple[int, dict, dict]:
    """Check the file's framing and header; return (header_len, tensor entries, metadata)."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(errno.ENOENT, f"no such weight file: {p!r}", p)
    if os.path.isdir(p):
        raise IsADirectoryError(errno.EISDIR, f"expected a weight file, got a directory: {p!r}", p)
    size = os.path.getsize(p)
    with open(p, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            _fail(p, f"the file is {size} bytes long, too short for a safetensors file (empty or truncated)"
                  + _hint(head))
        n = int.from_bytes(head, "little")
        if n < 2 or n > _MAX_HEADER:
            _fail(p, f"not a safetensors file (its first 8 bytes give a header length of {n})" + _hint(head))
        if 8 + n > size:
            _fail(p, f"truncated: the header should be {n} bytes but only {size - 8} bytes follow the length "
                     "field" + _hint(head))
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        _fail(p, f"corrupted header ({e})" + _hint(head))
    if not isinstance(header, dict):
        _fail(p, "corrupted header (not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        _fail(p, "corrupted header (__metadata__ must map strings to strings)")
    end = 0
    for name, e in header.items():
        try:
            dtype, shape, (begin, stop) = e["dtype"], [int(s) for s in e["shape"]], e["data_offsets"]
            count = int(np.prod(shape, dtype=np.int64))
            ok = min(shape, default=0) >= 0 and isinstance(begin, int) and isinstance(stop, int)
        except Exception:
            ok = False
        if not ok:
            _fail(p, f"corrupted header entry for tensor {name!r}: {e!r}")
        if dtype == "BF16":
            itemsize = 2
        elif dtype in _DTYPES:
            itemsize = np.dtype(_DTYPES[dtype]).itemsize
        else:
            _fail(p, f"tensor {name!r} has dtype {dtype!r}, which lamina can't load")
        if not 0 <= begin <= stop or stop - begin != count * itemsize:
            _fail(p, f"corrupted header: tensor {name!r} ({dtype}, shape {shape}) has data offsets {[begin, stop]}")
        end = max(end, stop)
    data = size - 8 - n
    if data < end:
        _fail(p, f"truncated: the tensor data should be {end} bytes but only {data} are present")
    if data > end:
        _fail(p, f"corrupted: the header describes {end} bytes of tensor data but {data} are present")
    return n, header, meta


def _read_arrays(path, n: int, header: dict) -> dict:
    p = os.fspath(path)
    out = {}
    try:
        with safetensors.safe_open(p, framework="np") as f:
            for name, e in header.items():
                if e["dtype"] == "BF16":  # NumPy has no bfloat16: widen to float32 (the top 16 bits)
                    raw = np.fromfile(p, dtype="<u2", count=int(np.prod(e["shape"])),
                                      offset=8 + n + e["data_offsets"][0])
                    out[name] = (raw.astype(np.uint32) << 16).view(np.float32).reshape(e["shape"])
                else:
                    out[name] = f.get_tensor(name)
    except Exception as e:  # the Rust reader's own checks; report them with the path
        _fail(p, f"corrupted safetensors file ({type(e).__name__}: {e})")
    return out


def _verify(path, arrays: dict, meta: dict) -> None:
    """Check a lamina file's metadata is complete and every checksum matches (foreign files
    have no ``lamina.*`` entries and only get the structural checks)."""
    if not any(k.startswith("lamina.") for k in meta):
        return
    missing = [k for k in (_VERSION, _STRUCTURE, _CRC) if k not in meta]
    if missing:
        _fail(path, f"corrupted lamina metadata (missing {', '.join(missing)})")
    try:
        crcs = json.loads(meta[_CRC])
        tensors, structure = dict(crcs["tensors"]), crcs["structure"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        _fail(path, f"corrupted lamina metadata ({_CRC}: {type(e).__name__}: {e})")
    if zlib.crc32(meta[_STRUCTURE].encode()) != structure:
        _fail(path, f"corrupted lamina metadata ({_STRUCTURE} does not match its checksum)")
    if set(tensors) != set(arrays):
        _fail(path, f"corrupted: the file holds tensors {sorted(arrays)} but its metadata lists {sorted(tensors)}")
    for name, crc in tensors.items():
        if zlib.crc32(np.ascontiguousarray(arrays[name])) != crc:
            _fail(path, f"the bytes of tensor {name!r} are corrupted (checksum mismatch)")


def _convert(arr: np.ndarray, as_numpy: bool, device):
    if as_numpy:
        return arr
    if device is not None:
        arr = backend.to_device(arr, backend.Device(device))
    return Tensor._wrap(arr)


def _decode(node, arrays: dict, conv, path):
    if isinstance(node, list):
        return [_decode(v, arrays, conv, path) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (k, v), = node.items()
        if k == "__tensor__":
            if v not in arrays:
                _fail(path, f"the structure refers to tensor {v!r}, which is not in the file")
            return conv(arrays[v])
        if k == "__tuple__":
            return tuple(_decode(x, arrays, conv, path) for x in v)
        if k == "__dict__":
            return {_key(kk): _decode(vv, arrays, conv, path) for kk, vv in v}
    return {k: _decode(v, arrays, conv, path) for k, v in node.items()}


def _key(k):
    if isinstance(k, dict):
        return tuple(_key(x) for x in k["__tuple__"])
    return k


def load(path, as_numpy: bool = False, device=None, verify: bool = True):
    """Read what :func:`save` wrote (or any safetensors file, as a flat dict of tensors).

    Tensors come back as lamina Tensors (on ``device``, the CPU by default), or as NumPy arrays
    with ``as_numpy=True``. ``verify`` checks the CRC-32 of the structure and of every tensor
    (files written by lamina have them).
    Raises FileNotFoundError for a missing file and :class:`CheckpointError` (a ValueError)
    naming the path and the problem for a truncated, corrupted or non-safetensors file.
    """
    n, header, meta = _read_header(path)
    arrays = _read_arrays(path, n, header)
    if verify:
        _verify(path, arrays, meta)

    def conv(a):
        return _convert(a, as_numpy, device)

    if _STRUCTURE not in meta:
        return {name: conv(a) for name, a in arrays.items()}
    try:
        structure = json.loads(meta[_STRUCTURE])
    except json.JSONDecodeError as e:
        _fail(path, f"corrupted lamina metadata ({_STRUCTURE}: {e})")
    try:
        return _decode(structure, arrays, conv, path)
    except CheckpointError:
        raise
    except Exception as e:
        _fail(path, f"corrupted lamina metadata ({_STRUCTURE}: {type(e).__name__}: {e})")


def read_metadata(path) -> dict:
    """The header metadata (str -> str) of a safetensors file, without reading its tensors."""
    return dict(_read_header(path)[2])


def load_state_dict_from(path, key_map=None, as_numpy: bool = False, device=None) -> dict:
    """A flat ``{name: Tensor}`` dict of every tensor in a safetensors file (e.g. one exported
    from PyTorch with ``safetensors.torch.save_file(model.state_dict(), path)``).

    ``key_map`` renames keys: a dict ``{old: new}`` (keys not in it are kept), or a callable
    ``new = key_map(old)`` that may return None to drop a tensor. bfloat16 tensors are widened
    to float32.

    >>> sd = lamina.io.load_state_dict_from("resnet.safetensors", key_map=lambda k: k.removeprefix("module."))
    """
    n, header, meta = _read_header(path)
    arrays = _read_arrays(path, n, header)
    _verify(path, arrays, meta)
    if key_map is None:
        rename = lambda k: k  # noqa: E731
    elif callable(key_map):
        rename = key_map
    elif isinstance(key_map, dict):
        rename = lambda k: key_map.get(k, k)  # noqa: E731
    else:
        raise TypeError(f"load_state_dict_from: key_map must be a dict or a callable, got {type(key_map).__name__}")
    out, source = {}, {}
    for name, arr in arrays.items():
        new = rename(name)
        if new is None:
            continue
        if new in out:
            raise ValueError(f"load_state_dict_from: key_map maps both {source[new]!r} and {name!r} to {new!r}")
        out[new], source[new] = _convert(arr, as_numpy, device), name
    return out
