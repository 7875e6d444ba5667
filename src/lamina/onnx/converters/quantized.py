"""ONNX converters: (being written)."""
