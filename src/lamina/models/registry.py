"""The model registry: a name -> builder table, so configs and the command line can say
``model = "resnet20"`` and get the network.

    model = create_model("resnet20", num_classes=100)
    model = create_model({"name": "mlp", "in_features": 64, "hidden_sizes": [128], "out_features": 10})
    model = ResNet.from_config({"depth": 8})          # every model class has from_config / get_config
    list_models()                                     # ['lenet5', 'mlp', 'resnet', 'resnet20', ...]

A registered entry is a model class plus fixed arguments (``resnet20`` is ``ResNet`` with
``depth=20``). Config keys are checked against the class's constructor before anything is
built: an unknown key or model name is an error naming the closest valid one.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Callable

__all__ = ["Configurable", "build_from_config", "create_model", "describe_models", "get_model_class", "list_models",
           "model_config", "register_model"]

# name -> (builder, fixed keyword arguments, description)
_REGISTRY: dict[str, tuple[Callable, dict, str]] = {}


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _closest(word: str, options) -> str:
    """'; did you mean X?' for the most similar option (fewest edits, then longest shared prefix), or ''."""
    word = str(word)
    close = difflib.get_close_matches(word, list(options), n=5, cutoff=0.5)
    if not close:
        return ""
    def prefix(s):
        return next((i for i, (a, b) in enumerate(zip(word, s)) if a != b), min(len(word), len(s)))

    best = min(close, key=lambda s: (_edit_distance(word, s), -prefix(s), abs(len(s) - len(word))))
    return f"; did you mean {best!r}?"


def _params(builder) -> tuple[list[str], list[str]]:
    """(all keyword names, required names) of a class's constructor or a function."""
    sig = inspect.signature(builder.__init__ if inspect.isclass(builder) else builder)
    names, required = [], []
    for p in sig.parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        names.append(p.name)
        if p.default is p.empty:
            required.append(p.name)
    return names, required


def build_from_config(builder, config: dict, fixed: dict | None = None, what: str | None = None):
    """``builder(**fixed, **config)`` after checking every key against the builder's signature."""
    what = what or getattr(builder, "__name__", str(builder))
    if not isinstance(config, dict):
        raise TypeError(f"{what}: config must be a dict of constructor arguments, got {type(config).__name__}")
    fixed = fixed or {}
    names, required = _params(builder)
    settable = [n for n in names if n not in fixed]
    for key in config:
        if key in fixed:
            raise ValueError(f"{what}: config key {key!r} is fixed to {fixed[key]!r} by this model name; "
                             f"use the generic model to change it")
        if key not in names:
            raise ValueError(f"{what}: unknown config key {key!r}{_closest(key, settable)} "
                             f"Valid keys: {', '.join(settable)}")
    missing = [n for n in required if n not in config and n not in fixed]
    if missing:
        raise ValueError(f"{what}: missing required config key(s) {', '.join(map(repr, missing))} "
                         f"(valid keys: {', '.join(settable)})")
    return builder(**fixed, **config)


class Configurable:
    """Mixin for models: ``Model.from_config(dict)`` builds one from constructor arguments and
    ``model.get_config()`` gives them back (each argument is kept as an attribute of the same name)."""

    @classmethod
    def from_config(cls, config: dict):
        """Build from a dict of constructor arguments; unknown keys are errors naming the closest valid key."""
        return build_from_config(cls, dict(config), what=f"{cls.__name__}.from_config")

    def get_config(self) -> dict:
        """The constructor arguments of this model (JSON-friendly: tuples become lists)."""
        names, _ = _params(type(self))
        return {n: _plain(getattr(self, n)) for n in names if hasattr(self, n)}


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def register_model(name: str, builder: Callable | None = None, *, description: str = "", **fixed):
    """Register ``builder`` (a model class or a function) under ``name``, with ``fixed`` arguments.

    Usable as a decorator: ``@register_model("mlp")`` above a class. Re-registering a name
    replaces it (so a user can override a built-in).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_model: name must be a non-empty string, got {name!r}")

    def add(b):
        if not callable(b):
            raise TypeError(f"register_model: builder for {name!r} must be callable, got {type(b).__name__}")
        doc = description or (inspect.getdoc(b) or "").split("\n", 1)[0]
        _REGISTRY[name.lower()] = (b, dict(fixed), doc)
        return b

    return add if builder is None else add(builder)


def _entry(name: str):
    if not isinstance(name, str):
        raise TypeError(f"create_model: model name must be a string, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}{_closest(key, _REGISTRY)} "
                         f"Available models: {', '.join(list_models())}")
    return key, _REGISTRY[key]


def create_model(name, **config):
    """Build the model registered as ``name`` with ``config`` (keyword arguments of its constructor).

    ``name`` may also be a dict holding ``"name"`` and the config keys.
    >>> create_model("resnet8", num_classes=10)
    """
    if isinstance(name, dict):
        config = {**name, **config}
        if "name" not in config:
            raise ValueError(f"create_model: a config dict needs a 'name' key (one of {', '.join(list_models())})")
        name = config.pop("name")
    key, (builder, fixed, _) = _entry(name)
    return build_from_config(builder, config, fixed, what=f"create_model({key!r})")


def get_model_class(name: str):
    """The class (or function) registered as ``name``."""
    return _entry(name)[1][0]


def model_config(name: str) -> dict:
    """The keys ``create_model(name, ...)`` accepts, with their defaults (None where required)."""
    _, (builder, fixed, _) = _entry(name)
    sig = inspect.signature(builder.__init__ if inspect.isclass(builder) else builder)
    return {p.name: (None if p.default is p.empty else p.default) for p in sig.parameters.values()
            if p.name != "self" and p.name not in fixed and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def describe_models() -> dict[str, str]:
    """name -> one-line description."""
    return {k: _REGISTRY[k][2] for k in list_models()}

