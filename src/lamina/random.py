"""``lamina.random``: the default generator's controls under torch.random's names.

    with lamina.random.fork_rng():      # draws inside don't change the stream outside
        noise = lamina.randn(3)
"""
from __future__ import annotations

import contextlib

from .backend import default_generator, get_rng_state, initial_seed, manual_seed, set_rng_state

__all__ = ["default_generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed",
           "set_rng_state"]


def seed() -> int:
    """Seed the default generator from the operating system's entropy; return the seed."""
    from ._toplevel import seed as _seed
    return _seed()


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str = "cuda"):
    """Restore the default generator's state on exit (``devices``/``device_type``: accepted; lamina
    draws every random number from its CPU generators)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
