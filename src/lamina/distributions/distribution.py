"""Distribution: the base class of every probability distribution (torch.distributions' API).

Shapes: a draw has shape ``sample_shape + batch_shape + event_shape``. ``batch_shape`` indexes
independent (not necessarily identical) distributions; ``event_shape`` is the shape of one draw
(``()`` for a scalar distribution, ``(k,)`` for a k-dimensional one). ``log_prob(x)`` reduces
the event dimensions and keeps ``sample_shape + batch_shape``.

``sample()`` draws without a graph; ``rsample()`` (where ``has_rsample``) is a differentiable
function of the parameters and of parameter-free noise (the reparameterisation trick):
``x = loc + scale * eps``, so ``x.sum().backward()`` reaches ``loc`` and ``scale``.

Validation is on by default (as in torch): bad parameters and values outside the support raise
ValueError. ``Distribution.set_default_validate_args(False)`` or ``validate_args=False`` skip it.

    >>> d = Normal(lamina.zeros(3), lamina.ones(3))
    >>> x = d.rsample((5,)); d.log_prob(x).shape     # (5, 3)
"""
from __future__ import annotations

import numbers

from ..autograd import no_grad
from ..tensor import Tensor
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]


def _shape(sample_shape) -> tuple:
    if isinstance(sample_shape, numbers.Integral):
        return (int(sample_shape),)
    try:
        shape = tuple(sample_shape)
    except TypeError:
        shape = None
    if shape is None or isinstance(sample_shape, str) or not all(isinstance(n, numbers.Integral) for n in shape):
        raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}")
    return tuple(int(n) for n in shape)


def _show(v):
    if isinstance(v, Tensor):
        return v.item() if v.numel() == 1 else v.shape
    return v


class Distribution:
    """Base class: subclasses set ``arg_constraints``, ``support`` and implement what they can of
    ``rsample``/``sample``, ``log_prob``, ``cdf``, ``icdf``, ``entropy``, ``mean``, ``mode``,
    ``variance`` and ``expand``."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument/sample validation on or off for every distribution made afterwards."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args expects True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                    continue  # a parameter derived from another one (logits from probs): not given
                value = getattr(self, param)
                valid = constraint.check(value)
                if not bool(valid.array.all()):
                    raise ValueError(
                        f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                        f"of distribution {self!r} to satisfy the constraint {constraint!r}, but found "
                        f"invalid values:\n{value}")
        super().__init__()

    def expand(self, batch_shape, _instance=None):
        """A new distribution with its parameters expanded (views) to ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement expand")

    @property
    def batch_shape(self) -> tuple:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        return self._event_shape

    @property
    def arg_constraints(self) -> dict:
        """Parameter name -> the constraint it must satisfy."""
        raise NotImplementedError

    @property
    def support(self):
        """The constraint every sample satisfies."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def sample(self, sample_shape=()) -> Tensor:
        """Draws of shape ``sample_shape + batch_shape + event_shape``, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        """Reparameterised draws: gradients flow back to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample (has_rsample=False)")

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def entropy(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return self.entropy().exp()

    # ------------------------------------------------------------ helpers for subclasses
    def _extended_shape(self, sample_shape=()) -> tuple:
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value) -> None:
        """Raise ValueError unless ``value`` is a tensor broadcastable to the batch and event shapes
        and inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        start = len(shape) - len(self._event_shape)
        if shape[start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {shape} vs {self._event_shape}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {shape} vs {expected}.")
        try:
            support = self.support
        except NotImplementedError:
            return
        if support is None or constraints.is_dependent(support):
            return
        valid = support.check(value)
        if not bool(valid.array.all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {shape}) to be within the support "
                f"({support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def _expand_params(self, cls, batch_shape, names, _instance=None):
        """``expand`` for distributions whose parameters have shape batch_shape + something:
        each parameter present on ``self`` is expanded (a view) to the new batch shape."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = _shape(batch_shape)
        nb = len(self._batch_shape)
        for name in names:
            if name in self.__dict__:
                p = self.__dict__[name]
                new.__dict__[name] = p.expand(*(batch_shape + tuple(p.shape[nb:]))) if isinstance(p, Tensor) else p
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom __init__ method "
                "must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self):
        try:
            names = [k for k in self.arg_constraints if k in self.__dict__]
        except NotImplementedError:
            names = []
        args = ", ".join(f"{k}: {_show(self.__dict__[k])}" for k in names)
        return f"{type(self).__name__}({args})"
