"""Padding layers (Zero/Constant/Reflection/Replication/Circular, 1-D to 3-D): torch parity (values and
input gradients, batched and unbatched), repr, errors of the same type as torch's."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import gradcheck, rng
from vision_parity import module_parity, torch

import lamina
from lamina import nn

KINDS = ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"]
PADDINGS = {1: [2, (1, 0), (0, 3)], 2: [1, (1, 2, 0, 2)], 3: [1, (1, 0, 2, 1, 0, 2)]}
SIZES = {1: (5,), 2: (4, 5), 3: (3, 4, 5)}


def _make(kind, nd, padding, lib):
    cls = getattr(lib, f"{kind}{nd}d")
    return cls(padding, 1.5) if kind == "ConstantPad" else cls(padding)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nd,padding", [(nd, p) for nd in (1, 2, 3) for p in PADDINGS[nd]])
def test_padding_parity(kind, nd, padding):
    lam, tor = _make(kind, nd, padding, nn), _make(kind, nd, padding, torch.nn)
    x = rng(nd).standard_normal((2, 3) + SIZES[nd]).astype(np.float32)
    y = module_parity(lam, tor, x)
    module_parity(lam, tor, x[0])  # unbatched
    assert repr(lam) == repr(tor)
    assert lam.padding == tor.padding
    befores, afters = lam.padding[0::2][::-1], lam.padding[1::2][::-1]  # first dim first
    assert y.shape[-nd:] == tuple(n + a + b for n, a, b in zip(SIZES[nd], befores, afters))


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_constant_pad_crops_with_negative_padding_and_pads_any_rank():
    for lam, tor, shape in [(nn.ConstantPad2d((-1, 2, 0, -1), 2.0), torch.nn.ConstantPad2d((-1, 2, 0, -1), 2.0),
                             (2, 2, 4, 5)),
                            (nn.ZeroPad1d(2), torch.nn.ZeroPad1d(2), (2, 2, 2, 3))]:  # 4-D input, last dim padded
        module_parity(lam, tor, rng(3).standard_normal(shape))


def test_padding_gradcheck():
    x = rng(4).standard_normal((1, 2, 3, 4))
    for layer in (nn.ReflectionPad2d((2, 1, 1, 2)), nn.CircularPad2d((3, 1, 0, 2)), nn.ReplicationPad2d(3)):
        gradcheck(layer, x)
    gradcheck(nn.ReflectionPad3d(1), np.repeat(x[:, :, None], 2, axis=2))


@pytest.mark.parametrize("make,shape,exc,match", [
    (lambda: nn.ReflectionPad2d(3), (1, 1, 3, 3), RuntimeError, "should be less than the corresponding input dim"),
    (lambda: nn.CircularPad1d(4), (1, 1, 3), RuntimeError, "wrapping around more than once"),
    (lambda: nn.ReflectionPad2d(1), (1, 1, 1, 3, 3), NotImplementedError, "expected a 3-D .* or 4-D"),
    (lambda: nn.ReplicationPad3d(1), (3, 3, 3), NotImplementedError, "expected a 4-D .* or 5-D"),
    (lambda: nn.ZeroPad2d(1), (3,), RuntimeError, "padding length should be less than or equal to two times"),
])
def test_errors_match_torch_types(make, shape, exc, match):
    with pytest.raises(exc, match=match):
        make()(lamina.zeros(*shape))
    if torch is not None:
        name = type(make()).__name__
        with pytest.raises(exc):
            getattr(torch.nn, name)(make().padding)(torch.zeros(*shape))


def test_bad_padding_argument():
    with pytest.raises(ValueError, match=r"ConstantPad2d: padding must be an int or a tuple of 4 ints"):
        nn.ConstantPad2d((1, 2, 3), 0.0)
    with pytest.raises(ValueError, match=r"ReflectionPad1d: padding must be an int or a tuple of 2 ints"):
        nn.ReflectionPad1d(1.5)


def test_known_values():
    x = lamina.tensor(np.array([[[0.0, 1.0, 2.0]]]))
    np.testing.assert_array_equal(nn.ReflectionPad1d(2)(x).numpy()[0, 0], [2, 1, 0, 1, 2, 1, 0])
    np.testing.assert_array_equal(nn.ReplicationPad1d(2)(x).numpy()[0, 0], [0, 0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(nn.CircularPad1d(2)(x).numpy()[0, 0], [1, 2, 0, 1, 2, 0, 1])
    np.testing.assert_array_equal(nn.ConstantPad1d((1, 0), -1.0)(x).numpy()[0, 0], [-1, 0, 1, 2])
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d) and nn.ZeroPad2d(1).value == 0.0
