"""Converter registry: module class -> function ``convert(ctx, module, *inputs) -> Value(s)``.

Lookup follows the class's MRO, so a subclass of ``nn.Linear`` exports as a Linear unless it
registers its own converter. A module may instead define ``onnx_export(self, ctx, *inputs)``.

    @register_converter(nn.ReLU)
    def _relu(ctx, m, x):
        return ctx.op("Relu", x)
"""
from __future__ import annotations

__all__ = ["converter_for", "register_converter", "registered_modules"]

_CONVERTERS: dict[type, object] = {}


def register_converter(*module_classes):
    """Decorator registering ``fn`` as the ONNX converter of each of ``module_classes``."""
    def deco(fn):
        for cls in module_classes:
            _CONVERTERS[cls] = fn
        return fn
    return deco


def converter_for(module):
    """The converter registered for ``type(module)`` or its nearest base class, or None."""
    for cls in type(module).__mro__:
        fn = _CONVERTERS.get(cls)
        if fn is not None:
            return fn
    return None


def registered_modules() -> list[type]:
    """Every module class with a converter of its own (for coverage tests)."""
    return list(_CONVERTERS)
