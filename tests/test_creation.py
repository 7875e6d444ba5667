"""Tensor creation: from data (dtype inference, copies, shared memory), fills, ranges and random draws."""
import json

import numpy as np
import pytest

import lamina
from helpers import requires_torch, torch


def _tname(dt):
    return str(dt).replace("torch.", "")


# ---------------------------------------------------------------- from data
@pytest.mark.parametrize("data,dtype", [
    ([1.0, 2.0], "float32"), (2.5, "float32"), ([1, 2], "int64"), (3, "int64"), ([True, False], "bool"),
    ([1, 2.5], "float32"), ([True, 2], "int64"), ([[1, 2], [3, 4]], "int64"), ([], "float32"),
    (np.array([1.0, 2.0]), "float64"), (np.array([1, 2], dtype=np.int32), "int32"),
    (np.array([1], dtype=np.uint8), "uint8"), (np.array([1.0], dtype=np.float16), "float16"),
    (np.float64(1.5), "float64"), (np.int32(4), "int32"),
], ids=repr)
def test_tensor_infers_dtype_like_torch(data, dtype):
    t = lamina.tensor(data)
    assert str(t.dtype) == dtype
    if torch is not None:
        assert _tname(torch.tensor(data).dtype) == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_follows_the_default_dtype():
    lamina.set_default_dtype(lamina.float64)
    assert lamina.tensor([1.0]).dtype == lamina.float64 and lamina.zeros(2).dtype == lamina.float64
    assert lamina.rand(2).dtype == lamina.float64 and lamina.arange(0.0, 1.0, 0.5).dtype == lamina.float64
    assert (lamina.tensor([1, 2]) / 2).dtype == lamina.float64
    assert lamina.tensor([1, 2]).dtype == lamina.int64
    lamina.set_default_dtype(lamina.float32)
    assert lamina.tensor([1.0]).dtype == lamina.float32


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = lamina.tensor(a)
    a[0] = 5.0
    assert t.tolist() == [1.0, 2.0]
    src = lamina.tensor([1.0, 2.0], requires_grad=True)
    c = lamina.tensor(src)
    assert not np.shares_memory(c.array, src.array) and not c.requires_grad and c.is_leaf
    nested = lamina.tensor([lamina.tensor(1.0), lamina.tensor(2.0)])
    assert nested.tolist() == [1.0, 2.0]


def test_tensor_options():
    t = lamina.tensor([1, 2], dtype=lamina.float64, requires_grad=True)
    assert t.dtype == lamina.float64 and t.requires_grad and t.is_leaf
    assert lamina.tensor([1, 2], dtype=float).dtype == lamina.float32  # Python float = the default dtype
    assert lamina.tensor([1.5], dtype=int).dtype == lamina.int64
    assert lamina.tensor([1.0], dtype="float16").dtype == lamina.float16
    assert lamina.tensor([1.0], device="cpu").device == "cpu"
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="str"):
        lamina.tensor("abc")
    with pytest.raises(TypeError, match="unknown dtype"):
        lamina.tensor([1.0], dtype="floaty")


def test_from_numpy_shares_memory_both_ways():
    a = np.array([[1.0, 2.0]], dtype=np.float64)
    t = lamina.from_numpy(a)
    assert t.dtype == lamina.float64 and not t.requires_grad
    a[0, 0] = 7.0
    assert t.tolist() == [[7.0, 2.0]]
    t.add_(1.0)
    assert a.tolist() == [[8.0, 3.0]]
    with pytest.raises(TypeError, match="ndarray"):
        lamina.from_numpy([1.0, 2.0])


def test_as_tensor_shares_when_it_can():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = lamina.as_tensor(a)
    a[0] = 9.0
    assert t.tolist() == [9.0, 2.0]
    c = lamina.as_tensor(a, dtype=lamina.float64)  # a conversion must copy
    a[1] = 0.0
    assert c.tolist() == [9.0, 2.0] and c.dtype == lamina.float64
    x = lamina.ones(2, requires_grad=True)
    assert lamina.as_tensor(x) is x
    y = lamina.as_tensor(x, dtype=lamina.float64)  # keeps the graph, as torch
    assert y.dtype == lamina.float64 and y.requires_grad
    assert lamina.as_tensor([1.0, 2.0]).dtype == lamina.float32 and lamina.as_tensor([1]).dtype == lamina.int64


# ---------------------------------------------------------------- fills and ranges (torch is the oracle)
CREATORS = [
    ("zeros", lambda m: m.zeros(2, 3)), ("zeros_tuple", lambda m: m.zeros((2, 3))),
    ("zeros_list", lambda m: m.zeros([4])),
    ("zeros_0d", lambda m: m.zeros(())), ("zeros_empty", lambda m: m.zeros(0, 3)),
    ("zeros_int", lambda m: m.zeros(2, dtype=m.int64)), ("ones", lambda m: m.ones(3, 1)),
    ("ones_f64", lambda m: m.ones(2, dtype=m.float64)), ("full_int", lambda m: m.full((2,), 3)),
    ("full_float", lambda m: m.full((2, 2), 1.5)), ("full_bool", lambda m: m.full((2,), True)),
    ("full_int_size", lambda m: m.full([3], -1.0)), ("full_dtype", lambda m: m.full((2,), 7, dtype=m.float32)),
    ("arange_end", lambda m: m.arange(5)), ("arange_start_end", lambda m: m.arange(2, 7)),
    ("arange_step", lambda m: m.arange(1, 10, 3)), ("arange_neg_step", lambda m: m.arange(5, 0, -2)),
    ("arange_float", lambda m: m.arange(0, 1, 0.25)), ("arange_float_end", lambda m: m.arange(5.0)),
    ("arange_fractional", lambda m: m.arange(0, 1, 0.1)), ("arange_f64", lambda m: m.arange(3, dtype=m.float64)),
    ("arange_empty", lambda m: m.arange(3, 3)), ("linspace", lambda m: m.linspace(0, 1, 5)),
    ("linspace_1", lambda m: m.linspace(2, 3, 1)), ("linspace_0", lambda m: m.linspace(2, 3, 0)),
    ("linspace_rev", lambda m: m.linspace(1, -1, 4)), ("linspace_f64", lambda m: m.linspace(0, 1, 3, dtype=m.float64)),
    ("eye", lambda m: m.eye(3)), ("eye_rect", lambda m: m.eye(2, 4)), ("eye_int", lambda m: m.eye(2, dtype=m.int64)),
]


@requires_torch
@pytest.mark.parametrize("name,fn", CREATORS, ids=[c[0] for c in CREATORS])
def test_fills_and_ranges_match_torch(name, fn):
    got, want = fn(lamina), fn(torch)
    assert got.shape == tuple(want.shape) and str(got.dtype) == _tname(want.dtype)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
    assert not got.requires_grad


def test_fills_accept_requires_grad_and_empty_has_the_shape():
    assert lamina.zeros(2, requires_grad=True).requires_grad
    assert lamina.eye(2, requires_grad=True).is_leaf
    e = lamina.empty(2, 3)
    assert e.shape == (2, 3) and e.dtype == lamina.float32
    with pytest.raises(ValueError, match="non-negative"):
        lamina.zeros(-1)
    with pytest.raises(ValueError, match="non-negative"):
        lamina.ones(2.5)
    with pytest.raises(ValueError, match="step"):
        lamina.arange(0, 5, 0)
    with pytest.raises(ValueError, match="inconsistent"):
        lamina.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.zeros(2, dtype=lamina.int64, requires_grad=True)


@pytest.mark.parametrize("fn,value", [(lamina.zeros_like, 0), (lamina.ones_like, 1), (lamina.empty_like, None),
                                      (lambda x, **k: lamina.full_like(x, 7, **k), 7)],
                         ids=["zeros_like", "ones_like", "empty_like", "full_like"])
def test_like_functions_copy_shape_and_dtype(fn, value):
    x = lamina.ones(2, 3, dtype=lamina.float64, requires_grad=True)
    y = fn(x)
    assert y.shape == (2, 3) and y.dtype == lamina.float64 and not y.requires_grad and y.device == x.device
    if value is not None:
        assert np.all(y.numpy() == value)
    assert fn(x, dtype=lamina.int32).dtype == lamina.int32
    assert fn(x, requires_grad=True).requires_grad
    assert fn(lamina.tensor([1, 2])).dtype == lamina.int64


def test_full_like_casts_the_fill_to_the_dtype():
    assert lamina.full_like(lamina.tensor([1, 2]), 3.7).tolist() == [3, 3]  # as torch


# ---------------------------------------------------------------- random draws
def test_random_shapes_dtypes_and_ranges():
    r = lamina.rand(100, 50)
    assert r.shape == (100, 50) and r.dtype == lamina.float32
    assert r.array.min() >= 0.0 and r.array.max() < 1.0
    assert lamina.rand((3, 4)).shape == (3, 4) and lamina.randn(3, dtype=lamina.float64).dtype == lamina.float64
    i = lamina.randint(-3, 5, (1000,))
    assert i.dtype == lamina.int64 and i.array.min() == -3 and i.array.max() == 4
    assert lamina.randint(10, (2, 3)).shape == (2, 3) and lamina.randint(0, 2, size=4).shape == (4,)
    assert lamina.randint(low=0, high=3, size=(2,), dtype=lamina.int32).dtype == lamina.int32
    p = lamina.randperm(10)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype == lamina.int64
    assert lamina.rand(2, requires_grad=True).requires_grad
    assert lamina.rand_like(lamina.ones(2, dtype=lamina.float64)).dtype == lamina.float64
    assert lamina.randn_like(lamina.ones(2, 2)).shape == (2, 2)
    from lamina.ops.creation import randint_like
    assert randint_like(lamina.ones(3), 5).dtype == lamina.float32  # as torch: x's dtype
    with pytest.raises(TypeError, match="size"):
        lamina.randint(3, 10)
    with pytest.raises(ValueError, match="low < high"):
        lamina.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="floating"):
        lamina.rand(2, dtype=lamina.int64)


def test_random_moments():
    n = 40000
    u, z = lamina.rand(n).array, lamina.randn(n).array
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
    g = lamina.normal(3.0, 2.0, (n,)).array
    assert abs(g.mean() - 3.0) < 0.05 and abs(g.std() - 2.0) < 0.05
    b = lamina.bernoulli(lamina.full((n,), 0.3)).array
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    counts = np.bincount(lamina.randint(0, 4, (n,)).array, minlength=4) / n
    np.testing.assert_allclose(counts, 0.25, atol=0.01)


def test_normal_with_tensor_parameters_broadcasts():
    mean = lamina.tensor([[0.0], [100.0]], dtype=lamina.float64)
    x = lamina.normal(mean, lamina.tensor([1e-6, 1e-6, 1e-6], dtype=lamina.float64))
    assert x.shape == (2, 3) and x.dtype == lamina.float64
    np.testing.assert_allclose(x.numpy(), [[0.0] * 3, [100.0] * 3], atol=1e-3)
    assert lamina.normal(0.0, lamina.ones(4)).shape == (4,)


def test_bernoulli_edges():
    p = lamina.tensor([0.0, 1.0, 0.0, 1.0], dtype=lamina.float64)
    b = lamina.bernoulli(p)
    assert b.tolist() == [0.0, 1.0, 0.0, 1.0] and b.dtype == lamina.float64
    with pytest.raises(TypeError, match="floating"):
        lamina.bernoulli(lamina.tensor([0, 1]))


def test_manual_seed_repeats_the_stream():
    def draw():
        return (lamina.rand(5).tolist(), lamina.randn(3).tolist(), lamina.randint(0, 100, (4,)).tolist(),
                lamina.randperm(6).tolist(), lamina.normal(0.0, 1.0, (2,)).tolist(),
                lamina.bernoulli(lamina.full((5,), 0.5)).tolist())

    lamina.manual_seed(123)
    a = draw()
    lamina.manual_seed(123)
    assert draw() == a
    lamina.manual_seed(124)
    assert draw() != a
    assert lamina.initial_seed() == 124


def test_generators_are_independent_of_the_default_one():
    lamina.manual_seed(0)
    expected = lamina.randn(5).tolist()
    lamina.manual_seed(0)
    g = lamina.Generator().manual_seed(0)
    from_g = lamina.randn(5, generator=g).tolist()
    lamina.rand(3, generator=g)  # drawing from g does not advance the default stream
    assert lamina.randn(5).tolist() == expected
    assert from_g == expected  # same seed, same algorithm: the same numbers
    g2 = lamina.Generator().manual_seed(0)
    assert lamina.randn(5, generator=g2).tolist() == expected
    assert lamina.randn(5, generator=g).tolist() != lamina.randn(5, generator=g2).tolist()  # streams diverged


def test_generator_state_round_trip():
    g = lamina.Generator().manual_seed(42)
    lamina.rand(7, generator=g)
    state = json.loads(json.dumps(g.get_state()))  # checkpoints store it as JSON
    a = lamina.randn(10, generator=g).tolist()
    b = lamina.randint(0, 1000, (5,), generator=g).tolist()
    g.set_state(state)
    assert lamina.randn(10, generator=g).tolist() == a
    assert lamina.randint(0, 1000, (5,), generator=g).tolist() == b
    assert g.initial_seed() == 42
    # the default generator too
    lamina.manual_seed(5)
    s = lamina.get_rng_state()
    x = lamina.rand(4).tolist()
    lamina.set_rng_state(s)
    assert lamina.rand(4).tolist() == x
    e = lamina.empty(3)
    lamina.set_rng_state(s)
    assert e.uniform_().tolist() == lamina.tensor(x[:3]).tolist()  # uniform_ draws from the same stream


def test_rand_matches_uniform_fill_from_the_same_state():
    lamina.manual_seed(9)
    a = lamina.rand(4, dtype=lamina.float64).tolist()
    lamina.manual_seed(9)
    b = lamina.empty(4, dtype=lamina.float64).uniform_().tolist()
    assert a == b
