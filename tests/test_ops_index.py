"""Indexing ops: x[index], x[index] = v, gather/scatter, index_select, masked_fill, one_hot —
values and gradients against PyTorch, float64 gradchecks, second derivatives, the fast
accumulation paths against NumPy, random indices (hypothesis) and error messages."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, rng, torch
from lamina.ops import index as I


def M(t):
    """The framework a tensor belongs to, so one lambda runs in lamina and in torch."""
    return lamina if isinstance(t, lamina.Tensor) else torch


def T(t, arr):
    """``arr`` as an index tensor of ``t``'s framework."""
    return M(t).tensor(np.asarray(arr))


def A(*shape, seed=0):
    return rng(seed).standard_normal(shape)


MASK = np.array([True, False, True])
MASK2 = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])

# (id, index builder taking the tensor being indexed) on a (3, 4, 5) input
INDICES = [
    ("int", lambda x: 1),
    ("neg_int", lambda x: -1),
    ("two_ints", lambda x: (2, 3)),
    ("all_ints", lambda x: (0, 1, 2)),
    ("slice", lambda x: slice(1, 3)),
    ("slice_neg", lambda x: (slice(-2, None), slice(None, -1))),
    ("slice_step", lambda x: (slice(None), slice(0, None, 2), slice(1, 5, 3))),
    ("int_slice", lambda x: (1, slice(None, 2))),
    ("none", lambda x: (None, 0)),
    ("none_mid", lambda x: (slice(None), None, 1)),
    ("ellipsis", lambda x: (Ellipsis, 2)),
    ("ellipsis_mid", lambda x: (0, Ellipsis, slice(1, 3))),
    ("ellipsis_none", lambda x: (None, Ellipsis, None)),
    ("list", lambda x: [0, 2]),
    ("list_repeats", lambda x: [2, 0, 2, 2]),
    ("array_2d", lambda x: np.array([[0, 1], [1, 1]])),
    ("tensor", lambda x: T(x, [1, 1, 0])),
    ("tensor_0d", lambda x: T(x, 2)),
    ("array_dim1", lambda x: (slice(None), [3, 0, 3])),
    ("array_last", lambda x: (Ellipsis, [4, 4, 0])),
    ("neg_array", lambda x: (slice(None), [-1, -4, -1])),
    ("two_arrays", lambda x: ([0, 2, 0], [1, 1, 1])),
    ("two_arrays_bcast", lambda x: (np.array([[0], [2]]), slice(None), np.array([1, 4, 1]))),
    ("int_and_array", lambda x: (0, slice(None), [1, 2, 1])),
    ("array_int_array", lambda x: ([0, 1], 0, [1, 2])),
    ("array_none", lambda x: (None, [2, 2], slice(1, 3))),
    ("slice_and_array", lambda x: (slice(0, 2), [3, 3])),
    ("mask", lambda x: T(x, MASK)),
    ("mask_np", lambda x: MASK),
    ("mask_dim1", lambda x: (slice(None), T(x, MASK2[0]))),
    ("mask_2d", lambda x: T(x, MASK2)),
    ("mask_2d_then_slice", lambda x: (T(x, MASK2), slice(1, 4))),
    ("mask_and_array", lambda x: (T(x, MASK), slice(None), [0, 4])),
    ("empty_list", lambda x: []),
    ("range", lambda x: (slice(None), range(1, 4, 2))),
    ("int32_array", lambda x: np.array([2, 0], dtype=np.int32)),
]


@pytest.mark.parametrize("make", [c[1] for c in INDICES], ids=[c[0] for c in INDICES])
def test_getitem_parity(make):
    parity(lambda x: x[make(x)], A(3, 4, 5))


@pytest.mark.parametrize("make", [c[1] for c in INDICES], ids=[c[0] for c in INDICES])
def test_getitem_gradcheck_strided(make):
    gradcheck(lambda x: x[make(x)], noncontiguous(A(3, 4, 5)))


def test_getitem_negative_steps_match_numpy():
    a = A(4, 5)
    x = lamina.tensor(a, requires_grad=True)
    y = x[::-1, 4:0:-2]
    np.testing.assert_array_equal(y.detach().numpy(), a[::-1, 4:0:-2])
    gradcheck(lambda t: t[::-1, 4:0:-2], a)


def test_getitem_basic_is_a_view_and_advanced_a_copy():
    x = lamina.tensor(np.arange(6.0).reshape(2, 3))
    v = x[0]
    v[1] = 50.0
    assert x[0, 1].item() == 50.0
    c = x[[0]]
    c[0, 0] = -7.0
    assert x[0, 0].item() == 0.0
    s = x[1, 2]
    assert s.shape == () and s.item() == 5.0


def test_getitem_full_slice_returns_input_and_iteration_works():
    x = lamina.tensor(A(2, 3))
    assert x[:] is x and x[...] is x
    rows = list(x)
    assert len(rows) == 2 and rows[1].shape == (3,)


@pytest.mark.parametrize("make", [
    lambda x: [0, 2, 2, 1, 2],
    lambda x: (np.array([[1, 1], [0, 1]]), slice(None)),
    lambda x: (slice(None), [1, 1, 0]),
    lambda x: ([0, 0, 2], [1, 1, 3]),
    lambda x: (1, [0, 0]),
    lambda x: (True, [2, 2]),
], ids=["rows", "rows_2d", "cols", "pairs", "int_then_array", "bool_scalar"])
def test_getitem_repeated_indices_gradgradcheck(make):
    gradgradcheck(lambda x: x[make(x)] ** 2, A(3, 4))


# ---------------------------------------------------------------- the embedding fast paths
@pytest.mark.parametrize("table,ids,dim", [
    ((50, 128), (64,), 0),      # sort + reduceat
    ((7, 16), (3, 200), 0),     # n-D ids, many repeats
    ((1000,), (5000,), 0),      # one value per index: bincount
    ((4, 300, 8), (200,), 1),   # along a middle dim
    ((5, 3), (4,), 0),          # small: np.add.at
], ids=["sort", "nd_ids", "bincount", "middle_dim", "small"])
@pytest.mark.parametrize("numba", [True, False], ids=["numba", "numpy"])
def test_index_select_accumulation_paths_match_add_at(table, ids, dim, numba, monkeypatch):
    monkeypatch.setattr(I, "USE_NUMBA", numba and I.USE_NUMBA)
    r = rng(1)
    w = r.standard_normal(table).astype(np.float32)
    idx = r.integers(-table[dim], table[dim], ids) if dim == 0 else r.integers(0, table[dim], ids)
    x = lamina.tensor(w, requires_grad=True)
    key = (slice(None),) * dim + (idx,)
    y = x[key]
    g = r.standard_normal(y.shape).astype(np.float32)
    y.backward(lamina.tensor(g))
    ref = np.zeros_like(w, dtype=np.float64)
    np.add.at(ref, key, g.astype(np.float64))
    np.testing.assert_allclose(y.detach().numpy(), w[key])
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-4, atol=1e-4)
    assert x.grad.dtype == np.float32


# ---------------------------------------------------------------- hypothesis: random indices
@st.composite
def shapes_and_indices(draw):
    """A random shape and an index of ints, slices, None, at most one ``...`` and either up to
    two integer arrays (same length, repeats allowed) or one boolean mask."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    ndim = len(shape)
    adv = draw(st.sampled_from(["none", "arrays", "mask"]))
    n_arrays, adv_len = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    ell = draw(st.one_of(st.none(), st.tuples(st.integers(0, ndim), st.integers(0, 2))))
    items = []
    for d, n in enumerate(shape):
        if ell is not None and ell[0] <= d < ell[0] + ell[1]:
            items.append(Ellipsis)
            continue
        kinds = ["int", "slice", "full"] + (["array"] if adv == "arrays" and n_arrays else [])
        kinds += ["mask"] if adv == "mask" else []
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = draw(st.one_of(st.none(), st.integers(-n, n)))
            items.append(slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3)))))
        elif kind == "array":
            n_arrays -= 1
            items.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=adv_len, max_size=adv_len))))
        elif kind == "mask":
            adv = "none"
            items.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))))
        else:
            items.append(slice(None))
    # the ellipsis run collapses to one ``...`` (possibly covering no dims)
    out = []
    for it in items:
        if it is Ellipsis and out and out[-1] is Ellipsis:
            continue
        out.append(it)
    if ell is not None and ell[1] == 0:
        out.insert(min(ell[0], len(out)), Ellipsis)
    elif ell is None:
        out = out[:len(out) - draw(st.integers(0, len(out)))]  # trailing dims left implicit
    for _ in range(draw(st.integers(0, 2))):
        out.insert(draw(st.integers(0, len(out))), None)
    return tuple(shape), tuple(out)


@settings(max_examples=50, deadline=None)
@given(shapes_and_indices())
def test_getitem_random_indices_match_torch(case):
    shape, index = case
    a = rng().standard_normal(shape)
    if torch is None:
        pytest.skip("PyTorch is not installed")
    expected = torch.from_numpy(a)[tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)]
    x = lamina.tensor(a, requires_grad=True)
    y = x[index]
    assert y.shape == tuple(expected.shape)
    np.testing.assert_array_equal(y.detach().numpy(), expected.numpy())
    parity(lambda t: t[tuple(T(t, i) if isinstance(i, np.ndarray) else i for i in index)], a)


@settings(max_examples=30, deadline=None)
@given(shapes_and_indices())
def test_setitem_random_indices_match_torch(case):
    shape, index = case
    if torch is None:
        pytest.skip("PyTorch is not installed")
    a = rng().standard_normal(shape)
    target = torch.from_numpy(a)[tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)]
    hits = np.zeros(shape)
    np.add.at(hits, index, 1)  # the addressed elements are the same under NumPy's and torch's rules
    if hits.max(initial=0) > 1:
        return  # repeated writes: which value wins is unspecified in torch
    v = rng(2).standard_normal(target.shape)

    def fn(t, val):
        y = t * 1.0
        y[tuple(T(t, i) if isinstance(i, np.ndarray) else i for i in index)] = val
        return y

    parity(fn, a, v)


# ---------------------------------------------------------------- setitem
@pytest.mark.parametrize("index,vshape", [
    (1, (5,)),
    ((0, 2), ()),
    ((slice(None), 1), (3, 1)),
    ((slice(0, 2), slice(1, None, 2)), (5,)),
    ([0, 2], (2, 4, 5)),
    ((Ellipsis, [1, 3]), (4, 2)),
    ((0, slice(None), [1, 2]), (1, 4, 2)),   # leading size-1 dims of the value are dropped
    (MASK, (1, 5)),
    ((MASK2,), (6, 5)),
    ((None, 1), (5,)),
], ids=["row", "scalar", "column", "strided", "rows", "ellipsis_cols", "mixed", "mask", "mask_2d", "none"])
def test_setitem_parity_with_grad(index, vshape):
    def fn(a, v):
        y = a * 1.0
        y[index] = v
        return y * y

    parity(fn, A(3, 4, 5), A(*vshape, seed=1))
    gradcheck(fn, noncontiguous(A(3, 4, 5)), A(*vshape, seed=1))


def test_setitem_second_derivative():
    def fn(a, v):
        y = a * a
        y[:, [0, 2]] = v * v
        return y * a

    gradgradcheck(fn, A(3, 4), A(3, 2, seed=1))


def test_setitem_without_grad_is_in_place_and_views_see_it():
    x = lamina.zeros(3, 4)
    row = x[1]
    buf = x.array
    x[1, 2] = 5.0
    x[0] = lamina.tensor([1.0, 2.0, 3.0, 4.0])
    x[:, 0] = np.array([7.0, 8.0, 9.0])
    x[x > 8.5] = -1.0
    assert x.array is buf and row[2].item() == 5.0
    ref = np.zeros((3, 4))
    ref[1, 2], ref[0], ref[:, 0] = 5.0, [1, 2, 3, 4], [7, 8, 9]
    ref[ref > 8.5] = -1.0
    np.testing.assert_array_equal(x.numpy(), ref)


def test_setitem_on_leaf_requiring_grad():
    w = lamina.tensor(A(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0, 0] = 1.0
    with lamina.no_grad():
        w[0, 0] = 1.0
    assert w[0, 0].item() == 1.0 and w.requires_grad and w.is_leaf


def test_setitem_value_requiring_grad_into_plain_buffer():
    v = lamina.tensor([1.0, 2.0], requires_grad=True)
    buf = lamina.zeros(3, 2)
    buf[1] = v * 3.0
    buf[2] = v
    assert buf.requires_grad and not buf.is_leaf
    (buf * lamina.tensor([[1.0, 1.0], [2.0, 2.0], [5.0, 7.0]])).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [11.0, 13.0])


def test_setitem_augmented_assignment_with_grad():
    def fn(a, v):
        y = a * 1.0
        y[1:, [0, 2]] += v
        return y

    parity(fn, A(3, 4), A(2, 2, seed=1))


def test_setitem_casts_to_tensor_dtype_and_bumps_version():
    x = lamina.tensor([1, 2, 3])
    x[0] = 7.9  # as torch: the value is converted to the tensor's dtype
    x[1:] = lamina.tensor([5.5, 6.5])
    assert x.dtype == lamina.int64 and x.tolist() == [7, 5, 6]
    y = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = y * 2.0
    z = h * h  # saves h
    h[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_setitem_errors():
    x = lamina.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"setitem: value of shape \(3,\) cannot be broadcast to the indexed shape \(4,\)"):
        x[0] = lamina.ones(3)
    with pytest.raises(RuntimeError, match=r"setitem: value of shape \(2, 4\) cannot be broadcast.*\(4,\)"):
        x[0] = np.ones((2, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        x[3] = 1.0
    with pytest.raises(RuntimeError, match="read-only"):
        lamina.zeros(3, 1).expand(3, 4)[0, 0] = 1.0


# ---------------------------------------------------------------- gather / scatter / select
IDX = np.array([[0, 2, 2], [1, 0, 1]])
IDX_D0 = np.array([[0, 1, 1], [1, 1, 0]])
OPS = [
    ("gather_1", lambda x: x.gather(1, T(x, IDX)), [(2, 4)]),
    ("gather_0", lambda x: x.gather(0, T(x, IDX_D0)), [(2, 3)]),
    ("gather_neg_small", lambda x: M(x).gather(x, -1, T(x, IDX[:1, :2])), [(3, 4)]),
    ("gather_3d", lambda x: x.gather(2, T(x, np.array([[[1, 1], [0, 2]]]))), [(2, 2, 3)]),
    ("scatter", lambda x, s: x.scatter(1, T(x, [[0, 2], [3, 1]]), s), [(2, 4), (2, 2)]),
    ("scatter_scalar", lambda x: x.scatter(1, T(x, [[0, 2], [3, 1]]), 2.5), [(2, 4)]),
    ("scatter_add", lambda x, s: x.scatter_add(1, T(x, IDX), s), [(2, 4), (2, 3)]),
    ("scatter_add_0", lambda x, s: M(x).scatter_add(x, 0, T(x, IDX_D0), s), [(2, 3), (2, 3)]),
    ("index_select", lambda x: x.index_select(1, T(x, [2, 0, 2])), [(2, 3, 2)]),
    ("index_select_0", lambda x: M(x).index_select(x, 0, T(x, [1, 1])), [(2, 3)]),
    ("index_select_0d", lambda x: x.index_select(-1, T(x, 1)), [(2, 3)]),
    ("index_select_empty", lambda x: x.index_select(0, T(x, np.zeros(0, np.int64))), [(2, 3)]),
    ("masked_fill", lambda x: x.masked_fill(T(x, MASK2[:2, :3]), -1.5), [(2, 3)]),
    ("masked_fill_bcast", lambda x: x.masked_fill(T(x, MASK), 0.0), [(2, 3)]),
    ("masked_fill_bigger_mask", lambda x: x.masked_fill(T(x, MASK2[:2, :3]), 3.0), [(3,)]),
    ("masked_fill_tensor", lambda x, v: x.masked_fill(T(x, MASK), v.sum() * 2.0), [(2, 3), (2,)]),
]


@pytest.mark.parametrize("fn,shapes", [c[1:] for c in OPS], ids=[c[0] for c in OPS])
def test_ops_parity(fn, shapes):
    parity(fn, *[A(*s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("fn,shapes", [c[1:] for c in OPS], ids=[c[0] for c in OPS])
def test_ops_gradcheck_strided(fn, shapes):
    gradcheck(fn, *[noncontiguous(A(*s, seed=i)) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("fn,shapes", [
    (lambda x: x.gather(1, T(x, IDX)) ** 2, [(2, 4)]),
    (lambda x, s: x.scatter_add(1, T(x, IDX), s * s) ** 2, [(2, 4), (2, 3)]),
    (lambda x, s: x.scatter(1, T(x, [[0, 2], [3, 1]]), s * x[:, :2]) ** 2, [(2, 4), (2, 2)]),
    (lambda x: x.index_select(0, T(x, [1, 0, 1])) ** 2, [(2, 3)]),
    (lambda x: x.masked_fill(T(x, MASK), 1.0) ** 3, [(2, 3)]),
], ids=["gather", "scatter_add", "scatter", "index_select", "masked_fill"])
def test_ops_gradgradcheck(fn, shapes):
    gradgradcheck(fn, *[A(*s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("fn,shapes", [
    (lambda x, s: x.scatter(0, T(x, [[1, 0, 1]]), s), [(2, 3), (2, 4)]),
    (lambda x, s: x.scatter_add(1, T(x, IDX), s), [(2, 4), (3, 5)]),
], ids=["scatter", "scatter_add"])
def test_src_larger_than_index(fn, shapes):
    """Only src[:index.shape] is read; its gradient is zero elsewhere (torch's backward rejects this case)."""
    arrays = [A(*s, seed=i) for i, s in enumerate(shapes)]
    parity(fn, *arrays, grad=False)
    gradcheck(fn, *[noncontiguous(a) for a in arrays])


def test_scatter_add_large_with_repeats_matches_torch():
    r = rng(3)
    idx = r.integers(0, 50, (64, 300))
    parity(lambda x, s: x.scatter_add(1, T(x, idx), s), A(64, 50), A(64, 300, seed=1))
    parity(lambda x: x.gather(1, T(x, idx)), A(64, 50))  # backward accumulates with bincount


def test_gather_with_one_index_per_row_is_cross_entropy_style():
    logits = lamina.tensor(A(4, 5), requires_grad=True)
    target = lamina.tensor([[1], [4], [0], [1]])
    picked = logits.gather(1, target)
    picked.sum().backward()
    expected = np.zeros((4, 5))
    expected[np.arange(4), [1, 4, 0, 1]] = 1.0
    np.testing.assert_array_equal(logits.grad.numpy(), expected)


def test_int_tensors_gather_scatter_without_grad():
    x = lamina.tensor([[1, 2, 3], [4, 5, 6]])
    idx = lamina.tensor([[2, 2, 0]])
    assert x.gather(1, idx).tolist() == [[3, 3, 1]]
    assert x.scatter_add(1, idx, lamina.tensor([[10, 20, 30]])).tolist() == [[31, 2, 33], [4, 5, 6]]
    assert x.scatter(1, idx, 0).tolist() == [[0, 2, 0], [4, 5, 6]]


def test_masked_fill_keeps_dtype_and_in_place_variant():
    x = lamina.tensor([1, 2, 3])
    y = x.masked_fill(lamina.tensor([True, False, True]), 9)
    assert y.dtype == lamina.int64 and y.tolist() == [9, 2, 9]
    f = lamina.tensor([1.0, 2.0, 3.0])
    f.masked_fill_(f > 1.5, float("-inf"))
    assert f.tolist() == [1.0, float("-inf"), float("-inf")]


# ---------------------------------------------------------------- one_hot
@pytest.mark.parametrize("values,num_classes", [
    ([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 4), (2, 3),
])
def test_one_hot_parity(values, num_classes):
    idx = np.array(values, dtype=np.int64)
    out = I.one_hot(lamina.tensor(idx), num_classes)
    assert out.dtype == lamina.int64
    if torch is None:
        pytest.skip("PyTorch is not installed")
    expected = torch.nn.functional.one_hot(torch.from_numpy(idx), num_classes)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@pytest.mark.parametrize("values,num_classes,match", [
    ([0, -1], -1, "non-negative"),
    ([0, 3], 3, r"smaller than num_classes \(3\)"),
    (np.zeros(0, np.int64), -1, "empty tensor"),
    ([0.0, 1.0], -1, "integer index tensor"),
])
def test_one_hot_errors(values, num_classes, match):
    with pytest.raises(RuntimeError, match=match):
        I.one_hot(lamina.tensor(values), num_classes)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("fn,exc,match", [
    (lambda x: x[3], IndexError, r"index 3 is out of bounds for dimension 0 with size 3 \(tensor shape \(3, 4\)\)"),
    (lambda x: x[0, -5], IndexError, "index -5 is out of bounds for dimension 1 with size 4"),
    (lambda x: x[[0, 5]], IndexError, r"getitem: .*5.*out of bounds.*\(tensor shape \(3, 4\)\)"),
    (lambda x: x[0, 1, 2], IndexError, r"too many indices for a tensor of shape \(3, 4\): 3"),
    (lambda x: x[..., 0, ...], IndexError, "single ellipsis"),
    (lambda x: x[1.5], IndexError, "valid indices, got float"),
    (lambda x: x[lamina.tensor([0.0, 1.0])], IndexError, "integer or bool, got dtype float32"),
    (lambda x: x[np.array([True, False])], IndexError, r"shape of the mask \(2,\) does not match the shape \(3,\)"),
    (lambda x: x[[0, 1], [0, 1, 2]], IndexError, "getitem: .*broadcast"),
    (lambda x: x.gather(1, lamina.tensor([0, 1])), RuntimeError,
     r"gather: index tensor must have the same number of dimensions as the input; got index shape \(2,\)"),
    (lambda x: x.gather(1, lamina.tensor([[4]])), IndexError, r"gather: index 4 is out of bounds for dim 1 with size 4"),
    (lambda x: x.gather(1, lamina.tensor([[-1]])), IndexError, "gather: index -1 is out of bounds"),
    (lambda x: x.gather(1, lamina.zeros(4, 1).long()), RuntimeError, r"gather: index shape \(4, 1\) must not be larger"),
    (lambda x: x.gather(2, lamina.tensor([[0]])), IndexError, "gather: dimension 2 is out of range"),
    (lambda x: x.gather(1, lamina.tensor([[0.0]])), RuntimeError, "gather: expected an integer index"),
    (lambda x: x.scatter(1, lamina.tensor([[0, 1]]), lamina.ones(1, 1)), RuntimeError, "src shape"),
    (lambda x: x.scatter(1, lamina.tensor([[0]]), lamina.ones(1, 1, dtype=lamina.float32)), RuntimeError,
     "scatter: expected src to have the dtype of the input"),
    (lambda x: x.scatter_add(0, lamina.tensor([[3]]), lamina.ones(1, 1)), IndexError, "scatter_add: index 3"),
    (lambda x: x.index_select(0, lamina.tensor([[0]])), IndexError, "index_select: index must be a vector"),
    (lambda x: x.index_select(1, lamina.tensor([4])), IndexError, "index_select: index out of range for dim 1 with size 4"),
    (lambda x: x.masked_fill(lamina.tensor([1, 0, 1, 0]), 0.0), RuntimeError, "only boolean masks"),
    (lambda x: x.masked_fill(lamina.tensor([True, False]), 0.0), RuntimeError,
     r"mask of shape \(2,\) cannot be broadcast to the input shape \(3, 4\)"),
    (lambda x: x.masked_fill(x > 0, lamina.tensor([1.0])), RuntimeError, "0-dimensional value tensor"),
])
def test_errors(fn, exc, match):
    x = lamina.tensor(A(3, 4))
    with pytest.raises(exc, match=match):
        fn(x)
