"""PGD adversarial training (a reduced benchmarks/robust_digits.py): robust accuracy at eps 0.1
rises well above standard training's; the batch transform only acts on training batches."""
import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets.digits import load_digits_splits
from lamina.robust import AdversarialBatchFn, robust_accuracy
from lamina.train import Trainer


def small_cnn(seed=0):
    lamina.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10))


def test_adversarial_training_raises_robust_accuracy():
    train, _, test = load_digits_splits(seed=0, as_images=True)
    x, y = (t.numpy()[:200] for t in test.tensors)
    results = {}
    for name in ("standard", "adversarial"):
        model = small_cnn()
        adv = AdversarialBatchFn.from_config(model, {"eps": 0.1, "steps": 3}, generator=lamina.Generator().manual_seed(0)) \
            if name == "adversarial" else None
        lamina.manual_seed(0)
        Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2), batch_fn=adv).fit(
            DataLoader(train, batch_size=64, shuffle=True), epochs=6, verbose=False)
        results[name] = robust_accuracy(model, x, y, eps=0.1, steps=10, generator=lamina.Generator().manual_seed(1))
    std, adv = results["standard"], results["adversarial"]
    assert std["clean_accuracy"] > 0.9 and adv["clean_accuracy"] > 0.85, results
    assert adv["robust_accuracy"] - std["robust_accuracy"] >= 0.15, results     # benchmark: +28 points


def test_batch_fn_attacks_only_training_batches_and_checks_its_config():
    model = small_cnn()
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 2, 3])
    fn = AdversarialBatchFn(model, eps=0.1, steps=2, mix=True)
    model.eval()
    assert fn((x, y))[0] is x                                   # eval mode: validation data untouched
    model.train()
    xa, ya = fn((x, y))
    xa, ya = xa.numpy(), ya.numpy()
    assert xa.shape == (8, 1, 8, 8) and list(ya) == [0, 1, 2, 3] * 2
    np.testing.assert_array_equal(xa[:4], x)
    assert 0 < np.abs(xa[4:] - x).max() <= 0.1 + 1e-6 and fn.last_losses.shape == (3,)
    with pytest.raises(ValueError, match="unknown key 'step'.*did you mean 'steps'"):
        AdversarialBatchFn.from_config(model, {"eps": 0.1, "step": 3})
    with pytest.raises(ValueError, match="needs eps"):
        AdversarialBatchFn.from_config(model, {"steps": 3})
