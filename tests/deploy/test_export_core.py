"""The exporter's own behaviour: names, metadata, dynamic axes, errors, atomic writes, verification."""
import os

import numpy as np
import pytest

from export_util import assert_exports, lonnx, onnx, run_onnx

import lamina
import lamina.nn as nn


def _mlp():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_mlp_round_trip_at_two_batch_sizes_and_initializer_names():
    proto = assert_exports(_mlp(), lambda n: (lamina.randn(n, 8),))
    assert [i.name for i in proto.graph.initializer] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert proto.opset_import[0].version == lonnx.DEFAULT_OPSET
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 8


def test_static_shapes_when_dynamic_axes_is_empty(tmp_path):
    proto = lonnx.export(_mlp(), lamina.randn(4, 8), tmp_path / "m.onnx", dynamic_axes={})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
    with pytest.raises(Exception):
        run_onnx(tmp_path / "m.onnx", {"input": np.zeros((5, 8), np.float32)})


def test_metadata_travels_in_the_file(tmp_path):
    path = tmp_path / "m.onnx"
    lonnx.export(_mlp(), lamina.randn(2, 8), path, metadata={"classes": ["a", "b", "c"], "note": "hi"})
    meta = lonnx.read_metadata(path)
    assert meta["classes"] == ["a", "b", "c"] and meta["note"] == "hi"
    assert meta["lamina.opset"] == lonnx.DEFAULT_OPSET


def test_unexportable_module_is_named_with_its_path(tmp_path):
    class Mystery(nn.Module):
        def forward(self, x):
            return x * 2

    model = nn.Sequential(nn.Linear(8, 4), nn.Sequential(nn.ReLU(), Mystery()))
    path = tmp_path / "m.onnx"
    with pytest.raises(lonnx.ExportError, match=r"Mystery.*'1\.1'"):
        lonnx.export(model, lamina.randn(2, 8), path)
    assert not path.exists()  # nothing written on failure


def test_onnx_export_method_and_register_converter():
    class Double(nn.Module):
        def forward(self, x):
            return x * 2

        def onnx_export(self, ctx, x):
            return ctx.op("Mul", x, ctx.const(np.float32(2.0), "two"))

    assert_exports(nn.Sequential(nn.Linear(8, 4), Double()), lambda n: (lamina.randn(n, 8),))


def test_a_wrong_converter_is_caught_by_verification():
    class Triple(nn.Module):
        def forward(self, x):
            return x * 3

        def onnx_export(self, ctx, x):  # deliberately wrong
            return ctx.op("Mul", x, ctx.const(np.float32(2.0), "two"))

    with pytest.raises(lonnx.ExportError, match="differs from lamina"):
        lonnx.export(Triple(), lamina.randn(2, 4))


def test_failed_export_keeps_an_existing_file(tmp_path):
    path = tmp_path / "m.onnx"
    lonnx.export(_mlp(), lamina.randn(2, 8), path)
    before = path.read_bytes()

    class Bad(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(lonnx.ExportError):
        lonnx.export(nn.Sequential(nn.Linear(8, 3), Bad()), lamina.randn(2, 8), path)
    assert path.read_bytes() == before
    assert [f for f in os.listdir(tmp_path)] == ["m.onnx"]


def test_model_mode_is_restored_and_export_runs_in_eval():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2)) if hasattr(nn, "Dropout") else _mlp()
    model.train()
    try:
        lonnx.export(model, lamina.randn(3, 8))
    except lonnx.ExportError:
        pytest.skip("Dropout converter not registered yet")
    assert model.training


def test_bad_names_are_errors():
    with pytest.raises(ValueError, match="input_names"):
        lonnx.export(_mlp(), lamina.randn(2, 8), input_names=["a", "b"])
    with pytest.raises(ValueError, match="dynamic_axes"):
        lonnx.export(_mlp(), lamina.randn(2, 8), dynamic_axes={"nope": {0: "b"}})


def test_checker_passes_on_the_saved_file(tmp_path):
    path = tmp_path / "m.onnx"
    lonnx.export(_mlp(), lamina.randn(2, 8), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def test_nested_and_none_outputs_are_flattened_in_order():
    lstm = nn.LSTM(4, 6, batch_first=True)
    proto = assert_exports(lstm, lambda n: (lamina.randn(n, 3, 4),))
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]  # out, h_n, c_n
    mha = nn.MultiheadAttention(8, 2, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)  # (out, None)

        def onnx_export(self, ctx, x):
            return ctx.call(self.mha, x, x, x, name="mha", need_weights=False)

    proto = assert_exports(SelfAttention(), lambda n: (lamina.randn(n, 5, 8),))
    assert len(proto.graph.output) == 1


def test_linear_on_3d_inputs_stores_its_weight_once():
    lin = nn.Linear(8, 4)
    proto = assert_exports(lin, lambda n: (lamina.randn(n, 3, 8),))
    assert sum(int(np.prod(i.dims)) for i in proto.graph.initializer) == 8 * 4 + 4
