"""Differential privacy for federated averaging (user-level DP-FedAvg, McMahan et al. 2018).

Each sampled client clips its model update to L2 norm ``C`` (``clip_update``, done on lamina's side
in the client: what Flower's ``fixedclipping_mod`` does for a ClientApp), the server averages the
clipped updates *unweighted* over the m sampled clients and adds Gaussian noise N(0, (z C / m)^2)
per coordinate: Flower's ``DifferentialPrivacyClientSideFixedClipping`` strategy wrapper
(``strategies.make_strategy(dp_clip=C, dp_noise=z)``). One client's whole data moves the sum by at
most C, so each round is a Gaussian mechanism with noise multiplier z on a sample of the clients.

The privacy spent is counted by the Renyi-DP (moments) accountant written here, since Flower
reports none: ``RDPAccountant`` / ``epsilon``.

    RDP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019, integer orders a >= 2):
        A_a = sum_{k=0..a} C(a, k) (1 - q)^(a - k) q^k exp((k^2 - k) / (2 z^2)),  RDP(a) = log(A_a) / (a - 1)
    (q = 1: RDP(a) = a / (2 z^2), exactly the Gaussian mechanism; fractional orders used then)
    T rounds compose additively: T * RDP(a).
    RDP -> (eps, delta) (Balle et al. 2020; Canonne, Kamath & Steinke 2020):
        eps = min_a  T RDP(a) + log((a - 1) / a) - (log(delta) + log(a)) / (a - 1)

Assumption, stated as in TF Privacy's DP-FedAvg: the analysis treats the per-round client sample
as Poisson sampling with rate q = fraction of clients; Flower samples a fixed number m = q N of
clients without replacement, for which this is the standard approximation (exact for q = 1).

    acct = RDPAccountant(noise_multiplier=1.0, sample_rate=1.0, delta=1e-5)
    for _ in range(20): acct.step()
    acct.epsilon()        # 30.1: the (eps, 1e-5)-DP guarantee of each client after 20 rounds
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["RDPAccountant", "clip_update", "epsilon", "rdp_sampled_gaussian", "update_norm"]

INTEGER_ORDERS = tuple(range(2, 257))
FINE_ORDERS = tuple(np.concatenate([1 + np.arange(1, 100) / 100, np.arange(2, 12, 0.25), np.arange(12, 257)]).tolist())


def update_norm(new: list, old: list) -> float:
    """The L2 norm of the update ``new - old`` over every floating-point array (integer counters skipped)."""
    total = 0.0
    for a, b in zip(new, old):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f":
            total += float(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.sqrt(total)


def clip_update(new: list, old: list, clip: float) -> tuple:
    """``(clipped arrays, norm before clipping)``: ``old + (new - old) * min(1, clip / ||new - old||)``.

    The norm is over all floating arrays together (the whole model update as one vector); integer
    arrays (BatchNorm's ``num_batches_tracked``) pass through unchanged.
    """
    if not clip > 0:
        raise ValueError(f"clip_update: the clipping norm must be positive, got {clip!r}")
    if len(new) != len(old):
        raise ValueError(f"clip_update: {len(new)} new arrays but {len(old)} old ones")
    norm = update_norm(new, old)
    scale = min(1.0, float(clip) / norm) if norm > 0 else 1.0
    out = []
    for a, b in zip(new, old):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f" and scale < 1.0:
            a = (b + (a - b) * a.dtype.type(scale)).astype(a.dtype)
        out.append(a)
    return out, norm


def _log_binom(n: int, k: np.ndarray) -> np.ndarray:
    return math.lgamma(n + 1) - np.array([math.lgamma(i + 1) + math.lgamma(n - i + 1) for i in k])


def rdp_sampled_gaussian(noise_multiplier: float, sample_rate: float, orders) -> np.ndarray:
    """RDP(a) of one round of the sampled Gaussian mechanism at each order ``a`` (see the module docstring)."""
    z, q = float(noise_multiplier), float(sample_rate)
    if not 0 < q <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
    orders = np.asarray(orders, dtype=np.float64)
    if z <= 0:
        return np.full(orders.shape, np.inf)
    if q == 1.0:
        return orders / (2 * z * z)
    out = np.empty(orders.shape)
    for i, a in enumerate(orders):
        if a != int(a) or a < 2:
            raise ValueError(f"rdp_sampled_gaussian: with sample_rate < 1 the orders must be integers >= 2, got {a}")
        a = int(a)
        k = np.arange(a + 1)
        terms = _log_binom(a, k) + (a - k) * math.log1p(-q) + k * math.log(q) + (k * k - k) / (2 * z * z)
        m = terms.max()
        out[i] = (m + math.log(np.exp(terms - m).sum())) / (a - 1)
    return out


def epsilon(noise_multiplier: float, sample_rate: float, rounds: int, delta: float) -> tuple:
    """``(eps, best order)`` of ``rounds`` rounds of the sampled Gaussian mechanism at ``delta``."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if rounds <= 0:
        return 0.0, None
    orders = np.asarray(FINE_ORDERS if float(sample_rate) == 1.0 else INTEGER_ORDERS, dtype=np.float64)
    rdp = rounds * rdp_sampled_gaussian(noise_multiplier, sample_rate, orders)
    with np.errstate(invalid="ignore"):
        eps = rdp + np.log((orders - 1) / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    if not np.isfinite(eps).any():
        return math.inf, None
    i = int(np.nanargmin(eps))
    return max(0.0, float(eps[i])), float(orders[i])


class RDPAccountant:
    """Counts the privacy spent by DP-FedAvg rounds: ``step()`` once per round, ``epsilon()`` at ``delta``.

    Args:
        noise_multiplier: z, the noise std divided by the clipping norm (on the sum of updates).
        sample_rate: q, the fraction of clients sampled each round.
        delta: the delta of the (eps, delta) guarantee (well below 1 / number of clients).
    """

    def __init__(self, noise_multiplier: float, sample_rate: float, delta: float = 1e-5):
        if not noise_multiplier >= 0:
            raise ValueError(f"RDPAccountant: noise_multiplier must be >= 0, got {noise_multiplier}")
        if not 0 < sample_rate <= 1:
            raise ValueError(f"RDPAccountant: sample_rate must be in (0, 1], got {sample_rate}")
        if not 0 < delta < 1:
            raise ValueError(f"RDPAccountant: delta must be in (0, 1), got {delta}")
        self.noise_multiplier, self.sample_rate, self.delta = float(noise_multiplier), float(sample_rate), float(delta)
        self.rounds = 0

    def step(self, rounds: int = 1) -> None:
        self.rounds += int(rounds)

    def epsilon(self, delta: float | None = None) -> float:
        return epsilon(self.noise_multiplier, self.sample_rate, self.rounds,
                       self.delta if delta is None else delta)[0]

    def __repr__(self):
        return (f"RDPAccountant(noise_multiplier={self.noise_multiplier}, sample_rate={self.sample_rate}, "
                f"delta={self.delta}, rounds={self.rounds})")
