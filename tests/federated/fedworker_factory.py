"""A client factory for the federated tests (``run_processes`` and ``simulate`` build the same clients
from it): a linear classifier on a small synthetic 3-class problem, client i holding rows i::N."""
from __future__ import annotations

import numpy as np


def data(n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    w = rng.standard_normal((8, 3)).astype(np.float32)
    return x, (x @ w).argmax(axis=1).astype(np.int64)


def model(seed: int = 0):
    import lamina
    from lamina import nn
    lamina.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def trainer(m, lr: float = 0.1):
    from lamina import optim
    from lamina.train import Trainer
    return Trainer(m, "cross_entropy", optim.SGD(m.parameters(), lr=lr, momentum=0.9), metrics=["accuracy"])


def build_client(client_index: int, num_clients: int, local_epochs: int = 1, batch_size: int = 16):
    from lamina.federated import LaminaClient
    x, y = data()
    idx = np.arange(client_index, len(x), num_clients)
    return LaminaClient(trainer(model(100 + client_index)), (x[idx], y[idx]), local_epochs=local_epochs,
                        batch_size=batch_size, seed=7 + client_index, client_id=client_index)
