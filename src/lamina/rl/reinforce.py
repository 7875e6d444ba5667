"""REINFORCE (Williams, 1992) with a learned baseline, on vector envs.

Each iteration collects T steps in N environment copies and computes the discounted return of
every step, G_t = r_t + γ (1 - done_t) G_{t+1} (a truncated episode adds γ V(final_obs); an
episode still running when the batch ends is completed with the baseline's V(s_T): set
``n_steps`` to the episode length for pure Monte-Carlo returns). With the baseline b(s) = V_φ(s)
(a separate network) and Â = G - b(s) (normalised when ``normalize_advantage``), one gradient
step on all T·N transitions:

    L_π = -mean( Â log π_θ(a|s) )          (∇_θ: the score-function estimate of ∇ E[G])
    L_b = mean( (V_φ(s) - G)² )             (the baseline regresses the return)
    L_H = -mean( H[π_θ(·|s)] )
    loss = L_π + c_b L_b + c_H L_H;   Adam step (θ and φ are disjoint, so each gets its own gradient)

``baseline=False`` drops the baseline (Â = G). This is GAE with λ = 1 (see :mod:`lamina.rl.gae`).

    >>> agent = REINFORCE("CartPole-v1", n_envs=8, n_steps=200, seed=0).learn(200_000)
"""
from __future__ import annotations

from .. import optim
from .a2c import _t, a2c_loss
from .rollout import OnPolicyAgent

__all__ = ["REINFORCE"]


class REINFORCE(OnPolicyAgent):
    """REINFORCE with a value baseline (see the module docstring for the update).

    Args:
        env: a Gymnasium id, env, vector env or env factory (see :class:`lamina.rl.Agent`).
        learning_rate: Adam's step size (decayed linearly to 0 when ``anneal_lr``).
        n_steps: steps per environment copy per update (T).
        gamma: discount.  baseline: learn V_φ and subtract it.
        baseline_coef: c_b.  ent_coef: c_H.  normalize_advantage: normalise Â over the batch.
        max_grad_norm: global gradient-norm clip (None: off).
        policy_kwargs: :class:`lamina.rl.policies.ActorCritic` options (``shared`` must stay False).
        seed, n_envs, log_interval, verbose, env_kwargs: see :class:`lamina.rl.Agent`.
    """

    algorithm = "reinforce"
    action_kind = "any"

    def __init__(self, env, learning_rate: float = 1e-3, n_steps: int = 200, gamma: float = 0.99,
                 baseline: bool = True, baseline_coef: float = 0.5, ent_coef: float = 0.0,
                 normalize_advantage: bool = True, max_grad_norm: float | None = None, anneal_lr: bool = False,
                 policy_kwargs: dict | None = None, *, seed: int = 0, n_envs: int = 1, log_interval: int = 1000,
                 verbose: int = 0, env_kwargs: dict | None = None):
        if (policy_kwargs or {}).get("shared"):
            raise ValueError("REINFORCE: the baseline must be a separate network (policy_kwargs shared=False)")
        self.baseline, self.baseline_coef = bool(baseline), float(baseline_coef)
        self.ent_coef, self.normalize_advantage = float(ent_coef), bool(normalize_advantage)
        super().__init__(env, n_steps=n_steps, gamma=gamma, gae_lambda=1.0, learning_rate=learning_rate,
                         anneal_lr=anneal_lr, max_grad_norm=max_grad_norm, policy_kwargs=policy_kwargs, seed=seed,
                         n_envs=n_envs, log_interval=log_interval, verbose=verbose, env_kwargs=env_kwargs)
        self.config.pop("gae_lambda", None)
        self.config.update(baseline=self.baseline, baseline_coef=self.baseline_coef, ent_coef=self.ent_coef,
                           normalize_advantage=self.normalize_advantage)

    def _make_optimizer(self):
        return optim.Adam(self.params, lr=self.learning_rate)

    def _update(self) -> None:
        buf = self.buffer
        self._set_lr()
        returns = buf.flat("returns")  # G_t (GAE with λ = 1 gives A = G - V, so R = A + V = G)
        adv = returns - buf.flat("values") if self.baseline else returns.copy()
        if self.normalize_advantage and adv.size > 1:
            adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
        log_prob, entropy, values = self.policy.evaluate_actions(_t(buf.flat("obs")), _t(buf.flat("actions")))
        coef = self.baseline_coef if self.baseline else 0.0
        loss, parts = a2c_loss(log_prob, adv, values, returns, entropy, self.ent_coef, coef)
        self.optimizer.zero_grad()
        loss.backward()
        parts["grad_norm"] = self._clip_and_step()
        parts["lr"] = self.optimizer.param_groups[0]["lr"]
        parts["baseline_loss"] = parts.pop("value_loss")
        self.train_info = parts
