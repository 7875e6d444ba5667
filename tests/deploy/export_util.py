"""Shared checks for ONNX export tests: export at one batch size, run onnxruntime at others."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")

import lamina  # noqa: E402
import lamina.onnx as lonnx  # noqa: E402


def run_onnx(proto_or_path, feeds: dict) -> list:
    src = proto_or_path.SerializeToString() if hasattr(proto_or_path, "SerializeToString") else str(proto_or_path)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def assert_exports(model, make_inputs, batch_sizes=(2, 5), atol=1e-4, rtol=1e-4, **export_kwargs):
    """Export ``model`` with ``make_inputs(batch_sizes[0])`` as the example, then check onnxruntime
    against lamina (eval mode) at every batch size: max abs difference <= atol + rtol*|ref|.

    ``make_inputs(n)`` returns a tuple of lamina Tensors for batch size ``n``. Returns the proto.
    """
    model.eval()
    proto = lonnx.export(model, make_inputs(batch_sizes[0]), None, **export_kwargs)
    onnx.checker.check_model(proto, full_check=True)
    names = [i.name for i in proto.graph.input]
    for n in batch_sizes:
        inputs = make_inputs(n)
        with lamina.no_grad():
            ref = model(*inputs)
        refs = lonnx.flatten_outputs(ref)
        got = run_onnx(proto, {k: _np(v) for k, v in zip(names, inputs)})
        assert len(got) == len(refs)
        for g, r in zip(got, refs):
            r = _np(r)
            assert g.shape == r.shape, f"batch {n}: onnxruntime shape {g.shape} vs lamina {r.shape}"
            np.testing.assert_allclose(g, r, atol=atol, rtol=rtol, err_msg=f"batch size {n}")
    return proto
