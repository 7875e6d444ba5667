"""Classification metrics against scikit-learn, accumulated over random batch splits."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_testing import SETTINGS, accumulate, batch_plan, softmax

import lamina
from lamina.metrics import (ROCAUC, Accuracy, ConfusionMatrix, F1Score, FBetaScore, Precision, Recall,
                            TopKAccuracy)

skm = pytest.importorskip("sklearn.metrics")


def tied_scores(rng, n, c, levels=4):
    """Scores on a coarse grid, so that ties within a row and across rows are common."""
    return rng.integers(0, levels, size=(n, c)).astype(np.float64) / levels


# ---------------------------------------------------------------- accuracy
@SETTINGS
@given(plan=batch_plan(), c=st.integers(2, 6), kind=st.sampled_from(["indices", "scores", "logits32"]))
def test_accuracy_matches_sklearn(plan, c, kind):
    n, cuts, rng = plan
    t = rng.integers(0, c, n)
    if kind == "indices":
        p = rng.integers(0, c, n)
        pred = p
    else:
        p = tied_scores(rng, n, c) if kind == "scores" else rng.normal(size=(n, c)).astype(np.float32)
        pred = p.argmax(1)
    got = accumulate(Accuracy(), p, t, cuts, tensors=True)
    assert got == pytest.approx(skm.accuracy_score(t, pred), abs=1e-12)


@SETTINGS
@given(plan=batch_plan(), logits=st.booleans(), column=st.booleans())
def test_binary_accuracy_thresholds_probabilities_and_logits(plan, logits, column):
    n, cuts, rng = plan
    t = rng.integers(0, 2, n)
    p = rng.normal(size=n) * 3 if logits else rng.random(n)
    pred = (p > 0) if logits else (p > 0.5)
    m = Accuracy(task="binary", from_logits=logits)
    got = accumulate(m, p[:, None] if column else p, t.astype(np.float32), cuts)
    assert got == pytest.approx(skm.accuracy_score(t, pred), abs=1e-12)


def test_binary_accuracy_auto_detects_logits_and_custom_threshold():
    t = np.array([1, 0, 1, 0])
    assert Accuracy()(np.array([2.0, -1.0, 0.3, -0.2]), t) == 1.0  # a value outside [0, 1]: logits
    assert Accuracy()(np.array([0.9, 0.1, 0.6, 0.4]), t) == 1.0
    assert Accuracy(threshold=0.7)(np.array([0.9, 0.1, 0.6, 0.4]), t) == 0.75
    logits = np.array([0.9, -0.1, 0.84, 0.8])  # cut at logit(0.7) = 0.847
    assert Accuracy(threshold=0.7, from_logits=True)(logits, t) == 0.75


def test_accuracy_class_dim_1_and_ignore_index():
    logits = np.zeros((2, 3, 4))
    logits[:, 2] = 1.0  # always predicts class 2
    t = np.array([[2, 2, 0, -100], [1, 2, -100, -100]])
    assert Accuracy(ignore_index=-100)(logits, t) == pytest.approx(3 / 5)


@SETTINGS
@given(plan=batch_plan(), c=st.integers(3, 7), data=st.data())
def test_top_k_accuracy_matches_sklearn_with_ties(plan, c, data):
    n, cuts, rng = plan
    k = data.draw(st.integers(1, c + 1))
    t = rng.integers(0, c, n)
    s = tied_scores(rng, n, c)
    got = accumulate(TopKAccuracy(k), s, t, cuts, tensors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns when k >= C
        want = skm.top_k_accuracy_score(t, s, k=k, labels=np.arange(c))
    assert got == pytest.approx(want, abs=1e-12)


# ---------------------------------------------------------------- precision / recall / f1
PRF = [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)]


@SETTINGS
@given(plan=batch_plan(), c=st.integers(2, 6), which=st.integers(0, 2),
       average=st.sampled_from(["macro", "micro", "weighted", None]),
       zero_division=st.sampled_from([0.0, 1.0, np.nan]), num_classes=st.booleans())
def test_precision_recall_f1_match_sklearn(plan, c, which, average, zero_division, num_classes):
    n, cuts, rng = plan
    cls, fn = PRF[which]
    t = rng.integers(0, c, n)
    p = rng.integers(0, c, n) if rng.random() < 0.5 else np.minimum(t, rng.integers(0, c, n))  # skewed: absent classes
    m = cls(num_classes=c if (num_classes or average is None) else None, average=average, zero_division=zero_division)
    got = accumulate(m, p, t, cuts, tensors=True)
    labels = np.arange(c) if average is None else None
    want = fn(t, p, average=average, labels=labels, zero_division=zero_division)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(plan=batch_plan(), which=st.integers(0, 2), zero_division=st.sampled_from([0.0, 1.0]),
       probs=st.booleans())
def test_binary_average_matches_sklearn(plan, which, zero_division, probs):
    n, cuts, rng = plan
    cls, fn = PRF[which]
    t = rng.integers(0, 2, n)
    p = rng.integers(0, 2, n) if rng.random() < 0.7 else np.zeros(n, np.int64)
    preds = np.where(p == 1, 0.75, 0.25) if probs else p
    got = accumulate(cls(average="binary", zero_division=zero_division), preds, t, cuts)
    assert got == pytest.approx(fn(t, p, average="binary", zero_division=zero_division), abs=1e-12)


@SETTINGS
@given(plan=batch_plan(), c=st.integers(2, 5), beta=st.sampled_from([0.0, 0.5, 2.0]),
       average=st.sampled_from(["macro", "micro", "weighted"]))
def test_fbeta_matches_sklearn(plan, c, beta, average):
    n, cuts, rng = plan
    t, p = rng.integers(0, c, n), rng.integers(0, c, n)
    got = accumulate(FBetaScore(beta, average=average), p, t, cuts)
    assert got == pytest.approx(skm.fbeta_score(t, p, beta=beta, average=average, zero_division=0.0), abs=1e-12)


def test_prf_from_scores_and_per_class_array():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [2.0, 0.0, 0.0]])
    t = np.array([0, 1, 2, 0])
    f1 = F1Score(average=None)
    f1.update(lamina.tensor(logits), lamina.tensor(t))
    np.testing.assert_allclose(f1.compute(), [1.0, 2 / 3, 0.0])
    assert isinstance(Precision()(logits, t), float)


# ---------------------------------------------------------------- confusion matrix
@pytest.mark.filterwarnings("ignore:A single label was found")
@SETTINGS
@given(plan=batch_plan(), c=st.integers(1, 6), normalize=st.sampled_from([None, "true", "pred", "all"]))
def test_confusion_matrix_matches_sklearn(plan, c, normalize):
    n, cuts, rng = plan
    t = rng.integers(0, c, n)
    p = np.minimum(t, rng.integers(0, c, n))  # some columns / rows empty
    got = accumulate(ConfusionMatrix(c, normalize=normalize), p, t, cuts, tensors=True)
    want = skm.confusion_matrix(t, p, labels=np.arange(c), normalize=normalize)
    assert got.shape == (c, c)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if normalize is None:
        assert got.dtype == np.int64


def test_confusion_matrix_grows_without_num_classes():
    cm = ConfusionMatrix()
    cm.update(np.array([0, 1]), np.array([0, 1]))
    cm.update(np.array([3]), np.array([2]))
    np.testing.assert_array_equal(cm.compute(), skm.confusion_matrix([0, 1, 2], [0, 1, 3], labels=range(4)))


# ---------------------------------------------------------------- ROC-AUC
@SETTINGS
@given(plan=batch_plan(min_n=2), levels=st.sampled_from([2, 5, 1000]), logits=st.booleans())
def test_binary_roc_auc_matches_sklearn_with_ties(plan, levels, logits):
    n, cuts, rng = plan
    t = rng.integers(0, 2, n)
    t[:2] = [0, 1]
    s = rng.integers(0, levels, n) / levels
    if logits:
        s = (s - 0.5) * 10
    got = accumulate(ROCAUC(), s, t, cuts, tensors=True)
    assert got == pytest.approx(skm.roc_auc_score(t, s), abs=1e-12)


@SETTINGS
@given(plan=batch_plan(min_n=8), c=st.integers(3, 6), average=st.sampled_from(["macro", "weighted"]))
def test_multiclass_ovr_roc_auc_matches_sklearn(plan, c, average):
    n, cuts, rng = plan
    t = rng.integers(0, c, n)
    t[:c] = np.arange(c)  # every class present
    probs = softmax(rng.integers(0, 3, (n, c)).astype(np.float64))  # coarse logits: many ties
    got = accumulate(ROCAUC(num_classes=c, average=average), probs, t, cuts, tensors=True)
    want = skm.roc_auc_score(t, probs, multi_class="ovr", average=average, labels=np.arange(c))
    assert got == pytest.approx(want, abs=1e-12)


def test_roc_auc_per_class_binary_columns_and_undefined_class():
    s = np.array([0.1, 0.4, 0.35, 0.8])
    t = np.array([0, 0, 1, 1])
    assert ROCAUC()(s, t) == 0.75
    assert ROCAUC(task="binary")(np.stack([1 - s, s], 1), t) == 0.75
    probs = softmax(np.random.default_rng(0).normal(size=(6, 3)))
    with pytest.warns(RuntimeWarning, match="not defined"):
        per_class = ROCAUC(average=None)(probs, np.array([0, 1, 0, 1, 0, 1]))  # class 2 never appears
    assert per_class.shape == (3,) and np.isnan(per_class[2])
    with pytest.warns(RuntimeWarning, match="no positive"):
        assert np.isnan(ROCAUC()(probs, np.array([0, 1, 0, 1, 0, 1])))
    with pytest.warns(RuntimeWarning):
        assert np.isnan(ROCAUC()(s, np.zeros(4, int)))
    assert np.isnan(ROCAUC().compute())


# ---------------------------------------------------------------- errors
def test_shape_errors_name_metric_and_shapes():
    with pytest.raises(ValueError, match=r"Accuracy: preds shape \(4, 3\) and targets shape \(5,\)"):
        Accuracy().update(np.zeros((4, 3)), np.zeros(5, int))
    with pytest.raises(ValueError, match=r"TopKAccuracy: preds shape \(4,\) and targets shape \(4,\)"):
        TopKAccuracy(2).update(np.zeros(4), np.zeros(4, int))
    with pytest.raises(ValueError, match=r"ROCAUC: preds shape \(3, 2, 2\)"):
        ROCAUC().update(np.zeros((3, 2, 2)), np.zeros(3, int))
    with pytest.raises(ValueError, match="num_classes=4"):
        F1Score(num_classes=4).update(np.zeros((2, 3)), np.zeros(2, int))


def test_class_index_errors():
    with pytest.raises(ValueError, match=r"targets hold class index 3, outside \[0, 3\)"):
        Accuracy(num_classes=3).update(np.array([0, 1]), np.array([3, 0]))
    with pytest.raises(ValueError, match=r"targets hold class index -1"):
        Precision().update(np.array([0, 1]), np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"preds hold class index 5, outside \[0, 4\)"):
        ConfusionMatrix(4).update(np.array([5, 1]), np.array([0, 0]))
    with pytest.raises(ValueError, match=r"targets hold class index 2, outside \[0, 2\)"):
        Recall(average="binary").update(np.array([0.3, 0.9]), np.array([2, 0]))
    with pytest.raises(ValueError, match=r"targets hold class index 3, outside \[0, 3\)"):
        TopKAccuracy(2).update(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"class index 2, outside \[0, 2\) \(binary task"):
        Accuracy().update(np.array([0.3, 0.9]), np.array([2, 0]))  # float preds of the targets' shape: binary
    with pytest.raises(ValueError, match="whole class indices"):
        Accuracy().update(np.array([0, 1]), np.array([0.5, 1.0]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="average must be one of"):
        Precision(average="samples")
    with pytest.raises(ValueError, match="task must be one of"):
        Accuracy(task="multilabel")
    with pytest.raises(ValueError, match="average='binary' needs task='binary'"):
        F1Score(average="binary", task="multiclass")
    with pytest.raises(ValueError, match="normalize"):
        ConfusionMatrix(3, normalize="rows")
    with pytest.raises(ValueError, match="k must be"):
        TopKAccuracy(0)
