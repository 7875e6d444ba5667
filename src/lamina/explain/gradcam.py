"""Grad-CAM (Selvaraju et al., 2017): where a conv layer's feature maps matter for class c.

    w_k  = mean_{u,v} d f_c / d A_k[u, v]            A: the layer's output (N, K, h, w)
    L_c  = ReLU(sum_k w_k A_k)                       (N, h, w), upsampled to the input's size

The layer is named by its module path (``"features.3"``, ``"layer3.1.conv2"``); any layer whose
output is (N, K, *spatial) works (Conv1d/2d/3d, pooling, a whole block).

>>> cam = grad_cam(model, x, "features.3", target=3)           # (N, 8, 8) for x (N, 1, 8, 8)
"""
from __future__ import annotations

import numpy as np

from ..autograd import enable_grad, grad
from ..nn import functional as F
from ..tensor import Tensor
from ._common import (as_tensor, eval_mode, find_module, forward_scores, frozen_parameters, resolve_target,
                      target_scores, to_numpy)

__all__ = ["grad_cam", "conv_layers"]


def conv_layers(model) -> list[str]:
    """Module paths of the model's convolution layers (the usual Grad-CAM choices, last one first)."""
    names = [n for n, m in model.named_modules() if n and type(m).__name__.startswith(("Conv", "LazyConv"))]
    return names[::-1]


def grad_cam(model, inputs, layer, target=None, relu: bool = True, upsample: bool = True,
             interpolate_mode: str = "bilinear", **forward_kwargs) -> np.ndarray:
    """Grad-CAM map of ``layer`` (a module path or the module) for the target class.

    Returns (N, *input_spatial) with ``upsample`` (``interpolate_mode`` 'bilinear'/'nearest'/...,
    as ``F.interpolate`` with align_corners=False), else the layer's own (N, *spatial) grid.
    ``relu=False`` keeps the negative evidence (Captum's ``LayerGradCam`` default). An unknown
    path raises an error naming the closest module paths.
    """
    module = find_module(model, layer, "layer")
    x = as_tensor(inputs, model)
    seen = {}

    def hook(mod, args, out):
        seen["A"] = out[0] if isinstance(out, (tuple, list)) else out

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model), frozen_parameters(model), enable_grad():
            # the parameters are frozen, so the input requires grad to put the layer's output in a graph
            xg = Tensor._wrap(x.array).requires_grad_(True)
            out = forward_scores(model, xg, **forward_kwargs)
            t = resolve_target(target, out)
            if "A" not in seen:
                raise RuntimeError(f"grad_cam: layer {layer!r} did not run in the model's forward")
            A = seen["A"]
            if not isinstance(A, Tensor) or A.ndim < 3:
                shape = tuple(A.shape) if isinstance(A, Tensor) else type(A).__name__
                raise ValueError(f"grad_cam: layer {layer!r} gives {shape}; Grad-CAM needs feature maps "
                                 f"(N, channels, *spatial) — conv layers: {', '.join(conv_layers(model)[:5])}")
            g, = grad(target_scores(out, t).sum(), A)
    finally:
        handle.remove()
    a, g = A.array, g.array
    spatial = tuple(range(2, a.ndim))
    w = g.mean(axis=spatial, keepdims=True)                                     # (N, K, 1, 1)
    cam = (w * a).sum(1, keepdims=True)                                         # (N, 1, h, w)
    if relu:
        cam = cam * (cam > 0)
    if upsample and tuple(cam.shape[2:]) != tuple(x.shape[2:]):
        if x.ndim != cam.ndim:
            raise ValueError(f"grad_cam: cannot upsample a {cam.ndim - 2}-D map to inputs of shape {tuple(x.shape)}; "
                             "pass upsample=False")
        cam = F.interpolate(Tensor._wrap(cam), size=tuple(x.shape[2:]), mode=interpolate_mode).array
    return to_numpy(cam[:, 0])
