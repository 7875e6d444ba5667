"""lamina tune: the search space, the study (resume, shared storage, grid) and config errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

optuna = pytest.importorskip("optuna")

from lamina.cli import config  # noqa: E402
from lamina.cli.errors import ConfigError  # noqa: E402
from lamina.cli.main import main  # noqa: E402
from lamina.tune import TuneSpec, as_overrides, parse_tune, train_trial  # noqa: E402

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

# Deliberately poor defaults (lr 1e-5 barely moves in 2 epochs): tuning must beat them.
BASE = """
[model]
name = "mlp"
hidden_sizes = [16]

[data]
name = "digits"
batch_size = 128
standardize = true

[optimizer]
name = "adam"
lr = 1e-5

[train]
epochs = 2

[metrics]
names = ["accuracy"]

[run]
dir = "{runs}"
"""

TUNE = """
[tune]
metric = "val_accuracy"
direction = "maximize"
pruner = "median"

[tune.space]
"optimizer.lr" = {{type = "float", low = 1e-3, high = 1e-1, log = true}}
"model.hidden_sizes" = {{type = "layers", depth = [1, 2], width = [8, 32], log = true}}
"model.dropout" = {{type = "float", low = 0.0, high = 0.3}}
"""


def _write(tmp_path, tune=TUNE, name="t.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(BASE.format(runs=tmp_path / "runs")) + textwrap.dedent(tune.format()))
    return str(path)


def _lamina(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _trials(db: str, name: str = "t"):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    return study.get_trials(deepcopy=False)


def test_tune_beats_poor_defaults(tmp_path, capsys):
    path = _write(tmp_path)
    code, out, err = _lamina(capsys, "tune", path, "--n-trials", "8", "--seed", "0", "-q")
    assert code == 0, err
    out_dir = tmp_path / "runs" / "tune" / "t"
    summary = json.loads((out_dir / "trials.json").read_text())
    assert summary["n_trials"] == 8 and len(summary["trials"]) == 8
    best = summary["best"]["value"]
    # the default config's score, trained the same way
    spec, raw = parse_tune(config.load_config(path))
    default = train_trial(raw, [], str(tmp_path / "default"), "val_accuracy", True)
    assert best > default + 0.1, (best, default)
    # best_config.toml is the base config with the best params, and trains as is
    best_cfg = config.load_config(str(out_dir / "best_config.toml"))
    assert "tune" not in best_cfg
    assert best_cfg["optimizer"]["lr"] == pytest.approx(summary["best"]["params"]["optimizer.lr"])
    assert best_cfg["model"]["hidden_sizes"] == summary["best"]["params"]["model.hidden_sizes"]
    config.validate(best_cfg)
    again = train_trial(best_cfg, [], str(tmp_path / "again"), "val_accuracy", True)
    assert again == pytest.approx(best)
    # each trial's run directory holds its metrics
    assert os.path.isfile(summary["best"]["run_dir"] + "/metrics.csv")


def test_resume_same_storage(tmp_path, capsys):
    path = _write(tmp_path)
    db = tmp_path / "study.db"
    for _ in range(2):
        code, _, err = _lamina(capsys, "tune", path, "--n-trials", "4", "--storage", f"sqlite:///{db}",
                               "--sampler", "random", "-q")
        assert code == 0, err
    trials = _trials(str(db))
    assert sorted(t.number for t in trials) == list(range(8))
    summary = json.loads((tmp_path / "runs" / "tune" / "t" / "trials.json").read_text())
    assert summary["n_trials"] == 8


def test_pruning_reports_every_epoch(tmp_path, capsys):
    path = _write(tmp_path, TUNE.replace('pruner = "median"', 'pruner = "median"\npruner_startup_trials = 1'))
    db = tmp_path / "p.db"
    code, _, err = _lamina(capsys, "tune", path, "--n-trials", "6", "--storage", f"sqlite:///{db}", "--seed", "1",
                           "--set", "train.epochs=3", "-q")
    assert code == 0, err
    trials = _trials(str(db))
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert done and all(sorted(t.intermediate_values) == [0, 1, 2] for t in done)
    assert all(t.value == max(t.intermediate_values.values()) for t in done)
    for t in trials:
        if t.state.name == "PRUNED":
            assert len(t.intermediate_values) < 3


def test_two_workers_share_a_study(tmp_path):
    path = _write(tmp_path)
    db = tmp_path / "shared.db"
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "lamina", "tune", path, "--n-trials", "3", "--storage", f"sqlite:///{db}",
           "--sampler", "random", "-q"]
    procs = [subprocess.Popen(cmd + ["--seed", str(i)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    trials = _trials(str(db))
    assert len(trials) == 6
    assert sorted(t.number for t in trials) == list(range(6))
    params = {json.dumps(t.params, sort_keys=True) for t in trials}
    assert len(params) == 6
    dirs = {t.user_attrs["run_dir"] for t in trials}
    assert len(dirs) == 6


def test_grid_sampler(tmp_path, capsys):
    grid = """
    [tune]
    metric = "val_loss"
    pruner = "none"
    [tune.space]
    "optimizer.lr" = {type = "categorical", choices = [0.003, 0.03]}
    "model.hidden_sizes" = {type = "categorical", choices = [[8], [16, 16]]}
    "data.batch_size" = {type = "int", low = 64, high = 128, step = 64}
    """
    path = _write(tmp_path, grid.replace("{", "{{").replace("}", "}}"))
    db = tmp_path / "g.db"
    code, _, err = _lamina(capsys, "tune", path, "--sampler", "grid", "--n-trials", "20",
                           "--storage", f"sqlite:///{db}", "-q")
    assert code == 0, err
    trials = _trials(str(db))
    assert len(trials) == 8  # the study stops when the 2 x 2 x 2 grid is done
    seen = {(t.params["optimizer.lr"], t.params["model.hidden_sizes"], t.params["data.batch_size"]) for t in trials}
    assert len(seen) == 8
    summary = json.loads((tmp_path / "runs" / "tune" / "t" / "trials.json").read_text())
    assert summary["direction"] == "minimize"  # from the metric's name
    assert summary["best"]["params"]["model.hidden_sizes"] in ([8], [16, 16])


def test_grid_rejects_continuous_range(tmp_path, capsys):
    code, _, err = _lamina(capsys, "tune", _write(tmp_path), "--sampler", "grid", "--n-trials", "2")
    assert code == 2
    assert err.count("\n") == 1 and "tune.space.optimizer.lr" in err and "grid" in err


@pytest.mark.parametrize("tune, words", [
    ('[tune]\nmetric = "val_accuracy"\n', ["[tune.space]"]),
    ('[tune]\n[tune.space]\n"optimizer.lr" = {type = "floot", low = 1, high = 2}\n', ["floot", "'float'"]),
    ('[tune]\n[tune.space]\n"optimizer.lr" = {type = "float", low = 2, high = 1}\n', ["low", "high"]),
    ('[tune]\n[tune.space]\n"optimizer.lr" = {type = "float", low = 0, high = 1, log = true}\n', ["log"]),
    ('[tune]\n[tune.space]\n"optimizer.lr" = 0.1\n', ["must be a table"]),
    ('[tune]\n[tune.space]\n"optimizer.lrr" = {type = "float", low = 0.1, high = 1}\n', ["tune.space.optimizer.lrr"]),
    ('[tune]\nmetric = "val_acc"\n[tune.space]\n"optimizer.lr" = {type = "float", low = 0.1, high = 1}\n',
     ["val_acc", "val_accuracy"]),
    ('[tune]\nmetrc = "val_loss"\n', ["metrc", "tune.metric"]),
    ('[tune]\ndirection = "up"\n[tune.space]\n"optimizer.lr" = {type = "float", low = 0.1, high = 1}\n',
     ["direction"]),
    ('', ["no [tune] table"]),
])
def test_config_errors(tmp_path, capsys, tune, words):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(BASE.format(runs=tmp_path / "runs")) + tune)
    code, out, err = _lamina(capsys, "tune", str(path), "--n-trials", "1")
    assert code == 2, err
    assert err.startswith("lamina: error: ") and err.count("\n") == 1
    for w in words:
        assert w in err
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_as_overrides_round_trip():
    values = {"optimizer.lr": 0.0123, "model.hidden_sizes": [8, 8], "optimizer.name": "adamw", "data.shuffle": False}
    cfg = config.apply_overrides({}, as_overrides(values))
    assert cfg == {"optimizer": {"lr": 0.0123, "name": "adamw"}, "model": {"hidden_sizes": [8, 8]},
                   "data": {"shuffle": False}}


def test_space_grid_and_values():
    spec = TuneSpec({"space": {
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.1},
        "model.hidden_sizes": {"type": "layers", "depth": [1, 2], "width": [16, 32], "step": 16},
        "model.activation": {"type": "categorical", "choices": ["relu", "gelu"]}}})
    assert spec.metric == "val_loss" and spec.direction == "minimize"
    grid = spec.grid()
    assert grid["model.dropout"] == [0.0, 0.1, 0.2, 0.3]
    assert grid["model.hidden_sizes.depth"] == [1, 2] and grid["model.hidden_sizes.width"] == [16, 32]
    vals = spec.values({"model.dropout": 0.2, "model.hidden_sizes.depth": 2, "model.hidden_sizes.width": 32,
                        "model.activation": "gelu"})
    assert vals == {"model.dropout": 0.2, "model.hidden_sizes": [32, 32], "model.activation": "gelu"}
    with pytest.raises(ConfigError, match="step and log"):
        TuneSpec({"space": {"x.y": {"type": "int", "low": 1, "high": 8, "step": 2, "log": True}}})
