"""GPT model: shapes, parameter count, init loss, causality, config errors, registry."""
import math

import numpy as np
import pytest

import lamina
from lamina.models.gpt import GPT, GPTConfig


def tiny(**kw):
    cfg = dict(vocab_size=23, block_size=16, n_layer=2, n_head=4, n_embd=32)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg))


def ids(B, T, V=23, seed=0):
    return lamina.tensor(np.random.default_rng(seed).integers(0, V, (B, T)))


def expected_params(V, C, L, E, M, bias=True, tied=False):
    b = 1 if bias else 0
    per_layer = (2 * E if bias else E) * 2 + (3 * E * E + b * 3 * E) + (E * E + b * E) + (E * M + b * M) + (M * E + b * E)
    return V * E + C * E + L * per_layer + (2 * E if bias else E) + (0 if tied else V * E)


def test_shapes_and_loss():
    m = tiny()
    x = ids(3, 10)
    logits, loss = m(x)
    assert logits.shape == (3, 10, 23) and loss is None
    logits, loss = m(x, ids(3, 10, seed=1))
    assert loss.shape == () and logits.dtype == np.float32


@pytest.mark.parametrize("bias,tied,mlp", [(True, False, None), (False, False, 48), (True, True, None)])
def test_param_count_formula(bias, tied, mlp):
    m = tiny(bias=bias, tie_weights=tied, mlp_hidden=mlp)
    M = mlp or 4 * 32
    assert m.num_params() == expected_params(23, 16, 2, 32, M, bias, tied)
    assert m.num_params(non_embedding=True) == m.num_params() - 16 * 32
    if tied:
        assert m.lm_head.weight is m.transformer.wte.weight


def test_benchmark_config_param_count():
    m = GPT(GPTConfig(96, 128, 4, 4, 128, mlp_hidden=512))
    assert m.num_params() == expected_params(96, 128, 4, 128, 512) == 834_304


def test_state_dict_names_follow_nanogpt():
    keys = list(tiny(n_layer=1).state_dict())
    assert keys[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]
    for k in ("transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_proj.bias",
              "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_proj.weight", "transformer.ln_f.bias",
              "lm_head.weight"):
        assert k in keys
    assert "lm_head.bias" not in keys


def test_init_loss_is_about_ln_vocab():
    m = GPT(GPTConfig(96, 64, 2, 4, 64))
    _, loss = m(ids(8, 64, 96), ids(8, 64, 96, seed=1))
    assert abs(loss.item() - math.log(96)) < 0.05


def test_causal_future_tokens_do_not_change_past_logits():
    m = tiny()
    x = ids(2, 12).numpy()
    y = x.copy()
    y[:, 7:] = (y[:, 7:] + 5) % 23
    with lamina.no_grad():
        a, _ = m(lamina.tensor(x))
        b, _ = m(lamina.tensor(y))
    np.testing.assert_allclose(a.numpy()[:, :7], b.numpy()[:, :7], rtol=1e-5, atol=1e-6)
    assert np.abs(a.numpy()[:, 7:] - b.numpy()[:, 7:]).max() > 1e-3


def test_gradients_reach_every_parameter():
    m = tiny()
    _, loss = m(ids(2, 8), ids(2, 8, seed=3))
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name
        assert np.abs(p.grad.numpy()).sum() > 0, name


def test_too_long_sequence_is_a_clear_error():
    m = tiny()
    with pytest.raises(ValueError, match="block_size"):
        m(ids(1, 17))


def test_input_errors():
    m = tiny()
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        m(lamina.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="integer"):
        m(lamina.randn(2, 3))
    with pytest.raises(ValueError, match="targets"):
        m(ids(2, 5), ids(2, 4))


@pytest.mark.parametrize("kw,msg", [(dict(n_embd=30), "divisible"), (dict(vocab_size=0), "vocab_size"),
                                    (dict(dropout=1.0), "dropout"), (dict(n_layer=2.5), "n_layer")])
def test_config_errors(kw, msg):
    cfg = dict(vocab_size=23, block_size=16, n_layer=2, n_head=4, n_embd=32)
    cfg.update(kw)
    with pytest.raises(ValueError, match=msg):
        GPTConfig(**cfg)


def test_config_round_trip_and_registry():
    from lamina.models.registry import create_model

    m = tiny(tie_weights=True)
    cfg = m.get_config()
    assert cfg["mlp_hidden"] == 128 and cfg["tie_weights"] is True
    assert GPT.from_config(cfg).num_params() == m.num_params()
    with pytest.raises(ValueError, match="unknown key"):
        GPTConfig.from_dict({"vocab": 3})
    g = create_model("gpt", vocab_size=23, block_size=16, n_layer=1, n_head=2, n_embd=16)
    assert isinstance(g, GPT) and g.config.n_layer == 1
    assert GPT(vocab_size=23, block_size=8, n_layer=1, n_head=1, n_embd=8).config.block_size == 8


def test_dropout_only_in_training():
    m = tiny(dropout=0.5)
    x = ids(2, 8)
    m.eval()
    with lamina.no_grad():
        a, b = m(x)[0].numpy(), m(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    with lamina.no_grad():
        c = m(x)[0].numpy()
    assert np.abs(a - c).max() > 1e-4
