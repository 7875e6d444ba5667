"""Linear algebra: the add-products, contractions, powers, lamina.linalg (inverses, determinants,
solvers, decompositions, norms) and distances. Values and gradients against torch, float64
gradchecks (second derivatives for the main decompositions), dtypes and errors.
"""
import math

import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng, torch


def lib(x):
    return lamina if isinstance(x, lamina.Tensor) else torch


def la(x):
    return lamina.linalg if isinstance(x, lamina.Tensor) else torch.linalg


r = rng(0)
M23, M34, M33 = r.standard_normal((2, 3)), r.standard_normal((3, 4)), r.standard_normal((3, 3))
B234, B245 = r.standard_normal((2, 3, 4)), r.standard_normal((2, 4, 5))
V2, V3, V4 = r.standard_normal(2), r.standard_normal(3), r.standard_normal(4)
SQ = r.standard_normal((2, 3, 3)) + 3.0 * np.eye(3)        # invertible, positive determinants
SPD = SQ @ SQ.transpose(0, 2, 1) + np.eye(3)               # symmetric positive definite
TALL = r.standard_normal((5, 3))
WIDE = r.standard_normal((3, 5))

PRODUCTS = [
    ("addmm", lambda x, a, b: lib(x).addmm(x, a, b), (r.standard_normal((2, 4)), M23, M34)),
    ("addmm_broadcast_scaled", lambda x, a, b: x.addmm(a, b, beta=0.5, alpha=-2.0), (V4, M23, M34)),
    ("addmv", lambda x, a, v: lib(x).addmv(x, a, v, beta=2.0), (V2, M23, V3)),
    ("addbmm", lambda x, a, b: lib(x).addbmm(x, a, b, alpha=0.5), (r.standard_normal((3, 5)), B234, B245)),
    ("baddbmm", lambda x, a, b: x.baddbmm(a, b, beta=0.0), (r.standard_normal((2, 3, 5)), B234, B245)),
    ("addr", lambda x, a, b: lib(x).addr(x, a, b, alpha=3.0), (M23, V2, V3)),
    ("mm", lambda a, b: lib(a).mm(a, b), (M23, M34)),
    ("bmm", lambda a, b: lib(a).bmm(a, b), (B234, B245)),
    ("mv", lambda a, v: a.mv(v), (M23, V3)),
    ("dot_method", lambda a, b: a.dot(b), (V3, V3 * 2.0)),
    ("vdot", lambda a, b: lib(a).vdot(a, b), (V4, V4 + 1.0)),
    ("inner", lambda a, b: lib(a).inner(a, b), (B234, r.standard_normal((5, 4)))),
    ("inner_scalar", lambda a, b: lib(a).inner(a.sum(), b), (V2, M23)),
    ("outer_ger", lambda a, b: a.ger(b) + a.outer(b), (V2, V3)),
    ("tensordot_int", lambda a, b: lib(a).tensordot(a, b, 1), (B234, B245[0])),
    ("tensordot_lists", lambda a, b: lib(a).tensordot(a, b, ([0, 2], [0, 1])), (B234, B245)),
    ("tensordot_zero", lambda a, b: lib(a).tensordot(a, b, 0), (V2, M23)),
    ("kron", lambda a, b: lib(a).kron(a, b), (M23, M33)),
    ("kron_mixed_dims", lambda a, b: a.kron(b), (V2, B234)),
    ("cross_dim_broadcast", lambda a, b: lib(a).cross(a, b, dim=1), (B234[:, :3, :3], M33[None])),
    ("cross_method", lambda a, b: a.cross(b, dim=-1), (M23 @ M33, M33[:2])),
    ("linalg_cross", lambda a, b: la(a).cross(a, b), (M33, M33.T.copy())),
    ("matrix_power_3", lambda a: a.matrix_power(3), (SQ,)),
    ("matrix_power_0", lambda a: lib(a).matrix_power(a, 0) * a, (M33,)),
    ("matrix_power_neg", lambda a: lib(a).matrix_power(a, -2), (SQ,)),
    ("chain_matmul", lambda a, b, c: lib(a).chain_matmul(a, b, c), (M23, M34, r.standard_normal((4, 2)))),
    ("multi_dot", lambda a, b, c: la(a).multi_dot([a, b, c]), (V2, M23, M34)),
]


@requires_torch
@pytest.mark.parametrize("name,fn,arrays", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_parity(name, fn, arrays):
    parity(fn, *[a.astype(np.float32) for a in arrays], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,fn,arrays", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_gradcheck(name, fn, arrays):
    gradcheck(fn, *[a.copy() for a in arrays])


def sym(x):
    return (x + x.transpose(-1, -2)) * 0.5


DECOMPS = [
    ("det", lambda a: la(a).det(a), SQ),
    ("det_method", lambda a: a.det(), M33 + 2.0 * np.eye(3)),
    ("logdet", lambda a: lib(a).logdet(a), SQ),
    ("slogdet", lambda a: la(a).slogdet(a)[1], SQ),
    ("slogdet_method_negative", lambda a: a.slogdet()[1] * a.slogdet()[0], SQ[:, ::-1].copy()),
    ("inv", lambda a: la(a).inv(a), SQ),
    ("inverse", lambda a: a.inverse(), M33 + 2.0 * np.eye(3)),
    ("solve_matrix", lambda a, b: la(a).solve(a, b), (SQ, r.standard_normal((2, 3, 2)))),
    ("solve_vector", lambda a, b: la(a).solve(a, b), (SQ[0], V3)),
    ("solve_batched_vector", lambda a, b: la(a).solve(a, b), (SQ, r.standard_normal((2, 3)))),
    ("solve_broadcast", lambda a, b: la(a).solve(a, b), (SQ[0], r.standard_normal((4, 3, 2)))),
    ("solve_right", lambda a, b: la(a).solve(a, b, left=False), (SQ, r.standard_normal((2, 4, 3)))),
    ("cholesky", lambda a: la(a).cholesky(sym(a)), SPD),
    ("cholesky_upper", lambda a: la(a).cholesky(sym(a), upper=True), SPD),
    ("cholesky_method", lambda a: sym(a).cholesky(), SPD[0]),
    ("qr_tall", lambda a: la(a).qr(a), TALL),
    ("qr_square_batched", lambda a: la(a).qr(a), SQ),
    ("qr_method", lambda a: a.qr(), TALL),
    ("svd_reconstruct", lambda a: (lambda u, s, vh: (u * s.unsqueeze(-2)) @ vh)(*la(a).svd(a, full_matrices=False)),
     TALL),
    ("svd_invariants_tall", lambda a: (lambda u, s, vh: (u * u, s, vh * vh, u @ vh))(
        *la(a).svd(a, full_matrices=False)), TALL),
    ("svd_invariants_wide", lambda a: (lambda u, s, vh: (u * u, s, u @ vh))(*la(a).svd(a, full_matrices=False)),
     WIDE),
    ("svd_square", lambda a: (lambda u, s, vh: (s, u @ vh))(*la(a).svd(a)), SQ),
    ("torch_svd", lambda a: (lambda u, s, v: (s, u @ v.transpose(-1, -2)))(*lib(a).svd(a)), TALL),
    ("svdvals", lambda a: la(a).svdvals(a), WIDE),
    ("eigh", lambda a: (lambda w, v: (w, v * v))(*la(a).eigh(sym(a))), SPD),
    ("eigh_upper", lambda a: (lambda w, v: (w, v * v))(*la(a).eigh(sym(a), UPLO="U")), M33),
    ("eigvalsh", lambda a: la(a).eigvalsh(sym(a)), SQ),
    ("pinv_tall", lambda a: la(a).pinv(a), TALL),
    ("pinv_wide", lambda a: la(a).pinv(a), WIDE),
    ("pinverse", lambda a: a.pinverse(), SQ[0]),
    ("lstsq", lambda a, b: la(a).lstsq(a, b).solution, (TALL, r.standard_normal((5, 2)))),
    ("lstsq_wide", lambda a, b: la(a).lstsq(a, b).solution, (WIDE, r.standard_normal((3, 2)))),
]


def _args(arrays):
    return arrays if isinstance(arrays, tuple) else (arrays,)


@requires_torch
@pytest.mark.parametrize("name,fn,arrays", DECOMPS, ids=[d[0] for d in DECOMPS])
def test_decompositions_parity(name, fn, arrays):
    parity(fn, *[a.astype(np.float32) for a in _args(arrays)], rtol=2e-3, atol=2e-4)
    parity(fn, *[a.copy() for a in _args(arrays)], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,fn,arrays", DECOMPS, ids=[d[0] for d in DECOMPS])
def test_decompositions_gradcheck(name, fn, arrays):
    gradcheck(fn, *[a.copy() for a in _args(arrays)], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["det", "slogdet", "inv", "solve_matrix", "cholesky", "qr_tall",
                                  "svd_invariants_tall", "eigh", "pinv_tall"])
def test_decompositions_gradgradcheck(name):
    fn, arrays = {d[0]: (d[1], d[2]) for d in DECOMPS}[name]
    args = [a[0] if a.ndim == 3 else a for a in _args(arrays)]  # one matrix keeps it quick
    gradgradcheck(fn, *args, atol=1e-4, rtol=1e-3)


@requires_torch
def test_matrix_rank_and_lstsq_outputs():
    low = (TALL[:, :2] @ r.standard_normal((2, 4))).astype(np.float64)
    for a in (TALL, WIDE, low, SQ):
        assert lamina.linalg.matrix_rank(lamina.tensor(a)).tolist() == torch.linalg.matrix_rank(torch.tensor(a)).tolist()
    assert lamina.linalg.matrix_rank(lamina.tensor(low), tol=1e-8).tolist() == 2
    assert lamina.linalg.matrix_rank(lamina.tensor(low), atol=0.0, rtol=0.0).tolist() == 4
    assert lamina.linalg.matrix_rank(lamina.tensor(low)).dtype == lamina.int64
    b = r.standard_normal((5, 2))
    for driver in (None, "gelsd"):
        lo = lamina.linalg.lstsq(lamina.tensor(TALL), lamina.tensor(b), driver=driver)
        to = torch.linalg.lstsq(torch.tensor(TALL), torch.tensor(b), driver=driver)
        np.testing.assert_allclose(lo.solution.numpy(), to.solution.numpy(), rtol=1e-10)
        for field in ("residuals", "rank", "singular_values"):
            np.testing.assert_allclose(getattr(lo, field).numpy(), getattr(to, field).numpy(), rtol=1e-10)
    lo = lamina.linalg.lstsq(lamina.tensor(low), lamina.tensor(b))
    np.testing.assert_allclose(lo.solution.numpy(), np.linalg.pinv(low) @ b, rtol=1e-8)


NORMS = [
    ("vector_norm", lambda x: la(x).vector_norm(x), B234),
    ("vector_norm_ord3_dims", lambda x: la(x).vector_norm(x, 3, dim=(0, 2), keepdim=True), B234),
    ("vector_norm_inf", lambda x: la(x).vector_norm(x, math.inf, dim=1), B234),
    ("vector_norm_neg_inf", lambda x: la(x).vector_norm(x, -math.inf), B234),
    ("vector_norm_half", lambda x: la(x).vector_norm(x, 0.5, dim=-1), B234),
    ("vector_norm_dtype", lambda x: la(x).vector_norm(x, dtype=lib(x).float64), B234),
    ("matrix_norm_fro", lambda x: la(x).matrix_norm(x), B234),
    ("matrix_norm_nuc", lambda x: la(x).matrix_norm(x, "nuc"), B234),
    ("matrix_norm_2", lambda x: la(x).matrix_norm(x, 2, keepdim=True), B234),
    ("matrix_norm_minus2", lambda x: la(x).matrix_norm(x, -2, dim=(0, 2)), B234),
    ("matrix_norm_1", lambda x: la(x).matrix_norm(x, 1), B234),
    ("matrix_norm_minus1", lambda x: la(x).matrix_norm(x, -1), B234),
    ("matrix_norm_inf", lambda x: la(x).matrix_norm(x, math.inf, keepdim=True), B234),
    ("matrix_norm_minus_inf", lambda x: la(x).matrix_norm(x, -math.inf, dim=(2, 1)), B234),
    ("norm_default", lambda x: la(x).norm(x), B234),
    ("norm_vector_dim", lambda x: la(x).norm(x, dim=1), B234),
    ("norm_matrix_ord", lambda x: la(x).norm(x, 1), M34),
    ("norm_vector_ord", lambda x: la(x).norm(x, 3), V4),
    ("norm_matrix_dims", lambda x: la(x).norm(x, "fro", dim=(0, 1)), B234),
    ("dist", lambda x: lib(x).dist(x, x[0] * 0.5, 3), B234),
    ("dist_method", lambda x: x.dist(x.flip(0)), B234),
    ("renorm", lambda x: lib(x).renorm(x, 2, 0, 2.0), B234),
    ("renorm_method", lambda x: x.renorm(1, 2, 1.5), B234),
    ("cdist", lambda x: lib(x).cdist(x[0], x[1]), B234),
    ("cdist_p1_batched", lambda x: lib(x).cdist(x, x.flip(1), p=1.0), B234),
    ("cdist_inf", lambda x: lib(x).cdist(x, x * 2.0, p=math.inf), B234),
    ("cdist_mm", lambda x: lib(x).cdist(x, x * 0.5, compute_mode="use_mm_for_euclid_dist"), B234),
    ("cdist_large", lambda x: lib(x).cdist(x, x[:4] + 1.0), r.standard_normal((30, 3))),
]


@requires_torch
@pytest.mark.parametrize("name,fn,a", NORMS, ids=[n[0] for n in NORMS])
def test_norms_parity(name, fn, a):
    parity(fn, a.astype(np.float32), rtol=1e-4, atol=1e-4)
    parity(fn, a, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,fn,a", NORMS, ids=[n[0] for n in NORMS])
def test_norms_gradcheck(name, fn, a):
    gradcheck(fn, a.copy(), atol=1e-5, rtol=1e-4)


@requires_torch
def test_zero_distances_have_zero_gradients_like_torch():
    x = np.zeros((3, 2), dtype=np.float32)
    parity(lambda t: lib(t).cdist(t, t), x)
    parity(lambda t: lib(t).cdist(t, t, compute_mode="use_mm_for_euclid_dist"), x + 1.0)
    parity(lambda t: la(t).vector_norm(t), x)


def test_in_place_products_and_renorm():
    x = lamina.ones(2, 4, dtype=lamina.float64)
    mem = x.array
    x.addmm_(lamina.tensor(M23), lamina.tensor(M34), beta=2.0, alpha=0.5)
    np.testing.assert_allclose(x.numpy(), 2.0 + 0.5 * M23 @ M34, rtol=1e-6)
    assert x.array is mem
    y = lamina.zeros(2, 3, dtype=lamina.float64).addr_(lamina.tensor(V2), lamina.tensor(V3))
    np.testing.assert_allclose(y.numpy(), np.outer(V2, V3), rtol=1e-6)
    z = lamina.tensor(B234.copy()).renorm_(2, 0, 1.0)
    assert (lamina.linalg.vector_norm(z, dim=(1, 2)).numpy() <= 1.0 + 1e-6).all()


@requires_torch
def test_errors_match_torch():
    runtime = [
        lambda m: m.addmm(m.ones(3), m.ones(2, 3), m.ones(3, 4)),
        lambda m: m.addmm(m.ones(2, 4), m.ones(2, 3), m.ones(2, 3)),
        lambda m: m.mv(m.ones(2, 3), m.ones(2)),
        lambda m: m.mv(m.ones(2, 3), m.ones(2, 3)),
        lambda m: m.bmm(m.ones(2, 3), m.ones(3, 4)),
        lambda m: m.mm(m.ones(3), m.ones(3, 4)),
        lambda m: m.vdot(m.ones(3), m.ones(3, 3)),
        lambda m: m.tensordot(m.ones(2, 3), m.ones(2, 3), ([1], [0])),
        lambda m: m.linalg.cross(m.ones(3, 2), m.ones(3, 2)),
        lambda m: m.linalg.cross(m.ones(2, 3), m.ones(3)),
        lambda m: m.matrix_power(m.ones(2, 3), 2),
        lambda m: m.inner(m.ones(2, 3).long(), m.ones(2, 3)),
        lambda m: m.linalg.inv(m.ones(2, 3)),
        lambda m: m.linalg.inv(m.ones(2, 2).long()),
        lambda m: m.linalg.inv(m.zeros(2, 2)),
        lambda m: m.linalg.cholesky(-m.eye(2)),
        lambda m: m.linalg.solve(m.eye(2), m.ones(3)),
        lambda m: m.linalg.solve(m.eye(2), m.ones(2).double()),
        lambda m: m.linalg.qr(m.ones(2, 2), mode="bad"),
        lambda m: m.linalg.vector_norm(m.ones(2).long()),
        lambda m: m.linalg.matrix_norm(m.ones(2, 2), 3),
        lambda m: m.linalg.norm(m.ones(2, 2, 2), 2),
        lambda m: m.renorm(m.ones(2, 2), -1, 0, 5),
        lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)),
        lambda m: m.cdist(m.ones(2, 3).long(), m.ones(2, 3).long()),
        lambda m: m.linalg.eigh(m.ones(2, 3)),
        lambda m: m.linalg.lstsq(m.ones(3, 2), m.ones(4, 1)),
    ]
    for fn in runtime:
        with pytest.raises(RuntimeError):
            fn(torch)
        with pytest.raises(RuntimeError):
            fn(lamina)
    with pytest.raises(lamina.linalg.LinAlgError):
        lamina.linalg.cholesky(-lamina.eye(2))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        lamina.linalg.svd(lamina.ones(3, 2, requires_grad=True))


def test_result_dtypes_follow_the_input():
    for dt in (lamina.float32, lamina.float64):
        a = lamina.tensor(SQ[0], dtype=dt)
        for out in (lamina.linalg.det(a), lamina.linalg.inv(a), lamina.linalg.slogdet(a)[0],
                    lamina.linalg.eigh(sym(a))[1], lamina.linalg.svd(a)[0], lamina.linalg.pinv(a),
                    lamina.linalg.solve(a, a[0]), lamina.linalg.qr(a)[1], lamina.cdist(a, a)):
            assert out.dtype == dt
    assert lamina.mv(lamina.ones(2, 3, dtype=lamina.int64), lamina.ones(3, dtype=lamina.int64)).dtype == lamina.int64


# ---------------------------------------------------------------- matrix functions built on the decompositions
L3 = np.linalg.cholesky(SPD[0])
MORE = [
    ("matrix_exp", lambda a: la(a).matrix_exp(a), (SQ * 0.3,)),
    ("matrix_exp_big_norm", lambda a: lib(a).matrix_exp(a * 2.0), (M33,)),
    ("matrix_exp_method", lambda a: a.matrix_exp(), (M33 * 0.1,)),
    ("cholesky_solve", lambda b, l: lib(b).cholesky_solve(b, l.tril()), (r.standard_normal((3, 2)), L3)),
    ("cholesky_solve_upper", lambda b, u: b.cholesky_solve(u.triu(), upper=True), (r.standard_normal((3, 2)), L3.T.copy())),
    ("cholesky_inverse", lambda l: lib(l).cholesky_inverse(l.tril()), (L3,)),
    ("cholesky_inverse_upper", lambda u: u.triu().cholesky_inverse(upper=True), (L3.T.copy(),)),
    ("solve_triangular", lambda a, b: la(a).solve_triangular(a, b, upper=False), (L3, r.standard_normal((3, 4)))),
    ("solve_triangular_right_unit", lambda a, b: la(a).solve_triangular(a, b, upper=True, left=False,
                                                                       unitriangular=True), (SQ[0], r.standard_normal((2, 3)))),
    ("triangular_solve", lambda b, a: lib(b).triangular_solve(b, a, transpose=True)[0], (r.standard_normal((3, 2)), SQ[1])),
    ("block_diag", lambda a, b, c: lib(a).block_diag(a, b, c), (M23, V3, np.asarray(2.5))),
    ("tensorinv", lambda a: la(a).tensorinv(a, 1), (r.standard_normal((6, 2, 3)),)),
    ("tensorsolve", lambda a, b: la(a).tensorsolve(a, b), (r.standard_normal((2, 3, 6)), r.standard_normal((2, 3)))),
    ("cond", lambda a: la(a).cond(a), (SQ,)),
    ("cond_fro", lambda a: la(a).cond(a, "fro"), (SQ[0],)),
    ("linalg_vander", lambda x: la(x).vander(x, N=4), (r.standard_normal((2, 3)),)),
    ("pdist", lambda x: lib(x).pdist(x), (M34.T.copy(),)),
    ("pairwise_distance", lambda a, b: lib(a).pairwise_distance(a, b), (M23, M23[::-1].copy())),
    ("cosine_similarity", lambda a, b: lib(a).cosine_similarity(a, b), (M23, M23 + 1.0)),
]


@requires_torch
@pytest.mark.parametrize("name,fn,arrays", MORE, ids=[m[0] for m in MORE])
def test_matrix_functions_parity(name, fn, arrays):
    grad = name != "cond_fro"  # torch's own backward of cond(A, 'fro') fails (an in-place op in it)
    parity(fn, *[a.astype(np.float32) for a in arrays], rtol=1e-3, atol=1e-4, grad=grad)
    parity(fn, *[a.copy() for a in arrays], rtol=1e-7, atol=1e-9, grad=grad)


@pytest.mark.parametrize("name,fn,arrays", MORE, ids=[m[0] for m in MORE])
def test_matrix_functions_gradcheck(name, fn, arrays):
    gradcheck(fn, *[a.copy() for a in arrays], atol=1e-5, rtol=1e-4)


def test_matrix_exp_gradgradcheck_and_identities():
    gradgradcheck(lambda a: lamina.linalg.matrix_exp(a), M33 * 0.5, atol=1e-4, rtol=1e-3)
    a = lamina.tensor(M33)
    np.testing.assert_allclose((lamina.linalg.matrix_exp(a) @ lamina.linalg.matrix_exp(-a)).numpy(), np.eye(3),
                               atol=1e-12)
    d = lamina.tensor(np.diag([1.0, -2.0, 0.5]))
    np.testing.assert_allclose(lamina.matrix_exp(d).numpy(), np.diag(np.exp([1.0, -2.0, 0.5])), rtol=1e-13)


@requires_torch
def test_low_rank_decompositions_reconstruct():
    a = (r.standard_normal((8, 3)) @ r.standard_normal((3, 5)))
    U, S, V = lamina.svd_lowrank(lamina.tensor(a), q=3)
    assert U.shape == (8, 3) and S.shape == (3,) and V.shape == (5, 3)
    np.testing.assert_allclose(((U * S) @ V.T).numpy(), a, atol=1e-10)
    np.testing.assert_allclose(S.numpy(), torch.svd_lowrank(torch.tensor(a), q=3)[1].numpy(), rtol=1e-6)
    U, S, V = lamina.pca_lowrank(lamina.tensor(a))
    tS = torch.pca_lowrank(torch.tensor(a))[1]
    assert S.shape == tuple(tS.shape)
    np.testing.assert_allclose(S.numpy()[:3], tS.numpy()[:3], rtol=1e-6)


@requires_torch
def test_matrix_function_errors_match_torch():
    for fn in (lambda m: m.linalg.matrix_exp(m.ones(2, 3)), lambda m: m.linalg.vander(m.ones(3), N=1),
               lambda m: m.block_diag(m.ones(2, 2, 2)), lambda m: m.linalg.tensorinv(m.ones(2, 3), 1),
               lambda m: m.linalg.tensorinv(m.ones(2, 2), 0)):
        with pytest.raises(RuntimeError):
            fn(torch)
        with pytest.raises(RuntimeError):
            fn(lamina)


# ---------------------------------------------------------------- LU
@requires_torch
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (5, 3), (3, 5)])
def test_lu_factorizations_match_torch(shape):
    a = r.standard_normal(shape)
    for fn in (lambda m, x: m.linalg.lu_factor(x), lambda m, x: m.linalg.lu(x), lambda m, x: m.lu(x),
               lambda m, x: m.lu_unpack(*m.linalg.lu_factor(x)), lambda m, x: m.linalg.lu_factor_ex(x)):
        for lo, to in zip(fn(lamina, lamina.tensor(a)), fn(torch, torch.tensor(a))):
            assert str(lo.dtype) == str(to.dtype).replace("torch.", "")
            np.testing.assert_allclose(lo.numpy(), to.numpy(), atol=1e-12)
    P, L, U = lamina.linalg.lu(lamina.tensor(a))
    np.testing.assert_allclose((P @ L @ U).numpy(), a, atol=1e-12)


LU_GRAD = [
    ("lu_factor", lambda a: la(a).lu_factor(a)[0], (SQ,)),
    ("lu_plu", lambda a: (lambda p, l, u: (l, u))(*la(a).lu(a)), (SQ[0],)),
    ("lu_solve", lambda a, b: la(a).lu_solve(*la(a).lu_factor(a), b), (SQ, r.standard_normal((2, 3, 2)))),
    ("lu_solve_adjoint_right", lambda a, b: la(a).lu_solve(*la(a).lu_factor(a), b, left=False, adjoint=True),
     (SQ[0], r.standard_normal((4, 3)))),
    ("torch_lu_solve", lambda a, b: lib(a).lu_solve(b, *lib(a).linalg.lu_factor(a)), (SQ[0], r.standard_normal((3, 2)))),
]


@requires_torch
@pytest.mark.parametrize("name,fn,arrays", LU_GRAD, ids=[g[0] for g in LU_GRAD])
def test_lu_gradients(name, fn, arrays):
    parity(fn, *[a.copy() for a in arrays], rtol=1e-7, atol=1e-9)
    gradcheck(fn, *[a.copy() for a in arrays], atol=1e-5, rtol=1e-4)


def test_lu_second_derivatives_and_singular_info():
    gradgradcheck(lambda a: lamina.linalg.lu_factor(a)[0], SQ[0], atol=1e-4, rtol=1e-3)
    info = lamina.linalg.lu_factor_ex(lamina.tensor([[0.0, 1.0], [0.0, 2.0]])).info
    assert info.item() == 1
    with pytest.raises(lamina.linalg.LinAlgError):
        lamina.linalg.lu_factor_ex(lamina.tensor([[0.0, 1.0], [0.0, 2.0]]), check_errors=True)
    with pytest.raises(NotImplementedError, match="square"):
        lamina.linalg.lu_factor(lamina.tensor(TALL, requires_grad=True))[0].sum().backward()
    x = lamina.tensor(SQ[0]).lu_solve(*lamina.tensor(SQ[0]).lu())
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(SQ[0], SQ[0]), atol=1e-12)


@requires_torch
def test_dlpack_shares_memory_both_ways():
    t = torch.arange(4.0)
    a = lamina.from_dlpack(t)
    a.array[0] = 9.0
    assert t[0].item() == 9.0
    x = lamina.arange(3.0)
    torch.from_dlpack(x)[1] = 7.0
    assert x.tolist() == [0.0, 7.0, 2.0]


# ---------------------------------------------------------------- Householder QR
@requires_torch
def test_householder_representation():
    a = r.standard_normal((2, 5, 3))
    la_, ltau = lamina.geqrf(lamina.tensor(a))
    ta, ttau = torch.geqrf(torch.tensor(a))
    np.testing.assert_allclose(la_.numpy(), ta.numpy(), atol=1e-12)
    np.testing.assert_allclose(ltau.numpy(), ttau.numpy(), atol=1e-12)
    parity(lambda x, t: la(x).householder_product(x, t), ta.numpy(), ttau.numpy(), rtol=1e-7, atol=1e-9)
    parity(lambda x, t: x.orgqr(t), ta.numpy()[0], ttau.numpy()[0], rtol=1e-7, atol=1e-9)
    c = r.standard_normal((2, 5, 4))
    for left, tr in ((True, False), (True, True)):
        parity(lambda x, t, y: lib(x).ormqr(x, t, y, left, tr), ta.numpy(), ttau.numpy(), c, rtol=1e-7, atol=1e-9)
    for tr in (False, True):
        parity(lambda x, t, y: x.ormqr(t, y, left=False, transpose=tr), ta.numpy(), ttau.numpy(),
               np.swapaxes(c, -1, -2).copy(), rtol=1e-7, atol=1e-9)
    gradcheck(lambda x, t: lamina.linalg.householder_product(x, t), ta.numpy()[0], ttau.numpy()[0])
    Q = lamina.linalg.householder_product(la_, ltau)
    np.testing.assert_allclose(Q.numpy(), np.linalg.qr(a)[0], atol=1e-12)
