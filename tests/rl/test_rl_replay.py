"""Replay buffers: wrap-around, uniform sampling, prioritised probabilities/weights, state round trip."""
import io as pyio

import numpy as np
import pytest

pytest.importorskip("gymnasium")

import lamina
from lamina.rl.replay import PrioritizedReplayBuffer, ReplayBuffer


def _fill(buf, values, n_envs=1):
    """Transition t has obs = [t, -t], action t % 2, reward t, next_obs = obs + 100, done t % 3 == 0."""
    for start in range(0, len(values), n_envs):
        t = np.asarray(values[start:start + n_envs], dtype=np.float32)
        obs = np.stack([t, -t], axis=1)
        buf.add(obs, (t % 2).astype(np.int64), t, obs + 100, (t % 3 == 0).astype(np.float32))


def test_wrap_around_overwrites_oldest():
    buf = ReplayBuffer(3, (2,))
    _fill(buf, [0, 1, 2, 3, 4])
    # slots: t0->0, t1->1, t2->2, t3->0, t4->1
    assert len(buf) == 3 and buf.pos == 2
    np.testing.assert_array_equal(buf.rewards, [3, 4, 2])
    np.testing.assert_array_equal(buf.obs[:, 0], [3, 4, 2])
    np.testing.assert_array_equal(buf.next_obs[:, 1], [97, 96, 98])
    np.testing.assert_array_equal(buf.actions, [1, 0, 0])
    np.testing.assert_array_equal(buf.dones, [1, 0, 0])


def test_multi_env_add_wraps_across_the_end():
    buf = ReplayBuffer(4, (2,))
    _fill(buf, [0, 1, 2])            # pos 3
    _fill(buf, [10, 11], n_envs=2)   # slots 3 and 0
    np.testing.assert_array_equal(buf.rewards, [11, 1, 2, 10])
    assert buf.pos == 1 and len(buf) == 4
    with pytest.raises(ValueError, match="capacity"):
        _fill(ReplayBuffer(2, (2,)), [0, 1, 2], n_envs=3)


def test_uniform_sample_indices_and_contents():
    buf = ReplayBuffer(8, (2,))
    _fill(buf, list(range(5)))
    b = buf.sample(6, np.random.Generator(np.random.PCG64(7)))
    expect = np.random.Generator(np.random.PCG64(7)).integers(0, 5, size=6)   # only the filled part
    np.testing.assert_array_equal(b.indices, expect)
    np.testing.assert_array_equal(b.rewards, expect.astype(np.float32))
    np.testing.assert_array_equal(b.obs[:, 1], -expect)
    np.testing.assert_array_equal(b.next_obs, b.obs + 100)
    assert b.weights is None
    # after wrapping, every slot is eligible and frequencies are uniform
    _fill(buf, list(range(5, 12)))
    idx = buf.sample(40_000, np.random.Generator(np.random.PCG64(0))).indices
    freq = np.bincount(idx, minlength=8) / len(idx)
    np.testing.assert_allclose(freq, np.full(8, 1 / 8), atol=0.01)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(2, (1,)).sample(1, np.random.default_rng(0))


def test_prioritized_probabilities_find_and_weights():
    buf = PrioritizedReplayBuffer(4, (2,), alpha=1.0, eps=0.0)
    _fill(buf, [0, 1, 2, 3])
    np.testing.assert_allclose(buf.probabilities(), [0.25] * 4)      # new items: max priority (1)
    buf.update_priorities(np.arange(4), np.array([1.0, -2.0, 3.0, 4.0]))   # p = |delta|
    np.testing.assert_allclose(buf.total, 10.0)
    np.testing.assert_allclose(buf.probabilities(), [0.1, 0.2, 0.3, 0.4])
    # prefix sums: [0, 1) -> 0, [1, 3) -> 1, [3, 6) -> 2, [6, 10) -> 3
    np.testing.assert_array_equal(buf.find([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99]), [0, 0, 1, 1, 2, 2, 3, 3])
    # stratified: one draw per quarter of the mass, u = (i + U_i) * 10 / 4
    rng_u = np.random.Generator(np.random.PCG64(3)).random(4)
    b = buf.sample(4, np.random.Generator(np.random.PCG64(3)), beta=0.5)
    np.testing.assert_array_equal(b.indices, buf.find((np.arange(4) + rng_u) * 2.5))
    # w_i = (N P_i)^-beta / max_j w_j over the batch
    w = (4 * np.array([0.1, 0.2, 0.3, 0.4])[b.indices]) ** -0.5
    np.testing.assert_allclose(b.weights, w / w.max(), rtol=1e-6)
    # hand-computed case: the batch covering all four
    full = (4 * np.array([0.1, 0.2, 0.3, 0.4])) ** -0.5
    np.testing.assert_allclose(full / full.max(), [1.0, 0.70710678, 0.57735027, 0.5], rtol=1e-6)
    # a new transition gets the largest priority seen (4)
    _fill(buf, [4])
    np.testing.assert_allclose(buf.probabilities(), [4 / 13, 2 / 13, 3 / 13, 4 / 13])


def test_prioritized_alpha_and_sampling_frequencies():
    buf = PrioritizedReplayBuffer(6, (2,), alpha=0.5, eps=0.0)
    _fill(buf, list(range(3)))
    buf.update_priorities([0, 1, 2], [1.0, 4.0, 9.0])
    p = np.array([1.0, 2.0, 3.0]) / 6.0      # sqrt(p) / sum sqrt(p)
    np.testing.assert_allclose(buf.probabilities(), p)
    rng = np.random.Generator(np.random.PCG64(1))
    idx = np.concatenate([buf.sample(50, rng).indices for _ in range(400)])
    np.testing.assert_allclose(np.bincount(idx, minlength=3) / len(idx), p, atol=0.01)
    # duplicates in an update: the last write wins and the tree stays consistent
    buf.update_priorities([1, 1], [1.0, 16.0])
    np.testing.assert_allclose(buf.total, 1 + 4 + 3)


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_state_dict_round_trip_through_a_file(cls):
    buf = cls(5, (2,))
    _fill(buf, list(range(7)))
    if cls is PrioritizedReplayBuffer:
        buf.update_priorities([0, 3], [0.5, 2.5])
    f = pyio.BytesIO()
    lamina.save(buf.state_dict(), f)
    f.seek(0)
    other = cls(5, (2,))
    other.load_state_dict(lamina.load(f))
    for k in ("obs", "next_obs", "actions", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(other, k), getattr(buf, k))
    assert (other.pos, other.size) == (buf.pos, buf.size)
    if cls is PrioritizedReplayBuffer:
        np.testing.assert_array_equal(other.tree, buf.tree)    # bitwise: same sums
        assert other.max_priority == buf.max_priority
    with pytest.raises(ValueError, match="capacity"):
        cls(6, (2,)).load_state_dict(buf.state_dict())
