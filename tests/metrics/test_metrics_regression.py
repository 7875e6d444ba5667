"""Regression metrics against scikit-learn, accumulated over random batch splits."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_testing import SETTINGS, accumulate, batch_plan

from lamina.metrics import MeanAbsoluteError, MeanSquaredError, R2Score

skm = pytest.importorskip("sklearn.metrics")


def regression_data(rng, n, d):
    """Targets with an offset and scale, and predictions near them; d=None gives 1-D arrays."""
    shape = (n,) if d is None else (n, d)
    offset, scale = rng.choice([0.0, 3.0, 1e3]), rng.choice([1e-2, 1.0, 50.0])
    y = offset + scale * rng.normal(size=shape)
    return y + scale * rng.normal(size=shape) * rng.random(), y


MULTI = st.sampled_from(["uniform_average", "raw_values"])


@SETTINGS
@given(plan=batch_plan(), d=st.sampled_from([None, 1, 3]), multioutput=MULTI)
def test_mse_and_mae_match_sklearn(plan, d, multioutput):
    n, cuts, rng = plan
    p, y = regression_data(rng, n, d)
    mse = accumulate(MeanSquaredError(multioutput=multioutput), p, y, cuts, tensors=True)
    mae = accumulate(MeanAbsoluteError(multioutput=multioutput), p, y, cuts, tensors=True)
    np.testing.assert_allclose(mse, skm.mean_squared_error(y, p, multioutput=multioutput), rtol=1e-9)
    np.testing.assert_allclose(mae, skm.mean_absolute_error(y, p, multioutput=multioutput), rtol=1e-9)


@SETTINGS
@given(plan=batch_plan(), d=st.sampled_from([None, 1, 3]), multioutput=MULTI)
def test_rmse_matches_sklearn_per_output(plan, d, multioutput):
    n, cuts, rng = plan
    p, y = regression_data(rng, n, d)
    got = accumulate(MeanSquaredError(squared=False, multioutput=multioutput), p, y, cuts)
    np.testing.assert_allclose(got, skm.root_mean_squared_error(y, p, multioutput=multioutput), rtol=1e-9)


@SETTINGS
@given(plan=batch_plan(), d=st.sampled_from([None, 1, 3]),
       multioutput=st.sampled_from(["uniform_average", "raw_values", "variance_weighted"]))
def test_r2_matches_sklearn(plan, d, multioutput):
    n, cuts, rng = plan
    p, y = regression_data(rng, n, d)
    got = accumulate(R2Score(multioutput=multioutput), p, y, cuts, tensors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns for n < 2
        want = skm.r2_score(y, p, multioutput=multioutput)
    if n < 2:
        assert np.isnan(got) and np.isnan(want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_r2_is_stable_for_a_large_offset():
    rng = np.random.default_rng(0)
    y = 1e8 + rng.normal(size=1000)
    p = y + 0.1 * rng.normal(size=1000)
    m = R2Score()
    for a in range(0, 1000, 7):
        m.update(p[a:a + 7], y[a:a + 7])
    want = 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
    assert m.compute() == pytest.approx(want, rel=1e-9)


def test_r2_constant_targets_and_shapes():
    y = np.full(5, 0.1)
    assert R2Score()(y.copy(), y) == 1.0  # perfect prediction of a constant
    assert R2Score()(y + 1, y) == 0.0  # SS_tot = 0, SS_res > 0: 0.0 as scikit-learn's force_finite
    assert np.isnan(R2Score()(np.ones(1), np.ones(1)))
    np.testing.assert_allclose(R2Score(multioutput="raw_values")(np.c_[y, y], np.c_[y, np.arange(5.0)]),
                               [1.0, skm.r2_score(np.arange(5.0), y)])


def test_regression_shapes():
    # (N, 1) predictions against (N,) targets are squeezed, not broadcast to (N, N)
    assert MeanSquaredError()(np.array([[1.0], [2.0]]), np.array([1.0, 4.0])) == 2.0
    assert MeanAbsoluteError()(np.array([1.0, 2.0]), np.array([[1.0], [4.0]])) == 1.0
    with pytest.raises(ValueError, match=r"MeanSquaredError: preds shape \(3,\) and targets shape \(4,\)"):
        MeanSquaredError().update(np.zeros(3), np.zeros(4))
    m = MeanAbsoluteError()
    m.update(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 outputs per sample.*earlier batches had 3"):
        m.update(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="multioutput"):
        R2Score(multioutput="variance")
    with pytest.raises(ValueError, match="multioutput"):
        MeanSquaredError(multioutput="variance_weighted")
    assert np.isnan(MeanSquaredError().compute())
    assert MeanSquaredError(squared=False).name == "rmse" and MeanSquaredError().name == "mse"
