"""Statistics and scans: quantile, nanquantile, nansum, nanmean, var_mean, std_mean, aminmax,
count_nonzero, cov, corrcoef, bincount, histc, histogram, cumprod, logcumsumexp, diff:
values and gradients against torch, float64 gradchecks (second derivatives too), errors."""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng

torch = pytest.importorskip("torch")

X = rng(0).standard_normal((3, 5))
X3 = rng(1).standard_normal((2, 3, 4))
NANS = X.copy()
NANS[0, 1] = NANS[2, 3] = np.nan
ALL_NAN_ROW = NANS.copy()
ALL_NAN_ROW[1, :] = np.nan
ZEROS = X.copy()
ZEROS[0, 2] = ZEROS[1, 1] = ZEROS[1, 3] = 0.0


def mod(x):
    return torch if isinstance(x, torch.Tensor) else lamina


def call(name, *args, **kwargs):
    """x -> <lamina|torch>.<name>(x, *args, **kwargs)."""
    return lambda x: getattr(mod(x), name)(x, *args, **kwargs)


def q_of(q, x):
    return q if isinstance(q, float) else mod(x).tensor(q, dtype=x.dtype)


# ---------------------------------------------------------------- quantiles
@requires_torch
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("q", [0.3, 1.0, [0.0, 0.25, 0.5, 0.9]], ids=["q0.3", "q1", "qvec"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (0, False), (1, True), (-1, False)])
def test_quantile_matches_torch(interpolation, q, dim, keepdim):
    f = lambda name: lambda x: getattr(x, name)(q_of(q, x), dim, keepdim, interpolation=interpolation)  # noqa: E731
    parity(f("quantile"), X)
    parity(f("quantile"), NANS, grad=False)      # a NaN makes the quantile NaN
    parity(f("nanquantile"), ALL_NAN_ROW, grad=False)
    parity(f("nanquantile"), NANS)


def test_quantile_gradcheck():
    gradcheck(lambda x: x.quantile(0.3, 1), X)
    gradcheck(lambda x: x.quantile(lamina.tensor([0.1, 0.75], dtype=lamina.float64), 0, keepdim=True), X)
    gradcheck(lambda x: x.nanquantile(0.6, 1, interpolation="midpoint"), noncontiguous(X))
    gradgradcheck(lambda x: (x * x.sin()).quantile(0.3, 1), X)


@requires_torch
def test_quantile_functions_and_3d():
    parity(call("quantile", 0.7, dim=1), X3)
    parity(call("nanquantile", 0.2, dim=-1, keepdim=True), X3)
    parity(lambda x: x.quantile(0.5), X3.astype(np.float32))


# ---------------------------------------------------------------- NaN-aware reductions, moments
NAN_OPS = {
    "nansum": lambda x: x.nansum(),
    "nansum_dim": lambda x: x.nansum(1),
    "nansum_dims_keep": lambda x: x.nansum((0, 1), keepdim=True),
    "nanmean": lambda x: x.nanmean(),
    "nanmean_dim": lambda x: x.nanmean(0, keepdim=True),
    "fn_nansum": call("nansum", 0),
    "fn_nanmean": call("nanmean", -1),
}


@requires_torch
@pytest.mark.parametrize("name", list(NAN_OPS))
def test_nan_reductions_match_torch(name):
    parity(NAN_OPS[name], NANS)
    parity(NAN_OPS[name], X)
    gradcheck(NAN_OPS[name], X)


@requires_torch
def test_nanmean_of_an_all_nan_row_is_nan():
    parity(lambda x: x.nanmean(1), ALL_NAN_ROW, grad=False)
    x = lamina.tensor(ALL_NAN_ROW, requires_grad=True)
    x.nanmean(1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()  # NaN entries get 0, not NaN


MOMENTS = {
    "var_mean": call("var_mean"),
    "var_mean_dim": call("var_mean", 1),
    "var_mean_keep_corr0": call("var_mean", 0, correction=0, keepdim=True),
    "std_mean": call("std_mean"),
    "std_mean_dims": call("std_mean", (0, 1), keepdim=True),
    "std_mean_unbiased": call("std_mean", 1, unbiased=False),
    "aminmax": lambda x: x.aminmax(),
    "aminmax_dim": lambda x: x.aminmax(dim=1),
    "aminmax_dim_keep": call("aminmax", dim=0, keepdim=True),
}


@requires_torch
@pytest.mark.parametrize("name", list(MOMENTS))
def test_moments_match_torch(name):
    assert len(parity(MOMENTS[name], X)) == 2
    gradcheck(MOMENTS[name], X)
    if name.startswith("aminmax"):
        assert MOMENTS[name](lamina.tensor(X))._fields == ("min", "max")


@requires_torch
def test_aminmax_ties_split_like_torch():
    parity(lambda x: x.aminmax(), np.array([[1.0, 3.0, 3.0], [1.0, 0.0, 2.0]]))


@requires_torch
@pytest.mark.parametrize("dim", [None, 0, (0, 1), -1])
def test_count_nonzero_matches_torch(dim):
    a = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    (out,) = parity(call("count_nonzero", dim), a, grad=False)
    assert out.dtype == np.int64


# ---------------------------------------------------------------- covariance
@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"correction": 0}, {"correction": 2}])
def test_cov_corrcoef_match_torch(kwargs):
    parity(call("cov", **kwargs), X)
    parity(call("cov", **kwargs), X[0])
    parity(call("corrcoef"), X)
    gradcheck(call("cov", **kwargs), X)
    gradcheck(call("corrcoef"), X)
    gradgradcheck(call("corrcoef"), X)


@requires_torch
def test_cov_with_weights_matches_torch():
    fw = np.array([1, 2, 1, 3, 1])
    aw = np.abs(rng(2).standard_normal(5)) + 0.1
    parity(lambda x, a: mod(x).cov(x, fweights=mod(x).tensor(fw), aweights=a), X, aw)
    parity(lambda x, a: mod(x).cov(x, correction=0, aweights=a), X, aw)
    parity(lambda x: x.cov(fweights=mod(x).tensor(fw)), X)
    parity(lambda x: mod(x).cov(x), np.array([[1, 2, 4], [3, 3, 1]]), grad=False)  # ints become float


# ---------------------------------------------------------------- counting
@requires_torch
def test_bincount_matches_torch():
    a = rng(3).integers(0, 6, 30)
    for kw in ({}, {"minlength": 10}):
        (out,) = parity(call("bincount", **kw), a, grad=False)
        assert out.dtype == np.int64
    for wdt in (np.float32, np.float64, np.int64):
        (out,) = parity(lambda x, w: x.bincount(w), a, rng(4).random(30).astype(wdt) * 3, grad=False)
        assert out.dtype == (np.float32 if wdt == np.float32 else np.float64)
    parity(call("bincount"), np.zeros(0, dtype=np.int64), grad=False)


H = (rng(5).standard_normal(200) * 2).astype(np.float32)


@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"bins": 7}, {"bins": 5, "min": -1, "max": 2}, {"bins": 3, "min": 1, "max": 1}])
def test_histc_matches_torch(kwargs):
    (out,) = parity(call("histc", **kwargs), H, grad=False)
    assert out.dtype == np.float32
    parity(call("histc", **kwargs), H.astype(np.float64), grad=False)
    parity(lambda x: x.histc(bins=4), np.array([2.0, 2.0], dtype=np.float32), grad=False)  # constant data


@requires_torch
def test_histogram_matches_torch():
    parity(lambda x: x.histogram(6), H, grad=False)
    parity(lambda x: x.histogram(5, range=(-1.0, 1.0), density=True), H, grad=False)
    parity(lambda x, w: mod(x).histogram(x, mod(x).tensor([-3.0, -1.0, 0.0, 0.5, 4.0]), weight=w), H,
           np.abs(H), grad=False)
    h, edges = lamina.histogram(lamina.tensor(H), 4)
    assert h.shape == (4,) and edges.shape == (5,)


# ---------------------------------------------------------------- scans
SCANS = {
    "cumprod": lambda x: x.cumprod(1),
    "cumprod_dim0": lambda x: x.cumprod(0),
    "fn_cumprod": call("cumprod", -1),
    "logcumsumexp": lambda x: x.logcumsumexp(1),
    "logcumsumexp_dim0": call("logcumsumexp", 0),
    "diff": lambda x: x.diff(),
    "diff_n2_dim0": lambda x: x.diff(2, 0),
    "diff_prepend_append": lambda x: x.diff(dim=1, prepend=x[:, :2] * 2, append=x[:, :1]),
    "fn_diff": call("diff", n=3),
}


@requires_torch
@pytest.mark.parametrize("name", list(SCANS))
def test_scans_match_torch(name):
    parity(SCANS[name], X)
    gradcheck(SCANS[name], X)
    if "diff" not in name:
        gradgradcheck(SCANS[name], X)


@requires_torch
@pytest.mark.parametrize("fn", [lambda x: x.cumprod(1), lambda x: x.cumprod(0)], ids=["dim1", "dim0"])
def test_cumprod_with_zeros_matches_torch_to_second_order(fn):
    parity(fn, ZEROS)
    gradcheck(fn, ZEROS)
    gradgradcheck(fn, ZEROS)
    z3 = X3.copy()
    z3[0, 1, 1] = z3[1, 0, 2] = z3[1, 2, 2] = 0.0
    gradgradcheck(lambda x: x.cumprod(1), z3)


@requires_torch
def test_logcumsumexp_is_stable_and_matches_torch():
    big = X * 300.0
    parity(lambda x: x.logcumsumexp(1), big)
    parity(lambda x: x.logcumsumexp(0), np.array([[-np.inf, 1.0], [-np.inf, 2.0], [0.0, -np.inf]]), grad=False)


@requires_torch
def test_scans_on_integers_and_bools():
    a = np.array([[1, 2, 3], [4, 0, 6]])
    for f in (lambda x: x.cumprod(1), lambda x: x.diff(), lambda x: x.cumprod(0, dtype=mod(x).float64),
              lambda x: (x > 1).diff(), lambda x: (x > 1).cumprod(1), lambda x: x.cumsum_(0)):
        parity(f, a, grad=False)


def test_cumsum_and_cumprod_in_place():
    x = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y.cumprod_(0)
    y.cumsum_(0)
    y.sum().backward()
    # y = [x0, x0 + x0 x1, x0 + x0 x1 + x0 x1 x2]
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2 * 2 + 2 * 3, 2 * 1 + 1 * 3, 2.0])


# ---------------------------------------------------------------- errors
ERRORS = [
    lambda m, x: x.quantile(1.5),
    lambda m, x: x.quantile(m.tensor([0.5], dtype=m.float32)),
    lambda m, x: x.quantile(0.5, interpolation="foo"),
    lambda m, x: x.quantile(m.tensor([[0.5]], dtype=m.float64)),
    lambda m, x: m.zeros(0).quantile(0.5),
    lambda m, x: m.tensor([1, 2]).quantile(0.5),
    lambda m, x: x.quantile(0.5, 2),
    lambda m, x: m.tensor([1]).nanmean(),
    lambda m, x: m.tensor([1, 2]).mean(dtype=m.int64),
    lambda m, x: m.var_mean(m.tensor([1, 2])),
    lambda m, x: m.std_mean(m.tensor([1, 2])),
    lambda m, x: m.zeros(0).aminmax(),
    lambda m, x: x.aminmax(dim=(0, 1)),
    lambda m, x: m.bincount(m.tensor([-1])),
    lambda m, x: m.bincount(m.tensor([[1]])),
    lambda m, x: m.bincount(m.tensor([1.0])),
    lambda m, x: m.bincount(m.tensor([True])),
    lambda m, x: m.bincount(m.tensor([1, 2]), weights=m.tensor([1.0])),
    lambda m, x: m.histc(m.tensor([1.0]), bins=0),
    lambda m, x: m.histc(m.tensor([1.0]), min=3, max=1),
    lambda m, x: m.histc(m.tensor([1, 2])),
    lambda m, x: m.cov(m.zeros(2, 2, 2)),
    lambda m, x: m.cov(x, fweights=m.tensor([1.0, 2, 3, 4, 5])),
    lambda m, x: m.cov(x, aweights=m.tensor([-1.0, 2, 3, 4, 5], dtype=m.float64)),
    lambda m, x: x.cumprod(3),
    lambda m, x: m.tensor([1]).logcumsumexp(0),
    lambda m, x: x.diff(n=-1),
    lambda m, x: m.tensor(1.0).diff(),
    lambda m, x: x.diff(prepend=m.zeros(2)),
    lambda m, x: x.logcumsumexp(-3),
]


@requires_torch
@pytest.mark.parametrize("call_", ERRORS)
def test_errors_match_torch(call_):
    with pytest.raises(Exception) as expected:
        call_(torch, torch.from_numpy(X))
    with pytest.raises(type(expected.value)) as got:
        call_(lamina, lamina.tensor(X))
    assert str(got.value)


# ---------------------------------------------------------------- integrals, numerical derivatives
XS = np.array([0.0, 0.5, 1.5, 1.75, 3.0])
INTEGRALS = {
    "trapezoid": call("trapezoid"),
    "trapezoid_dx": call("trapezoid", dx=0.5, dim=0),
    "trapezoid_x": lambda y: mod(y).trapezoid(y, mod(y).tensor(XS)),
    "trapezoid_x_full": lambda y: mod(y).trapezoid(y, mod(y).tensor(np.tile(XS, (3, 1)) * [[1.0], [2.0], [0.5]])),
    "trapz": lambda y: mod(y).trapz(y, mod(y).tensor(XS)),
    "trapz_dx": lambda y: mod(y).trapz(y, dx=2.0),
    "cumulative_trapezoid": call("cumulative_trapezoid"),
    "cumulative_trapezoid_x_dim0": lambda y: mod(y).cumulative_trapezoid(y, mod(y).tensor(XS[:3]), dim=0),
    "gradient": call("gradient"),
    "gradient_dim_spacing": call("gradient", spacing=0.5, dim=1),
    "gradient_edge2": call("gradient", spacing=[2.0, 0.5], edge_order=2),
    "gradient_coords": lambda y: mod(y).gradient(y, spacing=(mod(y).tensor(XS),), dim=1),
    "gradient_coords_edge2": lambda y: mod(y).gradient(y, spacing=(mod(y).tensor(XS),), dim=-1, edge_order=2),
}


@requires_torch
@pytest.mark.parametrize("name", list(INTEGRALS))
def test_integrals_and_gradient_match_torch(name):
    parity(INTEGRALS[name], X)
    gradcheck(INTEGRALS[name], X)


@requires_torch
def test_integrals_of_integers_are_float():
    a = np.array([1, 2, 4])
    for f in (call("trapezoid"), call("trapezoid", dx=2), call("cumulative_trapezoid"), call("gradient")):
        parity(f, a, grad=False)


@requires_torch
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
def test_segment_reduce_matches_torch(reduce):
    d = rng(6).standard_normal((6, 2))
    parity(lambda x: mod(x).segment_reduce(x, reduce, lengths=mod(x).tensor([2, 0, 3, 1])), d)
    parity(lambda x: mod(x).segment_reduce(x, reduce, offsets=mod(x).tensor([0, 2, 2, 5, 6])), d[:, 0])
    gradcheck(lambda x: lamina.segment_reduce(x, reduce, lengths=lamina.tensor([2, 4])), d)
    if reduce != "mean":
        parity(lambda x: mod(x).segment_reduce(x, reduce, lengths=mod(x).tensor([2, 0, 4]), initial=0.5), d)


@requires_torch
def test_segment_reduce_ties_split_like_torch():
    parity(lambda x: mod(x).segment_reduce(x, "max", lengths=mod(x).tensor([3, 1])), np.array([1.0, 2.0, 2.0, 5.0]))


@requires_torch
def test_histogramdd_matches_torch():
    pts = rng(7).standard_normal((50, 2)).astype(np.float32)
    w = np.abs(pts[:, 0])
    edges = [np.array([-3.0, 0.0, 3.0], dtype=np.float32), np.array([-1.0, 0.5, 2.0], dtype=np.float32)]
    for kw in ({"bins": [2, 3]}, {"bins": 4, "range": [-1.0, 1.0, -2.0, 2.0]}, {"bins": 3, "density": True},
               {"bins": "edges", "weight": w}):
        def run(m):
            k = dict(kw)
            if k["bins"] == "edges":
                k["bins"] = [m.tensor(e) for e in edges]
            if "weight" in k:
                k["weight"] = m.tensor(k["weight"])
            return m.histogramdd(m.tensor(pts), **k)
        (h, e), (th, te) = run(lamina), run(torch)
        np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-5)
        assert h.dtype == np.float32 and len(e) == len(te) == 2
        for a, b in zip(e, te):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("size", [(1, 5), ((3, 1),), (5,), (1, 1), ((3, 5),)])
def test_sum_to_size_matches_torch(size):
    parity(lambda x: x.sum_to_size(*size), X)


ERRORS_MORE = [
    lambda m, x: m.trapezoid(x, m.tensor([0.0, 1.0])),
    lambda m, x: m.gradient(m.tensor([1.0, 2.0, 3.0]), edge_order=3),
    lambda m, x: m.gradient(m.tensor([1.0, 2.0]), edge_order=2),
    lambda m, x: m.segment_reduce(x, "sum", lengths=m.tensor([2, 2])),
    lambda m, x: m.segment_reduce(x, "foo", lengths=m.tensor([3])),
    lambda m, x: m.segment_reduce(x, "sum"),
    lambda m, x: m.segment_reduce(m.tensor([1, 2, 3]), "sum", lengths=m.tensor([3])),
    lambda m, x: x.sum_to_size(3),
    lambda m, x: x.sum_to_size(2, 5),
]


@requires_torch
@pytest.mark.parametrize("call_", ERRORS_MORE)
def test_more_errors_match_torch(call_):
    with pytest.raises(Exception) as expected:
        call_(torch, torch.from_numpy(X))
    with pytest.raises(type(expected.value)):
        call_(lamina, lamina.tensor(X))
