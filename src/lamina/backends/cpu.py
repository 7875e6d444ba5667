"""``torch.backends.cpu``: what the CPU's vector units support (NumPy's own detection)."""
from __future__ import annotations


def get_cpu_capability() -> str:
    """'AVX512', 'AVX2' or 'DEFAULT', as PyTorch names its CPU kernel levels."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # pragma: no cover - NumPy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as feats
        except ImportError:
            return "DEFAULT"
    if feats.get("AVX512F") and feats.get("AVX512BW"):
        return "AVX512"
    if feats.get("AVX2"):
        return "AVX2"
    return "DEFAULT"


def recycle_large_arrays() -> bool:
    """Ask glibc's malloc to keep freed blocks up to 32 MB for reuse (mmap threshold 32 MB, trim
    threshold 256 MB) instead of returning them to the system and page-faulting them in again every
    training step (5-20% of a step on the benchmark workloads). Process-wide and permanent (glibc
    cannot restore its automatic thresholds), so lamina never does it on import: the ``lamina``
    command does it, and a training script may. True if malloc accepted it; False elsewhere, with
    ``LAMINA_MALLOC_TUNING=0``, or when ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` are set."""
    from .._memory import tune
    return tune()
