"""Generalised advantage estimation: hand-computed trajectories, truncation bootstrapping, and
parity with Stable-Baselines3's buffer (the field's reference) on a random rollout."""
import numpy as np
import pytest

pytest.importorskip("gymnasium")

from lamina.rl.gae import compute_gae, discounted_returns  # noqa: E402
from lamina.rl.rollout import RolloutBuffer  # noqa: E402


def _three_envs():
    """The same 3-step trajectory in three copies: no episode end / terminated at t=1 / truncated at t=1."""
    r = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])
    v = np.array([[0.5, 0.5, 0.5], [1.0, 1.0, 1.0], [1.5, 1.5, 1.5]])
    term = np.zeros((3, 3), bool)
    trunc = np.zeros((3, 3), bool)
    term[1, 1] = True
    trunc[1, 2] = True
    final = np.zeros((3, 3))
    final[1, 2] = 4.0          # V(final_obs) of the truncated episode
    final[1, 1] = 100.0        # ignored: a terminated episode never bootstraps
    return r, v, term, trunc, np.full(3, 2.0), final


def test_gae_hand_computed():
    r, v, term, trunc, last, final = _three_envs()
    adv, ret = compute_gae(r, v, term, trunc, last, gamma=0.5, gae_lambda=0.5, final_values=final)
    # no done:     d2 = 3 + .5*2 - 1.5 = 2.5;  d1 = 2 + .5*1.5 - 1 = 1.75;  d0 = 1 + .5*1 - .5 = 1
    #              A2 = 2.5, A1 = 1.75 + .25*2.5 = 2.375, A0 = 1 + .25*2.375 = 1.59375
    # terminated:  d1 = 2 - 1 = 1 (no bootstrap, no carry): A1 = 1, A0 = 1 + .25*1 = 1.25
    # truncated:   d1 = 2 + .5*4 - 1 = 3 (bootstrap from V(final_obs)): A1 = 3, A0 = 1 + .25*3 = 1.75
    expected = np.array([[1.59375, 1.25, 1.75], [2.375, 1.0, 3.0], [2.5, 2.5, 2.5]])
    np.testing.assert_allclose(adv, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ret, expected + v, rtol=0, atol=1e-12)


def test_gae_terminated_and_truncated_together_is_terminal():
    r, v, term, trunc, last, final = _three_envs()
    trunc[1, 1] = True  # terminated wins: a real end of the episode, nothing to bootstrap
    adv, _ = compute_gae(r, v, term, trunc, last, gamma=0.5, gae_lambda=0.5, final_values=final)
    np.testing.assert_allclose(adv[:, 1], [1.25, 1.0, 2.5])


def test_gae_without_final_values_does_not_bootstrap_truncation():
    r, v, term, trunc, last, _ = _three_envs()
    adv, _ = compute_gae(r, v, term, trunc, last, gamma=0.5, gae_lambda=0.5)
    np.testing.assert_allclose(adv[:, 2], adv[:, 1])  # truncation then behaves like termination


def test_gae_lambda_limits():
    rng = np.random.default_rng(1)
    r, v = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    done = np.zeros((6, 2), bool)
    done[2, 0] = True
    last = rng.normal(size=2)
    adv0, _ = compute_gae(r, v, done, np.zeros_like(done), last, gamma=0.9, gae_lambda=0.0)
    nxt = np.vstack([v[1:], last[None]])
    np.testing.assert_allclose(adv0, r + 0.9 * (1 - done) * nxt - v, atol=1e-12)  # λ = 0: the TD error
    adv1, ret1 = compute_gae(r, v, done, np.zeros_like(done), last, gamma=0.9, gae_lambda=1.0)
    g = discounted_returns(r, done, np.zeros_like(done), last, gamma=0.9)
    np.testing.assert_allclose(ret1, g, atol=1e-12)                # λ = 1: Monte-Carlo returns
    np.testing.assert_allclose(adv1, g - v, atol=1e-12)
    # brute force for env 1 (no episode end): G_t = sum_k γ^k r_{t+k} + γ^(T-t) V(s_T)
    brute = [sum(0.9 ** (k - t) * r[k, 1] for k in range(t, 6)) + 0.9 ** (6 - t) * last[1] for t in range(6)]
    np.testing.assert_allclose(g[:, 1], brute, atol=1e-12)


def test_gae_matches_stable_baselines3():
    sb3 = pytest.importorskip("stable_baselines3.common.buffers")
    import gymnasium as gym
    T, N, gamma, lam = 16, 4, 0.97, 0.9
    rng = np.random.default_rng(0)
    r = rng.normal(size=(T, N)).astype(np.float32)
    v = rng.normal(size=(T, N)).astype(np.float32)
    term = rng.random((T, N)) < 0.1
    trunc = (rng.random((T, N)) < 0.1) & ~term
    final = rng.normal(size=(T, N)).astype(np.float32)
    last = rng.normal(size=N).astype(np.float32)
    adv, ret = compute_gae(r, v, term, trunc, last, gamma, lam, final_values=final)

    import torch
    buf = sb3.RolloutBuffer(T, gym.spaces.Box(-1, 1, (1,)), gym.spaces.Discrete(2), device="cpu",
                            gae_lambda=lam, gamma=gamma, n_envs=N)
    done_prev = np.zeros(N, bool)
    for t in range(T):  # SB3 adds γ V(final_obs) to the reward of a truncated step
        reward = r[t] + gamma * final[t] * trunc[t]
        buf.add(np.zeros((N, 1), np.float32), np.zeros((N, 1)), reward, done_prev.astype(np.float32),
                torch.tensor(v[t]), torch.zeros(N))
        done_prev = term[t] | trunc[t]
    buf.compute_returns_and_advantage(torch.tensor(last), done_prev.astype(np.float32))
    np.testing.assert_allclose(adv, buf.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, buf.returns, rtol=1e-5, atol=1e-5)


def test_gae_bad_input():
    r = np.zeros((3, 2))
    with pytest.raises(ValueError, match="values has shape"):
        compute_gae(r, np.zeros((3, 3)), r > 0, r > 0, np.zeros(2))
    with pytest.raises(ValueError, match="last_values"):
        compute_gae(r, r, r > 0, r > 0, np.zeros(3))
    with pytest.raises(ValueError, match="gamma"):
        compute_gae(r, r, r > 0, r > 0, np.zeros(2), gamma=1.5)
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        compute_gae(np.zeros((3, 2, 1)), r, r > 0, r > 0, np.zeros(2))


def test_rollout_buffer_fill_compute_and_minibatches():
    buf = RolloutBuffer(3, 3, obs_shape=(2,), action_shape=())
    r, v, term, trunc, last, final = _three_envs()
    for t in range(3):
        buf.add(np.full((3, 2), t), np.array([0, 1, t]), np.zeros(3), v[t], r[t], term[t], trunc[t], final[t])
    with pytest.raises(RuntimeError, match="full"):
        buf.add(np.zeros((3, 2)), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), term[0], trunc[0])
    buf.compute_returns(last, gamma=0.5, gae_lambda=0.5)
    np.testing.assert_allclose(buf.advantages[:, 0], [1.59375, 2.375, 2.5])
    assert buf.flat("obs").shape == (9, 2) and buf.flat("actions")[5] == 1   # (t=1, env=2)
    batches = buf.minibatches(4, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(9))
    state = buf.state_dict()
    other = RolloutBuffer(3, 3, obs_shape=(2,), action_shape=())
    other.load_state_dict(state)
    assert other.pos == 3 and np.array_equal(other.advantages, buf.advantages)
    buf.reset()
    assert buf.pos == 0 and not buf.full
    with pytest.raises(RuntimeError, match="full rollout"):
        buf.compute_returns(last, 0.5, 0.5)
