"""One helper for every distribution test: the same constructor and statistics in lamina and torch.

``dist_parity(name, params, value=..., outs=(...))`` builds ``lamina.distributions.<name>(**params)``
and ``torch.distributions.<name>(**params)`` from the same float64 arrays, evaluates the requested
outputs (log_prob(value), entropy, mean, variance, stddev, cdf(value), icdf(prob), mode) and compares
values and the gradients of every float input (parameters, value, prob) through ``parity``.
"""
from __future__ import annotations

import numpy as np

import lamina.distributions as D
from helpers import parity

try:
    import torch
    import torch.distributions as TD
except Exception:  # pragma: no cover - torch is optional
    torch = TD = None

rng = np.random.default_rng


def _outputs(d, outs, value, prob):
    res = []
    for o in outs:
        if o == "log_prob":
            res.append(d.log_prob(value))
        elif o == "cdf":
            res.append(d.cdf(value))
        elif o == "icdf":
            res.append(d.icdf(prob))
        elif o == "entropy":
            res.append(d.entropy())
        else:
            res.append(getattr(d, o))
    return tuple(res)


def dist_parity(name, params: dict, value=None, prob=None, outs=("log_prob", "entropy", "mean", "variance"),
                lamina_cls=None, torch_cls=None, atol=1e-9, rtol=1e-7, grad=True, **kw):
    """Compare ``outs`` of distribution ``name`` (and their gradients) between lamina and torch."""
    names = list(params)
    arrays = [params[k] for k in names]
    extra = []
    if value is not None:
        extra.append(value)
    if prob is not None:
        extra.append(prob)
    n = len(names)
    lcls = lamina_cls or getattr(D, name)
    tcls = torch_cls or (getattr(TD, name) if TD is not None else None)

    def run(cls):
        def fn(*ts):
            kwargs = dict(zip(names, ts[:n]))
            v = ts[n] if value is not None else None
            p = ts[n + (value is not None)] if prob is not None else None
            return _outputs(cls(**kwargs), outs, v, p)
        return fn

    return parity(run(lcls), *arrays, *extra, torch_fn=run(tcls), atol=atol, rtol=rtol, grad=grad, **kw)


def pos(shape, seed=0, low=0.5, high=2.0):
    return rng(seed).uniform(low, high, shape)


def real(shape, seed=0):
    return rng(seed).standard_normal(shape)
