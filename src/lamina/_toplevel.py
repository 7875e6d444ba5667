"""The rest of PyTorch's top-level namespace, gathered in one place for ``lamina/__init__.py``:

* dtype helpers and legacy classes scripts use: ``Size``, ``dtype``, ``finfo``/``iinfo``,
  ``FloatTensor``/``LongTensor``/... (constructors and ``isinstance`` checks by dtype);
* the ``nn.functional`` ops PyTorch also exposes as ``torch.*``, with torch's positional order
  where it differs from ``F.*`` (``torch.batch_norm``, ``torch.embedding``, losses taking
  ``reduction`` as torch's integer enum);
* process switches that have no effect in lamina but that scripts set or query (interop threads,
  flush-denormal, warn-always, deterministic debug mode), each saying what it does here.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor


# ---------------------------------------------------------------- sizes and dtypes
class Size(tuple):
    """``torch.Size``: a tuple of ints (lamina's ``x.shape`` is a plain tuple, which compares equal)."""

    def __new__(cls, sizes=()):
        return super().__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"lamina.Size({list(self)})"


dtype = np.dtype  # lamina's dtypes are NumPy dtype objects: isinstance(x.dtype, lamina.dtype) holds


def finfo(type=None):
    """Machine limits of a floating dtype (``eps``, ``max``, ``min``, ``tiny``, ``bits``, ``resolution``)."""
    return np.finfo(backend.get_default_dtype() if type is None else backend.as_dtype(type))


def iinfo(type):
    """Machine limits of an integer dtype (``max``, ``min``, ``bits``)."""
    return np.iinfo(backend.as_dtype(type))


class _LegacyTensorType(type):
    """``isinstance(x, lamina.FloatTensor)`` checks the dtype, as torch's legacy type objects do."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls._dtype


def _legacy(name: str, dt):
    def __new__(cls, *args):
        """``FloatTensor(2, 3)`` (uninitialised), ``FloatTensor([1, 2])`` (data), ``FloatTensor()`` (empty)."""
        from .ops import creation
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            return creation.tensor(args[0], dtype=dt)
        return creation.empty(*args, dtype=dt) if args else creation.empty(0, dtype=dt)

    return _LegacyTensorType(name, (), {"__new__": __new__, "_dtype": np.dtype(dt),
                                        "__doc__": f"Legacy constructor and type check of {np.dtype(dt)} tensors."})


FloatTensor = _legacy("FloatTensor", np.float32)
DoubleTensor = _legacy("DoubleTensor", np.float64)
HalfTensor = _legacy("HalfTensor", np.float16)
LongTensor = _legacy("LongTensor", np.int64)
IntTensor = _legacy("IntTensor", np.int32)
ShortTensor = _legacy("ShortTensor", np.int16)
CharTensor = _legacy("CharTensor", np.int8)
ByteTensor = _legacy("ByteTensor", np.uint8)
BoolTensor = _legacy("BoolTensor", np.bool_)


def typename(obj) -> str:
    """``'lamina.FloatTensor'`` for a float32 tensor (torch's legacy names), else the Python type's name."""
    if isinstance(obj, Tensor):
        names = {np.dtype(t._dtype): n for n, t in (
            ("FloatTensor", FloatTensor), ("DoubleTensor", DoubleTensor), ("HalfTensor", HalfTensor),
            ("LongTensor", LongTensor), ("IntTensor", IntTensor), ("ShortTensor", ShortTensor),
            ("CharTensor", CharTensor), ("ByteTensor", ByteTensor), ("BoolTensor", BoolTensor))}
        return f"lamina.{names.get(obj.dtype, 'Tensor')}"
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


# ---------------------------------------------------------------- nn.functional ops under torch.* names
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(r):
    return _REDUCTIONS.get(r, r) if isinstance(r, (int, np.integer)) and not isinstance(r, bool) else r


def _F():
    from .nn import functional
    return functional


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    """``torch.batch_norm`` (weight and bias come before the running statistics, unlike ``F.batch_norm``)."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    """``torch.instance_norm`` (torch's argument order)."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return _F().group_norm(input, num_groups, weight, bias, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``torch.embedding(weight, indices)``: the table first, unlike ``F.embedding(input, weight)``."""
    return _F().embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq)


def dropout(input, p, train):
    return _F().dropout(input, p, train)


def alpha_dropout(input, p, train):
    return _F().alpha_dropout(input, p, train)


def kl_div(input, target, reduction=1, log_target=False):
    return _F().kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                                 pos_weight=pos_weight)


def _loss(name):
    def loss(*args, reduction=1, **kwargs):
        return getattr(_F(), name)(*args, reduction=_reduction(reduction), **kwargs)

    loss.__name__ = name
    loss.__doc__ = f"``torch.{name}``: ``nn.functional.{name}`` (``reduction`` also as torch's 0/1/2)."
    return loss


cosine_embedding_loss = _loss("cosine_embedding_loss")
hinge_embedding_loss = _loss("hinge_embedding_loss")
margin_ranking_loss = _loss("margin_ranking_loss")
poisson_nll_loss = _loss("poisson_nll_loss")
triplet_margin_loss = _loss("triplet_margin_loss")
ctc_loss = _loss("ctc_loss")

# same leading positional arguments as the nn.functional op
_SAME = ("celu_", "selu_", "rrelu_", "threshold_", "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "bilinear", "celu", "channel_shuffle",
         "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "embedding_bag",
         "hardshrink", "log_softmax", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
         "pixel_shuffle", "pixel_unshuffle", "prelu", "rms_norm", "rrelu", "selu", "softmax", "threshold")


def functional_aliases() -> dict:
    """``{name: nn.functional.name}`` for the ops torch exposes under the same call (built lazily)."""
    F = _F()
    return {name: getattr(F, name) for name in _SAME if hasattr(F, name)}


# ---------------------------------------------------------------- process switches
_STATE = {"warn_always": False, "debug_mode": 0, "interop_threads": 1}


def get_num_interop_threads() -> int:
    """lamina runs independent ops one after another (no inter-op pool): always the value last set, 1 by default."""
    return _STATE["interop_threads"]


def set_num_interop_threads(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise RuntimeError(f"set_num_interop_threads: expected a positive integer, got {n!r}")
    _STATE["interop_threads"] = int(n)


def set_flush_denormal(mode: bool) -> bool:
    """NumPy gives no control of the CPU's denormal flags: returns False (not supported), as torch does
    on CPUs without SSE3."""
    return False


def set_warn_always(b: bool) -> None:
    _STATE["warn_always"] = bool(b)


def is_warn_always_enabled() -> bool:
    return _STATE["warn_always"]


def set_deterministic_debug_mode(debug_mode) -> None:
    """lamina's CPU ops are deterministic; the mode is kept for ``get_deterministic_debug_mode``."""
    modes = {"default": 0, "warn": 1, "error": 2}
    mode = modes.get(debug_mode, debug_mode)
    if mode not in (0, 1, 2):
        raise RuntimeError(f"invalid debug mode {debug_mode!r}: expected 'default', 'warn', 'error' or 0, 1, 2")
    _STATE["debug_mode"] = mode


def get_deterministic_debug_mode() -> int:
    return _STATE["debug_mode"]


def detach(input: Tensor) -> Tensor:
    return input.detach()


def get_device(input: Tensor) -> int:
    return input.get_device()


def is_inference(input: Tensor) -> bool:
    return input.is_inference()


def seed() -> int:
    """Seed the default generator from the operating system's entropy and return the seed."""
    s = int(np.random.SeedSequence().entropy % (1 << 63))
    backend.manual_seed(s)
    return s


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """``torch.set_anomaly_enabled``: turn lamina.autograd's anomaly detection on or off."""
    from .autodiff import anomaly
    anomaly.set_detect_anomaly(enabled, check_nan)


def to_dlpack(tensor: Tensor):
    """A DLPack capsule of the tensor's array (shares memory), for ``from_dlpack`` in another library."""
    return tensor.detach().array.__dlpack__()


def _inplace(name):
    def op(input, *args, **kwargs):
        from .ops.inplace import inplace
        F = _F()
        return inplace(input, lambda a: getattr(F, name)(a, *args, **kwargs), name=name)

    op.__name__ = f"{name}_"
    op.__doc__ = f"``torch.{name}_``: ``nn.functional.{name}`` written into the input."
    return op


dropout_ = _inplace("dropout")
alpha_dropout_ = _inplace("alpha_dropout")
