"""Run one unchanged PyTorch script under PyTorch or under lamina (through ``lamina.compat.as_torch()``)
and record every loss it backpropagates.

    python harness.py torch  SCRIPT OUT.json --save-init INIT.npz -- [script args]
    python harness.py lamina SCRIPT OUT.json --load-init INIT.npz -- [script args]

So that the two runs can be compared step by step, the harness (never the script) makes them
start from the same weights and draw the same random numbers:

* **weights**: the first time a parameter reaches an optimizer or ``Module.zero_grad()``, its value
  is saved (PyTorch run) or overwritten with the saved one (lamina run), in order;
* **randomness**: ``randn``/``rand``/``randint`` (and ``_like``), dropout (``F.dropout`` and
  ``nn.Dropout``) and ``Categorical.sample`` draw from one shared NumPy stream in both runs.
  What a framework draws inside its own kernels (dropout inside ``nn.LSTM`` or
  ``nn.MultiheadAttention``) is not covered: scripts that use it get looser tolerances.

Every scalar ``backward()`` appends the loss value to the record, which is written as JSON
with the number of optimizers seen.
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import sys

import numpy as np


def _install_framework(name: str):
    if name == "lamina":
        import lamina.compat
        lamina.compat.as_torch()
    import torch
    return torch


class SharedRandom:
    """One NumPy stream behind every random draw the harness intercepts."""

    def __init__(self, torch, seed: int = 1234):
        self.torch, self.rng = torch, np.random.default_rng(seed)

    def _tensor(self, arr, dtype=None, device=None, like=None):
        t = self.torch.from_numpy(np.ascontiguousarray(arr))
        if like is not None:
            dtype = dtype or like.dtype
        if dtype is not None:
            t = t.to(dtype)
        return t

    @staticmethod
    def _size(size):
        if len(size) == 1 and isinstance(size[0], (tuple, list)) or (len(size) == 1 and hasattr(size[0], "__len__")):
            return tuple(size[0])
        return tuple(int(s) for s in size)

    def randn(self, *size, dtype=None, device=None, requires_grad=False, generator=None, **kw):
        t = self._tensor(self.rng.standard_normal(self._size(size)).astype(np.float32), dtype)
        return t.requires_grad_() if requires_grad else t

    def rand(self, *size, dtype=None, device=None, requires_grad=False, generator=None, **kw):
        t = self._tensor(self.rng.random(self._size(size)).astype(np.float32), dtype)
        return t.requires_grad_() if requires_grad else t

    def randn_like(self, x, dtype=None, **kw):
        return self._tensor(self.rng.standard_normal(tuple(x.shape)).astype(np.float32), dtype, like=x)

    def rand_like(self, x, dtype=None, **kw):
        return self._tensor(self.rng.random(tuple(x.shape)).astype(np.float32), dtype, like=x)

    def randint(self, *args, size=None, generator=None, dtype=None, **kw):
        args = list(args)
        if size is None:
            size = args.pop()
        low, high = (0, args[0]) if len(args) == 1 else (args[0], args[1])
        arr = self.rng.integers(low, high, tuple(size)).astype(np.int64)
        return self._tensor(arr, dtype)

    def dropout(self, x, p=0.5, training=True, inplace=False):
        if not training or p == 0.0:
            return x
        keep = (self.rng.random(tuple(x.shape)) >= p).astype(np.float32) / np.float32(1.0 - p)
        return x * self._tensor(keep, like=x)

    def categorical_sample(self, dist, sample_shape=()):
        probs = dist.probs.detach().cpu().numpy().astype(np.float64)
        shape = tuple(sample_shape) + probs.shape[:-1]
        u = self.rng.random(shape)[..., None]
        cdf = np.cumsum(probs / probs.sum(-1, keepdims=True), axis=-1)
        idx = np.minimum((u > cdf).sum(-1), probs.shape[-1] - 1).astype(np.int64)
        return self.torch.from_numpy(np.ascontiguousarray(idx))


def _patch_randomness(torch, shared: SharedRandom) -> None:
    for name in ("randn", "rand", "randn_like", "rand_like", "randint"):
        setattr(torch, name, getattr(shared, name))
    import torch.nn.functional as F
    F.dropout = shared.dropout
    torch.nn.Dropout.forward = lambda self, x: shared.dropout(x, self.p, self.training)
    from torch.distributions import Categorical
    Categorical.sample = lambda self, sample_shape=(): shared.categorical_sample(self, sample_shape)


def _patch_weight_sync(torch, save: str | None, load: str | None, record: dict) -> None:
    """Same starting weights. The first time a parameter reaches an optimizer (its constructor) or
    a ``Module.zero_grad()`` (scripts that update by hand), its value is saved (PyTorch run) or
    overwritten with the saved one (lamina run). Both runs take the same code path, so the n-th
    such event names the same parameters in both."""
    loaded = dict(np.load(load)) if load else None
    saved, seen = {}, set()

    def sync(params):
        params = [p for p in params if id(p) not in seen]
        if not params:
            return
        k = record["syncs"]
        record["syncs"] += 1
        with torch.no_grad():
            for j, p in enumerate(params):
                seen.add(id(p))
                key = f"s{k}_p{j}"
                if loaded is not None:
                    if key not in loaded:
                        raise RuntimeError(f"the PyTorch run had no parameter {key}")
                    arr = loaded[key]
                    if tuple(arr.shape) != tuple(p.shape):
                        raise RuntimeError(f"{key}: PyTorch's shape {arr.shape}, lamina's {tuple(p.shape)}")
                    p.copy_(torch.from_numpy(arr.astype(np.float64)).to(p.dtype))
                else:
                    saved[key] = p.detach().cpu().numpy().copy()
        if save:
            np.savez(save, **saved)

    opt_init = torch.optim.Optimizer.__init__

    def init(self, params, *args, **kwargs):
        opt_init(self, params, *args, **kwargs)
        record["optimizers"] += 1
        sync([p for g in self.param_groups for p in g["params"]])

    zero_grad = torch.nn.Module.zero_grad

    def module_zero_grad(self, *args, **kwargs):
        sync(list(self.parameters()))
        return zero_grad(self, *args, **kwargs)

    torch.optim.Optimizer.__init__ = init
    torch.nn.Module.zero_grad = module_zero_grad


def _patch_backward(torch, record: dict) -> None:
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        if self.numel() == 1:
            record["losses"].append(float(self.detach().reshape(()).item()))
        return original(self, *args, **kwargs)

    torch.Tensor.backward = backward


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("framework", choices=("torch", "lamina"))
    p.add_argument("script")
    p.add_argument("out")
    p.add_argument("--save-init")
    p.add_argument("--load-init")
    a = p.parse_args(argv)
    torch = _install_framework(a.framework)
    record = {"losses": [], "optimizers": 0, "syncs": 0}
    _patch_randomness(torch, SharedRandom(torch))
    _patch_weight_sync(torch, a.save_init, a.load_init, record)
    _patch_backward(torch, record)
    sys.argv = [a.script] + script_args
    sys.path.insert(0, os.path.dirname(os.path.abspath(a.script)))
    np.random.seed(0)
    try:
        runpy.run_path(a.script, run_name="__main__")
    finally:
        with open(a.out, "w") as f:
            json.dump(record, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
