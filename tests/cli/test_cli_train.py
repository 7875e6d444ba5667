"""`lamina train / evaluate / predict` end to end on the digits (small epoch counts)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil

import numpy as np
import pytest

from conftest import CONFIGS, SMALL

import lamina
from lamina.cli import tomlio
from lamina.cli.main import main
from lamina.cli.rundir import load_run
from lamina.train.callbacks import Callback


def run_quiet(*args) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """configs/mlp_digits.toml trained for 2 epochs into a temporary run directory."""
    run_dir = tmp_path_factory.mktemp("runs") / "mlp_digits"
    code, out, err = run_quiet("train", os.path.join(CONFIGS, "mlp_digits.toml"), "--run-dir", run_dir,
                               "--set", "train.epochs=2", "--set", "train.checkpoint_every_n_steps=5")
    assert code == 0, err
    return run_dir, out


def raw_digits():
    """The digits as a user has them: 64 pixel intensities 0..16 per row (sklearn's load_digits().data)."""
    x, y = lamina.data.datasets.load_digits(as_numpy=True)
    return x * 16, y  # the loader divides by 16; exact in float32


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_train_writes_the_run_directory(digits_run):
    run_dir, out = digits_run
    assert {"config.toml", "metrics.csv", "preprocess.safetensors", "test_metrics.json", "checkpoints"} <= set(
        os.listdir(run_dir))
    assert set(os.listdir(run_dir / "checkpoints")) >= {"best.safetensors", "last.safetensors"}
    cfg = tomlio.loads((run_dir / "config.toml").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["train"]["checkpoint_every_n_steps"] == 5  # --set took effect
    assert cfg["model"] == {"name": "mlp", "hidden_sizes": [256, 256], "dropout": 0.1, "in_features": 64,
                            "out_features": 10}  # inferred from the data and written out
    assert cfg["scheduler"]["T_max"] == 2 * 20  # 2 epochs of ceil(1259 / 64) steps
    rows = read_csv(run_dir / "metrics.csv")
    assert rows[0][0] == "epoch" and {"loss", "accuracy", "f1", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    assert [r[0] for r in rows[1:]] == ["1", "2"]  # epochs counted from 1, as the progress lines do
    loss = [float(r[rows[0].index("loss")]) for r in rows[1:]]
    assert loss[1] < loss[0]
    result = json.loads((run_dir / "test_metrics.json").read_text())
    assert result["split"] == "test" and result["num_samples"] == 359 and result["weights"] == "last"
    assert 0.85 < result["metrics"]["accuracy"] <= 1.0
    assert "test (last weights): loss" in out


def test_checkpoints_load(digits_run):
    run_dir, _ = digits_run
    model = lamina.models.create_model("mlp", in_features=64, hidden_sizes=[256, 256], out_features=10, dropout=0.1)
    model.load_state_dict(lamina.io.load(str(run_dir / "checkpoints" / "best.safetensors")))
    state = lamina.io.load(str(run_dir / "checkpoints" / "last.safetensors"))
    assert state["kind"] == "lamina.training_state" and int(state["trainer"]["epoch"]) == 1
    run = load_run(str(run_dir))  # final_weights = "last" in mlp_digits.toml
    assert run.checkpoint.endswith("last.safetensors")
    for k, v in run.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state["model"][k].numpy())


def test_evaluate_matches_the_test_metrics(digits_run, cli):
    run_dir, _ = digits_run
    r = cli("evaluate", run_dir, "--json")
    assert r.code == 0, r
    got = json.loads(r.out)
    saved = json.loads((run_dir / "test_metrics.json").read_text())
    assert got["split"] == "test" and got["num_samples"] == 359
    assert got["metrics"]["accuracy"] == pytest.approx(saved["metrics"]["accuracy"], abs=1e-12)
    assert got["metrics"]["loss"] == pytest.approx(saved["metrics"]["loss"], rel=1e-6)
    r = cli("evaluate", run_dir / "checkpoints" / "best.safetensors", "--split", "val")
    assert r.code == 0 and "val split (179 samples)" in r.out and "accuracy" in r.out


def test_evaluate_on_a_data_file(digits_run, cli, tmp_path):
    run_dir, _ = digits_run
    x, y = raw_digits()  # raw input: 0..16, as sklearn gives it
    path = tmp_path / "some.npz"
    np.savez(path, x=x[:100], y=y[:100])
    r = cli("evaluate", run_dir, "--data", path, "--json")
    assert r.code == 0, r
    got = json.loads(r.out)
    assert got["num_samples"] == 100 and got["metrics"]["accuracy"] > 0.8


def test_predict_npy_png_csv(digits_run, cli, tmp_path):
    run_dir, _ = digits_run
    x, y = raw_digits()
    np.save(tmp_path / "x.npy", x[:20])
    r = cli("predict", run_dir, tmp_path / "x.npy", "--json", "--batch-size", "7")
    assert r.code == 0, r
    preds = json.loads(r.out)["predictions"]
    assert len(preds) == 20
    for p in preds:
        assert sum(p["probabilities"]) == pytest.approx(1.0, abs=1e-6)
        assert p["class"] == int(np.argmax(p["probabilities"]))
    assert np.mean([p["class"] for p in preds] == y[:20]) >= 0.8
    # images: 8x8 grayscale PNGs (values 0..255), converted as the run's data says
    from PIL import Image
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((x[i].reshape(8, 8) / 16 * 255).astype(np.uint8)).save(folder / f"d{i}.png")
    r = cli("predict", run_dir, folder, "--json")
    assert r.code == 0, r
    img_preds = json.loads(r.out)["predictions"]
    assert [os.path.basename(p["input"]) for p in img_preds] == ["d0.png", "d1.png", "d2.png"]
    np.testing.assert_allclose([p["probability"] for p in img_preds], [p["probability"] for p in preds[:3]],
                               atol=1e-2)
    # a CSV with a header row; text output, one line per input
    np.savetxt(tmp_path / "x.csv", x[:4], delimiter=",", header=",".join(f"f{i}" for i in range(64)), comments="")
    r = cli("predict", run_dir, tmp_path / "x.csv")
    assert r.code == 0, r
    assert len(r.out.strip().splitlines()) == 4 and "class" in r.out


def test_predict_wrong_width_is_exit_2(digits_run, cli, tmp_path):
    run_dir, _ = digits_run
    np.save(tmp_path / "bad.npy", np.zeros((3, 10), np.float32))
    r = cli("predict", run_dir, tmp_path / "bad.npy")
    assert r.code == 2 and "the model takes (64,)" in r.err and len(r.err.strip().splitlines()) == 1


def test_resume_a_finished_run(digits_run, cli, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(digits_run[0], run_dir)
    r = cli("train", run_dir, "--resume", "-q")  # nothing left to do
    assert r.code == 0, r
    assert len(read_csv(run_dir / "metrics.csv")) == 3
    r = cli("train", run_dir, "--resume", "-q", "--set", "train.epochs=3")  # train it one epoch further
    assert r.code == 0, r
    rows = read_csv(run_dir / "metrics.csv")
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert tomlio.loads((run_dir / "config.toml").read_text())["train"]["epochs"] == 3


class Interrupt(Callback):
    """Presses Ctrl-C after ``at_step`` optimizer steps."""

    order = 200

    def __init__(self, at_step):
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if self.trainer.global_step == self.at_step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("at_step", [20, 13])  # at an epoch end, and mid-epoch (steps are 10 per epoch)
def test_interrupted_run_resumes_exactly(cli, write_config, tmp_path, monkeypatch, at_step):
    from lamina.cli import build
    cfg = write_config(SMALL + '\n[scheduler]\nname = "cosine"\ninterval = "step"\n')
    args = ["--set", "train.epochs=3", "--set", "train.checkpoint_every_n_steps=3", "--set", "model.dropout=0.2", "-q"]
    r = cli("train", cfg, "--run-dir", tmp_path / "a", *args)
    assert r.code == 0, r
    original = build.build_callbacks

    def with_interrupt(*a, **k):
        return original(*a, **k) + [Interrupt(at_step)]
    monkeypatch.setattr(build, "build_callbacks", with_interrupt)
    r = cli("train", cfg, "--run-dir", tmp_path / "b", *args)
    assert r.code == 130 and "--resume" in r.err
    monkeypatch.setattr(build, "build_callbacks", original)
    r = cli("train", tmp_path / "b", "--resume", "-q")
    assert r.code == 0, r
    a = lamina.io.load(str(tmp_path / "a" / "checkpoints" / "last.safetensors"))["model"]
    b = lamina.io.load(str(tmp_path / "b" / "checkpoints" / "last.safetensors"))["model"]
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    assert read_csv(tmp_path / "a" / "metrics.csv") == read_csv(tmp_path / "b" / "metrics.csv")
    assert json.loads((tmp_path / "a" / "test_metrics.json").read_text())["metrics"] == \
        json.loads((tmp_path / "b" / "test_metrics.json").read_text())["metrics"]


def test_resume_without_checkpoint_starts_fresh(cli, write_config, tmp_path):
    cfg = write_config(SMALL)
    r = cli("train", cfg, "--run-dir", tmp_path / "new", "--resume", "--set", "train.epochs=1")
    assert r.code == 0, r
    assert "starting the run from scratch" in r.err
    assert (tmp_path / "new" / "checkpoints" / "last.safetensors").exists()


def test_run_names(cli, write_config, in_tmp):
    cfg = write_config(SMALL, name="small.toml")
    for _ in range(2):
        assert cli("train", cfg, "-q", "--set", "train.epochs=1").code == 0
    assert sorted(os.listdir(in_tmp / "runs")) == ["small", "small-2"]
    assert cli("train", cfg, "-q", "--name", "exp", "--set", "train.epochs=1", "--set", "data.val_fraction=0",
                  "--set", "data.test_fraction=0").code == 0
    assert (in_tmp / "runs" / "exp" / "checkpoints" / "best.safetensors").exists()  # monitored the training loss
    assert not (in_tmp / "runs" / "exp" / "test_metrics.json").exists()


def test_check_writes_nothing(cli, write_config, in_tmp):
    r = cli("train", write_config(SMALL), "--check")
    assert r.code == 0 and "config OK" in r.out
    assert not (in_tmp / "runs").exists()


def test_tensorboard_and_early_stopping(cli, write_config, tmp_path):
    pytest.importorskip("tensorboardX")
    cfg = write_config(SMALL + "\n[callbacks]\ntensorboard = true\n"
                       "early_stopping = {monitor = \"val_loss\", patience = 1}\n")
    r = cli("train", cfg, "--run-dir", tmp_path / "tb", "-q")
    assert r.code == 0, r
    events = os.listdir(tmp_path / "tb" / "tensorboard")
    assert any(e.startswith("events.out.tfevents") for e in events)
