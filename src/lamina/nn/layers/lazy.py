"""Lazy layers: the input size is inferred from the first batch (``nn.LazyLinear(10)``).

Until the first forward call their parameters are ``UninitializedParameter``s (no shape yet).
The first call reads the input's feature / channel count, materialises every parameter *in
place* (the same Parameter objects, now with data), initialises them exactly as the eager layer
does, and turns the module into that layer (``LazyLinear`` -> ``Linear``). As in PyTorch, an
optimizer may be created before that first call: it holds the same Parameter objects, which
have their data by the time ``step()`` runs. Loading a state dict into a lazy module
materialises its parameters with the loaded shapes.

    model = nn.Sequential(nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10))
    model(lamina.randn(8, 784))          # now model[0] is Linear(784, 64)
"""
from __future__ import annotations

import numpy as np

from ... import backend
from ...autograd import no_grad
from ...tensor import Tensor
from ..module import _as_array
from ..parameter import Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d

_UNINIT_MSG = ("Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
               "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
               "`forward` to initialize the parameters before accessing their attributes.")


def _placeholder(device, dtype):
    dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
    arr = np.empty((0,), dtype=dtype)
    if device is not None and backend.Device(device).type != "cpu":  # pragma: no cover - needs a GPU
        arr = backend.to_device(arr, backend.Device(device))
    return arr


class _Uninitialized:
    """Shared by UninitializedParameter and UninitializedBuffer: no shape until ``materialize``."""

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_MSG)

    def size(self, dim=None):
        raise RuntimeError(_UNINIT_MSG)

    def numel(self):
        raise RuntimeError(_UNINIT_MSG)

    @property
    def ndim(self):
        raise RuntimeError(_UNINIT_MSG)

    def _materialized_array(self, shape, device=None, dtype=None):
        dt = backend.as_dtype(dtype) or self.array.dtype
        arr = backend.array_module(self.array).empty(tuple(int(n) for n in shape), dtype=dt)
        if device is not None and backend.Device(device) != backend.device_of(arr):  # pragma: no cover
            arr = backend.to_device(arr, backend.Device(device))
        return arr

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A Parameter without a shape yet (lazy layers); ``materialize(shape)`` gives it data in place
    and turns it into an ordinary Parameter (the object stays the same)."""

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        super().__init__(_placeholder(device, dtype), requires_grad)

    def materialize(self, shape, device=None, dtype=None) -> None:
        self.array = self._materialized_array(shape, device, dtype)
        self.__class__ = Parameter

    def __deepcopy__(self, memo):
        out = UninitializedParameter(self._requires_grad, dtype=self.array.dtype)
        memo[id(self)] = out
        return out


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer without a shape yet; lazy layers replace it by a real tensor when they materialise."""

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        super().__init__(_placeholder(device, dtype), requires_grad=requires_grad)

    def materialized(self, shape, device=None, dtype=None) -> Tensor:
        return Tensor._wrap(self._materialized_array(shape, device, dtype))


def is_lazy(t) -> bool:
    return isinstance(t, _Uninitialized)


def _infer_parameters(module, args, kwargs):
    """Forward pre-hook of a lazy module: initialise from the first input, then become the eager class."""
    module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    del module.__dict__["_initialize_hook"]
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become
    return None


class LazyModuleMixin:
    """Mix into an eager layer (before it in the bases) to infer its sizes from the first input.

    Subclasses set ``cls_to_become`` and implement ``initialize_parameters(input)`` (materialise,
    then ``reset_parameters()``) and ``_infer_from_shapes()`` (set the size attributes from the
    materialised parameters, used after ``load_state_dict``).
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        return any(is_lazy(t) for t in list(self._parameters.values()) + list(self._buffers.values()))

    def _materialize_buffer(self, name: str, shape) -> None:
        buf = self._buffers.get(name)
        if is_lazy(buf):
            self._buffers[name] = buf.materialized(shape)

    def initialize_parameters(self, *args, **kwargs) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _infer_from_shapes(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars or is_lazy(p) else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars or is_lazy(b) else b.detach()

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys, error_msgs):
        changed = False
        with no_grad():
            for name, p in self._parameters.items():
                key = prefix + name
                if is_lazy(p) and key in state_dict:
                    p.materialize(tuple(_as_array(state_dict[key], key).shape))
                    changed = True
            for name, b in list(self._buffers.items()):
                key = prefix + name
                if is_lazy(b) and key in state_dict:
                    self._materialize_buffer(name, tuple(_as_array(state_dict[key], key).shape))
                    changed = True
        if changed and not self.has_uninitialized_params():
            self._infer_from_shapes()
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys, unexpected_keys, error_msgs)


# ---------------------------------------------------------------- linear
class LazyLinear(LazyModuleMixin, Linear):
    """Linear with ``in_features`` inferred from the last dimension of the first input.

    >>> fc = nn.LazyLinear(10)
    >>> fc(lamina.randn(4, 32)).shape; fc       # (4, 10); Linear(in_features=32, out_features=10, bias=True)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False, device=device, dtype=dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self, generator=None) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters(generator)

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = int(input.shape[-1])
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()

    def _infer_from_shapes(self) -> None:
        self.out_features, self.in_features = self.weight.shape


# ---------------------------------------------------------------- convolutions
class _LazyConvMixin(LazyModuleMixin):
    def reset_parameters(self, generator=None) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters(generator)

    def _init_lazy(self, out_channels: int, bias: bool, device, dtype) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = int(out_channels)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {tuple(input.shape)}")
        c = int(input.shape[1] if input.ndim == nd + 2 else input.shape[0])
        if c % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({c}) must be divisible by groups ({self.groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: out_channels ({self.out_channels}) must be divisible by "
                             f"groups ({self.groups})")
        with no_grad():
            self.in_channels = c
            if self._transposed:
                shape = (c, self.out_channels // self.groups) + self.kernel_size
            else:
                shape = (self.out_channels, c // self.groups) + self.kernel_size
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _infer_from_shapes(self) -> None:
        w = self.weight.shape
        if self._transposed:
            self.in_channels, self.out_channels = w[0], w[1] * self.groups
        else:
            self.out_channels, self.in_channels = w[0], w[1] * self.groups


def _lazy_conv(eager, doc: str):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        eager.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode,
                       device=device, dtype=dtype)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)
        self._init_lazy(out_channels, bias, device, dtype)

    return type(f"Lazy{eager.__name__}", (_LazyConvMixin, eager),
                {"cls_to_become": eager, "__init__": __init__, "__doc__": doc, "__module__": __name__})


def _lazy_conv_transpose(eager, doc: str):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        eager.__init__(self, 0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation,
                       padding_mode, device=device, dtype=dtype)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)
        self._init_lazy(out_channels, bias, device, dtype)

    return type(f"Lazy{eager.__name__}", (_LazyConvMixin, eager),
                {"cls_to_become": eager, "__init__": __init__, "__doc__": doc, "__module__": __name__})


_CONV_DOC = "{} with ``in_channels`` inferred from the first input (dim 1, or dim 0 when unbatched)."
LazyConv1d = _lazy_conv(Conv1d, _CONV_DOC.format("Conv1d"))
LazyConv2d = _lazy_conv(Conv2d, _CONV_DOC.format("Conv2d"))
LazyConv3d = _lazy_conv(Conv3d, _CONV_DOC.format("Conv3d"))
LazyConvTranspose1d = _lazy_conv_transpose(ConvTranspose1d, _CONV_DOC.format("ConvTranspose1d"))
LazyConvTranspose2d = _lazy_conv_transpose(ConvTranspose2d, _CONV_DOC.format("ConvTranspose2d"))
LazyConvTranspose3d = _lazy_conv_transpose(ConvTranspose3d, _CONV_DOC.format("ConvTranspose3d"))


# ---------------------------------------------------------------- normalization
class _LazyNormMixin(LazyModuleMixin):
    _allow_zero_features = True

    def _init_lazy(self, affine: bool, track_running_stats: bool, device, dtype) -> None:
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.register_buffer("running_mean", UninitializedBuffer(device=device, dtype=dtype))
            self.register_buffer("running_var", UninitializedBuffer(device=device, dtype=dtype))
            nbt = np.zeros((), dtype=np.int64)
            if device is not None and backend.Device(device).type != "cpu":  # pragma: no cover - needs a GPU
                nbt = backend.to_device(nbt, backend.Device(device))
            self.register_buffer("num_batches_tracked", Tensor._wrap(nbt))

    def reset_parameters(self, *args, **kwargs) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters(*args, **kwargs)

    def _features_of(self, input) -> int:
        return int(input.shape[1])

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if self.num_features == 0:   # also without affine/running stats (torch leaves it 0 then)
            self._check_input_dim(input)
            self.num_features = self._features_of(input)
        if not self.has_uninitialized_params():
            return
        with no_grad():
            n = self.num_features
            if self.affine:
                self.weight.materialize((n,))
                self.bias.materialize((n,))
            if self.track_running_stats:
                self._materialize_buffer("running_mean", (n,))
                self._materialize_buffer("running_var", (n,))
            self.reset_parameters()

    def _infer_from_shapes(self) -> None:
        src = self.weight if self.affine else self.running_mean
        self.num_features = int(src.shape[0])


def _lazy_norm(eager, instance: bool):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        eager.__init__(self, 0, eps, momentum, False, False, device=device, dtype=dtype)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)
        self._init_lazy(affine, track_running_stats, device, dtype)

    attrs = {"cls_to_become": eager, "__init__": __init__, "__module__": __name__,
             "__doc__": f"{eager.__name__} with ``num_features`` inferred from the first input. Defaults as "
                        "PyTorch's lazy norms: affine=True, track_running_stats=True."}
    if instance:
        attrs["_features_of"] = lambda self, input: int(input.shape[input.ndim - self._dims[0]])
    return type(f"Lazy{eager.__name__}", (_LazyNormMixin, eager), attrs)


LazyBatchNorm1d = _lazy_norm(BatchNorm1d, False)
LazyBatchNorm2d = _lazy_norm(BatchNorm2d, False)
LazyBatchNorm3d = _lazy_norm(BatchNorm3d, False)
LazyInstanceNorm1d = _lazy_norm(InstanceNorm1d, True)
LazyInstanceNorm2d = _lazy_norm(InstanceNorm2d, True)
LazyInstanceNorm3d = _lazy_norm(InstanceNorm3d, True)
