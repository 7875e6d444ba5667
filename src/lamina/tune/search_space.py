"""The ``[tune]`` table of a config: the search space and what to optimise.

    [tune]
    metric = "val_accuracy"          # a key of the epoch logs (val_loss, val_<metric>, loss, ...)
    direction = "maximize"           # or "minimize"; default from the metric's name
    pruner = "median"                # "median" or "none"
    [tune.space]
    "optimizer.lr" = {type = "float", low = 1e-4, high = 1e-1, log = true}
    "model.dropout" = {type = "float", low = 0.0, high = 0.5, step = 0.1}
    "data.batch_size" = {type = "int", low = 32, high = 128, step = 32}
    "model.activation" = {type = "categorical", choices = ["relu", "gelu"]}
    "model.hidden_sizes" = {type = "layers", depth = [1, 3], width = [16, 128], log = true}

Each key of ``[tune.space]`` is a dotted config key, set for a trial exactly as ``--set`` would.
``type = "layers"`` samples a depth and a width and gives ``[width] * depth`` (an MLP's
``hidden_sizes``); categorical choices may be lists or tables (they are stored as JSON text).
"""
from __future__ import annotations

import copy
import json
import math

from ..cli.errors import ConfigError, closest

__all__ = ["Param", "TuneSpec", "parse_tune", "split_tune"]

TYPES = ("float", "int", "categorical", "layers")
PRUNERS = ("median", "none")
DIRECTIONS = ("maximize", "minimize")
_TUNE_KEYS = ("metric", "direction", "pruner", "pruner_startup_trials", "pruner_warmup_steps",
              "n_startup_trials", "space")
_PARAM_KEYS = {"float": ("low", "high", "log", "step"), "int": ("low", "high", "log", "step"),
               "categorical": ("choices",), "layers": ("depth", "width", "log", "step")}


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class Param:
    """One dimension of the search space: ``suggest(trial)`` samples it, ``grid()`` lists its values."""

    def __init__(self, key: str, spec):
        where = f"tune.space.{key}"
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError(f"{where} must be a table with a type ({', '.join(TYPES)}), such as "
                              f"{{type = \"float\", low = 1e-4, high = 1e-1, log = true}}, got {spec!r}")
        kind = spec["type"]
        if kind not in TYPES:
            near = closest(kind, TYPES) if isinstance(kind, str) else None
            raise ConfigError(f"{where}.type must be one of {', '.join(TYPES)}, got {kind!r}"
                              + (f" (did you mean {near!r}?)" if near else ""))
        for k in spec:
            if k != "type" and k not in _PARAM_KEYS[kind]:
                raise ConfigError(f"{where}: unknown key {k!r} for a {kind} parameter "
                                  f"(valid: {', '.join(_PARAM_KEYS[kind])})")
        self.key, self.kind, self.where = key, kind, where
        self.log = spec.get("log", False)
        if not isinstance(self.log, bool):
            raise ConfigError(f"{where}.log must be true or false, got {self.log!r}")
        self.step = spec.get("step")
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{where}.choices must be a non-empty list, got {choices!r}")
            self.choices = choices
            # Optuna stores only None/bool/int/float/str: lists and tables travel as JSON text
            self.encoded = any(isinstance(c, (list, dict)) for c in choices)
        elif kind == "layers":
            self.depth = self._range(spec.get("depth"), f"{where}.depth", True, lo=1)
            self.width = self._range(spec.get("width"), f"{where}.width", True, lo=1)
            self._check_step(True)
        else:
            if "low" not in spec or "high" not in spec:
                raise ConfigError(f"{where} needs low and high")
            self.low, self.high = self._range([spec["low"], spec["high"]], where, kind == "int")
            if self.log and self.low <= 0:
                raise ConfigError(f"{where}: log = true needs low > 0, got low = {self.low}")
            self._check_step(kind == "int")

    def _range(self, pair, where, integer, lo=None):
        what = "integers" if integer else "numbers"
        if (not isinstance(pair, list) or len(pair) != 2 or not all(_num(v) for v in pair)
                or (integer and not all(float(v).is_integer() for v in pair))):
            raise ConfigError(f"{where}: low and high must be {what}, got {pair!r}")
        a, b = (int(v) for v in pair) if integer else (float(v) for v in pair)
        if a > b:
            raise ConfigError(f"{where}: low ({a}) must not exceed high ({b})")
        if lo is not None and a < lo:
            raise ConfigError(f"{where}: values must be >= {lo}, got {a}")
        return a, b

    def _check_step(self, integer):
        if self.step is None:
            return
        if not _num(self.step) or self.step <= 0 or (integer and not float(self.step).is_integer()):
            raise ConfigError(f"{self.where}.step must be a positive {'integer' if integer else 'number'}, "
                              f"got {self.step!r}")
        if self.log:
            raise ConfigError(f"{self.where}: step and log = true cannot be combined")

    # ------------------------------------------------------------ sampling
    def names(self) -> list:
        """The Optuna parameter names this dimension uses."""
        return [f"{self.key}.depth", f"{self.key}.width"] if self.kind == "layers" else [self.key]

    def suggest(self, trial):
        """The config value for ``trial`` (an ``optuna.Trial``)."""
        if self.kind == "categorical":
            if self.encoded:
                return json.loads(trial.suggest_categorical(self.key, [json.dumps(c) for c in self.choices]))
            return trial.suggest_categorical(self.key, self.choices)
        if self.kind == "layers":
            depth = trial.suggest_int(f"{self.key}.depth", *self.depth)
            width = trial.suggest_int(f"{self.key}.width", *self.width, step=int(self.step or 1), log=self.log)
            return [width] * depth
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def value(self, params: dict):
        """The config value from a finished trial's ``params``."""
        if self.kind == "layers":
            return [params[f"{self.key}.width"]] * params[f"{self.key}.depth"]
        v = params[self.key]
        return json.loads(v) if self.kind == "categorical" and self.encoded else v

    def first(self):
        """One valid value (to check the key against the config before any trial runs)."""
        if self.kind == "categorical":
            return self.choices[0]
        if self.kind == "layers":
            return [self.width[0]] * self.depth[0]
        return self.low

    def grid(self) -> dict:
        """``{optuna name: [values]}`` for the grid sampler; a continuous range is an error."""
        if self.kind == "categorical":
            return {self.key: [json.dumps(c) for c in self.choices] if self.encoded else list(self.choices)}
        if self.kind == "layers":
            return {f"{self.key}.depth": list(range(self.depth[0], self.depth[1] + 1)),
                    f"{self.key}.width": list(range(self.width[0], self.width[1] + 1, int(self.step or 1)))}
        if self.kind == "int" and not self.log:
            return {self.key: list(range(self.low, self.high + 1, int(self.step or 1)))}
        if self.kind == "float" and self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9))
            return {self.key: [round(self.low + i * self.step, 12) for i in range(n + 1)]}
        why = "a log-scaled int range" if self.kind == "int" else "a continuous float range"
        raise ConfigError(f"{self.where} is {why}: the grid sampler needs categorical choices or ranges with a "
                          f"step (e.g. step = 0.1), or use --sampler tpe or random")


class TuneSpec:
    """The parsed ``[tune]`` table: ``params`` (list of Param), ``metric``, ``direction``, pruner options."""

    def __init__(self, table: dict):
        if not isinstance(table, dict):
            raise ConfigError(f"[tune] must be a table, got {table!r}")
        for k in table:
            if k not in _TUNE_KEYS:
                near = closest(k, _TUNE_KEYS)
                raise ConfigError(f"tune: unknown key {k!r}" + (f"; did you mean tune.{near}?" if near else "")
                                  + f" (valid: {', '.join(_TUNE_KEYS)})")
        self.metric = table.get("metric", "val_loss")
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"tune.metric must be the name of a logged value such as \"val_accuracy\", "
                              f"got {self.metric!r}")
        from ..train.callbacks.base import resolve_mode
        default = "maximize" if resolve_mode(self.metric, "auto") == "max" else "minimize"
        self.direction = table.get("direction", default)
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"tune.direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        self.pruner = table.get("pruner", "median")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"tune.pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        for k, dflt in (("pruner_startup_trials", 3), ("pruner_warmup_steps", 0), ("n_startup_trials", 10)):
            v = table.get(k, dflt)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"tune.{k} must be a non-negative integer, got {v!r}")
            setattr(self, k, v)
        space = table.get("space")
        if not isinstance(space, dict) or not space:
            raise ConfigError("[tune.space] is missing or empty: declare the parameters to search, such as "
                              "\"optimizer.lr\" = {type = \"float\", low = 1e-4, high = 1e-1, log = true}")
        self.params = [Param(k, v) for k, v in space.items()]

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def suggest(self, trial) -> dict:
        """``{config key: value}`` for ``trial``."""
        return {p.key: p.suggest(trial) for p in self.params}

    def values(self, params: dict) -> dict:
        """``{config key: value}`` from a finished trial's Optuna ``params``."""
        return {p.key: p.value(params) for p in self.params}

    def grid(self) -> dict:
        out = {}
        for p in self.params:
            out.update(p.grid())
        return out


def split_tune(raw: dict) -> tuple:
    """``(tune table, the rest of the config)``: the config validator never sees ``[tune]``."""
    if not isinstance(raw, dict) or "tune" not in raw:
        raise ConfigError("the config has no [tune] table: add [tune] metric = \"val_accuracy\" and a [tune.space] "
                          "table of parameters to search")
    rest = copy.deepcopy({k: v for k, v in raw.items() if k != "tune"})
    return raw["tune"], rest


def parse_tune(raw: dict) -> tuple:
    """``(TuneSpec, config without [tune])``."""
    table, rest = split_tune(raw)
    return TuneSpec(table), rest
