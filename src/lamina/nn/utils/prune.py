"""Pruning: zero out weights by a mask, with PyTorch's ``torch.nn.utils.prune`` API and layout.

Pruning ``module.<name>`` re-parametrises it: the learned tensor becomes the parameter
``<name>_orig``, the mask the buffer ``<name>_mask``, and a forward pre-hook recomputes the
plain attribute ``<name> = <name>_orig * <name>_mask`` before every forward, so gradients
reach ``<name>_orig`` only where the mask is 1. ``state_dict`` keys are torch's. Pruning the
same tensor again composes the masks (a ``PruningContainer``: the new method only sees the
entries, or channels, still alive); ``remove`` makes the pruning permanent.

    prune.l1_unstructured(model.fc1, "weight", amount=0.8)     # 80% smallest |w| -> 0
    prune.global_unstructured([(m, "weight") for m in layers], prune.L1Unstructured, amount=0.8)
    print(prune.sparsity(model))                                # zeros per layer and overall
    prune.remove(model.fc1, "weight")                           # weight is a plain Parameter again

``amount`` is a fraction in [0, 1] (of the entries, or channels, still unpruned) or a
non-negative int count. The random methods draw from lamina's default generator:
``lamina.manual_seed(s)`` repeats a mask (lamina's stream is not torch's, so the masks differ
from torch's for the same seed; their counts and structure are the same).
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

from ... import backend
from ...tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned", "pruned_tensors", "sparsity", "SparsityReport"]


# ---------------------------------------------------------------- argument checks (torch's types)
def _validate_pruning_amount_init(amount) -> None:
    if not isinstance(amount, numbers.Real) or amount is True:  # torch fails on True later (topk's k)
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_pruning_amount(amount, tensor_size: int) -> None:
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _compute_nparams_toprune(amount, tensor_size: int) -> int:
    """An int amount is a count; a float a fraction, rounded as Python's ``round`` (half to even)."""
    return int(amount) if isinstance(amount, numbers.Integral) else round(amount * tensor_size)


def _validate_structured_pruning(t: Tensor) -> None:
    if t.ndim <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {tuple(t.shape)} with {t.ndim} dims")


def _validate_pruning_dim(t: Tensor, dim: int) -> None:
    if dim >= t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _arr(t):
    return t.array if isinstance(t, Tensor) else t


def _check_shape(scores, shape, what: str) -> None:
    if tuple(scores.shape) != tuple(shape):
        raise AssertionError(f"importance_scores should have the same shape as {what} "
                             f"(got {tuple(scores.shape)}, expected {tuple(shape)})")


def _channel_mask(t, dim: int, keep) -> Tensor:
    """A mask of zeros with ones on the channels ``keep`` (indices or booleans) along ``dim``."""
    a = _arr(t)
    mask = backend.array_module(a).zeros_like(a)
    slc = [slice(None)] * a.ndim
    slc[dim] = keep
    mask[tuple(slc)] = 1
    return Tensor._wrap(mask)


# ---------------------------------------------------------------- the methods
class BasePruningMethod(ABC):
    """A pruning method: ``compute_mask(t, default_mask)`` says which entries of ``t`` survive.

    It is also the forward pre-hook that recomputes ``module.<name> = <name>_orig * <name>_mask``.
    Subclasses set ``PRUNING_TYPE`` ('unstructured', 'structured' with a ``dim``, or 'global').
    """

    _tensor_name: str | None = None
    PRUNING_TYPE = "unstructured"

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The new mask (shape of ``t``): ``default_mask`` with more entries set to 0."""

    def apply_mask(self, module) -> Tensor:
        """``<name>_orig * <name>_mask`` (differentiable in ``<name>_orig``)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        if mask.dtype != orig.dtype:
            mask = mask.to(dtype=orig.dtype)
        return mask * orig

    @classmethod
    def apply(cls, module, name: str, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, composing with earlier pruning.

        The mask is computed from ``importance_scores`` (same shape; default: the tensor itself).
        Returns the method (a ``PruningContainer`` when the tensor was pruned before).
        """
        old, old_key, found = None, None, 0
        for k, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old, old_key, found = hook, k, found + 1
        if found > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of module "
                                 f"{module}. Use a PruningContainer.")
        method = cls(*args, **kwargs)  # argument errors surface before the module changes
        method._tensor_name = name
        saved = None
        if old is not None:
            if isinstance(old, PruningContainer):
                saved = old._pruning_methods
                old.add_pruning_method(method)
                method = old
            else:
                new, method = method, PruningContainer(old)
                method.add_pruning_method(new)
        return _apply(module, name, method, old, old_key, saved, importance_scores)

    def prune(self, t: Tensor, default_mask: Tensor | None = None, importance_scores: Tensor | None = None) -> Tensor:
        """``t`` times the mask computed from ``importance_scores`` (default: ``t``)."""
        if importance_scores is not None:
            _check_shape(importance_scores, t.shape, "tensor t")
        else:
            importance_scores = t
        if default_mask is None:
            default_mask = Tensor._wrap(t.xp.ones_like(t.array))
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module) -> None:
        """Make the pruning permanent: ``<name>`` becomes a Parameter holding ``orig * mask`` (the
        ``<name>_orig`` Parameter object itself, so optimizers stay attached); mask and hook go."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        name = self._tensor_name
        if name in module.__dict__:
            delattr(module, name)
        orig = module._parameters[name + "_orig"]
        orig.data = weight.data
        del module._parameters[name + "_orig"]
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _apply(module, name, method, old, old_key, saved, importance_scores):
    """The shared second half of ``BasePruningMethod.apply`` (``method`` is already composed)."""
    orig = getattr(module, name)
    if orig is None or not isinstance(orig, Tensor):
        raise TypeError(f"cannot prune '{name}' of {type(module).__name__}: it is {type(orig).__name__}, "
                        "expected a Tensor")
    if importance_scores is not None:
        if not isinstance(importance_scores, Tensor):
            importance_scores = Tensor(importance_scores)
        _check_shape(importance_scores, orig.shape, f"parameter {name} of {module}")
    else:
        importance_scores = orig
    first = not isinstance(method, PruningContainer)
    if first:
        module.register_parameter(name + "_orig", orig)
        del module._parameters[name]
        default_mask = Tensor._wrap(orig.xp.ones_like(orig.array))
    else:
        default_mask = Tensor._wrap(getattr(module, name + "_mask").array.copy())
    try:
        mask = method.compute_mask(importance_scores, default_mask=default_mask)
        module.register_buffer(name + "_mask", mask)
        setattr(module, name, method.apply_mask(module))
    except Exception:
        if first:
            orig = getattr(module, name + "_orig")
            module.register_parameter(name, orig)
            del module._parameters[name + "_orig"]
        elif saved is not None:  # a container that was already there: take the new method out again
            method._pruning_methods = saved
        raise
    if old_key is not None:
        _drop_hook(module, old_key)
    module.register_forward_pre_hook(method)
    return method


def _drop_hook(module, key) -> None:
    del module._forward_pre_hooks[key]
    module._forward_pre_hooks_with_kwargs.discard(key)


class PruningContainer(BasePruningMethod):
    """The sequence of pruning methods applied to one tensor (iterative pruning).

    Its mask is the last method's mask computed on what the earlier masks left: the entries
    still 1 (unstructured), the channels along ``dim`` not yet all zero (structured), or the
    whole tensor ('global', e.g. ``CustomFromMask``); the result is multiplied into the old mask.
    """

    def __init__(self, *args):
        self._pruning_methods: tuple = ()
        if args:
            self._tensor_name = args[0]._tensor_name
        for method in args:
            self.add_pruning_method(method)

    def add_pruning_method(self, method) -> None:
        """Append ``method`` (a BasePruningMethod acting on the same tensor name)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' "
                             f"to PruningContainer {self}. Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        method = self._pruning_methods[-1]
        t_arr, mask = _arr(t), _arr(default_mask)
        new_mask = mask.astype(t_arr.dtype, copy=True)
        if method.PRUNING_TYPE == "unstructured":
            slc = mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the attribute '
                                     "`dim` defined.")
            n_dims = t_arr.ndim
            dim = method.dim + n_dims if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            keep = mask.sum(axis=tuple(d for d in range(n_dims) if d != dim)) != 0
            slc = [slice(None)] * n_dims
            slc[dim] = keep
            slc = tuple(slc)
        elif method.PRUNING_TYPE == "global":
            slc = (slice(None),) * t_arr.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(Tensor._wrap(t_arr[slc]), default_mask=Tensor._wrap(mask[slc]))
        new_mask[slc] = _arr(partial).astype(new_mask.dtype, copy=False)
        return Tensor._wrap(new_mask)

    def __repr__(self):
        return f"PruningContainer({', '.join(map(repr, self._pruning_methods))})"


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is all ones (adds the reparametrisation only)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


def _unstructured_mask(default_mask, flat_pruned_idx) -> Tensor:
    mask = _arr(default_mask).copy()
    mask.reshape(-1)[flat_pruned_idx] = 0
    return Tensor._wrap(mask)


def _smallest(xp, values, k: int):
    """Indices of the ``k`` smallest ``values`` (1-D)."""
    if k >= values.shape[0]:
        return xp.arange(values.shape[0])
    return xp.argpartition(values, k - 1)[:k] if k > 0 else xp.arange(0)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` entries chosen uniformly at random (lamina's default generator)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = int(np.prod(t.shape))
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        if k == 0:
            return Tensor._wrap(_arr(default_mask).copy())
        idx = backend.rng(None).permutation(size)[:k]
        return _unstructured_mask(default_mask, t.xp.asarray(idx))

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` entries of smallest absolute value."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = int(np.prod(t.shape))
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        a = _arr(t)
        if k == 0:
            return Tensor._wrap(_arr(default_mask).copy())
        return _unstructured_mask(default_mask, _smallest(t.xp, t.xp.abs(a).reshape(-1), k))

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` whole channels along ``dim``, chosen uniformly at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim: int = -1):
        _validate_pruning_amount_init(amount)
        self.amount, self.dim = amount, dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        channels = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, channels)
        _validate_pruning_amount(k, channels)
        if k == 0:
            return default_mask
        keep = np.ones(channels, dtype=bool)
        keep[backend.rng(None).permutation(channels)[:k]] = False
        mask = _channel_mask(t, self.dim, t.xp.asarray(keep))
        return Tensor._wrap(mask.array * _arr(default_mask).astype(mask.dtype, copy=False))

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


def _channel_norms(a, n, dim: int):
    """The Ln norm of each slice of ``a`` along ``dim`` (torch.norm's p: number, inf, -inf, 'fro', 'nuc')."""
    xp = backend.array_module(a)
    dims = tuple(d for d in range(a.ndim) if d != dim % a.ndim)
    x = xp.abs(a.astype(np.float64))
    if n in ("nuc", "fro"):  # matrix norms, as torch.norm: exactly two reduced dims
        if len(dims) != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple (the {n!r} norm of each channel needs "
                               f"a 3-D tensor), got a tensor of shape {tuple(a.shape)}")
        if n == "nuc":
            mats = xp.moveaxis(a.astype(np.float64), dim % a.ndim, 0)
            return xp.linalg.svd(mats, compute_uv=False).sum(axis=-1)
        n = 2
    if not isinstance(n, numbers.Real):
        raise ValueError(f"LnStructured: n must be a number, inf, -inf, 'fro' or 'nuc', got {n!r}")
    if n == np.inf:
        return x.max(axis=dims)
    if n == -np.inf:
        return x.min(axis=dims)
    if n == 0:
        return (x != 0).sum(axis=dims).astype(np.float64)
    with np.errstate(divide="ignore"):
        return (x ** n).sum(axis=dims) ** (1.0 / n)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` channels along ``dim`` with the smallest Ln norm (``n`` as torch.norm's p)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim: int = -1):
        _validate_pruning_amount_init(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        channels = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, channels)
        _validate_pruning_amount(k, channels)
        if k == 0:
            return default_mask
        norms = _channel_norms(_arr(t), self.n, self.dim)
        xp = t.xp
        keep = xp.ones(channels, dtype=bool)
        keep[_smallest(xp, norms, k)] = False
        mask = _channel_mask(t, self.dim, keep)
        return Tensor._wrap(mask.array * _arr(default_mask).astype(mask.dtype, copy=False))

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` is 0 (multiplied into any earlier mask)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask if isinstance(mask, Tensor) else Tensor(mask)

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise AssertionError(f"CustomFromMask: the mask has shape {tuple(self.mask.shape)}, the tensor "
                                 f"{tuple(default_mask.shape)}")
        d = _arr(default_mask)
        return Tensor._wrap(d * self.mask.array.astype(d.dtype, copy=False))

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)

    def __repr__(self):
        return f"CustomFromMask(mask of shape {tuple(self.mask.shape)})"


# ---------------------------------------------------------------- functional interface
def identity(module, name: str):
    """Add the pruning reparametrisation to ``module.<name>`` with an all-ones mask; returns ``module``."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name: str, amount):
    """Prune ``amount`` (fraction or count) random entries of ``module.<name>``; returns ``module``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name: str, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.<name>`` with the smallest |score| (default score: the
    tensor); returns ``module``.

    >>> prune.l1_unstructured(layer, "weight", amount=0.5)
    >>> layer.weight_mask.sum()          # half of the entries survive
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name: str, amount, dim: int):
    """Prune ``amount`` random channels of ``module.<name>`` along ``dim``; returns ``module``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name: str, amount, n, dim: int, importance_scores=None):
    """Prune the ``amount`` channels along ``dim`` with the smallest Ln norm (``n``: 1, 2, inf, 'fro',
    ...) of their scores; returns ``module``. ``dim=0`` removes conv output channels (Linear rows)."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name: str, mask):
    """Prune ``module.<name>`` where ``mask`` (same shape) is 0; returns ``module``."""
    CustomFromMask.apply(module, name, mask=mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune the ``(module, name)`` tensors of ``parameters`` together, as one vector: with
    ``L1Unstructured`` and ``amount=0.8`` the 80% smallest entries over all of them (each tensor
    keeps its own mask). ``importance_scores``: ``{(module, name): scores}`` to rank by instead.

    >>> prune.global_unstructured([(model.fc1, "weight"), (model.fc2, "weight")],
    ...                           pruning_method=prune.L1Unstructured, amount=0.8)
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    if not parameters:
        raise ValueError("global_unstructured(): parameters is empty")
    scores, masks = [], []
    for module, name in parameters:
        t = getattr(module, name)
        s = importance_scores.get((module, name), t)
        s = _arr(s) if isinstance(s, Tensor) else np.asarray(s)
        _check_shape(s, t.shape, f"parameter {name} of {module}")
        scores.append(s.reshape(-1))
        m = getattr(module, name + "_mask", None)
        masks.append(t.xp.ones(int(np.prod(t.shape)), dtype=t.dtype) if m is None else _arr(m).reshape(-1))
    xp = backend.array_module(scores[0])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    final = _arr(container.compute_mask(Tensor._wrap(xp.concatenate(scores)),
                                        Tensor._wrap(xp.concatenate([m.astype(scores[0].dtype) for m in masks]))))
    start = 0
    for module, name in parameters:
        t = getattr(module, name)
        n = int(np.prod(t.shape))
        custom_from_mask(module, name, mask=Tensor._wrap(final[start:start + n].reshape(t.shape)))
        start += n


def remove(module, name: str):
    """Make the pruning of ``module.<name>`` permanent (``<name>`` is again a Parameter, holding the
    pruned values; ``<name>_orig``, ``<name>_mask`` and the hook are gone); returns ``module``."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            _drop_hook(module, k)
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module) -> bool:
    """True if ``module`` or any submodule has a pruning hook."""
    return any(isinstance(h, BasePruningMethod) for m in module.modules() for h in m._forward_pre_hooks.values())


def pruned_tensors(module) -> list:
    """``(dotted name, module, tensor name)`` for every pruned tensor under ``module``."""
    out = []
    for prefix, m in module.named_modules():
        for h in m._forward_pre_hooks.values():
            if isinstance(h, BasePruningMethod):
                out.append(((prefix + "." if prefix else "") + h._tensor_name, m, h._tensor_name))
    return out


# ---------------------------------------------------------------- sparsity reports
class SparsityReport(dict):
    """``{tensor name: fraction of zero entries, ..., 'global': overall fraction}``; ``counts`` holds
    ``(zeros, total, shape)`` per name, and ``str(report)`` (``print``) is a table."""

    def __init__(self, counts: dict):
        self.counts = dict(counts)
        zeros = sum(c[0] for c in counts.values())
        total = sum(c[1] for c in counts.values())
        super().__init__({k: (z / n if n else 0.0) for k, (z, n, _) in counts.items()})
        self["global"] = zeros / total if total else 0.0
        self.zeros, self.total = zeros, total

    def table(self) -> str:
        """A fixed-width table: tensor, shape, zeros / total, sparsity."""
        rows = [(k, "x".join(map(str, shape)) or "scalar", f"{z} / {n}", f"{100 * self[k]:.2f}%")
                for k, (z, n, shape) in self.counts.items()]
        rows.append(("global", "", f"{self.zeros} / {self.total}", f"{100 * self['global']:.2f}%"))
        head = ("tensor", "shape", "zeros / total", "sparsity")
        w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
        line = lambda r: f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}"  # noqa: E731
        return "\n".join([line(head), "-" * (sum(w) + 6)] + [line(r) for r in rows])

    def __str__(self) -> str:
        return self.table()


def sparsity(model, parameters=None) -> SparsityReport:
    """The fraction of zero entries per weight and overall, as a ``SparsityReport`` (a dict that
    prints as a table).

    By default: every pruned tensor (its effective value ``orig * mask``) and every other
    parameter named ``weight`` with 2 or more dims (Linear, conv, embedding weights), so a dense
    model and a pruned one report the same rows. ``parameters``: ``(module, name)`` pairs instead.

    >>> print(prune.sparsity(model))
    >>> prune.sparsity(model)["global"]       # 0.8
    """
    names = {id(m): p for p, m in model.named_modules()}

    def key(m, n):
        p = names.get(id(m))
        return n if not p else f"{p}.{n}"

    if parameters is None:
        pairs = [(m, n) for _, m, n in pruned_tensors(model)]
        seen = {(id(m), n) for m, n in pairs}
        for prefix, m in model.named_modules():
            w = m._parameters.get("weight")
            if w is not None and w.ndim >= 2 and (id(m), "weight") not in seen:
                pairs.append((m, "weight"))
        order = {id(m): i for i, m in enumerate(model.modules())}
        pairs.sort(key=lambda mn: (order.get(id(mn[0]), -1), mn[1]))
    else:
        pairs = list(parameters)
    counts = {}
    for m, n in pairs:
        if n + "_mask" in m._buffers and n + "_orig" in m._parameters:
            a = _arr(m._parameters[n + "_orig"]) * _arr(m._buffers[n + "_mask"])
        else:
            a = _arr(getattr(m, n))
        counts[key(m, n)] = (int(a.size - int(backend.array_module(a).count_nonzero(a))), int(a.size),
                             tuple(a.shape))
    return SparsityReport(counts)
