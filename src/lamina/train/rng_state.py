"""Every random generator's state, captured and restored together (for exact resume).

A resumed run draws the same numbers as an uninterrupted one only if *every* source of
randomness continues where it was: lamina's default generator (initialisation, dropout,
shuffling when a DataLoader has no generator of its own), any ``lamina.Generator`` the run
uses (pass them by name), NumPy's global generator and Python's ``random`` (user transforms
often use them). States are arrays and plain numbers, so ``lamina.io.save`` can store them.

    state = get_rng_states({"augment": g})
    ...
    set_rng_states(state, {"augment": g})
"""
from __future__ import annotations

import random

import numpy as np

from .. import backend

__all__ = ["get_rng_states", "set_rng_states"]


def _numpy_state() -> dict:
    st = np.random.get_state(legacy=False)
    return {"bit_generator": st["bit_generator"], "key": np.asarray(st["state"]["key"], dtype=np.uint32),
            "pos": int(st["state"]["pos"]), "has_gauss": int(st["has_gauss"]), "gauss": float(st["gauss"])}


def _set_numpy_state(st: dict) -> None:
    key = np.asarray(getattr(st["key"], "array", st["key"]), dtype=np.uint32)
    np.random.set_state({"bit_generator": st["bit_generator"], "state": {"key": key, "pos": int(st["pos"])},
                         "has_gauss": int(st["has_gauss"]), "gauss": float(st["gauss"])})


def _python_state() -> dict:
    version, internal, gauss_next = random.getstate()
    return {"version": version, "internal": np.asarray(internal, dtype=np.uint32), "gauss_next": gauss_next}


def _set_python_state(st: dict) -> None:
    internal = np.asarray(getattr(st["internal"], "array", st["internal"]))
    random.setstate((int(st["version"]), tuple(int(v) for v in internal.tolist()), st["gauss_next"]))


def get_rng_states(generators: dict | None = None) -> dict:
    """``{"lamina", "numpy", "python", "generators": {name: state}}`` of the current process."""
    return {"lamina": backend.get_rng_state(), "numpy": _numpy_state(), "python": _python_state(),
            "generators": {str(k): g.get_state() for k, g in (generators or {}).items()}}


def set_rng_states(state: dict, generators: dict | None = None) -> None:
    """Restore :func:`get_rng_states`; ``generators`` are matched by name (a saved name that has no
    generator here, or the reverse, is an error: the run would not repeat)."""
    backend.set_rng_state(_jsonable(state["lamina"]))
    _set_numpy_state(state["numpy"])
    _set_python_state(state["python"])
    saved, mine = state.get("generators") or {}, {str(k): g for k, g in (generators or {}).items()}
    if set(saved) != set(mine):
        raise ValueError(f"set_rng_states: the checkpoint holds generators {sorted(saved)} but the trainer has "
                         f"{sorted(mine)}; pass the same named generators to resume exactly")
    for name, g in mine.items():
        g.set_state(_jsonable(saved[name]))


def _jsonable(state):
    """Generator states are plain ints; undo a round trip that turned numbers into 0-d arrays."""
    if isinstance(state, dict):
        return {k: _jsonable(v) for k, v in state.items()}
    if isinstance(state, (np.ndarray, np.generic)) and np.ndim(state) == 0:
        return state.item()
    return state
