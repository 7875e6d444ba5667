"""More elementwise math: trig/hyperbolic, exp/log forms, rounding and signs, special functions,
three-operand formulas, integer/bit ops. Values and gradients against torch, float64 gradchecks,
result dtypes, in-place variants and errors for bad arguments.
"""
import math

import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng, torch


def lib(x):
    return lamina if isinstance(x, lamina.Tensor) else torch


def sample(domain, shape, seed=0):
    r = rng(seed)
    if domain == "any":
        return np.asarray(r.standard_normal(shape))
    if domain == "pos":
        return np.asarray(r.uniform(0.5, 2.0, shape))
    if domain == "unit":  # inside (-1, 1), away from the ends
        return np.asarray(r.uniform(-0.8, 0.8, shape))
    if domain == "prob":
        return np.asarray(r.uniform(0.1, 0.9, shape))
    if domain == "gt1":
        return np.asarray(r.uniform(1.2, 3.0, shape))
    if domain == "nonint":  # away from the integers (rounding kinks) and from 0
        return np.asarray(r.integers(-3, 3, shape) + r.uniform(0.15, 0.85, shape))
    if domain == "big":
        return np.asarray(r.uniform(3.0, 6.0, shape))
    raise ValueError(domain)


UNARY = [
    ("tan", lambda x: x.tan(), "unit"),
    ("asin", lambda x: x.asin(), "unit"),
    ("acos", lambda x: x.acos(), "unit"),
    ("atan", lambda x: x.atan(), "any"),
    ("arcsin", lambda x: lib(x).arcsin(x), "unit"),
    ("arccos", lambda x: x.arccos(), "unit"),
    ("arctan", lambda x: lib(x).arctan(x), "any"),
    ("sinh", lambda x: x.sinh(), "any"),
    ("cosh", lambda x: x.cosh(), "any"),
    ("asinh", lambda x: x.asinh(), "any"),
    ("acosh", lambda x: x.acosh(), "gt1"),
    ("atanh", lambda x: x.atanh(), "unit"),
    ("arcsinh", lambda x: lib(x).arcsinh(x), "any"),
    ("arccosh", lambda x: x.arccosh(), "gt1"),
    ("arctanh", lambda x: lib(x).arctanh(x), "unit"),
    ("sinc", lambda x: x.sinc(), "any"),
    ("deg2rad", lambda x: x.deg2rad(), "any"),
    ("rad2deg", lambda x: lib(x).rad2deg(x), "any"),
    ("log2", lambda x: x.log2(), "pos"),
    ("log10", lambda x: lib(x).log10(x), "pos"),
    ("exp2", lambda x: x.exp2(), "any"),
    ("logit", lambda x: x.logit(), "prob"),
    ("logit_eps", lambda x: lib(x).logit(x * 1.2 - 0.1, eps=0.15), "prob"),
    ("erf", lambda x: x.erf(), "any"),
    ("erfc", lambda x: x.erfc(), "any"),
    ("erfinv", lambda x: x.erfinv(), "unit"),
    ("lgamma", lambda x: x.lgamma(), "pos"),
    ("lgamma_negative", lambda x: (x - 3.0).lgamma(), "nonint"),
    ("digamma", lambda x: x.digamma(), "pos"),
    ("digamma_negative", lambda x: lib(x).digamma(x), "nonint"),
    ("polygamma1", lambda x: lib(x).polygamma(1, x), "pos"),
    ("polygamma3", lambda x: x.polygamma(3), "pos"),
    ("mvlgamma", lambda x: lib(x).mvlgamma(x + 2.0, 3), "pos"),
    ("i0", lambda x: x.i0(), "any"),
    ("i0_big", lambda x: lib(x).i0(x * 8.0) * (x * -8.0).exp(), "big"),  # both series branches
    ("frac", lambda x: x.frac(), "nonint"),
    ("nan_to_num", lambda x: x.nan_to_num(), "any"),
    ("square", lambda x: x.square(), "any"),
    ("negative", lambda x: x.negative(), "any"),
    ("positive", lambda x: lib(x).positive(x) * x, "any"),
    ("float_power", lambda x: x.float_power(3), "pos"),
    ("float_power_frac", lambda x: lib(x).float_power(x, 0.5), "pos"),
    ("rsub", lambda x: lib(x).rsub(x, 2.0, alpha=3), "any"),
    ("xlogy_self", lambda x: lib(x).xlogy(x, x + 3.0), "any"),
    ("composite", lambda x: (x.atan() * x.sinh()).logaddexp(x.erf()) + x.hypot(x.cosh()), "any"),
]
UNARY_IDS = [u[0] for u in UNARY]
NOT_SMOOTH = {"frac", "nan_to_num", "negative", "deg2rad", "rad2deg", "rsub"}


@pytest.mark.parametrize("name,fn,domain", UNARY, ids=UNARY_IDS)
def test_unary_gradcheck(name, fn, domain):
    gradcheck(fn, sample(domain, (3, 4)))


@pytest.mark.parametrize("name,fn,domain", UNARY, ids=UNARY_IDS)
def test_unary_gradcheck_noncontiguous(name, fn, domain):
    gradcheck(fn, sample(domain, (4, 3)).T)


@requires_torch
@pytest.mark.parametrize("name,fn,domain", UNARY, ids=UNARY_IDS)
def test_unary_parity(name, fn, domain):
    parity(fn, sample(domain, (2, 3, 4)).astype(np.float32), rtol=2e-4, atol=2e-5)
    parity(fn, sample(domain, (5,), seed=7), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,fn,domain", [u for u in UNARY if u[0] not in NOT_SMOOTH],
                         ids=[u[0] for u in UNARY if u[0] not in NOT_SMOOTH])
def test_unary_gradgradcheck(name, fn, domain):
    gradgradcheck(fn, sample(domain, (4,), seed=2))


BINARY = [
    ("atan2", lambda a, b: lib(a).atan2(a, b), "any", "any"),
    ("arctan2", lambda a, b: a.arctan2(b), "any", "any"),
    ("hypot", lambda a, b: a.hypot(b), "any", "any"),
    ("logaddexp", lambda a, b: lib(a).logaddexp(a, b), "any", "any"),
    ("logaddexp2", lambda a, b: a.logaddexp2(b), "any", "any"),
    ("xlogy", lambda a, b: lib(a).xlogy(a, b), "any", "pos"),
    ("copysign", lambda a, b: a.copysign(b), "any", "any"),
    ("fmod", lambda a, b: lib(a).fmod(a, b), "any", "pos"),
    ("fmax", lambda a, b: a.fmax(b), "any", "any"),
    ("fmin", lambda a, b: lib(a).fmin(a, b), "any", "any"),
    ("float_power", lambda a, b: lib(a).float_power(a, b), "pos", "any"),
    ("lerp_tensor_weight", lambda a, b: lib(a).lerp(a, b, (a * b).sigmoid()), "any", "any"),
    ("lerp_scalar_weight", lambda a, b: a.lerp(b, 0.3), "any", "any"),
    ("addcmul", lambda a, b: lib(a).addcmul(a, b, a * 2.0, value=0.5), "any", "any"),
    ("addcdiv", lambda a, b: a.addcdiv(a, b, value=-2), "any", "pos"),
    ("rsub", lambda a, b: lib(a).rsub(a, b), "any", "any"),
]
SHAPES = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3), ())]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=["same", "outer", "scalar"])
@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=[b[0] for b in BINARY])
def test_binary_gradcheck(name, fn, da, db, sa, sb):
    gradcheck(fn, sample(da, sa, seed=1), sample(db, sb, seed=2))


@requires_torch
@pytest.mark.parametrize("sa,sb", SHAPES, ids=["same", "outer", "scalar"])
@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=[b[0] for b in BINARY])
def test_binary_parity(name, fn, da, db, sa, sb):
    parity(fn, sample(da, sa, seed=1).astype(np.float32), sample(db, sb, seed=2).astype(np.float32),
           rtol=2e-4, atol=2e-5)


@requires_torch
def test_binary_ties_and_nans_match_torch():
    a = np.array([1.0, 2.0, np.nan, 3.0, np.nan], dtype=np.float32)
    b = np.array([1.0, np.nan, 4.0, -1.0, np.nan], dtype=np.float32)
    for fn in (lambda x, y: lib(x).fmax(x, y), lambda x, y: lib(x).fmin(x, y)):
        parity(fn, a, b)
    z = np.array([0.0, -0.0, 2.0, -3.0], dtype=np.float32)
    parity(lambda x, y: x.copysign(y), z, np.array([-1.0, 1.0, -0.0, 0.0], dtype=np.float32))
    parity(lambda x, y: lib(x).xlogy(x, y), np.array([0.0, 0.0, 1.0], dtype=np.float32),
           np.array([0.0, 2.0, 3.0], dtype=np.float32))
    parity(lambda x: lib(x).atan2(x, x * 0.0), np.array([0.0, 1.0, -1.0], dtype=np.float32), grad=False)


@requires_torch
def test_rounding_values_and_zero_gradients():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.2345, -2.71828, 1234.5], dtype=np.float32)
    for fn in (lambda t: t.round(), lambda t: t.floor(), lambda t: t.ceil(), lambda t: t.trunc(),
               lambda t: t.fix(), lambda t: lib(t).round(t, decimals=2), lambda t: t.round(decimals=-2),
               lambda t: t.frac(), lambda t: t.sgn() * t):
        parity(fn, x)
    parity(lambda t: lib(t).signbit(t), np.array([-0.0, 0.0, -1.0, 2.0], dtype=np.float32), grad=False)


@requires_torch
def test_integer_inputs_keep_or_promote_dtypes_like_torch():
    ints = np.array([1, 2, -3], dtype=np.int64)
    for name in ("round", "floor", "ceil", "trunc", "sgn", "nan_to_num"):
        lt = getattr(lamina, name)(lamina.tensor(ints))
        tt = getattr(torch, name)(torch.tensor(ints))
        assert str(lt.dtype) == str(tt.dtype).replace("torch.", "")
        np.testing.assert_array_equal(lt.numpy(), tt.numpy())
    for name in ("tan", "asinh", "log2", "exp2", "erfc", "lgamma", "i0", "deg2rad", "sinh", "atan"):
        lt = getattr(lamina, name)(lamina.tensor(ints))
        tt = getattr(torch, name)(torch.tensor(ints))
        assert lt.dtype == lamina.float32 and tt.dtype == torch.float32, name
        np.testing.assert_allclose(lt.numpy(), tt.numpy(), rtol=1e-5, equal_nan=True)
    assert lamina.float_power(lamina.tensor(ints), 2).dtype == lamina.float64
    assert lamina.atan2(lamina.tensor(ints), lamina.tensor(ints)).dtype == lamina.float32
    assert lamina.xlogy(2, lamina.tensor([1.0, 3.0])).dtype == lamina.float32
    assert lamina.copysign(lamina.tensor(ints), 2).dtype == lamina.float32
    h = lamina.heaviside(lamina.tensor(ints), lamina.tensor(ints))
    assert h.dtype == lamina.int64 and h.tolist() == torch.heaviside(torch.tensor(ints), torch.tensor(ints)).tolist()
    assert lamina.fmod(lamina.tensor(ints), 2).tolist() == torch.fmod(torch.tensor(ints), 2).tolist()
    assert lamina.fmax(lamina.tensor(ints), lamina.tensor([0, 5, -4])).tolist() == [1, 5, -3]


@requires_torch
def test_special_functions_at_poles_and_edges_match_torch():
    x = np.array([0.0, -0.0, -1.0, -2.5, 1e-3, 30.0], dtype=np.float64)
    for name in ("digamma", "lgamma"):
        np.testing.assert_allclose(getattr(lamina, name)(lamina.tensor(x)).numpy(),
                                   getattr(torch, name)(torch.from_numpy(x)).numpy(), rtol=1e-10)
    y = np.array([-1.0, 1.0, 0.0, 0.999999, -1.5], dtype=np.float64)
    np.testing.assert_allclose(lamina.erfinv(lamina.tensor(y)).numpy(), torch.erfinv(torch.from_numpy(y)).numpy(),
                               rtol=1e-10)
    z = np.array([0.0, -45.0, 60.0, 700.0], dtype=np.float64)
    np.testing.assert_allclose(lamina.i0(lamina.tensor(z)).numpy(), torch.i0(torch.from_numpy(z)).numpy(), rtol=1e-12)
    for n in (1, 2, 4):
        p = np.array([0.3, 2.0, 7.5, -0.5], dtype=np.float64)
        np.testing.assert_allclose(lamina.polygamma(n, lamina.tensor(p)).numpy(),
                                   torch.polygamma(n, torch.from_numpy(p)).numpy(), rtol=1e-9)


@requires_torch
def test_nan_to_num_values_and_gradient():
    x = np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32)
    parity(lambda t: t.nan_to_num(), x)
    parity(lambda t: lib(t).nan_to_num(t, nan=1.0, posinf=2.0, neginf=-2.0), x)
    parity(lambda t: t.nan_to_num(), x.astype(np.float64))


@requires_torch
def test_integer_ops_shifts_gcd_lcm():
    a = np.array([0, -4, 6, 7, 12], dtype=np.int64)
    b = np.array([0, 6, 4, 3, 1], dtype=np.int64)
    for fn in (lambda x, y: lib(x).gcd(x, y), lambda x, y: x.lcm(y), lambda x, y: x << y, lambda x, y: x >> y,
               lambda x, y: lib(x).bitwise_left_shift(x, y), lambda x, y: x.bitwise_right_shift(y),
               lambda x, y: x << 1, lambda x, y: x >> 2):
        parity(fn, a, b, grad=False)
    t = lamina.tensor(a.copy())
    t <<= 1
    assert t.tolist() == (torch.tensor(a) << 1).tolist()
    with pytest.raises(NotImplementedError, match="gcd"):
        lamina.gcd(lamina.tensor([1.0]), lamina.tensor([2.0]))
    with pytest.raises(NotImplementedError):
        torch.gcd(torch.tensor([1.0]), torch.tensor([2.0]))
    with pytest.raises(NotImplementedError, match="bitwise_left_shift"):
        lamina.tensor([1.0]) << 1


@requires_torch
def test_predicates():
    x = np.array([np.inf, -np.inf, 1.0, np.nan], dtype=np.float32)
    for fn in (lambda t: lib(t).isposinf(t), lambda t: t.isneginf(), lambda t: lib(t).isreal(t)):
        parity(fn, x, grad=False)
    assert lamina.isposinf(lamina.tensor([1, 2])).tolist() == [False, False]
    assert lamina.tensor([2.0]).is_nonzero() and not lamina.is_nonzero(lamina.tensor(0))
    for bad in ([1.0, 2.0], []):
        with pytest.raises(RuntimeError, match="ambiguous"):
            lamina.tensor(bad).is_nonzero()
        with pytest.raises(RuntimeError, match="ambiguous"):
            torch.tensor(bad).is_nonzero()
    assert lamina.tensor([1, 2]).is_same_size(lamina.zeros(2)) and not lamina.zeros(2).is_same_size(lamina.zeros(3))
    assert lamina.tensor([1]).is_signed() and lamina.tensor([1.0]).is_signed()
    assert not lamina.tensor([1], dtype=lamina.uint8).is_signed() and not lamina.tensor([True]).is_signed()


@requires_torch
def test_in_place_variants_write_into_memory_and_match_torch():
    x = sample("unit", (3, 4), seed=3).astype(np.float32)
    cases = [("tan_", ()), ("asin_", ()), ("atanh_", ()), ("sinh_", ()), ("exp2_", ()), ("erfinv_", ()),
             ("round_", ()), ("floor_", ()), ("ceil_", ()), ("trunc_", ()), ("frac_", ()), ("sgn_", ()),
             ("square_", ()), ("negative_", ()), ("deg2rad_", ()), ("sinc_", ()), ("abs_", ()), ("log1p_", ()),
             ("clamp_min_", (0.1,)), ("clamp_max_", (0.1,)), ("clip_", (-0.1, 0.2)), ("fmod_", (0.3,)),
             ("copysign_", (-1.0,)), ("xlogy_", (2.0,)), ("float_power_", (2,)), ("polygamma_", (1,)),
             ("lgamma_", ()), ("digamma_", ()), ("i0_", ()), ("erfc_", ()), ("nan_to_num_", ()), ("sign_", ())]
    for name, args in cases:
        src = np.abs(x) + 0.05 if name in ("polygamma_", "lgamma_", "digamma_", "log1p_") else x.copy()
        if name == "float_power_":
            src = src.astype(np.float64)
        lt, tt = lamina.tensor(src.copy()), torch.tensor(src.copy())
        mem = lt.array
        assert getattr(lt, name)(*args) is lt, name
        getattr(tt, name)(*args)
        assert lt.array is mem
        np.testing.assert_allclose(lt.numpy(), tt.numpy(), rtol=2e-5, atol=1e-6, err_msg=name)
    a, b = lamina.tensor(x.copy()), torch.tensor(x.copy())
    a.lerp_(lamina.ones(3, 4), 0.25).addcmul_(lamina.ones(4), lamina.full((3, 4), 2.0), value=0.5)
    b.lerp_(torch.ones(3, 4), 0.25).addcmul_(torch.ones(4), torch.full((3, 4), 2.0), value=0.5)
    a.addcdiv_(lamina.ones(3, 4), lamina.full((3, 4), 4.0), value=2).hypot_(lamina.ones(3, 4)).atan2_(lamina.ones(4))
    b.addcdiv_(torch.ones(3, 4), torch.full((3, 4), 4.0), value=2).hypot_(torch.ones(3, 4)).atan2_(torch.ones(4))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
    c = lamina.tensor([1.0, -2.0, 3.0])
    c.gt_(0)
    assert c.dtype == lamina.float32 and c.tolist() == [1.0, 0.0, 1.0]


def test_in_place_on_a_view_reaches_the_base_with_gradients():
    base = lamina.tensor(sample("unit", (3, 4)), requires_grad=True)
    y = base * 1.0
    y[1].tan_()
    y.sum().backward()
    expected = np.ones((3, 4))
    expected[1] = 1.0 + np.tan(base.detach().numpy()[1]) ** 2
    np.testing.assert_allclose(base.grad.numpy(), expected, rtol=1e-12)


@requires_torch
def test_errors_match_torch():
    f = np.array([0.5], dtype=np.float32)
    checks = [
        (lambda m, t: m.frac(t([1, 2])), NotImplementedError),
        (lambda m, t: m.lerp(t([1.0]), t([1.0], dtype=m.float64), 0.5), RuntimeError),
        (lambda m, t: m.addcdiv(t([1.0]), t([1]), t([2])), RuntimeError),
        (lambda m, t: m.heaviside(t([1.0]), t([1])), RuntimeError),
        (lambda m, t: m.polygamma(-1, t(f)), RuntimeError),
        (lambda m, t: m.positive(t([True])), RuntimeError),
        (lambda m, t: m.round(t([1, 2]), decimals=1), NotImplementedError),
        (lambda m, t: m.hypot(t([1.0, 2.0]), t([1.0, 2.0, 3.0])), (RuntimeError, ValueError)),
    ]
    for fn, exc in checks:
        with pytest.raises(exc):
            fn(torch, torch.tensor)
        with pytest.raises(exc):
            fn(lamina, lamina.tensor)


def test_logit_eps_clamps_and_zeroes_gradient_outside():
    x = lamina.tensor([0.05, 0.5, 0.97], requires_grad=True)
    y = x.logit(eps=0.1)
    np.testing.assert_allclose(y.detach().numpy(), [math.log(0.1 / 0.9), 0.0, math.log(0.9 / 0.1)], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 4.0, 0.0], rtol=1e-6)


def test_float_power_gradient_returns_in_input_dtype():
    x = lamina.tensor([1.5, 2.0], requires_grad=True)
    y = x.float_power(2)
    assert y.dtype == lamina.float64
    y.sum().backward()
    assert x.grad.dtype == lamina.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


# ---------------------------------------------------------------- more: float anatomy, incomplete gamma, zeta
@requires_torch
def test_frexp_ldexp_nextafter():
    x = np.array([8.0, 0.3, -5.0, 0.0, 1e-30], dtype=np.float32)
    lm, le = lamina.frexp(lamina.tensor(x))
    tm, te = torch.frexp(torch.tensor(x))
    np.testing.assert_array_equal(lm.numpy(), tm.numpy())
    assert le.dtype == lamina.int32 and le.tolist() == te.tolist()
    e = np.array([3, -1, 0, 2, 5], dtype=np.int64)
    # torch's ldexp backward computes 2**e in integers for an int64 exponent (0 for e < 0): values only
    parity(lambda a: lib(a).ldexp(a, lib(a).tensor(e)), x, grad=False)
    parity(lambda a, b: a.ldexp(b), x, e.astype(np.float32))
    gradcheck(lambda a, b: lamina.ldexp(a, b), x.astype(np.float64), e.astype(np.float64))
    assert lamina.ldexp(lamina.tensor([1]), lamina.tensor([3])).dtype == lamina.float32
    y = np.array([2.0, 0.0, -6.0, 1.0, 0.0], dtype=np.float32)
    parity(lambda a, b: lib(a).nextafter(a, b), x, y, grad=False)
    with pytest.raises(RuntimeError):
        lamina.frexp(lamina.tensor([1, 2]))


@requires_torch
def test_incomplete_gamma_and_zeta():
    a = np.array([0.5, 2.0, 10.0, 3.0, 0.1, 30.0])
    x = np.array([0.3, 2.0, 12.0, 0.01, 5.0, 28.0])
    for name in ("igamma", "igammac"):
        parity(lambda q: getattr(lib(q), name)(lib(q).tensor(a), q), x)
        parity(lambda q: getattr(lib(q), name)(lib(q).tensor(a.astype(np.float32)), q), x.astype(np.float32),
               rtol=1e-4)
        gradcheck(lambda q: getattr(lamina, name)(lamina.tensor(a), q), x)
        with pytest.raises(NotImplementedError):
            getattr(lamina, name)(lamina.tensor(a, requires_grad=True), lamina.tensor(x)).sum().backward()
    ta = lamina.tensor([2.0]).igamma(lamina.tensor([1.0]))
    assert abs(ta.item() - (1 - 2 / math.e)) < 1e-6
    s, q = np.array([2.0, 3.5, 1.5, 4.0]), np.array([1.0, 2.5, 0.7, 10.0])
    parity(lambda v: lib(v).special.zeta(lib(v).tensor(s), v), q)
    gradcheck(lambda v: lamina.special.zeta(lamina.tensor(s), v), q)


SPECIAL = [
    ("expit", "any"), ("gammaln", "pos"), ("psi", "pos"), ("i0e", "any"), ("i1e", "any"), ("i1", "any"),
    ("ndtr", "any"), ("ndtri", "prob"), ("log_ndtr", "any"), ("entr", "pos"), ("erfcx", None), ("sinc", "any"),
    ("logit", "prob"), ("exp2", "any"), ("expm1", "any"), ("log1p", "pos"), ("erfinv", "unit"),
    ("multigammaln", "big"), ("digamma", "pos"),
]


@requires_torch
@pytest.mark.parametrize("name,domain", [s for s in SPECIAL if s[1]], ids=[s[0] for s in SPECIAL if s[1]])
def test_special_namespace(name, domain):
    extra = (2,) if name == "multigammaln" else ()
    fn = lambda x: getattr(lib(x).special, name)(x, *extra)  # noqa: E731
    parity(fn, sample(domain, (2, 3), seed=4), rtol=1e-7, atol=1e-9)
    parity(fn, sample(domain, (2, 3), seed=4).astype(np.float32), rtol=2e-4, atol=2e-5)
    gradcheck(fn, sample(domain, (2, 3), seed=5))


@requires_torch
def test_special_edges_and_two_argument_functions():
    parity(lambda x: lib(x).special.entr(x), np.array([0.0, -1.0, 0.5, 2.0]), grad=False)
    parity(lambda x, y: lib(x).special.xlog1py(x, y), np.array([0.0, 0.0, 1.5, -2.0]), np.array([-1.0, 1.0, 0.5, 3.0]))
    gradcheck(lambda x, y: lamina.special.xlog1py(x, y), sample("any", (3,)), sample("pos", (3,), 1))
    parity(lambda x: lib(x).special.logsumexp(x, 1), sample("any", (2, 3)))
    parity(lambda x: lib(x).special.softmax(x, 1), sample("any", (2, 3)))
    parity(lambda x: lib(x).special.log_softmax(x, 0), sample("any", (2, 3)))
    parity(lambda x: lib(x).special.gammainc(x, x * 2.0), sample("pos", (4,)), grad=False)
    parity(lambda x: lib(x).special.round(x), sample("any", (4,)) * 3)


@requires_torch
def test_in_place_function_aliases():
    x = sample("unit", (5,))
    for name, args in (("sin_", ()), ("exp_", ()), ("clamp_", (-0.2, 0.3)), ("clamp_min_", (0.1,)), ("round_", ()),
                       ("xlogy_", (2.0,)), ("logit_", ()), ("nan_to_num_", ()), ("relu_", ()), ("sigmoid_", ()),
                       ("fill_", (3.0,)), ("zero_", ()), ("square_", ()), ("trunc_", ())):
        lt, tt = lamina.tensor(np.abs(x) * 0.5 + 0.1), torch.tensor(np.abs(x) * 0.5 + 0.1)
        assert getattr(lamina, name)(lt, *args) is lt
        getattr(torch, name)(tt, *args)
        np.testing.assert_allclose(lt.numpy(), tt.numpy(), rtol=1e-12, err_msg=name)


@requires_torch
def test_dtype_predicates_constants_and_casts():
    for a, b in ((torch.float32, torch.int32), (torch.int32, torch.float16), (torch.int64, torch.bool),
                 (torch.bool, torch.uint8), (torch.float64, torch.float16), (torch.int64, torch.uint8)):
        la, lb = getattr(lamina, str(a).split(".")[1]), getattr(lamina, str(b).split(".")[1])
        assert lamina.can_cast(la, lb) == torch.can_cast(a, b), (a, b)
    assert lamina.isclose(lamina.tensor([1.0, 2.0]), lamina.tensor([1.0, 2.1])).tolist() == [True, False]
    assert lamina.isclose(lamina.tensor([float("nan")]), lamina.tensor([float("nan")]), equal_nan=True).tolist() == [True]
    assert lamina.is_floating_point(lamina.ones(1)) and not lamina.is_floating_point(lamina.ones(1).long())
    assert not lamina.is_complex(lamina.ones(1)) and not lamina.ones(1).is_complex()
    for name in ("pi", "e", "inf"):
        assert getattr(lamina, name) == getattr(torch, name)
    assert math.isnan(lamina.nan) and lamina.newaxis is None
    x = lamina.tensor([1.7, -2.2, 300.0])
    assert x.byte().dtype == lamina.uint8 and x.char().dtype == lamina.int8 and x.short().dtype == lamina.int16
    assert x.short().tolist() == torch.tensor([1.7, -2.2, 300.0]).short().tolist()
    c = lamina.clone(x)
    assert c.tolist() == x.tolist() and not np.shares_memory(c.array, x.array)
