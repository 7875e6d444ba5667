"""End to end: a small CNN trained on the 8x8 scikit-learn digits (1x8x8 images) reaches >= 98%
test accuracy on a stratified 20% test split (359 images), seeded: Adam with a one-cycle schedule,
10 epochs of 45 batches."""
from __future__ import annotations

import time

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.nn.layers.conv import Conv2d
from lamina.nn.layers.pooling import MaxPool2d

pytest.importorskip("sklearn")
from lamina.data.datasets.digits import load_digits_splits  # noqa: E402


def small_cnn() -> nn.Module:
    """conv 1->32 3x3 pad 1, ReLU, conv 32->64 3x3 pad 1, ReLU, maxpool 2, dropout, linear 1024 -> 10."""
    return nn.Sequential(Conv2d(1, 32, 3, padding=1), nn.ReLU(), Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                         MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(64 * 4 * 4, 10))


def accuracy(model, x, y) -> float:
    model.eval()
    with lamina.no_grad():
        pred = model(x).detach().numpy().argmax(1)
    model.train()
    return float((pred == y.numpy()).mean())


def test_small_cnn_reaches_98_percent_on_digits():
    train, _, test = load_digits_splits(val_fraction=0.0, test_fraction=0.2, seed=0, as_images=True)
    x_test, y_test = test.tensors
    assert x_test.shape[1:] == (1, 8, 8) and 355 <= len(test) <= 365
    lamina.manual_seed(0)
    model = small_cnn()
    loader = DataLoader(train, batch_size=32, shuffle=True)
    epochs = 10  # seeds 0-3 all end between 98.3% and 98.9% (353-355 of 359)
    opt = optim.Adam(model.parameters(), lr=4e-3)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=epochs * len(loader))
    start = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
    elapsed = time.perf_counter() - start
    acc = accuracy(model, x_test, y_test)
    assert np.isfinite(loss.item())
    assert acc >= 0.98, f"test accuracy {acc:.4f} after {elapsed:.1f}s of training"
