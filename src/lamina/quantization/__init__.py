"""Quantization: int8 post-training quantization through onnxruntime, quantization-aware training
in lamina, float16 storage.

* ``quantize_dynamic_onnx(src, dst)``, ``quantize_static_onnx(src, dst, calibration_inputs)``: PTQ of an
  ONNX file (``ptq.py``); ``convert_float16(src, dst)`` (``fp16.py``). onnx/onnxruntime load lazily.
* ``prepare_qat(model)``: fake-quantized Linear/Conv1d/Conv2d in place (``qat.py``); ``export_qat``
  writes the int8 QDQ file. Observers (``observers.py``), FakeQuantize (``modules.py``) and the
  straight-through fake-quant ops (``fake_quant.py``) are the pieces.

    >>> quantize_static_onnx("cnn.onnx", "cnn_int8.onnx", x_calib)
    >>> prepare_qat(model); fit(...); export_qat(model, x_example, "cnn_qat_int8.onnx")
"""
from .fake_quant import fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine
from .fp16 import convert_float16
from .modules import FakeQuantize, default_activation_fake_quant, default_weight_fake_quant
from .observers import MinMaxObserver, MovingAverageMinMaxObserver, PerChannelMinMaxObserver
from .ptq import quantize_dynamic_onnx, quantize_static_onnx
from .qat import QATConv1d, QATConv2d, QATLinear, export_qat, prepare_qat, qat_modules, remove_qat

__all__ = ["FakeQuantize", "MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver", "QATConv1d",
           "QATConv2d", "QATLinear", "convert_float16", "default_activation_fake_quant", "default_weight_fake_quant",
           "export_qat", "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine", "prepare_qat",
           "qat_modules", "quantize_dynamic_onnx", "quantize_static_onnx", "remove_qat"]
