"""lamina.federated.splits (IID / Dirichlet client splits) and lamina.federated.privacy (clipping, RDP accountant).
Neither needs Flower."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lamina.federated import privacy
from lamina.federated.splits import dirichlet_split, iid_split, label_histogram, split_indices


def _is_partition(parts, n):
    allidx = np.concatenate(parts)
    return len(allidx) == n and np.array_equal(np.sort(allidx), np.arange(n)) and all(
        np.all(np.diff(p) > 0) for p in parts)


# ---------------------------------------------------------------- splits
def test_iid_split_partitions_evenly_and_is_seeded():
    parts = iid_split(103, 10, seed=1)
    assert _is_partition(parts, 103)
    assert sorted({len(p) for p in parts}) == [10, 11]
    again = iid_split(103, 10, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = iid_split(103, 10, seed=2)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other))


def test_dirichlet_split_partitions_with_min_size_and_seed():
    y = np.repeat(np.arange(10), 60)
    parts = dirichlet_split(y, 10, alpha=0.5, seed=0, min_size=5)
    assert _is_partition(parts, len(y)) and min(len(p) for p in parts) >= 5
    again = dirichlet_split(y, 10, alpha=0.5, seed=0, min_size=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    assert split_indices(y, 10, 0.5, seed=0, min_size=5)[3].tolist() == parts[3].tolist()
    assert split_indices(y, 4, None, seed=0)[0].tolist() == iid_split(len(y), 4, seed=0)[0].tolist()


def test_dirichlet_alpha_controls_label_skew():
    y = np.repeat(np.arange(10), 200)

    def dominant_share(alpha):
        hist = label_histogram(y, dirichlet_split(y, 10, alpha=alpha, seed=3), 10)
        return float(np.mean(hist.max(axis=1) / hist.sum(axis=1)))

    skewed, mild, iid = dominant_share(0.05), dominant_share(0.5), dominant_share(1000.0)
    assert skewed > 0.6 and iid < 0.2 and skewed > mild > iid


def test_label_histogram_counts():
    y = np.array([0, 1, 1, 2, 2, 2])
    hist = label_histogram(y, [np.array([0, 1]), np.array([2, 3, 4, 5])], 4)
    assert hist.tolist() == [[1, 1, 0, 0], [0, 1, 3, 0]]


@pytest.mark.parametrize("kwargs, match", [
    ({"num_clients": 0}, "num_clients"), ({"num_clients": 50}, "only 20 samples"),
    ({"alpha": 0.0}, "alpha"), ({"alpha": float("nan")}, "alpha"), ({"min_size": 3, "num_clients": 10}, "need"),
])
def test_dirichlet_split_errors(kwargs, match):
    y = np.arange(20) % 2
    args = {"num_clients": 4, "alpha": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        dirichlet_split(y, **args)
    with pytest.raises(ValueError, match="integer classes"):
        dirichlet_split(np.ones((4, 2)), 2, 0.5)


# ---------------------------------------------------------------- clipping
def test_clip_update_scales_to_the_norm_and_keeps_counters():
    old = [np.zeros((2, 2), np.float32), np.zeros(3, np.float64), np.array(7, np.int64)]
    new = [np.full((2, 2), 3.0, np.float32), np.full(3, 4.0), np.array(9, np.int64)]
    norm = math.sqrt(4 * 9 + 3 * 16)
    out, got = privacy.clip_update(new, old, clip=2.0)
    assert got == pytest.approx(norm)
    assert privacy.update_norm(out, old) == pytest.approx(2.0, rel=1e-6)
    assert out[0].dtype == np.float32 and out[2] == 9
    np.testing.assert_allclose(out[1], 4.0 * 2.0 / norm)
    same, _ = privacy.clip_update(new, old, clip=100.0)
    assert all(np.array_equal(a, b) for a, b in zip(same, new))
    with pytest.raises(ValueError, match="positive"):
        privacy.clip_update(new, old, clip=0.0)


# ---------------------------------------------------------------- the accountant
def test_rdp_of_the_gaussian_and_of_the_sampled_gaussian_at_order_2():
    z = 1.3
    np.testing.assert_allclose(privacy.rdp_sampled_gaussian(z, 1.0, [2, 3.5, 8]), np.array([2, 3.5, 8]) / (2 * z * z))
    for q in (0.01, 0.3, 0.9):  # A_2 = 1 + q^2 (e^{1/z^2} - 1): the binomial sum has three terms
        want = math.log1p(q * q * math.expm1(1 / z ** 2))
        assert privacy.rdp_sampled_gaussian(z, q, [2])[0] == pytest.approx(want, rel=1e-12)
    # q -> 1 along the integer orders meets the Gaussian's closed form
    np.testing.assert_allclose(privacy.rdp_sampled_gaussian(z, 1 - 1e-12, [2, 5, 9]), np.array([2, 5, 9]) / (2 * z * z),
                               rtol=1e-6)


def test_epsilon_matches_a_brute_force_minimum_and_is_monotone():
    z, rounds, delta = 1.0, 20, 1e-5
    eps, order = privacy.epsilon(z, 1.0, rounds, delta)
    a = np.linspace(1.01, 60, 200000)
    brute = np.min(rounds * a / (2 * z * z) + np.log((a - 1) / a) - (math.log(delta) + np.log(a)) / (a - 1))
    assert brute <= eps <= brute + 0.05
    classic = np.min(rounds * a / (2 * z * z) + math.log(1 / delta) / (a - 1))
    assert eps <= classic
    assert privacy.epsilon(2.0, 1.0, rounds, delta)[0] < eps < privacy.epsilon(1.0, 1.0, 40, delta)[0]
    assert privacy.epsilon(1.0, 0.1, rounds, delta)[0] < eps
    assert privacy.epsilon(0.0, 1.0, rounds, delta)[0] == math.inf
    assert privacy.epsilon(1.0, 1.0, 0, delta)[0] == 0.0


def test_rdp_accountant_counts_rounds_and_checks_arguments():
    acct = privacy.RDPAccountant(noise_multiplier=1.0, sample_rate=0.5, delta=1e-5)
    assert acct.epsilon() == 0.0
    for _ in range(20):
        acct.step()
    assert acct.rounds == 20 and acct.epsilon() == pytest.approx(privacy.epsilon(1.0, 0.5, 20, 1e-5)[0])
    assert acct.epsilon(delta=1e-3) < acct.epsilon()
    for bad in ({"noise_multiplier": -1, "sample_rate": 1}, {"noise_multiplier": 1, "sample_rate": 0},
                {"noise_multiplier": 1, "sample_rate": 1, "delta": 1.0}):
        with pytest.raises(ValueError):
            privacy.RDPAccountant(**bad)
