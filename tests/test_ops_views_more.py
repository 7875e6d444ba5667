"""Views: narrow, select, unbind, movedim/swapdims, diagonal, unfold, as_strided and the layout
queries (stride, storage_offset, data_ptr). Values and gradients against torch, float64
gradchecks, real memory sharing (writes through a view reach the base, with autograd) and errors.
"""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng, torch


def lib(x):
    return lamina if isinstance(x, lamina.Tensor) else torch


X = rng(0).standard_normal((3, 4, 5))

VIEWS = [
    ("narrow", lambda x: x.narrow(1, 1, 2)),
    ("narrow_neg_start", lambda x: lib(x).narrow(x, -1, -3, 2)),
    ("narrow_copy", lambda x: x.narrow_copy(2, 0, 3)),
    ("select", lambda x: x.select(1, 2)),
    ("select_neg", lambda x: lib(x).select(x, -1, -1)),
    ("unbind", lambda x: x.unbind(1)),
    ("unbind_last", lambda x: lib(x).unbind(x, -1)[1:3]),
    ("movedim", lambda x: x.movedim(0, -1)),
    ("movedim_many", lambda x: lib(x).movedim(x, (0, 2), (2, 0))),
    ("moveaxis", lambda x: x.moveaxis(1, 0)),
    ("swapdims", lambda x: x.swapdims(0, 2)),
    ("swapaxes_fn", lambda x: lib(x).swapaxes(x, 0, 1)),
    ("diagonal", lambda x: x.diagonal()),
    ("diagonal_offset", lambda x: x.diagonal(1, 1, 2)),
    ("diagonal_neg_offset", lambda x: lib(x).diagonal(x, -2, 2, 1)),
    ("diagonal_empty", lambda x: x.diagonal(7, 1, 2)),
    ("unfold", lambda x: x.unfold(2, 2, 1)),
    ("unfold_step", lambda x: x.unfold(2, 3, 2)),
    ("unfold_gap", lambda x: x.unfold(1, 1, 3)),
    ("as_strided", lambda x: x.as_strided((4, 3), (5, 2), 1)),
    ("as_strided_overlap", lambda x: lib(x).as_strided(x, (6, 4), (2, 3))),
    ("ravel", lambda x: x.ravel()),
]
IDS = [v[0] for v in VIEWS]


def _apply(fn):
    def run(x):
        out = fn(x)
        return out if isinstance(out, (lamina.Tensor,)) or (torch and isinstance(out, torch.Tensor)) else tuple(out)
    return run


@requires_torch
@pytest.mark.parametrize("name,fn", VIEWS, ids=IDS)
def test_view_parity(name, fn):
    parity(_apply(fn), X.astype(np.float32))
    parity(_apply(fn), X)


@pytest.mark.parametrize("name,fn", VIEWS, ids=IDS)
def test_view_gradcheck(name, fn):
    gradcheck(fn, X.copy())


@pytest.mark.parametrize("name", ["narrow", "select", "diagonal_offset", "unfold_step", "movedim", "unbind"])
def test_view_gradcheck_noncontiguous(name):
    fn = dict(VIEWS)[name]
    gradcheck(fn, noncontiguous(X))


@pytest.mark.parametrize("name", ["diagonal_offset", "unfold_step", "as_strided_overlap", "narrow", "unbind"])
def test_view_gradgradcheck(name):
    fn = dict(VIEWS)[name]
    gradgradcheck(lambda x: [o * o for o in (fn(x) if isinstance(fn(x), tuple) else (fn(x),))], X[:2, :3, :4].copy())


@pytest.mark.parametrize("name,fn", [v for v in VIEWS if v[0] not in ("narrow_copy", "diagonal_empty")],
                         ids=[v[0] for v in VIEWS if v[0] not in ("narrow_copy", "diagonal_empty")])
def test_views_share_memory_with_their_base(name, fn):
    base = lamina.tensor(X.copy())
    out = fn(base)
    for v in (out if isinstance(out, tuple) else (out,)):
        assert np.shares_memory(v.array, base.array), name
        assert v._version == base._version
    before = base._version
    first = out[0] if isinstance(out, tuple) else out
    first.mul_(2.0)
    assert base._version == before + 1


def _write_through(fn):
    def run(x):
        y = x * 1.0
        v = fn(y)
        v = v[0] if isinstance(v, tuple) else v
        v.mul_(3.0).add_(1.0)
        return y * y

    return run


# views without internal overlap (writing through an overlapping view is undefined in PyTorch)
@requires_torch
@pytest.mark.parametrize("name", ["narrow", "select", "diagonal_offset", "unfold_gap", "as_strided", "movedim",
                                  "swapdims", "diagonal_neg_offset"])
def test_in_place_write_through_view_reaches_base_with_gradients(name):
    parity(_write_through(dict(VIEWS)[name]), X.astype(np.float32))


@requires_torch
def test_in_place_write_through_unbind_output():
    # PyTorch refuses in-place changes to outputs of multi-view ops; lamina allows them (a select)
    parity(_write_through(lambda x: x.unbind(1)), X.astype(np.float32),
           torch_fn=_write_through(lambda x: x.select(1, 0)))
    parity(_write_through(lambda x: x.unfold(2, 2, 2)), X[:, :, :4].astype(np.float32))


def test_write_through_unfold_and_diagonal_no_grad():
    base = lamina.zeros(2, 3, 3)
    base.diagonal(0, 1, 2).fill_(1.0)
    np.testing.assert_array_equal(base.numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)))
    v = lamina.zeros(6)
    v.unfold(0, 2, 2).select(1, 0).fill_(5.0)
    assert v.tolist() == [5.0, 0.0, 5.0, 0.0, 5.0, 0.0]
    w = lamina.arange(6.0)
    w.as_strided((2,), (3,), 1).zero_()
    assert w.tolist() == [0.0, 0.0, 2.0, 3.0, 0.0, 5.0]


@requires_torch
def test_layout_queries_match_torch():
    a, t = lamina.arange(24.0).reshape(2, 3, 4), torch.arange(24.0).reshape(2, 3, 4)
    for fn in (lambda z: z, lambda z: z[1:], lambda z: z[:, 1:, ::2], lambda z: z.transpose(0, 2),
               lambda z: z.select(1, 2), lambda z: z.narrow(2, 1, 2), lambda z: z.diagonal(0, 1, 2),
               lambda z: z.unfold(2, 2, 1), lambda z: z[1, 2, 3], lambda z: z.movedim(0, 2)):
        la, ta = fn(a), fn(t)
        assert la.stride() == ta.stride()
        assert la.storage_offset() == ta.storage_offset()
        assert la.data_ptr() - a.data_ptr() == (ta.data_ptr() - t.data_ptr()) // 4 * la.element_size()
    assert a.stride(1) == 4 and a.stride(-1) == 1
    assert lamina.empty_strided((2, 3), (1, 2)).stride() == torch.empty_strided((2, 3), (1, 2)).stride()


@requires_torch
def test_as_strided_offsets_are_relative_to_the_storage():
    a, t = lamina.arange(12.0), torch.arange(12.0)
    la, ta = a[2:], t[2:]
    np.testing.assert_array_equal(la.as_strided((2, 2), (3, 1)).numpy(), ta.as_strided((2, 2), (3, 1)).numpy())
    np.testing.assert_array_equal(la.as_strided((2, 2), (3, 1), 0).numpy(), ta.as_strided((2, 2), (3, 1), 0).numpy())


def test_as_strided_gradient_counts_overlaps():
    x = lamina.tensor(np.arange(6.0), requires_grad=True)
    x.as_strided((3, 3), (1, 1)).sum().backward()  # windows [0..2], [1..3], [2..4]
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 2.0, 1.0, 0.0]


def test_unbind_gradient_with_unused_outputs():
    x = lamina.tensor(X.copy(), requires_grad=True)
    a, b, c, d = x.unbind(1)
    (b * 2.0).sum().backward()
    expected = np.zeros_like(X)
    expected[:, 1] = 2.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@requires_torch
def test_view_errors_match_torch():
    for fn in (lambda m, z: z.narrow(1, 5, 1), lambda m, z: z.narrow(2, 0, 1), lambda m, z: z.select(1, 4),
               lambda m, z: z.select(-3, 0), lambda m, z: z.unbind(2), lambda m, z: m.movedim(z, 0, 2)):
        for m, z in ((torch, torch.ones(3, 4)), (lamina, lamina.ones(3, 4))):
            with pytest.raises(IndexError):
                fn(m, z)
    for fn in (lambda m, z: z.narrow(1, 2, 3), lambda m, z: z.narrow(1, 1, -1), lambda m, z: z.diagonal(0, 0, 0),
               lambda m, z: z.unfold(1, 5, 1), lambda m, z: z.unfold(1, 2, 0), lambda m, z: m.movedim(z, (0, 1), (1,)),
               lambda m, z: m.movedim(z, (0, 0), (1, 0)), lambda m, z: z.as_strided((3, 3), (1, 1), 20),
               lambda m, z: z.as_strided((2, 2), (-1, 1)), lambda m, z: m.ones(()).narrow(0, 0, 1)):
        for m, z in ((torch, torch.ones(3, 4)), (lamina, lamina.ones(3, 4))):
            with pytest.raises(RuntimeError):
                fn(m, z)
    with pytest.raises(IndexError):
        lamina.tensor(1.0).select(0, 0)


def test_narrow_accepts_a_tensor_start():
    x = lamina.arange(10.0)
    assert x.narrow(0, lamina.tensor(3), 2).tolist() == [3.0, 4.0]


def test_type_as_and_view_as():
    a = lamina.tensor([1, 2])
    assert a.type_as(lamina.zeros(1, dtype=lamina.float64)).dtype == lamina.float64
    assert lamina.arange(6.0).view_as(lamina.zeros(2, 3)).shape == (2, 3)


# ---------------------------------------------------------------- scatter forms of views, views in place
SCATTERS = [
    ("select_scatter", lambda x, s: lib(x).select_scatter(x, s, 1, 2), (3, 4, 5), (3, 5)),
    ("slice_scatter", lambda x, s: lib(x).slice_scatter(x, s, 2, 1, None, 2), (3, 4, 5), (3, 4, 2)),
    ("slice_scatter_method", lambda x, s: x.slice_scatter(s, 0, 0, 2), (3, 4, 5), (2, 4, 5)),
    ("diagonal_scatter", lambda x, s: lib(x).diagonal_scatter(x, s, 1, 1, 2), (3, 4, 5), (3, 4)),
    ("as_strided_scatter", lambda x, s: lib(x).as_strided_scatter(x, s, (2, 3), (5, 2), 1), (3, 4, 5), (2, 3)),
]


@requires_torch
@pytest.mark.parametrize("name,fn,sx,ss", SCATTERS, ids=[s[0] for s in SCATTERS])
def test_scatter_views_parity_and_gradcheck(name, fn, sx, ss):
    x, s = rng(1).standard_normal(sx), rng(2).standard_normal(ss)
    if name == "as_strided_scatter":  # torch 2.13 puts input's gradient inside the region (a torch bug)
        parity(lambda b: fn(lib(b).tensor(x.astype(np.float32)), b), s.astype(np.float32))
    else:
        parity(fn, x.astype(np.float32), s.astype(np.float32))
    gradcheck(fn, x, s)
    gradgradcheck(lambda a, b: fn(a, b) * fn(a, b), x, s)


@requires_torch
def test_scatter_views_size_errors():
    for m in (torch, lamina):
        with pytest.raises(RuntimeError, match="size"):
            m.select_scatter(m.zeros(2, 3), m.ones(4), 0, 1)


@requires_torch
@pytest.mark.parametrize("op", [lambda x: x.t_(), lambda x: x.transpose_(0, 1), lambda x: x.swapdims_(1, 0),
                                lambda x: x.unsqueeze_(1), lambda x: x.unsqueeze_(0).squeeze_(0),
                                lambda x: x.unsqueeze_(-1).squeeze_(), lambda x: x.as_strided_((2, 2), (1, 3))],
                         ids=["t_", "transpose_", "swapdims_", "unsqueeze_", "squeeze_dim", "squeeze_all",
                              "as_strided_"])
def test_views_in_place_keep_identity_and_gradients(op):
    def run(x):
        y = x * 2.0
        ident = id(y)
        out = op(y)
        assert out is y and id(y) == ident
        return y * y

    parity(run, rng(3).standard_normal((3, 4)).astype(np.float32))
    with pytest.raises(RuntimeError, match="leaf"):
        op(lamina.ones(3, 4, requires_grad=True))


@requires_torch
def test_triangles_diagonal_fill_and_sizes_in_place():
    for op in (lambda x: x.tril_(), lambda x: x.triu_(1), lambda x: x.fill_diagonal_(5.0),
               lambda x: x.fill_diagonal_(-1.0, wrap=True)):
        for shape in ((7, 3), (3, 5)):
            a = rng(4).standard_normal(shape).astype(np.float32)
            la, ta = lamina.tensor(a), torch.tensor(a)
            op(la), op(ta)
            np.testing.assert_array_equal(la.numpy(), ta.numpy())
    c, t = lamina.zeros(3, 3, 3), torch.zeros(3, 3, 3)
    c.fill_diagonal_(2.0), t.fill_diagonal_(2.0)
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    parity(lambda x: (x * 1.0).fill_diagonal_(0.5) * x, rng(5).standard_normal((3, 3)).astype(np.float32))
    for m in (torch, lamina):
        with pytest.raises(RuntimeError):
            m.zeros(2, 3, 2).fill_diagonal_(1.0)
    parity(lambda x: x.split_with_sizes([1, 3], 1), rng(6).standard_normal((2, 4)).astype(np.float32))
    a = rng(8).standard_normal((2, 3)).astype(np.float32)
    parity(lambda x: x.H * 2.0 + x.mH, a)
    with pytest.raises(RuntimeError):
        lamina.ones(2, 2, 2).H
