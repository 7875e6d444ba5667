"""Embedding and F.embedding: torch parity (values, weight gradients with padding_idx,
scale_grad_by_freq and max_norm), init, from_pretrained, gradchecks and errors."""
import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, rng

import lamina
from lamina.nn.layers.embedding import Embedding, embedding

try:
    import torch
except Exception:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _ids(shape, n=10, seed=0):
    return rng(seed).integers(0, n, shape)


@needs_torch
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), ()])
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_functional_parity(shape, padding_idx, scale_grad_by_freq):
    ids = _ids(shape)
    ids.reshape(-1)[:2] = 0  # make sure the padding id and repeats occur
    w = rng(1).standard_normal((10, 4)).astype(np.float32)
    parity(lambda w, i: embedding(i, w, padding_idx, scale_grad_by_freq=scale_grad_by_freq), w, ids,
           torch_fn=lambda w, i: torch.nn.functional.embedding(i, w, padding_idx,
                                                              scale_grad_by_freq=scale_grad_by_freq))


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_max_norm_renormalises_rows_in_place_like_torch(norm_type):
    w = (rng(2).standard_normal((10, 4)) * 2).astype(np.float32)
    ids = np.array([[1, 2, 2], [7, 9, 1]])
    lw, tw = lamina.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    ly = embedding(lamina.tensor(ids), lw, max_norm=1.5, norm_type=norm_type)
    ty = torch.nn.functional.embedding(torch.tensor(ids), tw, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lw.detach().numpy(), tw.detach().numpy(), rtol=1e-6, atol=1e-6)
    untouched = [r for r in range(10) if r not in ids]
    np.testing.assert_array_equal(lw.detach().numpy()[untouched], w[untouched])
    g = rng(3).standard_normal(ly.shape).astype(np.float32)
    ly.backward(lamina.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-6, atol=1e-6)


@needs_torch
def test_module_parity_state_dict_and_repr():
    tm = torch.nn.Embedding(12, 5, padding_idx=3, max_norm=2.0, scale_grad_by_freq=True)
    lm = Embedding(12, 5, padding_idx=3, max_norm=2.0, scale_grad_by_freq=True)
    assert repr(lm) == repr(tm)
    assert repr(Embedding(12, 5, norm_type=1.0)) == repr(torch.nn.Embedding(12, 5, norm_type=1.0))
    lm.load_state_dict(tm.state_dict())
    ids = _ids((4, 6), 12, seed=4)
    ids[0, :3] = 3
    ly, ty = lm(lamina.tensor(ids)), tm(torch.tensor(ids))
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    (ly * ly).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(lm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(lm.weight.grad.numpy()[3] == 0)


def test_gradients_and_second_derivatives():
    ids = np.array([[0, 3, 3], [2, 0, 1]])
    w = rng(5).standard_normal((4, 3))
    gradcheck(lambda w: embedding(ids, w), w)
    gradcheck(lambda w: embedding(ids, w) ** 2, noncontiguous(w))
    # padding_idx / scale_grad_by_freq change the gradient on purpose (torch parity covers them);
    # the second derivative goes through the same scaled scatter
    gradgradcheck(lambda w: embedding(ids, w) ** 3, w)


def test_init_padding_row_and_gradient():
    lamina.manual_seed(0)
    m = Embedding(1000, 64, padding_idx=5)
    w = m.weight.detach().numpy()
    assert m.weight.dtype == np.float32 and m.weight.requires_grad
    assert np.all(w[5] == 0)
    rest = np.delete(w, 5, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01  # N(0, 1), PyTorch's default
    ids = lamina.tensor([[5, 1, 5], [2, 5, 1]])
    out = m(ids)
    assert out.shape == (2, 3, 64)
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], np.zeros(64))
    out.sum().backward()
    g = m.weight.grad.numpy()
    assert np.all(g[5] == 0) and np.all(g[1] == 2) and np.all(g[2] == 1) and np.all(g[0] == 0)
    assert Embedding(10, 3, padding_idx=-1).padding_idx == 9


def test_from_pretrained():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    m = Embedding.from_pretrained(lamina.tensor(table))
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(lamina.tensor([2, 0])).numpy(), table[[2, 0]])
    m2 = Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert m2.weight.requires_grad and m2.padding_idx == 1
    np.testing.assert_array_equal(m2.weight.detach().numpy()[1], table[1])  # the padding row is kept
    m2(lamina.tensor([1, 1, 3])).sum().backward()
    np.testing.assert_array_equal(m2.weight.grad.numpy(), [[0] * 3, [0] * 3, [0] * 3, [1] * 3])
    with pytest.raises(ValueError, match="must be 2-D"):
        Embedding.from_pretrained(np.zeros(3))


def test_int32_ids_and_dtypes():
    m = Embedding(6, 2).double()
    out = m(lamina.tensor(np.array([1, 5], dtype=np.int32)))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.detach().numpy(), m.weight.detach().numpy()[[1, 5]])


def test_errors():
    m = Embedding(10, 3)
    with pytest.raises(TypeError, match="integer ids"):
        m(lamina.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match="index 10 is out of range for a table of 10"):
        m(lamina.tensor([1, 10]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        m(lamina.tensor([-1]))
    with pytest.raises(ValueError, match="padding_idx 10 must be within num_embeddings"):
        Embedding(10, 3, padding_idx=10)
    with pytest.raises(NotImplementedError, match="sparse"):
        Embedding(10, 3, sparse=True)
    with pytest.raises(ValueError, match="weight must be a 2-D tensor"):
        embedding(lamina.tensor([1]), lamina.randn(10))


def test_repeated_ids_accumulate_fast_path():
    """A batch large enough for the compiled row-accumulation path sums repeated ids exactly."""
    ids = _ids((32, 64), 96, seed=6)
    w = lamina.randn(96, 64, requires_grad=True)
    g = rng(7).standard_normal((32, 64, 64)).astype(np.float32)
    embedding(lamina.tensor(ids), w).backward(lamina.tensor(g))
    expect = np.zeros((96, 64))
    np.add.at(expect, ids.reshape(-1), g.reshape(-1, 64).astype(np.float64))
    np.testing.assert_allclose(w.grad.numpy(), expect, rtol=1e-5, atol=1e-4)
