"""The sentences and the sentence-transformers oracle behind tests/text/fixtures/minilm_reference.npz.

Regenerate the fixture (needs torch + sentence-transformers, never downloads):
    .venv/bin/python tests/text/minilm_reference.py
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.npz"

_LONG = " ".join(f"Sentence number {i} talks about rivers, mountains and the history of tea in Kyoto."
                 for i in range(30))            # ~600 WordPiece tokens: truncated at 256
_NEAR = " ".join(["deep learning frameworks compute gradients"] * 50)      # 250 words + [CLS]/[SEP]

SENTENCES = [
    "Hello world!",
    "A man is playing a guitar on the street.",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   ",
    "Café crème, naïve façade, Zürich, São Paulo, Ærøskøbing.",
    "東京は日本の首都です。我喜欢学习机器学习。",
    "I love pizza 🍕🔥 and emoji 😀!!!",
    "Привет, как дела? Ελληνικά κείμενα. مرحبا بالعالم",
    "x",
    _NEAR,
    _LONG,
]


def sentence_transformer():
    """sentence-transformers' all-MiniLM-L6-v2 from the local package directory (offline, CPU)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    from lamina.text import minilm_path

    return SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)


def reference_embeddings(sentences=SENTENCES, model=None) -> np.ndarray:
    """The oracle's embeddings (float32, L2-normalised: the model's own Normalize module)."""
    model = model or sentence_transformer()
    return model.encode(list(sentences), batch_size=32, convert_to_numpy=True)


def write_fixture() -> None:
    emb = reference_embeddings()
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, sentences=np.array(SENTENCES, dtype=np.str_), embeddings=emb.astype(np.float32))


if __name__ == "__main__":
    write_fixture()
    data = np.load(FIXTURE, allow_pickle=False)
    print(FIXTURE, data["embeddings"].shape, FIXTURE.stat().st_size, "bytes")
