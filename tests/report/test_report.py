"""lamina report: PNG plots and index.html of a run directory."""
from __future__ import annotations

import json
import os
import re
import textwrap

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib import image as mpimg  # noqa: E402

from lamina.cli.main import main  # noqa: E402
from lamina.report import plots  # noqa: E402

CONFIG = """
[model]
name = "mlp"
hidden_sizes = [16]

[data]
name = "digits"
batch_size = 128
standardize = true
test_fraction = {test}

[optimizer]
name = "adam"
lr = 0.01

[scheduler]
name = "cosine"

[train]
epochs = 3

[metrics]
names = ["accuracy", "f1"]
"""
PNG = b"\x89PNG\r\n\x1a\n"


def _train(tmp_path, capsys, test=0.2) -> str:
    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap.dedent(CONFIG.format(test=test)))
    run_dir = str(tmp_path / "run")
    assert main(["train", str(cfg), "--run-dir", run_dir, "-q"]) == 0
    capsys.readouterr()
    return run_dir


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rep")
    cfg = tmp / "c.toml"
    cfg.write_text(textwrap.dedent(CONFIG.format(test=0.2)))
    run_dir = str(tmp / "run")
    assert main(["train", str(cfg), "--run-dir", run_dir, "-q"]) == 0
    assert main(["report", run_dir, "-q"]) == 0
    return run_dir


def _check_png(path, min_size=100):
    with open(path, "rb") as f:
        assert f.read(8) == PNG
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] >= min_size and img.shape[1] >= min_size
    assert img[..., :3].std() > 0.01  # not a blank image


def test_pngs_and_index(report_dir):
    out = os.path.join(report_dir, "report")
    names = ["loss.png", "metrics.png", "lr.png", "confusion_matrix.png", "calibration.png"]  # a classifier
    for name in names:
        _check_png(os.path.join(out, name))
    html = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert sorted(srcs) == sorted(names)  # relative links
    for name in ("loss", "val_loss", "accuracy", "val_accuracy", "val_f1"):
        assert f"<td>{name}</td>" in html
    test = json.load(open(os.path.join(report_dir, "test_metrics.json")))["metrics"]["accuracy"]
    assert f"{test:.4f}" in html


def test_confusion_from_best_checkpoint(report_dir):
    from lamina.report import confusion_matrix
    cm, classes, note = confusion_matrix(report_dir)
    assert cm.shape == (10, 10)
    stored = json.load(open(os.path.join(report_dir, "test_metrics.json")))
    assert cm.sum() == stored["num_samples"]
    if stored["weights"] == "best":
        assert np.trace(cm) / cm.sum() == pytest.approx(stored["metrics"]["accuracy"], abs=1e-6)
    assert "best" in note


def test_confusion_stored_in_test_metrics(tmp_path, report_dir):
    import shutil
    from lamina.report import confusion_matrix
    run = str(tmp_path / "copy")
    shutil.copytree(report_dir, run)
    path = os.path.join(run, "test_metrics.json")
    data = json.load(open(path))
    data["metrics"]["confusion_matrix"] = [[3, 1], [0, 4]]
    json.dump(data, open(path, "w"))
    cm, _, note = confusion_matrix(run)
    assert cm.tolist() == [[3, 1], [0, 4]] and "test_metrics.json" in note


def test_no_test_split_skips_confusion(tmp_path, capsys):
    run_dir = _train(tmp_path, capsys, test=0.0)
    assert main(["report", run_dir, "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "note: no confusion matrix" in out and "4 plots" in out  # loss, metrics, lr, calibration
    assert not (tmp_path / "r" / "confusion_matrix.png").exists()
    html = (tmp_path / "r" / "index.html").read_text()
    assert "confusion_matrix.png" not in html and "test split" in html
    _check_png(str(tmp_path / "r" / "loss.png"))


def test_read_metrics_and_plots(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,loss,lr,mse,val_loss,val_mse\n0,1.0,0.1,2.0,1.5,NA\n1,0.5,0.01,1.0,0.9,1.2\n")
    h = plots.read_metrics(str(csv))
    assert h["epoch"] == [0.0, 1.0] and np.isnan(h["val_mse"][0]) and h["val_mse"][1] == 1.2
    assert plots.metric_names(h) == ["mse"]
    assert plots.plot_metrics(h, str(tmp_path / "m.png")) is not None
    _check_png(str(tmp_path / "m.png"))
    assert plots.plot_metrics({"epoch": [0], "loss": [1.0]}, str(tmp_path / "n.png")) is None
    assert plots.plot_lr({"epoch": [0], "loss": [1.0]}, str(tmp_path / "l.png")) is None


def test_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "run directory not found" in err and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "metrics.csv" in capsys.readouterr().err
