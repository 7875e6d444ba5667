"""The Metric protocol for every metric: state_dict round trip, merge, reset, __call__; the
collection and the get_metric factory."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metric_testing import SETTINGS, accumulate, batch_plan, softmax

import lamina
from lamina.metrics import (ROCAUC, Accuracy, ConfusionMatrix, ExpectedCalibrationError, F1Score, MeanAbsoluteError,
                            MeanSquaredError, Metric, MetricCollection, Precision, R2Score, Recall, TopKAccuracy,
                            get_metric, metric_names)


def class_scores(rng, n):
    return softmax(rng.integers(0, 3, (n, 4)).astype(float)), rng.integers(0, 4, n)


def class_indices(rng, n):
    return rng.integers(0, 5, n), rng.integers(0, 5, n)


def binary_scores(rng, n):
    return rng.integers(0, 4, n) / 4, rng.integers(0, 2, n)


def regression(rng, n):
    y = rng.normal(size=(n, 2)) + 10
    return y + rng.normal(size=(n, 2)), y


CASES = [
    (Accuracy, class_scores), (lambda: TopKAccuracy(2), class_scores),
    (lambda: Precision(average="macro"), class_indices),
    (lambda: Recall(average="weighted"), class_indices), (lambda: F1Score(average=None), class_indices),
    (lambda: F1Score(average="binary"), binary_scores), (lambda: ConfusionMatrix(normalize="true"), class_indices),
    (ROCAUC, binary_scores), (lambda: ROCAUC(average=None), class_scores), (MeanSquaredError, regression),
    (lambda: MeanSquaredError(squared=False, multioutput="raw_values"), regression), (MeanAbsoluteError, regression),
    (R2Score, regression), (lambda: ExpectedCalibrationError(7), class_scores),
]
IDS = ["accuracy", "top2", "precision", "recall", "f1_per_class", "f1_binary", "confmat", "auc", "auc_ovr", "mse",
       "rmse", "mae", "r2", "ece"]


def same(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("make, data", CASES, ids=IDS)
@SETTINGS
@given(plan=batch_plan(min_n=4, max_n=40), split=st.floats(0, 1))
def test_merge_state_dict_and_reset(make, data, plan, split):
    n, cuts, rng = plan
    p, t = data(rng, n)
    whole = accumulate(make(), p, t, cuts)
    k = int(split * n)
    # merge of two halves (as two workers would) equals the whole
    a, b = make(), make()
    accumulate(a, p[:k], t[:k], [c for c in cuts if c <= k])
    accumulate(b, p[k:], t[k:], [c - k for c in cuts if c >= k])
    same((a + b).compute(), whole)
    same(a.clone().merge(b).compute(), whole)
    # a checkpoint in the middle of the epoch, through JSON, then the rest of the epoch
    restored = make()
    restored.load_state_dict(json.loads(json.dumps(a.state_dict())))
    accumulate(restored, p[k:], t[k:], [])
    same(restored.compute(), whole)
    # reset forgets everything
    restored.reset()
    assert json.dumps(restored.state_dict()) == json.dumps(make().state_dict())
    same(accumulate(restored, p, t, []), whole)


def test_call_returns_batch_value_and_accumulates():
    acc = Accuracy()
    assert acc(np.array([0, 1]), np.array([0, 1])) == 1.0
    assert acc(np.array([0, 1]), np.array([1, 0])) == 0.0
    assert acc.compute() == 0.5 and (acc.correct, acc.total) == (2, 4)


def test_update_builds_no_graph_and_reads_tensors():
    logits = lamina.tensor(np.random.default_rng(0).normal(size=(6, 3)), requires_grad=True)
    out = logits * 2  # a non-leaf tensor
    m = MetricCollection(["accuracy", "top2_accuracy", "roc_auc", "ece"])
    with pytest.raises(ValueError):  # logits are not probabilities: ECE refuses them
        m.update(out, lamina.tensor([0, 1, 2, 0, 1, 2]))
    acc = Accuracy()
    acc.update(out, lamina.tensor([0, 1, 2, 0, 1, 2]))
    assert acc.total == 6 and logits.grad is None


def test_merge_and_load_errors():
    with pytest.raises(ValueError, match="configs differ"):
        ConfusionMatrix(3).merge(ConfusionMatrix(4))
    with pytest.raises(TypeError, match="cannot merge a Precision"):
        Recall().merge(Precision())
    with pytest.raises(ValueError, match="saved from a Precision"):
        Recall().load_state_dict(Precision().state_dict())
    with pytest.raises(ValueError, match="configs differ"):
        F1Score(average="micro").load_state_dict(F1Score().state_dict())
    a, b = MeanSquaredError(), MeanSquaredError()
    a.update(np.zeros((2, 3)), np.zeros((2, 3)))
    b.update(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="3 outputs against 2"):
        a.merge(b)
    # a different name is not a different metric; a nan zero_division equals itself
    Accuracy(name="acc").merge(Accuracy())
    f1 = F1Score(zero_division=np.nan)
    f1.load_state_dict(json.loads(json.dumps(F1Score(zero_division=np.nan).state_dict())))
    with pytest.raises(NotImplementedError):
        Metric()


def test_classes_grow_across_merge():
    a, b = ConfusionMatrix(), ConfusionMatrix()
    a.update(np.array([0, 1]), np.array([1, 1]))
    b.update(np.array([3]), np.array([2]))
    cm = (a + b).compute()
    assert cm.shape == (4, 4) and cm[1, 0] == 1 and cm[1, 1] == 1 and cm[2, 3] == 1 and cm.sum() == 3


# ---------------------------------------------------------------- factory and collection
@pytest.mark.parametrize("name, cls, attrs", [
    ("accuracy", Accuracy, {}), ("top5_accuracy", TopKAccuracy, {"k": 5}), ("Top3-Accuracy", TopKAccuracy, {"k": 3}),
    ("precision", Precision, {}), ("recall", Recall, {}), ("f1", F1Score, {}), ("f1_score", F1Score, {}),
    ("confusion_matrix", ConfusionMatrix, {}), ("roc_auc", ROCAUC, {}), ("mse", MeanSquaredError, {"squared": True}),
    ("rmse", MeanSquaredError, {"squared": False}), ("mae", MeanAbsoluteError, {}), ("r2", R2Score, {}),
    ("ece", ExpectedCalibrationError, {}), ("mean_squared_error", MeanSquaredError, {}),
])
def test_get_metric_names(name, cls, attrs):
    m = get_metric(name)
    assert type(m) is cls and m.name == name
    for k, v in attrs.items():
        assert getattr(m, k) == v


def test_get_metric_kwargs_and_errors():
    m = get_metric("top_k_accuracy", k=2)
    assert m.k == 2 and m.name == "top_k_accuracy"
    assert get_metric("f1", average="weighted", name="wf1").average == "weighted"
    assert get_metric("ece", n_bins=10).n_bins == 10
    acc = Accuracy()
    assert get_metric(acc) is acc
    with pytest.raises(ValueError, match=r"unknown metric 'acuracy'; did you mean 'accuracy'\? Valid names: .*roc_auc"):
        get_metric("acuracy")
    with pytest.raises(ValueError, match="means k=5"):
        get_metric("top5_accuracy", k=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        get_metric("mse", average="macro")
    assert "accuracy" in metric_names() and "top5_accuracy" in metric_names()


def test_metric_collection():
    rng = np.random.default_rng(1)
    probs, t = softmax(rng.normal(size=(30, 4))), rng.integers(0, 4, 30)
    col = MetricCollection(["accuracy", "top2_accuracy", F1Score(average="micro", name="f1_micro")], prefix="val_")
    col.update(probs[:10], t[:10])
    col.update(lamina.tensor(probs[10:]), lamina.tensor(t[10:]))
    out = col.compute()
    assert list(out) == ["val_accuracy", "val_top2_accuracy", "val_f1_micro"]
    assert out["val_accuracy"] == pytest.approx(np.mean(probs.argmax(1) == t))
    assert out["val_f1_micro"] == pytest.approx(out["val_accuracy"])  # single-label micro F1 is accuracy
    twin = col.clone(prefix="train_")
    assert list(twin.compute()) == ["train_accuracy", "train_top2_accuracy", "train_f1_micro"]
    state = json.loads(json.dumps(col.state_dict()))
    fresh = MetricCollection({"accuracy": "accuracy", "top2_accuracy": TopKAccuracy(2),
                              "f1_micro": F1Score(average="micro")})
    fresh.load_state_dict(state)
    assert fresh.compute() == {k[4:]: v for k, v in out.items()}
    fresh.merge(twin)
    assert fresh["accuracy"].total == 60 and len(fresh) == 3 and "f1_micro" in fresh
    col.reset()
    assert np.isnan(col.compute()["val_accuracy"])
    with pytest.raises(ValueError, match="two metrics are named 'accuracy'"):
        MetricCollection(["accuracy", Accuracy()])
    with pytest.raises(ValueError, match="missing"):
        fresh.load_state_dict({"accuracy": state["accuracy"]})
