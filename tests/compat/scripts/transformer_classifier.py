"""Sequence classification with nn.TransformerEncoder: does a token sequence contain more 'up' than
'down' tokens? Positional encoding as a registered buffer, a padding mask, AdamW with warmup via
LambdaLR, gradient clipping, and label smoothing."""
import argparse
import math

import torch
import torch.nn as nn

PAD, UP, DOWN, VOCAB = 0, 1, 2, 12


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class Classifier(nn.Module):
    def __init__(self, d_model=32, nhead=4, d_hid=64, nlayers=2, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, d_model, padding_idx=PAD)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.d_model = d_model
        self.head = nn.Linear(d_model, 2)

    def forward(self, src, src_key_padding_mask):
        src = self.embedding(src) * math.sqrt(self.d_model)       # (T, N, E)
        src = self.pos_encoder(src)
        out = self.transformer_encoder(src, src_key_padding_mask=src_key_padding_mask)
        keep = (~src_key_padding_mask).t().unsqueeze(-1).float()  # (T, N, 1)
        pooled = (out * keep).sum(0) / keep.sum(0)
        return self.head(pooled)


def make_batch(gen, n=64, t=20):
    lengths = torch.randint(8, t + 1, (n,), generator=gen)
    tokens = torch.randint(1, VOCAB, (n, t), generator=gen)
    mask = torch.arange(t).unsqueeze(0) >= lengths.unsqueeze(1)
    tokens = tokens.masked_fill(mask, PAD)
    label = ((tokens == UP).sum(1) > (tokens == DOWN).sum(1)).long()
    return tokens.t().contiguous(), mask, label


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=60)
    args = parser.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    batches = [make_batch(gen) for _ in range(8)]
    model = Classifier()
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    warmup = 10
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    for step in range(args.steps):
        model.train()
        src, mask, label = batches[step % len(batches)]
        logits = model(src, mask)
        loss = criterion(logits, label)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if step % 10 == 0:
            model.eval()
            with torch.no_grad():
                acc = (model(src, mask).argmax(-1) == label).float().mean().item()
            print(f"step {step} loss {loss.item():.4f} acc {acc:.3f}")


if __name__ == '__main__':
    main()
