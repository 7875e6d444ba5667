"""Transformer encoder/decoder layers and stacks: torch parity of outputs, input gradients and
every weight gradient (post- and pre-norm, relu / gelu / callable, every mask), state-dict
names and loading, deep copies, the causal-mask helper, nn.Transformer."""
import numpy as np
import pytest
from attn_common import backward_both, check_param_grads, close, load_from_torch, pair
from helpers import rng

import lamina
import lamina.nn.functional as LF
from lamina.nn.layers.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                                          TransformerEncoder, TransformerEncoderLayer, _detect_is_causal_mask,
                                          generate_square_subsequent_mask)

torch = pytest.importorskip("torch")

D, NH, FF, N, S, T = 8, 2, 16, 3, 5, 4


def _enc_layer(**kw):
    kw.setdefault("dropout", 0.0)
    tm = torch.nn.TransformerEncoderLayer(D, NH, FF, **kw).double()
    lm = TransformerEncoderLayer(D, NH, FF, **kw).double()
    return load_from_torch(lm, tm), tm


def _dec_layer(**kw):
    kw.setdefault("dropout", 0.0)
    tm = torch.nn.TransformerDecoderLayer(D, NH, FF, **kw).double()
    lm = TransformerDecoderLayer(D, NH, FF, **kw).double()
    return load_from_torch(lm, tm), tm


def _masks(kind, L, Sk, batch=True):
    """(lamina, torch) versions of an attn mask (L, Sk) and a key padding mask (N, Sk)."""
    am = np.triu(np.ones((L, Sk), bool), 1) | (rng(3).random((L, Sk)) > 0.8)
    am[:, 0] = False
    kpm = np.zeros((N, Sk), bool)
    kpm[1, -1] = True
    if kind == "float":
        am, kpm = np.where(am, -np.inf, 0.0), np.where(kpm, -np.inf, 0.0)
    return ((lamina.tensor(am), torch.tensor(am)), (lamina.tensor(kpm), torch.tensor(kpm)))


def _compare(lm, tm, louts, touts, inputs, tol=1e-9):
    for a, b in zip(louts, touts):
        close(a, b, "output", tol)
    backward_both(louts, touts)
    for la, ta in inputs:
        close(la.grad, ta.grad, "input gradient", tol)
    check_param_grads(lm, tm, tol)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_parity(norm_first, activation, batch_first):
    lm, tm = _enc_layer(activation=activation, norm_first=norm_first, batch_first=batch_first)
    lx, tx = pair(rng(1).standard_normal((N, S, D) if batch_first else (S, N, D)))
    _compare(lm, tm, [lm(lx)], [tm(tx)], [(lx, tx)])


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_masks(kind, norm_first):
    lm, tm = _enc_layer(norm_first=norm_first, batch_first=True)
    (lam, tam), (lkp, tkp) = _masks(kind, S, S)
    lx, tx = pair(rng(2).standard_normal((N, S, D)))
    _compare(lm, tm, [lm(lx, src_mask=lam, src_key_padding_mask=lkp)],
             [tm(tx, src_mask=tam, src_key_padding_mask=tkp)], [(lx, tx)])


def test_encoder_layer_causal_hint_and_callable_activation():
    lm, tm = _enc_layer(batch_first=True, activation=LF.silu)
    tm.activation = torch.nn.functional.silu
    lx, tx = pair(rng(3).standard_normal((N, S, D)))
    lmask, tmask = generate_square_subsequent_mask(S, dtype=lamina.float64), \
        torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
    _compare(lm, tm, [lm(lx, src_mask=lmask, is_causal=True)], [tm(tx, src_mask=tmask, is_causal=True)], [(lx, tx)])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_parity(norm_first, activation, batch_first):
    lm, tm = _dec_layer(activation=activation, norm_first=norm_first, batch_first=batch_first)
    r = rng(4)
    lt, tt = pair(r.standard_normal((N, T, D) if batch_first else (T, N, D)))
    lmem, tmem = pair(r.standard_normal((N, S, D) if batch_first else (S, N, D)))
    _compare(lm, tm, [lm(lt, lmem)], [tm(tt, tmem)], [(lt, tt), (lmem, tmem)])


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_decoder_layer_masks(kind):
    lm, tm = _dec_layer(batch_first=True, norm_first=True, activation="gelu")
    r = rng(5)
    lt, tt = pair(r.standard_normal((N, T, D)))
    lmem, tmem = pair(r.standard_normal((N, S, D)))
    (ltm, ttm), (ltk, ttk) = _masks(kind, T, T)
    (lmm, tmm), (lmk, tmk) = _masks(kind, T, S)
    lo = lm(lt, lmem, tgt_mask=ltm, memory_mask=lmm, tgt_key_padding_mask=ltk, memory_key_padding_mask=lmk)
    to = tm(tt, tmem, tgt_mask=ttm, memory_mask=tmm, tgt_key_padding_mask=ttk, memory_key_padding_mask=tmk)
    _compare(lm, tm, [lo], [to], [(lt, tt), (lmem, tmem)])


@pytest.mark.parametrize("with_norm", [False, True])
def test_encoder_stack_parity_and_state_dict(with_norm):
    tl = torch.nn.TransformerEncoderLayer(D, NH, FF, 0.0, batch_first=True, norm_first=True)
    tm = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(D) if with_norm else None,
                                     enable_nested_tensor=False).double()
    ll = TransformerEncoderLayer(D, NH, FF, 0.0, batch_first=True, norm_first=True)
    from lamina.nn.layers.normalization import LayerNorm
    lm = TransformerEncoder(ll, 2, norm=LayerNorm(D) if with_norm else None).double()
    assert list(lm.state_dict()) == list(tm.state_dict())
    assert "layers.1.self_attn.in_proj_weight" in lm.state_dict()
    load_from_torch(lm, tm)
    lx, tx = pair(rng(6).standard_normal((N, S, D)))
    lmask = generate_square_subsequent_mask(S, dtype=lamina.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
    _, (lkp, tkp) = _masks("bool", S, S)
    _compare(lm, tm, [lm(lx, mask=lmask), lm(lx, src_key_padding_mask=lkp)],
             [tm(tx, mask=tmask), tm(tx, src_key_padding_mask=tkp)], [(lx, tx)])


def test_decoder_stack_parity():
    tl = torch.nn.TransformerDecoderLayer(D, NH, FF, 0.0)
    tm = torch.nn.TransformerDecoder(tl, 2, norm=torch.nn.LayerNorm(D)).double()
    from lamina.nn.layers.normalization import LayerNorm
    lm = TransformerDecoder(TransformerDecoderLayer(D, NH, FF, 0.0), 2, norm=LayerNorm(D)).double()
    assert list(lm.state_dict()) == list(tm.state_dict())
    load_from_torch(lm, tm)
    r = rng(7)
    lt, tt = pair(r.standard_normal((T, N, D)))
    lmem, tmem = pair(r.standard_normal((S, N, D)))
    lmask = generate_square_subsequent_mask(T, dtype=lamina.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    _compare(lm, tm, [lm(lt, lmem, tgt_mask=lmask)], [tm(tt, tmem, tgt_mask=tmask)], [(lt, tt), (lmem, tmem)])


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
def test_full_transformer_parity():
    kw = dict(d_model=D, nhead=NH, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=FF, dropout=0.0)
    tm = torch.nn.Transformer(**kw).double()
    lm = Transformer(**kw).double()
    assert list(lm.state_dict()) == list(tm.state_dict())
    load_from_torch(lm, tm)
    r = rng(8)
    ls, ts = pair(r.standard_normal((S, N, D)))
    lt, tt = pair(r.standard_normal((T, N, D)))
    lmask = lm.generate_square_subsequent_mask(T, dtype=lamina.float64)
    tmask = tm.generate_square_subsequent_mask(T, dtype=torch.float64)
    _compare(lm, tm, [lm(ls, lt, tgt_mask=lmask)], [tm(ts, tt, tgt_mask=tmask)], [(ls, ts), (lt, tt)])
    with pytest.raises(RuntimeError, match="batch number"):
        lm(lamina.randn(S, 2, D, dtype=lamina.float64), lamina.randn(T, 3, D, dtype=lamina.float64))


def test_full_transformer_xavier_init():
    m = Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_float32_block_parity_eval_and_train():
    """The gpt benchmark's block shape (scaled down) in float32, through the Numba kernels."""
    kw = dict(dim_feedforward=32, dropout=0.1, activation="gelu", batch_first=True, norm_first=True)
    tm = torch.nn.TransformerEncoderLayer(16, 4, **kw)
    lm = load_from_torch(TransformerEncoderLayer(16, 4, **kw), tm)
    tm.eval(), lm.eval()
    lx, tx = pair(rng(9).standard_normal((2, 12, 16)).astype(np.float32))
    lmask, tmask = generate_square_subsequent_mask(12), torch.nn.Transformer.generate_square_subsequent_mask(12)
    _compare(lm, tm, [lm(lx, src_mask=lmask, is_causal=True)], [tm(tx, src_mask=tmask, is_causal=True)],
             [(lx, tx)], tol=2e-5)
    lm.train()
    a = lm(lx, src_mask=lmask).detach().numpy()
    b = lm(lx, src_mask=lmask).detach().numpy()
    assert not np.allclose(a, b)  # dropout is active in training


def test_stack_layers_are_independent_deep_copies():
    layer = TransformerEncoderLayer(D, NH, FF)
    enc = TransformerEncoder(layer, 3)
    ws = [m.self_attn.in_proj_weight for m in enc.layers]
    assert len({id(w) for w in ws}) == 3 and all(w is not layer.self_attn.in_proj_weight for w in ws)
    np.testing.assert_array_equal(ws[0].detach().numpy(), ws[2].detach().numpy())  # copies, same values
    ws[0].array[...] = 0
    assert not np.all(ws[1].detach().numpy() == 0)
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


def test_generate_square_subsequent_mask_and_causal_detection():
    m = generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert m.dtype == lamina.float32
    assert _detect_is_causal_mask(m) is True
    assert _detect_is_causal_mask(lamina.tensor(np.triu(np.ones((4, 4), bool), 1))) is True
    assert _detect_is_causal_mask(lamina.zeros(4, 4)) is False
    assert _detect_is_causal_mask(m, size=5) is False
    assert _detect_is_causal_mask(None) is False and _detect_is_causal_mask(m, False) is False


def test_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        TransformerEncoderLayer(D, NH, FF, activation="tanh")
    with pytest.raises(ValueError, match="divisible"):
        TransformerEncoderLayer(10, 3)
    layer = TransformerEncoderLayer(D, NH, FF, batch_first=True)
    x = lamina.randn(N, S, D)
    with pytest.raises(ValueError, match=r"2D attn_mask is \(4, 4\), but should be \(5, 5\)"):
        layer(x, src_mask=lamina.zeros(4, 4))
    with pytest.raises(ValueError, match="embed_dim=8"):
        layer(lamina.randn(N, S, 6))
