"""ONNX export: ``lamina.onnx.export(model, example_inputs, path, dynamic_axes=...)``.

Each module class has a converter writing its ONNX nodes (``converters/``); containers and the
zoo models are converted through their children, so the module path of anything that cannot
be exported is named in the error. Needs the ``onnx`` extra (``onnxruntime`` to verify).
"""
from ._context import ExportContext, ExportError, Value
from ._export import DEFAULT_OPSET, check_against_lamina, export, flatten_outputs, read_metadata
from ._registry import converter_for, register_converter, registered_modules

__all__ = ["DEFAULT_OPSET", "ExportContext", "ExportError", "Value", "check_against_lamina", "converter_for",
           "export", "flatten_outputs", "read_metadata", "register_converter", "registered_modules"]
