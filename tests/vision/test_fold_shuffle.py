"""unfold / fold and pixel_shuffle / pixel_unshuffle / channel_shuffle (functional and modules): torch
parity, float64 gradchecks (second derivatives too), adjointness, errors of torch's types."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng
from vision_parity import module_parity, torch

import lamina
from lamina import nn
from lamina.ops import fold as Fo
from lamina.ops import pixel_shuffle as S

try:
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    TF = None


def _x(*shape, seed=0, dtype=np.float64):
    return rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- unfold / fold
GRID = list(itertools.product([2, (3, 2)], [1, (2, 1)], [0, 1, (0, 2)], [1, (2, 3)]))


@requires_torch
@pytest.mark.parametrize("kernel,dilation,padding,stride", GRID)
def test_unfold_and_fold_parity(kernel, dilation, padding, stride):
    x = _x(2, 3, 7, 6)
    parity(lambda t: Fo.unfold(t, kernel, dilation, padding, stride), x,
           torch_fn=lambda t: TF.unfold(t, kernel, dilation, padding, stride), atol=1e-12)
    blocks = TF.unfold(torch.tensor(x), kernel, dilation, padding, stride).shape[-1]
    k = int(np.prod(np.broadcast_to(kernel, 2)))
    parity(lambda t: Fo.fold(t, (7, 6), kernel, dilation, padding, stride), _x(2, 3 * k, blocks, seed=1),
           torch_fn=lambda t: TF.fold(t, (7, 6), kernel, dilation, padding, stride), atol=1e-12)


@requires_torch
def test_unbatched_and_float32():
    parity(lambda t: Fo.unfold(t, 2, padding=1), _x(3, 4, 5), torch_fn=lambda t: TF.unfold(t, 2, padding=1))
    parity(lambda t: Fo.fold(t, 4, 2), _x(8, 9), torch_fn=lambda t: TF.fold(t, 4, 2))
    parity(lambda t: Fo.unfold(t, 3, stride=2), _x(2, 4, 9, 9, dtype=np.float32),
           torch_fn=lambda t: TF.unfold(t, 3, stride=2), atol=1e-6)


def test_fold_is_the_adjoint_of_unfold_and_gradchecks():
    x = _x(2, 3, 6, 5, seed=2)
    kw = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))
    cols = Fo.unfold(lamina.tensor(x), **kw).numpy()
    c = _x(*cols.shape, seed=3)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * Fo.fold(lamina.tensor(c), (6, 5), **kw).numpy()),
                               rtol=1e-12)
    gradcheck(lambda t: Fo.unfold(t, 2, padding=1, stride=2), _x(1, 2, 3, 4, seed=4))
    gradcheck(lambda t: Fo.fold(t, (3, 4), 2, padding=1, stride=2), _x(1, 8, 6, seed=5))
    gradgradcheck(lambda t: Fo.fold(Fo.unfold(t * t, 2), (3, 3), 2), _x(1, 1, 3, 3, seed=6))


@requires_torch
def test_modules():
    lam, tor = nn.Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=2), torch.nn.Unfold((2, 3), 1, 1, 2)
    module_parity(lam, tor, _x(2, 5, 6, 7, seed=7, dtype=np.float32))
    assert repr(nn.Unfold(2, stride=2)) == repr(torch.nn.Unfold(2, stride=2))
    lam, tor = nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2)
    module_parity(lam, tor, _x(2, 12, 12, seed=8, dtype=np.float32))
    assert repr(lam) == repr(tor)


@pytest.mark.parametrize("lam_call,torch_call,match", [
    (lambda F, t: F.unfold(t(1, 2, 3, 3), 4), None, "calculated shape of the array of sliding blocks"),
    (lambda F, t: F.fold(t(1, 8, 5), (3, 3), 2), None, "to match the calculated number of sliding blocks 2 \\* 2 = 4"),
    (lambda F, t: F.fold(t(1, 7, 4), (3, 3), 2), None, "divisible by the product of kernel_size"),
    (lambda F, t: F.unfold(t(1, 2, 3, 3), 0), None, "kernel_size should be greater than zero"),
])
def test_fold_errors(lam_call, torch_call, match):
    with pytest.raises(RuntimeError, match=match):
        lam_call(Fo, lambda *s: lamina.zeros(*s))
    if torch is not None:
        with pytest.raises(RuntimeError):
            lam_call(TF, lambda *s: torch.zeros(*s))


# ---------------------------------------------------------------- pixel / channel shuffle
@requires_torch
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((3, 9, 2, 2), 3), ((2, 3, 4, 4, 2), 1), ((4, 2, 3), 1),
                                     ((2, 2, 18, 2, 3), 3)])
def test_pixel_shuffle_parity(shape, r):
    parity(lambda t: S.pixel_shuffle(t, r), _x(*shape), torch_fn=lambda t: TF.pixel_shuffle(t, r))


@requires_torch
@pytest.mark.parametrize("shape,r", [((2, 2, 6, 4), 2), ((3, 1, 6, 9), 3), ((2, 3, 4, 4, 4), 4), ((1, 4, 4), 2)])
def test_pixel_unshuffle_parity(shape, r):
    parity(lambda t: S.pixel_unshuffle(t, r), _x(*shape), torch_fn=lambda t: TF.pixel_unshuffle(t, r))


@requires_torch
@pytest.mark.parametrize("shape,g", [((2, 6, 3), 2), ((2, 6, 3, 2), 3), ((1, 4, 2, 2, 2), 4), ((2, 6, 1), 1)])
def test_channel_shuffle_parity(shape, g):
    parity(lambda t: S.channel_shuffle(t, g), _x(*shape), torch_fn=lambda t: TF.channel_shuffle(t, g))


def test_shuffles_round_trip_and_gradcheck():
    x = _x(2, 8, 3, 2, seed=9)
    np.testing.assert_array_equal(S.pixel_unshuffle(S.pixel_shuffle(lamina.tensor(x), 2), 2).numpy(), x)
    gradcheck(lambda t: S.pixel_shuffle(t, 2), x[:1])
    gradcheck(lambda t: S.channel_shuffle(t, 4), x[:1])


@requires_torch
def test_shuffle_modules():
    for lam, tor, shape in [(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), (2, 8, 3, 4)),
                            (nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), (2, 2, 4, 6)),
                            (nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3), (2, 6, 3, 3))]:
        module_parity(lam, tor, _x(*shape, seed=10, dtype=np.float32))
        assert repr(lam) == repr(tor)


@pytest.mark.parametrize("call", [
    lambda F, t: F.pixel_shuffle(t(1, 5, 2, 2), 2),
    lambda F, t: F.pixel_shuffle(t(5, 2), 2),
    lambda F, t: F.pixel_shuffle(t(1, 4, 2, 2), 0),
    lambda F, t: F.pixel_unshuffle(t(1, 1, 3, 4), 2),
    lambda F, t: F.pixel_unshuffle(t(1, 1, 4, 3), 2),
    lambda F, t: F.channel_shuffle(t(1, 5, 2, 2), 2),
    lambda F, t: F.channel_shuffle(t(4, 6), 2),
])
def test_shuffle_errors_are_runtime_errors_like_torch(call):
    with pytest.raises(RuntimeError):
        call(S, lambda *s: lamina.zeros(*s))
    if torch is not None:
        with pytest.raises(RuntimeError):
            call(TF, lambda *s: torch.zeros(*s))
