"""Parameter: a Tensor that a Module learns.

Assigning a Parameter to a Module attribute registers it (``module.parameters()`` then yields
it); a plain Tensor attribute is not registered. Parameters require grad by default.

>>> w = nn.Parameter(lamina.randn(3, 4))
>>> w.requires_grad          # True
"""
from __future__ import annotations

import copy

import numpy as np

from .. import backend
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad (unless ``requires_grad=False``) and belongs to a Module.

    ``Parameter(t)`` shares ``t``'s data array (no copy), as ``torch.nn.Parameter`` does.
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype())
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)  # an array is kept, not copied

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(self.array.copy(), self._requires_grad)
        if self.grad is not None:
            out.grad = Tensor._wrap(self.grad.array.copy())
        for k, v in self.__dict__.items():  # attributes a user attached (e.g. sharding hints)
            setattr(out, k, copy.deepcopy(v, memo))
        memo[id(self)] = out
        return out


def is_parameter(obj) -> bool:
    return isinstance(obj, Parameter)
