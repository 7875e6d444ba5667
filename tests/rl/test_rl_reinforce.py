"""REINFORCE with a baseline: Monte-Carlo returns of a real rollout, the baseline's role, quick
learning on CartPole."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from lamina.rl import REINFORCE  # noqa: E402
from lamina.rl.gae import discounted_returns  # noqa: E402


def test_reinforce_returns_are_discounted_monte_carlo():
    from lamina.rl import StopAtStep
    agent = REINFORCE("CartPole-v1", n_envs=2, n_steps=60, gamma=0.9, seed=0)
    agent.learn(1000, callback=StopAtStep(120))      # stops with the first rollout full, before its update
    buf = agent.buffer
    assert buf.full and agent.n_updates == 0
    last = agent.policy.predict_values(agent._obs)
    buf.compute_returns(last, agent.gamma, agent.gae_lambda)
    g = discounted_returns(buf.rewards, buf.terminated, buf.truncated, last, 0.9, buf.final_values)
    np.testing.assert_allclose(buf.returns, g, rtol=1e-5, atol=1e-5)
    t, i = np.argwhere(buf.terminated)[0]      # CartPole: reward 1 per step, nothing after the pole falls
    assert buf.returns[t, i] == pytest.approx(1.0)
    assert buf.returns[t - 1, i] == pytest.approx(1.0 + 0.9)
    assert buf.returns[t - 2, i] == pytest.approx(1.0 + 0.9 + 0.81)


def test_reinforce_without_baseline_leaves_the_value_net_alone():
    agent = REINFORCE("CartPole-v1", n_envs=2, n_steps=50, baseline=False, seed=0)
    before = [p.detach().numpy().copy() for p in agent.policy.vf_net.parameters()]
    pi_before = [p.detach().numpy().copy() for p in agent.policy.pi_net.parameters()]
    agent.learn(200)
    assert agent.n_updates == 2 and "baseline_loss" in agent.train_info
    for a, p in zip(before, agent.policy.vf_net.parameters()):
        assert np.array_equal(a, p.detach().numpy())
    assert any(not np.array_equal(a, p.detach().numpy()) for a, p in zip(pi_before, agent.policy.pi_net.parameters()))


def test_reinforce_rejects_shared_trunk():
    with pytest.raises(ValueError, match="separate network"):
        REINFORCE("CartPole-v1", policy_kwargs={"shared": True})


def test_reinforce_learns_cartpole_quickly():
    agent = REINFORCE("CartPole-v1", n_envs=8, n_steps=100, learning_rate=5e-3, seed=0)
    agent.learn(12000)
    mean, _ = agent.evaluate("CartPole-v1", episodes=5)
    assert mean > 150                                      # ~10-40 before training
