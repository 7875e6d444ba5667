"""Shared, cached digits models for the uncertainty tests (trained once per process, seconds)."""
from __future__ import annotations

import functools

import numpy as np

import lamina
from lamina import optim
from lamina.nn import functional as F


@functools.lru_cache(maxsize=1)
def digits():
    """(x_train, y_train, x_val, y_val, x_test, y_test) float32 / int64 arrays."""
    from lamina.data.datasets.digits import load_digits_splits
    out = []
    for ds in load_digits_splits(seed=0):
        x, y = ds.tensors
        out += [x.numpy().astype(np.float32), y.numpy().astype(np.int64)]
    return tuple(out)


def uniform_noise(n, seed=7):
    return np.random.default_rng(seed).random((n, 64)).astype(np.float32)


def train(model, x, y, epochs, lr=1e-3, batch=64, seed=0, loss_fn=None):
    rng = np.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    loss_fn = loss_fn or F.cross_entropy
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss_fn(model(lamina.Tensor(x[idx])), lamina.Tensor(y[idx])).backward()
            opt.step()
    model.eval()
    return model
