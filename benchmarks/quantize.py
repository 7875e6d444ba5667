"""float32 vs int8 (static PTQ through onnxruntime) vs int8 (QAT in lamina) on two small CNNs.

For the digits CNN (8x8 images) and an MNIST-1D CNN (signals of length 40): test accuracy, ONNX
file size, onnxruntime latency per batch of 64 and lamina's own eval latency per batch of 64
(medians of several runs, one thread each).

    OPENBLAS_NUM_THREADS=1 python benchmarks/quantize.py
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np

import lamina
import lamina.nn as nn
import lamina.nn.functional as F
import lamina.onnx as lonnx
from lamina.quantization import export_qat, prepare_qat, quantize_static_onnx


def digits_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))


def mnist1d_cnn():
    return nn.Sequential(nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(32, 64, 3, padding=1),
                         nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(64 * 10, 128), nn.ReLU(), nn.Linear(128, 10))


def load(name):
    if name == "digits":
        from lamina.data.datasets.digits import load_digits
        x, y = load_digits(as_images=True, as_numpy=True)
        order = np.random.default_rng(0).permutation(len(x))
        x, y = x[order], y[order]
        return x[:1300], y[:1300], x[1300:], y[1300:]
    from lamina.data.datasets.mnist1d import load_mnist1d
    (xtr, ytr), (xte, yte) = load_mnist1d(as_numpy=True)
    return xtr[:, None, :], ytr, xte[:, None, :], yte


def fit(model, x, y, epochs, lr, seed=0, opt=None):
    opt = opt or lamina.optim.Adam(model.parameters(), lr=lr)
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


def median_ms(fn, reps=30):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def ort_row(path, xte, yte):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    acc = 100 * float(np.mean(sess.run(None, {"input": xte})[0].argmax(1) == yte))
    b = np.ascontiguousarray(xte[:64])
    return acc, os.path.getsize(path), median_ms(lambda: sess.run(None, {"input": b}))


def lamina_ms(model, xte):
    b = lamina.tensor(np.ascontiguousarray(xte[:64]))
    model.eval()

    def step():
        with lamina.no_grad():
            model(b)
    return median_ms(step)


def bench(name, make, epochs, lr, work):
    xtr, ytr, xte, yte = load(name)
    lamina.manual_seed(0)
    model = make()
    fit(model, xtr, ytr, epochs, lr)
    f32 = os.path.join(work, f"{name}.onnx")
    lonnx.export(model, lamina.tensor(xte[:2]), f32)
    rows = [("float32", *ort_row(f32, xte, yte), lamina_ms(model, xte))]
    s8 = os.path.join(work, f"{name}_static.onnx")
    quantize_static_onnx(f32, s8, xtr[:512], per_channel=True)
    rows.append(("int8 static PTQ", *ort_row(s8, xte, yte), float("nan")))
    qat = make()
    qat.load_state_dict(model.state_dict())
    prepare_qat(qat)
    fit(qat, xtr, ytr, 2, lr / 10, seed=1)
    q8 = os.path.join(work, f"{name}_qat.onnx")
    export_qat(qat, lamina.tensor(xte[:2]), q8)
    rows.append(("int8 QAT", *ort_row(q8, xte, yte), lamina_ms(qat, xte)))
    print(f"\n{name} CNN ({sum(p.numel() for p in model.parameters()):,} parameters, {len(xte)} test samples)")
    print(f"| {'model':<16} | {'test acc %':>10} | {'file KB':>8} | {'ORT ms/64':>9} | {'lamina ms/64':>12} |")
    print(f"|{'-' * 18}|{'-' * 12}|{'-' * 10}|{'-' * 11}|{'-' * 14}|")
    for label, acc, size, ort_ms, lam_ms in rows:
        lam = "-" if np.isnan(lam_ms) else f"{lam_ms:.2f}"
        print(f"| {label:<16} | {acc:>10.2f} | {size / 1024:>8.1f} | {ort_ms:>9.3f} | {lam:>12} |")


def main():
    with tempfile.TemporaryDirectory() as work:
        bench("digits", digits_cnn, 8, 3e-3, work)
        bench("mnist1d", mnist1d_cnn, 15, 3e-3, work)
    print("\nlamina eval of the QAT model runs the fake-quantized float graph (no int8 kernels); "
          "int8 static PTQ has no lamina model.")


if __name__ == "__main__":
    main()
