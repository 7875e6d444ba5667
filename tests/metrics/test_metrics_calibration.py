"""Expected calibration error against a direct NumPy implementation of the definition."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_testing import SETTINGS, accumulate, batch_plan, softmax

from lamina.metrics import ExpectedCalibrationError


def reference_bins(probs, targets, n_bins):
    """Guo et al.'s loop: bin (lo, hi] by confidence = max prob; accuracy of the argmax."""
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, n_bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            out.append((inside.sum(), (pred[inside] == targets[inside]).mean(), conf[inside].mean()))
    return out


def reference_ece(probs, targets, n_bins, norm):
    n = len(targets)
    bins = reference_bins(probs, targets, n_bins)
    gaps = np.array([abs(a - c) for _, a, c in bins])
    w = np.array([k / n for k, _, _ in bins])
    return {"l1": np.sum(w * gaps), "l2": np.sqrt(np.sum(w * gaps**2)), "max": gaps.max()}[norm]


@SETTINGS
@given(plan=batch_plan(), c=st.integers(2, 6), n_bins=st.integers(1, 20), norm=st.sampled_from(["l1", "l2", "max"]),
       temperature=st.sampled_from([0.3, 1.0, 4.0]))
def test_ece_matches_reference(plan, c, n_bins, norm, temperature):
    n, cuts, rng = plan
    probs = softmax(rng.normal(size=(n, c)) * temperature)
    t = rng.integers(0, c, n)
    got = accumulate(ExpectedCalibrationError(n_bins, norm=norm), probs, t, cuts, tensors=True)
    assert got == pytest.approx(reference_ece(probs, t, n_bins, norm), abs=1e-12)


@SETTINGS
@given(plan=batch_plan(), n_bins=st.integers(1, 20))
def test_reliability_diagram_matches_reference_bins(plan, n_bins):
    n, cuts, rng = plan
    probs = softmax(rng.normal(size=(n, 3)) * 2)
    t = rng.integers(0, 3, n)
    m = ExpectedCalibrationError(n_bins)
    accumulate(m, probs, t, cuts)
    d = m.reliability_diagram_data()
    np.testing.assert_allclose(d["bin_edges"], np.linspace(0, 1, n_bins + 1))
    seen = d["count"] > 0
    assert d["count"].sum() == n and np.isnan(d["accuracy"][~seen]).all()
    ref = np.array(reference_bins(probs, t, n_bins))
    np.testing.assert_array_equal(d["count"][seen], ref[:, 0])
    np.testing.assert_allclose(d["accuracy"][seen], ref[:, 1], atol=1e-12)
    np.testing.assert_allclose(d["confidence"][seen], ref[:, 2], atol=1e-12)


def test_ece_binary_probabilities_and_logits():
    p = np.array([0.9, 0.2, 0.6, 0.3])
    t = np.array([1, 0, 0, 1])
    two = np.stack([1 - p, p], 1)
    want = ExpectedCalibrationError(10)(two, t)
    assert ExpectedCalibrationError(10)(p, t) == pytest.approx(want)
    logits = np.log(p / (1 - p))
    assert ExpectedCalibrationError(10, from_logits=True)(logits, t) == pytest.approx(want)
    multi_logits = np.random.default_rng(0).normal(size=(8, 4))
    t4 = np.arange(8) % 4
    assert ExpectedCalibrationError(from_logits=True)(multi_logits, t4) == pytest.approx(
        ExpectedCalibrationError()(softmax(multi_logits), t4))


def test_ece_perfectly_calibrated_and_errors():
    # confidence 1 and always right: no gap
    assert ExpectedCalibrationError()(np.eye(3), np.arange(3)) == 0.0
    # confidence 1 and always wrong: gap 1
    assert ExpectedCalibrationError()(np.eye(3), np.array([1, 2, 0])) == 1.0
    assert np.isnan(ExpectedCalibrationError().compute())
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\].*from_logits=True"):
        ExpectedCalibrationError().update(np.array([[2.0, -1.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"ExpectedCalibrationError: preds shape \(2, 3\) and targets shape \(3,\)"):
        ExpectedCalibrationError().update(np.ones((2, 3)) / 3, np.zeros(3, int))
    with pytest.raises(ValueError, match=r"class index 3, outside \[0, 3\)"):
        ExpectedCalibrationError().update(np.ones((2, 3)) / 3, np.array([0, 3]))
    with pytest.raises(ValueError, match="norm"):
        ExpectedCalibrationError(norm="l3")
