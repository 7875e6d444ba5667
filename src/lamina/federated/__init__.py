"""lamina.federated: federated learning with Flower around any lamina model and Trainer.

    from lamina.federated import LaminaClient, make_strategy, dirichlet_split, simulate
    parts = dirichlet_split(y_train, num_clients=10, alpha=0.5, seed=0)       # non-IID shares
    clients = {str(i): LaminaClient(make_trainer(), (x_train[p], y_train[p]), client_id=i)
               for i, p in enumerate(parts)}
    strategy = make_strategy("fedavg", num_clients=10, initial_parameters=get_parameters(model),
                             evaluate_fn=server_evaluate)
    result = simulate(clients.__getitem__, 10, strategy, rounds=20)
    result.rounds[-1]["accuracy"]

Modules: ``client`` (LaminaClient: Flower NumPyClient; FedProx's ProximalTerm), ``strategies``
(Flower's FedAvg / FedProx, DP wrapper), ``splits`` (IID and Dirichlet non-IID), ``privacy``
(update clipping, the RDP accountant's epsilon), ``simulation`` (in-process or real processes on
127.0.0.1). The command line: ``lamina federate CONFIG --clients 10 --rounds 20 --alpha 0.5``.
``splits`` and ``privacy`` need only NumPy; the rest need Flower (pip install 'lamina[federated]').
"""
from __future__ import annotations

from .privacy import RDPAccountant, clip_update, epsilon
from .splits import dirichlet_split, iid_split, label_histogram, split_indices

__all__ = ["RDPAccountant", "clip_update", "epsilon", "dirichlet_split", "iid_split", "label_histogram",
           "split_indices", "LaminaClient", "ProximalTerm", "get_parameters", "set_parameters", "make_strategy",
           "simulate", "run_processes", "FederatedResult"]

_LAZY = {"LaminaClient": "client", "ProximalTerm": "client", "get_parameters": "client", "set_parameters": "client",
         "make_strategy": "strategies", "simulate": "simulation", "run_processes": "simulation",
         "FederatedResult": "simulation"}


def __getattr__(name):  # Flower is imported only when a name that needs it is used
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'lamina.federated' has no attribute {name!r}")
