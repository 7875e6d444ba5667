"""Quantization-aware training: Linear and Conv1d/Conv2d layers that train through int8 rounding.

``prepare_qat(model)`` turns every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` of ``model`` into
its QAT form *in place*: the module keeps its class's behaviour, its name and the very same
Parameter objects (an optimizer built before keeps working; ``state_dict`` keys are unchanged),
and gains three FakeQuantize children::

    x̂ = fq_in(x)                         per-tensor affine int8 (moving-average range)
    ŵ = fq_w(W)                           per-channel (axis 0) symmetric int8 (7-bit: see below)
    b̂ = fq_b(b; s = s_in · s_w, int32)    the bias as an int8 kernel adds it
    y = fq_out(layer(x̂, ŵ, b̂))           per-tensor affine int8

Observers update in train mode and freeze in eval mode; gradients pass straight through the
rounding. ``lamina.onnx.export`` writes each QAT layer as QuantizeLinear/DequantizeLinear pairs
around an ordinary Conv/Gemm/MatMul with int8 weights (a QDQ file onnxruntime runs with int8
kernels); ``export_qat`` does that with a tolerance of one quantization step. The weights use 7 of the 8
bits by default: with the full range, onnxruntime's AVX2 int8 kernels saturate 16-bit pair sums
and drift up to tens of steps from the exact result (measured: 65 steps on a small conv).

    >>> prepare_qat(model); trainer.fit(loader, epochs=2)      # fine-tune under fake quantization
    >>> export_qat(model, lamina.randn(1, 1, 8, 8), "model_int8.onnx")
"""
from __future__ import annotations

import numpy as np

from ..nn import functional as F
from ..nn.layers.conv import Conv1d, Conv2d, _batched, _pad
from ..nn.layers.linear import Linear
from ..nn.module import Module
from .fake_quant import FakeQuantizeFn
from .modules import FakeQuantize, default_activation_fake_quant, default_weight_fake_quant

__all__ = ["QATConv1d", "QATConv2d", "QATLinear", "bias_qparams", "export_qat", "is_qat", "prepare_qat",
           "qat_modules", "remove_qat"]

_INT32 = (-2 ** 31, 2 ** 31 - 1)


def bias_qparams(m) -> tuple | None:
    """(scale (C,) float32, zero_point (C,) int64) of ``m``'s int32 bias, or None (no bias, or no input quantizer)."""
    fq_in = getattr(m, "input_fake_quant", None)
    if m.bias is None or fq_in is None or not fq_in.ready or not m.weight_fake_quant.ready:
        return None
    s_in, _ = fq_in.qparams()
    s_w, _ = m.weight_fake_quant.qparams()
    scale = (np.float32(s_in) * s_w.astype(np.float32)).astype(np.float32).reshape(-1)
    return scale, np.zeros(scale.shape, dtype=np.int64)


class _QATMixin:
    """The forward every QAT layer shares; ``_apply(x, w, b)`` is the float layer's own computation."""

    def forward(self, input):
        x = self.input_fake_quant(input) if self.input_fake_quant is not None else input
        w = self.weight_fake_quant(self.weight)  # observes the current weights in train mode
        b = self.bias
        bq = bias_qparams(self)
        if bq is not None:
            xp = b.xp
            b = FakeQuantizeFn(xp.asarray(bq[0]), xp.asarray(bq[1], dtype=np.float64), *_INT32, 0)(b)
        return self.activation_post_process(self._apply(x, w, b))


class QATLinear(_QATMixin, Linear):
    """nn.Linear under quantization-aware training (made by ``prepare_qat``)."""

    def _apply(self, x, w, b):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear(in_features={self.in_features}): input has "
                             f"{x.shape[-1] if x.ndim else 0} features (input shape {tuple(x.shape)})")
        return F.linear(x, w, b)


class _QATConv(_QATMixin):
    def _apply(self, x, w, b):
        x, unbatched = _batched(self, x, self._nd)
        fn = type(self)._fn
        if self.padding_mode != "zeros":
            x = _pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            y = fn(x, w, b, self.stride, 0, self.dilation, self.groups)
        else:
            y = fn(x, w, b, self.stride, self.padding, self.dilation, self.groups)
        return y.squeeze(0) if unbatched else y


class QATConv1d(_QATConv, Conv1d):
    """nn.Conv1d under quantization-aware training (made by ``prepare_qat``)."""


class QATConv2d(_QATConv, Conv2d):
    """nn.Conv2d under quantization-aware training (made by ``prepare_qat``)."""


_QAT_OF = {Linear: QATLinear, Conv1d: QATConv1d, Conv2d: QATConv2d}
_FLOAT_OF = {v: k for k, v in _QAT_OF.items()}


def is_qat(module) -> bool:
    return type(module) in _FLOAT_OF


def qat_modules(model: Module) -> list:
    """``[(name, module)]`` of every QAT layer in ``model``."""
    return [(n, m) for n, m in model.named_modules() if is_qat(m)]


def prepare_qat(model: Module, *, quantize_inputs: bool = True, activation_dtype: str = "int8",
                weight_fake_quant=default_weight_fake_quant, activation_fake_quant=None) -> Module:
    """Make every Linear/Conv1d/Conv2d of ``model`` (``model`` itself included) a QAT layer, in place.

    quantize_inputs: fake-quantize each layer's input too (what an int8 kernel needs: off, the
    exported layer takes float inputs). ``weight_fake_quant`` / ``activation_fake_quant``: factories
    of FakeQuantize modules (defaults: per-channel symmetric int8 weights; per-tensor affine
    ``activation_dtype`` activations, moving-average range). Layers already prepared are left as
    they are. Returns ``model``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"prepare_qat: expected a lamina Module, got {type(model).__name__}")
    act = activation_fake_quant or (lambda: default_activation_fake_quant(activation_dtype))
    for _, m in list(model.named_modules()):
        cls = _QAT_OF.get(type(m))  # exact classes: a subclass may compute something else
        if cls is None:
            continue
        m.__class__ = cls
        m.input_fake_quant = act() if quantize_inputs else None
        m.weight_fake_quant = weight_fake_quant()
        m.activation_post_process = act()
        for fq in (m.input_fake_quant, m.weight_fake_quant, m.activation_post_process):
            if fq is not None and not isinstance(fq, FakeQuantize):
                raise TypeError(f"prepare_qat: the fake-quant factories must make FakeQuantize modules, "
                                f"got {type(fq).__name__}")
            if fq is not None:
                fq.train(m.training)
    return model


def remove_qat(model: Module) -> Module:
    """Undo ``prepare_qat`` in place: the layers become float layers again (same Parameters)."""
    for _, m in list(model.named_modules()):
        if is_qat(m):
            for name in ("input_fake_quant", "weight_fake_quant", "activation_post_process"):
                delattr(m, name)
            m.__class__ = _FLOAT_OF[type(m)]
    return model


def quant_step(model: Module) -> float:
    """The largest activation scale in ``model``: one quantization step of its coarsest output."""
    steps = [float(fq.qparams()[0]) for _, m in qat_modules(model) for fq in (m.activation_post_process,)
             if fq.ready]
    return max(steps) if steps else 0.0


def export_qat(model: Module, example_inputs, path=None, *, atol: float | None = None, **kwargs):
    """``lamina.onnx.export`` of a QAT model into an int8 QDQ file, checked against lamina's fake-quant
    eval output to within one quantization step (``atol``, default: the largest activation scale)."""
    from .. import onnx as lonnx
    from ..onnx.converters import quantized  # noqa: F401  (registers the QAT converters)
    if not qat_modules(model):
        raise ValueError("export_qat: the model has no QAT layers; call prepare_qat(model) and train it first")
    tol = quant_step(model) * 1.01 + 1e-5 if atol is None else atol
    return lonnx.export(model, example_inputs, path, atol=tol, rtol=0.0, **kwargs)
