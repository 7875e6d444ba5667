"""The runtimes (lamina, onnxruntime from a run, onnxruntime from a file) agree; request payloads
become the run's model inputs; the command's arguments and errors; import hygiene."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from lamina.cli.errors import ConfigError
from lamina.serve.inputs import InputError, from_files, from_json
from lamina.serve.runtime import load_runtime, probabilities
from serve_util import HOST, digits_rows, lamina_predict, run_cli


# ---------------------------------------------------------------- runtimes
def test_three_runtimes_agree_with_lamina_predict(tiny_run, tiny_onnx, tmp_path):
    rows = digits_rows(9)
    np.save(tmp_path / "rows.npy", rows)
    want = np.array([p["probabilities"] for p in lamina_predict(tiny_run, tmp_path / "rows.npy")])
    runtimes = [load_runtime(tiny_run), load_runtime(tiny_run, "onnx"), load_runtime(tiny_onnx)]
    for rt in runtimes:
        rt.warmup()
        got = rt.infer(rt.preprocess.prepare(rows))
        np.testing.assert_allclose(got, want, atol=1e-5 if rt.name == "onnx" else 1e-7)
    lam, from_run, from_file = (rt.metadata for rt in runtimes)
    assert [m["runtime"] for m in (lam, from_run, from_file)] == ["lamina", "onnx", "onnx"]
    assert lam["model_hash"] == from_run["model_hash"] == from_file["model_hash"]  # the checkpoint's sha256
    assert lam["opset"] is None and from_run["opset"] == from_file["opset"] == 17
    assert from_file["loss"] == "cross_entropy" and len(from_file["model_hash"]) == 64
    assert from_file["onnx_input"]["shape"] == ["batch", 64]


def test_probabilities_follow_the_loss():
    out = np.array([[1.0, 2.0, 0.5], [-3.0, 0.0, 3.0]])
    e = np.exp(out)
    np.testing.assert_allclose(probabilities(out, "cross_entropy"), e / e.sum(1, keepdims=True))
    np.testing.assert_allclose(probabilities(np.log(e / e.sum(1, keepdims=True)), "nll"), e / e.sum(1, keepdims=True))
    p = 1 / (1 + np.exp(-out[:, :1]))
    np.testing.assert_allclose(probabilities(out[:, :1], "bce_with_logits"), np.hstack([1 - p, p]))
    np.testing.assert_allclose(probabilities(p, "bce"), np.hstack([1 - p, p]))
    big = probabilities(np.array([[1000.0, 0.0]]), None)  # no overflow
    assert np.isfinite(big).all() and big[0, 0] == 1.0


def test_runtime_errors_name_the_problem(tiny_run, tiny_onnx, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_runtime(tmp_path / "nope")
    with pytest.raises(ConfigError, match="served by onnxruntime"):
        load_runtime(tiny_onnx, "lamina")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(os.urandom(200))
    with pytest.raises(ConfigError, match="onnxruntime cannot load"):
        load_runtime(junk)
    import lamina
    import lamina.onnx as lonnx
    bare = tmp_path / "bare.onnx"
    lonnx.export(lamina.nn.Linear(4, 2), lamina.zeros(1, 4), bare)
    with pytest.raises(ConfigError, match="lamina export"):
        load_runtime(bare)


# ---------------------------------------------------------------- payloads
class TextPre:
    """A stand-in text pipeline: token ids = character codes, padded to the longest text."""

    info = {"input_kind": "tokens", "dataset": "news", "task": "classification"}

    def prepare(self, raw, kind="features", where="INPUTS"):
        assert kind == "texts"
        n = max(len(t) for t in raw)
        return np.array([[ord(c) for c in t] + [0] * (n - len(t)) for t in raw], dtype=np.int64)


def test_text_payloads_json_and_files():
    pre = TextPre()
    names, x = from_json(json.dumps({"texts": ["ab", "c"]}).encode(), pre)
    assert names == ["texts[0]", "texts[1]"] and x.tolist() == [[97, 98], [99, 0]]
    names, x = from_files([("notes.txt", "text/plain", b"ab\n\nc\n")], pre)
    assert names == ["notes.txt:1", "notes.txt:2"] and x.shape == (2, 2)
    for body, status, words in [({"inputs": [[1, 2]]}, 422, "reads text"), ({"texts": "ab"}, 422, "list of strings"),
                                ({"texts": ["a", 3]}, 422, r"texts\[1\] is int")]:
        with pytest.raises(InputError, match=words) as e:
            from_json(json.dumps(body).encode(), pre)
        assert e.value.status == status
    with pytest.raises(InputError, match="not UTF-8"):
        from_files([("x.txt", "text/plain", b"\xff\xfe\xfa")], pre)


def test_feature_payload_errors(tiny_run):
    from lamina.cli.pipeline import Preprocess
    pre = Preprocess.load(os.path.join(tiny_run, "preprocess.safetensors"))
    cases = [(b"", 400, "empty"), (b"[" * 100000, 400, "nested too deeply"), (b"\xff\xfe", 400, "not valid JSON"),
             (b"[1]", 400, "JSON object"), (b'{"inputs": [[1e999]]}', 422, "not a finite number"),
             (b'{"inputs": [[null]]}', 422, "numbers only"), (b'{"inputs": [[true, false]]}', 422, "numbers only"),
             (b'{"inputs": [[1]], "texts": ["a"]}', 400, "not 'inputs' and 'texts'")]
    for body, status, words in cases:
        with pytest.raises(InputError, match=words) as e:
            from_json(body, pre)
        assert e.value.status == status, body[:30]
    with pytest.raises(InputError, match="line 2 of .*rows.csv has 2 fields") as e:
        from_files([("rows.csv", "text/csv", b"1,2,3\n4,5\n")], pre)
    assert e.value.status == 422
    with pytest.raises(InputError, match="text file is for text models") as e:
        from_files([("a.txt", "text/plain", b"1 2 3")], pre)
    assert e.value.status == 415
    names, x = from_json(json.dumps({"inputs": [list(range(64))] * 2}).encode(), pre)
    np.testing.assert_array_equal(x, pre.prepare(np.array([list(range(64))] * 2)))


# ---------------------------------------------------------------- the command
def test_serve_command_arguments_and_errors(tiny_run, tmp_path):
    code, out, _ = run_cli("serve", "--help")
    assert code == 0 and "--max-wait-ms" in out and "/predict/file" in out
    for args, words in [(["--max-batch", "0"], "--max-batch must be a positive integer"),
                        (["--port", "70000"], "--port must be 0..65535"),
                        (["--max-wait-ms", "-1"], "--max-wait-ms must be a 0 or more number"),
                        (["--timeout-s", "0"], "--timeout-s must be a positive number"),
                        (["--runtime", "tf"], "invalid choice")]:
        code, _, err = run_cli("serve", tiny_run, *args)
        assert code == 2 and words in err and err.count("\n") == 1, err
    code, _, err = run_cli("serve", tmp_path / "missing")
    assert code == 2 and "not found" in err
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        code, _, err = run_cli("serve", tiny_run, "--host", HOST, "--port", busy.getsockname()[1])
    assert code == 2 and "cannot listen on" in err, err


def test_import_lamina_loads_no_server_packages():
    code = ("import sys, lamina; from lamina.cli.main import build_parser; build_parser(['serve', '--help']); "
            "import lamina.serve; "
            "print(sorted(k for k in ('starlette', 'uvicorn', 'onnxruntime', 'onnx') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_file_written_by_lamina_export_serves_the_same(tiny_run, tmp_path):
    from lamina.cli.main import _command_modules
    if "export" not in _command_modules():
        pytest.skip("lamina export is not available")
    code, _, err = run_cli("export", tiny_run, "--out", tmp_path / "model.onnx")
    assert code == 0, err
    rt, ref = load_runtime(tmp_path / "model.onnx"), load_runtime(tiny_run)
    rows = digits_rows(6)
    np.testing.assert_allclose(rt.infer(rt.preprocess.prepare(rows)), ref.infer(ref.preprocess.prepare(rows)),
                               atol=1e-5)
    assert rt.metadata["model_hash"] == ref.metadata["model_hash"] and rt.metadata["loss"] == "cross_entropy"
