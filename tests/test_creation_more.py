"""More creation functions: logspace, scalar_tensor, vander, empty_strided, the signal windows,
multinomial, poisson, normal's variants and generators. Values and dtypes against torch,
statistics of the random draws, reproducibility from a seed, and errors.
"""
import math

import numpy as np
import pytest

import lamina
from helpers import gradcheck, parity, requires_torch, rng, torch


@requires_torch
@pytest.mark.parametrize("args,kw", [((0, 2, 3), {}), ((0, 2, 3), {"base": 2}), ((-1.0, 1.5, 6), {}),
                                     ((0, 2, 3), {"dtype": "int64"}), ((1, 1, 0), {})])
def test_logspace(args, kw):
    lkw = {k: (getattr(lamina, v) if k == "dtype" else v) for k, v in kw.items()}
    tkw = {k: (getattr(torch, v) if k == "dtype" else v) for k, v in kw.items()}
    l, t = lamina.logspace(*args, **lkw), torch.logspace(*args, **tkw)
    assert str(l.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(l.numpy(), t.numpy(), rtol=1e-6)


@requires_torch
def test_scalar_tensor_and_empty_strided():
    for v, dt in ((1, None), (2.5, None), (3, "int64"), (True, "bool")):
        l = lamina.scalar_tensor(v, dtype=getattr(lamina, dt) if dt else None)
        t = torch.scalar_tensor(v, dtype=getattr(torch, dt) if dt else None)
        assert l.shape == () and str(l.dtype) == str(t.dtype).replace("torch.", "") and l.item() == t.item()
    e = lamina.empty_strided((2, 3), (1, 2), dtype=lamina.float64)
    assert e.shape == (2, 3) and e.stride() == (1, 2) and e.dtype == lamina.float64
    assert lamina.empty_strided((2, 0), (1, 1)).shape == (2, 0)


@requires_torch
def test_vander_values_and_gradient():
    x = np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)
    for kw in ({}, {"N": 3}, {"N": 5, "increasing": True}, {"N": 0}):  # torch's own vander backward fails
        parity(lambda t: (lamina if isinstance(t, lamina.Tensor) else torch).vander(t, **kw), x, grad=False)
    ints = lamina.vander(lamina.tensor([1, 2, 3]))
    assert ints.dtype == lamina.int64 and ints.tolist() == torch.vander(torch.tensor([1, 2, 3])).tolist()
    gradcheck(lambda t: lamina.vander(t, 4), rng(0).standard_normal(3))


@requires_torch
@pytest.mark.parametrize("name,kw", [("hann_window", {}), ("hamming_window", {}), ("hamming_window", {"alpha": 0.5,
                                     "beta": 0.4}), ("blackman_window", {}), ("bartlett_window", {}),
                                     ("kaiser_window", {}), ("kaiser_window", {"beta": 3.0})])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(name, kw, n, periodic):
    l = getattr(lamina, name)(n, periodic, **kw)
    t = getattr(torch, name)(n, periodic, **kw)
    assert l.dtype == lamina.float32 and l.shape == tuple(t.shape)
    np.testing.assert_allclose(l.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)
    assert getattr(lamina, name)(n, periodic, dtype=lamina.float64, **kw).dtype == lamina.float64


def test_multinomial_with_replacement_frequencies():
    p = lamina.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 0.0, 2.0]])
    draws = lamina.multinomial(p, 20000, replacement=True, generator=lamina.Generator().manual_seed(0))
    assert draws.shape == (2, 20000) and draws.dtype == lamina.int64
    freq = np.stack([np.bincount(row, minlength=4) / 20000 for row in draws.numpy()])
    np.testing.assert_allclose(freq, [[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.0, 0.5]], atol=0.015)


def test_multinomial_without_replacement_is_a_permutation_of_nonzero_categories():
    w = lamina.tensor([[5.0, 0.0, 1.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    d = w.multinomial(3)
    assert d.shape == (2, 3)
    for row in d.numpy():
        assert len(set(row.tolist())) == 3
    assert 1 not in d.numpy()[0]
    # first draws follow the weights: P(first = 0) = 5/8 in row 0
    gen = lamina.Generator().manual_seed(1)
    first = lamina.multinomial(w[0].expand(4000, 4).contiguous(), 1, generator=gen).numpy()[:, 0]
    assert abs((first == 0).mean() - 5 / 8) < 0.03
    # second draws without replacement: P(second = 3 | first = 0) = 2/3
    pairs = lamina.multinomial(w[0].expand(6000, 4).contiguous(), 2, generator=gen).numpy()
    sel = pairs[pairs[:, 0] == 0]
    assert abs((sel[:, 1] == 3).mean() - 2 / 3) < 0.04


def test_multinomial_is_reproducible_from_a_seed():
    p = lamina.tensor([0.2, 0.3, 0.5])
    a = lamina.multinomial(p, 10, True, generator=lamina.Generator().manual_seed(7))
    b = lamina.multinomial(p, 10, True, generator=lamina.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()
    lamina.manual_seed(3)
    c = lamina.multinomial(p, 2)
    lamina.manual_seed(3)
    assert lamina.multinomial(p, 2).tolist() == c.tolist()


def test_poisson_statistics_and_dtype():
    rates = lamina.tensor([0.0, 1.0, 4.0, 20.0]).expand(5000, 4).contiguous()
    d = lamina.poisson(rates, generator=lamina.Generator().manual_seed(0))
    assert d.dtype == lamina.float32 and d.shape == (5000, 4)
    np.testing.assert_allclose(d.numpy().mean(0), [0.0, 1.0, 4.0, 20.0], rtol=0.05, atol=0.02)
    np.testing.assert_allclose(d.numpy().var(0), [0.0, 1.0, 4.0, 20.0], rtol=0.1, atol=0.02)


def test_normal_variants_shapes_and_moments():
    g = lamina.Generator().manual_seed(0)
    assert lamina.normal(lamina.zeros(2, 1), lamina.ones(3), generator=g).shape == (2, 3)
    assert lamina.normal(0.0, lamina.ones(3), generator=g).shape == (3,)
    assert lamina.normal(lamina.zeros(3), generator=g).shape == (3,)
    x = lamina.normal(2.0, 3.0, (20000,), generator=g)
    assert abs(x.mean().item() - 2.0) < 0.1 and abs(x.std().item() - 3.0) < 0.1
    m = lamina.normal(lamina.tensor([-5.0, 5.0]).expand(20000, 2), lamina.tensor([0.5, 2.0]), generator=g)
    np.testing.assert_allclose(m.numpy().mean(0), [-5.0, 5.0], atol=0.06)
    np.testing.assert_allclose(m.numpy().std(0), [0.5, 2.0], rtol=0.03)


def test_generators_make_random_creation_reproducible():
    for fn in (lambda g: lamina.rand(3, generator=g), lambda g: lamina.randn(3, generator=g),
               lambda g: lamina.randint(0, 10, (4,), generator=g), lambda g: lamina.randperm(5, generator=g),
               lambda g: lamina.normal(0.0, 1.0, (3,), generator=g), lambda g: lamina.poisson(lamina.ones(3), g),
               lambda g: lamina.bernoulli(lamina.full((4,), 0.5), generator=g)):
        a = fn(lamina.Generator().manual_seed(5))
        b = fn(lamina.Generator().manual_seed(5))
        c = fn(lamina.Generator().manual_seed(6))
        assert a.tolist() == b.tolist()
        assert a.tolist() != c.tolist() or a.numel() < 4


@requires_torch
def test_like_constructors_follow_torch():
    i = np.ones(2, dtype=np.int64)
    for name, args in (("full_like", (2.5,)), ("zeros_like", ()), ("ones_like", ()), ("empty_like", ())):
        l = getattr(lamina, name)(lamina.tensor(i), *args)
        t = getattr(torch, name)(torch.tensor(i), *args)
        assert str(l.dtype) == str(t.dtype).replace("torch.", "") and l.shape == tuple(t.shape)
        if name != "empty_like":
            assert l.tolist() == t.tolist()
    assert lamina.full_like(lamina.zeros(2), 3, dtype=lamina.int64).tolist() == [3, 3]


@requires_torch
def test_errors_match_torch():
    checks = [
        lambda m: m.logspace(0, 2, -1),
        lambda m: m.hann_window(-1),
        lambda m: m.hann_window(3, dtype=m.int64),
        lambda m: m.multinomial(m.tensor([0.0, 1.0]), 3),
        lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1),
        lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
        lambda m: m.multinomial(m.ones(2, 2, 2), 1),
        lambda m: m.multinomial(m.tensor([1, 2]), 1),
        lambda m: m.multinomial(m.tensor([1.0, 2.0]), 0),
        lambda m: m.poisson(m.tensor([-1.0])),
        lambda m: m.normal(0.0, -1.0, (2,)),
        lambda m: m.normal(m.zeros(2), -m.ones(2)),
        lambda m: m.vander(m.ones(2, 2)),
    ]
    for fn in checks:
        with pytest.raises(RuntimeError):
            fn(torch)
        with pytest.raises(RuntimeError):
            fn(lamina)


def test_kaiser_window_formula():
    w = lamina.kaiser_window(6, periodic=False, beta=2.0, dtype=lamina.float64).numpy()
    n = np.arange(6)
    expected = np.i0(2.0 * np.sqrt(1 - (2 * n / 5 - 1) ** 2)) / np.i0(2.0)
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    assert math.isclose(w[0], 1 / np.i0(2.0))


# ---------------------------------------------------------------- random fills in place, binomial, asarray
def _g(seed=0):
    return lamina.Generator().manual_seed(seed)


def test_random_fills_in_place_statistics():
    n = 40000
    t = lamina.empty(n)
    mem = t.array
    assert t.exponential_(2.0, generator=_g()) is t and t.array is mem
    assert abs(t.mean().item() - 0.5) < 0.02 and t.min().item() >= 0
    t.log_normal_(0.0, 0.5, generator=_g(1))
    np.testing.assert_allclose(np.log(t.numpy()).std(), 0.5, rtol=0.03)
    t.cauchy_(1.0, 2.0, generator=_g(2))
    assert abs(np.median(t.numpy()) - 1.0) < 0.1
    t.geometric_(0.25, generator=_g(3))
    assert t.min().item() >= 1 and abs(t.mean().item() - 4.0) < 0.1
    t.bernoulli_(0.3, generator=_g(4))
    assert set(np.unique(t.numpy())) <= {0.0, 1.0} and abs(t.mean().item() - 0.3) < 0.01
    p = lamina.tensor([0.0, 1.0]).repeat(n // 2)
    t.bernoulli_(p, generator=_g(5))
    assert t.tolist() == p.tolist()
    i = lamina.empty(n, dtype=lamina.int64).random_(3, 7, generator=_g(6))
    assert set(np.unique(i.numpy())) == {3, 4, 5, 6}
    assert set(np.unique(lamina.zeros(1000).random_(4, generator=_g(7)).numpy())) == {0.0, 1.0, 2.0, 3.0}
    f = lamina.zeros(1000).random_(generator=_g(8))
    assert f.min().item() >= 0 and f.max().item() <= 2 ** 24 and (f.numpy() == np.round(f.numpy())).all()
    b = lamina.full((n,), 0.7).bernoulli(generator=_g(9))
    assert abs(b.mean().item() - 0.7) < 0.01
    b = lamina.zeros(n).bernoulli(0.2, generator=_g(10))
    assert abs(b.mean().item() - 0.2) < 0.01


def test_random_fills_are_reproducible_and_refuse_bad_arguments():
    for fill in (lambda t, g: t.exponential_(generator=g), lambda t, g: t.cauchy_(generator=g),
                 lambda t, g: t.log_normal_(generator=g), lambda t, g: t.geometric_(0.5, generator=g),
                 lambda t, g: t.random_(10, generator=g), lambda t, g: t.bernoulli_(0.5, generator=g)):
        assert fill(lamina.empty(6), _g(1)).tolist() == fill(lamina.empty(6), _g(1)).tolist()
    for bad in (lambda: lamina.empty(2).exponential_(-1.0), lambda: lamina.empty(2).geometric_(1.5),
                lambda: lamina.empty(2).cauchy_(0.0, -1.0), lambda: lamina.empty(2).random_(5, 2),
                lambda: lamina.empty(2).bernoulli_(1.5), lambda: lamina.empty(2, dtype=lamina.int64).exponential_()):
        with pytest.raises(RuntimeError):
            bad()
    with pytest.raises(RuntimeError, match="leaf"):
        lamina.zeros(2, requires_grad=True).exponential_()


@requires_torch
def test_binomial_asarray_frombuffer_fill():
    count = lamina.full((20000,), 10.0)
    d = lamina.binomial(count, lamina.full((20000,), 0.3), generator=_g())
    assert d.dtype == lamina.float32 and abs(d.mean().item() - 3.0) < 0.05 and abs(d.var().item() - 2.1) < 0.1
    a = np.arange(4.0)
    t = lamina.asarray(a)
    assert np.shares_memory(t.array, a) and t.dtype == lamina.float64
    assert not np.shares_memory(lamina.asarray(a, copy=True).array, a)
    with pytest.raises(ValueError):
        lamina.asarray(a, dtype=lamina.float32, copy=False)
    for obj in ([1, 2], [1.0, 2.0], 3, [[True, False]]):
        assert str(lamina.asarray(obj).dtype) == str(torch.asarray(obj).dtype).replace("torch.", "")
    assert lamina.asarray(lamina.ones(2, requires_grad=True)).requires_grad
    buf = bytearray(np.array([1.0, 2.0, 3.0], dtype=np.float32).tobytes())
    fb = lamina.frombuffer(buf, dtype=lamina.float32, count=2, offset=4)
    assert fb.tolist() == torch.frombuffer(buf, dtype=torch.float32, count=2, offset=4).tolist()
    assert lamina.fill(lamina.ones(2, dtype=lamina.int64), 3).tolist() == [3, 3]
    assert lamina.fill(lamina.ones(2), lamina.tensor(2.5)).tolist() == [2.5, 2.5]
