"""The real server (``python -m lamina serve`` on 127.0.0.1): its answers equal ``lamina predict``
on the same raw inputs, for a run served by lamina and for its .onnx file served by onnxruntime."""
from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest

from serve_util import digits_rows, lamina_predict


def _check_same(got: list, want: list, atol: float) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["class"] == w["class"] and g["label"] == w["label"]
        np.testing.assert_allclose(g["probabilities"], w["probabilities"], atol=atol, rtol=0)
        assert g["probability"] == pytest.approx(w["probability"], abs=atol)
        assert g["latency_ms"] > 0


@pytest.mark.parametrize("which, atol", [("lamina", 1e-6), ("onnx", 1e-5)])
def test_predict_json_equals_lamina_predict(servers, tiny_run, tmp_path, which, atol):
    rows = digits_rows(12)
    np.save(tmp_path / "rows.npy", rows)
    want = lamina_predict(tiny_run, tmp_path / "rows.npy")
    r = httpx.post(servers[which].url + "/predict", json={"inputs": rows.tolist()}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["runtime"] == which and body["latency_ms"] > 0
    _check_same(body["predictions"], want, atol)
    assert [p["input"] for p in body["predictions"]] == [f"inputs[{i}]" for i in range(12)]
    # one row at a time gives the same answers (the batch a request lands in does not change it)
    for i in (0, 7):
        r = httpx.post(servers[which].url + "/predict", json={"inputs": [rows[i].tolist()]}, timeout=30)
        _check_same(r.json()["predictions"], [want[i]], atol)


@pytest.mark.parametrize("which", ["lamina", "onnx"])
def test_predict_file_csv_npy_and_image_equal_lamina_predict(servers, tiny_run, tmp_path, which):
    from PIL import Image
    rows = digits_rows(5, start=20)
    csv = "\n".join(",".join(str(int(v)) for v in r) for r in rows) + "\n"
    (tmp_path / "rows.csv").write_text(csv)
    want = lamina_predict(tiny_run, tmp_path / "rows.csv")
    url = servers[which].url + "/predict/file"
    r = httpx.post(url, files={"file": ("rows.csv", csv.encode(), "text/csv")}, timeout=30)
    assert r.status_code == 200, r.text
    _check_same(r.json()["predictions"], want, 1e-5)
    assert [p["input"] for p in r.json()["predictions"]] == [f"rows.csv:{i}" for i in range(1, 6)]
    buf = io.BytesIO()
    np.save(buf, rows)
    r = httpx.post(url, files={"file": ("rows.npy", buf.getvalue(), "application/octet-stream")}, timeout=30)
    _check_same(r.json()["predictions"], want, 1e-5)
    # images: two PNG files in one upload, and the same as base64 in JSON
    pngs = []
    for k, row in enumerate(rows[:2]):
        img = Image.fromarray((row.reshape(8, 8) * 255 / 16).astype(np.uint8), mode="L")
        img.save(tmp_path / f"d{k}.png")
        pngs.append((tmp_path / f"d{k}.png").read_bytes())
    want = lamina_predict(tiny_run, tmp_path / "d0.png", tmp_path / "d1.png")
    r = httpx.post(url, files=[("file", ("d0.png", pngs[0], "image/png")), ("file", ("d1.png", pngs[1], "image/png"))],
                   timeout=30)
    assert r.status_code == 200, r.text
    _check_same(r.json()["predictions"], want, 1e-5)
    r = httpx.post(servers[which].url + "/predict",
                   json={"images": [base64.b64encode(p).decode() for p in pngs]}, timeout=30)
    assert r.status_code == 200, r.text
    _check_same(r.json()["predictions"], want, 1e-5)


def test_metadata_health_and_metrics(servers, tiny_run):
    from lamina.cli.rundir import find_checkpoint
    from lamina.serve.runtime import _sha256
    for which, opset in (("lamina", None), ("onnx", 17)):
        url = servers[which].url
        assert httpx.get(url + "/health").json()["status"] == "ok"
        meta = httpx.get(url + "/metadata").json()
        assert meta["runtime"] == which and meta["opset"] == opset
        assert meta["input_shape"] == [64] and meta["values_per_row"] == 64 and meta["task"] == "classification"
        assert meta["num_classes"] == 10 and "64 values per row" in meta["description"]
        assert meta["image"] == ["L", [8, 8]] and meta["limits"]["max_batch"] == 64
        assert len(meta["model_hash"]) == 64
    # a run is identified by its checkpoint's hash
    assert httpx.get(servers["lamina"].url + "/metadata").json()["model_hash"] == \
        _sha256(find_checkpoint(tiny_run, "best")[1])
    url = servers["lamina"].url
    before = httpx.get(url + "/metrics").json()
    httpx.post(url + "/predict", json={"inputs": digits_rows(3).tolist()})
    httpx.post(url + "/predict", json={"inputs": [[1, 2]]})
    m = httpx.get(url + "/metrics").json()
    assert m["predict_requests"] == before["predict_requests"] + 2
    assert m["errors"] == before["errors"] + 1 and m["responses_by_status"]["422"] >= 1
    assert m["inputs"] == before["inputs"] + 3
    assert m["batches"] >= before["batches"] + 1 and sum(m["batch_size_histogram"].values()) == m["batches"]
    lat = m["latency_ms"]
    assert lat["count"] >= 1 and 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]


def test_errors_name_the_problem(servers):
    url = servers["lamina"].url
    cases = [
        ({"inputs": [[1.0] * 63]}, 422, "63 values"),
        ({"inputs": [[1.0] * 64, [1.0] * 60]}, 422, "same number of values"),
        ({"inputs": [["a"] * 64]}, 422, "numbers only"),
        ({"inputs": [1.0] * 64}, 422, "list of rows"),
        ({"inputs": []}, 422, "empty"),
        ({"rows": [[1.0] * 64]}, 400, "missing field"),
        ({"texts": ["hello"]}, 422, "not texts"),
        ({"images": ["not base64!"]}, 422, "base64"),
        ({"images": [base64.b64encode(b"GIF89a-broken").decode()]}, 422, "cannot decode image images[0]"),
    ]
    for body, status, words in cases:
        r = httpx.post(url + "/predict", json=body)
        assert r.status_code == status and words in r.json()["error"], (body, r.text)
    r = httpx.post(url + "/predict", content=b'{"inputs": [[NaN' + b", 1" * 63 + b"]]}",
                   headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not a finite number" in r.json()["error"]
    r = httpx.post(url + "/predict", content=b'{"inputs": [[1, 2', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = httpx.post(url + "/predict", content=b"x" * (1 << 20 | 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit is 1048576 bytes" in r.json()["error"]
    r = httpx.post(url + "/predict/file", files={"file": ("x.png", b"\x89PNG not really", "image/png")})
    assert r.status_code == 422 and "not an image" in r.json()["error"] and "x.png" in r.json()["error"]
    r = httpx.post(url + "/predict", content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert httpx.get(url + "/predict").status_code == 405
    assert httpx.get(url + "/nowhere").status_code == 404
    assert httpx.get(url + "/health").status_code == 200
