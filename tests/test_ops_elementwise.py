"""Elementwise ops: values, gradients (float64 finite differences), PyTorch parity, dtypes, broadcasting.

Each op is one line of a table; the tests run every line through gradcheck (with broadcasting,
non-contiguous and transposed inputs), gradgradcheck and torch parity in float32.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng, torch, transposed


def lib(x):
    """The module that owns ``x``: lamina for lamina tensors, torch for torch tensors."""
    return lamina if isinstance(x, lamina.Tensor) else torch


# ---------------------------------------------------------------- input domains
def sample(domain, shape, seed=0):
    return np.asarray(_sample(domain, shape, seed))  # 0-d arrays, not NumPy scalars


def _sample(domain, shape, seed):
    r = rng(seed)
    if domain == "any":
        return r.standard_normal(shape)
    if domain == "pos":
        return r.uniform(0.5, 2.0, shape)
    if domain == "nonzero":  # away from 0, where abs/relu/reciprocal have a kink or a pole
        return r.choice([-1.0, 1.0], shape) * r.uniform(0.3, 2.0, shape)
    if domain == "int_valued":  # integer exponents as floats
        return r.integers(-2, 4, shape).astype(np.float64)
    raise ValueError(domain)


def layout(a, kind):
    return {"contig": lambda x: x, "noncontig": noncontiguous, "transposed": transposed}[kind](a)


LAYOUTS = ["contig", "noncontig", "transposed"]

# ---------------------------------------------------------------- unary table: name, fn, domain
UNARY = [
    ("neg", lambda x: -x, "any"),
    ("exp", lambda x: x.exp(), "any"),
    ("log", lambda x: x.log(), "pos"),
    ("log1p", lambda x: x.log1p(), "pos"),
    ("expm1", lambda x: x.expm1(), "any"),
    ("sqrt", lambda x: x.sqrt(), "pos"),
    ("rsqrt", lambda x: x.rsqrt(), "pos"),
    ("abs", lambda x: x.abs(), "nonzero"),
    ("sin", lambda x: x.sin(), "any"),
    ("cos", lambda x: x.cos(), "any"),
    ("tanh", lambda x: x.tanh(), "any"),
    ("sigmoid", lambda x: x.sigmoid(), "any"),
    ("relu", lambda x: x.relu(), "nonzero"),
    ("square", lambda x: x.square(), "any"),
    ("reciprocal", lambda x: x.reciprocal(), "nonzero"),
    ("clamp", lambda x: x.clamp(-0.5, 0.5), "nonzero"),
    ("clamp_min_only", lambda x: x.clamp(min=-0.2), "any"),
    ("clamp_max_only", lambda x: x.clamp(max=0.2), "any"),
    ("clip", lambda x: lib(x).clip(x, -0.5, 0.5), "nonzero"),
    ("pow0", lambda x: x ** 0, "any"),
    ("pow1", lambda x: x ** 1, "any"),
    ("pow2", lambda x: x ** 2, "any"),
    ("pow3_negative_bases", lambda x: x ** 3, "any"),
    ("pow_half", lambda x: x ** 0.5, "pos"),
    ("pow_minus1", lambda x: x ** -1, "nonzero"),
    ("pow_minus2_negative_bases", lambda x: x ** -2, "nonzero"),
    ("pow_float", lambda x: x ** 2.5, "pos"),
    ("scalar_pow", lambda x: 2.0 ** x, "any"),
    ("add_scalar", lambda x: x + 1.5, "any"),
    ("rsub_scalar", lambda x: 1.5 - x, "any"),
    ("mul_scalar", lambda x: x * 2.5, "any"),
    ("rdiv_scalar", lambda x: 3.0 / x, "nonzero"),
    ("div_scalar", lambda x: x / 4, "any"),
    ("mod_scalar", lambda x: x % 0.7, "any"),
    ("where_scalar_branch", lambda x: lib(x).where(x > 0, x, 0.0), "nonzero"),
    ("where_scalar_first", lambda x: lib(x).where(x > 0, 1.0, x), "nonzero"),
    ("sign", lambda x: x.sign() * x, "nonzero"),
    ("sign_alone", lambda x: x.sign(), "nonzero"),
    ("composite", lambda x: (x.sin() * x.exp() + 1.0).tanh() / (x * x + 1.0), "any"),
    # piecewise-linear ops times x: their backward must itself be differentiable (gradgradcheck)
    ("relu_product", lambda x: x.relu() * x, "nonzero"),
    ("abs_product", lambda x: x.abs() * x, "nonzero"),
    ("clamp_product", lambda x: x.clamp(-0.5, 0.5) * x, "nonzero"),
]
UNARY_IDS = [u[0] for u in UNARY]
# ops whose gradient is piecewise constant (its own derivative is zero or undefined) skip gradgradcheck
SMOOTH_UNARY = [u for u in UNARY if u[0] not in ("relu", "clamp", "clip", "abs", "clamp_min_only", "clamp_max_only",
                                                   "where_scalar_branch", "where_scalar_first", "mod_scalar", "pow0",
                                                   "pow1", "sign_alone", "neg", "add_scalar", "rsub_scalar",
                                                   "mul_scalar", "div_scalar")]


@pytest.mark.parametrize("kind", LAYOUTS)
@pytest.mark.parametrize("name,fn,domain", UNARY, ids=UNARY_IDS)
def test_unary_gradcheck(name, fn, domain, kind):
    gradcheck(fn, layout(sample(domain, (3, 4)), kind))


@pytest.mark.parametrize("name,fn,domain", UNARY, ids=UNARY_IDS)
def test_unary_gradcheck_scalar_shaped(name, fn, domain):
    gradcheck(fn, sample(domain, ()))


@requires_torch
@pytest.mark.parametrize("name,fn,domain", UNARY, ids=UNARY_IDS)
def test_unary_parity_float32(name, fn, domain):
    x = sample(domain, (2, 3, 4)).astype(np.float32)
    (out,) = parity(fn, x)
    assert out.dtype == lamina.float32


@pytest.mark.parametrize("name,fn,domain", SMOOTH_UNARY, ids=[u[0] for u in SMOOTH_UNARY])
def test_unary_gradgradcheck(name, fn, domain):
    gradgradcheck(fn, sample(domain, (5,), seed=1))


# ---------------------------------------------------------------- binary table: name, fn, domain of a, of b
BINARY = [
    ("add", lambda a, b: a + b, "any", "any"),
    ("sub", lambda a, b: a - b, "any", "any"),
    ("mul", lambda a, b: a * b, "any", "any"),
    ("div", lambda a, b: a / b, "any", "nonzero"),
    ("pow", lambda a, b: a ** b, "pos", "any"),
    ("maximum", lambda a, b: lib(a).maximum(a, b), "any", "any"),
    ("minimum", lambda a, b: lib(a).minimum(a, b), "any", "any"),
    ("remainder", lambda a, b: a % b, "pos", "pos"),
    ("where", lambda a, b: lib(a).where(a > b, a, b * 2.0), "any", "any"),
    ("clamp_tensor_min", lambda a, b: lib(a).clamp(a, min=b), "any", "any"),
    ("clamp_tensor_max", lambda a, b: lib(a).clamp(a, max=b), "any", "any"),
    ("clamp_tensor_both", lambda a, b: lib(a).clamp(a, min=b - 0.5, max=b + 0.5), "any", "any"),
    ("composite", lambda a, b: (a * b).sigmoid() + a / (b * b + 1.0) - (a - b).exp(), "any", "any"),
]
BINARY_IDS = [b[0] for b in BINARY]
SHAPES = [((3, 4), (3, 4)), ((3, 1, 4), (2, 4)), ((2, 4), ()), ((), (3,)), ((1,), (2, 3)), ((4, 1), (1, 5))]
SHAPE_IDS = ["same", "3x1x4-2x4", "2x4-scalar", "scalar-3", "1-2x3", "4x1-1x5"]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=BINARY_IDS)
def test_binary_gradcheck_broadcasting(name, fn, da, db, sa, sb):
    gradcheck(fn, sample(da, sa, seed=1), sample(db, sb, seed=2))


@pytest.mark.parametrize("kind", ["noncontig", "transposed"])
@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=BINARY_IDS)
def test_binary_gradcheck_layouts(name, fn, da, db, kind):
    gradcheck(fn, layout(sample(da, (3, 4), seed=1), kind), layout(sample(db, (3, 4), seed=2), kind))
    gradcheck(fn, layout(sample(da, (3, 4), seed=1), kind), sample(db, (4,), seed=2))


@requires_torch
@pytest.mark.parametrize("sa,sb", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=BINARY_IDS)
def test_binary_parity_float32(name, fn, da, db, sa, sb):
    a = sample(da, sa, seed=1).astype(np.float32)
    b = sample(db, sb, seed=2).astype(np.float32)
    (out,) = parity(fn, a, b)
    assert out.dtype == lamina.float32


# where/maximum/minimum are piecewise linear: compose them with products so that the second
# derivative flows through their (Tensor-op) backward and is not identically zero
GRADGRAD = [b for b in BINARY if b[0] in ("mul", "div", "pow", "composite")] + [
    ("where", lambda a, b: lib(a).where(a > 0, a * b, (b * a).exp()), "any", "any"),
    ("maximum", lambda a, b: lib(a).maximum(a * b, b * b) * a, "any", "any"),
    ("minimum", lambda a, b: lib(a).minimum(a * a, b * a) * b, "any", "any"),
    ("clamp_tensor", lambda a, b: lib(a).clamp(a * b, min=b * b) * a, "any", "any"),
]


@pytest.mark.parametrize("name,fn,da,db", GRADGRAD, ids=[g[0] for g in GRADGRAD])
def test_binary_gradgradcheck(name, fn, da, db):
    gradgradcheck(fn, sample(da, (2, 3), seed=3), sample(db, (3,), seed=4))


@requires_torch
def test_pow_negative_bases_with_integer_exponent_tensor():
    a = sample("nonzero", (3, 4), seed=5).astype(np.float32)
    b = sample("int_valued", (3, 4), seed=6).astype(np.float32)
    # d/da is finite for negative bases; d/db = y log(a) is nan there, as in torch
    parity(lambda x, e: x ** e, a, b, rtol=1e-4, atol=1e-4)
    parity(lambda x: x ** lamina.tensor(b) if isinstance(x, lamina.Tensor) else x ** torch.from_numpy(b), a)


@requires_torch
def test_pow_gradients_at_zero_base_match_torch():
    base = np.array([0.0, 0.0, 1.0, 2.0], dtype=np.float32)
    expo = np.array([0.0, 2.0, 0.0, 3.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parity(lambda a, b: a ** b, base, expo)
        parity(lambda b: 0.0 ** b, expo)
    parity(lambda a: a ** 0, base)


@requires_torch
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_the_gradient(op):
    a = np.array([1.0, 2.0, 3.0, -1.0], dtype=np.float32)
    b = np.array([1.0, 0.0, 3.0, 5.0], dtype=np.float32)
    parity(lambda x, y: getattr(lib(x), op)(x, y), a, b)
    x = lamina.tensor(a, requires_grad=True)
    y = lamina.tensor(b, requires_grad=True)
    getattr(lamina, op)(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[[0, 2]], [0.5, 0.5])
    np.testing.assert_allclose(y.grad.numpy()[[0, 2]], [0.5, 0.5])


@requires_torch
def test_clamp_at_its_bounds_matches_torch():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=np.float32)
    parity(lambda t: t.clamp(-0.5, 0.5), x)
    parity(lambda t: t.clamp(0.0, 0.0), x)
    parity(lambda t, m: lib(t).clamp(t, min=m), x, np.full(5, 0.0, np.float32))
    parity(lambda t, m: lib(t).clamp(t, max=m), x, np.full(5, 0.5, np.float32))
    parity(lambda t: t.relu(), x)
    parity(lambda t: t.abs(), x)


# ---------------------------------------------------------------- hypothesis: broadcasting against torch
BROADCAST_OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: lib(a).maximum(a, b),
}


@requires_torch
@settings(max_examples=30, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4),
       op=st.sampled_from(sorted(BROADCAST_OPS)), seed=st.integers(0, 2**16))
def test_broadcasting_matches_torch(shapes, op, seed):
    sa, sb = shapes.input_shapes
    r = rng(seed)
    a = np.asarray(r.standard_normal(sa), dtype=np.float32)
    b = np.asarray(r.choice([-1.0, 1.0], sb) * r.uniform(0.5, 2.0, sb), dtype=np.float32)
    (out,) = parity(BROADCAST_OPS[op], a, b)
    assert out.shape == shapes.result_shape


@st.composite
def incompatible_shapes(draw):
    sa = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    sb = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    k = draw(st.integers(1, min(len(sa), len(sb))))  # a trailing dimension where they disagree
    n = draw(st.integers(2, 4))
    sa[-k], sb[-k] = n, draw(st.integers(2, 5).filter(lambda m: m != n))
    return tuple(sa), tuple(sb)


@settings(max_examples=30, deadline=None)
@given(shapes=incompatible_shapes(), op=st.sampled_from(["add", "sub", "mul", "div", "maximum", "minimum", "pow",
                                                         "lt", "eq", "remainder"]))
def test_incompatible_shapes_raise_naming_both(shapes, op):
    sa, sb = shapes
    a, b = lamina.ones(*sa), lamina.ones(*sb)
    with pytest.raises(ValueError) as info:
        getattr(lamina, op)(a, b)
    msg = str(info.value)
    assert str(sa) in msg and str(sb) in msg and op in msg


def test_where_shape_mismatch_names_all_shapes():
    with pytest.raises(ValueError, match=r"where.*\(3,\).*\(2,\).*\(2,\)"):
        lamina.where(lamina.tensor([True, False, True]), lamina.ones(2), lamina.zeros(2))


# ---------------------------------------------------------------- dtype promotion (torch is the oracle)
DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def _ones(mod, dtype, zero_dim):
    shape = () if zero_dim else (2,)
    if mod is lamina and dtype == "bool":
        dtype = "bool_"
    return mod.ones(shape, dtype=getattr(mod, dtype))


def _tname(dt):
    return str(dt).replace("torch.", "")


@requires_torch
@pytest.mark.parametrize("op", ["add", "mul", "maximum", "where"])
def test_tensor_tensor_promotion_matches_torch(op):
    fns = {"add": lambda a, b: a + b,
           "mul": lambda a, b: a * b, "maximum": lambda a, b: lib(a).maximum(a, b),
           "where": lambda a, b: lib(a).where(a > 0, a, b)}
    fn, bad = fns[op], []
    for da in DTYPES:
        for db in DTYPES:
            for za, zb in [(False, False), (False, True), (True, False), (True, True)]:
                want = fn(_ones(torch, da, za), _ones(torch, db, zb)).dtype
                got = fn(_ones(lamina, da, za), _ones(lamina, db, zb)).dtype
                if str(got) != _tname(want):
                    bad.append(f"{da}{'()' if za else ''} {op} {db}{'()' if zb else ''}: lamina {got}, torch {want}")
    assert not bad, "\n".join(bad)


@requires_torch
@pytest.mark.parametrize("scalar", [True, 3, -2, 2.5, np.float64(1.5), np.int32(2)], ids=repr)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "floordiv", "pow", "rpow", "lt", "eq", "radd"])
def test_tensor_scalar_promotion_matches_torch(scalar, op):
    fns = {"add": lambda t: t + scalar, "radd": lambda t: scalar + t, "sub": lambda t: t - scalar,
           "mul": lambda t: t * scalar, "truediv": lambda t: t / scalar, "floordiv": lambda t: t // scalar,
           "pow": lambda t: t ** scalar, "rpow": lambda t: scalar ** t, "lt": lambda t: t < scalar,
           "eq": lambda t: t == scalar}
    fn, bad = fns[op], []
    for dt in DTYPES:
        for zero_dim in (False, True):
            try:
                want = fn(_ones(torch, dt, zero_dim) * (2 if dt != "bool" else 1))
            except Exception:
                continue  # torch rejects it (bool subtraction, ...)
            got = fn(_ones(lamina, dt, zero_dim) * (2 if dt != "bool" else 1))
            if str(got.dtype) != _tname(want.dtype) or got.shape != tuple(want.shape):
                bad.append(f"{dt}{'()' if zero_dim else ''} {op} {scalar!r}: lamina {got.dtype}, torch {want.dtype}")
            elif not np.allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), equal_nan=True):
                bad.append(f"{dt} {op} {scalar!r}: values {got.numpy()} vs {want.numpy()}")
    assert not bad, "\n".join(bad)


def test_python_scalars_do_not_upcast():
    x = lamina.ones(3)
    assert (x * 2.5).dtype == lamina.float32
    assert (2.5 * x).dtype == lamina.float32
    assert (x + 1).dtype == lamina.float32
    assert (x ** 2).dtype == lamina.float32 and (x ** 0.5).dtype == lamina.float32
    assert (x * np.float64(2.0)).dtype == lamina.float32
    assert (x + lamina.ones(3, dtype=lamina.float64)).dtype == lamina.float64
    assert (x + lamina.tensor(2.0, dtype=lamina.float64)).dtype == lamina.float32  # a 0-d tensor acts like a scalar
    i = lamina.tensor([1, 2, 3])
    assert (i + 2.5).dtype == lamina.float32 and (i * 2).dtype == lamina.int64
    assert (i / 2).dtype == lamina.float32 and (i / i).dtype == lamina.float32
    h = lamina.ones(2, dtype=lamina.float16)
    assert (h * 3.0).dtype == lamina.float16


def test_mixed_precision_gradients_come_back_in_each_inputs_dtype():
    a = lamina.ones(3, requires_grad=True)
    b = lamina.ones(3, dtype=lamina.float64, requires_grad=True)
    (a * b * 2.0).sum().backward()
    assert a.grad.dtype == lamina.float32 and b.grad.dtype == lamina.float64
    np.testing.assert_allclose(a.grad.numpy(), 2.0)


# ---------------------------------------------------------------- integer arithmetic and rounding
@requires_torch
@pytest.mark.parametrize("fn", [
    lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a / b,
    lambda a, b: a.div(b, rounding_mode="trunc"), lambda a, b: a.div(b, rounding_mode="floor"),
    lambda a, b: a * b - a, lambda a, b: a ** 2, lambda a, b: -a, lambda a, b: a.abs(), lambda a, b: a.sign(),
    lambda a, b: a.clamp(-3, 4), lambda a, b: a.clamp(min=0.5), lambda a, b: a.relu(), lambda a, b: a.square(),
    lambda a, b: a.exp(), lambda a, b: a.sqrt(), lambda a, b: a ** 0.5, lambda a, b: 2 ** b, lambda a, b: 2.5 ** b,
], ids=["floordiv", "mod", "truediv", "trunc", "floor", "mulsub", "pow2", "neg", "abs", "sign", "clamp_int",
        "clamp_float", "relu", "square", "exp", "sqrt", "pow_half", "rpow_int", "rpow_float"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32"])
def test_integer_and_float_arithmetic_matches_torch(fn, dtype):
    av = np.array([7, -7, 5, -5, 0, 9, 3], dtype=dtype)
    bv = np.array([2, 2, -3, -3, 4, 3, 1], dtype=dtype)
    with np.errstate(invalid="ignore"):  # sqrt of negatives is nan, silently in torch
        got = fn(lamina.tensor(av), lamina.tensor(bv))
    want = fn(torch.from_numpy(av), torch.from_numpy(bv))
    assert str(got.dtype) == _tname(want.dtype)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, equal_nan=True)


def test_integer_to_negative_power_raises():
    with pytest.raises((ValueError, RuntimeError), match="negative"):
        lamina.tensor([1, 2]) ** -1


def test_trunc_division_is_exact_for_large_integers():
    a = lamina.tensor([2**53 + 1, -(2**53 + 1)])
    np.testing.assert_array_equal(a.div(1, rounding_mode="trunc").numpy(), [2**53 + 1, -(2**53 + 1)])
    with pytest.raises(ValueError, match="rounding_mode"):
        a.div(2, rounding_mode="round")


def test_floordiv_and_sign_have_no_graph_but_sign_has_zero_gradient():
    x = lamina.tensor([1.5, -2.5], requires_grad=True)
    assert not (x // 1.0).requires_grad
    s = x.sign()
    assert s.requires_grad  # as torch: a zero gradient flows through sign
    s.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_neg_of_bool_raises():
    with pytest.raises(TypeError, match="bool"):
        -lamina.tensor([True])


# ---------------------------------------------------------------- numerical stability
@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_are_stable_for_large_inputs(dtype):
    x = np.array([-1e4, -800.0, -100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings from exp
        # atol: torch flushes sigmoid(-100) = 3.7e-44 (a float32 denormal) to 0, lamina keeps it
        (y,) = parity(lambda t: t.sigmoid(), x, rtol=1e-6, atol=1e-40)
        parity(lambda t: t.tanh(), x, rtol=1e-6, atol=0)
    assert np.all(np.isfinite(y.detach().numpy()))
    assert y.dtype == dtype
    assert y.detach().numpy()[3] > 0  # sigmoid(-30) is tiny but not flushed to zero


def test_log_and_sqrt_at_edges_follow_ieee():
    x = lamina.tensor([0.0, -1.0, np.inf])
    with np.errstate(all="ignore"):
        y = x.log().numpy()
    assert y[0] == -np.inf and np.isnan(y[1]) and y[2] == np.inf
    with np.errstate(all="ignore"):
        assert np.isnan(lamina.tensor([-1.0]).sqrt().item())


# ---------------------------------------------------------------- where, clamp details
@requires_torch
def test_where_with_scalar_branches_and_broadcast_condition():
    cond = np.array([[True], [False]])
    for a, b in [(1.0, 0), (1, 2), (True, 3), (2.5, 1.5)]:
        got = lamina.where(lamina.tensor(cond), a, b)
        want = torch.where(torch.from_numpy(cond), a, b)
        assert str(got.dtype) == _tname(want.dtype) and got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    parity(lambda t: lib(t).where(t > 2, t, t * -1.0), x)
    parity(lambda t: lib(t).where(lib(t).from_numpy(cond) if lib(t) is torch else lamina.tensor(cond), t, 0.0), x)
    # a list or array condition is accepted
    y = lamina.where([True, False], lamina.tensor([1.0, 2.0]), -1.0)
    np.testing.assert_array_equal(y.numpy(), [1.0, -1.0])


def test_clamp_requires_a_bound_and_accepts_one_sided_and_reversed_bounds():
    x = lamina.tensor([-2.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        x.clamp()
    np.testing.assert_array_equal(x.clamp(min=0).numpy(), [0, 0, 2])
    np.testing.assert_array_equal(x.clamp(max=0).numpy(), [-2, 0, 0])
    np.testing.assert_array_equal(x.clamp(1.0, -1.0).numpy(), [-1, -1, -1])  # min > max: max wins, as torch
    np.testing.assert_array_equal(x.clamp_min(1.0).numpy(), [1, 1, 2])
    np.testing.assert_array_equal(x.clamp_max(-1.0).numpy(), [-2, -1, -1])
    assert lamina.clip is lamina.clamp
    i = lamina.tensor([-2, 5])
    assert i.clamp(0, 3).dtype == lamina.int64 and i.clamp(0.5).dtype == lamina.float32


# ---------------------------------------------------------------- comparisons and logic
@requires_torch
@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_give_bool_without_grad(op):
    a = np.array([1.0, 2.0, 3.0, np.nan], dtype=np.float32)
    b = np.array([2.0, 2.0, 1.0, np.nan], dtype=np.float32)
    x = lamina.tensor(a, requires_grad=True)
    for other in (lamina.tensor(b), 2.0, 2):
        got = getattr(lamina, op)(x, other)
        tother = torch.from_numpy(b) if isinstance(other, lamina.Tensor) else other
        want = getattr(torch, op)(torch.from_numpy(a), tother)
        assert got.dtype == lamina.bool_ and not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    ops = {"lt": x < 2.0, "le": x <= 2.0, "gt": x > 2.0, "ge": x >= 2.0, "eq": x == 2.0, "ne": x != 2.0}
    np.testing.assert_array_equal(ops[op].numpy(), getattr(torch, op)(torch.from_numpy(a), 2.0).numpy())


def test_comparison_with_none_is_false_like_torch():
    x = lamina.ones(2)
    assert (x == None) is False  # noqa: E711
    assert (x != None) is True  # noqa: E711


@requires_torch
@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_match_torch(op):
    a = np.array([0.0, 1.0, 2.0, 0.0])
    b = np.array([0, 0, 3, 5])
    got = getattr(lamina, op)(lamina.tensor(a), lamina.tensor(b))
    want = getattr(torch, op)(torch.from_numpy(a), torch.from_numpy(b))
    assert got.dtype == lamina.bool_
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(lamina.logical_not(lamina.tensor(a)).numpy(), [True, False, False, True])


@requires_torch
def test_bitwise_operators_match_torch():
    a, b = np.array([3, 5, -1, 0]), np.array([1, 4, 7, 2])
    pa, pb = np.array([True, True, False, False]), np.array([True, False, True, False])
    for fn in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x, lambda x, y: x & True,
               lambda x, y: True | x):
        for u, v in ((a, b), (pa, pb)):
            got, want = fn(lamina.tensor(u), lamina.tensor(v)), fn(torch.from_numpy(u), torch.from_numpy(v))
            assert str(got.dtype) == _tname(want.dtype)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(TypeError, match="bitwise"):
        lamina.ones(2) & lamina.ones(2)
    with pytest.raises(TypeError, match="integer and bool"):
        ~lamina.ones(2)


def test_isnan_isinf_isfinite():
    x = lamina.tensor([1.0, np.nan, np.inf, -np.inf, 0.0])
    np.testing.assert_array_equal(x.isnan().numpy(), [False, True, False, False, False])
    np.testing.assert_array_equal(lamina.isinf(x).numpy(), [False, False, True, True, False])
    np.testing.assert_array_equal(lamina.isfinite(x).numpy(), [True, False, False, False, True])
    assert lamina.isnan(lamina.tensor([1, 2])).dtype == lamina.bool_


# ---------------------------------------------------------------- casts, clone, detach
def test_astype_to_float_double_long_values_and_dtypes():
    x = lamina.tensor([1.7, -2.2, 3.5])
    assert x.double().dtype == lamina.float64 and x.half().dtype == lamina.float16
    np.testing.assert_array_equal(x.long().numpy(), [1, -2, 3])  # truncation toward zero, as torch
    assert x.long().dtype == lamina.int64 and x.int().dtype == lamina.int32
    assert x.bool().dtype == lamina.bool_ and lamina.tensor([0, 2]).bool().tolist() == [False, True]
    assert lamina.tensor([1, 2]).float().dtype == lamina.float32
    assert x.to(lamina.float32) is x and x.float() is x
    assert x.to(lamina.float64).to(lamina.float32) is not x
    from lamina.ops.elementwise import astype
    assert astype(x, "float64").dtype == lamina.float64 and astype(x, lamina.float32) is x


def test_cast_gradients_flow_back_in_the_original_dtype():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * lamina.tensor([3.0, 4.0], dtype=lamina.float64)
    assert y.dtype == lamina.float64 and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == lamina.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert not x.long().requires_grad  # integer results never require grad
    h = lamina.tensor([1.0, 2.0], dtype=lamina.float64, requires_grad=True)
    (h.half().float() * 2.0).sum().backward()
    assert h.grad.dtype == lamina.float64 and h.grad.tolist() == [2.0, 2.0]


def test_clone_copies_and_passes_gradient_detach_shares():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.array is not x.array and c.grad_fn is not None
    (c * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and np.shares_memory(d.array, x.array)


def test_reciprocal_and_rsqrt_of_integers_are_float():
    assert lamina.tensor([4]).reciprocal().dtype == lamina.float32
    np.testing.assert_allclose(lamina.tensor([4]).rsqrt().numpy(), [0.5])


def test_unary_functions_reject_non_tensors():
    with pytest.raises(TypeError, match="exp"):
        lamina.exp([1.0, 2.0])
    with pytest.raises(TypeError, match="at least one Tensor"):
        lamina.add(1.0, 2.0)


# ---------------------------------------------------------------- broadcast primitives
@pytest.mark.parametrize("src,dst", [((3, 1), (2, 3, 4)), ((), (2, 3)), ((1, 4), (3, 4)), ((2, 1, 1), (2, 5, 3))])
def test_broadcast_to_and_sum_to_are_adjoint(src, dst):
    from lamina.ops.broadcast import broadcast_to, sum_to

    gradcheck(lambda x: broadcast_to(x, dst), sample("any", src))
    gradcheck(lambda y: sum_to(y, src), sample("any", dst))
    gradgradcheck(lambda x: broadcast_to(x * x, dst), sample("any", src))
    x, y = rng(1).standard_normal(src), rng(2).standard_normal(dst)
    lhs = (broadcast_to(lamina.tensor(x), dst).numpy() * y).sum()  # <Bx, y> == <x, B*y>
    rhs = (x * sum_to(lamina.tensor(y), src).numpy()).sum()
    np.testing.assert_allclose(lhs, rhs)


def test_broadcast_to_rejects_incompatible_shapes():
    from lamina.ops.broadcast import broadcast_to

    with pytest.raises(ValueError, match=r"\(3, 1\).*\(2, 2\)"):
        broadcast_to(lamina.ones(3, 1), (2, 2))
