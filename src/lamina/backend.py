"""Backend: the array module (NumPy or CuPy), devices, the dtype policy and random generators.

Op code never imports numpy or cupy itself; it asks a tensor for ``x.xp``. This module is the
one place that knows which array libraries exist.
"""
from __future__ import annotations

import builtins as _b

import numpy as np

try:  # CuPy is optional: lamina runs on the CPU without it.
    import cupy as _cupy  # type: ignore
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None

# ---------------------------------------------------------------- dtypes
float16 = half = np.dtype("float16")
float32 = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = short = np.dtype("int16")
int32 = np.dtype("int32")
int64 = long = np.dtype("int64")
bool_ = np.dtype("bool")

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Change the default floating dtype (float32 or float64), as torch.set_default_dtype."""
    global _default_float
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dt}")
    _default_float = dt


def as_dtype(dtype) -> np.dtype:
    """Normalise a user dtype (np.dtype, numpy type, string, Python type) to np.dtype."""
    if dtype is None:
        return None
    if dtype is _b.float:
        return _default_float
    if dtype is _b.int:
        return int64
    if dtype is _b.bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}") from e




_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(a, b) -> np.dtype:
    """PyTorch's promotion of two dtypes: the higher category (bool < int < float) wins outright
    (int64 with float16 gives float16); within one category the wider dtype wins."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def result_dtype(da, db, a_is_0d: bool = False, b_is_0d: bool = False) -> np.dtype:
    """The dtype of ``a <op> b`` for tensors of dtypes ``da``, ``db`` (PyTorch's rule).

    A 0-d tensor (like a Python scalar) only counts when its category is higher than the other
    operand's: float32 (n,) with float64 () stays float32; int64 (n,) with float64 () is float64.
    """
    if a_is_0d == b_is_0d:
        return promote_types(da, db)
    dim, zero = (db, da) if a_is_0d else (da, db)
    if dim.kind == "f" or (dim.kind != "b" and zero.kind != "f"):
        return dim
    return promote_types(dim, zero)


def is_floating(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


# ---------------------------------------------------------------- devices
class Device:
    """Where a tensor's data lives: ``Device('cpu')`` or ``Device('cuda:0')`` (needs CuPy)."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        spec = str(spec)
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu' or 'cuda[:N]'")
        if kind == "cuda" and _cupy is None:
            raise RuntimeError(f"device {spec!r} needs CuPy, which is not installed")
        self.type = kind
        self.index = (int(idx) if idx else 0) if kind == "cuda" else None

    @property
    def xp(self):
        return _cupy if self.type == "cuda" else np

    def __eq__(self, other):
        try:
            other = Device(other)
        except (ValueError, RuntimeError):
            return False
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


cpu = Device("cpu")
device = Device  # lamina.device("cpu"), as torch.device


def cuda_available() -> bool:
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover
        return False


def array_module(array):
    """numpy or cupy, whichever owns ``array``."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array) -> Device:
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return Device(f"cuda:{array.device.id}")
    return cpu


def to_device(array, device: Device):
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    if device.type == "cpu":
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return array
    with _cupy.cuda.Device(device.index):
        return _cupy.asarray(array)


# ---------------------------------------------------------------- random generators
class Generator:
    """A seeded source of random numbers (PCG64), like ``torch.Generator``.

    >>> g = Generator().manual_seed(0)
    >>> x = lamina.randn(3, generator=g)
    """

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed`` (an int in [-2**63, 2**64); negatives wrap, as torch)."""
        seed = _b.int(seed)
        if not -(2**63) <= seed < 2**64:
            raise RuntimeError(f"manual_seed: seed must be in [-2**63, 2**64), got {seed}")
        self._seed = seed + 0xFFFF_FFFF_FFFF_FFFF if seed < 0 else seed
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The generator's full state as a JSON-serialisable dict (for checkpoints)."""
        st = self._rng.bit_generator.state
        return {"seed": self._seed, "bit_generator": st["bit_generator"],
                "state": {k: _b.int(v) for k, v in st["state"].items()},
                "has_uint32": _b.int(st["has_uint32"]), "uinteger": _b.int(st["uinteger"])}

    def set_state(self, state: dict) -> "Generator":
        """Restore a state from ``get_state`` (the stream continues exactly where it was)."""
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError("set_state: expected a state dict from Generator.get_state()")
        self._seed = state["seed"]
        self._rng.bit_generator.state = {"bit_generator": state["bit_generator"], "state": dict(state["state"]),
                                         "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}
        return self

    @property
    def numpy(self) -> np.random.Generator:
        """The underlying NumPy generator (arrays are drawn on the CPU, then moved)."""
        return self._rng


default_generator = Generator().manual_seed(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, so that runs repeat exactly; returns it."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy


# ---------------------------------------------------------------- global switches (torch.* names)
_default_device = cpu


def get_default_device() -> Device:
    """The device tensors are created on when no ``device=`` is given (the CPU unless changed)."""
    return _default_device


def set_default_device(device) -> None:
    """Set the device returned by :func:`get_default_device` (``None`` means the CPU).

    Only the CPU is accepted for now: lamina's factory functions (zeros, randn, ...) create on
    the CPU unless given ``device=``, so a CUDA default would be silently ignored; 'cuda' raises
    instead (RuntimeError without CuPy/GPU, as a CPU-only PyTorch does; NotImplementedError
    with one: pass ``device=`` or use ``.to('cuda')``).
    """
    global _default_device
    if device is None:
        _default_device = cpu
        return
    dev = Device(device)
    if dev.type == "cuda":
        if not cuda_available():
            raise RuntimeError(f"set_default_device({str(device)!r}): no CUDA device is available")
        raise NotImplementedError(f"set_default_device({str(device)!r}): lamina's factory functions don't follow "
                                  "a CUDA default device yet; pass device= to them or move tensors with .to('cuda')")
    _default_device = dev


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms (``torch.use_deterministic_algorithms``).

    lamina's CPU kernels are deterministic already (each threaded op splits its work the same
    way every run and is tested against the one-part result), so the flag is recorded for the
    scripts and libraries that read it back with :func:`are_deterministic_algorithms_enabled`.
    """
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _deterministic["mode"], _deterministic["warn_only"] = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["mode"] and _deterministic["warn_only"]


_matmul_precision = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """'highest' | 'high' | 'medium', as ``torch.set_float32_matmul_precision``.

    Recorded only: float32 matmuls in lamina always run in full float32 (NumPy/BLAS; CuPy
    without TF32). An unknown value warns and changes nothing, as in PyTorch.
    """
    global _matmul_precision
    if precision not in ("highest", "high", "medium"):
        import warnings
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision
