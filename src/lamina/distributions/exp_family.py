"""ExponentialFamily: the base of distributions with density p(x) = h(x) exp(<θ, T(x)> - A(θ)).

A marker class here (as in torch, Normal, Bernoulli, Gamma, Beta, ... derive from it); each
subclass computes its entropy and KL divergences in closed form.
"""
from __future__ import annotations

from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """p(x; θ) = h(x) exp(<θ, T(x)> - A(θ)), θ the natural parameters, A the log-normaliser."""
