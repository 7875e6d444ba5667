"""Token attributions (embedding-layer IG) on text classifiers, permutation importance, SHAP values."""
import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.explain import (embedding_layer, permutation_importance, predict_fn, shap_values, token_attributions)
from lamina.models import BertClassifier


class BagOfEmbeddings(nn.Module):
    """logits = W mean_t(E[ids_t]) + b: linear in the embeddings, so IG is exact and known."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(12, 4)
        self.fc = nn.Linear(4, 3)

    def forward(self, ids):
        return self.fc(self.tok(ids).mean(1))


def test_token_ig_on_a_linear_model_is_exact():
    lamina.manual_seed(0)
    model = BagOfEmbeddings().double()
    ids = np.array([[1, 5, 7, 0], [3, 3, 9, 2]])
    scores, delta = token_attributions(model, ids, target=[2, 0], baseline_token_id=0, n_steps=4,
                                       return_convergence_delta=True)
    E, W = model.tok.weight.detach().numpy(), model.fc.weight.detach().numpy()
    ref = np.einsum("btd,bd->bt", E[ids] - E[0], W[[2, 0]]) / 4         # (e - e') . dF/de, dF/de = W_c / T
    np.testing.assert_allclose(scores, ref, atol=1e-12)
    np.testing.assert_allclose(delta, 0, atol=1e-12)
    assert embedding_layer(model) == "tok"


def test_token_ig_on_bert_classifier_completeness_and_padding():
    lamina.manual_seed(0)
    enc = dict(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
               max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertClassifier(3, pretrained="none", encoder=enc, dropout=0.0).double()
    ids = np.array([[2, 7, 9, 11, 3, 0, 0], [2, 5, 6, 3, 0, 0, 0]])
    scores, delta = token_attributions(model, ids, target=1, n_steps=64, internal_batch_size=50,
                                       return_convergence_delta=True)
    assert scores.shape == ids.shape and embedding_layer(model) == "bert.embeddings.word_embeddings"
    assert np.all(scores[ids == 0] == 0)                         # padding: baseline = pad, no attribution
    with lamina.no_grad():
        f = model.eval()(ids).numpy()[:, 1]
    change = scores.sum(1) - delta                               # f(x) - f(x')
    assert np.all(np.abs(delta) <= 0.01 * np.abs(change) + 1e-6), (delta, change)
    assert np.all(np.abs(scores[ids != 0]) > 0)
    assert np.isfinite(f).all()


def test_permutation_importance_finds_the_features_used():
    lamina.manual_seed(0)
    model = nn.Linear(5, 2).double()
    with lamina.no_grad():
        model.weight.zero_()
        model.weight[0, 1] = 3.0           # only features 1 and 3 matter
        model.weight[1, 3] = -2.0
    X = np.random.default_rng(0).standard_normal((200, 5))
    y = predict_fn(model, "label")(X)
    r = permutation_importance(model, X, y, n_repeats=4, generator=lamina.Generator().manual_seed(0))
    assert r.baseline_score == 1.0 and r.importances.shape == (5, 4)
    np.testing.assert_array_equal(r.importances_mean[[0, 2, 4]], 0)
    assert r.importances_mean[1] > 0.2 and r.importances_mean[3] > 0.2
    acc = lambda yt, yp: float((yp.argmax(1) == yt).mean())
    r2 = permutation_importance(model, X, y, metric=acc, n_repeats=4, generator=lamina.Generator().manual_seed(0))
    np.testing.assert_allclose(r2.importances, r.importances)
    with pytest.raises(ValueError, match="metric must be"):
        permutation_importance(model, X, y, metric="f1")


def test_shap_values_of_a_linear_model():
    pytest.importorskip("shap")
    lamina.manual_seed(1)
    model = nn.Linear(4, 2).double()
    rng = np.random.default_rng(1)
    bg, X = rng.standard_normal((30, 4)), rng.standard_normal((5, 4))
    values, expected = shap_values(model, X, bg, output="logits")
    W = model.weight.detach().numpy()
    ref = (X - bg.mean(0))[:, :, None] * W.T[None]                # exact SHAP of a linear model: w_j (x_j - E x_j)
    assert values.shape == (5, 4, 2)
    np.testing.assert_allclose(values, ref, atol=1e-6)
    np.testing.assert_allclose(values.sum(1) + expected, predict_fn(model, "logits")(X), atol=1e-6)
