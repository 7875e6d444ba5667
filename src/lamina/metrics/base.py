"""The ``Metric`` base class: a value accumulated batch by batch, as in Keras and torchmetrics.

A metric keeps *sufficient statistics* (counts, sums, confusion matrices), never the whole
list of predictions, so ``update`` costs O(batch) and memory stays constant over an epoch
(ROC-AUC is the one exception: it needs every score, see ``ROCAUC``)::

    acc = Accuracy()
    for x, y in loader:
        acc.update(model(x), y)     # Tensors or NumPy arrays; no graph is built
    acc.compute()                   # a Python float
    acc.reset()                     # ready for the next epoch

States are plain arrays and numbers, so ``state_dict()`` is JSON-friendly (a checkpoint can
store a metric in the middle of an epoch), and ``merge`` adds the states of several workers.
"""
from __future__ import annotations

import copy
import json

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Metric", "to_numpy"]


def to_numpy(x) -> np.ndarray:
    """A host NumPy array holding the values of ``x`` (a Tensor, NumPy/CuPy array or nested list).

    Tensors are read through ``.array``, so nothing is recorded in the autograd graph.
    """
    if isinstance(x, Tensor):
        x = x.array
    if isinstance(x, np.ndarray):
        return x
    if backend.array_module(x) is not np:  # a CuPy array: copy to the host
        return backend.to_device(x, backend.cpu)
    return np.asarray(x)


def _to_json(value):
    """A state value as JSON types: arrays become {"dtype", "shape", "data"} (shape keeps empty arrays)."""
    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _from_json(value):
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "data"}:
        return np.asarray(value["data"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _add_padded(a, b):
    """``a + b`` for states that may be missing (None) or have grown to different sizes
    (per-class counts when ``num_classes`` is inferred): the smaller one is zero-padded."""
    if b is None:
        return a
    if a is None:
        return copy.deepcopy(b)
    if isinstance(a, np.ndarray) and a.shape != b.shape:
        shape = tuple(max(i, j) for i, j in zip(a.shape, b.shape))
        a = np.pad(a, [(0, s - i) for s, i in zip(shape, a.shape)])
        b = np.pad(b, [(0, s - i) for s, i in zip(shape, b.shape)])
    return a + b


class Metric:
    """Base class of the metrics: ``update(preds, targets)``, ``compute()``, ``reset()``.

    Subclasses set ``_state_names`` (the attributes that hold the state), and implement
    ``_init_state()`` (set those attributes to their empty values), ``update`` and ``compute``.
    ``config()`` returns the constructor arguments; two metrics merge only when their configs
    (less ``name``) are equal.

    Attributes:
        name: the key under which a Trainer or a ``MetricCollection`` reports the value.
        higher_is_better: True for scores (accuracy, R^2), False for errors (MSE, ECE), None
            when the output is not a score (a confusion matrix); callbacks use it for mode='auto'.
    """

    default_name = "metric"
    higher_is_better: bool | None = True
    _state_names: tuple = ()

    def __init__(self, name: str | None = None):
        self.name = name if name is not None else self.default_name
        self.reset()

    # ------------------------------------------------------------ the protocol
    def update(self, preds, targets) -> None:
        raise NotImplementedError(f"{type(self).__name__}.update is not implemented")

    def compute(self):
        raise NotImplementedError(f"{type(self).__name__}.compute is not implemented")

    def _init_state(self) -> None:
        raise NotImplementedError(f"{type(self).__name__}._init_state is not implemented")

    def reset(self) -> None:
        """Forget everything seen so far (call it at the start of each epoch)."""
        self._init_state()

    def config(self) -> dict:
        """The constructor arguments, enough to rebuild an empty copy: ``type(m)(**m.config())``."""
        return {"name": self.name}

    def __call__(self, preds, targets):
        """Update the accumulated state with this batch and return the metric of this batch alone
        (torchmetrics' ``forward``)."""
        batch = self._fresh()
        batch.update(preds, targets)
        self.merge(batch)
        return batch.compute()

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The metric's class, config and accumulated state, as JSON types (``json.dumps`` works)."""
        return {"metric": type(self).__name__, "config": self.config(),
                "state": {k: _to_json(getattr(self, k)) for k in self._state_names}}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by ``state_dict()`` (from a metric of the same class and config)."""
        cls = state_dict.get("metric")
        if cls != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state was saved from a {cls}")
        self._check_config(state_dict.get("config", {}), "load_state_dict")
        state = state_dict.get("state", {})
        missing = [k for k in self._state_names if k not in state]
        unexpected = [k for k in state if k not in self._state_names]
        if missing or unexpected:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for k in self._state_names:
            setattr(self, k, _from_json(state[k]))

    def _check_config(self, other: dict, what: str) -> None:
        mine = {k: v for k, v in self.config().items() if k != "name"}
        theirs = {k: v for k, v in other.items() if k != "name"}
        if json.dumps(mine, sort_keys=True) != json.dumps(theirs, sort_keys=True):  # JSON: nan equals nan
            diff = {k: (mine.get(k), theirs.get(k)) for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)}
            raise ValueError(f"{type(self).__name__}.{what}: configs differ (this, other): {diff}")

    def merge(self, other: "Metric") -> "Metric":
        """Add the state of ``other`` (same class and config, e.g. from another process) into this
        metric, in place; return self. ``a.merge(b).compute()`` equals the metric over both inputs."""
        if type(other) is not type(self):
            raise TypeError(f"{type(self).__name__}.merge: cannot merge a {type(other).__name__}")
        self._check_config(other.config(), "merge")
        self._merge(other)
        return self

    def _merge(self, other: "Metric") -> None:
        for k in self._state_names:
            setattr(self, k, _add_padded(getattr(self, k), getattr(other, k)))

    def __add__(self, other: "Metric") -> "Metric":
        """``a + b``: a new metric holding both states (``a`` and ``b`` are unchanged)."""
        return self.clone().merge(other)

    def clone(self) -> "Metric":
        """A deep copy, state included."""
        return copy.deepcopy(self)

    def _fresh(self) -> "Metric":
        return type(self)(**self.config())

    def __repr__(self) -> str:
        cfg = self.config()
        cfg["name"] = cfg.pop("name")  # name last
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------ helpers for subclasses
    def _shape_error(self, preds: np.ndarray, targets: np.ndarray, expected: str) -> ValueError:
        return ValueError(f"{type(self).__name__}: preds shape {tuple(preds.shape)} and targets shape "
                          f"{tuple(targets.shape)} do not match; expected {expected}")
