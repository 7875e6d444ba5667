"""Character data: tokenizer, default corpus, random-window batches."""
import json

import numpy as np
import pytest

import lamina
from lamina.models.gpt_data import (ASCII_VOCAB, CharDataset, CharTokenizer, RandomWindowSampler, default_text,
                                    load_text, split_ids, to_printable_ascii)


@pytest.fixture(scope="module")
def text():
    return default_text()


def test_tokenizer_round_trip_and_save_load(tmp_path):
    tok = CharTokenizer.from_text("hello, world\n")
    assert tok.itos == sorted(set("hello, world\n")) and tok.vocab_size == len(tok) == 10
    ids = tok.encode("low\nhello")
    assert ids.dtype == np.int64 and tok.decode(ids) == "low\nhello"
    assert tok.decode(lamina.tensor(ids)) == "low\nhello" and tok.decode(list(ids)) == "low\nhello"
    assert all(tok.stoi[c] == i for i, c in enumerate(tok.itos))
    path = tmp_path / "tok.json"
    tok.save(str(path))
    assert json.loads(path.read_text())["itos"] == tok.itos
    assert CharTokenizer.load(str(path)) == tok
    uni = CharTokenizer.from_text("añb€\n")
    assert uni.decode(uni.encode("€añ")) == "€añ"


def test_tokenizer_errors(tmp_path):
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        tok.encode("abz")
    with pytest.raises(ValueError, match=r"ids must be in \[0, 3\)"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="distinct"):
        CharTokenizer("aa")
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer("")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        CharTokenizer.load(str(bad))
    bad.write_text('{"vocab": []}')
    with pytest.raises(ValueError, match="itos"):
        CharTokenizer.load(str(bad))


def test_ascii_vocab_is_96_symbols():
    tok = CharTokenizer.ascii()
    assert tok.vocab_size == 96 and tok.itos[0] == "\n" and tok.itos[1] == " " and tok.itos[-1] == "~"
    assert to_printable_ascii("a\tb\r\nc\x00é") == "a   b\nc"


def test_default_text_is_printable_ascii_and_deterministic(text):
    assert 300_000 <= len(text) <= 400_000
    assert set(text) <= set(ASCII_VOCAB) and len(set(text)) > 80
    assert text.count(" ") / len(text) < 0.3            # prose, not a wall of indentation
    assert default_text(max_chars=50_000) == text[:50_000]
    assert load_text() == text


def test_load_text_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("héllo\tworld\n", encoding="utf-8")
    assert load_text(str(p)) == "héllo\tworld\n"
    assert load_text(str(p), ascii_only=True) == "hllo   world\n"


def test_split_ids():
    ids = np.arange(100)
    tr, va = split_ids(ids, 0.1)
    assert len(tr) == 90 and va[0] == 90 and len(va) == 10
    with pytest.raises(ValueError, match="val_fraction"):
        split_ids(ids, 1.0)


def test_random_window_sampler_shifts_and_repeats():
    ids = np.arange(1000) % 97
    s = RandomWindowSampler(ids, block_size=16, batch_size=8, generator=lamina.Generator().manual_seed(3))
    x, y = s.sample()
    assert x.shape == y.shape == (8, 16) and x.dtype == lamina.int64
    xa, ya = x.numpy(), y.numpy()
    np.testing.assert_array_equal(xa[:, 1:], ya[:, :-1])            # y is x shifted by one
    np.testing.assert_array_equal((xa[:, :1] + np.arange(1, 17)) % 97, ya)
    again = RandomWindowSampler(ids, 16, 8, generator=lamina.Generator().manual_seed(3)).sample()[0].numpy()
    np.testing.assert_array_equal(xa, again)
    assert not np.array_equal(xa, s.sample()[0].numpy())
    assert next(iter(s))[0].shape == (8, 16) and s.sample(3)[0].shape == (3, 16)
    starts = np.concatenate([s.sample(64)[0].numpy()[:, 0] for _ in range(20)])
    assert starts.min() >= 0 and len(np.unique(starts)) > 40     # starts spread over the stream


def test_random_window_sampler_errors():
    with pytest.raises(ValueError, match="too few"):
        RandomWindowSampler(np.arange(10), block_size=10, batch_size=2)
    with pytest.raises(ValueError, match="1-D"):
        RandomWindowSampler(np.zeros((4, 4), dtype=np.int64), 2, 2)


def test_char_dataset():
    ids = np.arange(50)
    ds = CharDataset(ids, block_size=8)
    assert len(ds) == 6
    x, y = ds[2]
    np.testing.assert_array_equal(x, np.arange(16, 24))
    np.testing.assert_array_equal(y, np.arange(17, 25))
    np.testing.assert_array_equal(ds[-1][0], ds[5][0])
    with pytest.raises(IndexError):
        ds[6]
    assert len(CharDataset(ids, 8, stride=1)) == 42
