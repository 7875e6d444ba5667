"""FGSM / PGD on a small digits CNN (inputs in [0, 1]): budgets, clamping, accuracy collapse at
eps 0.3 with a loss that rises at every step, targeted attacks, FGSM parity with PyTorch."""
import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets.digits import load_digits_splits
from lamina.robust import AdversarialBatchFn, fgsm, pgd, predict_labels, robust_accuracy
from lamina.train import Trainer


def small_cnn(seed=0):
    lamina.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10))


@pytest.fixture(scope="module")
def digits():
    train, _, test = load_digits_splits(seed=0, as_images=True)
    return train, tuple(t.numpy() for t in test.tensors)


@pytest.fixture(scope="module")
def trained(digits):
    model = small_cnn()
    lamina.manual_seed(0)
    Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2)).fit(
        DataLoader(digits[0], batch_size=64, shuffle=True), epochs=6, verbose=False)
    return model


def test_pgd_eps_0_3_drops_accuracy_below_10_percent_with_a_rising_loss(trained, digits):
    x, y = digits[1]
    assert (predict_labels(trained, x) == y).mean() > 0.9
    res = pgd(trained, x, y, eps=0.3, steps=10, generator=lamina.Generator().manual_seed(0))
    assert isinstance(res.inputs, np.ndarray) and res.inputs.shape == x.shape and res.losses.shape == (11,)
    assert (predict_labels(trained, res.inputs) == y).mean() < 0.10
    assert np.all(np.diff(res.losses) > 0), res.losses
    assert np.abs(res.inputs - x).max() <= 0.3 + 1e-6
    assert res.inputs.min() >= 0.0 and res.inputs.max() <= 1.0


def test_l2_budget_clamp_and_random_start(trained, digits):
    x, y = digits[1][0][:64], digits[1][1][:64]
    res = pgd(trained, x, y, eps=1.0, steps=5, norm="l2", generator=lamina.Generator().manual_seed(1))
    norms = np.sqrt(((res.inputs - x) ** 2).reshape(64, -1).sum(1))
    assert norms.max() <= 1.0 + 1e-5 and norms.mean() > 0.5
    assert res.inputs.min() >= 0 and res.inputs.max() <= 1
    assert res.losses[-1] > res.losses[0]
    again = pgd(trained, x, y, eps=1.0, steps=5, norm="l2", generator=lamina.Generator().manual_seed(1))
    other = pgd(trained, x, y, eps=1.0, steps=5, norm="l2", generator=lamina.Generator().manual_seed(2))
    np.testing.assert_array_equal(res.inputs, again.inputs)
    assert not np.array_equal(res.inputs, other.inputs)
    free = pgd(trained, x, y, eps=0.5, steps=3, clamp=None, random_start=False)
    assert free.inputs.min() < 0 or free.inputs.max() > 1          # unclamped steps leave [0, 1]


def test_targeted_attack_moves_predictions_to_the_targets(trained, digits):
    x, y = digits[1][0][:100], digits[1][1][:100]
    targets = (y + 1) % 10
    res = pgd(trained, x, y, eps=0.3, steps=10, targeted=True, targets=targets,
              generator=lamina.Generator().manual_seed(0))
    assert (predict_labels(trained, res.inputs) == targets).mean() > 0.8
    assert res.losses[-1] > res.losses[0]              # -CE(targets) rises
    with pytest.raises(ValueError, match="needs targets"):
        pgd(trained, x, y, eps=0.1, targeted=True)


def test_attack_leaves_parameters_and_mode_alone(trained, digits):
    x, y = digits[1][0][:8], digits[1][1][:8]
    trained.train()
    for p in trained.parameters():
        p.grad = None
    pgd(trained, x, y, eps=0.1, steps=2)
    assert trained.training and all(p.grad is None and p.requires_grad for p in trained.parameters())
    trained.eval()
    with pytest.raises(ValueError, match="norm must be 'linf' or 'l2'"):
        pgd(trained, x, y, eps=0.1, norm="l3")
    with pytest.raises(ValueError, match="8 integer class labels"):
        pgd(trained, x, y[:4], eps=0.1)


def test_fgsm_equals_pytorch(trained, digits):
    torch = pytest.importorskip("torch")
    x, y = digits[1][0][:16].astype(np.float64), digits[1][1][:16]
    model = small_cnn()
    model.load_state_dict(trained.state_dict())
    model.double()
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                             torch.nn.Flatten(), torch.nn.Linear(128, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    tm.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    tm.double()
    tx = torch.from_numpy(x).requires_grad_(True)
    torch.nn.functional.cross_entropy(tm(tx), torch.from_numpy(y), reduction="sum").backward()
    for norm in ("linf", "l2"):
        g = tx.grad.numpy()
        step = np.sign(g) if norm == "linf" else g / np.sqrt((g ** 2).reshape(16, -1).sum(1)).reshape(16, 1, 1, 1)
        ref = np.clip(x + 0.2 * step, 0, 1)
        res = fgsm(model, x, y, eps=0.2, norm=norm)
        np.testing.assert_allclose(res.inputs, ref, atol=1e-12)


def test_robust_accuracy_reports_clean_and_attacked(trained, digits):
    x, y = digits[1][0][:120], digits[1][1][:120]
    r = robust_accuracy(trained, x, y, eps=0.3, attack="fgsm", batch_size=50)
    assert r["n"] == 120 and r["clean_accuracy"] > 0.85 and r["robust_accuracy"] < r["clean_accuracy"] - 0.3
    with pytest.raises(ValueError, match="attack must be one of pgd, fgsm"):
        robust_accuracy(trained, x, y, attack="cw")
