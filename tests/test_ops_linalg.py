"""matmul (every NumPy case), dot, outer, einsum: values, gradients, second derivatives, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng, torch, transposed


def _randn(*shape, seed=0):
    return rng(seed).standard_normal(shape)


def lib(t):
    """The module (lamina or torch) that owns tensor ``t``: one lambda runs in both frameworks."""
    return lamina if isinstance(t, lamina.Tensor) else torch


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),              # 2-D
    ((4,), (4,)),                  # dot -> scalar
    ((4,), (4, 5)),                # vector @ matrix
    ((3, 4), (4,)),                # matrix @ vector
    ((2, 3, 4), (2, 4, 5)),        # batched
    ((2, 3, 4), (4, 5)),           # batched @ shared matrix
    ((3, 4), (2, 4, 5)),           # shared matrix @ batched
    ((2, 1, 3, 4), (5, 4, 2)),     # broadcast batch dims
    ((1, 3, 4), (2, 2, 4, 5)),     # broadcast + extra leading dim
    ((4,), (2, 4, 5)),             # vector @ batched
    ((2, 3, 4), (4,)),             # batched @ vector
    ((2, 1, 3, 4), (4,)),
]
IDS = ["x".join(map(str, a)) + "@" + "x".join(map(str, b)) for a, b in MATMUL_SHAPES]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=IDS)
def test_matmul_values_match_numpy(sa, sb):
    a, b = _randn(*sa), _randn(*sb, seed=1)
    y = lamina.matmul(lamina.tensor(a), lamina.tensor(b))
    np.testing.assert_allclose(y.numpy(), np.matmul(a, b), rtol=1e-12)


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=IDS)
def test_matmul_gradcheck(sa, sb):
    gradcheck(lambda a, b: a @ b, _randn(*sa), _randn(*sb, seed=1))


@pytest.mark.parametrize("layout", [noncontiguous, transposed], ids=["noncontiguous", "transposed"])
@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (4,))])
def test_matmul_gradcheck_strided(sa, sb, layout):
    gradcheck(lambda a, b: a @ b, layout(_randn(*sa)), layout(_randn(*sb, seed=1)))


@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 5)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                                    ((3, 4), (4,)), ((4,), (2, 4, 3))])
def test_matmul_gradgradcheck(sa, sb):
    gradgradcheck(lambda a, b: a @ b, _randn(*sa), _randn(*sb, seed=1))


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=IDS)
def test_matmul_parity(sa, sb):
    parity(lambda a, b: a @ b, _randn(*sa).astype(np.float32), _randn(*sb, seed=1).astype(np.float32))


def test_matmul_2d_hot_path_is_one_node_without_reshapes():
    a = lamina.randn(8, 4, requires_grad=True)
    b = lamina.randn(4, 3, requires_grad=True)
    y = a @ b
    assert y.grad_fn.name == "MatMul2D" and y.grad_fn.inputs[0] is a and y.grad_fn.inputs[1] is b
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((8, 3)) @ b.detach().numpy().T, rtol=1e-5)


def test_shared_weight_gradient_is_summed_over_batch():
    a, w = _randn(2, 5, 3, 4), _randn(4, 6, seed=1)
    ta, tw = lamina.tensor(a), lamina.tensor(w, requires_grad=True)
    (ta @ tw).sum().backward()
    np.testing.assert_allclose(tw.grad.numpy(), a.reshape(-1, 4).T @ np.ones((30, 6)), rtol=1e-12)


def test_matmul_with_an_ndarray_or_list_operand():
    w = lamina.randn(3, 2)
    x = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_allclose((x @ w).numpy(), x @ w.numpy(), rtol=1e-6)
    np.testing.assert_allclose(lamina.matmul(w, [1.0, 2.0]).numpy(), w.numpy() @ [1.0, 2.0], rtol=1e-6)


def test_matmul_of_integers_has_no_grad():
    y = lamina.tensor([[1, 2], [3, 4]]) @ lamina.tensor([1, 1])
    assert y.dtype == np.int64 and y.tolist() == [3, 7]


# ---------------------------------------------------------------- hypothesis: broadcast matmul
@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=3))
    ba = [draw(st.sampled_from([s, 1])) for s in batch][draw(st.integers(0, len(batch))):]
    bb = [draw(st.sampled_from([s, 1])) for s in batch][draw(st.integers(0, len(batch))):]
    sa = tuple(ba) + (m, k) if draw(st.integers(0, 4)) else (k,)
    sb = tuple(bb) + (k, n) if draw(st.integers(0, 4)) else (k,)
    return sa, sb


@requires_torch
@settings(max_examples=40, deadline=None)
@given(shapes=matmul_shapes())
def test_broadcast_matmul_matches_torch(shapes):
    sa, sb = shapes
    a, b = _randn(*sa).astype(np.float32), _randn(*sb, seed=1).astype(np.float32)
    (y,) = parity(lambda a, b: a @ b, a, b)
    assert y.shape == np.matmul(a, b).shape


# ---------------------------------------------------------------- dot / outer
def test_dot_and_outer():
    a, b = _randn(5), _randn(5, seed=1)
    gradcheck(lambda a, b: lamina.dot(a, b), a, b)
    gradcheck(lambda a, b: lamina.outer(a, b), a, b[:3])
    gradgradcheck(lambda a, b: lamina.outer(a, b) * lamina.outer(a, b), a, b[:3])
    parity(lambda a, b: lib(a).dot(a, b), a.astype(np.float32), b.astype(np.float32))
    parity(lambda a, b: lib(a).outer(a, b), a.astype(np.float32), b[:3].astype(np.float32))


# ---------------------------------------------------------------- einsum
EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ii->", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ji", [(3, 4)]),
    ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij,ij->i", [(3, 4), (3, 4), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...i->...", [(2, 3, 4)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij, jk -> ki", [(3, 4), (4, 5)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
]
E_IDS = [eq for eq, _ in EINSUM_CASES]
# NumPy refuses an output without '...' when operands have ellipsis dims; torch sums them
NUMPY_REF = {"b...,b...->b": lambda a, b: (a * b).reshape(len(a), -1).sum(1)}


def _einsum_inputs(shapes, dtype=np.float64):
    return [_randn(*s, seed=i).astype(dtype) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("eq, shapes", EINSUM_CASES, ids=E_IDS)
def test_einsum_values_and_gradcheck(eq, shapes):
    arrays = _einsum_inputs(shapes)
    y = lamina.einsum(eq, *[lamina.tensor(a) for a in arrays])
    ref = NUMPY_REF[eq](*arrays) if eq in NUMPY_REF else np.einsum(eq, *arrays)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)
    gradcheck(lambda *ts: lamina.einsum(eq, *ts), *arrays)


@pytest.mark.parametrize("eq, shapes", EINSUM_CASES, ids=E_IDS)
def test_einsum_parity(eq, shapes):
    parity(lambda *ts: lib(ts[0]).einsum(eq, *ts), *_einsum_inputs(shapes, np.float32))


@pytest.mark.parametrize("eq, shapes", [("ij,jk->ik", [(3, 4), (4, 2)]), ("ii->i", [(3, 3)]),
                                        ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
                                        ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)])])
def test_einsum_gradgradcheck(eq, shapes):
    gradgradcheck(lambda *ts: lamina.einsum(eq, *ts) ** 2, *_einsum_inputs(shapes))


def test_einsum_accepts_a_list_and_owns_its_output():
    x = lamina.tensor(_randn(2, 3))
    y = lamina.einsum("ij->ji", [x])
    y.array[0, 0] = 100.0
    assert x.array[0, 0] != 100.0


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("sa, sb, match", [
    ((2, 3), (4, 5), r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned \(3 != 4\)"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) are not aligned"),
    ((2, 3), (4,), r"matmul: shapes \(2, 3\) and \(4,\) are not aligned"),
    ((2, 3, 4), (3, 4, 5), r"matmul: batch dimensions \(2,\) and \(3,\) of shapes \(2, 3, 4\) and \(3, 4, 5\)"),
    ((), (3,), r"matmul: both operands need at least 1 dimension"),
])
def test_matmul_shape_errors(sa, sb, match):
    with pytest.raises(ValueError, match=match):
        lamina.tensor(np.ones(sa)) @ lamina.tensor(np.ones(sb))


def test_linalg_type_errors():
    a32, a64 = lamina.ones(2, 3), lamina.ones(3, 2, dtype=lamina.float64)
    with pytest.raises(RuntimeError, match="matmul: expected both operands to have the same dtype"):
        a32 @ a64
    with pytest.raises(RuntimeError, match="dot: expected two 1-D tensors"):
        lamina.dot(lamina.ones(2, 2), lamina.ones(2))
    with pytest.raises(RuntimeError, match="dot: the vectors have different lengths 2 and 3"):
        lamina.dot(lamina.ones(2), lamina.ones(3))
    with pytest.raises(RuntimeError, match="outer: expected two 1-D tensors"):
        lamina.outer(lamina.ones(2, 2), lamina.ones(2))


@pytest.mark.parametrize("eq, shapes, match", [
    ("ij,jk->ik", [(2, 3)], r"names 2 operand\(s\) but 1 tensor\(s\)"),
    ("ij,jk->ik", [(2, 3), (4, 5)], r"subscript 'j' has size 4 in operand 1"),
    ("ij->k", [(2, 3)], r"output subscript 'k' does not appear"),
    ("ij->ii", [(2, 2)], r"output subscript 'i' appears more than once"),
    ("ij->i", [(2, 3, 4)], r"subscripts 'ij' of operand 0 name 2 dimension\(s\) but the operand has shape \(2, 3, 4\)"),
    ("i1->i", [(2, 3)], r"invalid character"),
    ("ii->i", [(2, 3)], r"repeated subscript 'i'"),
    ("i->i->i", [(2,)], r"more than one '->'"),
])
def test_einsum_errors(eq, shapes, match):
    with pytest.raises(ValueError, match=match):
        lamina.einsum(eq, *[lamina.ones(*s) for s in shapes])
