"""Advantage actor-critic (A2C; Mnih et al., 2016, synchronous) with generalised advantage estimation.

Each iteration collects T (small, default 5) steps in N environment copies, computes A, R by
GAE(γ, λ) (see :mod:`lamina.rl.gae`; λ = 1 is the classic n-step return), and takes ONE gradient
step on all T·N transitions:

    L_π = -mean( Â log π_θ(a|s) )            (Â = A, or normalised when ``normalize_advantage``)
    L_V = mean( (V_θ(s) - R)² )
    L_H = -mean( H[π_θ(·|s)] )               (mean(log π) when H has no closed form)
    loss = L_π + c_V L_V + c_H L_H;   ∇ clipped to global norm ``max_grad_norm``;   RMSprop step

Defaults follow Stable-Baselines3 (RMSprop with α = 0.99, ε = 1e-5, lr 7e-4, no annealing).

    >>> agent = A2C("CartPole-v1", n_envs=8, seed=0).learn(100_000)
"""
from __future__ import annotations

import numpy as np

from .. import optim
from ..tensor import Tensor
from .rollout import OnPolicyAgent

__all__ = ["A2C", "a2c_loss"]


def _t(a: np.ndarray) -> Tensor:
    return Tensor._wrap(np.ascontiguousarray(a))


def a2c_loss(log_prob: Tensor, advantages, values: Tensor, returns, entropy: Tensor | None,
             ent_coef: float = 0.0, vf_coef: float = 0.5) -> tuple:
    """The actor-critic loss (module docstring) on (B,) inputs; ``advantages`` and ``returns``
    are constants (arrays). Returns ``(loss, parts)`` with policy_loss, value_loss, entropy_loss."""
    dt = log_prob.array.dtype
    adv = _t(np.asarray(getattr(advantages, "array", advantages), dtype=dt))
    ret = _t(np.asarray(getattr(returns, "array", returns), dtype=dt))
    policy_loss = -(adv * log_prob).mean()
    value_loss = ((values - ret) ** 2).mean()
    entropy_loss = -entropy.mean() if entropy is not None else log_prob.mean()
    loss = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss
    parts = {"policy_loss": float(policy_loss.array), "value_loss": float(value_loss.array),
             "entropy_loss": float(entropy_loss.array)}
    return loss, parts


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic (see the module docstring for the update).

    Args:
        env: a Gymnasium id, env, vector env or env factory (see :class:`lamina.rl.Agent`).
        learning_rate: the optimizer's step size (decayed linearly to 0 when ``anneal_lr``).
        n_steps: steps per environment copy per update (T).
        gamma, gae_lambda: discount and GAE λ (1.0: n-step returns).
        ent_coef, vf_coef: c_H and c_V.  max_grad_norm: global gradient-norm clip (None: off).
        use_rms_prop: RMSprop(α = ``rms_prop_alpha``, ε = ``rms_prop_eps``) (default) or Adam.
        normalize_advantage: normalise Â over the rollout (mean 0, std 1).
        policy_kwargs: :class:`lamina.rl.policies.ActorCritic` options.
        seed, n_envs, log_interval, verbose, env_kwargs: see :class:`lamina.rl.Agent`.
    """

    algorithm = "a2c"
    action_kind = "any"

    def __init__(self, env, learning_rate: float = 7e-4, n_steps: int = 5, gamma: float = 0.99,
                 gae_lambda: float = 1.0, ent_coef: float = 0.0, vf_coef: float = 0.5,
                 max_grad_norm: float | None = 0.5, use_rms_prop: bool = True, rms_prop_alpha: float = 0.99,
                 rms_prop_eps: float = 1e-5, normalize_advantage: bool = False, anneal_lr: bool = False,
                 policy_kwargs: dict | None = None, *, seed: int = 0, n_envs: int = 1, log_interval: int = 1000,
                 verbose: int = 0, env_kwargs: dict | None = None):
        self.ent_coef, self.vf_coef = float(ent_coef), float(vf_coef)
        self.use_rms_prop = bool(use_rms_prop)
        self.rms_prop_alpha, self.rms_prop_eps = float(rms_prop_alpha), float(rms_prop_eps)
        self.normalize_advantage = bool(normalize_advantage)
        super().__init__(env, n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda, learning_rate=learning_rate,
                         anneal_lr=anneal_lr, max_grad_norm=max_grad_norm, policy_kwargs=policy_kwargs, seed=seed,
                         n_envs=n_envs, log_interval=log_interval, verbose=verbose, env_kwargs=env_kwargs)
        self.config.update(ent_coef=self.ent_coef, vf_coef=self.vf_coef, use_rms_prop=self.use_rms_prop,
                           rms_prop_alpha=self.rms_prop_alpha, rms_prop_eps=self.rms_prop_eps,
                           normalize_advantage=self.normalize_advantage)

    def _make_optimizer(self):
        if self.use_rms_prop:
            return optim.RMSprop(self.params, lr=self.learning_rate, alpha=self.rms_prop_alpha, eps=self.rms_prop_eps)
        return optim.Adam(self.params, lr=self.learning_rate)

    def _update(self) -> None:
        buf = self.buffer
        self._set_lr()
        adv = buf.flat("advantages")
        if self.normalize_advantage and adv.size > 1:
            adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
        log_prob, entropy, values = self.policy.evaluate_actions(_t(buf.flat("obs")), _t(buf.flat("actions")))
        loss, parts = a2c_loss(log_prob, adv, values, buf.flat("returns"), entropy, self.ent_coef, self.vf_coef)
        self.optimizer.zero_grad()
        loss.backward()
        parts["grad_norm"] = self._clip_and_step()
        parts["lr"] = self.optimizer.param_groups[0]["lr"]
        self.train_info = parts
