"""SAC: the temperature loss and squashed log-density by hand and against PyTorch, one update's
pieces, and learning a one-step control task in seconds."""
import math

import gymnasium as gym
import numpy as np
import pytest

import lamina
from lamina.rl import SAC, temperature_loss
from lamina.rl.sac import squashed_log_prob_array


def test_temperature_loss_value_and_gradient_by_hand():
    log_alpha = lamina.nn.Parameter(lamina.tensor([math.log(0.5)]))
    log_prob = np.array([-0.2, 0.4, -1.1], dtype=np.float32)
    target = -1.0
    loss = temperature_loss(log_alpha, log_prob, target)
    # L = -mean(log_alpha * (log_prob + H)) = -log(0.5) * mean([-1.2, -0.6, -2.1]) = -log(0.5) * -1.3
    assert float(loss.item()) == pytest.approx(math.log(0.5) * 1.3, rel=1e-6)
    loss.backward()
    # dL/dlog_alpha = -mean(log_prob + H) = 1.3 > 0: entropy below target -> gradient descent raises alpha
    np.testing.assert_allclose(log_alpha.grad.numpy(), [1.3], rtol=1e-6)
    # log_prob is treated as a constant (no gradient flows into the policy through this loss)
    lp = lamina.tensor(log_prob, requires_grad=True)
    temperature_loss(log_alpha, lp, target).backward()
    assert lp.grad is None


def test_squashed_gaussian_log_prob_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((5, 2))
    log_std = rng.uniform(-1.5, 0.5, (5, 2))
    eps = rng.standard_normal((5, 2))
    u = mu + np.exp(log_std) * eps
    ours = squashed_log_prob_array(eps, log_std, u)
    base = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(log_std)))
    squashed = torch.distributions.TransformedDistribution(base, [torch.distributions.TanhTransform()])
    ref = squashed.log_prob(torch.tanh(torch.tensor(u))).sum(-1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)
    # the stable form stays finite where tanh(u) rounds to +-1
    big = squashed_log_prob_array(np.array([[0.0]]), np.array([[0.0]]), np.array([[30.0]]))
    assert np.isfinite(big).all()


def test_sac_update_pieces():
    agent = SAC("Pendulum-v1", seed=0, hidden=(8,), learning_starts=20, batch_size=8, init_alpha=0.3)
    assert agent.hp["target_entropy"] == -1.0 and agent.alpha == pytest.approx(0.3)
    # the policy's deterministic action is tanh(mu) rescaled to [-2, 2]
    obs = np.array([[1.0, 0.0, 0.5]], dtype=np.float32)
    mu, _ = agent.actor.forward_array(obs)
    np.testing.assert_allclose(agent.predict(obs), 2.0 * np.tanh(mu), rtol=1e-6)
    critic_before = [p.detach().numpy().copy() for p in agent.critic.parameters()]
    target_before = [p.detach().numpy().copy() for p in agent.critic_target.parameters()]
    agent.learn(21)                       # exactly one gradient step
    assert agent.n_updates == 1
    # Polyak: theta_bar' = 0.005 theta' + 0.995 theta_bar
    for tb, t_new, tgt in zip(target_before, agent.critic.parameters(), agent.critic_target.parameters()):
        np.testing.assert_allclose(tgt.array, 0.005 * t_new.array + 0.995 * tb, rtol=1e-5, atol=1e-7)
    assert any(not np.array_equal(a, b.array) for a, b in zip(critic_before, agent.critic.parameters()))
    assert agent.alpha != pytest.approx(0.3, abs=1e-7)     # the temperature moved
    assert set(agent.train_info) >= {"critic_loss", "actor_loss", "alpha", "entropy"}


class _Target(gym.Env):
    """One-step task: observe x ~ U[-1, 1], act a in [-1, 1], reward -(a - x/2)^2."""
    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, {}

    def step(self, a):
        r = -float((a[0] - self.x[0] / 2) ** 2)
        return self.x, r, True, False, {}


def test_sac_learns_a_one_step_control_task_quickly():
    agent = SAC(_Target, seed=0, hidden=(16, 16), learning_starts=50, batch_size=32, learning_rate=1e-2,
                init_alpha=0.05)
    grid = np.linspace(-1, 1, 21, dtype=np.float32)[:, None]
    err0 = np.abs(agent.predict(grid) - grid / 2).mean()
    agent.learn(250)
    err = np.abs(agent.predict(grid) - grid / 2).mean()
    assert err < 0.1 and err < err0 / 2, (err0, err)
    mean, _ = agent.evaluate(_Target, episodes=20)
    assert mean > -0.02


def test_action_space_checks():
    with pytest.raises(ValueError, match="SAC needs a continuous action space.*CartPole-v1 has discrete"):
        SAC("CartPole-v1")
    from lamina.rl import DQN
    with pytest.raises(ValueError, match="DQN needs a discrete action space.*Pendulum-v1 has continuous"):
        DQN("Pendulum-v1")
