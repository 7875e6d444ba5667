"""End to end: data augmentation helps when data is scarce.

The same MLP (64 -> 256 -> 10, Adam) is trained on 100 digits (10 per class) with and without
augmentation of the training data only (small random rotations, shears, scalings and one-pixel
translations via RandomAffine, plus Gaussian noise, applied per batch by TransformDataset), and
both are tested on the 1697 other digits. Averaged over 3 seeds, augmentation gains about 2.7
accuracy points (89.5% -> 92.2% when this test was written); every seed gains.
"""
from __future__ import annotations

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, train_val_test_split
from lamina.data.transforms import Compose
from lamina.data.vision_transforms import GaussianNoise, RandomAffine, TransformDataset
from lamina.models import MLP

pytest.importorskip("sklearn")
from lamina.data.datasets.digits import load_digits  # noqa: E402

N_TRAIN, STEPS = 100, 800  # (plain: 400 epochs of 2 batches; augmented: twice as many, it sees new images)


def train_and_test(seed: int, train, test, augment) -> float:
    lamina.manual_seed(seed)
    model = MLP(64, [256], 10)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    data = train if augment is None else TransformDataset(train, augment)
    loader = DataLoader(data, batch_size=50, shuffle=True)
    epochs = STEPS // len(loader) * (1 if augment is None else 2)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    model.eval()
    x_test, y_test = test.tensors
    with lamina.no_grad():
        pred = model(x_test).numpy().argmax(1)
    return float((pred == y_test.numpy()).mean())


def test_augmentation_beats_no_augmentation_on_100_digits():
    x, y = load_digits(as_images=True, as_numpy=True)
    train, _, test = train_val_test_split((x, y), val_fraction=0.0, test_fraction=1 - N_TRAIN / len(y), seed=0,
                                          stratify=y)
    assert len(train) in (99, 100, 101) and np.all(np.bincount(train.tensors[1].numpy()) >= 9)
    augment = Compose([RandomAffine(degrees=10, translate=(0.125, 0.125), shear=(-10, 10), scale=(0.9, 1.1),
                                    interpolation="bilinear"),
                       GaussianNoise(0.1)])
    plain = np.array([train_and_test(s, train, test, None) for s in range(3)])
    augmented = np.array([train_and_test(s, train, test, augment) for s in range(3)])
    gain = augmented - plain
    assert plain.mean() > 0.85  # both actually learn
    assert np.all(gain > 0.005), f"plain {plain}, augmented {augmented}"
    assert gain.mean() > 0.02, f"mean gain {gain.mean():.4f} (plain {plain}, augmented {augmented})"
