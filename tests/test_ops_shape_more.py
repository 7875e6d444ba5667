"""Splitting, joining and reordering: tensor_split, h/v/dsplit, h/v/d/column_stack, atleast_nd,
broadcast_tensors/shapes, meshgrid, cartesian_prod, combinations, repeat_interleave, rot90,
fliplr/flipud, diag, diag_embed, diagflat, trace, tril/triu_indices. Values, gradients, errors.
"""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng, torch


def lib(x):
    return lamina if isinstance(x, lamina.Tensor) else torch


A = rng(1).standard_normal((4, 6))
V = rng(2).standard_normal(5)
C = rng(3).standard_normal((2, 3, 4))

CASES = [
    ("tensor_split_sections", lambda x: lib(x).tensor_split(x, 4, 1), A),
    ("tensor_split_indices", lambda x: x.tensor_split([1, 4], dim=1), A),
    ("tensor_split_unsorted", lambda x: lib(x).tensor_split(x, [1, 5, 3, 9], 1), A),
    ("hsplit", lambda x: x.hsplit(3), A),
    ("hsplit_1d", lambda x: lib(x).hsplit(x, [2]), V),
    ("vsplit", lambda x: x.vsplit([1, 3]), A),
    ("dsplit", lambda x: lib(x).dsplit(x, 2), C),
    ("hstack", lambda x: lib(x).hstack([x, x * 2.0]), A),
    ("hstack_1d", lambda x: lib(x).hstack((x, x)), V),
    ("vstack", lambda x: lib(x).vstack([x, x[:2]]), A),
    ("vstack_1d", lambda x: lib(x).vstack([x, x * 3.0]), V),
    ("row_stack", lambda x: lib(x).row_stack([x, x]), V),
    ("dstack", lambda x: lib(x).dstack([x, x]), A),
    ("column_stack", lambda x: lib(x).column_stack([x, x[:, :1] * 2.0, x[:, 0]]), A),
    ("atleast_1d", lambda x: lib(x).atleast_1d(x.sum()), A),
    ("atleast_2d", lambda x: lib(x).atleast_2d(x), V),
    ("atleast_3d", lambda x: lib(x).atleast_3d(x, x[0], x.sum()), A),
    ("broadcast_tensors", lambda x: lib(x).broadcast_tensors(x[:, :1], x[0], x), A),
    ("meshgrid_ij", lambda x: lib(x).meshgrid(x, x[:3], indexing="ij"), V),
    ("meshgrid_xy", lambda x: lib(x).meshgrid(x, x[:3], x[:2], indexing="xy"), V),
    ("cartesian_prod", lambda x: lib(x).cartesian_prod(x, x[:2]), V),
    ("combinations", lambda x: lib(x).combinations(x, 3), V),
    ("combinations_replacement", lambda x: lib(x).combinations(x[:3], with_replacement=True), V),
    ("repeat_interleave_int", lambda x: x.repeat_interleave(2, dim=1), A),
    ("repeat_interleave_flat", lambda x: lib(x).repeat_interleave(x, 3), V),
    ("rot90", lambda x: lib(x).rot90(x), A),
    ("rot90_k2", lambda x: x.rot90(2, (1, 2)), C),
    ("rot90_k3_neg", lambda x: lib(x).rot90(x, -1, (2, 0)), C),
    ("fliplr", lambda x: x.fliplr(), A),
    ("flipud", lambda x: lib(x).flipud(x), V),
    ("diag_vector", lambda x: lib(x).diag(x, 1), V),
    ("diag_matrix", lambda x: x.diag(-1), A),
    ("diag_embed", lambda x: x.diag_embed(), A),
    ("diag_embed_dims", lambda x: lib(x).diag_embed(x, -1, 0, 2), A),
    ("diagflat", lambda x: x.diagflat(2), A[:2, :2]),
    ("trace", lambda x: x.trace(), A),
]
IDS = [c[0] for c in CASES]


def _outs(fn):
    def run(x):
        out = fn(x)
        return tuple(out) if isinstance(out, (list, tuple)) else out
    return run


@requires_torch
@pytest.mark.parametrize("name,fn,a", CASES, ids=IDS)
def test_parity(name, fn, a):
    parity(_outs(fn), a.astype(np.float32))


@pytest.mark.parametrize("name,fn,a", CASES, ids=IDS)
def test_gradcheck(name, fn, a):
    gradcheck(fn, a.copy())


@pytest.mark.parametrize("name", ["diag_embed_dims", "repeat_interleave_int", "rot90_k3_neg", "combinations"])
def test_gradgradcheck(name):
    fn, a = {c[0]: (c[1], c[2]) for c in CASES}[name]
    gradgradcheck(lambda x: [o * o for o in ((fn(x),) if isinstance(fn(x), lamina.Tensor) else fn(x))], a.copy())


@requires_torch
def test_repeat_interleave_with_tensor_repeats():
    counts = np.array([1, 0, 3, 2], dtype=np.int64)
    parity(lambda x: x.repeat_interleave(lib(x).tensor(counts), dim=0), A.astype(np.float32))
    parity(lambda x: lib(x).repeat_interleave(x, lib(x).tensor([2]), dim=1), A.astype(np.float32))
    assert lamina.repeat_interleave(lamina.tensor(counts)).tolist() == torch.repeat_interleave(
        torch.tensor(counts)).tolist()
    gradcheck(lambda x: x.repeat_interleave(lamina.tensor(counts), dim=0), A.copy())


@requires_torch
def test_integer_results_and_index_helpers():
    for args in ((3, 4, 1), (3, 3, -1), (4, 2), (0, 3)):
        for name in ("tril_indices", "triu_indices"):
            l, t = getattr(lamina, name)(*args), getattr(torch, name)(*args)
            assert l.dtype == lamina.int64 and l.tolist() == t.tolist(), (name, args)
    ints = np.arange(12).reshape(3, 4).astype(np.int32)
    assert lamina.tensor(ints).trace().dtype == lamina.int64
    assert lamina.tensor(ints).trace().item() == torch.tensor(ints).trace().item()
    assert lamina.broadcast_shapes((2, 1), (3,), 1) == tuple(torch.broadcast_shapes((2, 1), (3,), 1))
    assert lamina.combinations(lamina.arange(3.0), 0).shape == (0,)
    assert len(lamina.tensor_split(lamina.arange(7), lamina.tensor(3))) == 3


def test_splits_are_views_and_stacks_are_copies():
    x = lamina.arange(12.0).reshape(3, 4)
    parts = x.tensor_split(2, dim=1)
    parts[0].fill_(-1.0)
    assert x[:, :2].tolist() == [[-1.0, -1.0]] * 3
    a, b = lamina.arange(2.0), lamina.arange(3.0)
    g = lamina.meshgrid(a, b, indexing="ij")
    assert np.shares_memory(g[0].array, a.array) and np.shares_memory(g[1].array, b.array)
    h = lamina.hstack([x, x])
    h.fill_(0.0)
    assert x.sum().item() != 0.0


@requires_torch
def test_errors_match_torch():
    checks = [
        lambda m: m.tensor_split(m.arange(7), 0),
        lambda m: m.hsplit(m.ones(3, 4), 3),
        lambda m: m.vsplit(m.arange(4), 2),
        lambda m: m.dsplit(m.ones(2, 4), 2),
        lambda m: m.broadcast_shapes((2, 1), (3, 2)),
        lambda m: m.meshgrid(m.ones(2), m.ones(3), indexing="zz"),
        lambda m: m.combinations(m.ones(3, 4)),
        lambda m: m.rot90(m.ones(3, 4), 1, (0, 0)),
        lambda m: m.rot90(m.ones(2), 1),
        lambda m: m.fliplr(m.ones(2)),
        lambda m: m.repeat_interleave(m.ones(3, 4), m.tensor([1, 2]), dim=0),
        lambda m: m.repeat_interleave(m.ones(3, 4), -1),
        lambda m: m.diag(m.ones(2, 2, 2)),
        lambda m: m.trace(m.ones(2, 2, 2)),
        lambda m: m.diag_embed(m.ones(2, 3), 0, 1, 1),
        lambda m: m.vstack([m.ones(2), m.ones(3)]),
    ]
    for fn in checks:
        with pytest.raises(RuntimeError):
            fn(torch)
        with pytest.raises(RuntimeError):
            fn(lamina)
