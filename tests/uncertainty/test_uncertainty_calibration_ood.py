"""Calibration measures, temperature scaling, reliability diagrams, OOD scores and AUROC/AUPR."""
import math

import numpy as np
import pytest
from unc_common import train

import lamina
from lamina.models.mlp import MLP
from lamina.uncertainty import (TemperatureScaling, aupr, auroc, brier_score, calibrate_temperature,
                                calibration_metrics, expected_calibration_error, fit_temperature, fpr_at_tpr,
                                maximum_calibration_error, mc_dropout_predict, negative_log_likelihood,
                                ood_evaluation, ood_scores, plot_reliability_diagram, predict_logits,
                                reliability_diagram)

torch = pytest.importorskip("torch")
sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _calibrated_logits(n=3000, c=5, seed=0):
    """Logits whose softmax is the true label distribution (a calibrated model), and labels drawn from it."""
    r = np.random.default_rng(seed)
    z = r.standard_normal((n, c)) * 1.5
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) > r.random((n, 1))).argmax(1)
    return z, y


def _ece_reference(p, y, n_bins):
    conf, pred = p.max(1), p.argmax(1)
    ece, mce = 0.0, 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        sel = (conf > lo) & (conf <= hi) if b else (conf >= lo) & (conf <= hi)
        if sel.any():
            gap = abs((pred[sel] == y[sel]).mean() - conf[sel].mean())
            ece += sel.mean() * gap
            mce = max(mce, gap)
    return ece, mce


# ------------------------------------------------------------------ measures
def test_ece_mce_nll_brier_against_references():
    z, y = _calibrated_logits(500, 4, seed=1)
    z = z * 3  # overconfident
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ece, mce = _ece_reference(p, y, 10)
    assert math.isclose(expected_calibration_error(p, y, n_bins=10), ece, rel_tol=1e-9)
    assert math.isclose(maximum_calibration_error(p, y, n_bins=10), mce, rel_tol=1e-9)
    assert math.isclose(expected_calibration_error(z, y, n_bins=10, from_logits=True), ece, rel_tol=1e-9)
    tnll = float(torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(y)))
    assert math.isclose(negative_log_likelihood(z, y, from_logits=True), tnll, rel_tol=1e-10)
    assert math.isclose(negative_log_likelihood(p, y), tnll, rel_tol=1e-8)
    onehot = np.eye(4)[y]
    assert math.isclose(brier_score(p, y), ((p - onehot) ** 2).sum(1).mean(), rel_tol=1e-12)
    m = calibration_metrics(z, y, n_bins=10, from_logits=True)
    assert set(m) == {"accuracy", "ece", "mce", "nll", "brier"}
    assert math.isclose(m["accuracy"], (p.argmax(1) == y).mean())
    d = reliability_diagram(p, y, n_bins=10)
    assert d["bin_edges"].shape == (11,) and d["count"].sum() == 500
    assert math.isclose(d["ece"], ece, rel_tol=1e-9) and math.isclose(d["mce"], mce, rel_tol=1e-9)


def test_measure_errors():
    p = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        expected_calibration_error(p, np.zeros(4, np.int64))
    with pytest.raises(IndexError, match=r"labels must be in \[0, 2\)"):
        brier_score(p, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="from_logits=True"):
        negative_log_likelihood(np.array([[2.0, -1.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        calibration_metrics(np.zeros(3), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="method must be"):
        fit_temperature(p, np.zeros(3, np.int64), method="grid")


# ------------------------------------------------------------------ temperature scaling
def test_temperature_recovers_the_scale_of_overconfident_logits():
    z, y = _calibrated_logits(4000, 5, seed=2)
    t_newton = fit_temperature(z * 2.5, y)
    t_lbfgs = fit_temperature(z * 2.5, y, method="lbfgs")
    assert abs(t_newton - 2.5) < 0.25
    assert abs(t_newton - t_lbfgs) < 1e-4
    # the same optimum as torch's LBFGS on log T
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    zt, yt = torch.from_numpy(z * 2.5), torch.from_numpy(y)
    opt = torch.optim.LBFGS([log_t], lr=1, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(zt / log_t.exp(), yt)
        loss.backward()
        return loss

    opt.step(closure)
    assert abs(t_newton - float(log_t.detach().exp())) < 1e-4
    ts = TemperatureScaling().fit(z * 2.5, y)
    before = calibration_metrics(z * 2.5, y, from_logits=True)
    after = calibration_metrics(ts.transform(z * 2.5), y, from_logits=True)
    assert after["ece"] <= 0.5 * before["ece"] and after["nll"] < before["nll"]
    assert after["accuracy"] == before["accuracy"]
    np.testing.assert_allclose(ts.predict_proba(z * 2.5).sum(1), 1.0)


def test_temperature_never_makes_fit_nll_worse_and_underconfidence_gives_t_below_one():
    z, y = _calibrated_logits(2000, 3, seed=3)
    t = fit_temperature(z * 0.4, y)
    assert t < 1.0
    for scale in (0.4, 1.0, 3.0):
        t = fit_temperature(z * scale, y)
        assert negative_log_likelihood(z * scale / t, y, from_logits=True) <= \
            negative_log_likelihood(z * scale, y, from_logits=True) + 1e-12
    # separable data: the NLL falls toward 0 as T -> 0; the search stops where it is numerically 0
    zs, ys = np.eye(3)[np.arange(30) % 3] * 5.0, np.arange(30) % 3
    t = fit_temperature(zs, ys, t_min=0.05)
    assert 0.05 <= t < 0.3 and negative_log_likelihood(zs / t, ys, from_logits=True) < 1e-8
    assert fit_temperature(zs, ys, t_min=0.5) == pytest.approx(0.5)


def test_temperature_scaled_model_and_predict_logits():
    lamina.manual_seed(0)
    model = MLP(4, [8], 3)
    x = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    z, labels = predict_logits(model, x, batch_size=3)
    assert z.shape == (10, 3) and labels is None
    wrapped = TemperatureScaling().fit(z, np.arange(10) % 3).wrap(model)
    with lamina.no_grad():
        np.testing.assert_allclose(wrapped(lamina.Tensor(x)).numpy(), z / wrapped.temperature, rtol=1e-5)
    from lamina.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(lamina.Tensor(x), lamina.Tensor(np.arange(10) % 3)), batch_size=4)
    z2, y2 = predict_logits(model, loader)
    np.testing.assert_allclose(z2, z, rtol=1e-6)
    np.testing.assert_array_equal(y2, np.arange(10) % 3)


def test_digits_overconfident_mlp_temperature_scaling_halves_ece():
    """The issue's check, reduced: a digits MLP trained far past its best epoch on a small
    training set is overconfident; temperature fit on validation halves its ECE there, NLL improves."""
    from lamina.data.datasets.digits import load_digits_splits
    (xtr, ytr), (xva, yva), _ = [tuple(t.numpy() for t in ds.tensors)
                                  for ds in load_digits_splits(val_fraction=0.3, test_fraction=0.2, seed=0)]
    sub = np.random.default_rng(0).permutation(len(xtr))[:100]
    lamina.manual_seed(1)
    model = train(MLP(64, [256], 10), xtr[sub], ytr[sub], epochs=1000, lr=3e-3, seed=1)
    z, _ = predict_logits(model, xva)
    cal = calibrate_temperature(z, yva)
    assert cal["temperature"] > 1.5
    assert cal["val_after"]["ece"] <= 0.5 * cal["val_before"]["ece"]
    assert cal["val_after"]["nll"] <= cal["val_before"]["nll"]
    assert cal["reliability_after"]["count"].sum() == len(yva)


def test_plot_reliability_diagram_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    z, y = _calibrated_logits(300, 4)
    before = reliability_diagram(z * 3, y, from_logits=True)
    after = reliability_diagram(z, y, from_logits=True)
    path = tmp_path / "rel.png"
    fig = plot_reliability_diagram([before, after], labels=["before", "after"], path=str(path))
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes[0].patches) == 2 * 15
    import matplotlib.pyplot as plt
    plt.close(fig)
    with pytest.raises(ValueError, match="2 diagrams but 1 labels"):
        plot_reliability_diagram([before, after], labels=["x"])


# ------------------------------------------------------------------ OOD
def test_auroc_aupr_match_scikit_learn_with_ties():
    r = np.random.default_rng(4)
    a = np.round(r.standard_normal(200), 1)  # rounded: many ties
    b = np.round(r.standard_normal(150) + 0.8, 1)
    s, y = np.r_[a, b], np.r_[np.zeros(200), np.ones(150)]
    assert math.isclose(auroc(a, b), sklearn_metrics.roc_auc_score(y, s), rel_tol=1e-12)
    assert math.isclose(aupr(a, b), sklearn_metrics.average_precision_score(y, s), rel_tol=1e-12)
    assert math.isclose(aupr(a, b, positive="in"), sklearn_metrics.average_precision_score(1 - y, -s), rel_tol=1e-12)
    fpr, tpr, _ = sklearn_metrics.roc_curve(y, s)
    assert math.isclose(fpr_at_tpr(a, b, 0.95), fpr[np.searchsorted(tpr, 0.95)], rel_tol=1e-12)
    assert auroc(np.zeros(3), np.ones(3)) == 1.0 and auroc(np.ones(3), np.ones(3)) == 0.5
    with pytest.raises(ValueError, match="at least one in-distribution and one OOD"):
        auroc(np.zeros(0), np.ones(3))
    with pytest.raises(ValueError, match="positive must be"):
        aupr(a, b, positive="both")


def test_ood_scores_and_evaluation():
    p = np.array([[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3]])
    s = ood_scores(p)
    np.testing.assert_allclose(s["msp"], [0.1, 2 / 3])
    np.testing.assert_allclose(s["entropy"], [-(0.9 * np.log(0.9) + 0.1 * np.log(0.05)), np.log(3)])
    lamina.manual_seed(0)
    model = MLP(4, [16], 3, dropout=0.3)
    r_in = mc_dropout_predict(model, np.zeros((20, 4), np.float32), samples=4)
    r_out = mc_dropout_predict(model, np.full((20, 4), 5.0, np.float32), samples=4)
    ev = ood_evaluation(r_in, r_out)
    assert set(ev) == {"msp", "entropy", "mutual_information"}
    assert set(ev["msp"]) == {"auroc", "aupr_out", "aupr_in", "fpr_at_95_tpr"}
    sin, sout = ood_scores(r_in), ood_scores(r_out)
    assert ev["entropy"]["auroc"] == auroc(sin["entropy"], sout["entropy"])
    assert ood_evaluation(p, p)["msp"]["auroc"] == 0.5
