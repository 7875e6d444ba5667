"""Shared helpers of the Trainer tests: tiny problems, weight snapshots, an event-file reader."""
import struct

import numpy as np

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, TensorDataset
from lamina.train import Trainer


def blobs(n=96, d=6, classes=3, seed=0, dtype=np.float32):
    """A small, learnable classification problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.standard_normal((classes, d)) * 2.0
    x = (centers[y] + rng.standard_normal((n, d))).astype(dtype)
    return x, y.astype(np.int64)


def loader(x, y, batch_size=16, shuffle=False, **kw):
    return DataLoader(TensorDataset(lamina.tensor(x), lamina.tensor(y)), batch_size=batch_size, shuffle=shuffle, **kw)


def mlp(d=6, classes=3, hidden=16, dropout=0.0, seed=0):
    lamina.manual_seed(seed)
    layers = [nn.Linear(d, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, classes))
    return nn.Sequential(*layers)


def make_trainer(model=None, lr=1e-2, opt="adam", **kw):
    model = model if model is not None else mlp()
    o = optim.Adam(model.parameters(), lr=lr) if opt == "adam" else optim.SGD(model.parameters(), lr=lr)
    return Trainer(model, nn.CrossEntropyLoss(), o, **kw)


def weights(model) -> dict:
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def read_events(path):
    """Every Event in a TensorBoard event file (TFRecord framing: len u64, crc u32, data, crc u32)."""
    from tensorboardX.proto import event_pb2

    events = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack("<Q", data[pos:pos + 8])
        pos += 12
        events.append(event_pb2.Event.FromString(data[pos:pos + n]))
        pos += n + 4
    return events
