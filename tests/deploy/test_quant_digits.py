"""Int8 on a small digits CNN: static PTQ through onnxruntime and QAT in lamina, against float32."""
from __future__ import annotations

import os

import numpy as np
import pytest

from export_util import lonnx, onnx, ort  # noqa: F401  (skips without the onnx extra)

import lamina
import lamina.nn as nn
import lamina.nn.functional as F
from lamina.quantization import export_qat, prepare_qat, qat_modules, quantize_static_onnx

pytest.importorskip("sklearn")


def make_cnn():
    """Conv2d+ReLU+pool+Linear, ~70k parameters (so the weights, not the graph, make the file's size)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))


def fit(model, x, y, epochs, lr=3e-3, seed=0):
    opt = lamina.optim.Adam(model.parameters(), lr=lr)
    rs = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rs.permutation(len(x))
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(lamina.tensor(x[idx])), lamina.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return opt


def accuracy_onnx(path, x, y):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return 100.0 * float(np.mean(sess.run(None, {"input": x})[0].argmax(1) == y))


def accuracy_lamina(model, x, y):
    model.eval()
    with lamina.no_grad():
        return 100.0 * float(np.mean(model(lamina.tensor(x)).numpy().argmax(1) == y))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from lamina.data.datasets.digits import load_digits
    x, y = load_digits(as_images=True, as_numpy=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    xtr, ytr, xte, yte = x[:1300], y[:1300], x[1300:], y[1300:]
    lamina.manual_seed(0)
    model = make_cnn()
    fit(model, xtr, ytr, epochs=8)
    path = tmp_path_factory.mktemp("digits") / "cnn.onnx"
    lonnx.export(model, lamina.tensor(xte[:2]), path, metadata={"lamina.preprocess": "digits"})
    return model, path, (xtr, ytr, xte, yte)


def test_float_model_learns(digits):
    model, path, (_, _, xte, yte) = digits
    assert accuracy_onnx(path, xte, yte) > 90.0
    assert abs(accuracy_onnx(path, xte, yte) - accuracy_lamina(model, xte, yte)) < 0.3


@pytest.mark.parametrize("method", ["minmax", "entropy"])
def test_static_ptq_keeps_accuracy_and_shrinks_the_file(digits, tmp_path, method):
    model, path, (xtr, _, xte, yte) = digits
    dst = tmp_path / "cnn_int8.onnx"
    assert quantize_static_onnx(path, dst, xtr[:256], per_channel=True, method=method) == os.fspath(dst)
    acc32, acc8 = accuracy_onnx(path, xte, yte), accuracy_onnx(dst, xte, yte)
    assert acc8 >= acc32 - 1.0, (acc32, acc8)
    assert os.path.getsize(dst) <= 0.30 * os.path.getsize(path), (os.path.getsize(dst), os.path.getsize(path))
    q = onnx.load(dst)
    ops = {n.op_type for n in q.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert any(t.data_type == onnx.TensorProto.INT8 for t in q.graph.initializer)
    assert lonnx.read_metadata(dst)["lamina.preprocess"] == "digits"  # metadata kept
    assert not [f for f in os.listdir(tmp_path) if f != "cnn_int8.onnx"]  # no temporary left


def test_static_ptq_accepts_batches_and_percentile(digits, tmp_path):
    _, path, (xtr, _, xte, yte) = digits
    dst = tmp_path / "p.onnx"
    quantize_static_onnx(path, dst, [xtr[i:i + 50] for i in range(0, 200, 50)], per_channel=False,
                         method="percentile")
    assert accuracy_onnx(dst, xte, yte) >= accuracy_onnx(path, xte, yte) - 3.0


def test_static_ptq_bad_arguments_leave_no_file(digits, tmp_path):
    _, path, (xtr, _, _, _) = digits
    dst = tmp_path / "bad.onnx"
    with pytest.raises(ValueError, match="method"):
        quantize_static_onnx(path, dst, xtr[:8], method="kl")
    with pytest.raises(ValueError, match="inputs"):
        quantize_static_onnx(path, dst, [(xtr[:8], xtr[:8])])
    with pytest.raises(FileNotFoundError):
        quantize_static_onnx(tmp_path / "missing.onnx", dst, xtr[:8])
    assert not os.listdir(tmp_path)


def test_qat_finetune_matches_float_and_exports_int8_qdq(digits, tmp_path):
    float_model, path, (xtr, ytr, xte, yte) = digits
    acc32 = accuracy_onnx(path, xte, yte)
    model = make_cnn()
    model.load_state_dict(float_model.state_dict())
    opt = lamina.optim.Adam(model.parameters(), lr=5e-4)
    params = list(model.parameters())
    prepare_qat(model)
    assert list(model.parameters()) == params and len(qat_modules(model)) == 4
    # the optimizer built before prepare_qat keeps training the same Parameters
    model.train()
    w_before = model[0].weight.detach().numpy().copy()
    rs = np.random.default_rng(1)
    for _ in range(2):
        order = rs.permutation(len(xtr))
        for i in range(0, len(xtr), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(lamina.tensor(xtr[idx])), lamina.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert not np.allclose(model[0].weight.detach().numpy(), w_before)
    acc_qat = accuracy_lamina(model, xte, yte)
    assert acc_qat >= acc32 - 0.5, (acc32, acc_qat)

    dst = tmp_path / "qat.onnx"
    export_qat(model, lamina.tensor(xte[:2]), dst)
    q = onnx.load(dst)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in q.graph.node}
    int8 = [t for t in q.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) > 1]
    assert len(int8) == 4  # every weight tensor are stored as int8
    assert os.path.getsize(dst) <= 0.40 * os.path.getsize(path)
    # onnxruntime (int8 kernels) agrees with lamina's fake-quant eval output to within one output step
    sess = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": xte})[0]
    with lamina.no_grad():
        ref = model(lamina.tensor(xte)).numpy()
    step = float(model[8].activation_post_process.qparams()[0])
    assert np.max(np.abs(got - ref)) <= step * 1.01
    assert abs(accuracy_onnx(dst, xte, yte) - acc_qat) <= 0.3
