"""``functional_call(module, parameters_and_buffers, args)``: run a module with other tensors in
place of some of its parameters and buffers (meta-learning, per-example gradients), leaving the
module as it was afterwards."""
from __future__ import annotations

import contextlib

__all__ = ["functional_call"]


def _owner(module, dotted: str):
    *path, leaf = dotted.split(".")
    for p in path:
        module = getattr(module, p)
    return module, leaf


@contextlib.contextmanager
def _swapped(module, tensors: dict, strict: bool):
    known = dict(module.named_parameters(remove_duplicate=False)) | dict(module.named_buffers(remove_duplicate=False))
    unknown = [k for k in tensors if k not in known]
    if unknown:
        raise RuntimeError(f"functional_call: unexpected key(s) {unknown} (the module's are like {list(known)[:4]})")
    if strict:
        missing = [k for k in known if k not in tensors]
        if missing:
            raise RuntimeError(f"functional_call: missing key(s) {missing} (strict=True)")
    saved = []
    try:
        for name, value in tensors.items():
            owner, leaf = _owner(module, name)
            table = owner._parameters if leaf in owner._parameters else owner._buffers
            saved.append((table, leaf, table[leaf]))
            table[leaf] = value
        yield
    finally:
        for table, leaf, old in reversed(saved):
            table[leaf] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """``module(*args, **kwargs)`` computed with ``parameter_and_buffer_dicts`` (a dict, or a tuple of
    dicts) in place of the named parameters and buffers; gradients flow to the given tensors."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, (list, tuple)):
        merged = {}
        for d in dicts:
            dup = set(merged) & set(d)
            if dup:
                raise ValueError(f"functional_call: {sorted(dup)} appear in more than one dict")
            merged.update(d)
        dicts = merged
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    with _swapped(module, dict(dicts), strict):
        return module(*args, **(kwargs or {}))
