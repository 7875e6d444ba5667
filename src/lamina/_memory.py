"""Memory policy: large arrays are recycled by malloc instead of being returned to the system.

glibc's malloc serves every block above 128 KB-32 MB (its dynamic ``mmap`` threshold) with a
fresh ``mmap`` and gives it back with ``munmap`` when freed. A training step allocates and
frees the same large intermediates (attention scores, activations, gradients) every time, so
every step paid the first-touch page faults of all of them again: an 8 MB attention-score
array cost 3 ms to fill when new and under 1 ms when reused.

lamina raises the mmap threshold to glibc's maximum (32 MB) and the trim threshold to 256 MB,
so freed blocks stay in the heap and the next step reuses them. Measured in one sitting on the
benchmark steps (2 cores): gpt 574 -> 450 ms, lstm 99 -> 76, cnn 76 -> 60, resnet 126 -> 101,
mlp 7.3 -> 6.5. The cost is up to 256 MB of freed memory kept by the process.

Only on glibc (Linux); a user's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
settings are left alone, and ``LAMINA_MALLOC_TUNING=0`` turns this off.

Importing lamina does not do this (malloc's settings are the whole process's, and glibc cannot
put them back): ``tune()`` is called by the ``lamina`` command, whose process is lamina's own,
and by a program that asks for it.
"""
import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20   # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20


def tune() -> bool:
    """Apply the policy; True if malloc accepted it."""
    if not sys.platform.startswith("linux") or os.environ.get("LAMINA_MALLOC_TUNING", "1") in ("0", "false"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False

