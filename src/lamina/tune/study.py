"""Running an Optuna study over a lamina config: one trial = one short training run.

    spec, base = parse_tune(load_config("configs/mlp_digits_tune.toml"))
    result = run_study(base, spec, n_trials=20, storage="sqlite:///runs/tune/mlp.db", study_name="mlp")

Each trial samples the space, applies the values to the base config as ``--set`` overrides,
validates and builds the run, and trains it in ``<out_dir>/trial_<n>``. A callback reports the
monitored value to Optuna after every epoch and stops the trial when the pruner says so. The
trial's value is the best epoch's value of the metric. Trials live in the storage (SQLite by
default), so a study resumes where it stopped and several processes can share one.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..cli import config, tomlio
from ..cli.errors import ConfigError
from ..train.callbacks.base import Callback
from .search_space import TuneSpec

__all__ = ["PruningCallback", "as_overrides", "best_config", "make_sampler", "open_study", "run_study",
           "train_trial", "validate_space"]

SAMPLERS = ("tpe", "random", "grid")


def _optuna():
    try:
        import optuna
    except ModuleNotFoundError:  # pragma: no cover - depends on the install
        raise ConfigError("lamina tune needs Optuna: pip install 'lamina[tune]' (or pip install optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def as_overrides(values: dict) -> list:
    """``{'optimizer.lr': 0.01, 'model.hidden_sizes': [32, 32]}`` -> ``['optimizer.lr=0.01', ...]`` (``--set`` form)."""
    return [tomlio.dumps({"v": v}).strip().replace("v = ", f"{k}=", 1) for k, v in values.items()]


class PruningCallback(Callback):
    """Reports ``logs[monitor]`` to an Optuna trial after every epoch; raises ``optuna.TrialPruned``
    when ``trial.should_prune()``. ``best`` holds the best value seen."""

    order = 95  # after the log writers, so a pruned epoch is still in metrics.csv

    def __init__(self, trial, monitor: str, maximize: bool):
        self.trial, self.monitor, self.maximize = trial, monitor, maximize
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs or np.ndim(logs[self.monitor]) != 0:
            scalars = sorted(k for k, v in logs.items() if np.ndim(v) == 0)
            raise ConfigError(f"tune.metric {self.monitor!r} is not in the epoch logs (logged: {', '.join(scalars)})")
        value = float(logs[self.monitor])
        if not np.isfinite(value):
            value = -np.inf if self.maximize else np.inf
        if self.best is None or (value > self.best if self.maximize else value < self.best):
            self.best = value
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            import optuna
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({self.monitor} = {value:.4g})")


def train_trial(raw: dict, overrides: list, run_dir: str, monitor: str, maximize: bool, trial=None) -> float:
    """Validate ``raw`` + ``overrides``, train it into ``run_dir``; return the best epoch's ``monitor``.

    With ``trial`` the value is reported each epoch (and the trial may be pruned)."""
    from .. import backend
    from ..cli import build
    cfg = config.validate(config.apply_overrides(raw, overrides))
    backend.manual_seed(cfg["train"]["seed"])
    np.random.seed(cfg["train"]["seed"])
    data = build.build_data(cfg)
    model, cfg["model"] = build.build_model(cfg["model"], data.info, check_batch=data.sample_inputs)
    trainer, sched = build.build_trainer(cfg, model, data, run_dir, quiet=True)
    if sched is not None:
        cfg["scheduler"] = sched
    os.makedirs(run_dir, exist_ok=True)
    from ..cli import rundir
    rundir.write_config(run_dir, cfg)
    data.preprocess.save(os.path.join(run_dir, rundir.PREPROCESS))
    cb = PruningCallback(_NoTrial() if trial is None else trial, monitor, maximize)
    trainer.fit(data.train_loader, validation=data.val_loader, epochs=cfg["train"]["epochs"], callbacks=[cb],
                verbose=False)
    return cb.best


class _NoTrial:
    def report(self, value, step): pass
    def should_prune(self): return False


def validate_space(raw: dict, spec: TuneSpec) -> dict:
    """Check the base config, and every space key with one of its values, before any trial runs."""
    cfg = config.validate(raw)
    for p in spec.params:
        try:
            config.validate(config.apply_overrides(raw, as_overrides({p.key: p.first()})))
        except ConfigError as e:
            raise ConfigError(f"tune.space.{p.key}: {e}") from None
    names = list(cfg["metrics"]["names"])
    known = ["loss", "lr"] + names + ["val_loss"] + [f"val_{n}" for n in names]
    if spec.metric not in known:
        from ..cli.errors import closest
        near = closest(spec.metric, known)
        raise ConfigError(f"tune.metric: {spec.metric!r} is not logged by this config"
                          + (f" (did you mean {near!r}?)" if near else "") + f" (logged: {', '.join(known)})")
    if spec.metric.startswith("val_") and cfg["data"]["val_fraction"] == 0:
        raise ConfigError(f"tune.metric {spec.metric!r} needs a validation split: data.val_fraction is 0")
    return cfg


def make_sampler(name: str, spec: TuneSpec, seed=None):
    optuna = _optuna()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=spec.n_startup_trials)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(spec.grid(), seed=seed)
    raise ConfigError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {name!r}")


def _storage(url: str):
    """An RDB storage; SQLite waits for a lock instead of failing while another worker writes."""
    optuna = _optuna()
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        kwargs = {"connect_args": {"timeout": 60}}
    else:
        kwargs = {}
    last = None
    for attempt in range(5):  # two workers creating the schema at once: one of them retries
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as e:  # noqa: BLE001 - sqlalchemy's OperationalError and friends
            if "no such module" in str(e) or "Can't load plugin" in str(e):
                raise ConfigError(f"--storage {url}: {' '.join(str(e).split())}") from None
            last = e
            time.sleep(0.2 * (attempt + 1))
    raise ConfigError(f"--storage {url}: cannot open the study storage: {' '.join(str(last).split())}")


def open_study(storage: str, study_name: str, spec: TuneSpec, sampler=None):
    """The study ``study_name`` in ``storage`` (created, or loaded when it exists)."""
    optuna = _optuna()
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=spec.pruner_startup_trials,
                                          n_warmup_steps=spec.pruner_warmup_steps)
              if spec.pruner == "median" else optuna.pruners.NopPruner())
    store = _storage(storage)
    for attempt in range(5):
        try:
            return optuna.create_study(storage=store, study_name=study_name, direction=spec.direction,
                                       sampler=sampler, pruner=pruner, load_if_exists=True)
        except ValueError as e:  # an existing study with another direction
            raise ConfigError(f"study {study_name!r}: {' '.join(str(e).split())}") from None
        except Exception:  # noqa: BLE001 - a concurrent create: load it on the next try
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def best_config(raw: dict, spec: TuneSpec, params: dict) -> dict:
    """The base config (without ``[tune]``) with a trial's values applied."""
    return config.apply_overrides(raw, as_overrides(spec.values(params)))


def _trial_row(t, spec: TuneSpec) -> dict:
    return {"number": t.number, "state": t.state.name, "value": t.value,
            "params": spec.values(t.params) if set(t.params) >= {n for p in spec.params for n in p.names()}
            else dict(t.params),
            "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
            "duration_s": t.duration.total_seconds() if t.duration is not None else None}


def run_study(raw: dict, spec: TuneSpec, n_trials: int | None, *, storage: str, study_name: str, out_dir: str,
              sampler: str = "tpe", seed=None, timeout=None, quiet: bool = False) -> dict:
    """Run ``n_trials`` more trials of the study; write ``best_config.toml`` and ``trials.json`` into
    ``out_dir``; return the summary (also what trials.json holds)."""
    optuna = _optuna()
    validate_space(raw, spec)
    study = open_study(storage, study_name, spec, make_sampler(sampler, spec, seed))
    trial_dir = os.path.join(out_dir, "trials")

    def objective(trial):
        values = spec.suggest(trial)
        run_dir = os.path.join(trial_dir, f"trial_{trial.number:04d}")
        trial.set_user_attr("run_dir", run_dir)
        t0 = time.perf_counter()
        try:
            value = train_trial(raw, as_overrides(values), run_dir, spec.metric, spec.maximize, trial)
        except optuna.TrialPruned:
            if not quiet:
                print(f"trial {trial.number}: pruned ({time.perf_counter() - t0:.1f}s)  {_fmt(values)}", flush=True)
            raise
        if not quiet:
            print(f"trial {trial.number}: {spec.metric} {value:.4f} ({time.perf_counter() - t0:.1f}s)  "
                  f"{_fmt(values)}", flush=True)
        return value

    study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=(), gc_after_trial=False)
    return write_results(study, raw, spec, out_dir, storage, quiet)


def _fmt(values: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def write_results(study, raw: dict, spec: TuneSpec, out_dir: str, storage: str, quiet: bool = False) -> dict:
    from ..cli import rundir
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    summary = {"study": study.study_name, "storage": storage, "metric": spec.metric, "direction": spec.direction,
               "n_trials": len(trials), "states": {}, "best": None, "trials": [_trial_row(t, spec) for t in trials]}
    for t in trials:
        summary["states"][t.state.name] = summary["states"].get(t.state.name, 0) + 1
    os.makedirs(out_dir, exist_ok=True)
    if complete:
        best = study.best_trial
        summary["best"] = {"number": best.number, "value": best.value, "params": spec.values(best.params),
                           "run_dir": best.user_attrs.get("run_dir")}
        from ..io import atomic_write_text
        atomic_write_text(os.path.join(out_dir, "best_config.toml"),
                          f"# best of study {study.study_name!r}: trial {best.number}, {spec.metric} = "
                          f"{best.value:.6g}\n" + tomlio.dumps(best_config(raw, spec, best.params)))
    rundir.write_json(os.path.join(out_dir, "trials.json"), summary)
    if not quiet:
        if summary["best"]:
            b = summary["best"]
            print(f"best: trial {b['number']}, {spec.metric} {b['value']:.4f}  {_fmt(b['params'])}\n"
                  f"{summary['n_trials']} trials in {storage} ({', '.join(f'{v} {k.lower()}' for k, v in summary['states'].items())}); "
                  f"-> {os.path.join(out_dir, 'best_config.toml')}")
        else:
            print(f"no trial completed; see {os.path.join(out_dir, 'trials.json')}", file=sys.stderr)
    return summary
