"""Optimizer: the base class of every optimizer (parameter groups, per-parameter state, state_dict).

An optimizer holds ``param_groups``, a list of dicts, each with ``'params'`` (a list of
Tensors) and the group's hyper-parameters (``'lr'``, ``'weight_decay'``, ...), and ``state``,
a dict from parameter to its own dict of buffers (``'step'``, ``'exp_avg'``, ...). ``step()``
updates every parameter that has a gradient, in place on ``p.array``, recording no graph.

    opt = optim.SGD([{"params": body.parameters()},
                     {"params": head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)
    loss.backward(); opt.step(); opt.zero_grad()

``state_dict()`` has PyTorch's layout: ``{'state': {index: {...}}, 'param_groups': [{...,
'params': [indices]}]}``, indices numbering the parameters in group order.
"""
from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from operator import is_

import numpy as np

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor

_K = None


def kernels():
    """The fused Numba kernels module (imported on first use: importing Numba takes ~0.5 s)."""
    global _K
    if _K is None:
        from . import _kernels
        _K = _kernels
    return _K


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: subclasses set ``defaults``, validate them in ``_check_group`` and implement
    ``_step_group(group)`` (the update of one parameter group)."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._views: dict = {}  # id(param) -> (kernels enabled, arrays, their flat views): see _flat_views
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params should be an iterable of Tensors or dicts, "
                            f"but got a single Tensor (shape {params.shape}); pass [tensor]")
        if isinstance(params, dict):
            params = [params]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be given in an ordered collection (a list), "
                            "not a set, whose order changes between runs")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{self._name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ------------------------------------------------------------ groups
    def _check_group(self, group: dict) -> None:
        """Raise a ValueError naming the optimizer and the bad hyper-parameter (subclasses)."""
        if "lr" in group and not group["lr"] >= 0.0:
            raise ValueError(f"{self._name}: invalid learning rate lr={group['lr']} (must be >= 0)")

    def _invalid(self, what: str, value, rule: str):
        raise ValueError(f"{self._name}: invalid {what}={value!r} ({rule})")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{self._name}.add_param_group: the group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be given in an ordered collection (a list), "
                            "not a set, whose order changes between runs")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{self._name}: give every parameter of a group a name, or none")
            group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name} can only optimize Tensors, but params[{i}] is a {type(p).__name__}")
            if p.dtype.kind not in "fc":
                raise TypeError(f"{self._name} can only optimize floating point tensors, "
                                f"but params[{i}] (shape {p.shape}) is {p.dtype}")
            if not p.is_leaf:
                raise ValueError(f"{self._name} can't optimize a non-leaf Tensor (params[{i}], shape {p.shape}, "
                                 f"made by {p.grad_fn.name}); optimize the leaf it was computed from")
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{self._name}: parameter group didn't specify a value of required "
                                 f"optimization parameter {key}")
            group.setdefault(key, default)
        self._check_group(group)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            warnings.warn(f"{self._name}: a parameter group contains the same parameter more than once",
                          stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        if ("param_names" in group) != any("param_names" in g for g in self.param_groups) and self.param_groups:
            raise ValueError(f"{self._name}: all parameter groups should be with names or all without")
        self.param_groups.append(group)

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: ``p.grad = None`` (default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif g._ctx is not None or not getattr(g.array.flags, "writeable", True):
                    p.grad = Tensor._wrap(g.xp.zeros_like(g.array))
                else:
                    g.array.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure()`` (optional) recomputes the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self._name} does not implement _step_group (or step)")

    def _grad(self, p: Tensor):
        """``p.grad``'s array, checked against ``p``'s shape (None when p has no gradient)."""
        g = p.grad
        if g is None:
            return None
        if g.shape != p.shape:
            raise RuntimeError(f"{self._name}: gradient of shape {g.shape} for a parameter of shape {p.shape}")
        return g.array

    @staticmethod
    def _new_step():
        return Tensor._wrap(np.zeros((), dtype=np.float32))

    @staticmethod
    def _bump_step(state: dict) -> float:
        """state['step'] += 1 (a float32 0-d tensor, as in PyTorch); returns the new value."""
        arr = state["step"].array
        arr[()] = arr.item() + 1
        return arr.item()

    def _flat_views(self, p: Tensor, arrays: tuple):
        """Flat views of ``arrays`` (p.array and its state buffers) for the fused kernels, or None
        when one of them can't be used (not NumPy, not C-contiguous, not float32/64, kernels off).

        Cached while the same array objects are in use, so a step costs identity checks only."""
        K = kernels()
        c = self._views.get(id(p))
        if c is not None and c[0] == K.ENABLED and all(map(is_, c[1], arrays)):
            return c[2]
        views = tuple(K.flat(a) for a in arrays)
        views = None if any(v is None for v in views) else views
        self._views[id(p)] = (K.ENABLED, arrays, views)
        return views

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's layout.

        ``{'state': {i: {'step': tensor, 'exp_avg': tensor, ...}}, 'param_groups': [{'lr': ...,
        'params': [i, ...]}]}`` where ``i`` numbers the parameters in group order. As in PyTorch
        the tensors share memory with the live state: ``copy.deepcopy`` it to keep a snapshot.
        """
        mapping: dict = {}
        groups = []
        start = 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for i, p in enumerate(g["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in g["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {}
        for k, v in self.state.items():
            key = mapping.get(id(k)) if isinstance(k, Tensor) else k
            if key is not None:
                state[key] = dict(v)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state from ``state_dict()`` (of this optimizer type and the same parameters).

        Values are copied and cast to each parameter's dtype and device ('step' stays float32).
        Raises a ValueError when the number of groups, of parameters per group, or a state
        buffer's shape does not match.
        """
        name = self._name
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', "
                             f"got {type(state_dict).__name__}"
                             + (f" with keys {sorted(map(str, state_dict))}" if isinstance(state_dict, dict) else ""))
        groups, saved = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved)} parameter groups, "
                             f"the optimizer has {len(groups)}")
        for i, (g, s) in enumerate(zip(groups, saved)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(s['params'])} parameters "
                                 f"in the state dict but {len(g['params'])} in the optimizer")
        id_map = {}
        for g, s in zip(groups, saved):
            for idx, p in zip(s["params"], g["params"]):
                id_map[_as_key(idx)] = p
        new_state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            p = id_map.get(_as_key(k))
            if p is None:
                new_state[k] = copy.deepcopy(v)
                continue
            new_state[p] = {key: self._cast_state(p, k, key, val) for key, val in v.items()}
        new_groups = []
        for g, s in zip(groups, saved):
            ng = {}
            for key, val in s.items():
                if key == "params":
                    continue
                if isinstance(g.get(key), tuple) and isinstance(val, list):
                    val = tuple(val)  # JSON turns tuples (betas) into lists
                ng[key] = copy.deepcopy(val)
            for key, default in self.defaults.items():  # keys added after the state was saved
                ng.setdefault(key, default)
            ng["params"] = g["params"]
            if "param_names" in g:
                ng["param_names"] = g["param_names"]
            new_groups.append(ng)
        for ng in new_groups:
            self._check_group(ng)
        self.state = new_state
        self.param_groups = new_groups
        self._views.clear()

    # State entries kept as float32 0-d tensors whatever the parameter's dtype (as in PyTorch).
    _scalar_state: tuple = ("step",)

    def _state_shape(self, p: Tensor, key) -> tuple:
        """The shape state buffer ``key`` of ``p`` must have (the parameter's, unless a subclass says)."""
        return tuple(p.shape)

    def _cast_state(self, p: Tensor, index, key, value):
        if value is None:
            return None
        if key in self._scalar_state:
            arr = _to_numpy(value)
            if arr is None:
                raise ValueError(f"{self._name}.load_state_dict: '{key}' of parameter {index} is a "
                                 f"{type(value).__name__}, expected a number or a 0-d tensor")
            return Tensor._wrap(np.array(arr, dtype=np.float32).reshape(()))
        if isinstance(value, Tensor):
            arr = value.array
        elif isinstance(value, np.ndarray) or backend.array_module(value) is not np:
            arr = value
        elif hasattr(value, "__array__") and hasattr(value, "shape"):  # e.g. a torch tensor
            arr = np.asarray(value)
        elif (isinstance(value, (list, tuple)) and len(self._state_shape(p, key)) > 0
              and _shape(value) == self._state_shape(p, key)):
            arr = np.asarray(value)  # nested lists (a JSON dump) of the buffer's shape
        else:
            return copy.deepcopy(value)  # numbers, lists, strings: kept as they are
        expected = self._state_shape(p, key)
        if tuple(arr.shape) != expected:
            what = "the parameter has" if expected == tuple(p.shape) else "expected"
            raise ValueError(f"{self._name}.load_state_dict: state '{key}' of parameter {index} has shape "
                             f"{tuple(arr.shape)}, but {what} shape {expected}")
        arr = backend.to_device(arr, p.device)
        xp = p.xp
        dtype = p.dtype if p.dtype.kind in "fc" else arr.dtype
        order = "C" if p.array.flags.c_contiguous else "K"
        return Tensor._wrap(xp.array(arr, dtype=dtype, order=order, copy=True))

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def _as_key(k):
    """State-dict indices may come back from JSON as strings: '3' -> 3."""
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return int(k)
    return k


def _shape(value):
    try:
        return np.shape(value)
    except ValueError:  # ragged
        return None


def _to_numpy(value):
    """A NumPy array from a lamina Tensor, an array, a number, or anything with __array__ (torch)."""
    if isinstance(value, Tensor):
        return backend.to_device(value.array, backend.cpu)
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float, np.number)):
        return np.asarray(value)
    if hasattr(value, "__array__"):
        try:
            return np.asarray(value)
        except Exception:
            return None
    if hasattr(value, "get") and hasattr(value, "shape"):  # cupy
        return value.get()
    return None
