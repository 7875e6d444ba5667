"""Generalised advantage estimation (Schulman et al., 2016), vectorised over environments.

For a rollout of T steps in N environments (arrays of shape (T, N)), with V(s_t) the critic's
value of the observation the policy acted on at step t, done_t = terminated_t or truncated_t:

    next_t  = V(s_{t+1}) for t < T-1,   next_{T-1} = V(s_T)            (the observation after the rollout)
    delta_t = r_t + γ (1 - done_t) next_t + γ truncated_t (1 - terminated_t) V(final_obs_t) - V(s_t)
    A_t     = delta_t + γ λ (1 - done_t) A_{t+1},      A_T = 0
    R_t     = A_t + V(s_t)                                               (the critic's regression target)

A *terminated* episode has no future: nothing is bootstrapped. A *truncated* one (time limit) still
has one, so its last step bootstraps from the value of the final observation (the one gymnasium
hands back in ``info["final_obs"]`` before resetting), exactly as Stable-Baselines3 does by adding
γ V(final_obs) to the reward and CleanRL does with its ``next_value``. The observation that follows a
done step in the buffer is the reset observation of a new episode, so the (1 - done_t) mask stops
both the bootstrap and the advantage recursion there. λ = 1 gives Monte-Carlo returns minus the
baseline (REINFORCE, n-step A2C); λ = 0 gives the one-step TD error.

    >>> adv, ret = compute_gae(rewards, values, terminated, truncated, last_values, gamma=0.99, gae_lambda=0.95)
    >>> adv.shape                      # (T, N)
"""
from __future__ import annotations

import numpy as np

__all__ = ["compute_gae", "discounted_returns"]


def _as_2d(name: str, a, shape=None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"compute_gae: {name} must have shape (T, N) (or (T,) for one environment), "
                         f"got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"compute_gae: {name} has shape {a.shape}, expected {shape} (the shape of rewards)")
    return a


def compute_gae(rewards, values, terminated, truncated, last_values, gamma: float = 0.99,
                gae_lambda: float = 0.95, final_values=None) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns ``(A, R)``, both (T, N), from one rollout (see the module docstring).

    Args:
        rewards, values: (T, N) float arrays: r_t and V(s_t).
        terminated, truncated: (T, N) bool arrays, gymnasium's flags of step t.
        last_values: (N,) V(s_T), the value of the observation after the last step.
        gamma, gae_lambda: discount γ and GAE's λ, both in [0, 1].
        final_values: (T, N) V(final_obs_t), read where truncated_t and not terminated_t (anything
            elsewhere); None means zeros (no bootstrap on truncation).

    The computation runs in float64 and returns arrays of ``values``' float dtype.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"compute_gae: gamma must be in [0, 1], got {gamma}")
    if not 0.0 <= gae_lambda <= 1.0:
        raise ValueError(f"compute_gae: gae_lambda must be in [0, 1], got {gae_lambda}")
    r = _as_2d("rewards", rewards)
    shape = r.shape
    v = _as_2d("values", values, shape)
    term = _as_2d("terminated", terminated, shape).astype(bool)
    trunc = _as_2d("truncated", truncated, shape).astype(bool)
    last = np.asarray(last_values, dtype=np.float64).reshape(-1)
    if last.shape != (shape[1],):
        raise ValueError(f"compute_gae: last_values must have shape ({shape[1]},), got {np.shape(last_values)}")
    out_dtype = v.dtype if v.dtype.kind == "f" else np.dtype(np.float64)
    r64, v64 = r.astype(np.float64), v.astype(np.float64)
    not_done = 1.0 - (term | trunc)
    bootstrap_r = r64.copy()
    if final_values is not None:
        fv = _as_2d("final_values", final_values, shape).astype(np.float64)
        boot = trunc & ~term
        bootstrap_r[boot] += gamma * fv[boot]
    next_v = np.empty_like(v64)
    next_v[:-1] = v64[1:]
    next_v[-1] = last
    delta = bootstrap_r + gamma * not_done * next_v - v64
    adv = np.empty_like(v64)
    carry = np.zeros(shape[1])
    decay = gamma * gae_lambda * not_done
    for t in range(shape[0] - 1, -1, -1):  # a loop over time steps; each step is vectorised over envs
        carry = delta[t] + decay[t] * carry
        adv[t] = carry
    ret = adv + v64
    return adv.astype(out_dtype, copy=False), ret.astype(out_dtype, copy=False)


def discounted_returns(rewards, terminated, truncated, last_values=None, gamma: float = 0.99,
                       final_values=None) -> np.ndarray:
    """Monte-Carlo returns G_t = r_t + γ (1 - done_t) G_{t+1} (+ bootstraps), (T, N).

    The same recursion as :func:`compute_gae` with λ = 1 and no baseline: G_T = V(s_T)
    (``last_values``, zeros if None) and a truncated step adds γ V(final_obs_t).
    """
    r = _as_2d("rewards", rewards)
    zeros = np.zeros(r.shape, dtype=np.float64)
    last = np.zeros(r.shape[1]) if last_values is None else last_values
    adv, _ = compute_gae(r, zeros, terminated, truncated, last, gamma, 1.0, final_values)
    return adv.astype(r.dtype if r.dtype.kind == "f" else np.float64, copy=False)
