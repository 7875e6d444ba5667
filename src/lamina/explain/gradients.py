"""Gradient attributions: saliency, gradient x input, SmoothGrad.

    saliency(x)        = |d f_c(x) / d x|                          (Simonyan et al., 2014)
    input_x_gradient   = x * d f_c(x) / d x                        (Shrikumar et al., 2016)
    smoothgrad(x)      = 1/n sum_i A(x + e_i),  e_i ~ N(0, sigma^2)  (Smilkov et al., 2017)

f_c is the model's score for the target class c (a logit, unless the model outputs probabilities).
Every function takes ``(model, inputs, target)`` and returns a NumPy array shaped like ``inputs``.

>>> a = saliency(model, x, target=3)                   # x (N, 1, 8, 8) -> a (N, 1, 8, 8)
>>> a = smoothgrad(model, x, n_samples=32, noise_level=0.15)
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._common import (as_tensor, batched, eval_mode, forward_scores, frozen_parameters, input_gradient,
                      repeat_batch, resolve_target, to_numpy)
from ..autograd import no_grad

__all__ = ["saliency", "input_x_gradient", "smoothgrad"]


def saliency(model, inputs, target=None, abs: bool = True, **forward_kwargs) -> np.ndarray:
    """Gradient saliency: |d f_c / d x| (or the signed gradient with ``abs=False``), shaped like ``inputs``.

    target: class index (int), one per example, or None for the predicted class. The model runs
    in eval mode. Equals Captum's ``Saliency(model).attribute(x, target, abs=abs)``.
    """
    x = as_tensor(inputs, model)
    with eval_mode(model), frozen_parameters(model):
        g, _, _ = input_gradient(model, x, target, **forward_kwargs)
    return to_numpy(x.xp.abs(g) if abs else g)


def input_x_gradient(model, inputs, target=None, **forward_kwargs) -> np.ndarray:
    """Gradient x input: x * d f_c / d x, shaped like ``inputs`` (Captum's ``InputXGradient``)."""
    x = as_tensor(inputs, model)
    with eval_mode(model), frozen_parameters(model):
        g, _, _ = input_gradient(model, x, target, **forward_kwargs)
    return to_numpy(x.array * g)


_METHODS = {"saliency": saliency, "input_x_gradient": input_x_gradient}


def _method(method):
    if callable(method):
        return method
    if method in ("ig", "integrated_gradients"):
        from .integrated_gradients import integrated_gradients
        return integrated_gradients
    if method not in _METHODS:
        raise ValueError(f"smoothgrad: method must be 'saliency', 'input_x_gradient', 'ig' or a function "
                         f"(model, inputs, target, **kwargs) -> array, got {method!r}")
    return _METHODS[method]


def smoothgrad(model, inputs, target=None, method="saliency", n_samples: int = 25, stdevs: float | None = None,
               noise_level: float = 0.15, squared: bool = False, batch_size: int | None = None, generator=None,
               method_kwargs: dict | None = None, **forward_kwargs) -> np.ndarray:
    """SmoothGrad: the mean of an attribution over ``n_samples`` noisy copies of each input.

        A_sg(x) = 1/n sum_i A(x + e_i),  e_i ~ N(0, sigma^2);   with ``squared``: 1/n sum_i A(x + e_i)^2

    sigma is ``stdevs`` when given, else ``noise_level * (max(x) - min(x))`` per example (the paper's
    15 %). ``method``: 'saliency' (default), 'input_x_gradient', 'ig' or a function
    ``(model, inputs, target, **kw) -> array``; ``method_kwargs`` go to it (e.g. ``{"abs": False}``).
    target None explains the class predicted for the clean input. The noisy copies run as one batch
    of n_samples * N inputs, or in chunks of ``batch_size`` rows. ``generator``: a ``lamina.Generator``
    for the noise. With the same noise this is Captum's ``NoiseTunnel(m).attribute(nt_type='smoothgrad')``.

    >>> a = smoothgrad(model, x, target=3, n_samples=32, generator=lamina.Generator().manual_seed(0))
    """
    if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"smoothgrad: n_samples must be a positive int, got {n_samples!r}")
    fn = _method(method)
    x = as_tensor(inputs, model)
    arr = x.array
    xp, N = x.xp, arr.shape[0]
    if stdevs is None:
        flat = arr.reshape(N, -1)
        sigma = (noise_level * (flat.max(1) - flat.min(1))).reshape((N,) + (1,) * (arr.ndim - 1))
    else:
        sigma = float(stdevs)
    noise = backend.rng(generator).standard_normal((n_samples,) + arr.shape)
    noisy = (arr[None] + xp.asarray(noise, dtype=arr.dtype) * sigma).reshape((n_samples * N,) + arr.shape[1:])
    with eval_mode(model):
        with no_grad():
            t = resolve_target(target, forward_scores(model, x, **forward_kwargs))
        t_all = None if t is None else np.tile(t, n_samples)
        expanded = {k: repeat_batch(v, n_samples, N) for k, v in forward_kwargs.items()}
        parts = []
        for sl in batched(n_samples * N, batch_size):
            fwd = {k: (v[sl] if v is not forward_kwargs[k] else v) for k, v in expanded.items()}
            part = fn(model, Tensor._wrap(noisy[sl]), None if t_all is None else t_all[sl],
                      **(method_kwargs or {}), **fwd)
            parts.append(part[0] if isinstance(part, tuple) else part)
    a = np.concatenate(parts, 0).reshape((n_samples, N) + arr.shape[1:])
    return (a ** 2).mean(0) if squared else a.mean(0)
