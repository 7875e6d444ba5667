"""Proximal policy optimisation (Schulman et al., 2017) with a clipped surrogate, on vector envs.

Each iteration collects T steps in N environment copies, computes A, R by GAE(γ, λ) (see
:mod:`lamina.rl.gae`), then runs ``n_epochs`` passes over the T·N transitions in shuffled
minibatches of ``batch_size``. With ρ = π_θ(a|s) / π_old(a|s) = exp(log π_θ - log π_old),
Â the minibatch's advantages (normalised to mean 0, std 1 when ``normalize_advantage``),
ε = ``clip_range`` and ε_v = ``clip_range_vf``:

    L_clip = -mean( min(ρ Â, clip(ρ, 1 - ε, 1 + ε) Â) )
    L_V    = mean( (V_θ(s) - R)² )                                  (clip_range_vf None)
           = mean( max((V_θ - R)², (V_old + clip(V_θ - V_old, -ε_v, ε_v) - R)²) )   (value clipping)
    L_H    = -mean( H[π_θ(·|s)] )     (or mean(log π_θ(a|s)) when H has no closed form: tanh-squash)
    loss   = L_clip + c_H L_H + c_V L_V;   ∇ clipped to global norm ``max_grad_norm``;   Adam step

The learning rate (and, with ``anneal_clip_range``, ε) decays linearly to 0 over ``learn``'s
``total_steps``; ``target_kl`` stops an iteration's epochs early once the approximate KL
mean((ρ - 1) - log ρ) of a minibatch exceeds 1.5 · target_kl. Defaults follow Stable-Baselines3.

    >>> agent = PPO("CartPole-v1", n_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98,
    ...             gae_lambda=0.8, learning_rate=1e-3, seed=0).learn(100_000)
    >>> agent.evaluate("CartPole-v1", episodes=100)
"""
from __future__ import annotations

import numpy as np

from .. import optim
from ..ops.arithmetic import maximum, minimum
from ..ops.unary import clamp as _clamp
from ..tensor import Tensor
from .rollout import OnPolicyAgent

__all__ = ["PPO", "ppo_loss"]


def _t(a: np.ndarray) -> Tensor:
    return Tensor._wrap(np.ascontiguousarray(a))


def ppo_loss(log_prob: Tensor, old_log_prob, advantages, values: Tensor, old_values, returns,
             entropy: Tensor | None, clip_range: float, clip_range_vf: float | None = None,
             ent_coef: float = 0.0, vf_coef: float = 0.5) -> tuple:
    """PPO's loss on one minibatch (formulas in the module docstring; advantages used as given).

    ``log_prob``, ``values``, ``entropy``: (B,) Tensors with graphs; ``old_log_prob``,
    ``advantages``, ``old_values``, ``returns``: (B,) arrays (or Tensors, treated as constants);
    ``entropy`` None means L_H = mean(log π). Returns ``(loss, parts)`` with ``parts`` a dict of
    floats: policy_loss, value_loss, entropy_loss, approx_kl, clip_fraction.
    """
    def arr(x):
        return np.asarray(getattr(x, "array", x), dtype=log_prob.array.dtype)
    old_lp, adv, old_v, ret = arr(old_log_prob), _t(arr(advantages)), arr(old_values), _t(arr(returns))
    log_ratio = log_prob - _t(old_lp)
    ratio = log_ratio.exp()
    surr1 = ratio * adv
    surr2 = _clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * adv
    policy_loss = -minimum(surr1, surr2).mean()
    if clip_range_vf is None:
        value_loss = ((values - ret) ** 2).mean()
    else:
        ov = _t(old_v)
        v_clipped = ov + _clamp(values - ov, -clip_range_vf, clip_range_vf)
        value_loss = maximum((values - ret) ** 2, (v_clipped - ret) ** 2).mean()
    entropy_loss = -entropy.mean() if entropy is not None else log_prob.mean()
    loss = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss
    lr_arr, r_arr = log_ratio.array, ratio.array
    parts = {"policy_loss": float(policy_loss.array), "value_loss": float(value_loss.array),
             "entropy_loss": float(entropy_loss.array),
             "approx_kl": float(np.mean((r_arr - 1.0) - lr_arr)),
             "clip_fraction": float(np.mean(np.abs(r_arr - 1.0) > clip_range))}
    return loss, parts


class PPO(OnPolicyAgent):
    """PPO with a clipped surrogate (see the module docstring for the update).

    Args:
        env: a Gymnasium id, env, vector env or env factory (see :class:`lamina.rl.Agent`).
        learning_rate: Adam's step size lr_0 (eps 1e-5, as SB3), decayed linearly when ``anneal_lr``.
        n_steps: steps per environment copy per rollout (T); a rollout holds T·N transitions.
        batch_size: minibatch size; n_epochs: passes over the rollout per iteration.
        gamma, gae_lambda: discount and GAE λ.
        clip_range: ε; ``anneal_clip_range`` decays it linearly like the learning rate.
        clip_range_vf: ε_v for value clipping (None: no clipping).
        normalize_advantage: normalise Â per minibatch (mean 0, std 1, unbiased std as torch).
        ent_coef, vf_coef: c_H and c_V.  max_grad_norm: global gradient-norm clip (None: off).
        target_kl: early stop of the epochs (None: off).
        policy_kwargs: :class:`lamina.rl.policies.ActorCritic` options (hidden, activation, shared,
            squash, log_std_init, ortho_init).
        seed, n_envs, log_interval, verbose, env_kwargs: see :class:`lamina.rl.Agent`.
    """

    algorithm = "ppo"
    action_kind = "any"

    def __init__(self, env, learning_rate: float = 3e-4, n_steps: int = 2048, batch_size: int = 64,
                 n_epochs: int = 10, gamma: float = 0.99, gae_lambda: float = 0.95, clip_range: float = 0.2,
                 clip_range_vf: float | None = None, normalize_advantage: bool = True, ent_coef: float = 0.0,
                 vf_coef: float = 0.5, max_grad_norm: float | None = 0.5, target_kl: float | None = None,
                 anneal_lr: bool = True, anneal_clip_range: bool = False, policy_kwargs: dict | None = None, *,
                 seed: int = 0, n_envs: int = 1, log_interval: int = 1000, verbose: int = 0,
                 env_kwargs: dict | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"PPO: batch_size must be an int >= 1, got {batch_size!r}")
        if isinstance(n_epochs, bool) or not isinstance(n_epochs, (int, np.integer)) or n_epochs < 1:
            raise ValueError(f"PPO: n_epochs must be an int >= 1, got {n_epochs!r}")
        if not clip_range > 0:
            raise ValueError(f"PPO: clip_range must be > 0, got {clip_range!r}")
        if clip_range_vf is not None and not clip_range_vf > 0:
            raise ValueError(f"PPO: clip_range_vf must be > 0 or None, got {clip_range_vf!r}")
        self.batch_size, self.n_epochs = int(batch_size), int(n_epochs)
        self.clip_range = float(clip_range)
        self.clip_range_vf = None if clip_range_vf is None else float(clip_range_vf)
        self.normalize_advantage = bool(normalize_advantage)
        self.ent_coef, self.vf_coef = float(ent_coef), float(vf_coef)
        self.target_kl = None if target_kl is None else float(target_kl)
        self.anneal_clip_range = bool(anneal_clip_range)
        super().__init__(env, n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda, learning_rate=learning_rate,
                         anneal_lr=anneal_lr, max_grad_norm=max_grad_norm, policy_kwargs=policy_kwargs, seed=seed,
                         n_envs=n_envs, log_interval=log_interval, verbose=verbose, env_kwargs=env_kwargs)
        self.config.update(batch_size=self.batch_size, n_epochs=self.n_epochs, clip_range=self.clip_range,
                           clip_range_vf=self.clip_range_vf, normalize_advantage=self.normalize_advantage,
                           ent_coef=self.ent_coef, vf_coef=self.vf_coef, target_kl=self.target_kl,
                           anneal_clip_range=self.anneal_clip_range)

    def _make_optimizer(self):
        return optim.Adam(self.params, lr=self.learning_rate, eps=1e-5)

    def _update(self) -> None:
        buf, pol = self.buffer, self.policy
        self._set_lr()
        clip = self.clip_range * (self._progress_remaining() if self.anneal_clip_range else 1.0)
        obs, acts = buf.flat("obs"), buf.flat("actions")
        old_lp, old_v = buf.flat("log_probs"), buf.flat("values")
        advs, rets = buf.flat("advantages"), buf.flat("returns")
        sums, count, stop = {}, 0, False
        for _ in range(self.n_epochs):
            for idx in buf.minibatches(self.batch_size, self.rng):
                adv = advs[idx]
                if self.normalize_advantage and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
                log_prob, entropy, values = pol.evaluate_actions(_t(obs[idx]), _t(acts[idx]))
                loss, parts = ppo_loss(log_prob, old_lp[idx], adv, values, old_v[idx], rets[idx], entropy, clip,
                                       self.clip_range_vf, self.ent_coef, self.vf_coef)
                if self.target_kl is not None and parts["approx_kl"] > 1.5 * self.target_kl:
                    stop = True
                    break
                self.optimizer.zero_grad()
                loss.backward()
                parts["grad_norm"] = self._clip_and_step()
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
            if stop:
                break
        info = {k: v / max(count, 1) for k, v in sums.items()}
        y, v = buf.returns.ravel(), buf.values.ravel()
        var_y = float(np.var(y))
        info["explained_variance"] = float("nan") if var_y == 0 else 1.0 - float(np.var(y - v)) / var_y
        info["lr"] = self.optimizer.param_groups[0]["lr"]
        info["clip_range"] = clip
        self.train_info = info
