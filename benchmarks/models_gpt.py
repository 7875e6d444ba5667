"""Builders of DESIGN.md's ``gpt`` benchmark workload, in lamina and in PyTorch.

A char-level decoder-only transformer: vocab 96, context 128, d_model 128, 4 layers, 4 heads,
MLP 512 with GELU, pre-LayerNorm, learned positions, untied head; batch 32; AdamW(3e-4, weight
decay 0.01). Each builder returns a ``step()`` closure: forward + backward + optimizer update on
one fixed random batch (the pattern of ``benchmarks/workloads.py``). torch is imported inside
``gpt_torch`` only: it is the yardstick, lamina never needs it.
"""
from __future__ import annotations

import numpy as np

VOCAB, CONTEXT, D_MODEL, LAYERS, HEADS, MLP, BATCH = 96, 128, 128, 4, 4, 512, 32


def _batch(seed=0):
    r = np.random.default_rng(seed)
    ids = r.integers(0, VOCAB, (BATCH, CONTEXT + 1)).astype(np.int64)
    return np.ascontiguousarray(ids[:, :-1]), np.ascontiguousarray(ids[:, 1:])


def gpt_lamina():
    import lamina
    from lamina import optim
    from lamina.models.gpt import GPT, GPTConfig

    x, y = _batch()
    x, y = lamina.tensor(x), lamina.tensor(y)
    model = GPT(GPTConfig(VOCAB, CONTEXT, LAYERS, HEADS, D_MODEL, mlp_hidden=MLP))
    opt = optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)

    def step():
        opt.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_gpt(vocab=VOCAB, context=CONTEXT, d_model=D_MODEL, layers=LAYERS, heads=HEADS, mlp=MLP):
    """The same GPT in torch.nn, with lamina's parameter names (a reference model for parity tests)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(d_model, 3 * d_model)
            self.c_proj = nn.Linear(d_model, d_model)

        def forward(self, x):
            B, T, E = x.shape
            q, k, v = self.c_attn(x).split(E, -1)
            q, k, v = (t.view(B, T, heads, E // heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, E))

    class Mlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(d_model, mlp)
            self.c_proj = nn.Linear(mlp, d_model)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(d_model), Attention()
            self.ln_2, self.mlp = nn.LayerNorm(d_model), Mlp()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, d_model), wpe=nn.Embedding(context, d_model),
                h=nn.ModuleList([Block() for _ in range(layers)]), ln_f=nn.LayerNorm(d_model)))
            self.lm_head = nn.Linear(d_model, vocab, bias=False)

        def forward(self, idx, targets=None):
            tr = self.transformer
            T = idx.shape[1]
            x = tr.wte(idx) + tr.wpe(torch.arange(T))
            for block in tr.h:
                x = block(x)
            logits = self.lm_head(tr.ln_f(x))
            loss = None if targets is None else F.cross_entropy(logits.view(-1, vocab), targets.view(-1))
            return logits, loss

    return Net()


def gpt_torch():
    import torch

    x, y = _batch()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = torch_gpt()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)

    def step():
        opt.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    return step
