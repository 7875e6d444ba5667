"""conv3d / conv_transpose3d and the Conv3d / ConvTranspose3d modules: torch parity (outputs, input,
weight and bias gradients), float64 gradchecks (second derivatives too), state_dict layout, init, errors."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng
from vision_parity import module_parity, torch

import lamina
from lamina.nn.layers.conv import Conv3d, ConvTranspose3d
from lamina.ops import _blas
from lamina.ops import conv as C

try:
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    TF = None

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _arrays(xshape, wshape, bias, seed=0, dtype=np.float64):
    r = rng(seed)
    out = [r.standard_normal(xshape).astype(dtype), r.standard_normal(wshape).astype(dtype)]
    if bias:
        out.append(r.standard_normal(bias).astype(dtype))
    return out


def _parity(name, arrays, atol=1e-9, rtol=1e-7, **kw):
    return parity(lambda *t: getattr(C, name)(*t, **kw), *arrays,
                  torch_fn=lambda *t: getattr(TF, name)(*t, **kw), atol=atol, rtol=rtol)


# ---------------------------------------------------------------- conv3d
def _conv3d_grid():
    for stride, padding, dilation, groups, bias in itertools.product(
            [1, (2, 1, 2)], [0, (1, 0, 2), "same", "valid"], [1, (2, 1, 1)], [1, 2], [True, False]):
        if padding == "same" and stride != 1:
            continue
        yield stride, padding, dilation, groups, bias


@requires_torch
@pytest.mark.parametrize("stride,padding,dilation,groups,bias", list(_conv3d_grid()))
def test_conv3d_parity_grid(stride, padding, dilation, groups, bias):
    # odd sizes, a non-cubic kernel, 4 input / 6 output channels
    arrays = _arrays((2, 4, 5, 6, 5), (6, 4 // groups, 3, 2, 3), 6 if bias else None)
    _parity("conv3d", arrays, stride=stride, padding=padding, dilation=dilation, groups=groups)


@requires_torch
@pytest.mark.parametrize("xshape,wshape,kw", [
    ((1, 1, 3, 3, 3), (2, 1, 1, 1, 1), {}),                        # 1x1x1: im2col is a transpose
    ((2, 3, 4, 5, 6), (4, 3, 1, 1, 1), dict(stride=2)),             # strided 1x1x1 (a shortcut)
    ((2, 3, 4, 4, 4), (3, 1, 3, 3, 3), dict(padding=1, groups=3)),  # depthwise
    ((1, 2, 4, 5, 3), (2, 2, 2, 4, 2), dict(padding="same")),       # even kernels: extra pad after
    ((1, 2, 7, 3, 3), (3, 2, 3, 1, 1), dict(stride=(3, 1, 1))),     # trailing planes unused
])
def test_conv3d_odd_shapes(xshape, wshape, kw):
    _parity("conv3d", _arrays(xshape, wshape, wshape[0], seed=1), **kw)


@requires_torch
def test_conv3d_float32():
    arrays = _arrays((2, 3, 6, 7, 5), (4, 3, 3, 3, 3), 4, seed=2, dtype=np.float32)
    _parity("conv3d", arrays, atol=1e-4, rtol=1e-4, padding=1, stride=(1, 2, 1))


def test_conv3d_gradcheck_and_second_derivatives():
    x, w, b = _arrays((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), 2, seed=3)
    gradcheck(lambda x, w, b: C.conv3d(x, w, b, stride=(1, 2, 1), padding=1), x, w, b)
    gradcheck(lambda x, w: C.conv3d(x, w, dilation=(1, 2, 1), groups=2), noncontiguous(x), w[:, :1])
    gradgradcheck(lambda x, w: C.conv3d(x, w, padding=(0, 1, 1)), x, w)


# ---------------------------------------------------------------- conv_transpose3d
def _convt3d_grid():
    for stride, padding, output_padding, groups, dilation in itertools.product(
            [1, 2, (2, 1, 3)], [0, (1, 0, 1)], [0, 1], [1, 2], [1, (1, 2, 1)]):
        s3, d3 = np.broadcast_to(stride, 3), np.broadcast_to(dilation, 3)
        if any(output_padding >= s and output_padding >= d for s, d in zip(s3, d3)):
            continue  # output_padding must be smaller than stride or dilation in every dimension
        yield stride, padding, output_padding, groups, dilation


@requires_torch
@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", list(_convt3d_grid()))
def test_conv_transpose3d_parity_grid(stride, padding, output_padding, groups, dilation):
    arrays = _arrays((2, 4, 3, 4, 3), (4, 3, 3, 2, 3), 3 * groups)
    _parity("conv_transpose3d", arrays, stride=stride, padding=padding, output_padding=output_padding,
            groups=groups, dilation=dilation)


def test_conv_transpose3d_gradcheck_and_second_derivatives():
    x, w, b = _arrays((1, 2, 2, 3, 2), (2, 2, 2, 2, 3), 2, seed=4)
    gradcheck(lambda x, w, b: C.conv_transpose3d(x, w, b, stride=2, padding=(0, 1, 1), output_padding=1), x, w, b)
    gradgradcheck(lambda x, w: C.conv_transpose3d(x, w, stride=(1, 2, 1)), x, w)


def test_conv3d_and_its_transpose_are_adjoint():
    """<conv3d(x, w), c> == <x, conv_transpose3d(c, w)> (the identity the backward relies on)."""
    r = rng(5)
    x, w = r.standard_normal((2, 3, 5, 6, 4)), r.standard_normal((4, 3, 3, 2, 2))
    kw = dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1))
    y = C.conv3d(lamina.tensor(x), lamina.tensor(w), **kw).numpy()
    c = r.standard_normal(y.shape)
    op = tuple(n - ((m - 1) * s - 2 * p + d * (k - 1) + 1) for n, m, s, p, d, k in
               zip(x.shape[2:], y.shape[2:], kw["stride"], kw["padding"], kw["dilation"], w.shape[2:]))
    xt = C.conv_transpose3d(lamina.tensor(c), lamina.tensor(w), output_padding=op, **kw).numpy()
    np.testing.assert_allclose(np.sum(y * c), np.sum(x * xt), rtol=1e-12)


@requires_torch
def test_conv3d_batch_parts_give_the_one_part_result(monkeypatch):
    """Every primitive run in two batch parts (as with two threads) gives the one-part numbers."""
    arrays = _arrays((5, 3, 4, 5, 6), (4, 3, 3, 3, 3), 4, seed=6)
    wt = arrays[1].transpose(1, 0, 2, 3, 4).copy()
    ref = _parity("conv3d", arrays, padding=1)[0].detach().numpy()
    reft = _parity("conv_transpose3d", [arrays[0], wt], stride=2)[0].detach().numpy()
    calls = []
    monkeypatch.setattr(_blas, "split", lambda n, macs, min_macs=None: calls.append(n) or [(0, n // 2), (n // 2, n)])
    np.testing.assert_allclose(_parity("conv3d", arrays, padding=1)[0].detach().numpy(), ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(_parity("conv_transpose3d", [arrays[0], wt], stride=2)[0].detach().numpy(), reft,
                               rtol=1e-13, atol=1e-13)
    assert calls, "conv3d did not split its batch"


@pytest.mark.parametrize("call,exc,match", [
    (lambda: C.conv3d(lamina.zeros(1, 2, 4, 4), lamina.zeros(3, 2, 1, 1, 1)), ValueError,
     r"conv3d: expected a 5-D input \(N, C, D, H, W\), got shape \(1, 2, 4, 4\)"),
    (lambda: C.conv3d(lamina.zeros(1, 2, 4, 4, 4), lamina.zeros(3, 2, 1, 1)), ValueError,
     r"conv3d: expected a 5-D weight \(out_channels, in_channels/groups, kD, kH, kW\)"),
    (lambda: C.conv3d(lamina.zeros(1, 2, 4, 4, 4), lamina.zeros(3, 3, 1, 1, 1)), ValueError,
     r"input has 2 channels"),
    (lambda: C.conv3d(lamina.zeros(1, 2, 2, 4, 4), lamina.zeros(3, 2, 3, 3, 3)), ValueError,
     r"kernel size \(3, 3, 3\).*larger than the padded input size \(2, 4, 4\)"),
    (lambda: C.conv3d(lamina.zeros(1, 2, 4, 4, 4), lamina.zeros(3, 2, 3, 3, 3), stride=2, padding="same"),
     ValueError, r"padding='same' is not supported for strided"),
    (lambda: C.conv_transpose3d(lamina.zeros(1, 2, 4, 4, 4), lamina.zeros(2, 3, 3, 3, 3), output_padding=1),
     ValueError, r"output_padding \(1, 1, 1\) must be smaller than either stride"),
])
def test_functional_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- modules
# (in, out, kernel, stride, padding, dilation, groups, bias, padding_mode)
CONV3D = [
    (3, 4, 3, 1, 0, 1, 1, True, "zeros"),
    (4, 6, (3, 2, 1), (2, 1, 1), (1, 0, 0), 1, 2, False, "zeros"),
    (2, 2, 3, 1, "same", (1, 2, 1), 2, True, "zeros"),
    (2, 3, 2, 1, "same", 1, 1, True, "zeros"),
    (2, 3, 3, 2, 1, 1, 1, True, "reflect"),
    (2, 3, 3, 1, (1, 2, 0), 1, 1, True, "replicate"),
    (2, 4, 3, 1, 1, 1, 2, True, "circular"),
]


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("cfg", CONV3D, ids=str)
def test_conv3d_module_parity(cfg):
    cin, cout, k, s, p, d, g, b, mode = cfg
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b, padding_mode=mode)
    x = rng(7).standard_normal((2, cin, 5, 6, 4)).astype(np.float32)
    module_parity(Conv3d(cin, cout, k, **kw), torch.nn.Conv3d(cin, cout, k, **kw), x, atol=1e-4)


@requires_torch
def test_conv3d_module_unbatched_float64():
    lam, tor = Conv3d(2, 3, 3, padding=1).double(), torch.nn.Conv3d(2, 3, 3, padding=1).double()
    module_parity(lam, tor, rng(8).standard_normal((2, 4, 3, 5)), atol=1e-10, rtol=1e-10)


# (in, out, kernel, stride, padding, output_padding, groups, bias, dilation)
CONVT3D = [
    (3, 2, 3, 1, 0, 0, 1, True, 1),
    (4, 2, 3, 2, 1, 1, 1, True, 1),
    (4, 6, (3, 2, 2), (2, 3, 1), (1, 0, 0), (0, 2, 0), 2, False, 1),
    (2, 4, 2, 2, 1, 0, 2, True, 2),
]


@requires_torch
@pytest.mark.parametrize("cfg", CONVT3D, ids=str)
def test_conv_transpose3d_module_parity(cfg):
    cin, cout, k, s, p, op, g, b, d = cfg
    kw = dict(stride=s, padding=p, output_padding=op, groups=g, bias=b, dilation=d)
    x = rng(9).standard_normal((2, cin, 3, 4, 3)).astype(np.float32)
    lam, tor = ConvTranspose3d(cin, cout, k, **kw), torch.nn.ConvTranspose3d(cin, cout, k, **kw)
    assert tuple(lam.weight.shape) == tuple(tor.weight.shape)  # (in, out/groups, kD, kH, kW)
    module_parity(lam, tor, x, atol=1e-4)


@requires_torch
@pytest.mark.parametrize("size", [(7, 7, 7), (8, 7, 8), (1, 3, 8, 8, 7)])
def test_conv_transpose3d_output_size(size):
    lam, tor = ConvTranspose3d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    x = rng(10).standard_normal((1, 2, 4, 4, 4)).astype(np.float32)
    y = module_parity(lam, tor, x, atol=1e-4, call=lambda m, t: m(t, output_size=size))
    assert y.shape[-3:] == tuple(size[-3:])


@pytest.mark.parametrize("cls, args, wshape", [
    (Conv3d, (4, 6, 3), (6, 4, 3, 3, 3)),
    (Conv3d, (4, 6, (3, 1, 2), 1, 0, 1, 2), (6, 2, 3, 1, 2)),
    (ConvTranspose3d, (4, 6, 2, 1, 0, 0, 2), (4, 3, 2, 2, 2)),
])
def test_state_dict_layout_and_default_init(cls, args, wshape):
    m = cls(*args)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"] and tuple(sd["weight"].shape) == wshape
    assert tuple(sd["bias"].shape) == (args[1],)
    bound = 1 / math.sqrt(math.prod(wshape[1:]))  # kaiming_uniform_(a=sqrt(5)) == U(+-1/sqrt(fan_in))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.3)


@requires_torch
def test_loads_torch_state_dict_and_repr():
    tor = torch.nn.Conv3d(2, 4, (3, 1, 2), stride=(1, 2, 1), padding=1, bias=False)
    lam = Conv3d(2, 4, (3, 1, 2), stride=(1, 2, 1), padding=1, bias=False)
    lam.load_state_dict({k: v.numpy() for k, v in tor.state_dict().items()})
    assert repr(lam) == repr(tor)
    assert repr(ConvTranspose3d(8, 4, 3, stride=2, output_padding=1)) == repr(
        torch.nn.ConvTranspose3d(8, 4, 3, stride=2, output_padding=1))


@pytest.mark.parametrize("make, match", [
    (lambda: Conv3d(3, 8, 3)(lamina.randn(3, 4, 4)), r"Conv3d: expected a 4-D or 5-D input .* got shape \(3, 4, 4\)"),
    (lambda: Conv3d(3, 8, 3)(lamina.randn(1, 2, 4, 4, 4)), r"Conv3d\(in_channels=3\): input has 2 channels"),
    (lambda: Conv3d(3, 8, (3, 3)), "kernel_size must be an int or a tuple of 3 ints"),
    (lambda: ConvTranspose3d(2, 3, 3, stride=2, padding=1)(lamina.randn(1, 2, 4, 4, 4), output_size=(10, 7, 7)),
     r"ConvTranspose3d: requested an output size of \(10, 7, 7\).*7 to 8"),
])
def test_module_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
