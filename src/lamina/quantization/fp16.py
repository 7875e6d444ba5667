"""float16 storage of an ONNX file: every float32 initializer stored as float16, cast back on load.

    W16 = float16(W);   the graph reads Cast(W16, to=float32)   (onnxruntime folds the casts once)

The file is about half the size; onnxruntime still computes in float32, so outputs differ from
the float32 file only by the weights' rounding (relative 2^-11 per weight). Values beyond
float16's range are clipped to ±65504. Metadata is kept; the write is atomic.

    >>> convert_float16("model.onnx", "model_fp16.onnx")
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["convert_float16"]

_FP16_MAX = float(np.finfo(np.float16).max)


def convert_float16(src, dst, *, min_size: int = 16) -> str:
    """Store ``src``'s float32 initializers (of at least ``min_size`` elements) as float16 in ``dst``. Returns ``dst``."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:  # pragma: no cover
        raise ImportError("convert_float16 needs 'onnx': pip install 'lamina[onnx]'") from e
    from .ptq import _check_src, _finish
    src, dst = _check_src(src), os.fspath(dst)
    model = onnx.load(src)
    graph = model.graph
    inputs = {i.name for i in graph.input}
    keep, casts = [], []
    for t in graph.initializer:
        if t.data_type != TensorProto.FLOAT or t.name in inputs or int(np.prod(t.dims)) < min_size:
            keep.append(t)
            continue
        a = np.clip(numpy_helper.to_array(t), -_FP16_MAX, _FP16_MAX).astype(np.float16)
        keep.append(numpy_helper.from_array(a, t.name + "_fp16"))
        casts.append(helper.make_node("Cast", [t.name + "_fp16"], [t.name], name=t.name + "_cast", to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="lamina-fp16-") as work:
        out = os.path.join(work, "fp16.onnx")
        onnx.save(model, out)
        _finish(src, out, dst)
    return dst
