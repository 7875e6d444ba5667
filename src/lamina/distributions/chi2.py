"""The chi-squared distribution."""
from __future__ import annotations

from . import constraints
from .gamma import Gamma

__all__ = ["Chi2"]


class Chi2(Gamma):
    """Chi2(df) = Gamma(df/2, 1/2):  log p(x) = (k/2 - 1) log x - x/2 - (k/2) log 2 - lgamma(k/2)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        from .utils import broadcast_all

        (df,) = broadcast_all(df)
        super().__init__(df * 0.5, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return self._expand_params(Chi2, batch_shape, ("concentration", "rate"), _instance=new)

    @property
    def df(self):
        return self.concentration * 2
