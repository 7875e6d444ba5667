"""Reductions: values against NumPy/PyTorch, float64 gradchecks, second derivatives, shapes, errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng, transposed

X = rng(0).standard_normal((3, 4, 5))
M = rng(1).standard_normal((4, 6))
V = rng(2).standard_normal(7)
POS = rng(3).uniform(0.5, 1.5, (3, 4))  # prod-friendly values
INF = math.inf

# one zero in some slices, two zeros in one slice, none elsewhere (rows of dim 1)
ZEROS = POS.copy()
ZEROS[0, 1] = 0.0
ZEROS[1, 0] = ZEROS[1, 3] = 0.0
ZEROS[2, 2] = 0.0

# (id, fn) pairs that run unchanged on lamina and torch tensors
DIFFERENTIABLE = [
    ("sum", lambda x: x.sum()),
    ("sum_dims", lambda x: x.sum((0, -1), keepdim=True)),
    ("mean_dim", lambda x: x.mean(1)),
    ("mean_dims_keep", lambda x: x.mean((0, 2), keepdim=True)),
    ("var_all", lambda x: x.var()),
    ("var_dim", lambda x: x.var(1)),
    ("var_dims_keep", lambda x: x.var((0, 2), keepdim=True)),
    ("var_corr0", lambda x: x.var(-1, correction=0)),
    ("var_corr2", lambda x: x.var(0, correction=2)),
    ("var_unbiased_false", lambda x: x.var(1, unbiased=False)),
    ("std_all", lambda x: x.std()),
    ("std_dim_keep", lambda x: x.std(-1, keepdim=True)),
    ("std_dims", lambda x: x.std((1, 2), correction=0)),
    ("max_all", lambda x: x.max()),
    ("min_all", lambda x: x.min()),
    ("max_dim", lambda x: x.max(1)),
    ("max_dim_keep", lambda x: x.max(-1, keepdim=True)),
    ("min_dim", lambda x: x.min(0)),
    ("amax_dims", lambda x: x.amax((0, 2))),
    ("amax_keep", lambda x: x.amax(1, keepdim=True)),
    ("amin_dims_keep", lambda x: x.amin((-1, 0), keepdim=True)),
    ("prod_all", lambda x: x.prod()),
    ("prod_dim", lambda x: x.prod(1)),
    ("prod_dim_keep", lambda x: x.prod(-1, keepdim=True)),
    ("logsumexp_dim", lambda x: x.logsumexp(1)),
    ("logsumexp_dims_keep", lambda x: x.logsumexp((0, 2), keepdim=True)),
    ("cumsum_0", lambda x: x.cumsum(0)),
    ("cumsum_last", lambda x: x.cumsum(-1)),
    ("norm_fro", lambda x: x.norm()),
    ("norm_fro_dims", lambda x: x.norm("fro", (0, 1))),
    ("norm_2_dim", lambda x: x.norm(2, 1)),
    ("norm_1_dim_keep", lambda x: x.norm(1, -1, keepdim=True)),
    ("norm_inf", lambda x: x.norm(INF, 1)),
    ("norm_neginf", lambda x: x.norm(-INF, (0, 2))),
    ("norm_3", lambda x: x.norm(3, -1)),
    ("norm_1.5_all", lambda x: x.norm(1.5)),
]
IDS = [name for name, _ in DIFFERENTIABLE]
FNS = [fn for _, fn in DIFFERENTIABLE]


def _input(name):
    return POS if name.startswith("prod") else X


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", IDS)
def test_gradcheck(name):
    gradcheck(FNS[IDS.index(name)], _input(name))


@pytest.mark.parametrize("layout", [noncontiguous, transposed], ids=["noncontiguous", "transposed"])
@pytest.mark.parametrize("name", ["sum_dims", "var_dims_keep", "std_dim_keep", "max_dim", "amax_dims",
                                  "prod_dim", "logsumexp_dim", "cumsum_last", "norm_2_dim", "norm_3"])
def test_gradcheck_strided_inputs(name, layout):
    fn = FNS[IDS.index(name)]
    gradcheck(fn, layout(_input(name)))


@pytest.mark.parametrize("name", ["var_dim", "var_dims_keep", "std_dim_keep", "logsumexp_dims_keep", "prod_dim",
                                  "prod_all", "norm_fro", "norm_2_dim", "norm_3", "norm_1.5_all"])
def test_gradgradcheck(name):
    gradgradcheck(FNS[IDS.index(name)], _input(name)[:2])


@pytest.mark.parametrize("name", ["sum_dims", "mean_dim", "max_dim", "min_all", "amax_dims", "amin_dims_keep",
                                  "cumsum_0", "norm_inf", "norm_1_dim_keep"])
def test_gradgradcheck_piecewise_linear_ops_record_their_backward(name):
    # these ops are (piecewise) linear: their own second derivative is 0, but their backward must
    # still be recorded so that a nonlinearity before them gets its second derivative
    fn = FNS[IDS.index(name)]
    gradgradcheck(lambda x: fn(x * x.sin()), X[:2])


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_prod_gradient_with_zeros(dim):
    fn = (lambda x: x.prod()) if dim is None else (lambda x: x.prod(dim, keepdim=True) if isinstance(dim, tuple) else x.prod(dim))
    gradcheck(fn, ZEROS)
    gradgradcheck(fn, ZEROS)


def test_prod_gradient_values_with_one_and_two_zeros():
    x = lamina.tensor([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0]], requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


# ---------------------------------------------------------------- parity with torch (float32)
@pytest.mark.parametrize("name", IDS)
def test_parity(name):
    parity(FNS[IDS.index(name)], _input(name).astype(np.float32))


@pytest.mark.parametrize("fn", [lambda x: x.prod(1), lambda x: x.prod(0), lambda x: x.prod()], ids=["d1", "d0", "all"])
def test_prod_zeros_parity(fn):
    parity(fn, ZEROS.astype(np.float32))


TIES = np.array([[1.0, 5.0, 5.0, 2.0], [3.0, 3.0, 3.0, -1.0], [0.0, -2.0, -2.0, 7.0]], dtype=np.float32)


@pytest.mark.parametrize("fn", [
    lambda x: x.max(), lambda x: x.min(), lambda x: x.amax(1), lambda x: x.amin(1), lambda x: x.amax((0, 1)),
    lambda x: x.max(1), lambda x: x.min(1, keepdim=True), lambda x: x.norm(INF, 1), lambda x: x.norm(-INF),
], ids=["max", "min", "amax", "amin", "amax_all", "max_dim", "min_dim", "norm_inf", "norm_neginf"])
def test_ties_split_gradient_like_torch(fn):
    parity(fn, TIES)


def test_max_full_reduction_splits_ties_evenly():
    x = lamina.tensor([1.0, 5.0, 5.0, 5.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-6)


def test_max_dim_returns_values_and_indices():
    x = lamina.tensor(TIES)
    out = x.max(1)
    values, indices = out
    assert out.values is values and out.indices is indices
    np.testing.assert_array_equal(values.numpy(), [5.0, 3.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0, 3])
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert lamina.min(x, 0, keepdim=True).indices.shape == (1, 4)
    np.testing.assert_array_equal(lamina.max(x, lamina.tensor(4.0)).numpy(), np.maximum(TIES, 4.0))


@pytest.mark.parametrize("fn", [
    lambda x: x.argmax(), lambda x: x.argmin(), lambda x: x.argmax(1), lambda x: x.argmin(0, keepdim=True),
    lambda x: x.argmax(-1, keepdim=True), lambda x: x.argmax(keepdim=True),
])
def test_argmax_argmin(fn):
    (out,) = parity(fn, TIES, grad=False)
    assert out.dtype == np.int64


def test_reductions_on_int_and_bool():
    x = lamina.tensor([[1, 2, 3], [4, 5, 6]])
    assert x.prod().item() == 720 and x.prod().dtype == np.int64
    np.testing.assert_array_equal(x.cumsum(1).numpy(), [[1, 3, 6], [4, 9, 15]])
    assert lamina.tensor([True, True, False]).cumsum(0).dtype == np.int64
    assert x.amax().item() == 6 and x.argmin().item() == 0
    np.testing.assert_array_equal(x.max(0).values.numpy(), [4, 5, 6])


@pytest.mark.parametrize("fn", [
    lambda x: x.all(), lambda x: x.any(), lambda x: x.all(1), lambda x: x.any(0, keepdim=True),
    lambda x: x.all((0, 1)), lambda x: (x > 0).any(-1),
])
def test_all_any(fn):
    a = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]], dtype=np.float32)
    (out,) = parity(fn, a, grad=False)
    assert out.dtype == np.bool_


# ---------------------------------------------------------------- values
def test_logsumexp_is_stable():
    x = lamina.tensor([[1000.0, 1000.0], [-1000.0, -1001.0]], dtype=lamina.float64, requires_grad=True)
    y = x.logsumexp(1)
    np.testing.assert_allclose(y.detach().numpy(), [1000 + math.log(2), -1000 + math.log1p(math.exp(-1))], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0.5], [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))]], rtol=1e-6)
    big = lamina.tensor([[80.0, 80.0], [-1e4, 0.0]]).logsumexp(1)  # exp(80) overflows float32
    np.testing.assert_allclose(big.numpy(), [80 + math.log(2), 0.0], rtol=1e-6)
    edge = lamina.tensor([[-INF, -INF], [INF, 1.0]]).logsumexp(1).numpy()
    assert edge[0] == -INF and edge[1] == INF


def test_cumsum_gradient_is_reverse_cumsum():
    x = lamina.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x.cumsum(0).backward(lamina.tensor([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_allclose(x.grad.numpy(), [1111.0, 1110.0, 1100.0, 1000.0])


@pytest.mark.parametrize("p", ["fro", 2, 1, INF, 3])
def test_norm_gradient_is_zero_at_zero(p):
    x = lamina.zeros(2, 3, requires_grad=True)
    y = x.norm(p)
    assert y.item() == 0.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_norm_values():
    a = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]], dtype=np.float32)
    x = lamina.tensor(a)
    assert x.norm().item() == pytest.approx(math.sqrt(34))
    np.testing.assert_allclose(x.norm(2, 1).numpy(), [5.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(x.norm(1, 1).numpy(), [7.0, 5.0], rtol=1e-6)
    np.testing.assert_allclose(x.norm(0, 1).numpy(), [2.0, 3.0])
    np.testing.assert_allclose(x.norm(INF, 0).numpy(), [3.0, 4.0, 2.0])
    np.testing.assert_allclose(x.norm(-INF, 1).numpy(), [0.0, 1.0])
    np.testing.assert_allclose(x.norm(3, 1).numpy(), np.sum(np.abs(a) ** 3, 1) ** (1 / 3), rtol=1e-6)


def test_norm_p0_parity_values():
    parity(lambda x: x.norm(0, 1), np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32), grad=False)


def test_std_of_constant_has_zero_gradient():
    x = lamina.tensor([2.0, 2.0, 2.0], requires_grad=True)
    y = x.std()
    assert y.item() == 0.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_var_degenerate_correction_matches_torch():
    assert math.isnan(lamina.tensor([1.0]).var().item())
    assert lamina.tensor([1.0, 2.0]).var(correction=3).item() == INF


@pytest.mark.parametrize("fn", [
    lambda s: s.sum(0, keepdim=True), lambda s: s.mean(), lambda s: s.var(correction=0), lambda s: s.std(0, correction=0),
    lambda s: s.max(), lambda s: s.max(0).values, lambda s: s.amin(keepdim=True), lambda s: s.prod(0),
    lambda s: s.logsumexp(0), lambda s: s.cumsum(0), lambda s: s.norm(), lambda s: s.norm(3, 0, keepdim=True),
])
def test_zero_dim_input(fn):
    s = lamina.tensor(-1.5, dtype=lamina.float64, requires_grad=True)
    y = fn(s)
    assert y.shape == ()
    gradcheck(fn, np.array(-1.5))


def test_scalar_input_and_empty_dim_tuple():
    s = lamina.tensor(3.0, requires_grad=True)
    assert s.sum(0).item() == 3.0 and s.max(0).indices.item() == 0 and s.cumsum(0).item() == 3.0
    assert s.argmax(0).item() == 0 and s.argmax(keepdim=True).shape == ()
    x = lamina.tensor(M.astype(np.float32))
    np.testing.assert_allclose(x.sum(()).numpy(), M.sum(), rtol=1e-5)
    assert isinstance(x.sum().array, np.ndarray)  # full reductions hold arrays, not NumPy scalars


# ---------------------------------------------------------------- hypothesis: shapes x dims x keepdim
@st.composite
def shape_and_dims(draw, min_ndim=0):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=min_ndim, max_size=4)))
    nd = len(shape)
    if nd == 0 or draw(st.booleans()):
        dim = None if draw(st.booleans()) or nd == 0 else tuple(range(nd))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        dim = tuple(a - nd if draw(st.booleans()) else a for a in axes)
        if len(dim) == 1 and draw(st.booleans()):
            dim = dim[0]
    return shape, dim, draw(st.booleans())


def _n_reduced(shape, dim):
    if dim is None:
        return math.prod(shape)
    dims = (dim,) if isinstance(dim, int) else dim
    return math.prod(shape[d] for d in dims)


def _explicit(dim, x):
    """torch's amax/logsumexp need dim: every dim of x (dim 0 of a 0-d tensor)."""
    return dim if dim is not None else tuple(range(x.ndim)) if x.ndim else 0


REDUCERS = {
    "sum": lambda d, k: lambda x: x.sum(d, keepdim=k),
    "mean": lambda d, k: lambda x: x.mean(d, keepdim=k),
    "var": lambda d, k: lambda x: x.var(d, keepdim=k, correction=0),
    "std": lambda d, k: lambda x: x.std(d, keepdim=k, correction=0),
    "amax": lambda d, k: lambda x: x.amax(_explicit(d, x), keepdim=k),
    "amin": lambda d, k: lambda x: x.amin(_explicit(d, x), keepdim=k),
    "prod": lambda d, k: lambda x: x.prod(d, keepdim=k) if isinstance(d, int) else x.prod(),
    "logsumexp": lambda d, k: lambda x: x.logsumexp(_explicit(d, x), keepdim=k),
    "norm2": lambda d, k: lambda x: x.norm(2, d, keepdim=k),
    "norm3": lambda d, k: lambda x: x.norm(3, d, keepdim=k),
}


@requires_torch
@pytest.mark.parametrize("op", list(REDUCERS))
@settings(max_examples=25, deadline=None)
@given(case=shape_and_dims(min_ndim=1))  # helpers.parity turns a 0-d array into shape (1,) for torch
def test_reduction_shapes_values_and_grads_match_torch(op, case):
    shape, dim, keepdim = case
    a = np.asarray(rng(len(shape)).uniform(0.5, 1.5, shape) * rng(7).choice([-1, 1], shape), dtype=np.float32)
    if op == "std" and _n_reduced(shape, dim) == 1:
        dim = None  # torch's std(correction=0) of one element: same 0 gradient, but avoid 0/0 corners
    parity(REDUCERS[op](dim, keepdim), a, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(case=shape_and_dims())
def test_sum_and_amax_match_numpy(case):
    shape, dim, keepdim = case
    a = np.asarray(rng(1).standard_normal(shape))
    axis = dim if dim is None or isinstance(dim, int) else tuple(dim)
    x = lamina.tensor(a)
    np.testing.assert_allclose(x.sum(dim, keepdim=keepdim).numpy(), a.sum(axis=axis, keepdims=keepdim))
    np.testing.assert_allclose(x.amax(dim, keepdim=keepdim).numpy(), a.max(axis=axis, keepdims=keepdim))
    np.testing.assert_array_equal((x > 0).any(dim, keepdim=keepdim).numpy(), (a > 0).any(axis=axis, keepdims=keepdim))
    np.testing.assert_array_equal((x > 0).all(dim, keepdim=keepdim).numpy(), (a > 0).all(axis=axis, keepdims=keepdim))


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("call, match", [
    (lambda x: x.sum(3), r"sum\(\): dimension 3 is out of range for a tensor of shape \(3, 4, 5\)"),
    (lambda x: x.var(-4), r"var\(\): dimension -4 is out of range"),
    (lambda x: x.amax((0, 5)), r"amax\(\): dimension 5"),
    (lambda x: x.max(7), r"max\(\): dimension 7"),
    (lambda x: x.argmax(3), r"argmax\(\): dimension 3"),
    (lambda x: x.cumsum(-5), r"cumsum\(\): dimension -5"),
    (lambda x: x.norm(2, 9), r"norm\(\): dimension 9"),
    (lambda x: x.logsumexp(4), r"logsumexp\(\): dimension 4"),
])
def test_bad_dim_raises_index_error(call, match):
    with pytest.raises(IndexError, match=match):
        call(lamina.tensor(X))


def test_other_errors():
    x = lamina.tensor(X)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.sum((1, -2))
    with pytest.raises(TypeError, match="max\\(\\): dim must be a single int"):
        x.max((0, 1))
    with pytest.raises(TypeError, match="dim must be an int"):
        x.sum("a")
    with pytest.raises(RuntimeError, match="max\\(\\): cannot reduce an empty tensor"):
        lamina.zeros(0, 3).max()
    with pytest.raises(IndexError, match="amax\\(\\): expected reduction dim 0 to have non-zero size"):
        lamina.zeros(0, 3).amax(0)
    assert lamina.zeros(0, 3).max(1).values.shape == (0,)
    with pytest.raises(RuntimeError, match="var\\(\\).*floating point"):
        lamina.tensor([1, 2, 3]).var()
    with pytest.raises(RuntimeError, match="norm\\(\\).*floating point"):
        lamina.tensor([1, 2, 3]).norm()
    with pytest.raises(NotImplementedError, match="nuc"):
        x.norm("nuc")
    with pytest.raises(ValueError, match="unknown norm type"):
        x.norm("bad")
    with pytest.raises(RuntimeError, match="Frobenius norm takes one or two dims"):
        x.norm("fro", (0, 1, 2))
    with pytest.raises(RuntimeError, match="mean\\(\\)"):
        lamina.tensor([1, 2]).mean()
