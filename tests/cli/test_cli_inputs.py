"""Inputs you can trust: one reader for data files (the same rows for every command), NaN/Inf refused
(or let through on request, as null in strict JSON), raw input through the run's whole pipeline."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import SMALL, fingerprint

import lamina
from lamina.cli.errors import ConfigError


def one_error_line(r) -> str:
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lamina: error: ") and "Traceback" not in r.err, r.err
    return lines[0]


def strict_json(text: str):
    """json.loads that refuses NaN / Infinity (which Python's json would accept)."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def raw_digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    bunch = sklearn.load_digits()
    return bunch.data, bunch.target          # 64 pixel intensities 0..16 per row, as a user has them


def write_csv(path, x, y=None, header=None):
    with open(path, "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        for i, row in enumerate(x):
            cells = [f"{v:g}" for v in row] + ([str(y[i])] if y is not None else [])
            f.write(",".join(cells) + "\n")


# ---------------------------------------------------------------- 2. the same rows everywhere
def test_evaluate_and_predict_read_every_row_of_a_csv_without_header(cli, small_run, tmp_path):
    x, y = raw_digits()
    write_csv(tmp_path / "labelled.csv", x[:200], y[:200])
    write_csv(tmp_path / "features.csv", x[:200])
    r = cli("evaluate", small_run, "--data", tmp_path / "labelled.csv", "--json")
    assert r.code == 0, r
    out = strict_json(r.out)
    assert out["num_samples"] == 200 and out["split"] == "all"       # not 199, not "train"
    r = cli("predict", small_run, tmp_path / "features.csv", "--json")
    assert r.code == 0 and len(strict_json(r.out)["predictions"]) == 200
    # the explicit override works, on both commands
    for flag in (["--set", "data.header=false"], ["--no-header"]):
        r = cli("evaluate", small_run, "--data", tmp_path / "labelled.csv", "--json", *flag)
        assert r.code == 0 and strict_json(r.out)["num_samples"] == 200, r
    r = cli("evaluate", small_run, "--data", tmp_path / "labelled.csv", "--json", "--header")
    assert r.code == 0 and strict_json(r.out)["num_samples"] == 199   # told so: the first row is a header
    r = cli("predict", small_run, tmp_path / "features.csv", "--json", "--no-header")
    assert r.code == 0 and len(strict_json(r.out)["predictions"]) == 200


def test_a_header_row_is_detected_and_dropped_by_every_command(cli, small_run, tmp_path):
    x, y = raw_digits()
    write_csv(tmp_path / "h.csv", x[:50], y[:50], header=[f"p{i}" for i in range(64)] + ["label"])
    r = cli("evaluate", small_run, "--data", tmp_path / "h.csv", "--json")
    assert r.code == 0 and strict_json(r.out)["num_samples"] == 50, r
    write_csv(tmp_path / "hf.csv", x[:50], header=[f"p{i}" for i in range(64)])
    r = cli("predict", small_run, tmp_path / "hf.csv", "--json")
    assert r.code == 0 and len(strict_json(r.out)["predictions"]) == 50


def test_header_on_a_run_split_is_an_error_not_ignored(cli, small_run):
    r = cli("evaluate", small_run, "--set", "data.header=false")
    assert r.code == 2 and "data.header is not used by the digits dataset" in one_error_line(r)


def test_detect_header():
    from lamina.cli import readers
    assert readers.detect_header(np.array([["a", "b"], ["1", "2"]]))
    assert not readers.detect_header(np.array([["1", "2"], ["3", "4"]]))
    assert not readers.detect_header(np.array([["1", "cat"], ["3", "dog"]]))    # a label column of names
    assert readers.detect_header(np.array([["x", "label"], ["1", "dog"]]))
    assert not readers.detect_header(np.array([["1", "2"]]))
    assert not readers.detect_header(np.array([["?", "2", "3"], ["1", "2", "3"]]))  # a bad data row, not a header
    assert not readers.detect_header(np.array([["a", "2"], ["1", "2"]]))            # a header needs every name


def test_ragged_and_garbage_files_name_the_line(tmp_path):
    from lamina.cli import readers
    (tmp_path / "r.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(ConfigError, match="line 2 of .* has 2 fields, expected 3"):
        readers.read_table(str(tmp_path / "r.csv"), where="INPUTS")
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        readers.read_table(str(tmp_path / "b.csv"), where="INPUTS")
    (tmp_path / "e.csv").write_text("\n\n")
    with pytest.raises(ConfigError, match="has no rows"):
        readers.read_table(str(tmp_path / "e.csv"), where="INPUTS")


# ---------------------------------------------------------------- 3. NaN / Inf
def test_nonfinite_inputs_are_refused_naming_line_and_column(cli, small_run, tmp_path):
    x, y = raw_digits()
    rows = x[:10].copy()
    rows[2, 4] = np.nan
    write_csv(tmp_path / "nan.csv", rows)
    write_csv(tmp_path / "nan_labelled.csv", rows, y[:10])
    r = cli("predict", small_run, tmp_path / "nan.csv")
    assert r.code == 2, r
    line = one_error_line(r)
    assert "line 3, column 5: 'nan' is not a finite number" in line and "--allow-nonfinite" in line
    r = cli("evaluate", small_run, "--data", tmp_path / "nan_labelled.csv")
    assert r.code == 2 and "line 3, column 5" in one_error_line(r)
    inf = x[:4].copy()
    inf[1, 7] = np.inf
    np.save(tmp_path / "inf.npy", inf)
    r = cli("predict", small_run, tmp_path / "inf.npy")
    assert r.code == 2 and "x[1, 7] = inf is not a finite number" in one_error_line(r)
    write_csv(tmp_path / "big.csv", [[1e39] + [0] * 63])   # finite in float64, not in float32
    r = cli("predict", small_run, tmp_path / "big.csv")
    assert r.code == 2 and "too large for float32" in one_error_line(r)


def test_allow_nonfinite_gives_strict_json_with_null(cli, small_run, tmp_path):
    x, y = raw_digits()
    rows = x[:5].copy()
    rows[1, 0] = np.nan
    write_csv(tmp_path / "nan.csv", rows)
    r = cli("predict", small_run, tmp_path / "nan.csv", "--json", "--allow-nonfinite")
    assert r.code == 0, r
    preds = strict_json(r.out)["predictions"]              # valid JSON: no bare NaN
    assert preds[1]["class"] is None and preds[1]["probability"] is None
    assert all(p is None for p in preds[1]["probabilities"])
    assert all(isinstance(p["class"], int) for i, p in enumerate(preds) if i != 1)
    r = cli("predict", small_run, tmp_path / "nan.csv", "--allow-nonfinite")
    assert r.code == 0 and "no prediction (non-finite input)" in r.out and "p=nan" not in r.out
    write_csv(tmp_path / "nan_labelled.csv", rows, y[:5])
    r = cli("evaluate", small_run, "--data", tmp_path / "nan_labelled.csv", "--json", "--allow-nonfinite")
    assert r.code == 0, r
    assert strict_json(r.out)["metrics"]["loss"] is None


# ---------------------------------------------------------------- 4. raw input through the whole pipeline
def test_predict_on_raw_digits_is_as_accurate_as_the_test_split(cli, small_run, tmp_path):
    x, y = raw_digits()
    np.save(tmp_path / "digits.npy", x)
    r = cli("predict", small_run, tmp_path / "digits.npy", "--json")
    assert r.code == 0, r
    preds = strict_json(r.out)["predictions"]
    acc = np.mean([p["class"] == t for p, t in zip(preds, y)])
    test_acc = json.loads((small_run / "test_metrics.json").read_text())["metrics"]["accuracy"]
    assert acc > 0.8 and abs(acc - test_acc) < 0.06, (acc, test_acc)
    write_csv(tmp_path / "digits.csv", x, y)
    r = cli("evaluate", small_run, "--data", tmp_path / "digits.csv", "--json")
    assert r.code == 0 and abs(strict_json(r.out)["metrics"]["accuracy"] - acc) < 1e-9


def test_the_pipeline_gives_training_inputs_exactly(small_run):
    from lamina.cli.pipeline import Preprocess
    pre = Preprocess.load(str(small_run / "preprocess.safetensors"))
    loaded, _ = lamina.data.datasets.load_digits(as_numpy=True)   # the loader's arrays: raw / 16
    x, _ = raw_digits()
    np.testing.assert_array_equal(pre.prepare(x), pre.from_loaded(loaded))
    assert [s["step"] for s in pre.steps()] == ["float32", "divide", "reshape", "standardize"]
    assert pre.steps()[1]["by"] == 16.0


def test_predict_help_says_what_raw_input_looks_like(cli, small_run):
    r = cli("predict", "--help")
    assert r.code == 0 and "64 values 0..16 per row" in r.out
    r = cli("predict", small_run, "--help")
    assert r.code == 0
    text = " ".join(r.out.split())
    assert "this run: digits run: raw input is 64 values per row (pixel intensities 0..16" in text
    assert "divides by 16" in text and "standardises" in text
    r = cli("predict", small_run)
    assert r.code == 2 and "64 values per row" in one_error_line(r)


def test_image_files_and_raw_rows_agree(cli, small_run, tmp_path):
    from PIL import Image
    x, _ = raw_digits()
    pixels = np.round(x[:3] / 16 * 255).astype(np.uint8)          # 8x8 images, pixels 0..255
    for i in range(3):
        Image.fromarray(pixels[i].reshape(8, 8)).save(tmp_path / f"d{i}.png")
    np.save(tmp_path / "x.npy", pixels.astype(np.float64) * 16 / 255)  # the same digits as raw rows 0..16
    a = strict_json(cli("predict", small_run, *(tmp_path / f"d{i}.png" for i in range(3)), "--json").out)
    b = strict_json(cli("predict", small_run, tmp_path / "x.npy", "--json").out)
    assert [p["class"] for p in a["predictions"]] == [p["class"] for p in b["predictions"]]
    np.testing.assert_allclose([p["probability"] for p in a["predictions"]],
                               [p["probability"] for p in b["predictions"]], rtol=1e-4)


# ---------------------------------------------------------------- 5. a config must name its data
def test_a_config_without_data_is_refused(cli, write_config, in_tmp):
    text = SMALL.split("[data]")[0] + "[optimizer]" + SMALL.split("[optimizer]")[1]
    assert "[data]" not in text
    r = cli("train", write_config(text))
    assert r.code == 2 and "[data] is missing" in one_error_line(r)
    assert not os.path.exists(in_tmp / "runs")
    r = cli("train", write_config(SMALL.replace('name = "digits"', "seed = 1")))
    assert r.code == 2 and "[data] needs a name" in one_error_line(r)


def test_run_labels_by_the_runs_classes(cli, small_run, tmp_path):
    x, y = raw_digits()
    before = fingerprint(small_run)
    write_csv(tmp_path / "ten.csv", x[:5], [10] * 5)       # no class 10 in a digits run
    r = cli("evaluate", small_run, "--data", tmp_path / "ten.csv")
    assert r.code == 2 and "label 10 is out of range for the run's 10 classes" in one_error_line(r)
    assert fingerprint(small_run) == before


def test_an_image_folder_with_some_classes_is_scored_by_class_name(cli, write_config, tmp_path):
    from PIL import Image
    x, y = raw_digits()
    root = tmp_path / "images"
    for cls in (0, 1, 2):
        (root / f"digit{cls}").mkdir(parents=True)
        for i in np.flatnonzero(y == cls)[:12]:
            Image.fromarray(np.round(x[i].reshape(8, 8) / 16 * 255).astype(np.uint8)).save(
                root / f"digit{cls}" / f"{i}.png")
    cfg = write_config(f"""
        [model]
        layers = [{{type = "Flatten"}}, {{type = "Linear", in_features = 64, out_features = 3}}]
        [data]
        name = "image_folder"
        root = "{root}"
        mode = "L"
        image_size = [8, 8]
        as_images = true
        test_fraction = 0.2
        batch_size = 8
        [optimizer]
        lr = 0.05
        [train]
        epochs = 15
    """)
    assert cli("train", cfg, "--run-dir", tmp_path / "run", "-q").code == 0
    only2 = tmp_path / "only2"
    (only2 / "digit2").mkdir(parents=True)
    for f in os.listdir(root / "digit2"):
        os.link(root / "digit2" / f, only2 / "digit2" / f)
    r = cli("evaluate", tmp_path / "run", "--data", only2, "--json")
    assert r.code == 0, r
    assert strict_json(r.out)["metrics"]["accuracy"] > 0.8   # class 2 of the run, not class 0 of the folder
    (only2 / "digit7").mkdir()
    os.link(root / "digit2" / os.listdir(root / "digit2")[0], only2 / "digit7" / "a.png")
    r = cli("evaluate", tmp_path / "run", "--data", only2)
    assert r.code == 2 and "'digit7' is not one of the run's classes" in one_error_line(r)
