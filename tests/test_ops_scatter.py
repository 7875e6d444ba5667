"""Indexed writes and selections: index_add/copy/fill/put/reduce, scatter (value=, reduce=),
scatter_reduce, gather, put, take, take_along_dim, masked_select, masked_scatter, masked_fill,
nonzero, argwhere, equal, allclose, and their in-place forms: values and gradients against torch,
float64 gradchecks, errors."""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta"),
              pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")]

X = rng(0).standard_normal((4, 3))
SRC = rng(1).standard_normal((5, 3))
IDX = np.array([[0, 1, 2], [0, 1, 2], [3, 3, 0], [1, 1, 1], [0, 2, 2]])  # repeats: several land on one entry
ROWS = np.array([0, 2, 0, 3, 2])                                        # index along dim 0, with repeats


def mod(x):
    return torch if isinstance(x, torch.Tensor) else lamina


def T(x, a):
    """``a`` as a tensor of x's framework."""
    return mod(x).tensor(a)


# ---------------------------------------------------------------- index_* along a dimension
INDEX_OPS = {
    "index_add": lambda x, s: x.index_add(0, T(x, ROWS), s),
    "index_add_alpha": lambda x, s: x.index_add(0, T(x, ROWS), s, alpha=-2.5),
    "index_add_dim1": lambda x, s: x.index_add(1, T(x, [2, 0, 2]), s[:4]),
    "fn_index_add": lambda x, s: mod(x).index_add(x, 0, T(x, ROWS), s),
    "index_copy": lambda x, s: x.index_copy(0, T(x, [3, 0, 1]), s[:3]),
    "index_copy_dim1": lambda x, s: x.index_copy(1, T(x, [2, 0]), s[:4, :2]),
    "index_fill": lambda x, s: x.index_fill(1, T(x, [0, 2]), -1.5),
    "index_fill_neg": lambda x, s: x.index_fill(0, T(x, [-1, 1]), 2.0),
    "index_fill_tensor": lambda x, s: x.index_fill(0, T(x, [1]), s[0, 0]),
    "index_put": lambda x, s: x.index_put((T(x, [0, 2, 3]), T(x, [1, 1, 0])), s[0]),
    "index_put_rows": lambda x, s: x.index_put((T(x, [3, 1]),), s[:2]),
    "index_put_broadcast": lambda x, s: x.index_put((T(x, [3, 1]),), s[0, 0]),
    "index_put_accumulate": lambda x, s: x.index_put((T(x, ROWS),), s, accumulate=True),
    "index_put_rows_accumulate_neg": lambda x, s: x.index_put((T(x, [-1, 0, -1, 2, 0]),), s, accumulate=True),
    "index_put_2d_accumulate": lambda x, s: x.index_put((T(x, [0, 0, 2]), T(x, [1, 1, 2])), s[0], accumulate=True),
    "index_put_mask": lambda x, s: x.index_put((x > 0,), s[0, 0] * 3),
}


@requires_torch
@pytest.mark.parametrize("name", list(INDEX_OPS))
def test_index_ops_match_torch(name):
    parity(INDEX_OPS[name], X, SRC)
    gradcheck(INDEX_OPS[name], X, SRC)


@requires_torch
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_matches_torch(reduce, include_self):
    f = lambda x, s: x.index_reduce(0, T(x, ROWS), s, reduce, include_self=include_self)  # noqa: E731
    parity(f, X, SRC)
    gradcheck(f, X, SRC)


# ---------------------------------------------------------------- scatter / scatter_reduce / gather
@requires_torch
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(reduce, include_self):
    f = lambda x, s: x.scatter_reduce(0, T(x, IDX), s, reduce, include_self=include_self)  # noqa: E731
    parity(f, X, SRC)
    gradcheck(f, X, SRC)
    gradcheck(f, noncontiguous(X), SRC)
    parity(f, np.round(X), np.round(SRC))  # ties: the gradient is split as torch splits it
    if reduce == "prod":
        gradgradcheck(f, X, SRC)
        xz, sz = X.copy(), SRC.copy()
        xz[0, 0] = sz[2, 1] = sz[3, 1] = sz[4, 2] = 0.0  # one zero, two zeros in one target, a zero src
        parity(f, xz, sz)
        gradcheck(f, xz, sz)


@requires_torch
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("fast_ufunc_at", [True, False])
def test_scatter_reduce_large_matches_torch(reduce, fast_ufunc_at, monkeypatch):
    """Many values per target: bincount sums, and ufunc.at or sort + reduceat (old NumPy) for the rest."""
    from lamina.ops import scatter as scatter_ops

    monkeypatch.setattr(scatter_ops, "_FAST_UFUNC_AT", fast_ufunc_at)
    x = rng(2).standard_normal((40, 30))
    idx = rng(3).integers(0, 40, (300, 30))
    s = rng(4).standard_normal((300, 30))
    if reduce == "prod":
        s = 1 + 0.01 * s
    parity(lambda x, s: x.scatter_reduce(0, T(x, idx), s, reduce), x, s, atol=1e-6)


@requires_torch
def test_scatter_reduce_on_integers_matches_torch():
    x = np.array([[5, 7], [-5, 2]])
    s = np.array([[2, 3], [4, 4], [0, 1]])
    idx = np.array([[0, 0], [0, 1], [1, 1]])
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for inc in (True, False):
            parity(lambda x, s: x.scatter_reduce(0, T(x, idx), s, reduce, include_self=inc), x, s, grad=False)


SCATTER_OPS = {
    "scatter_src": lambda x, s: x.scatter(0, T(x, [[3, 1, 0], [2, 0, 1]]), s[:2]),
    "scatter_value": lambda x, s: x.scatter(1, T(x, [[2], [0], [1], [1]]), 4.5),
    "scatter_value_kw": lambda x, s: x.scatter(1, T(x, [[2], [0]]), value=-1.0),
    "scatter_add": lambda x, s: x.scatter_add(0, T(x, IDX), s),
    "fn_scatter": lambda x, s: mod(x).scatter(x, 0, T(x, [[3, 1, 0]]), s[:1]),
    "fn_scatter_reduce": lambda x, s: mod(x).scatter_reduce(x, 1, T(x, [[0, 0], [2, 2]]), s[:2, :2], "amax"),
    "gather": lambda x, s: x.gather(1, T(x, [[0, 0], [2, 1], [1, 1], [0, 2]])),
    "gather_smaller": lambda x, s: mod(x).gather(x, 0, T(x, [[3], [0]])),
}


@requires_torch
@pytest.mark.parametrize("name", list(SCATTER_OPS))
def test_scatter_gather_match_torch(name):
    parity(SCATTER_OPS[name], X, SRC)
    gradcheck(SCATTER_OPS[name], X, SRC)


@requires_torch
def test_scatter_with_reduce_matches_torch_values():
    # torch gives no gradient for scatter(reduce=...); lamina's is scatter_add's / prod's
    for reduce in ("add", "multiply"):
        f = lambda x, s: x.scatter(0, T(x, IDX), s, reduce=reduce)  # noqa: E731
        parity(f, X, SRC, grad=False)
        gradcheck(f, X, SRC)
    parity(lambda x: x.scatter(0, T(x, IDX), 2.0, reduce="multiply"), X, grad=False)


# ---------------------------------------------------------------- flat positions and masks
MASK = X > 0
SELECT_OPS = {
    "take": lambda x, s: x.take(T(x, [[0, 11], [5, 5]])),
    "take_negative": lambda x, s: mod(x).take(x, T(x, [-1, 3, -12])),
    "put": lambda x, s: x.put(T(x, [1, 7, -1]), s[0]),
    "put_accumulate": lambda x, s: x.put(T(x, [1, 7, 1, 0, 1]), s[:, 0], accumulate=True),
    "take_along_dim": lambda x, s: x.take_along_dim(T(x, [[0, 2], [1, 1], [2, 0], [0, 0]]), 1),
    "take_along_dim_broadcast": lambda x, s: mod(x).take_along_dim(x, T(x, [[3], [0]]), dim=0),
    "take_along_dim_flat": lambda x, s: x.take_along_dim(T(x, [[0, 11, 4]])),
    "take_along_dim_argsort": lambda x, s: x.take_along_dim(x.argsort(1), 1),
    "masked_select": lambda x, s: x.masked_select(T(x, MASK)),
    "masked_select_broadcast": lambda x, s: mod(x).masked_select(x, T(x, [True, False, True])),
    "masked_scatter": lambda x, s: x.masked_scatter(T(x, MASK), s),
    "masked_scatter_broadcast": lambda x, s: x.masked_scatter(T(x, [[True], [False], [True], [True]]), s),
    "masked_fill": lambda x, s: x.masked_fill(T(x, MASK), -2.0),
    "masked_fill_tensor": lambda x, s: x.masked_fill(T(x, [False, True, True]), s[0, 0]),
}


@requires_torch
@pytest.mark.parametrize("name", list(SELECT_OPS))
def test_selection_ops_match_torch(name):
    parity(SELECT_OPS[name], X, SRC)
    gradcheck(SELECT_OPS[name], X, SRC)


@requires_torch
@pytest.mark.parametrize("as_tuple", [False, True])
def test_nonzero_argwhere_match_torch(as_tuple):
    a = np.array([[0, 1, 0], [2, 0, 3]])
    parity(lambda x: x.nonzero(as_tuple=as_tuple), a, grad=False)
    parity(lambda x: mod(x).nonzero(x, as_tuple=as_tuple), a.astype(np.float32), grad=False)
    parity(lambda x: x.nonzero(as_tuple=as_tuple), np.array(5), grad=False)
    parity(lambda x: mod(x).argwhere(x), a > 0, grad=False)
    t = lamina.tensor(a)
    assert t[t.nonzero(as_tuple=True)].tolist() == [1, 2, 3]


# ---------------------------------------------------------------- in-place forms
INPLACE = {
    "index_add_": lambda y, s: y.index_add_(0, T(y, ROWS), s, alpha=2),
    "index_copy_": lambda y, s: y.index_copy_(0, T(y, [2, 0]), s[:2]),
    "index_fill_": lambda y, s: y.index_fill_(1, T(y, [1]), 3.0),
    "index_put_": lambda y, s: y.index_put_((T(y, [1, 1]), T(y, [0, 2])), s[0, :2], accumulate=True),
    "index_reduce_": lambda y, s: y.index_reduce_(0, T(y, ROWS), s, "amax", include_self=False),
    "scatter_": lambda y, s: y.scatter_(0, T(y, [[3, 1, 0]]), s[:1]),
    "scatter_value_": lambda y, s: y.scatter_(0, T(y, [[3, 1, 0]]), 2.0),
    "scatter_add_": lambda y, s: y.scatter_add_(0, T(y, IDX), s),
    "scatter_reduce_": lambda y, s: y.scatter_reduce_(0, T(y, IDX), s, "mean", include_self=False),
    "put_": lambda y, s: y.put_(T(y, [0, 4]), s[0, :2]),
    "masked_scatter_": lambda y, s: y.masked_scatter_(T(y, MASK), s),
    "masked_fill_": lambda y, s: y.masked_fill_(T(y, MASK), s[0, 0]),
}


@requires_torch
@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_forms_match_torch(name):
    """On a non-leaf: the result is written into y's memory and the gradient reaches x and src."""
    def f(x, s):
        y = x * 1.0
        out = INPLACE[name](y, s)
        assert out is y
        return y
    parity(f, X, SRC)
    y = lamina.tensor(X.copy())
    before = y.array
    with lamina.no_grad():
        INPLACE[name](y, lamina.tensor(SRC))
    assert y.array is before


def test_inplace_on_a_leaf_that_requires_grad_raises():
    x = lamina.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.index_add_(0, lamina.tensor([0]), lamina.ones(1, 3, dtype=lamina.float64))


# ---------------------------------------------------------------- whole-tensor comparisons
@requires_torch
def test_equal_and_allclose_match_torch():
    for m in (torch, lamina):
        a = m.tensor([1.0, 2.0])
        assert m.equal(a, m.tensor([1.0, 2.0])) and a.equal(m.tensor([1.0, 2.0]))
        assert not m.equal(a, m.tensor([1.0, 2.0, 3.0]))
        assert m.equal(m.tensor([1, 2]), m.tensor([1.0, 2.0]))
        assert not m.equal(m.tensor([float("nan")]), m.tensor([float("nan")]))
        assert m.allclose(a, m.tensor([1.0, 2.00001])) and not m.allclose(a, m.tensor([1.0, 2.1]))
        assert m.allclose(m.tensor([float("nan")]), m.tensor([float("nan")]), equal_nan=True)
        assert not a.allclose(m.tensor([1.0]))  # broadcasts
        with pytest.raises(RuntimeError):
            m.allclose(a, m.tensor([1.0, 2.0], dtype=m.float64))
        with pytest.raises(RuntimeError):
            m.allclose(a, m.tensor([1.0, 2.0, 3.0]))
        with pytest.raises(TypeError):
            m.equal(a, 1.0)


# ---------------------------------------------------------------- errors
ERRORS = [
    lambda m, x: m.gather(x, 1, m.tensor([[5]])),
    lambda m, x: m.gather(x, 1, m.tensor([[-1]])),
    lambda m, x: m.gather(x, 1, m.tensor([[1.0]])),
    lambda m, x: m.gather(x, 1, m.tensor([1])),
    lambda m, x: x.scatter(1, m.tensor([[5]]), 1.0),
    lambda m, x: x.scatter(0, m.tensor([[0]]), m.ones(1, 1, dtype=m.float64), reduce="foo"),
    lambda m, x: x.scatter_reduce(0, m.tensor([[0]]), m.ones(1, 1, dtype=m.float64), "foo"),
    lambda m, x: x.scatter_reduce(0, m.tensor([[9]]), m.ones(1, 1, dtype=m.float64), "sum"),
    lambda m, x: x.index_add(0, m.tensor([0]), m.zeros(1, 3, dtype=m.float32)),
    lambda m, x: x.index_add(0, m.tensor([0, 1]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_add(0, m.tensor([5]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_add(0, m.tensor([-1]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_add(0, m.tensor([0.0]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_add(0, m.tensor([[0]]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_add(0, m.tensor([0]), m.zeros(1, 4, dtype=m.float64)),
    lambda m, x: x.index_add(2, m.tensor([0]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_copy(0, m.tensor([5]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_copy(0, m.tensor([-1]), m.zeros(1, 3, dtype=m.float64)),
    lambda m, x: x.index_fill(0, m.tensor([5]), 1.0),
    lambda m, x: x.index_fill(0, m.tensor([0]), m.tensor([1.0])),
    lambda m, x: x.index_put((m.tensor([5]),), m.tensor(1.0, dtype=m.float64)),
    lambda m, x: x.index_put((m.tensor([1]),), m.tensor(1.0, dtype=m.float32)),
    lambda m, x: x.index_put((m.tensor([1.0]),), m.tensor(1.0, dtype=m.float64)),
    lambda m, x: x.index_put((m.tensor([1]),), m.ones(2, dtype=m.float64)),
    lambda m, x: x.index_reduce(0, m.tensor([0]), m.ones(1, 3, dtype=m.float64), "sum"),
    lambda m, x: x.take(m.tensor([12])),
    lambda m, x: x.take(m.tensor([-13])),
    lambda m, x: x.take(m.tensor([1.0])),
    lambda m, x: m.take_along_dim(x, m.tensor([[0, 1]]), dim=0),
    lambda m, x: m.take_along_dim(x, m.tensor([0, 1]), dim=0),
    lambda m, x: x.masked_select(m.tensor([1, 0, 1])),
    lambda m, x: x.masked_select(m.tensor([[True], [False], [True]])),
    lambda m, x: x.masked_scatter(m.ones(4, 3, dtype=m.bool), m.ones(2, dtype=m.float64)),
    lambda m, x: x.masked_scatter(m.ones(4, 3, dtype=m.bool), m.ones(12, dtype=m.float32)),
    lambda m, x: x.masked_scatter(m.ones(4, 3), m.ones(12, dtype=m.float64)),
    lambda m, x: x.put(m.tensor([12]), m.tensor([1.0], dtype=m.float64)),
    lambda m, x: x.put(m.tensor([1, 2]), m.tensor([1.0], dtype=m.float64)),
    lambda m, x: x.put(m.tensor([1]), m.tensor([1.0], dtype=m.float32)),
]


@requires_torch
@pytest.mark.parametrize("call", ERRORS)
def test_errors_match_torch(call):
    with pytest.raises(Exception) as expected:
        call(torch, torch.from_numpy(X))
    with pytest.raises(type(expected.value)) as got:
        call(lamina, lamina.tensor(X))
    assert str(got.value)


@requires_torch
def test_unravel_index_matches_torch():
    parity(lambda i: mod(i).unravel_index(i, (2, 3)), np.array([4, 1, -1, 6]), grad=False)
    parity(lambda i: mod(i).unravel_index(i, (2, 3, 4)), np.array([[23, 0], [7, 12]]), grad=False)
    parity(lambda i: mod(i).unravel_index(i, 4), np.array([3]), grad=False)
    for m, exc in ((torch, TypeError), (lamina, TypeError)):
        with pytest.raises(exc):
            m.unravel_index(m.tensor([1.0]), (2, 3))
    with pytest.raises(ValueError):
        lamina.unravel_index(lamina.tensor([1]), (-2, 3))


@requires_torch
def test_index_put_function_in_place_matches_torch():
    def f(x, s):
        y = x * 1.0
        out = mod(x).index_put_(y, (T(x, [0, 0, 3]),), s[:3], accumulate=True)
        assert out is y
        return y
    parity(f, X, SRC)
