"""lamina.nn.functional: the stateless math of layers, activations and losses.

    import lamina.nn.functional as F
    h = F.relu(F.linear(x, w, b))
    loss = F.cross_entropy(logits, targets)

Activations live in ``activation_fns.py``, losses in ``loss_fns.py``; this module adds
``linear`` (one fused op) and ``dropout`` and re-exports everything under PyTorch's names.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..ops import elementwise as E
from ..ops._blas import mm
from ..ops.linalg import matmul
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d  # noqa: F401
from ..ops.index import one_hot  # noqa: F401
from ..ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,  # noqa: F401
                        adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d, avg_pool2d,
                        avg_pool3d, max_pool1d, max_pool2d, max_pool3d)
from ..ops.pool_variants import (fractional_max_pool2d, fractional_max_pool3d, lp_pool1d, lp_pool2d,  # noqa: F401
                                 lp_pool3d, max_unpool1d, max_unpool2d, max_unpool3d)
from ..ops.interpolate import interpolate  # noqa: F401
from ..ops.fold import fold, unfold  # noqa: F401
from ..ops.grid_sample import affine_grid, grid_sample  # noqa: F401
from ..ops.pixel_shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle  # noqa: F401
from ..ops.norm import batch_norm, dropout1d, dropout2d, dropout3d, group_norm, instance_norm, layer_norm  # noqa: F401
from ..ops.shape import pad  # noqa: F401
from ..tensor import Tensor
from .layers.embedding import embedding  # noqa: F401
from .activation_fns import (elu, gelu, hardtanh, leaky_relu, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
                             softmax, softplus, tanh)
from .loss_fns import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_similarity, cross_entropy,
                       huber_loss, kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .activation_fns_extra import (celu, celu_, elu_, glu, gumbel_softmax, hardshrink, hardsigmoid,  # noqa: F401
                                   hardswish, hardtanh_, leaky_relu_, logsigmoid, prelu, relu_, rrelu, rrelu_, selu_,
                                   softmin, softshrink, softsign, tanhshrink, threshold, threshold_)
from .ctc import ctc_loss  # noqa: F401
from .dropout_fns import alpha_dropout, feature_alpha_dropout  # noqa: F401
from .layers.bilinear import bilinear  # noqa: F401
from .layers.embedding_bag import embedding_bag  # noqa: F401
from .loss_fns_likelihood import gaussian_nll_loss, poisson_nll_loss  # noqa: F401
from .loss_fns_margin import (cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss,  # noqa: F401
                              multi_margin_loss, multilabel_margin_loss, multilabel_soft_margin_loss,
                              pairwise_distance, pdist, soft_margin_loss, triplet_margin_loss,
                              triplet_margin_with_distance_loss)
from .norm_fns import local_response_norm, normalize, rms_norm  # noqa: F401

__all__ = [
    "linear", "dropout", "flatten", "unflatten",
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "sigmoid", "tanh", "softplus",
    "hardtanh", "softmax", "log_softmax",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity",
    "prelu", "rrelu", "glu", "hardswish", "hardsigmoid", "logsigmoid", "softsign", "softmin", "threshold", "celu",
    "hardshrink", "softshrink", "tanhshrink", "gumbel_softmax", "alpha_dropout", "feature_alpha_dropout",
    "normalize", "rms_norm", "local_response_norm", "embedding", "embedding_bag", "bilinear", "one_hot",
    "pairwise_distance", "pdist", "ctc_loss", "gaussian_nll_loss", "poisson_nll_loss", "margin_ranking_loss",
    "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "soft_margin_loss",
    "relu_", "elu_", "selu_", "celu_", "leaky_relu_", "hardtanh_", "threshold_", "rrelu_",
]
__all__ += [  # vision ops
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "max_pool1d",
    "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d",
    "lp_pool2d", "lp_pool3d", "fractional_max_pool2d", "fractional_max_pool3d", "max_unpool1d", "max_unpool2d",
    "max_unpool3d", "interpolate", "pad", "fold", "unfold", "grid_sample", "affine_grid", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle",
]


class Linear(Function):
    """y = x @ W^T + b for x (N, in), W (out, in), b (out,);
    dx = dy @ W,  dW = dy^T @ x,  db = sum over N of dy."""

    def forward(self, x, w, b=None):
        y = mm(x, w.T)  # split over lamina's threads (ops/_blas.py)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = matmul(gy, w) if need[0] else None
        gw = matmul(gy.mT, x) if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (gy.sum(0) if need[2] else None)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b over the last dimension of x (any leading shape); W is (out, in).

    2-D inputs run as one fused op; other shapes are flattened to 2-D around it.
    """
    x = input
    if not isinstance(x, Tensor):
        raise TypeError(f"linear: expected a Tensor input, got {type(x).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1] if x.ndim else 0} features (input shape {x.shape}) "
                         f"but weight has shape {weight.shape} (expects {weight.shape[1]} features)")
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}; "
                        f"convert the input (x.to({weight.dtype})) or the layer (.to({x.dtype}))")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    args = (weight,) if bias is None else (weight, bias)
    if x.ndim == 2:
        return Linear()(x, *args)
    lead = x.shape[:-1]
    y = Linear()(x.reshape(-1, x.shape[-1]), *args)
    return y.reshape(*lead, weight.shape[0])


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None) -> Tensor:
    """Inverted dropout: y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element;  dx = dy * m / (1 - p).

    Identity when not ``training`` or ``p == 0``; all zeros when ``p == 1``. Masks come from
    lamina's default generator (``lamina.manual_seed`` makes them repeat) unless ``generator``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    xp = input.xp
    if p == 1.0:
        return E.mask_mul(input, xp.zeros((), dtype=input.dtype))
    u = backend.rng(generator).random(input.shape, dtype=backend.float32 if input.dtype != backend.float64
                                      else backend.float64)
    mask = (u >= p).astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p))
    if xp is not np:
        mask = backend.to_device(mask, input.device)
    return E.mask_mul(input, mask)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one (a reshape; the gradient reshapes back)."""
    nd = max(input.ndim, 1)
    s, e = start_dim % nd if start_dim < 0 else start_dim, end_dim % nd if end_dim < 0 else end_dim
    if not (0 <= s < nd and 0 <= e < nd):
        raise IndexError(f"flatten: start_dim {start_dim} / end_dim {end_dim} out of range for shape {input.shape}")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    if input.ndim == 0:
        return input.reshape(1)
    shape = input.shape
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return input.reshape(*shape[:s], merged, *shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one entry may be -1)."""
    nd = input.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"unflatten: dim {dim} is out of range for shape {input.shape}")
    d = dim % nd
    sizes = tuple(int(n) for n in sizes)
    n = input.shape[d]
    known = 1
    for k in sizes:
        if k != -1:
            known *= k
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise ValueError(f"unflatten: sizes {sizes} don't multiply up to the size of dim {dim} ({n}) "
                         f"of input shape {input.shape}")
    sizes = tuple(n // known if k == -1 else k for k in sizes)
    return input.reshape(*input.shape[:d], *sizes, *input.shape[d + 1:])


# ---------------------------------------------------------------- *_with_indices (torch's names for return_indices=True)
def _with_indices(name):
    def op(*args, **kwargs):
        return globals()[name](*args, **kwargs, return_indices=True)

    op.__name__ = f"{name}_with_indices"
    op.__doc__ = f"``{name}(..., return_indices=True)``: ``(values, indices)``."
    return op


max_pool1d_with_indices = _with_indices("max_pool1d")
max_pool2d_with_indices = _with_indices("max_pool2d")
max_pool3d_with_indices = _with_indices("max_pool3d")
adaptive_max_pool1d_with_indices = _with_indices("adaptive_max_pool1d")
adaptive_max_pool2d_with_indices = _with_indices("adaptive_max_pool2d")
adaptive_max_pool3d_with_indices = _with_indices("adaptive_max_pool3d")
fractional_max_pool2d_with_indices = _with_indices("fractional_max_pool2d")
fractional_max_pool3d_with_indices = _with_indices("fractional_max_pool3d")
