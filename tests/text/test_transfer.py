"""examples/transfer_learning_text.py: pretrained MiniLM (frozen or fine-tuned) beats a model trained
from scratch on topic sentences whose test templates and topical phrases never occur in training.

Kept fast: 40 training / 25 test sentences per class, frozen embeddings computed once, one
fine-tuning epoch (10 steps of 16 sentences, every weight trained)."""
import importlib.util
from pathlib import Path

import pytest
from text_common import minilm_dir, need_tokenizers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transfer_learning_text.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("transfer_learning_text", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dataset_holds_out_templates_and_phrases(example):
    x_tr, y_tr, x_te, y_te = example.make_dataset(seed=0, n_train=40, n_test=25)
    assert len(x_tr) == 160 and len(x_te) == 100 and set(y_tr) == set(y_te) == {0, 1, 2, 3}
    assert not set(x_tr) & set(x_te)
    for things_tr, things_te, acts_tr, acts_te in example.VOCAB.values():
        assert not set(things_tr) & set(things_te) and not set(acts_tr) & set(acts_te)
        assert not any(p in s for p in things_te + acts_te for s in x_tr)
    assert example.make_dataset(seed=0, n_train=40, n_test=25)[0] == x_tr          # seeded


@pytest.mark.slow
def test_pretrained_beats_scratch(example):
    need_tokenizers()
    r = example.run_all(seed=0, n_train=40, n_test=25, finetune_epochs=1, path=minilm_dir(), verbose=True)
    assert r["frozen"] >= 0.85 and r["finetune"] >= 0.8
    assert r["scratch_train"] >= 0.95          # (c) fits its training set ...
    assert r["frozen"] >= r["scratch"] + 0.4                  # ... but cannot transfer to unseen phrases
    assert r["finetune"] >= r["scratch"] + 0.4
