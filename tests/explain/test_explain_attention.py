"""attention_maps: GPT's and BERT's weights equal a softmax recomputed by hand (NumPy forward of the
whole small model); nn.TransformerEncoder's equal MultiheadAttention's own per-head weights."""
import math

import numpy as np
import pytest
from scipy.special import erf

import lamina
from lamina import nn
from lamina.explain import attention_layers, attention_maps, stack_attention
from lamina.models import GPT, BertConfig, BertModel, GPTConfig


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _heads(x, H):
    B, T, E = x.shape
    return x.reshape(B, T, H, E // H).transpose(0, 2, 1, 3)


def test_gpt_attention_maps_equal_a_hand_computed_softmax():
    lamina.manual_seed(0)
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
    model = GPT(cfg).double()
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    idx = np.random.default_rng(0).integers(0, 11, (2, 6))
    maps = attention_maps(model, idx)
    assert list(maps) == ["transformer.h.0.attn", "transformer.h.1.attn"] == attention_layers(model)
    T, H, d = 6, 2, 4
    h = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][:T]
    for l in range(2):
        p = f"transformer.h.{l}."
        n = _ln(h, sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], 1e-5)
        q, k, v = np.split(n @ sd[p + "attn.c_attn.weight"].T + sd[p + "attn.c_attn.bias"], 3, -1)
        s = _heads(q, H) @ _heads(k, H).transpose(0, 1, 3, 2) / math.sqrt(d)
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
        A = _softmax(s)
        np.testing.assert_allclose(maps[p + "attn"], A, atol=1e-10)
        assert maps[p + "attn"].shape == (2, H, T, T)
        y = (A @ _heads(v, H)).transpose(0, 2, 1, 3).reshape(2, T, 8)
        h = h + y @ sd[p + "attn.c_proj.weight"].T + sd[p + "attn.c_proj.bias"]
        n = _ln(h, sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], 1e-5)
        h = h + _gelu(n @ sd[p + "mlp.c_fc.weight"].T + sd[p + "mlp.c_fc.bias"]) @ sd[p + "mlp.c_proj.weight"].T \
            + sd[p + "mlp.c_proj.bias"]
    assert np.triu(maps["transformer.h.1.attn"][0, 0], 1).max() == 0      # no weight on future tokens
    assert stack_attention(maps).shape == (2, 2, H, T, T)


def test_bert_attention_maps_equal_a_hand_computed_softmax_with_padding():
    lamina.manual_seed(1)
    cfg = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                     max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertModel(cfg).double()
    model.train()                                  # attention_maps switches to eval and back
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    ids = np.array([[2, 5, 7, 9, 3], [4, 6, 8, 0, 0]])
    mask = (ids != 0).astype(np.int64)
    maps = attention_maps(model, ids, attention_mask=mask)
    assert model.training
    assert list(maps) == [f"encoder.layer.{l}.attention.self" for l in range(2)]
    e = sd["embeddings.word_embeddings.weight"][ids] + sd["embeddings.token_type_embeddings.weight"][0] \
        + sd["embeddings.position_embeddings.weight"][:5]
    h = _ln(e, sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], 1e-12)
    for l in range(2):
        p = f"encoder.layer.{l}."
        lin = lambda x, name: x @ sd[p + name + ".weight"].T + sd[p + name + ".bias"]
        q, k, v = (_heads(lin(h, "attention.self." + n), 2) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / 2.0
        s = np.where(mask[:, None, None, :] == 1, s, -np.inf)
        A = _softmax(s)
        np.testing.assert_allclose(maps[p + "attention.self"], A, atol=1e-10)
        ctx = (A @ v).transpose(0, 2, 1, 3).reshape(2, 5, 8)
        a = _ln(lin(ctx, "attention.output.dense") + h, sd[p + "attention.output.LayerNorm.weight"],
                sd[p + "attention.output.LayerNorm.bias"], 1e-12)
        h = _ln(lin(_gelu(lin(a, "intermediate.dense")), "output.dense") + a, sd[p + "output.LayerNorm.weight"],
                sd[p + "output.LayerNorm.bias"], 1e-12)
    assert np.all(maps["encoder.layer.1.attention.self"][1, :, :, 3:] == 0)  # padding keys get no weight
    np.testing.assert_allclose(model(ids, mask).last_hidden_state.detach().numpy(), h, atol=1e-9)   # hooks are gone


def test_transformer_encoder_maps_equal_multihead_attention_weights():
    lamina.manual_seed(2)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2).double()
    x = lamina.tensor(np.random.default_rng(3).standard_normal((2, 5, 8)))
    ref_out = enc(x).detach().numpy()
    maps = attention_maps(enc, x)
    assert list(maps) == ["layers.0.self_attn", "layers.1.self_attn"]
    h = x
    for l in range(2):
        att = enc.layers[l].self_attn
        _, w = att(h, h, h, average_attn_weights=False)
        np.testing.assert_allclose(maps[f"layers.{l}.self_attn"], w.detach().numpy(), atol=1e-12)
        h = enc.layers[l](h)
    np.testing.assert_allclose(enc(x).detach().numpy(), ref_out, atol=1e-12)
    # a caller asking for averaged weights still gets them while maps are recorded
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    out, w = mha(x, x, x)
    got = attention_maps(_Wrap(mha), x)
    np.testing.assert_allclose(got["mha"].mean(1), w.detach().numpy(), atol=1e-12)


class _Wrap(nn.Module):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        out, w = self.mha(x, x, x)
        assert w is not None and w.ndim == 3          # the averaged weights the caller asked for
        return out


def test_model_without_attention_is_an_error():
    with pytest.raises(ValueError, match="no attention layers"):
        attention_maps(nn.Linear(3, 2), lamina.randn(1, 3))
