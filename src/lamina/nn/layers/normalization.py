"""Normalization layers (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm, LocalResponseNorm) and
channel-wise dropout.

Each normalizes x to zero mean and unit variance over some axes, then applies a learned
per-feature affine map:  y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias.
The math lives in ``lamina.ops.norm``; these modules hold the parameters and the running
statistics, with PyTorch's names (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), defaults and train/eval behaviour, so torch checkpoints load by name.
"""
from __future__ import annotations

import numbers
import warnings

from ... import backend
from ...ops import norm as N
from ...ops.creation import empty, ones, tensor, zeros
from ...tensor import Tensor
from .. import init
from .. import norm_fns as NF
from ..module import Module
from ..parameter import Parameter


class _NormBase(Module):
    """Parameters and running statistics shared by batch and instance norm."""

    _dims: tuple = ()          # allowed input ranks
    _what: str = ""
    _allow_zero_features = False  # lazy layers start with 0 features

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        if (not isinstance(num_features, int) or isinstance(num_features, bool) or num_features < 0
                or (num_features == 0 and not self._allow_zero_features)):
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        if affine:
            self.weight = Parameter(empty(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(empty(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=backend.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            for buf, v in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
                buf.array[...] = v
                buf._version += 1

    def reset_parameters(self) -> None:
        """Running statistics reset; weight = 1, bias = 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected {self._what} input (got {input.ndim}D input of shape "
                             f"{input.shape})")

    def extra_repr(self) -> str:
        no_bias = ", bias=False" if self.affine and self.bias is None else ""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}{no_bias}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c, statistics per channel c over
    (N, *spatial): the batch's in training (running averages updated with momentum, unbiased
    variance), the running ones in eval. ``momentum=None`` is a cumulative average."""

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): input has {input.shape[1]} channels "
                             f"(input shape {input.shape})")
        nbt = None
        if self.training and self.track_running_stats:
            counter = self.num_batches_tracked
            counter.array += 1
            counter._version += 1
            nbt = int(counter.array)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return N.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch, self.momentum, self.eps,
                            num_batches_tracked=nbt if self.momentum is None else None)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C (see ``_BatchNorm``).

    >>> bn = nn.BatchNorm1d(64)
    >>> bn(lamina.randn(32, 64)).shape            # (32, 64)
    """

    _dims, _what = (2, 3), "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel over (N, H, W).

    >>> bn = nn.BatchNorm2d(16)
    >>> bn(lamina.randn(8, 16, 28, 28)).shape     # (8, 16, 28, 28)
    """

    _dims, _what = (4,), "4D"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) inputs, per channel over (N, D, H, W)."""

    _dims, _what = (5,), "5D"


class _InstanceNorm(_NormBase):
    """y = (x - mean_nc) / sqrt(var_nc + eps) * weight_c + bias_c, statistics per (sample, channel)
    over the spatial dims. Defaults as torch: no affine, no running statistics; with
    ``track_running_stats`` they are updated in training and used in eval."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        no_batch = self._dims[0]
        feature_dim = input.ndim - no_batch
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"{type(self).__name__}: expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: {input.shape[feature_dim]} "
                                 f"(input shape {input.shape})")
            warnings.warn(f"{type(self).__name__}: input's size at dim={feature_dim} does not match num_features. "
                          "You can silence this warning by not passing in num_features, which is not used because "
                          "affine=False", stacklevel=2)
        x = input.unsqueeze(0) if input.ndim == no_batch else input
        y = N.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if input.ndim == no_batch else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or unbatched (C, L) inputs."""

    _dims, _what = (2, 3), "2D or 3D"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or unbatched (C, H, W) inputs, per (sample, channel).

    >>> nn.InstanceNorm2d(3)(lamina.randn(4, 3, 32, 32)).shape      # (4, 3, 32, 32)
    """

    _dims, _what = (3, 4), "3D or 4D"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or unbatched (C, D, H, W) inputs."""

    _dims, _what = (4, 5), "4D or 5D"


class LayerNorm(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the trailing ``normalized_shape``
    dims of each sample; weight = 1 and bias = 0 of shape ``normalized_shape`` at init.

    >>> ln = nn.LayerNorm(128)
    >>> ln(lamina.randn(32, 16, 128)).shape       # (32, 16, 128)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(empty(*self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(empty(*self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """The C channels split into ``num_groups`` groups, each normalized over (its channels,
    *spatial) per sample, then y = xhat * weight_c + bias_c (weight = 1, bias = 0 at init).

    >>> gn = nn.GroupNorm(4, 32)
    >>> gn(lamina.randn(8, 32, 16, 16)).shape     # (8, 32, 16, 16)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        if affine:
            self.weight = Parameter(empty(num_channels, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(empty(num_channels, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm(num_channels={self.num_channels}): input has {input.shape[1]} channels "
                             f"(input shape {input.shape})")
        return N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        no_bias = ", bias=False" if self.affine and self.bias is None else ""
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}{no_bias}"


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims
    (no centring, no bias); weight = 1 at init. ``eps=None`` uses the input dtype's machine epsilon.

    >>> nn.RMSNorm(128)(lamina.randn(4, 16, 128)).shape      # (4, 16, 128)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
            self.weight = Parameter(empty(*self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        return NF.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """y = x / (k + alpha / size * sum of x^2 over ``size`` neighbouring channels)^beta, for
    (N, C, *) inputs (AlexNet's LRN)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return NF.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability p in training; the kept
    ones are scaled by 1 / (1 - p). Identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        return N.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) inputs with probability p in training; the kept ones are
    scaled by 1 / (1 - p). Identity in eval.

    >>> nn.Dropout2d(0.2)(lamina.randn(8, 16, 32, 32)).shape        # (8, 16, 32, 32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return N.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) inputs with probability p in training."""

    def forward(self, input: Tensor) -> Tensor:
        return N.dropout3d(input, self.p, self.training, self.inplace)
