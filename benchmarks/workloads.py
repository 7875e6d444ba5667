"""The benchmark workloads of DESIGN.md, built the same way in lamina and in PyTorch.

Each builder returns a ``step()`` callable that runs one training step (forward, backward,
optimizer update) on a fixed random batch. A workload that lamina cannot build yet raises
``NotAvailable`` and the runner reports it as skipped.
"""
from __future__ import annotations

import os

import numpy as np


class NotAvailable(Exception):
    """The workload needs layers that this version of lamina does not have yet."""


def _mlp_batch(batch=128, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((batch, 784)).astype(np.float32)
    y = r.integers(0, 10, batch).astype(np.int64)
    return x, y


# ---------------------------------------------------------------- mlp
def mlp_lamina():
    import lamina
    from lamina import nn, optim

    x, y = _mlp_batch()
    x, y = lamina.tensor(x), lamina.tensor(y)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def mlp_torch():
    import torch

    x, y = _mlp_batch()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def mlp_numpy():
    """A hand-written NumPy MLP step with an in-place Adam: the floor lamina is held to."""
    x, y = _mlp_batch()
    r = np.random.default_rng(1)
    sizes = [(784, 512), (512, 512), (512, 10)]
    params = []
    for fi, fo in sizes:
        bound = 1 / np.sqrt(fi)
        params += [r.uniform(-bound, bound, (fi, fo)).astype(np.float32), np.zeros(fo, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0]
    onehot = np.eye(10, dtype=np.float32)[y]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h1 = np.maximum(x @ w1 + b1, 0)
        h2 = np.maximum(h1 @ w2 + b2, 0)
        z = h2 @ w3 + b3
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        dz = (p - onehot) / len(y)
        g3, gb3 = h2.T @ dz, dz.sum(0)
        dh2 = (dz @ w3.T) * (h2 > 0)
        g2, gb2 = h1.T @ dh2, dh2.sum(0)
        dh1 = (dh2 @ w2.T) * (h1 > 0)
        g1, gb1 = x.T @ dh1, dh1.sum(0)
        t[0] += 1
        b1c, b2c = 1 - 0.9 ** t[0], 1 - 0.999 ** t[0]
        for prm, g, mm, vv in zip(params, [g1, gb1, g2, gb2, g3, gb3], m, v):
            mm *= 0.9
            mm += 0.1 * g
            vv *= 0.999
            vv += 0.001 * g * g
            denom = np.sqrt(vv) / np.sqrt(b2c) + 1e-8
            prm -= (1e-3 / b1c) * mm / denom

    return step


# ---------------------------------------------------------------- lstm
def _lstm_batch(batch=32, seq=64, vocab=96, seed=0):
    r = np.random.default_rng(seed)
    x = r.integers(0, vocab, (batch, seq)).astype(np.int64)
    y = r.integers(0, vocab, (batch, seq)).astype(np.int64)
    return x, y


def lstm_lamina():
    import lamina
    from lamina import nn, optim

    x, y = _lstm_batch()
    x, y = lamina.tensor(x), lamina.tensor(y).reshape(-1)
    emb, rnn, head = nn.Embedding(96, 64), nn.LSTM(64, 256, batch_first=True), nn.Linear(256, 96)
    params = list(emb.parameters()) + list(rnn.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad()
        out, _ = rnn(emb(x))
        loss = nn.functional.cross_entropy(head(out).reshape(-1, 96), y)
        loss.backward()
        opt.step()
        return loss

    return step


def lstm_torch():
    import torch

    x, y = _lstm_batch()
    x, y = torch.from_numpy(x), torch.from_numpy(y).reshape(-1)
    emb, rnn, head = torch.nn.Embedding(96, 64), torch.nn.LSTM(64, 256, batch_first=True), torch.nn.Linear(256, 96)
    params = list(emb.parameters()) + list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad()
        out, _ = rnn(emb(x))
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, 96), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _from_models(module: str, name: str):
    """A workload builder from the model files beside this one (``models_vision.py``,
    ``models_gpt.py``). Their PyTorch builders import only torch, so the process that times
    PyTorch never imports lamina (the runner checks this)."""
    def build():
        import importlib

        return getattr(importlib.import_module(module), name)()

    return build


WORKLOADS = {
    "mlp": {"lamina": mlp_lamina, "torch": mlp_torch, "numpy": mlp_numpy},
    "cnn": {"lamina": _from_models("models_vision", "cnn_lamina"), "torch": _from_models("models_vision", "cnn_torch")},
    "resnet": {"lamina": _from_models("models_vision", "resnet_lamina"), "torch": _from_models("models_vision", "resnet_torch")},
    "gpt": {"lamina": _from_models("models_gpt", "gpt_lamina"), "torch": _from_models("models_gpt", "gpt_torch")},
    "lstm": {"lamina": lstm_lamina, "torch": lstm_torch},
}
