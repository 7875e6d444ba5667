"""Sinusoidal and learned positional encodings: the table's formula, buffers and state-dict
keys, layouts, gradients, dropout and errors."""
import math

import numpy as np
import pytest
from helpers import rng

import lamina
from lamina.nn.layers.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding, sinusoidal_table


@pytest.mark.parametrize("d", [8, 7])
def test_sinusoidal_table_formula(d):
    pe = sinusoidal_table(20, d, np.float64)
    for pos in (0, 1, 13):
        for i in range(d):
            angle = pos / 10000 ** (2 * (i // 2) / d)
            want = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert pe[pos, i] == pytest.approx(want, abs=1e-12)


def test_sinusoidal_module_adds_table_and_is_not_saved():
    m = SinusoidalPositionalEncoding(8, max_len=16, dropout=0.0)
    assert m.state_dict() == {} and m.pe.shape == (16, 8) and m.pe.dtype == lamina.float32
    x = lamina.tensor(rng(1).standard_normal((3, 5, 8)).astype(np.float32), requires_grad=True)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() + sinusoidal_table(16, 8)[:5], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 5, 8)))
    seq_first = SinusoidalPositionalEncoding(8, max_len=16, dropout=0.0, batch_first=False)
    xs = lamina.randn(5, 3, 8)
    np.testing.assert_allclose(seq_first(xs).numpy(), xs.numpy() + sinusoidal_table(16, 8)[:5, None], rtol=1e-6)
    np.testing.assert_allclose(m(lamina.zeros(5, 8)).numpy(), sinusoidal_table(16, 8)[:5], rtol=1e-6)
    assert m.double()(lamina.zeros(2, 4, 8, dtype=lamina.float64)).dtype == lamina.float64


def test_sinusoidal_dropout_train_eval():
    m = SinusoidalPositionalEncoding(8, max_len=16, dropout=0.5)
    x = lamina.ones(4, 10, 8)
    y = m(x).numpy()
    assert 0.3 < (y == 0).mean() < 0.7
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), np.broadcast_to(1 + sinusoidal_table(16, 8)[:10], (4, 10, 8)), rtol=1e-6)


def test_learned_positional_embedding():
    m = LearnedPositionalEmbedding(12, 6)
    assert list(m.state_dict()) == ["weight"] and m.weight.shape == (12, 6)
    w = m.weight.detach().numpy()
    assert abs(w.std() - 1) < 0.4  # N(0, 1) as nn.Embedding
    x = lamina.tensor(rng(2).standard_normal((2, 5, 6)).astype(np.float32), requires_grad=True)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() + w[:5], rtol=1e-6)
    y.sum().backward()
    g = m.weight.grad.numpy()
    np.testing.assert_array_equal(g[:5], np.full((5, 6), 2.0))   # summed over the batch
    np.testing.assert_array_equal(g[5:], 0)
    seq_first = LearnedPositionalEmbedding(12, 6, batch_first=False)
    xs = lamina.randn(5, 2, 6)
    np.testing.assert_allclose(seq_first(xs).detach().numpy(), xs.numpy() + seq_first.weight.detach().numpy()[:5, None])


def test_errors():
    m = SinusoidalPositionalEncoding(8, max_len=4)
    with pytest.raises(ValueError, match="sequence length 5 exceeds max_len=4"):
        m(lamina.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"d_model=8\): expected input of shape"):
        m(lamina.randn(2, 3, 6))
    with pytest.raises(ValueError, match="exceeds max_len=3"):
        LearnedPositionalEmbedding(3, 4)(lamina.randn(1, 4, 4))
