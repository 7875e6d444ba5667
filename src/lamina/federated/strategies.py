"""Server strategies: Flower's FedAvg and FedProx, optionally wrapped for differential privacy.

    strategy = make_strategy("fedavg", num_clients=10, initial_parameters=get_parameters(model),
                             evaluate_fn=server_evaluate, local_epochs=2)
    strategy = make_strategy("fedprox", num_clients=10, proximal_mu=0.01, ...)
    strategy = make_strategy("fedavg", num_clients=10, dp_clip=1.0, dp_noise=0.8, ...)

FedAvg (McMahan et al. 2017): w <- sum_k (n_k / n) w_k over the sampled clients k.
FedProx (Li et al. 2020): the same aggregation; Flower's ``FedProx`` sends ``proximal_mu`` and each
lamina client minimises loss + mu/2 ||w - w_global||^2 (``client.ProximalTerm``).
DP (``dp_clip`` C and ``dp_noise`` z): Flower's ``DifferentialPrivacyClientSideFixedClipping``
adds N(0, (z C / m)^2) to the average of the m sampled clients' updates, which the clients have
clipped to norm C; the clients then report ``num_examples = 1`` (``uniform_weights``), so the
average is unweighted, as the sensitivity C / m assumes (``lamina.federated.privacy``).

Results are handed to the aggregation ordered by client id (``client_id`` in the fit metrics):
the float sum, and so the global model, does not depend on which client answered first.
"""
from __future__ import annotations

from ._flwr import flwr

__all__ = ["STRATEGIES", "OrderedResults", "make_strategy", "num_sampled", "weighted_metrics"]

STRATEGIES = ("fedavg", "fedprox")


def weighted_metrics(results) -> dict:
    """Aggregate the clients' fit/evaluate metrics: each numeric metric averaged, weighted by examples
    (the client's true count, ``num_examples`` in its metrics, when the strategy weights uniformly)."""
    totals, weights = {}, {}
    for n, metrics in results:
        w = metrics.get("num_examples", n)
        for k, v in metrics.items():
            if k in ("client_id", "num_examples") or not isinstance(v, (int, float)):
                continue
            totals[k] = totals.get(k, 0.0) + float(v) * w
            weights[k] = weights.get(k, 0.0) + w
    out = {k: totals[k] / weights[k] for k in totals if weights[k]}
    out["clients"] = len(results)
    return out


def num_sampled(num_clients: int, fraction: float) -> int:
    """How many of ``num_clients`` FedAvg samples per round at ``fraction`` (at least one)."""
    return max(1, int(num_clients * fraction))


def _key(item):
    proxy, res = item
    return (res.metrics.get("client_id", 0), str(proxy.cid)) if hasattr(res, "metrics") else (0, str(proxy.cid))


class OrderedResults(flwr.server.strategy.Strategy):
    """A strategy wrapper handing results to ``strategy`` sorted by client id (reproducible float sums)."""

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

    def __repr__(self):
        return f"OrderedResults({self.strategy!r})"

    def initialize_parameters(self, client_manager):
        return self.strategy.initialize_parameters(client_manager)

    def configure_fit(self, server_round, parameters, client_manager):
        return self.strategy.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round, results, failures):
        return self.strategy.aggregate_fit(server_round, sorted(results, key=_key), failures)

    def configure_evaluate(self, server_round, parameters, client_manager):
        return self.strategy.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round, results, failures):
        return self.strategy.aggregate_evaluate(server_round, sorted(results, key=_key), failures)

    def evaluate(self, server_round, parameters):
        return self.strategy.evaluate(server_round, parameters)


def make_strategy(name: str = "fedavg", *, num_clients: int, initial_parameters=None, evaluate_fn=None,
                  fraction: float = 1.0, fraction_evaluate: float = 0.0, local_epochs: int = 1,
                  proximal_mu: float = 0.0, dp_clip: float | None = None, dp_noise: float | None = None):
    """A Flower strategy for ``num_clients`` clients.

    Args:
        name: 'fedavg' or 'fedprox'.
        initial_parameters: the global model's starting weights (list of arrays); None asks a client.
        evaluate_fn: Flower's centralised evaluation ``(round, weights, config) -> (loss, metrics)``.
        fraction: fraction of clients sampled for training each round (at least one).
        fraction_evaluate: fraction sampled for federated evaluation on their own data (0: none).
        local_epochs: sent to the clients in the fit config.
        proximal_mu: FedProx's mu (name='fedprox'; must be > 0 there).
        dp_clip, dp_noise: the clipping norm C and the noise multiplier z of DP-FedAvg (both or neither).
    """
    key = str(name).lower()
    if key not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if isinstance(num_clients, bool) or not isinstance(num_clients, int) or num_clients < 1:
        raise ValueError(f"num_clients must be a positive integer, got {num_clients!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if not 0 <= fraction_evaluate <= 1:
        raise ValueError(f"fraction_evaluate must be in [0, 1], got {fraction_evaluate}")
    if (dp_clip is None) != (dp_noise is None):
        raise ValueError("differential privacy needs both the clipping norm (dp_clip) and the noise multiplier "
                         f"(dp_noise); got dp_clip={dp_clip}, dp_noise={dp_noise}")
    if dp_clip is not None and not (dp_clip > 0 and dp_noise >= 0):
        raise ValueError(f"dp_clip must be > 0 and dp_noise >= 0, got dp_clip={dp_clip}, dp_noise={dp_noise}")
    if key == "fedprox" and not proximal_mu > 0:
        raise ValueError(f"fedprox needs proximal_mu > 0, got {proximal_mu}")
    if key == "fedavg" and proximal_mu:
        raise ValueError("proximal_mu is FedProx's: use name='fedprox'")
    dp = dp_clip is not None
    m = num_sampled(num_clients, fraction)

    def fit_config(server_round: int) -> dict:
        cfg = {"server_round": int(server_round), "local_epochs": int(local_epochs)}
        if dp:
            cfg["uniform_weights"] = True
        return cfg

    common = dict(fraction_fit=float(fraction), fraction_evaluate=float(fraction_evaluate), min_fit_clients=m,
                  min_evaluate_clients=max(1, int(num_clients * fraction_evaluate)), min_available_clients=num_clients,
                  evaluate_fn=evaluate_fn, on_fit_config_fn=fit_config, on_evaluate_config_fn=fit_config,
                  fit_metrics_aggregation_fn=weighted_metrics, evaluate_metrics_aggregation_fn=weighted_metrics,
                  initial_parameters=(None if initial_parameters is None
                                      else flwr.common.ndarrays_to_parameters(list(initial_parameters))))
    S = flwr.server.strategy
    strategy = S.FedProx(proximal_mu=float(proximal_mu), **common) if key == "fedprox" else S.FedAvg(**common)
    strategy = OrderedResults(strategy)
    if dp:
        strategy = S.DifferentialPrivacyClientSideFixedClipping(strategy, noise_multiplier=float(dp_noise),
                                                                  clipping_norm=float(dp_clip), num_sampled_clients=m)
    return strategy
