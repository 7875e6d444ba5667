"""--help and --version, the ready configs in configs/, and the csv / npy / image_folder data sets."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFIGS

import lamina
from lamina.cli import build, config, tomlio
from lamina.cli.errors import ConfigError
from lamina.cli.main import _command_modules

from lamina.cli.rl_config import is_rl_config  # noqa: E402

# supervised configs (the reinforcement-learning ones are checked by test_cli_rl.py)
ALL_CONFIGS = [p for p in sorted(glob.glob(os.path.join(CONFIGS, "*.toml")))
               if not is_rl_config(tomlio.loads(open(p).read()))]


# ---------------------------------------------------------------- help and version
@pytest.mark.parametrize("command", sorted(_command_modules()))
def test_help_of_every_command(cli, command):
    r = cli(command, "--help")
    assert r.code == 0 and r.err == ""
    assert r.out.startswith(f"usage: lamina {command}")


def test_top_level_help_and_version(cli):
    r = cli("--help")
    assert r.code == 0 and "usage: lamina" in r.out
    for name in ("train", "evaluate", "predict"):
        assert name in r.out
    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"lamina {lamina.__version__}"
    r = cli()
    assert r.code == 2 and "usage: lamina" in r.err


def test_python_dash_m_lamina():
    proc = subprocess.run([sys.executable, "-m", "lamina", "train", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "--resume" in proc.stdout and "--set KEY=VALUE" in proc.stdout


# ---------------------------------------------------------------- configs/
def test_there_is_a_config_per_zoo_family():
    names = {os.path.basename(p) for p in ALL_CONFIGS}
    assert {"mlp_digits.toml", "cnn_digits.toml", "resnet8_cifar10.toml", "mlp_mnist1d.toml",
            "layers_digits.toml"} <= names
    models = {tomlio.loads(open(p).read())["model"].get("name", "layers") for p in ALL_CONFIGS}
    assert {"mlp", "lenet5", "resnet8", "resnet20", "resnet32", "vgg", "layers"} <= models


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=os.path.basename)
def test_every_config_validates(path):
    raw = config.load_config(path)
    if "tune" in raw:  # a search: its base config is the rest
        from lamina.tune import parse_tune
        _, raw = parse_tune(raw)
    cfg = config.validate(raw, check_files=False)
    assert cfg["train"]["epochs"] >= 1
    # the resolved config round-trips through the TOML writer
    assert config.validate(tomlio.loads(tomlio.dumps(cfg)), check_files=False) == cfg


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits", "layers_digits"])
def test_digits_configs_build(cli, in_tmp, name):
    r = cli("train", os.path.join(CONFIGS, f"{name}.toml"), "--check")
    assert r.code == 0, r
    assert "config OK" in r.out


@pytest.mark.parametrize("path", [p for p in ALL_CONFIGS if "cifar10" in p], ids=os.path.basename)
def test_cifar_configs_build_models_and_name_missing_data(cli, in_tmp, path):
    cfg = config.validate(config.load_config(path), check_files=False)
    info = {"task": "classification", "input_shape": [3, 32, 32], "num_classes": 10}
    model, resolved = build.build_model(cfg["model"], info, check_batch=np.zeros((2, 3, 32, 32), np.float32))
    assert resolved["num_classes"] == 10 and resolved["in_channels"] == 3
    r = cli("train", path, "--set", "data.root=nowhere")
    assert r.code == 2 and "cifar10 files not found" in r.err and "nowhere" in r.err


# ---------------------------------------------------------------- csv, npy and image folders
def _digits():
    return lamina.data.datasets.load_digits(as_numpy=True)


def test_csv_dataset_end_to_end(cli, write_config, tmp_path):
    x, y = _digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    with open(tmp_path / "digits.csv", "w") as f:
        f.write(",".join([f"p{i}" for i in range(64)] + ["label"]) + "\n")
        for row, label in zip(x, names[y]):
            f.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
    cfg = write_config(f"""
        [model]
        name = "mlp"
        hidden_sizes = [32]
        [data]
        name = "csv"
        path = "{tmp_path / 'digits.csv'}"
        target = "label"
        standardize = true
        batch_size = 128
        [optimizer]
        lr = 0.01
        [train]
        epochs = 3
    """)
    r = cli("train", cfg, "--run-dir", tmp_path / "run", "-q")
    assert r.code == 0, r
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["metrics"]["accuracy"] > 0.7
    r = cli("predict", tmp_path / "run", tmp_path / "digits.csv", "--json")  # the label column is dropped
    assert r.code == 0, r
    preds = json.loads(r.out)["predictions"]
    assert len(preds) == len(x)
    assert set(p["label"] for p in preds) <= set(names)  # class names, sorted: 'eight', 'five', ...
    assert np.mean([p["label"] == n for p, n in zip(preds, names[y])]) > 0.7


def test_npy_dataset_and_regression(cli, write_config, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0], np.float32) + 0.1
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    cfg = write_config(f"""
        [model]
        layers = [{{type = "Linear", in_features = 5, out_features = 1}}]
        [data]
        name = "npy"
        path = "{tmp_path / 'x.npy'}"
        targets_path = "{tmp_path / 'y.npy'}"
        task = "regression"
        batch_size = 32
        [optimizer]
        name = "sgd"
        lr = 0.05
        [train]
        epochs = 5
    """)
    r = cli("train", cfg, "--run-dir", tmp_path / "run", "-q")
    assert r.code == 0, r
    result = json.loads((tmp_path / "run" / "test_metrics.json").read_text())["metrics"]
    assert set(result) == {"loss", "mse", "mae"} and result["mse"] < 0.05
    r = cli("predict", tmp_path / "run", tmp_path / "x.npy", "--json")
    pred = np.array([p["prediction"][0] for p in json.loads(r.out)["predictions"]])
    np.testing.assert_allclose(pred, y, atol=0.5)


def test_image_folder_dataset(cli, write_config, tmp_path):
    from PIL import Image
    x, y = _digits()
    root = tmp_path / "images"
    for cls in (0, 1):
        (root / f"digit{cls}").mkdir(parents=True)
        for i in np.flatnonzero(y == cls)[:15]:
            img = Image.fromarray((x[i].reshape(8, 8) * 255).astype(np.uint8)).resize((16, 16))
            img.save(root / f"digit{cls}" / f"{i}.png")
    cfg = write_config(f"""
        [model]
        layers = [{{type = "Flatten"}}, {{type = "Linear", in_features = 64, out_features = 2}}]
        [data]
        name = "image_folder"
        root = "{root}"
        mode = "L"
        image_size = [8, 8]
        as_images = true
        val_fraction = 0.0
        test_fraction = 0.2
        batch_size = 8
        [[transforms]]
        type = "RandomHorizontalFlip"
        [optimizer]
        lr = 0.01
        [train]
        epochs = 3
    """)
    r = cli("train", cfg, "--run-dir", tmp_path / "run", "-q")
    assert r.code == 0, r
    r = cli("predict", tmp_path / "run", root / "digit1", "--json")
    assert r.code == 0, r
    out = json.loads(r.out)
    assert out["classes"] == ["digit0", "digit1"] and len(out["predictions"]) == 15
    r = cli("evaluate", tmp_path / "run", "--data", root, "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["num_samples"] == 30


def test_data_errors_are_config_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,x,0\n")
    cfg = config.validate({"model": {"name": "mlp"}, "data": {"name": "csv", "path": str(tmp_path / "bad.csv")}})
    with pytest.raises(ConfigError, match="line 2, column 2 \\('b'\\): 'x' is not a number"):
        build.build_data(cfg)
    np.savez(tmp_path / "d.npz", features=np.zeros((3, 2)))
    cfg = config.validate({"model": {"name": "mlp"}, "data": {"name": "npy", "path": str(tmp_path / "d.npz")}})
    with pytest.raises(ConfigError, match="must hold arrays named x and y"):
        build.build_data(cfg)
