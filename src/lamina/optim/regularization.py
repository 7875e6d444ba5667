"""Weight penalties to add to a loss: L1 (lasso) and L2 (ridge), differentiable Tensors.

    loss = criterion(model(x), y) + 1e-4 * l2_penalty(model.parameters())

``l2_penalty`` carries a factor 1/2, so its gradient is ``w`` itself: adding
``wd * l2_penalty(params)`` to the loss changes plain SGD exactly as ``weight_decay=wd`` does.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..tensor import Tensor


def _params(parameters) -> list:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _total(terms: list) -> Tensor:
    if not terms:
        return Tensor._wrap(np.zeros((), dtype=get_default_dtype()))
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def l1_penalty(parameters) -> Tensor:
    """sum_i sum_j |w_ij| over all parameters; gradient sign(w) (0 at w = 0). A 0-d Tensor."""
    return _total([p.abs().sum() for p in _params(parameters)])


def l2_penalty(parameters) -> Tensor:
    """0.5 * sum_i sum_j w_ij ** 2 over all parameters; gradient w. A 0-d Tensor."""
    terms = [p.square().sum() for p in _params(parameters)]
    return _total(terms) * 0.5 if terms else _total(terms)
