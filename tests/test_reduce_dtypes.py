"""Every reduction, scan, sort and statistic on every dtype, against torch: the dtype of each result,
its values, and the exception type where torch refuses (mean of ints, argmax of bools, ...)."""
import numpy as np
import pytest

import lamina
from helpers import requires_torch

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
# no ties inside a row or a column (except for bool), so every index output is determined
DATA = np.array([[1, 0, 3, 2], [2, 5, 0, 1], [4, 1, 6, 3]])

# ops taking dim=None / an int / a tuple, with keepdim
FULL = {
    "sum": lambda t, kw: t.sum(**kw),
    "prod": lambda t, kw: t.prod(**kw) if "dim" not in kw or isinstance(kw["dim"], int) else t.prod(),
    "mean": lambda t, kw: t.mean(**kw),
    "nansum": lambda t, kw: t.nansum(**kw),
    "nanmean": lambda t, kw: t.nanmean(**kw),
    "var": lambda t, kw: t.var(**kw),
    "std": lambda t, kw: t.std(**kw),
    "amax": lambda t, kw: t.amax(**kw),
    "amin": lambda t, kw: t.amin(**kw),
    "all": lambda t, kw: t.all(**kw),
    "any": lambda t, kw: t.any(**kw),
    "logsumexp": lambda t, kw: t.logsumexp(**(kw if "dim" in kw else {"dim": (0, 1)})),
    "norm": lambda t, kw: t.norm(**kw),
    "count_nonzero": lambda t, kw: t.count_nonzero(kw.get("dim")),
    "aminmax": lambda t, kw: t.aminmax(**kw),
    "sum_f32": lambda t, kw: t.sum(**kw, dtype=lamina_or_torch(t).float32),
    "sum_i32": lambda t, kw: t.sum(**kw, dtype=lamina_or_torch(t).int32),
    "mean_f64": lambda t, kw: t.mean(**kw, dtype=lamina_or_torch(t).float64),
    "mean_i64": lambda t, kw: t.mean(**kw, dtype=lamina_or_torch(t).int64),
    "nansum_f64": lambda t, kw: t.nansum(**kw, dtype=lamina_or_torch(t).float64),
    "var_mean": lambda t, kw: lamina_or_torch(t).var_mean(t, **kw),
    "std_mean": lambda t, kw: lamina_or_torch(t).std_mean(t, **kw),
}
FULL_DIMS = [{}, {"dim": 0}, {"dim": 1, "keepdim": True}, {"dim": (0, 1)}]

# ops taking one int dim
SINGLE = {
    "max": lambda t, d, k: t.max(d, keepdim=k),
    "min": lambda t, d, k: t.min(d, keepdim=k),
    "argmax": lambda t, d, k: t.argmax(d, keepdim=k),
    "argmin": lambda t, d, k: t.argmin(d, keepdim=k),
    "prod": lambda t, d, k: t.prod(d, keepdim=k),
    "prod_f64": lambda t, d, k: t.prod(d, keepdim=k, dtype=lamina_or_torch(t).float64),
    "median": lambda t, d, k: t.median(d, keepdim=k),
    "nanmedian": lambda t, d, k: t.nanmedian(d, keepdim=k),
    "mode": lambda t, d, k: t.mode(d, keepdim=k),
    "kthvalue": lambda t, d, k: t.kthvalue(2, d, keepdim=k),
    "quantile": lambda t, d, k: t.quantile(0.4, d, keepdim=k),
    "nanquantile": lambda t, d, k: t.nanquantile(0.4, d, keepdim=k),
    "cumsum": lambda t, d, k: t.cumsum(d),
    "cumsum_i32": lambda t, d, k: t.cumsum(d, dtype=lamina_or_torch(t).int32),
    "cumprod": lambda t, d, k: t.cumprod(d),
    "cumprod_f32": lambda t, d, k: t.cumprod(d, dtype=lamina_or_torch(t).float32),
    "cummax": lambda t, d, k: t.cummax(d),
    "cummin": lambda t, d, k: t.cummin(d),
    "logcumsumexp": lambda t, d, k: t.logcumsumexp(d),
    "sort": lambda t, d, k: t.sort(d, descending=k),
    "argsort": lambda t, d, k: t.argsort(d, descending=k),
    "topk": lambda t, d, k: t.topk(2, d, largest=k),
    "diff": lambda t, d, k: t.diff(dim=d),
    "unique_dim": lambda t, d, k: t.unique(dim=d, return_inverse=True, return_counts=True),
    "unique_consecutive": lambda t, d, k: t.unique_consecutive(dim=d, return_inverse=True, return_counts=True),
}
SINGLE_DIMS = [(0, False), (-1, True)]

# ops without a dim
NO_DIM = {
    "max_all": lambda t: t.max(),
    "min_all": lambda t: t.min(),
    "argmax_all": lambda t: t.argmax(),
    "median_all": lambda t: t.median(),
    "nanmedian_all": lambda t: t.nanmedian(),
    "quantile_all": lambda t: t.quantile(0.5),
    "msort": lambda t: t.msort(),
    "unique": lambda t: t.unique(return_inverse=True, return_counts=True),
    "unique_consecutive_flat": lambda t: t.unique_consecutive(return_counts=True),
    "histc": lambda t: t.histc(bins=4, min=0, max=6),
    "bincount": lambda t: t.reshape(-1).bincount(),
    "nonzero": lambda t: t.nonzero(),
    "argwhere": lambda t: t.argwhere(),
    "sum_empty_dims": lambda t: t.sum(()),
}

# (values, indices) ops whose index among equal values is implementation-defined in torch
ANY_TIE_INDEX = {"median", "nanmedian", "mode", "kthvalue", "topk"}


def lamina_or_torch(t):
    return torch if isinstance(t, torch.Tensor) else lamina


def _name(dt) -> str:
    return str(dt).replace("torch.", "").replace("lamina.", "")


def _compare(lo, to, name):
    if isinstance(to, torch.Tensor):
        assert isinstance(lo, lamina.Tensor), f"{name}: lamina gave {type(lo).__name__}"
        assert _name(lo.dtype) == _name(to.dtype), f"{name}: dtype {lo.dtype} != torch {to.dtype}"
        assert tuple(lo.shape) == tuple(to.shape), f"{name}: shape {lo.shape} != torch {tuple(to.shape)}"
        rtol = 2e-3 if to.dtype == torch.float16 else 1e-5
        np.testing.assert_allclose(lo.numpy().astype(np.float64), to.numpy().astype(np.float64), rtol=rtol,
                                   atol=1e-6, equal_nan=True, err_msg=name)
    else:
        assert type(lo) is not lamina.Tensor and len(lo) == len(to), f"{name}: {lo!r} vs {to!r}"
        if hasattr(to, "_fields"):
            assert tuple(lo._fields) == tuple(to._fields), f"{name}: fields {lo._fields} != {to._fields}"
        for k, (a, b) in enumerate(zip(lo, to)):
            _compare(a, b, f"{name}[{k}]")


def _check(fn, dtype, name):
    arr = DATA.astype(dtype)
    try:
        expected = fn(torch.from_numpy(arr.copy()))
    except Exception as e:  # torch refuses: lamina must refuse with the same exception type
        with pytest.raises(type(e)):
            fn(lamina.tensor(arr))
        return
    got = fn(lamina.tensor(arr))
    base = name.split("[")[0]
    if base in ANY_TIE_INDEX and not isinstance(expected, torch.Tensor):
        _compare(got[0], expected[0], name)  # values; the indices must point at those values
        assert _name(got[1].dtype) == "int64"
        np.testing.assert_array_equal(got[1].shape, tuple(expected[1].shape))
        return
    _compare(got, expected, name)


FULL_CASES = [(f"{op}{kw}", fn, kw) for op, fn in FULL.items() for kw in FULL_DIMS]
SINGLE_CASES = [(f"{op}[{d},{k}]", fn, d, k) for op, fn in SINGLE.items() for d, k in SINGLE_DIMS]


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, fn, kw", FULL_CASES, ids=[c[0] for c in FULL_CASES])
def test_full_reductions_match_torch(name, fn, kw, dtype):
    _check(lambda t: fn(t, dict(kw)), dtype, name)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, fn, d, k", SINGLE_CASES, ids=[c[0] for c in SINGLE_CASES])
def test_dim_reductions_match_torch(name, fn, d, k, dtype):
    _check(lambda t: fn(t, d, k), dtype, name)


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(NO_DIM))
def test_whole_tensor_ops_match_torch(name, dtype):
    _check(NO_DIM[name], dtype, name)


def test_the_accuracy_idioms_work():
    pred = lamina.tensor([1, 2, 0, 2])
    target = lamina.tensor([1, 0, 0, 2])
    assert pred.eq(target).sum().item() == 3
    assert (pred == target).float().mean().item() == 0.75
    assert lamina.tensor([1, 2, 3]).sum().item() == 6 and lamina.tensor([1, 2, 3]).sum().dtype == np.int64
    assert lamina.tensor([True, True, False]).sum().item() == 2
    assert lamina.tensor([[True, False], [True, True]]).sum(1).tolist() == [1, 2]


def test_float16_sum_accumulates_in_float32():
    x = lamina.ones(4096, dtype=lamina.float16)
    assert x.sum().item() == 4096.0  # a float16 running sum would stall at 2048
    assert x.sum().dtype == np.float16


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda t: t.sum(axis=1), lambda t: t.mean(axis=0, keepdims=True), lambda t: t.std(axis=1),
    lambda t: t.max(axis=1), lambda t: t.amin(axis=0, keepdims=True), lambda t: t.argmax(axis=1, keepdims=True),
    lambda t: t.median(axis=0), lambda t: t.sort(axis=1), lambda t: t.cumsum(axis=0), lambda t: t.topk(2, axis=0),
    lambda t: t.any(axis=1), lambda t: t.quantile(0.5, axis=1), lambda t: lamina_or_torch(t).sum(t, axis=0),
    lambda t: lamina_or_torch(t).var_mean(t, axis=1, keepdims=True),
])
def test_numpy_argument_names_are_accepted_as_in_torch(fn):
    """torch takes axis= for dim= and keepdims= for keepdim= (NumPy's names)."""
    _check(fn, "float32", "alias")


def test_alias_and_name_together_is_an_error():
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        lamina.ones(2, 2).sum(dim=0, axis=1)
