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

``save``/``load`` also take open binary files and in-memory buffers (``io.BytesIO``), and
``load`` accepts PyTorch's ``map_location`` and ``weights_only`` keywords, so ``torch.save`` /
``torch.load`` call sites work unchanged. What they refuse, on purpose: saving a whole model,
optimizer or any other object (save its ``state_dict()``), and loading a PyTorch ``.pt``/``.pth``
pickle (convert it once to safetensors; the error says how).
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
        if callable(getattr(obj, "state_dict", None)):
            kind, where = type(obj).__name__, ".".join(path) or "<root>"
            raise TypeError(
                f"lamina.save: cannot save a whole {kind} object (at {where!r}). lamina never pickles objects: "
                "loading a pickle can run arbitrary code. Save its state instead, lamina.save(obj.state_dict(), f) "
                "(e.g. {'model': model.state_dict(), 'optimizer': opt.state_dict()}), and to load, rebuild the "
                f"{kind} from your code/config, then obj.load_state_dict(lamina.load(f)).")
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


def _is_path(f) -> bool:
    return isinstance(f, (str, os.PathLike))


def save(obj, f, metadata: dict | None = None, *, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Write ``obj`` (tensors, arrays and JSON-able values, nested in dicts/lists/tuples) to ``f``.

    ``f`` is a path (the file is written atomically: temporary file, fsync, rename, so a crash
    mid-save leaves any previous file intact) or a binary file object / ``io.BytesIO`` (written
    with one ``write`` call). One safetensors file either way; ``metadata`` adds your own
    str -> str header entries. Tensors are saved detached (values only, no ``requires_grad``).
    A whole Module or optimizer is refused (TypeError): save its ``state_dict()``. The pickle
    keywords of ``torch.save`` are accepted and ignored (``pickle_module`` is refused).

    >>> lamina.save(model.state_dict(), "model.safetensors")
    >>> buf = io.BytesIO(); lamina.save(opt.state_dict(), buf)
    """
    if pickle_module is not None:
        raise TypeError("lamina.save: pickle_module is not supported: lamina writes safetensors + JSON and never "
                        "pickles")
    if not _is_path(f) and not callable(getattr(f, "write", None)):
        raise TypeError(f"lamina.save: f must be a path (str or os.PathLike) or a binary file object with write(), "
                        f"got {type(f).__name__}")
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
    if _is_path(f):
        with atomic_path(f) as tmp:
            _write_file(enc.arrays, tmp, meta)
    else:
        f.write(safetensors.numpy.save(enc.arrays, metadata=meta))


# ---------------------------------------------------------------- load
class _Source:
    """Where a file's bytes come from: a path on disk, or a file object / buffer read into memory."""

    def __init__(self, f, who: str = "lamina.load"):
        self.data = None
        if _is_path(f):
            p = os.fspath(f)
            if not os.path.exists(p):
                raise FileNotFoundError(errno.ENOENT, f"no such weight file: {p!r}", p)
            if os.path.isdir(p):
                raise IsADirectoryError(errno.EISDIR, f"expected a weight file, got a directory: {p!r}", p)
            self.path, self.name, self.size = p, p, os.path.getsize(p)
            return
        if not callable(getattr(f, "read", None)):
            raise TypeError(f"{who}: f must be a path (str or os.PathLike) or a binary file object with read(), "
                            f"got {type(f).__name__}")
        data = f.read()
        if isinstance(data, str):
            raise TypeError(f"{who}: the file object returned str; open the file in binary mode ('rb')")
        self.data = bytes(data)
        self.path, self.size = None, len(self.data)
        name = getattr(f, "name", None)
        self.name = name if isinstance(name, str) else f"<{type(f).__name__}>"

    def read(self, offset: int, n: int) -> bytes:
        if self.data is not None:
            return self.data[offset:offset + n]
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return fh.read(n)


def _fail(name, what: str):
    raise CheckpointError(f"cannot load {name if isinstance(name, str) else os.fspath(name)!r}: {what}")


def _hint(head: bytes) -> str:
    if head[:4] == b"PK\x03\x04":
        if b".npy" in head[:200] and b"data.pkl" not in head[:200]:
            return ("; it looks like a NumPy .npz archive: read it with numpy.load(path) and wrap the arrays with "
                    "lamina.tensor(...)")
        return ("; it looks like a pickle/zip file (e.g. a PyTorch .pt/.pth from torch.save), which lamina never "
                "unpickles, because loading a pickle can run arbitrary code. Convert it once where PyTorch is "
                "installed: from safetensors.torch import save_file; sd = torch.load(path, weights_only=True); "
                "save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors'); then "
                "lamina.load('model.safetensors') (or lamina.io.load_state_dict_from with a key_map)")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return ("; it looks like a pickle/zip file (e.g. from torch.save), which lamina never unpickles, because "
                "loading a pickle can run arbitrary code: export the weights with "
                "safetensors.torch.save_file(model.state_dict(), path)")
    return ""


def _read_header(src: _Source) -> tuple[int, dict, dict]:
    """Check the file's framing and header; return (header_len, tensor entries, metadata)."""
    p, size = src.name, src.size
    head = src.read(0, 256)
    if len(head) < 8:
        _fail(p, f"the file is {size} bytes long, too short for a safetensors file (empty or truncated)"
              + _hint(head))
    n = int.from_bytes(head[:8], "little")
    if n < 2 or n > _MAX_HEADER:
        _fail(p, f"not a safetensors file (its first 8 bytes give a header length of {n})" + _hint(head))
    if 8 + n > size:
        _fail(p, f"truncated: the header should be {n} bytes but only {size - 8} bytes follow the length "
                 "field" + _hint(head))
    raw = src.read(8, n)
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


def _widen_bf16(raw: np.ndarray, shape) -> np.ndarray:
    """NumPy has no bfloat16: widen to float32 (bfloat16 is the top 16 bits of a float32)."""
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)


def _read_arrays(src: _Source, n: int, header: dict) -> dict:
    p = src.name
    out = {}
    try:
        if src.data is not None:  # in memory: the Rust reader checks the layout, NumPy wraps the bytes
            for name, e in safetensors.deserialize(src.data):
                if e["dtype"] == "BF16":
                    out[name] = _widen_bf16(np.frombuffer(e["data"], dtype="<u2"), e["shape"])
                else:
                    out[name] = np.frombuffer(e["data"], dtype=np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")
                                              ).reshape(e["shape"])
            return out
        with safetensors.safe_open(src.path, framework="np") as f:
            for name, e in header.items():
                if e["dtype"] == "BF16":
                    raw = np.fromfile(src.path, dtype="<u2", count=int(np.prod(e["shape"])),
                                      offset=8 + n + e["data_offsets"][0])
                    out[name] = _widen_bf16(raw, e["shape"])
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


def _placement(map_location, device, as_numpy: bool):
    """A function array -> loaded value that follows ``map_location`` (PyTorch's forms) or ``device``."""
    if map_location is not None and device is not None:
        raise ValueError("lamina.load: give map_location or device, not both")
    if map_location is None or isinstance(map_location, (str, backend.Device)) or hasattr(map_location, "type"):
        dev = device if map_location is None else str(map_location)
        return lambda a: _convert(a, as_numpy, dev)
    if isinstance(map_location, dict):  # {saved location: target}; everything in a file is saved from the CPU
        dev = map_location.get("cpu")
        return lambda a: _convert(a, as_numpy, None if dev is None else str(dev))
    if callable(map_location):  # map_location(tensor, 'cpu') -> tensor, e.g. lambda storage, loc: storage
        def place(a):
            t = _convert(a, False, None)
            r = map_location(t, "cpu")
            r = t if r is None else r
            if not isinstance(r, Tensor):
                raise TypeError(f"lamina.load: map_location returned a {type(r).__name__}, expected a Tensor")
            return r.numpy() if as_numpy else r
        return place
    raise TypeError(f"lamina.load: map_location must be a device, a str, a dict or a callable, got "
                    f"{type(map_location).__name__}")


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None, mmap: bool | None = None,
         as_numpy: bool = False, device=None, verify: bool = True):
    """Read what :func:`save` wrote (or any safetensors file, as a flat dict of tensors).

    ``f`` is a path or a binary file object / ``io.BytesIO``. Tensors come back as lamina
    Tensors on the CPU, or where ``map_location`` (a device or str, ``{'cpu': 'cuda:0'}``, or a
    callable ``fn(tensor, 'cpu') -> tensor``, as ``torch.load``) or ``device`` says; as NumPy
    arrays with ``as_numpy=True``. ``verify`` checks the CRC-32 of the structure and of every
    tensor (files written by lamina have them).

    ``weights_only`` is accepted and is always effectively True: a lamina file holds tensors and
    JSON only, so loading never runs code, whatever the flag says. ``mmap`` is accepted and
    ignored. A PyTorch ``.pt`` pickle is refused with a :class:`CheckpointError` that says how to
    convert it. Raises FileNotFoundError for a missing file and CheckpointError (a ValueError)
    naming the file and the problem for a truncated, corrupted or non-safetensors file.

    >>> model.load_state_dict(lamina.load("model.safetensors", map_location="cpu"))
    """
    if pickle_module is not None:
        raise TypeError("lamina.load: pickle_module is not supported: lamina files are safetensors + JSON and are "
                        "never unpickled")
    conv = _placement(map_location, device, as_numpy)
    src = _Source(f)
    n, header, meta = _read_header(src)
    arrays = _read_arrays(src, n, header)
    path = src.name
    if verify:
        _verify(path, arrays, meta)
    if _STRUCTURE not in meta:
        return {name: conv(a) for name, a in arrays.items()}
    try:
        structure = json.loads(meta[_STRUCTURE])
    except json.JSONDecodeError as e:
        _fail(path, f"corrupted lamina metadata ({_STRUCTURE}: {e})")
    try:
        return _decode(structure, arrays, conv, path)
    except (CheckpointError, TypeError):
        raise
    except Exception as e:
        _fail(path, f"corrupted lamina metadata ({_STRUCTURE}: {type(e).__name__}: {e})")


def read_metadata(f) -> dict:
    """The header metadata (str -> str) of a safetensors file, without reading its tensors."""
    return dict(_read_header(_Source(f, "read_metadata"))[2])


def load_state_dict_from(path, key_map=None, as_numpy: bool = False, device=None) -> dict:
    """A flat ``{name: Tensor}`` dict of every tensor in a safetensors file (e.g. one exported
    from PyTorch with ``safetensors.torch.save_file(model.state_dict(), path)``); ``path`` may
    also be a binary file object.

    ``key_map`` renames keys: a dict ``{old: new}`` (keys not in it are kept), or a callable
    ``new = key_map(old)`` that may return None to drop a tensor. bfloat16 tensors are widened
    to float32.

    >>> sd = lamina.io.load_state_dict_from("resnet.safetensors", key_map=lambda k: k.removeprefix("module."))
    """
    src = _Source(path, "load_state_dict_from")
    n, header, meta = _read_header(src)
    arrays = _read_arrays(src, n, header)
    _verify(src.name, arrays, meta)
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
