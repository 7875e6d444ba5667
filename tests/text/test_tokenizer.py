"""Tokenizer: ids, special tokens, padding, truncation and masks on the MiniLM WordPiece vocabulary."""
import json
import shutil

import numpy as np
import pytest
from text_common import minilm_dir, need_tokenizers

import lamina
from lamina.text import Tokenizer

CLS, SEP, PAD = 101, 102, 0


@pytest.fixture(scope="module")
def tok():
    need_tokenizers()
    return Tokenizer.from_pretrained(minilm_dir())


def test_defaults_come_from_the_model_directory(tok, tmp_path):
    assert tok.model_max_length == 256                     # sentence_bert_config.json's max_seq_length
    assert tok.vocab_size == len(tok) == 30522 and tok.pad_token_id == PAD
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        shutil.copy(minilm_dir() / name, plain / name)
    assert Tokenizer.from_pretrained(plain).model_max_length == 512     # tokenizer_config's model_max_length
    assert Tokenizer.from_pretrained(plain, max_length=64).model_max_length == 64
    cfg = json.loads((plain / "tokenizer_config.json").read_text())
    cfg["model_max_length"] = 10 ** 30                    # Hugging Face's "no limit" sentinel
    (plain / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert Tokenizer.from_pretrained(plain).model_max_length == 512     # falls back to max_position_embeddings


def test_special_tokens_lowercase_and_accents(tok):
    assert tok.encode("Hello world!") == [CLS, tok.token_to_id("hello"), tok.token_to_id("world"),
                                          tok.token_to_id("!"), SEP]
    assert tok.encode("") == [CLS, SEP]
    assert tok.tokenize("Café NAÏVE") == ["cafe", "naive"]
    assert tok.tokenize("unaffable")[1:] and all(t.startswith("##") for t in tok.tokenize("unaffable")[1:])
    assert tok.decode(tok.encode("Hello world!")) == "hello world!"
    assert tok.id_to_token(CLS) == "[CLS]"


def test_batch_is_right_padded_with_masks(tok):
    texts = ["a", "a much longer sentence with more words", ""]
    b = tok(texts)
    ids, mask, types = b["input_ids"], b["attention_mask"], b["token_type_ids"]
    lengths = [len(tok.encode(t)) for t in texts]
    assert ids.dtype == np.int64 and ids.shape == (3, max(lengths)) == mask.shape == types.shape
    np.testing.assert_array_equal(mask.sum(1), lengths)
    for row, n in enumerate(lengths):
        assert ids[row, 0] == CLS and ids[row, n - 1] == SEP
        assert np.all(ids[row, n:] == PAD) and np.all(mask[row, n:] == 0) and np.all(mask[row, :n] == 1)
    assert np.all(types == 0)


def test_truncation_to_model_max_length(tok):
    long = "word " * 1000
    b = tok([long, "short"])
    assert b["input_ids"].shape == (2, 256)
    assert b["input_ids"][0, -1] == SEP and b["attention_mask"][0].sum() == 256
    assert tok([long], max_length=16)["input_ids"].shape == (1, 16)
    assert tok([long], truncation=False)["input_ids"].shape == (1, 1002)


def test_padding_modes_and_return_types(tok):
    b = tok(["one two", "one"], padding="max_length", max_length=12)
    assert b["input_ids"].shape == (2, 12)
    assert tok(["one two three"], pad_to_multiple_of=8)["input_ids"].shape == (1, 8)
    lists = tok(["one two", "one"], padding=False, return_tensors=None)
    assert [len(x) for x in lists["input_ids"]] == [4, 3] and lists["attention_mask"] == [[1] * 4, [1] * 3]
    t = tok("one", return_tensors="lamina")
    assert isinstance(t["input_ids"], lamina.Tensor) and t["input_ids"].shape == (1, 3)


def test_pairs_get_token_types(tok):
    b = tok(["the question"], text_pair=["an answer here"])
    n_a = len(tok.encode("the question"))                 # [CLS] the question [SEP]
    np.testing.assert_array_equal(b["token_type_ids"][0], [0] * n_a + [1] * (b["input_ids"].shape[1] - n_a))
    assert b["input_ids"][0, n_a - 1] == SEP and b["input_ids"][0, -1] == SEP
    pair = tok([("word " * 300, "other " * 300)])          # longest_first keeps both halves
    assert pair["input_ids"].shape == (1, 256) and 0 < pair["token_type_ids"].sum() < 256


def test_errors(tok):
    with pytest.raises(ValueError, match="needs padding"):
        tok(["a", "bb"], padding=False)
    with pytest.raises(ValueError, match="padding must be"):
        tok(["a"], padding="shortest")
    with pytest.raises(TypeError, match="expected str texts"):
        tok(["a", 3])
    with pytest.raises(ValueError, match="2 texts but 1 text_pairs"):
        tok(["a", "b"], text_pair=["c"])
    with pytest.raises(ValueError, match="return_tensors"):
        tok(["a"], return_tensors="pt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        Tokenizer.from_file("/nonexistent/tokenizer.json")
