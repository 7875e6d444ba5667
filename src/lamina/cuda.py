"""lamina.cuda: the ``torch.cuda`` functions scripts call, backed by CuPy when it is installed.

On a machine without CuPy or without a GPU everything answers as a CPU-only PyTorch does:
``is_available()`` is False, ``device_count()`` 0, the memory counters 0, seeding is silently
ignored, and the calls that need a device (``current_device``, ``synchronize``,
``get_device_name``, ...) raise :class:`CudaUnavailableError`, which is both a RuntimeError (what
a CUDA build of PyTorch raises without a GPU) and an AssertionError (what a CPU-only build raises),
so either ``except`` clause catches it.

    device = "cuda" if lamina.cuda.is_available() else "cpu"
    print(lamina.cuda.memory_allocated())          # 0 on the CPU

lamina draws random numbers on the CPU from one generator and moves them (backend.py), so
``manual_seed`` here seeds that generator when a GPU is present (the one GPU tensors draw from).
"""
from __future__ import annotations

from types import SimpleNamespace

from . import backend

__all__ = ["CudaUnavailableError", "OutOfMemoryError", "current_device", "device", "device_count", "empty_cache",
           "get_arch_list", "get_device_capability", "get_device_name", "get_device_properties", "get_rng_state",
           "initial_seed", "is_available", "is_bf16_supported", "is_initialized", "manual_seed", "manual_seed_all",
           "max_memory_allocated", "max_memory_reserved", "mem_get_info", "memory_allocated", "memory_reserved",
           "memory_summary", "reset_max_memory_allocated", "reset_peak_memory_stats", "seed", "seed_all",
           "set_device", "set_rng_state", "synchronize"]


class CudaUnavailableError(RuntimeError, AssertionError):
    """A CUDA call on a machine where lamina has no GPU (no CuPy, or no device found)."""


_cupy = backend._cupy
if _cupy is not None:  # pragma: no cover - needs CuPy
    OutOfMemoryError = _cupy.cuda.memory.OutOfMemoryError
else:
    class OutOfMemoryError(RuntimeError):
        """Raised when the GPU runs out of memory (CuPy's error when CuPy is installed)."""


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return backend.cuda_available()


def is_initialized() -> bool:
    return is_available()


def device_count() -> int:
    if not is_available():
        return 0
    return int(_cupy.cuda.runtime.getDeviceCount())  # pragma: no cover - needs a GPU


def _require(what: str) -> None:
    if not is_available():
        why = "CuPy is not installed" if _cupy is None else "no CUDA GPU was found"
        raise CudaUnavailableError(f"lamina.cuda.{what}: no CUDA device is available ({why}); "
                                   "check lamina.cuda.is_available() first")


def _index(device) -> int:
    """The GPU index meant by ``device`` (None: the current one; int; 'cuda:1'; a Device)."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    d = backend.Device(device)
    if d.type != "cuda":
        raise ValueError(f"expected a CUDA device, got {device!r}")
    return d.index


def current_device() -> int:
    """The index of the current GPU."""
    _require("current_device")
    return int(_cupy.cuda.runtime.getDevice())  # pragma: no cover - needs a GPU


def set_device(device) -> None:
    """Make ``device`` the current GPU (a negative index does nothing, as in PyTorch)."""
    if isinstance(device, int) and device < 0:
        return
    _require("set_device")
    _cupy.cuda.runtime.setDevice(_index(device))  # pragma: no cover - needs a GPU


class device:
    """``with lamina.cuda.device(1): ...`` runs the block with GPU 1 current (-1 / None: no-op)."""

    def __init__(self, device):
        self.idx = -1 if device is None else (device if isinstance(device, int) else _index(device))
        self.prev = -1

    def __enter__(self):
        if self.idx >= 0:
            _require("device")
            self.prev = current_device()  # pragma: no cover - needs a GPU
            set_device(self.idx)  # pragma: no cover
        return self

    def __exit__(self, *exc):
        if self.prev >= 0:  # pragma: no cover - needs a GPU
            set_device(self.prev)
        return False


def synchronize(device=None) -> None:
    """Wait until every kernel queued on ``device`` (default: the current GPU) has finished."""
    _require("synchronize")
    with _cupy.cuda.Device(_index(device)) as d:  # pragma: no cover - needs a GPU
        d.synchronize()


def get_device_properties(device=None) -> SimpleNamespace:
    """name, total_memory, major, minor, multi_processor_count of a GPU."""
    _require("get_device_properties")
    p = _cupy.cuda.runtime.getDeviceProperties(_index(device))  # pragma: no cover - needs a GPU
    name = p["name"].decode() if isinstance(p["name"], bytes) else str(p["name"])  # pragma: no cover
    return SimpleNamespace(name=name, total_memory=int(p["totalGlobalMem"]), major=int(p["major"]),  # pragma: no cover
                           minor=int(p["minor"]), multi_processor_count=int(p["multiProcessorCount"]))


def get_device_name(device=None) -> str:
    _require("get_device_name")
    return get_device_properties(device).name  # pragma: no cover - needs a GPU


def get_device_capability(device=None) -> tuple[int, int]:
    _require("get_device_capability")
    p = get_device_properties(device)  # pragma: no cover - needs a GPU
    return p.major, p.minor  # pragma: no cover


def get_arch_list() -> list:
    return []


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: lamina has no bfloat16 dtype (NumPy has none); bfloat16 weights load as float32."""
    return False


# ---------------------------------------------------------------- memory (CuPy's default pool)
_peak = {"allocated": 0, "reserved": 0}


def memory_allocated(device=None) -> int:
    """Bytes held by live GPU arrays (CuPy's memory pool); 0 without a GPU, as in PyTorch."""
    if not is_available():
        return 0
    used = int(_cupy.get_default_memory_pool().used_bytes())  # pragma: no cover - needs a GPU
    _peak["allocated"] = max(_peak["allocated"], used)  # pragma: no cover
    return used  # pragma: no cover


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds from the driver (used + cached); 0 without a GPU."""
    if not is_available():
        return 0
    total = int(_cupy.get_default_memory_pool().total_bytes())  # pragma: no cover - needs a GPU
    _peak["reserved"] = max(_peak["reserved"], total)  # pragma: no cover
    return total  # pragma: no cover


def max_memory_allocated(device=None) -> int:
    """The largest :func:`memory_allocated` seen so far. CuPy keeps no peak counter, so this is the
    peak over the moments lamina asked (each call to a memory function), not every allocation."""
    memory_allocated(device)
    return _peak["allocated"]


def max_memory_reserved(device=None) -> int:
    memory_reserved(device)
    return _peak["reserved"]


def reset_peak_memory_stats(device=None) -> None:
    _peak["allocated"], _peak["reserved"] = 0, 0


reset_max_memory_allocated = reset_peak_memory_stats


def empty_cache() -> None:
    """Give the memory pool's cached blocks back to the driver (nothing to do without a GPU)."""
    if is_available():
        _cupy.get_default_memory_pool().free_all_blocks()  # pragma: no cover - needs a GPU


def mem_get_info(device=None) -> tuple[int, int]:
    """(free, total) bytes of GPU memory."""
    _require("mem_get_info")
    with _cupy.cuda.Device(_index(device)):  # pragma: no cover - needs a GPU
        free, total = _cupy.cuda.runtime.memGetInfo()
    return int(free), int(total)  # pragma: no cover


def memory_summary(device=None, abbreviated: bool = False) -> str:
    return (f"lamina.cuda memory: allocated {memory_allocated(device)} B (peak {max_memory_allocated(device)} B), "
            f"reserved {memory_reserved(device)} B (peak {max_memory_reserved(device)} B)")


# ---------------------------------------------------------------- random numbers
def manual_seed(seed: int) -> None:
    """Seed the generator GPU tensors draw from (lamina's default one); ignored without a GPU,
    as PyTorch ignores it."""
    if is_available():
        backend.manual_seed(seed)  # pragma: no cover - needs a GPU


manual_seed_all = manual_seed


def seed() -> None:
    if is_available():
        backend.default_generator.seed()  # pragma: no cover - needs a GPU


seed_all = seed


def initial_seed() -> int:
    _require("initial_seed")
    return backend.initial_seed()  # pragma: no cover - needs a GPU


def get_rng_state(device="cuda") -> dict:
    _require("get_rng_state")
    return backend.get_rng_state()  # pragma: no cover - needs a GPU


def set_rng_state(new_state, device="cuda") -> None:
    if is_available():
        backend.set_rng_state(new_state)  # pragma: no cover - needs a GPU
