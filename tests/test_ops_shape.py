"""Shape ops: values and gradients against PyTorch, float64 gradchecks (also on strided inputs),
second derivatives, properties over random shapes, aliasing and error messages."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, rng, torch, transposed
from lamina.ops import shape as S


def M(t):
    """The framework a tensor belongs to, so one lambda runs in lamina and in torch."""
    return lamina if isinstance(t, lamina.Tensor) else torch


def pad(t, *args, **kw):
    return S.pad(t, *args, **kw) if isinstance(t, lamina.Tensor) else torch.nn.functional.pad(t, *args, **kw)


def A(*shape, seed=0):
    return rng(seed).standard_normal(shape)


# (id, fn, input shapes): every case runs a torch parity test and a gradcheck on strided inputs
CASES = [
    ("view", lambda x: x.view(3, -1), [(2, 3, 2)]),
    ("view_tuple", lambda x: x.view((4, 3)), [(2, 3, 2)]),
    ("reshape_flat", lambda x: x.reshape(-1), [(2, 3)]),
    ("flatten_all", lambda x: x.flatten(), [(2, 3, 2)]),
    ("flatten_1", lambda x: x.flatten(1), [(2, 3, 2)]),
    ("flatten_0_1", lambda x: x.flatten(0, 1), [(2, 3, 2)]),
    ("flatten_neg", lambda x: x.flatten(-2, -1), [(2, 3, 2)]),
    ("flatten_0d", lambda x: x.flatten(), [()]),
    ("unflatten", lambda x: x.unflatten(1, (3, 2)), [(2, 6)]),
    ("unflatten_infer", lambda x: x.unflatten(-1, (-1, 2)), [(2, 6)]),
    ("squeeze_all", lambda x: x.squeeze(), [(1, 3, 1, 2)]),
    ("squeeze_0", lambda x: x.squeeze(0), [(1, 3, 1, 2)]),
    ("squeeze_noop", lambda x: x.squeeze(1), [(1, 3, 1, 2)]),
    ("squeeze_tuple", lambda x: x.squeeze((0, 2)), [(1, 3, 1, 2)]),
    ("squeeze_neg", lambda x: x.squeeze(-2), [(1, 3, 1, 2)]),
    ("unsqueeze_0", lambda x: x.unsqueeze(0), [(2, 3)]),
    ("unsqueeze_end", lambda x: x.unsqueeze(-1), [(2, 3)]),
    ("unsqueeze_mid", lambda x: x.unsqueeze(1), [(2, 3)]),
    ("transpose", lambda x: x.transpose(0, 1), [(2, 3, 4)]),
    ("transpose_neg", lambda x: x.transpose(-1, 0), [(2, 3, 4)]),
    ("swapaxes", lambda x: x.swapaxes(1, 2), [(2, 3, 4)]),
    ("t", lambda x: x.t(), [(2, 3)]),
    ("t_1d", lambda x: x.t(), [(3,)]),
    ("mT", lambda x: x.mT, [(2, 3, 4)]),
    ("permute", lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
    ("permute_tuple", lambda x: x.permute((1, 0, 2)), [(2, 3, 4)]),
    ("permute_neg", lambda x: M(x).permute(x, (-1, 0, 1)), [(2, 3, 4)]),
    ("expand", lambda x: x.expand(2, 3, 4), [(3, 1)]),
    ("expand_keep", lambda x: x.expand(-1, 4), [(3, 1)]),
    ("expand_tuple", lambda x: x.expand((2, -1, -1)), [(3, 1)]),
    ("expand_as", lambda x, y: x.expand_as(y) * y, [(1, 3), (2, 3)]),
    ("broadcast_to", lambda x: x.broadcast_to((2, 3)), [(3,)]),
    ("repeat", lambda x: x.repeat(2, 3), [(2, 3)]),
    ("repeat_lead", lambda x: x.repeat(2, 1, 2), [(2, 3)]),
    ("repeat_1d", lambda x: x.repeat(3), [(2,)]),
    ("repeat_tuple", lambda x: x.repeat((1, 2)), [(2, 3)]),
    ("tile_short", lambda x: x.tile((2,)), [(2, 3)]),
    ("tile_long", lambda x: x.tile((2, 1, 2)), [(2, 3)]),
    ("flip_0", lambda x: x.flip(0), [(2, 3, 4)]),
    ("flip_many", lambda x: x.flip((0, 2)), [(2, 3, 4)]),
    ("flip_neg", lambda x: x.flip(-1), [(2, 3, 4)]),
    ("roll", lambda x: x.roll(1, 0), [(3, 4)]),
    ("roll_many", lambda x: x.roll((1, -2), (0, 1)), [(3, 4)]),
    ("roll_flat", lambda x: x.roll(5), [(3, 4)]),
    ("tril", lambda x: x.tril(), [(3, 4)]),
    ("tril_k", lambda x: x.tril(1), [(3, 4)]),
    ("tril_neg", lambda x: x.tril(-1), [(4, 3)]),
    ("triu", lambda x: x.triu(), [(3, 4)]),
    ("triu_k", lambda x: x.triu(2), [(3, 4)]),
    ("triu_batched", lambda x: x.triu(-1), [(2, 3, 3)]),
    ("split_int", lambda x: x.split(2), [(5, 2)]),
    ("split_dim", lambda x: x.split(2, dim=1), [(2, 5)]),
    ("split_big", lambda x: x.split(4, 1), [(2, 3)]),
    ("split_sections", lambda x: x.split([1, 3, 1], 1), [(2, 5)]),
    ("split_first_only", lambda x: x.split(2)[0], [(5, 2)]),
    ("chunk", lambda x: x.chunk(3), [(6, 2)]),
    ("chunk_uneven", lambda x: x.chunk(4, 1), [(2, 6)]),
    ("chunk_fewer", lambda x: x.chunk(4), [(5,)]),
    ("chunk_neg", lambda x: x.chunk(2, -1), [(2, 3)]),
    ("contiguous", lambda x: x.transpose(0, 1).contiguous(), [(2, 3)]),
    ("cat_0", lambda a, b: M(a).cat([a, b]), [(2, 3), (1, 3)]),
    ("cat_1", lambda a, b: M(a).cat([a, b], 1), [(2, 3), (2, 2)]),
    ("cat_neg", lambda a, b, c: M(a).cat((a, b, c), dim=-1), [(2, 1), (2, 3), (2, 2)]),
    ("cat_one", lambda a: M(a).cat([a], 0), [(2, 3)]),
    ("cat_same", lambda a: M(a).cat([a, a * 2], 0), [(2, 3)]),
    ("stack_0", lambda a, b: M(a).stack([a, b]), [(2, 3), (2, 3)]),
    ("stack_1", lambda a, b: M(a).stack([a, b], 1), [(2, 3), (2, 3)]),
    ("stack_end", lambda a, b, c: M(a).stack((a, b, c), dim=-1), [(2, 3), (2, 3), (2, 3)]),
    ("pad_const", lambda x: pad(x, (1, 2)), [(2, 3)]),
    ("pad_const_2d", lambda x: pad(x, (1, 1, 2, 0)), [(2, 3)]),
    ("pad_const_value", lambda x: pad(x, (0, 1, 1, 0), value=2.5), [(2, 3)]),
    ("pad_crop", lambda x: pad(x, (-1, 2)), [(2, 3)]),
    ("pad_crop_2d", lambda x: pad(x, (1, -1, -1, 0)), [(2, 3)]),
    ("pad_3d", lambda x: pad(x, (1, 0, 0, 1, 1, 1)), [(2, 2, 2)]),
    ("pad_reflect", lambda x: pad(x, (2, 1), mode="reflect"), [(1, 2, 4)]),
    ("pad_reflect_2d", lambda x: pad(x, (1, 2, 2, 1), mode="reflect"), [(1, 2, 3, 4)]),
    ("pad_replicate", lambda x: pad(x, (2, 3), mode="replicate"), [(1, 2, 3)]),
    ("pad_replicate_2d", lambda x: pad(x, (1, 2, 3, 1), mode="replicate"), [(1, 1, 2, 3)]),
    ("pad_circular", lambda x: pad(x, (2, 3), mode="circular"), [(1, 2, 3)]),
    ("pad_circular_2d", lambda x: pad(x, (1, 2, 2, 1), mode="circular"), [(1, 1, 2, 3)]),
]


@pytest.mark.parametrize("fn,shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parity(fn, shapes):
    parity(fn, *[A(*s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("fn,shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradcheck_strided(fn, shapes):
    gradcheck(fn, *[noncontiguous(A(*s, seed=i)) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("fn,shapes", [
    (lambda a, b: lamina.cat([a, b * b], 1), [(2, 3), (2, 2)]),
    (lambda x: pad(x, (1, -1, 2, 0)) ** 2, [(2, 3)]),
    (lambda x: pad(x, (2, 1), mode="reflect") ** 2, [(1, 2, 4)]),
    (lambda x: pad(x, (1, 2), mode="circular") ** 2, [(1, 3)]),
    (lambda x: [p * p for p in x.split([1, 2], 1)], [(2, 3)]),
    (lambda x: x.repeat(2, 1, 2) ** 2, [(2, 3)]),
    (lambda x: x.permute(1, 0).roll(1, 0).flip(1).tril() ** 2, [(3, 3)]),
    (lambda x: lamina.stack([x, x * x], 1).expand(2, 3, 2, 2) ** 2, [(3, 2)]),
], ids=["cat", "pad_const", "pad_reflect", "pad_circular", "split", "repeat", "chain", "stack_expand"])
def test_gradgradcheck(fn, shapes):
    gradgradcheck(fn, *[A(*s, seed=i) for i, s in enumerate(shapes)])


def test_fortran_ordered_inputs():
    gradcheck(lambda x: x.permute(1, 0).reshape(-1).flip(0), transposed(A(3, 4)))
    gradcheck(lambda x: pad(x, (1, 1, 1, 1), mode="reflect"), transposed(A(3, 4)))


# ---------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(st.data())
def test_permute_matches_numpy(data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    perm = data.draw(st.permutations(list(range(len(shape)))))
    a = rng().standard_normal(shape)
    x = lamina.tensor(a)
    np.testing.assert_array_equal(x.permute(*perm).numpy(), a.transpose(perm))
    d0, d1 = (perm[0], perm[-1]) if perm else (0, 0)
    np.testing.assert_array_equal(x.transpose(d0, d1).numpy(), np.swapaxes(a, d0, d1) if perm else a)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_split_cat_roundtrip(data):
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, 6))
    a = rng().standard_normal(shape)
    x = lamina.tensor(a, requires_grad=True)
    parts = x.split(size, dim)
    assert len(parts) == -(-shape[dim] // size)
    np.testing.assert_array_equal(lamina.cat(parts, dim).detach().numpy(), a)
    chunks = data.draw(st.integers(1, 6))
    pieces = x.chunk(chunks, dim)
    ref = torch.chunk(torch.from_numpy(a), chunks, dim) if torch is not None else None
    if ref is not None:
        assert [p.shape for p in pieces] == [tuple(r.shape) for r in ref]
    # the gradient of one piece lands in its slot of x, zeros elsewhere
    (pieces[-1] * 2.0).sum().backward()
    expected = np.zeros(shape)
    idx = [slice(None)] * len(shape)
    idx[dim] = slice(shape[dim] - pieces[-1].shape[dim], None)
    expected[tuple(idx)] = 2.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_pad_matches_numpy(data):
    shape = data.draw(st.lists(st.integers(2, 4), min_size=1, max_size=3))
    k = data.draw(st.integers(1, len(shape)))
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    amounts = data.draw(st.lists(st.integers(0, 1), min_size=2 * k, max_size=2 * k))
    a = rng().standard_normal(shape)
    widths = [(0, 0)] * (len(shape) - k) + [(amounts[2 * i], amounts[2 * i + 1]) for i in reversed(range(k))]
    expected = np.pad(a, widths, mode={"replicate": "edge", "circular": "wrap"}.get(mode, mode))
    np.testing.assert_array_equal(S.pad(lamina.tensor(a), tuple(amounts), mode=mode).numpy(), expected)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_repeat_matches_tile(data):
    shape = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape) + 2))
    a = rng().standard_normal(shape)
    np.testing.assert_array_equal(lamina.tensor(a).repeat(*reps).numpy(), np.tile(a, reps))


# ---------------------------------------------------------------- behaviour
def test_views_share_memory_and_copies_do_not():
    x = lamina.tensor(np.arange(6.0).reshape(2, 3))
    x.t()[0, 1] = 10.0  # transpose is a view
    assert x[1, 0].item() == 10.0
    x.split(1)[0][0, 0] = -1.0  # split pieces are views
    assert x[0, 0].item() == -1.0
    y = x.flip(0)  # flip copies (as in PyTorch)
    y[0, 0] = 99.0
    assert x.numpy().max() == 10.0
    r = x.repeat(1, 1)
    r[0, 0] = 5.0
    assert x[0, 0].item() == -1.0


def test_cat_and_stack_of_one_tensor_copy():
    x = lamina.tensor(A(2, 3))
    c, s = lamina.cat([x]), lamina.stack([x])
    c[0, 0], s[0, 0, 0] = 100.0, 200.0
    assert x.numpy().max() < 100.0 and s.shape == (1, 2, 3)


def test_contiguous_returns_self_when_contiguous():
    x = lamina.tensor(A(2, 3))
    assert x.contiguous() is x
    y = x.t()
    assert not y.is_contiguous() and y.contiguous().is_contiguous()


def test_cat_promotes_dtypes_and_keeps_ints():
    a = lamina.tensor([[1, 2]])
    b = lamina.tensor([[0.5, 1.5]])
    out = lamina.cat([a, b])
    assert out.dtype == lamina.float32
    np.testing.assert_array_equal(out.numpy(), [[1, 2], [0.5, 1.5]])
    ints = lamina.stack([a, a], 0)
    assert ints.dtype == lamina.int64 and ints.shape == (2, 1, 2)


def test_cat_gradient_only_for_inputs_that_need_it():
    a = lamina.tensor(A(2, 2), requires_grad=True)
    b = lamina.tensor(A(1, 2))
    (lamina.cat([a, b]) * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 2), 3.0))
    assert b.grad is None


def test_expand_is_a_broadcast_view():
    x = lamina.tensor(A(3, 1))
    y = x.expand(2, 3, 4)
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(y.numpy()[1, :, 2], x.numpy()[:, 0])


def test_chunk_of_empty_dim_gives_chunks_empty_pieces():
    x = lamina.zeros(0, 2)
    assert [p.shape for p in x.chunk(3)] == [(0, 2)] * 3
    assert [p.shape for p in x.split(2)] == [(0, 2)]


def test_pad_int_tensor_and_float32_default():
    x = lamina.tensor([[1, 2], [3, 4]])
    out = S.pad(x, (1, 0), value=7)
    assert out.dtype == lamina.int64
    np.testing.assert_array_equal(out.numpy(), [[7, 1, 2], [7, 3, 4]])
    f = S.pad(lamina.ones(2, 2), (1, 1), mode="reflect")
    assert f.dtype == lamina.float32


def test_module_level_functions_exist():
    x = lamina.tensor(A(2, 3))
    assert lamina.transpose(x, 0, 1).shape == (3, 2)
    assert lamina.flatten(x).shape == (6,)
    assert lamina.squeeze(lamina.unsqueeze(x, 0)).shape == (2, 3)
    assert lamina.flip(x, [0]).shape == (2, 3)
    assert lamina.tile(x, (2,)).shape == (2, 6)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("fn,exc,match", [
    (lambda x: x.view(4, 4), RuntimeError, r"view: shape \(4, 4\) is invalid for input of shape \(2, 3\)"),
    (lambda x: x.reshape(-1, -1), RuntimeError, "only one dimension can be inferred"),
    (lambda x: x.flatten(1, 0), ValueError, "start_dim"),
    (lambda x: x.unflatten(1, (2, 2)), RuntimeError, r"unflatten: sizes \(2, 2\).*\(2, 3\)"),
    (lambda x: x.squeeze(2), IndexError, r"squeeze: dimension 2 is out of range for a tensor of shape \(2, 3\)"),
    (lambda x: x.unsqueeze(3), IndexError, r"unsqueeze: dimension 3 is out of range.*\[-3, 2\]"),
    (lambda x: x.transpose(0, 2), IndexError, "transpose: dimension 2"),
    (lambda x: x.unsqueeze(0).t(), RuntimeError, r"t\(\) expects a tensor with <= 2 dimensions.*\(1, 2, 3\)"),
    (lambda x: x.permute(0), RuntimeError, r"permute: the number of dims 1"),
    (lambda x: x.permute(0, 0), RuntimeError, "permute: dim .* multiple times"),
    (lambda x: x.expand(3), RuntimeError, r"expand: the number of sizes provided \(1\)"),
    (lambda x: x.expand(2, 4), RuntimeError, r"expand: the expanded size \(4\) must match the existing size \(3\)"),
    (lambda x: x.expand(-1, 2, 3), RuntimeError, "expand: size -1 is not allowed in a new leading dimension"),
    (lambda x: x.repeat(2), RuntimeError, "repeat: number of repeat dims"),
    (lambda x: x.tile((2.5,)), TypeError, "tile: dims must be integers"),
    (lambda x: x.flip((0, -2)), RuntimeError, "flip: dim"),
    (lambda x: x.roll((1, 2), 0), RuntimeError, "roll: shifts and dims must align"),
    (lambda x: x.roll((1, 2)), RuntimeError, "roll: with dims=None"),
    (lambda x: x[0].tril(), RuntimeError, r"tril: input tensor must have at least 2 dimensions, got shape \(3,\)"),
    (lambda x: x.split([1, 2]), RuntimeError, r"split: split sizes \(1, 2\) must be non-negative and sum exactly to 2"),
    (lambda x: x.split(0), RuntimeError, "split: split_size must be positive"),
    (lambda x: x.chunk(0), RuntimeError, "chunk: chunks must be greater than 0"),
    (lambda x: lamina.cat([x, x.t()], 1), RuntimeError,
     r"cat: tensors must have the same shape except in dim 1; got \(2, 3\) and \(3, 2\)"),
    (lambda x: lamina.cat([x, x[0]]), RuntimeError, r"cat: .*got \(2, 3\) and \(3,\)"),
    (lambda x: lamina.cat([]), RuntimeError, "cat: expected a non-empty"),
    (lambda x: lamina.cat([x[0, 0], x[0, 1]]), RuntimeError, "zero-dimensional tensor"),
    (lambda x: lamina.cat([x, x], 2), IndexError, "cat: dimension 2 is out of range"),
    (lambda x: lamina.stack([x, x.t()]), RuntimeError,
     r"stack: expects each tensor to be equal size, but got \(2, 3\) at entry 0 and \(3, 2\) at entry 1"),
    (lambda x: lamina.stack([x, x], 3), IndexError, "stack: dimension 3"),
    (lambda x: S.pad(x, (1,)), ValueError, "padding length must be divisible by 2"),
    (lambda x: S.pad(x, (1, 1, 1, 1, 1, 1)), ValueError, r"padding length 6 is too large for a tensor of shape \(2, 3\)"),
    (lambda x: S.pad(x, (-2, -2)), RuntimeError, "negative output size"),
    (lambda x: S.pad(x, (3, 0), mode="reflect"), ValueError, r"padding \(3, 0\) is too large for dim 1 of size 3"),
    (lambda x: S.pad(x, (4, 0), mode="circular"), ValueError, "too large"),
    (lambda x: S.pad(x, (-1, 0), mode="replicate"), ValueError, "negative padding is only supported in 'constant'"),
    (lambda x: S.pad(x, (1, 0), mode="wrap"), ValueError, "unknown mode 'wrap'"),
    (lambda x: S.pad(x, (1, 0), mode="reflect", value=1.0), ValueError, "doesn't take a value"),
])
def test_errors(fn, exc, match):
    x = lamina.tensor(A(2, 3))
    with pytest.raises(exc, match=match):
        fn(x)
