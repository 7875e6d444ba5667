"""``[train] qat_epochs``: the last epochs of ``lamina train`` run under int8 fake quantization."""
from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

from lamina.cli.main import main

pytest.importorskip("sklearn")

CONFIG = """
[model]
name = "mlp"
hidden_sizes = [32]

[data]
name = "digits"
standardize = true
batch_size = 64

[optimizer]
name = "adam"
lr = 1e-2

[train]
epochs = 4
qat_epochs = {qat}
"""


def _run(tmp_path, qat, *extra):
    cfg = tmp_path / f"qat{qat}.toml"
    cfg.write_text(CONFIG.format(qat=qat))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["train", str(cfg), "--run-dir", str(tmp_path / f"run{qat}"), "-q", *extra])
    return code, err.getvalue()


def test_qat_epochs_trains_and_checkpoints_float_weights(tmp_path, monkeypatch):
    from lamina import quantization
    seen = []
    real = quantization.prepare_qat
    monkeypatch.setattr(quantization, "prepare_qat", lambda m, **kw: seen.append(1) or real(m, **kw))
    code, err = _run(tmp_path, 2)
    assert code == 0, err
    assert seen == [1]  # prepared once, at the start of epoch 1 (the last two of four)
    run = tmp_path / "run2"
    metrics = json.loads((run / "test_metrics.json").read_text())["metrics"]
    assert metrics["accuracy"] > 0.85
    assert os.path.isfile(run / "checkpoints" / "last.safetensors")
    assert "qat_epochs = 2" in (run / "config.toml").read_text()


def test_qat_epochs_is_validated(tmp_path):
    code, err = _run(tmp_path, 5)
    assert code == 2 and "train.qat_epochs (5) must not exceed train.epochs (4)" in err
    code, err = _run(tmp_path, -1)
    assert code == 2 and "train.qat_epochs" in err
