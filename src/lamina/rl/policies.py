"""Actor-critic networks for policy-gradient agents (REINFORCE, A2C, PPO).

An :class:`ActorCritic` holds a policy π(a|s) and a critic V(s), each an MLP over the flattened
observation (separate networks by default, as Stable-Baselines3's ``MlpPolicy``; ``shared=True``
puts both heads on one trunk):

    discrete (gymnasium ``Discrete(n)``):   π(·|s) = Categorical(logits = f_π(s)),  logits (B, n)
    continuous (``Box``, d dims):           u ~ N(μ = f_π(s), σ = exp(log_std)),   log_std a (d,) Parameter
        squash="clip":  a = clip(u, low, high);   log π = Σ_i log N(u_i; μ_i, σ_i)
        squash="tanh":  a = low + (tanh(u) + 1)(high - low) / 2;
                        log π = Σ_i [log N(u_i; μ_i, σ_i) - log(1 - tanh(u_i)²)]   (the constant
                        log((high - low) / 2) is dropped: it cancels in every ratio and gradient)

The buffer stores u (the unsquashed, unclipped sample), so the log-probability is re-evaluated
exactly in the update. Entropy: the categorical's exactly, the Gaussian's Σ_i (½ + log(σ_i √(2π)))
with "clip"; with "tanh" it has no closed form and :meth:`evaluate_actions` returns None (the agents
then use -mean(log π), as Stable-Baselines3 does).

Acting is the hot loop of on-policy RL and its networks are tiny, so :meth:`act` runs the MLP on raw
arrays without building a graph (Linear, Tanh, ReLU and Identity layers run as array code; any
other layer goes through its module under ``no_grad``) and samples with the NumPy
generator it is given, so that a seeded agent repeats exactly.

    >>> pol = ActorCritic(env.single_observation_space, env.single_action_space)
    >>> env_act, act, logp, v = pol.act(obs, rng)            # arrays, (N, ...) each
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..distributions import Categorical, Normal
from ..nn import functional as F
from ..tensor import Tensor

__all__ = ["ActorCritic", "mlp", "action_kind"]

_ACTS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def action_kind(space) -> str:
    """'discrete' for gymnasium's Discrete, 'continuous' for a Box; ValueError for anything else."""
    name = type(space).__name__
    if name == "Discrete" or (hasattr(space, "n") and not hasattr(space, "nvec")
                              and getattr(space, "shape", None) == ()):
        return "discrete"
    if name == "Box" or (hasattr(space, "low") and hasattr(space, "high")):
        return "continuous"
    raise ValueError(f"action space {space!r} is not supported: expected Discrete (categorical policy) "
                     "or Box (Gaussian policy)")


def mlp(in_features: int, hidden, out_features: int | None, activation: str = "tanh") -> nn.Sequential:
    """Linear-activation layers through the ``hidden`` widths, then a Linear to ``out_features``
    (no output layer when None)."""
    if activation not in _ACTS:
        raise ValueError(f"mlp: activation must be one of {sorted(_ACTS)}, got {activation!r}")
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), _ACTS[activation]()]
        width = int(h)
    if out_features is not None:
        layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def _np_forward(module, x: np.ndarray) -> np.ndarray:
    """Run a Sequential of simple layers on a raw array (no graph): the acting fast path."""
    for layer in module:
        if isinstance(layer, nn.Linear):
            x = x @ layer.weight.array.T
            if layer.bias is not None:
                x += layer.bias.array
        elif isinstance(layer, nn.Tanh):
            x = np.tanh(x)
        elif isinstance(layer, nn.ReLU):
            x = np.maximum(x, 0)
        elif isinstance(layer, nn.Identity):
            pass
        else:
            with no_grad():
                x = layer(Tensor._wrap(np.ascontiguousarray(x))).array
    return x


def _log1m_tanh2(u):
    """log(1 - tanh(u)²) = 2 (log 2 - u - softplus(-2u)), stable for large |u| (Tensor or array)."""
    if isinstance(u, Tensor):
        return (math.log(2.0) - u - F.softplus(-2.0 * u)) * 2.0
    return 2.0 * (math.log(2.0) - u - np.logaddexp(0.0, -2.0 * u))


class ActorCritic(nn.Module):
    """Policy and value networks for one observation and action space (see the module docstring).

    Args:
        observation_space: a gymnasium Box (flattened to a vector).
        action_space: Discrete(n) or Box(low, high, (d,)).
        hidden: hidden widths of each MLP (default (64, 64)).
        activation: 'tanh' (default), 'relu', 'elu' or 'leaky_relu'.
        shared: one trunk for both heads instead of two networks.
        squash: 'clip' (default) or 'tanh', for continuous actions.
        log_std_init: initial log σ of the Gaussian policy.
        ortho_init: orthogonal weights (gain √2 hidden, 0.01 policy head, 1 value head), zero biases.
        generator: a ``lamina.Generator`` for the initialisation (default: lamina's default).
    """

    def __init__(self, observation_space, action_space, hidden=(64, 64), activation: str = "tanh",
                 shared: bool = False, squash: str = "clip", log_std_init: float = 0.0,
                 ortho_init: bool = True, generator=None):
        super().__init__()
        self.kind = action_kind(action_space)
        if squash not in ("clip", "tanh"):
            raise ValueError(f"ActorCritic: squash must be 'clip' or 'tanh', got {squash!r}")
        self.squash = squash
        self.obs_shape = tuple(observation_space.shape)
        obs_dim = int(np.prod(self.obs_shape)) if self.obs_shape else 1
        if self.kind == "discrete":
            self.n_actions, self.action_shape = int(action_space.n), ()
            out = self.n_actions
        else:
            self.action_shape = tuple(action_space.shape)
            out = int(np.prod(self.action_shape))
            self.low = np.asarray(action_space.low, dtype=np.float64).reshape(-1)
            self.high = np.asarray(action_space.high, dtype=np.float64).reshape(-1)
            if squash == "tanh" and not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
                raise ValueError("ActorCritic: squash='tanh' needs a bounded action space, got "
                                 f"low={action_space.low}, high={action_space.high}")
        self.shared = bool(shared)
        hidden = tuple(hidden)
        width = hidden[-1] if hidden else obs_dim
        if self.shared:
            self.trunk = mlp(obs_dim, hidden, None, activation)
            self.pi_head, self.vf_head = nn.Linear(width, out), nn.Linear(width, 1)
        else:
            self.pi_net, self.vf_net = mlp(obs_dim, hidden, out, activation), mlp(obs_dim, hidden, 1, activation)
        if self.kind == "continuous":
            from ..ops.creation import full
            self.log_std = nn.Parameter(full((out,), float(log_std_init)))
        if ortho_init:
            self._ortho_init(generator)

    # ------------------------------------------------------------------ construction
    def _ortho_init(self, generator) -> None:
        with no_grad():
            linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
            pi_head = self.pi_head if self.shared else self.pi_net[-1]
            vf_head = self.vf_head if self.shared else self.vf_net[-1]
            for m in linears:
                gain = 0.01 if m is pi_head else 1.0 if m is vf_head else math.sqrt(2.0)
                nn.init.orthogonal_(m.weight, gain=gain, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _flat(self, obs: Tensor) -> Tensor:
        n = obs.ndim - len(self.obs_shape)
        return obs.reshape(*obs.shape[:n], -1) if len(self.obs_shape) != 1 else obs

    # ------------------------------------------------------------------ differentiable path (updates)
    def forward(self, obs: Tensor):
        """(policy output: logits or Gaussian mean (B, n|d), value (B,)) for observations (B, *obs_shape)."""
        x = self._flat(obs)
        if self.shared:
            h = self.trunk(x)
            return self.pi_head(h), self.vf_head(h).squeeze(-1)
        return self.pi_net(x), self.vf_net(x).squeeze(-1)

    def value(self, obs: Tensor) -> Tensor:
        """V(s): (B,)."""
        x = self._flat(obs)
        if self.shared:
            return self.vf_head(self.trunk(x)).squeeze(-1)
        return self.vf_net(x).squeeze(-1)

    def distribution(self, pi_out: Tensor):
        """π(·|s) from the policy output: Categorical(logits) or Normal(μ, exp(log_std)) over u."""
        if self.kind == "discrete":
            return Categorical(logits=pi_out)
        return Normal(pi_out, self.log_std.exp().expand_as(pi_out))

    def evaluate_actions(self, obs: Tensor, actions: Tensor):
        """(log π(a|s) (B,), entropy (B,) or None, V(s) (B,)), differentiable; ``actions`` as stored
        by :meth:`act` (indices, or the unsquashed Gaussian sample u)."""
        pi_out, v = self(obs)
        if self.kind == "discrete":  # Categorical(logits)'s log_prob and entropy, in fewer recorded ops
            logp_all = F.log_softmax(pi_out, dim=-1)
            logp = logp_all.gather(-1, actions.reshape(-1, 1)).reshape(-1)
            return logp, -(logp_all.exp() * logp_all).sum(-1), v
        d = self.distribution(pi_out)
        u = actions.reshape(pi_out.shape)
        logp = d.log_prob(u).sum(-1)
        if self.squash == "tanh":
            return logp - _log1m_tanh2(u).sum(-1), None, v
        return logp, d.entropy().sum(-1), v

    # ------------------------------------------------------------------ array path (acting)
    def _np_outputs(self, obs: np.ndarray, need_value: bool = True):
        x = np.asarray(obs, dtype=self._dtype())
        x = x.reshape(x.shape[0], -1)
        if self.shared:
            h = _np_forward(self.trunk, x)
            pi = _np_forward([self.pi_head], h)
            v = _np_forward([self.vf_head], h)[:, 0] if need_value else None
        else:
            pi = _np_forward(self.pi_net, x)
            v = _np_forward(self.vf_net, x)[:, 0] if need_value else None
        return pi, v

    def _dtype(self):
        return (self.pi_head if self.shared else self.pi_net[0]).weight.array.dtype

    def _to_env(self, u: np.ndarray) -> np.ndarray:
        """The environment's action from the Gaussian sample u (clip or tanh-squash into [low, high])."""
        if self.squash == "tanh":
            a = self.low + (np.tanh(u) + 1.0) * (0.5 * (self.high - self.low))
        else:
            a = np.clip(u, self.low, self.high)
        return a.astype(np.float32).reshape(u.shape[0], *self.action_shape)

    def act(self, obs: np.ndarray, rng: np.random.Generator | None = None, deterministic: bool = False):
        """Sample actions for a batch of observations (N, *obs_shape), on raw arrays, no graph.

        Returns ``(env_actions, actions, log_probs, values)``: what to pass to ``env.step``; what
        to store (indices, or the unsquashed Gaussian sample); log π(a|s) (N,); V(s) (N,).
        ``deterministic`` takes the mode (argmax, or the squashed/clipped mean).
        """
        pi, v = self._np_outputs(obs)
        if self.kind == "discrete":
            z = pi - pi.max(-1, keepdims=True)
            logp_all = z - np.log(np.exp(z).sum(-1, keepdims=True))
            if deterministic:
                a = logp_all.argmax(-1)
            else:
                cdf = np.cumsum(np.exp(logp_all), axis=-1)
                u = rng.random((pi.shape[0], 1)) * cdf[:, -1:]
                a = np.minimum((u >= cdf).sum(-1), self.n_actions - 1)
            a = a.astype(np.int64)
            logp = np.take_along_axis(logp_all, a[:, None], -1)[:, 0]
            return a, a, logp, v
        log_std = self.log_std.array
        u = pi if deterministic else pi + np.exp(log_std) * rng.standard_normal(pi.shape).astype(pi.dtype)
        z = (u - pi) * np.exp(-log_std)
        logp = (-0.5 * z * z - log_std - _LOG_SQRT_2PI).sum(-1)
        if self.squash == "tanh":
            logp = logp - _log1m_tanh2(u).sum(-1)
        return self._to_env(u), u.astype(pi.dtype), logp, v

    def predict_values(self, obs: np.ndarray) -> np.ndarray:
        """V(s) (N,) on raw arrays, no graph."""
        x = np.asarray(obs, dtype=self._dtype())
        x = x.reshape(x.shape[0], -1)
        if self.shared:
            return _np_forward([self.vf_head], _np_forward(self.trunk, x))[:, 0]
        return _np_forward(self.vf_net, x)[:, 0]
