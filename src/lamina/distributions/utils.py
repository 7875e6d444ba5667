"""Helpers shared by the distributions (torch.distributions.utils' names).

    logits_to_probs(l) = softmax(l) (or sigmoid(l) when is_binary)
    probs_to_logits(p) = log(clamp(p)) (or log(p) - log1p(-p) when is_binary)
    clamp_probs(p) = clamp(p, eps, 1 - eps), eps the dtype's machine epsilon
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import is_grad_enabled
from ..tensor import Tensor

euler_constant = 0.57721566490153286060  # Euler–Mascheroni constant


class lazy_property:
    """A property computed on first access and then stored on the instance (like torch's):
    ``Categorical(probs=p).logits`` is derived from ``probs`` once. A value computed under
    ``no_grad`` (inside ``sample()``) is not stored, so a later ``entropy()`` still reaches the
    parameters through it."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        if is_grad_enabled():
            instance.__dict__[self.wrapped.__name__] = value
        return value


def _is_number(v) -> bool:
    return isinstance(v, (numbers.Number, np.number, np.bool_))


def broadcast_all(*values):
    """Tensors of one common (broadcast) shape from tensors and Python numbers.

    Numbers become tensors of the first floating tensor's dtype (the default dtype if none).
    >>> loc, scale = broadcast_all(lamina.zeros(3), 1.0)   # both of shape (3,)
    """
    for v in values:
        if not (isinstance(v, Tensor) or _is_number(v)):
            raise ValueError("Input arguments must all be instances of numbers.Number or lamina.Tensor, "
                             f"got {type(v).__name__}")
    tensors = [v for v in values if isinstance(v, Tensor)]
    floats = [t for t in tensors if t.dtype.kind == "f"]
    dtype = floats[0].dtype if floats else backend.get_default_dtype()
    device = tensors[0].device if tensors else None
    out = []
    for v in values:
        if isinstance(v, Tensor):
            out.append(v)
        else:
            arr = np.asarray(v, dtype=dtype)
            out.append(Tensor._wrap(backend.to_device(arr, device) if device is not None else arr))
    try:
        shape = np.broadcast_shapes(*[t.shape for t in out])
    except ValueError:
        raise RuntimeError("The shapes of the arguments " + ", ".join(str(t.shape) for t in out)
                           + " cannot be broadcast together") from None
    return tuple(t if t.shape == shape else t.expand(*shape) for t in out)


def as_float_tensor(v, like: Tensor | None = None) -> Tensor:
    """``v`` as a tensor (numbers take ``like``'s dtype, else the default float dtype)."""
    if isinstance(v, Tensor):
        return v
    dtype = like.dtype if like is not None and like.dtype.kind == "f" else backend.get_default_dtype()
    arr = np.asarray(v, dtype=dtype)
    return Tensor._wrap(backend.to_device(arr, like.device) if like is not None else arr)


def finfo(dtype) -> np.finfo:
    return np.finfo(dtype if np.dtype(dtype).kind == "f" else backend.get_default_dtype())


def clamp_probs(probs: Tensor) -> Tensor:
    eps = float(finfo(probs.dtype).eps)
    return probs.clamp(eps, 1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    if is_binary:
        return logits.sigmoid()
    from ..nn.activation_fns import softmax

    return softmax(logits, dim=-1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    ps = clamp_probs(probs)
    if is_binary:
        return ps.log() - (-ps).log1p()
    return ps.log()


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), exact for every x;  dx = sigmoid(x)."""
    from ._special import softplus as _softplus

    return _softplus(x)


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum out the ``dim`` rightmost dimensions (none when dim == 0)."""
    if dim == 0:
        return value
    return value.reshape(*value.shape[:-dim], -1).sum(-1) if value.ndim >= dim else value.sum()


def scalar_like(x: Tensor, value) -> Tensor:
    """A 0-d tensor of ``value`` with x's dtype and device."""
    return Tensor._wrap(x.xp.asarray(value, dtype=x.dtype))


def full_like(x: Tensor, value, shape=None) -> Tensor:
    xp = x.xp
    return Tensor._wrap(xp.full(x.shape if shape is None else tuple(shape), value, dtype=x.dtype))


def draw(sampler, shape, dtype, device, generator=None) -> Tensor:
    """A tensor from ``sampler(numpy_generator, shape)`` (drawn on the CPU, cast, moved to ``device``)."""
    arr = np.asarray(sampler(backend.rng(generator), tuple(shape))).astype(dtype, copy=False)
    return Tensor._wrap(backend.to_device(arr, backend.Device(device)))


def standard_normal(shape, like: Tensor) -> Tensor:
    return draw(lambda g, s: g.standard_normal(s), shape, like.dtype, like.device)


def uniform01(shape, like: Tensor) -> Tensor:
    """Uniform draws on [0, 1) of ``like``'s dtype."""
    return draw(lambda g, s: g.random(s), shape, like.dtype, like.device)


def floor(x: Tensor) -> Tensor:
    """floor(x) as a constant (its derivative is zero almost everywhere)."""
    return Tensor._wrap(x.xp.floor(x.array))


def check_probs_logits(probs, logits) -> None:
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits", "euler_constant",
           "sum_rightmost", "check_probs_logits", "floor"]
