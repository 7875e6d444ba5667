"""MC dropout, deep ensembles and the entropy decomposition."""
import numpy as np
import pytest
from unc_common import digits, train, uniform_noise

import lamina
from lamina import io, nn
from lamina.data import DataLoader, TensorDataset
from lamina.models.mlp import MLP
from lamina.uncertainty import (DeepEnsemble, auroc, dropout_layers, entropy, mc_dropout, mc_dropout_predict,
                                summarize_classification, summarize_regression, train_ensemble)


def _probs(rng, shape):
    z = rng.standard_normal(shape) * 2
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------------ the decomposition
def test_summarize_classification_matches_definitions():
    rng = np.random.default_rng(0)
    p = _probs(rng, (6, 5, 4))
    r = summarize_classification(p, return_samples=True)
    mean = p.mean(0)
    np.testing.assert_allclose(r.mean, mean)
    np.testing.assert_allclose(r.predictive_entropy, -(mean * np.log(mean)).sum(-1))
    np.testing.assert_allclose(r.expected_entropy, (-(p * np.log(p)).sum(-1)).mean(0))
    np.testing.assert_allclose(r.mutual_information, r.predictive_entropy - r.expected_entropy, atol=1e-12)
    assert (r.mutual_information >= 0).all()
    np.testing.assert_allclose(r.variance, p.var(0))
    assert r.samples.shape == (6, 5, 4)
    # identical samples: no epistemic part
    same = summarize_classification(np.repeat(p[:1], 4, axis=0))
    np.testing.assert_allclose(same.mutual_information, 0, atol=1e-12)
    # 0 log 0 = 0
    assert entropy(np.array([[1.0, 0.0]]))[0] == 0.0
    with pytest.raises(ValueError, match=r"\(T, N, C\)"):
        summarize_classification(p[0])


def test_summarize_regression_total_variance():
    rng = np.random.default_rng(1)
    m, lv = rng.standard_normal((5, 7, 2)), rng.standard_normal((5, 7, 2))
    r = summarize_regression(m, lv)
    np.testing.assert_allclose(r.epistemic_variance, m.var(0))
    np.testing.assert_allclose(r.aleatoric_variance, np.exp(lv).mean(0))
    np.testing.assert_allclose(r.variance, m.var(0) + np.exp(lv).mean(0))
    np.testing.assert_allclose(summarize_regression(m).variance, m.var(0))


# ------------------------------------------------------------------ MC dropout
class _ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop2d = nn.Dropout2d(0.2)
        self.fc = nn.Linear(4 * 8 * 8, 10)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        h = self.drop2d(self.bn(self.conv(x)).relu())
        return self.fc(self.drop(h.flatten(1)))


def test_mc_dropout_turns_on_only_dropout_and_restores_modes():
    model = _ConvNet()
    model.train()
    model.bn.training = True
    seen = {}
    with mc_dropout(model):
        seen = {name: m.training for name, m in model.named_modules()}
    assert seen["drop"] and seen["drop2d"]
    assert not seen["bn"] and not seen["conv"] and not seen[""]
    assert all(m.training for m in model.modules())  # restored
    assert [n for n, _ in dropout_layers(model)] == ["drop2d", "drop"]


def test_mc_dropout_batchnorm_stats_untouched_and_samples_vary():
    lamina.manual_seed(0)
    model = _ConvNet()
    x = np.random.default_rng(0).random((8, 1, 8, 8)).astype(np.float32)
    model.train()
    model(lamina.Tensor(x))  # give BN non-trivial running stats
    model.eval()
    mean_before = model.bn.running_mean.numpy().copy()
    r = mc_dropout_predict(model, x, samples=5, return_samples=True)
    np.testing.assert_array_equal(model.bn.running_mean.numpy(), mean_before)
    assert r.samples.shape == (5, 8, 10)
    assert np.abs(np.diff(r.samples, axis=0)).max() > 1e-4  # different masks per sample
    assert not model.training


def test_batched_and_looped_passes_agree_in_distribution():
    """Batched passes (inputs repeated T times, one mask per row) and T separate forwards are the
    same random experiment: their averages and mutual information agree for large T."""
    lamina.manual_seed(1)
    model = MLP(64, [64], 10, dropout=0.5)
    x = np.random.default_rng(0).random((40, 64)).astype(np.float32)
    with lamina.no_grad():
        det = model.eval()(lamina.Tensor(x)).numpy()
    ra = mc_dropout_predict(model, x, samples=200, batched=True)
    rb = mc_dropout_predict(model, x, samples=200, batched=False)
    # the MC average approaches the deterministic (weight-scaled) prediction's neighbourhood
    pa, pb = ra.mean, rb.mean
    assert np.abs(pa - pb).max() < 0.1
    assert abs(ra.mutual_information.mean() - rb.mutual_information.mean()) < 0.25 * rb.mutual_information.mean()
    assert (ra.mean.argmax(1) == det.argmax(1)).mean() > 0.8
    # chunking over max_rows gives the same shapes
    rc = mc_dropout_predict(model, x, samples=7, max_rows=30)
    assert rc.mean.shape == (40, 10)


def test_mc_dropout_accepts_loader_and_tensor():
    model = MLP(64, [16], 3, dropout=0.2)
    x = np.random.default_rng(0).random((10, 64)).astype(np.float32)
    loader = DataLoader(TensorDataset(lamina.Tensor(x), lamina.Tensor(np.zeros(10, np.int64))), batch_size=4)
    r = mc_dropout_predict(model, loader, samples=3)
    assert r.mean.shape == (10, 3)
    assert mc_dropout_predict(model, lamina.Tensor(x), samples=3).mean.shape == (10, 3)
    with pytest.raises(TypeError, match="Tensor, a NumPy array or a DataLoader"):
        mc_dropout_predict(model, [[0.0] * 64], samples=3)
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        mc_dropout_predict(model, x, samples=0)


def test_mc_dropout_regression_variance():
    lamina.manual_seed(2)
    model = MLP(3, [32], 2, dropout=0.3)
    x = np.random.default_rng(0).random((9, 3)).astype(np.float32)
    r = mc_dropout_predict(model, x, samples=10, task="regression", return_samples=True)
    np.testing.assert_allclose(r.variance, r.samples.var(0))
    np.testing.assert_allclose(r.mean, r.samples.mean(0))
    assert (r.variance > 0).all() and r.mean.shape == (9, 2)


def test_model_without_dropout_is_a_clear_value_error():
    with pytest.raises(ValueError, match="MC dropout needs dropout layers.*MLP"):
        mc_dropout_predict(MLP(64, [16], 10), np.zeros((2, 64), np.float32))
    with pytest.raises(ValueError, match="p=0"):
        mc_dropout_predict(nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.0)), np.zeros((2, 4), np.float32))


# ------------------------------------------------------------------ ensembles
def test_ensemble_forward_is_log_of_averaged_probabilities_and_differentiable():
    lamina.manual_seed(3)
    members = [MLP(5, [8], 4) for _ in range(3)]
    ens = DeepEnsemble(members)
    x = lamina.randn(6, 5)
    out = ens(x)
    with lamina.no_grad():
        probs = np.stack([m(x).softmax(-1).numpy() for m in members])
    np.testing.assert_allclose(out.exp().detach().numpy(), probs.mean(0), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in ens.parameters())
    r = ens.predict(x.numpy(), return_samples=True)
    np.testing.assert_allclose(r.samples, probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.variance, probs.var(0), atol=1e-6)
    assert list(ens.state_dict())[0].startswith("members.0.")
    reg = DeepEnsemble(members, task="regression")
    with lamina.no_grad():
        np.testing.assert_allclose(reg(x).numpy(), np.mean([m(x).numpy() for m in members], 0), rtol=1e-5, atol=1e-6)


def test_ensemble_errors():
    with pytest.raises(ValueError, match="at least one model"):
        DeepEnsemble([])
    with pytest.raises(TypeError, match="member 1 must be a lamina Module"):
        DeepEnsemble([MLP(2, [2], 2), "model"])
    with pytest.raises(ValueError, match="task must be"):
        DeepEnsemble([MLP(2, [2], 2)], task="ranking")


def test_ensemble_from_checkpoints(tmp_path):
    lamina.manual_seed(4)
    members = [MLP(5, [8], 3) for _ in range(2)]
    paths = []
    for i, m in enumerate(members):
        p = tmp_path / f"m{i}.safetensors"
        # one plain weight file and one training-state style file with a 'model' entry
        io.save(m.state_dict() if i == 0 else {"model": m.state_dict(), "epoch": 3}, str(p))
        paths.append(p)
    ens = DeepEnsemble.from_checkpoints(paths, lambda: MLP(5, [8], 3))
    x = lamina.randn(4, 5)
    with lamina.no_grad():
        for a, b in zip(ens.members, members):
            np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    with pytest.raises(ValueError, match="no checkpoint paths"):
        DeepEnsemble.from_checkpoints([], lambda: MLP(5, [8], 3))


def test_train_ensemble_seeds_members_differently():
    calls = []
    ens = train_ensemble(lambda: MLP(4, [4], 2), lambda m, i: calls.append(i), n_members=3, seed=10)
    assert calls == [0, 1, 2] and len(ens) == 3
    w = [m[0].weight.detach().numpy() for m in ens.members]
    assert not np.allclose(w[0], w[1])
    again = train_ensemble(lambda: MLP(4, [4], 2), lambda m, i: None, n_members=1, seed=10)
    np.testing.assert_array_equal(again.members[0][0].weight.detach().numpy(), w[0])


# ------------------------------------------------------------------ the OOD check, reduced
def test_digits_noise_ood_mc_dropout_and_ensemble_auroc():
    """Against uniform-noise images, MC-dropout MI and ensemble disagreement give AUROC >= 0.9."""
    xtr, ytr, _, _, xte, yte = digits()
    noise = uniform_noise(len(xte))
    lamina.manual_seed(5)
    mcd = train(MLP(64, [128], 10, dropout=0.3), xtr, ytr, epochs=15, lr=3e-3)
    r_in, r_out = mc_dropout_predict(mcd, xte, samples=20), mc_dropout_predict(mcd, noise, samples=20)
    assert (r_in.mean.argmax(1) == yte).mean() > 0.9
    assert auroc(r_in.mutual_information, r_out.mutual_information) >= 0.9
    ens = train_ensemble(lambda: MLP(64, [64], 10), lambda m, i: train(m, xtr, ytr, epochs=6, lr=3e-3, seed=i),
                         n_members=3, seed=20)
    e_in, e_out = ens.predict(xte), ens.predict(noise)
    assert auroc(e_in.mutual_information, e_out.mutual_information) >= 0.9
