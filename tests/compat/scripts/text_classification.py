"""Text classification with nn.EmbeddingBag and offsets, in the style of PyTorch's text
classification tutorial (collate_batch builds the flat token list and the offsets); the news-like
sentences are generated from four topic vocabularies."""
import argparse
import random
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

TOPICS = {
    "world": "minister election summit treaty border embassy parliament president refugees diplomacy",
    "sports": "match goal striker league coach season tournament referee stadium championship",
    "business": "market shares profit investors merger earnings inflation bank startup revenue",
    "scitech": "software chip research telescope genome algorithm robot battery physics satellite",
}
COMMON = "the a of in on and to with for after new said report week today".split()


def make_data(n, seed):
    rnd = random.Random(seed)
    out = []
    labels = list(TOPICS)
    for _ in range(n):
        label = rnd.randrange(len(labels))
        words = TOPICS[labels[label]].split()
        sent = [rnd.choice(words) if rnd.random() < 0.5 else rnd.choice(COMMON) for _ in range(rnd.randint(6, 14))]
        out.append((label, " ".join(sent)))
    return out


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--lr', type=float, default=5.0)
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(0)
    train_iter, test_iter = make_data(1200, 0), make_data(300, 1)
    vocab = {"<unk>": 0}
    for _, text in train_iter:
        for tok in text.split():
            vocab.setdefault(tok, len(vocab))
    text_pipeline = lambda x: [vocab.get(tok, 0) for tok in x.split()]  # noqa: E731

    def collate_batch(batch):
        label_list, text_list, offsets = [], [], [0]
        for (_label, _text) in batch:
            label_list.append(_label)
            processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
            text_list.append(processed_text)
            offsets.append(processed_text.size(0))
        label_list = torch.tensor(label_list, dtype=torch.int64)
        offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
        text_list = torch.cat(text_list)
        return label_list, text_list, offsets

    train_dataloader = DataLoader(train_iter, batch_size=args.batch_size, shuffle=False, collate_fn=collate_batch)
    test_dataloader = DataLoader(test_iter, batch_size=args.batch_size, shuffle=False, collate_fn=collate_batch)
    model = TextClassificationModel(len(vocab), 32, len(TOPICS))
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)

    def evaluate(dataloader):
        model.eval()
        total_acc, total_count = 0, 0
        with torch.no_grad():
            for idx, (label, text, offsets) in enumerate(dataloader):
                predicted_label = model(text, offsets)
                total_acc += (predicted_label.argmax(1) == label).sum().item()
                total_count += label.size(0)
        return total_acc / total_count

    total_accu = None
    for epoch in range(1, args.epochs + 1):
        epoch_start_time = time.time()
        model.train()
        for idx, (label, text, offsets) in enumerate(train_dataloader):
            optimizer.zero_grad()
            predicted_label = model(text, offsets)
            loss = criterion(predicted_label, label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
        accu_val = evaluate(test_dataloader)
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
        print('| end of epoch {:3d} | time: {:5.2f}s | valid accuracy {:8.3f} '.format(
            epoch, time.time() - epoch_start_time, accu_val))


if __name__ == '__main__':
    main()
