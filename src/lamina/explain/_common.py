"""What every attribution method shares: inputs as Tensors, the model's score for a target class,
eval mode during an explanation, batched evaluation, and module paths with "did you mean".

A *model* here is any callable ``model(x, **forward_kwargs)`` returning scores (N, C) (logits, or
probabilities if the model applies softmax itself), or (N,) for a single output; a tuple output
(e.g. GPT's ``(logits, loss)``) is read through its first element.
"""
from __future__ import annotations

import contextlib
import difflib
import numbers

import numpy as np

from .. import backend
from ..autograd import enable_grad, grad, no_grad
from ..tensor import Tensor

__all__ = ["as_tensor", "forward_scores", "resolve_target", "target_scores", "input_gradient", "eval_mode",
           "find_module", "repeat_batch", "to_numpy", "batched"]


def _model_device(model):
    params = getattr(model, "parameters", None)
    if params is None:
        return None
    for p in params():
        return p.device
    return None


def as_tensor(inputs, model=None, dtype=None) -> Tensor:
    """A fresh float Tensor (no graph) holding ``inputs`` (Tensor, array or nested list), on the model's device."""
    arr = inputs.array if isinstance(inputs, Tensor) else np.asarray(inputs)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(dtype or backend.get_default_dtype())
    elif dtype is not None:
        arr = arr.astype(dtype)
    t = Tensor._wrap(arr.copy())
    dev = _model_device(model) if model is not None else None
    if dev is not None and t.device != dev:
        t = t.to(dev)
    return t


def to_numpy(t) -> np.ndarray:
    """A NumPy copy of a Tensor or xp array (from the GPU if needed)."""
    if isinstance(t, Tensor):
        t = t.array
    return np.array(t.get() if hasattr(t, "get") else t)


def forward_scores(model, x, **forward_kwargs) -> Tensor:
    """model(x) as a Tensor of scores (N, C) or (N,); a tuple/list output gives its first element."""
    out = model(x, **forward_kwargs)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError(f"explain: the model must return a Tensor of scores (N, C), got {type(out).__name__}")
    if out.ndim not in (1, 2):
        raise ValueError(f"explain: the model's output must be (N, C) scores or (N,) values, got shape "
                         f"{tuple(out.shape)}; wrap the model so that it returns one score per class")
    return out


def resolve_target(target, out: Tensor) -> np.ndarray | None:
    """The target class of each example as an int64 array (N,), checked against the output width.

    None: the predicted class (argmax) for (N, C) outputs, nothing for (N,) outputs. An int: the same
    class for every example; a sequence/array/Tensor of N ints: one per example.
    """
    n = out.shape[0]
    if out.ndim == 1:
        if target is not None:
            raise ValueError(f"explain: the model has one output per example (shape {tuple(out.shape)}); "
                             f"target must be None, got {target!r}")
        return None
    C = out.shape[1]
    if target is None:
        return to_numpy(out.array.argmax(1)).astype(np.int64)
    if isinstance(target, Tensor):
        target = to_numpy(target.array)
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        t = np.full(n, int(target), dtype=np.int64)
    else:
        t = np.asarray(target)
        if t.dtype.kind not in "iu" or t.shape not in ((n,), ()):
            raise ValueError(f"explain: target must be an int or {n} ints (one per example), got {target!r}")
        t = np.broadcast_to(t.astype(np.int64), (n,)).copy()
    bad = (t < 0) | (t >= C)
    if bad.any():
        raise IndexError(f"explain: target class {int(t[bad][0])} is out of range: the model has {C} classes "
                         f"(0..{C - 1})")
    return t


def target_scores(out: Tensor, target: np.ndarray | None) -> Tensor:
    """The (N,) scores out[i, target[i]] (or ``out`` itself for (N,) outputs), differentiable."""
    if target is None:
        return out
    idx = Tensor._wrap(out.xp.asarray(target)[:, None])
    return out.gather(1, idx)[:, 0]


def input_gradient(model, x: Tensor, target, **forward_kwargs):
    """(d score_target / d x as an xp array, target array, scores (N, C) array) for inputs ``x``."""
    with enable_grad():
        xg = Tensor._wrap(x.array).requires_grad_(True)
        out = forward_scores(model, xg, **forward_kwargs)
        t = resolve_target(target, out)
        g, = grad(target_scores(out, t).sum(), xg)
    return g.array, t, out.array


@contextlib.contextmanager
def eval_mode(model):
    """Put a Module in eval mode (no dropout, running BatchNorm statistics) for the block; restore after."""
    train = getattr(model, "train", None)
    was = getattr(model, "training", None)
    if train is None or was is None:
        yield model
        return
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def repeat_batch(value, times: int, n: int):
    """A forward argument repeated ``times`` along dim 0 when its first dim is the batch ``n``."""
    if isinstance(value, Tensor) and value.ndim and value.shape[0] == n:
        return Tensor._wrap(value.xp.concatenate([value.array] * times, 0))
    if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
        return np.concatenate([value] * times, 0)
    return value


def batched(total: int, batch_size: int | None):
    """Slices covering range(total) in chunks of ``batch_size`` (one chunk when None)."""
    if batch_size is None or batch_size >= total:
        return [slice(0, total)]
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"explain: batch size must be a positive int, got {batch_size!r}")
    return [slice(i, min(i + batch_size, total)) for i in range(0, total, batch_size)]


class ModuleNotFoundInModel(AttributeError, KeyError):
    """A module path the model does not have (an AttributeError as torch's ``get_submodule``, and a KeyError)."""

    def __str__(self):
        return str(self.args[0])


def find_module(model, path: str, what: str = "layer"):
    """The submodule at the dotted ``path`` ('features.3', 'layer3.0.conv2'); a wrong path raises
    ``ModuleNotFoundInModel`` naming the closest module paths (a module object is returned as it is)."""
    if not isinstance(path, str):
        return path
    named = dict(model.named_modules())
    if path in named:
        return named[path]
    names = [n for n in named if n]
    close = difflib.get_close_matches(path, names, n=3, cutoff=0.3)
    last = path.rsplit(".", 1)[-1]       # 'features.2' on a model whose conv is at '2' or 'body.2'
    close += [n for n in names if (n == last or n.endswith("." + last)) and n not in close][:3]
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise ModuleNotFoundInModel(f"{type(model).__name__} has no {what} {path!r}{hint} (module paths: "
                   f"{', '.join(names[:12])}{', ...' if len(names) > 12 else ''})")


@contextlib.contextmanager
def frozen_parameters(model):
    """Parameters stop requiring grad for the block, so input gradients skip the weight gradients."""
    params = [p for p in getattr(model, "parameters", lambda: [])() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


__all__ += ["frozen_parameters", "ModuleNotFoundInModel"]
