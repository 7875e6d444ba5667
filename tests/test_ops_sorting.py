"""Sorting and order statistics (sort, argsort, msort, topk, kthvalue, median, nanmedian, mode,
cummax, cummin) and searching (searchsorted, bucketize, isin, unique, unique_consecutive):
values, indices and gradients against torch, float64 gradchecks, errors."""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng

torch = pytest.importorskip("torch")

X = rng(0).standard_normal((3, 5))            # no ties
X3 = rng(1).standard_normal((2, 3, 4))
TIES = np.array([[2.0, 1.0, 2.0, 2.0, 3.0], [0.0, 0.0, 1.0, -1.0, 1.0]])
NANS = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 2.0, 0.5, 1.0], [np.nan, 1.0, np.nan, 2.0]])


def both(name, *args, **kwargs):
    """x -> x.<name>(*args, **kwargs), the same call on lamina and torch tensors."""
    return lambda x: getattr(x, name)(*args, **kwargs)


def fn_of(name, *args, **kwargs):
    """x -> <module>.<name>(x, ...) with module lamina or torch, following x."""
    return lambda x: getattr(torch if isinstance(x, torch.Tensor) else lamina, name)(x, *args, **kwargs)


VALUE_INDEX_OPS = [
    ("sort", both("sort")),
    ("sort_dim0_desc", both("sort", 0, descending=True)),
    ("sort_stable", both("sort", dim=-1, stable=True)),
    ("sort_3d", lambda x: x.reshape(3, 5).sort(0)),
    ("msort", both("msort")),
    ("topk", both("topk", 2)),
    ("topk_smallest_dim0", both("topk", 2, 0, largest=False)),
    ("topk_all", both("topk", 5)),
    ("topk_zero", both("topk", 0)),
    ("kthvalue", both("kthvalue", 2)),
    ("kthvalue_dim0_keep", both("kthvalue", 3, 0, keepdim=True)),
    ("median_dim", both("median", 1)),
    ("median_dim0_keep", both("median", 0, keepdim=True)),
    ("nanmedian_dim", both("nanmedian", -1)),
    ("mode_dim", lambda x: (x * 2).round().mode(1)),
    ("cummax", both("cummax", 1)),
    ("cummin_dim0", both("cummin", 0)),
    ("median_all", both("median")),
    ("nanmedian_all", both("nanmedian")),
    ("fn_sort", fn_of("sort", 1, descending=True)),
    ("fn_topk", fn_of("topk", 3, largest=False)),
    ("fn_kthvalue", fn_of("kthvalue", 1, 0)),
    ("fn_median", fn_of("median", 0)),
    ("fn_mode", lambda x: getattr(torch if isinstance(x, torch.Tensor) else lamina, "mode")((x * 2).round(), 0)),
    ("fn_cummax", fn_of("cummax", 0)),
]


@requires_torch
@pytest.mark.parametrize("name, fn", VALUE_INDEX_OPS, ids=[n for n, _ in VALUE_INDEX_OPS])
def test_values_indices_and_gradients_match_torch(name, fn):
    out = parity(fn, X)
    if len(out) == 2:  # a (values, indices) pair: the indices point at the values
        assert out[1].dtype == np.int64


GRAD_OPS = {
    "sort": lambda x: x.sort(1, descending=True).values,
    "sort_dim0": lambda x: x.sort(0).values,
    "msort": lambda x: x.msort(),
    "topk": lambda x: x.topk(2, 1).values,
    "topk_smallest": lambda x: x.topk(3, 0, largest=False).values,
    "kthvalue": lambda x: x.kthvalue(2, 1).values,
    "median": lambda x: x.median(1).values,
    "median_all": lambda x: x.median(),
    "nanmedian": lambda x: x.nanmedian(0, keepdim=True).values,
    "cummax": lambda x: x.cummax(1).values,
    "cummin": lambda x: x.cummin(0).values,
}


@pytest.mark.parametrize("name", list(GRAD_OPS))
def test_gradcheck(name):
    gradcheck(GRAD_OPS[name], X)
    gradcheck(GRAD_OPS[name], noncontiguous(X))


@pytest.mark.parametrize("name", ["sort", "topk", "median", "cummax"])
def test_gradgradcheck_through_a_nonlinearity(name):
    gradgradcheck(lambda x: GRAD_OPS[name](x * x.sin()), X)


@requires_torch
@pytest.mark.parametrize("fn", [
    both("sort", 1), both("sort", 1, descending=True), both("sort", dim=0, descending=True, stable=True),
    both("argsort", 1, descending=True), both("cummax", 1), both("cummin", 1), lambda x: x.median(),
    lambda x: x.max(1), lambda x: x.min(1),
], ids=["sort", "sort_desc", "sort_stable_desc", "argsort_desc", "cummax", "cummin", "median_all", "max_dim",
        "min_dim"])
def test_ties_match_torch(fn):
    """Equal values keep their order (stable sorts, both directions); the full median splits the gradient."""
    parity(fn, TIES)


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda x: x.topk(5).values, lambda x: x.topk(2, 0, largest=False).values, lambda x: x.kthvalue(3).values,
    lambda x: x.median(1).values, lambda x: x.mode(1).values,
], ids=["topk", "topk_smallest", "kthvalue", "median", "mode"])
def test_tie_values_match_torch(fn):
    """Which of equal entries these pick is implementation-defined in torch: the values must agree."""
    parity(fn, TIES, grad=False)
    gradcheck(fn, X)


def test_mode_is_the_smallest_most_frequent_value_at_its_last_occurrence():
    x = lamina.tensor([[3, 1, 1, 3, 2], [2, 2, 5, 5, 1]])
    values, indices = x.mode(1)
    assert values.tolist() == [1, 2] and indices.tolist() == [2, 1]
    assert lamina.tensor([1, 2, 1, 2, 1]).mode().indices.item() == 4


@requires_torch
@pytest.mark.parametrize("fn", [
    both("sort", 1), both("sort", 1, descending=True), both("argsort", 0), lambda x: x.topk(2, 1),
    lambda x: x.topk(2, 0, largest=False), both("median", 1), both("nanmedian", 1), both("nanmedian", 0),
    lambda x: x.median(), lambda x: x.nanmedian(), both("cummax", 1), both("cummin", 0), both("msort"),
], ids=["sort", "sort_desc", "argsort", "topk", "topk_smallest", "median", "nanmedian", "nanmedian0",
        "median_all", "nanmedian_all", "cummax", "cummin", "msort"])
def test_nan_handling_matches_torch(fn):
    """NaN sorts as the largest value; a NaN makes the median NaN (at the first NaN), nanmedian skips them."""
    parity(fn, NANS, grad=False)


@requires_torch
@pytest.mark.parametrize("k, largest", [(3, True), (3, False), (40, True), (1, False)])
def test_topk_on_long_rows_matches_torch(k, largest):
    """Small k takes the partition path, large k the full sort: same values, indices and gradients."""
    a = rng(5).standard_normal((4, 200))
    parity(lambda x: x.topk(k, -1, largest=largest), a)
    parity(lambda x: x.topk(k, 0, largest=largest) if k <= 4 else x.topk(4, 0), a.T.copy())


@requires_torch
def test_sort_and_topk_on_integer_and_bool_tensors():
    a = rng(2).integers(-50, 50, (3, 40))
    parity(lambda x: x.sort(dim=1, descending=True, stable=True), a, grad=False)
    parity(lambda x: x.sort(1).values, a, grad=False)
    parity(lambda x: x.topk(3).values, a, grad=False)
    parity(lambda x: x.argsort(dim=0, stable=True), a, grad=False)
    parity(lambda x: x.sort(dim=1, stable=True), a > 0, grad=False)


def test_zero_dim_inputs():
    x = lamina.tensor(2.5, requires_grad=True)
    for r in (x.sort(), x.topk(1), x.kthvalue(1), x.median(0), x.mode(), x.cummax(0)):
        assert r[0].shape == () and r[1].shape == () and r[1].item() == 0 and r[0].item() == 2.5
    assert x.argsort().item() == 0 and x.msort().item() == 2.5
    x.sort().values.backward()
    assert x.grad.item() == 1.0


def test_median_all_splits_the_gradient_among_ties():
    x = lamina.tensor([1.0, 2.0, 2.0, 5.0], requires_grad=True)
    x.median().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])


def test_named_tuples():
    v, i = lamina.tensor([3.0, 1.0]).sort()
    r = lamina.tensor([3.0, 1.0]).topk(1)
    assert type(r).__name__ == "topk" and r._fields == ("values", "indices")
    assert isinstance(r, lamina.return_types.topk)
    assert v.tolist() == [1.0, 3.0] and i.tolist() == [1, 0]
    assert lamina.tensor([[1.0, 2.0]]).median(1)._fields == ("values", "indices")
    assert lamina.tensor([1.0]).cummin(0)._fields == ("values", "indices")
    assert type(lamina.tensor([[1.0, 2.0]]).max(1)).__name__ == "max"
    assert type(lamina.tensor([[1.0, 2.0]]).min(1)).__name__ == "min"


# ---------------------------------------------------------------- searching
SEQ = np.array([1.0, 3.0, 3.0, 5.0, 7.0])
VALS = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 3.0]])


@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}])
def test_searchsorted_1d_matches_torch(kwargs):
    (out,) = parity(lambda s, v: fn_of("searchsorted", v, **kwargs)(s), SEQ, VALS, grad=False)
    assert out.dtype == (np.int32 if kwargs.get("out_int32") else np.int64)


@requires_torch
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_rows_match_torch(right):
    seq = np.sort(rng(3).integers(0, 10, (2, 3, 8)), axis=-1)
    vals = rng(4).integers(-1, 11, (2, 3, 5))
    parity(lambda s, v: fn_of("searchsorted", v, right=right)(s), seq, vals, grad=False)
    parity(lambda s, v: fn_of("searchsorted", v, right=right)(s), seq.astype(np.float64),
           vals.astype(np.float64) + 0.5, grad=False)


@requires_torch
def test_searchsorted_with_sorter_and_scalar():
    s = np.array([5.0, 1.0, 3.0])
    sorter = np.argsort(s)
    parity(lambda s, v, srt: fn_of("searchsorted", v, sorter=srt)(s), s, np.array([2.0, 4.0, 6.0]), sorter,
           grad=False)
    out = lamina.searchsorted(lamina.tensor([1, 3, 5, 7]), 3)
    assert out.shape == () and out.item() == 1


@requires_torch
@pytest.mark.parametrize("right", [False, True])
def test_bucketize_matches_torch(right):
    parity(lambda v, b: fn_of("bucketize", b, right=right)(v), VALS, SEQ, grad=False)


@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"invert": True}, {"assume_unique": True}])
def test_isin_matches_torch(kwargs):
    a = np.array([[1, 2, 3], [4, 5, 6]])
    parity(lambda x, t: fn_of("isin", t, **kwargs)(x), a, np.array([2, 6, 9]), grad=False)
    assert lamina.isin(lamina.tensor([1, 2]), 2).tolist() == [False, True]
    assert lamina.isin(2, lamina.tensor([1, 2])).item() is True


UNIQUE = np.array([[3, 1, 2, 1], [3, 1, 2, 1], [0, 1, 0, 0], [3, 1, 2, 1]])


@requires_torch
@pytest.mark.parametrize("kwargs", [
    {}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True},
    {"dim": 0, "return_inverse": True, "return_counts": True}, {"dim": 1, "return_counts": True},
    {"sorted": False},
])
def test_unique_matches_torch(kwargs):
    parity(fn_of("unique", **kwargs), UNIQUE, grad=False)
    parity(fn_of("unique", **kwargs), UNIQUE.astype(np.float32), grad=False)


@requires_torch
@pytest.mark.parametrize("kwargs", [
    {}, {"return_inverse": True, "return_counts": True}, {"dim": 0, "return_inverse": True, "return_counts": True},
    {"dim": 1, "return_counts": True},
])
def test_unique_consecutive_matches_torch(kwargs):
    parity(fn_of("unique_consecutive", **kwargs), UNIQUE, grad=False)
    if kwargs.get("dim", 0) == 0:
        parity(fn_of("unique_consecutive", **kwargs), np.array([1, 1, 2, 2, 3, 1, 1, 2]), grad=False)


def test_unique_keeps_each_nan():
    assert lamina.tensor([1.0, np.nan, np.nan]).unique().shape == (3,)


# ---------------------------------------------------------------- errors
ERRORS = [
    lambda m, x: x.sort(5),
    lambda m, x: x.argsort(-3),
    lambda m, x: x.topk(6),
    lambda m, x: x.topk(-1),
    lambda m, x: x.topk(2, 2),
    lambda m, x: x.kthvalue(0),
    lambda m, x: x.kthvalue(6),
    lambda m, x: m.zeros(2, 0).median(1),
    lambda m, x: m.zeros(2, 0).mode(1),
    lambda m, x: (x > 0).median(),
    lambda m, x: (x > 0).kthvalue(1),
    lambda m, x: (x > 0).topk(1),
    lambda m, x: x.cummax(4),
    lambda m, x: m.searchsorted(m.tensor([[1, 2]]), m.tensor([[1], [2]])),
    lambda m, x: m.searchsorted(m.tensor([1, 2]), m.tensor([1]), side="middle"),
    lambda m, x: m.searchsorted(m.tensor([1, 2]), m.tensor([1]), side="left", right=True),
    lambda m, x: m.bucketize(m.tensor([1]), m.tensor([[1, 2]])),
    lambda m, x: m.unique(x, dim=3),
    lambda m, x: m.unique_consecutive(x, dim=-3),
]


@requires_torch
@pytest.mark.parametrize("call", ERRORS)
def test_errors_match_torch(call):
    with pytest.raises(Exception) as expected:
        call(torch, torch.from_numpy(X))
    with pytest.raises(type(expected.value)) as got:
        call(lamina, lamina.tensor(X))
    assert str(got.value)  # a message, naming what was wrong
