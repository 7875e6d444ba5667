"""Integrated Gradients (Sundararajan et al., 2017).

    IG_i(x) = (x_i - x'_i) * int_0^1 d f_c(x' + a (x - x')) / d x_i  da
            ~ (x_i - x'_i) * sum_k w_k  d f_c(x' + a_k (x - x')) / d x_i

x' is the baseline (zeros by default). Completeness: sum_i IG_i(x) = f_c(x) - f_c(x'); the
*convergence delta* is how far the quadrature misses it, sum_i IG_i - (f_c(x) - f_c(x')).

Quadrature rules (nodes a_k, weights w_k over [0, 1]), with Captum's names and nodes:
  riemann_left   a_k = k/n, k = 0..n-1               w_k = 1/n
  riemann_right  a_k = k/n, k = 1..n                 w_k = 1/n
  riemann_middle a_k = (k + 1/2)/n                   w_k = 1/n
  riemann_trapezoid a_k = k/(n-1), k = 0..n-1        w = 1/(n-1) inside, half that at both ends
  gausslegendre  Gauss-Legendre nodes mapped to [0, 1] (exact for polynomials of degree 2n - 1)

Every rule's weights sum to 1. (Captum's riemann_trapezoid takes w = 1/n inside and 1/(2n) at the
ends, which sums to (n-1)/n: its attributions are (n-1)/n of these.)

>>> attr, delta = integrated_gradients(model, x, target=3, n_steps=64, return_convergence_delta=True)
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._common import (as_tensor, batched, eval_mode, forward_scores, frozen_parameters, input_gradient,
                      repeat_batch, resolve_target, target_scores, to_numpy)

__all__ = ["integrated_gradients", "quadrature", "METHODS"]

METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def quadrature(n_steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights): ``n_steps`` nodes in [0, 1] and their weights for int_0^1 g(a) da (see module doc)."""
    if not isinstance(n_steps, numbers.Integral) or isinstance(n_steps, bool) or n_steps < 1:
        raise ValueError(f"integrated_gradients: n_steps must be a positive int, got {n_steps!r}")
    n = int(n_steps)
    if method == "riemann_left":
        return np.arange(n) / n, np.full(n, 1.0 / n)
    if method == "riemann_right":
        return np.arange(1, n + 1) / n, np.full(n, 1.0 / n)
    if method == "riemann_middle":
        return (np.arange(n) + 0.5) / n, np.full(n, 1.0 / n)
    if method == "riemann_trapezoid":
        if n < 2:
            raise ValueError("integrated_gradients: riemann_trapezoid needs n_steps >= 2")
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, n), w
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    raise ValueError(f"integrated_gradients: method must be one of {', '.join(METHODS)}, got {method!r}")


def _baselines(baselines, x: Tensor):
    arr = x.array
    if baselines is None:
        return x.xp.zeros_like(arr)
    if isinstance(baselines, numbers.Real):
        return x.xp.full_like(arr, float(baselines))
    b = baselines.array if isinstance(baselines, Tensor) else x.xp.asarray(baselines)
    try:
        return x.xp.broadcast_to(b.astype(arr.dtype), arr.shape)
    except ValueError:
        raise ValueError(f"integrated_gradients: baselines of shape {tuple(b.shape)} do not broadcast to the "
                         f"inputs' shape {tuple(arr.shape)}") from None


def integrated_gradients(model, inputs, target=None, baselines=None, n_steps: int = 50,
                         method: str = "gausslegendre", internal_batch_size: int | None = None,
                         return_convergence_delta: bool = False, **forward_kwargs):
    """Integrated Gradients of the target score, shaped like ``inputs`` (a NumPy array).

    baselines: None (zeros), a number, or an array broadcastable to the inputs. n_steps and method:
    the quadrature (module docstring; Captum's defaults, 50 Gauss-Legendre nodes). All n_steps * N
    interpolated inputs run as one batch, or in chunks of ``internal_batch_size`` rows. With
    ``return_convergence_delta`` also returns delta (N,) = sum IG - (f_c(x) - f_c(x')).
    Matches Captum's ``IntegratedGradients(model).attribute(...)`` with the same arguments.
    """
    alphas, weights = quadrature(n_steps, method)
    x = as_tensor(inputs, model)
    arr, xp = x.array, x.xp
    N, S = arr.shape[0], len(alphas)
    base = _baselines(baselines, x)
    diff = arr - base
    a = xp.asarray(alphas, dtype=arr.dtype).reshape((S, 1) + (1,) * (arr.ndim - 1))
    path = (base[None] + a * diff[None]).reshape((S * N,) + arr.shape[1:])       # step-major: row k*N + i
    with eval_mode(model), frozen_parameters(model):
        with no_grad():
            t = resolve_target(target, forward_scores(model, x, **forward_kwargs))
        t_all = None if t is None else np.tile(t, S)
        expanded = {k: repeat_batch(v, S, N) for k, v in forward_kwargs.items()}
        grads = []
        for sl in batched(S * N, internal_batch_size):
            fwd = {k: (v[sl] if v is not forward_kwargs[k] else v) for k, v in expanded.items()}
            g, _, _ = input_gradient(model, Tensor._wrap(path[sl]), None if t_all is None else t_all[sl], **fwd)
            grads.append(g)
        g = xp.concatenate(grads, 0).reshape((S, N) + arr.shape[1:])
        w = xp.asarray(weights, dtype=arr.dtype).reshape((S,) + (1,) * arr.ndim)
        attr = diff * (g * w).sum(0)
        if not return_convergence_delta:
            return to_numpy(attr)
        with no_grad():
            both = Tensor._wrap(xp.concatenate([arr, base], 0))
            fwd = {k: repeat_batch(v, 2, N) for k, v in forward_kwargs.items()}
            s = to_numpy(target_scores(forward_scores(model, both, **fwd),
                                       None if t is None else np.tile(t, 2)).array).astype(np.float64)
    attr = to_numpy(attr)
    delta = attr.reshape(N, -1).astype(np.float64).sum(1) - (s[:N] - s[N:])
    return attr, delta
