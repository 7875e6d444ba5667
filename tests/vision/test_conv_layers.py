"""Conv1d / Conv2d / ConvTranspose1d / ConvTranspose2d modules: torch parity (outputs, input and
weight gradients), state_dict layout, default init, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import requires_torch, rng
from vision_parity import module_parity, torch

import lamina
from lamina.nn.layers.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d

# (in, out, kernel, stride, padding, dilation, groups, bias, padding_mode)
CONV2D = [
    (3, 8, 3, 1, 0, 1, 1, True, "zeros"),
    (3, 8, 3, 1, 1, 1, 1, False, "zeros"),
    (4, 6, (3, 2), (2, 1), (1, 0), 1, 2, True, "zeros"),
    (4, 4, 3, 1, "same", 2, 4, True, "zeros"),        # depthwise, dilated, same
    (2, 5, 4, 1, "same", 1, 1, True, "zeros"),        # even kernel: the extra pad goes right/bottom
    (2, 3, 3, 1, "valid", 1, 1, True, "zeros"),
    (3, 4, 3, 2, 1, 1, 1, True, "reflect"),
    (3, 4, 3, 1, (2, 1), 1, 1, True, "replicate"),
    (2, 4, 3, 1, 1, (1, 2), 2, True, "circular"),
    (2, 4, 4, 1, "same", 1, 1, True, "reflect"),
]


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("cfg", CONV2D, ids=str)
def test_conv2d_parity(cfg):
    cin, cout, k, s, p, d, g, b, mode = cfg
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b, padding_mode=mode)
    x = rng(1).standard_normal((2, cin, 9, 8)).astype(np.float32)
    module_parity(Conv2d(cin, cout, k, **kw), torch.nn.Conv2d(cin, cout, k, **kw), x, atol=1e-4)


@requires_torch
def test_conv2d_parity_float64_unbatched():
    lam, tor = Conv2d(3, 5, 3, padding=1).double(), torch.nn.Conv2d(3, 5, 3, padding=1).double()
    module_parity(lam, tor, rng(2).standard_normal((3, 7, 7)), atol=1e-10, rtol=1e-10)


CONV1D = [
    (3, 6, 3, 1, 0, 1, 1, True, "zeros"),
    (4, 4, 5, 2, 2, 1, 2, False, "zeros"),
    (2, 3, 3, 1, "same", 3, 1, True, "zeros"),
    (2, 3, 3, 1, 2, 1, 1, True, "reflect"),
    (2, 4, 3, 2, 1, 1, 2, True, "circular"),
    (2, 2, 2, 1, "same", 1, 1, True, "replicate"),
]


@requires_torch
@pytest.mark.parametrize("cfg", CONV1D, ids=str)
def test_conv1d_parity(cfg):
    cin, cout, k, s, p, d, g, b, mode = cfg
    kw = dict(stride=s, padding=p, dilation=d, groups=g, bias=b, padding_mode=mode)
    x = rng(3).standard_normal((3, cin, 13)).astype(np.float32)
    module_parity(Conv1d(cin, cout, k, **kw), torch.nn.Conv1d(cin, cout, k, **kw), x, atol=1e-4)


# (in, out, kernel, stride, padding, output_padding, groups, bias, dilation)
CONVT2D = [
    (3, 5, 3, 1, 0, 0, 1, True, 1),
    (4, 2, 3, 2, 1, 1, 1, True, 1),
    (4, 6, (3, 2), (2, 3), (1, 0), (0, 2), 2, False, 1),
    (2, 4, 3, 2, 2, 0, 2, True, 2),
    (3, 3, 4, 2, 1, 0, 3, True, 1),
]


@requires_torch
@pytest.mark.parametrize("cfg", CONVT2D, ids=str)
def test_conv_transpose2d_parity(cfg):
    cin, cout, k, s, p, op, g, b, d = cfg
    kw = dict(stride=s, padding=p, output_padding=op, groups=g, bias=b, dilation=d)
    x = rng(4).standard_normal((2, cin, 5, 6)).astype(np.float32)
    lam, tor = ConvTranspose2d(cin, cout, k, **kw), torch.nn.ConvTranspose2d(cin, cout, k, **kw)
    assert tuple(lam.weight.shape) == tuple(tor.weight.shape)  # (in, out/groups, kH, kW)
    module_parity(lam, tor, x, atol=1e-4)


@requires_torch
@pytest.mark.parametrize("cfg", [(3, 4, 3, 2, 1, 1, 1), (4, 2, 4, 3, 0, 2, 2)], ids=str)
def test_conv_transpose1d_parity(cfg):
    cin, cout, k, s, p, op, g = cfg
    kw = dict(stride=s, padding=p, output_padding=op, groups=g)
    x = rng(5).standard_normal((2, cin, 7)).astype(np.float32)
    module_parity(ConvTranspose1d(cin, cout, k, **kw), torch.nn.ConvTranspose1d(cin, cout, k, **kw), x, atol=1e-4)


@requires_torch
@pytest.mark.parametrize("size", [(13, 13), (14, 14), (1, 2, 14, 13)])
def test_conv_transpose2d_output_size(size):
    lam, tor = ConvTranspose2d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = rng(6).standard_normal((1, 2, 7, 7)).astype(np.float32)
    y = module_parity(lam, tor, x, atol=1e-4, call=lambda m, t: m(t, output_size=size))
    assert y.shape[-2:] == tuple(size[-2:])


def test_conv_transpose2d_output_size_out_of_range():
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \(16, 16\).*13 to 14"):
        ConvTranspose2d(2, 3, 3, stride=2, padding=1)(lamina.randn(1, 2, 7, 7), output_size=(16, 16))


@pytest.mark.parametrize("cls, args, wshape", [
    (Conv2d, (6, 8, 3), (8, 6, 3, 3)),
    (Conv2d, (6, 8, (3, 5), 1, 0, 1, 2), (8, 3, 3, 5)),
    (Conv1d, (4, 10, 5), (10, 4, 5)),
    (ConvTranspose2d, (6, 8, 3, 1, 0, 0, 2), (6, 4, 3, 3)),
    (ConvTranspose1d, (4, 10, 5), (4, 10, 5)),
])
def test_state_dict_layout_and_default_init(cls, args, wshape):
    m = cls(*args)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"] and tuple(sd["weight"].shape) == wshape
    assert tuple(sd["bias"].shape) == (args[1],)
    fan_in = math.prod(wshape[1:])
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.25)
    assert m.weight.dtype == lamina.float32 and m.weight.requires_grad


def test_init_follows_manual_seed_and_dtype():
    lamina.manual_seed(7)
    a = Conv2d(3, 4, 3)
    lamina.manual_seed(7)
    b = Conv2d(3, 4, 3)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    assert Conv2d(3, 4, 3, dtype=lamina.float64).weight.dtype == lamina.float64
    assert Conv2d(3, 4, 3, bias=False).bias is None and list(Conv2d(3, 4, 3, bias=False).state_dict()) == ["weight"]


def test_repr_matches_torch_style():
    assert repr(Conv2d(1, 32, 3, padding=1)) == "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(Conv2d(4, 4, 3, padding="same", groups=4, bias=False, padding_mode="reflect")) == (
        "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), padding='same', groups=4, bias=False, "
        "padding_mode='reflect')")
    assert repr(ConvTranspose2d(8, 4, 3, stride=2, output_padding=1)) == (
        "ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))")


def test_channel_mismatch_message():
    expected = r"^Conv2d\(in_channels=3\): input has 1 channels \(input shape \(8, 1, 32, 32\)\)$"
    with pytest.raises(ValueError, match=expected):
        Conv2d(3, 8, 3)(lamina.randn(8, 1, 32, 32))
    with pytest.raises(ValueError, match=r"Conv1d\(in_channels=2\): input has 5 channels"):
        Conv1d(2, 8, 3)(lamina.randn(4, 5, 10))
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(in_channels=4\): input has 2 channels"):
        ConvTranspose2d(4, 8, 3)(lamina.randn(1, 2, 5, 5))


@pytest.mark.parametrize("make, match", [
    (lambda: Conv2d(3, 8, 3)(lamina.randn(32, 32)), r"Conv2d: expected a 3-D or 4-D input .* got shape \(32, 32\)"),
    (lambda: Conv2d(3, 8, 3, stride=2, padding="same"), "padding='same' is not supported for strided"),
    (lambda: Conv2d(3, 8, 3, padding="full"), "invalid padding string 'full'"),
    (lambda: Conv2d(3, 8, 3, groups=2), r"in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: Conv2d(4, 7, 3, groups=2), r"out_channels \(7\) must be divisible by groups \(2\)"),
    (lambda: Conv2d(3, 8, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: Conv2d(3, 8, (3, 3, 3)), "kernel_size must be an int or a tuple of 2 ints"),
    (lambda: Conv2d(3, 8, 0), "kernel_size must be positive"),
    (lambda: Conv2d(3, 8, 3, padding=-1), "padding must be non-negative"),
    (lambda: ConvTranspose2d(3, 8, 3, padding_mode="reflect"), "only padding_mode='zeros'"),
    (lambda: ConvTranspose2d(3, 8, 3, padding="same"), "padding must be an int or a tuple"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_trains_and_moves_dtype():
    m = Conv2d(2, 3, 3, padding=1).double()
    x = lamina.Tensor(rng(0).standard_normal((2, 2, 5, 5)))
    m(x).sum().backward()
    assert m.weight.grad.dtype == lamina.float64 and m.weight.grad.shape == m.weight.shape
    np.testing.assert_allclose(m.bias.grad.numpy(), np.full(3, 2 * 25.0))


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    @requires_torch
    @settings(max_examples=30, deadline=None)
    @given(cin=st.integers(1, 4), cout_per_group=st.integers(1, 3), groups=st.integers(1, 2), k=st.integers(1, 4),
           stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2), h=st.integers(5, 9),
           w=st.integers(5, 9), transposed=st.booleans())
    def test_conv2d_shapes_and_values_match_torch(cin, cout_per_group, groups, k, stride, pad, dil, h, w, transposed):
        cin, cout = cin * groups, cout_per_group * groups
        x = rng(h * w).standard_normal((2, cin, h, w)).astype(np.float32)
        if transposed:
            kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups, output_padding=min(stride, dil) - 1)
            lam, tor = ConvTranspose2d(cin, cout, k, **kw), torch.nn.ConvTranspose2d(cin, cout, k, **kw)
        else:
            kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups)
            if dil * (k - 1) + 1 > min(h, w) + 2 * pad:
                with pytest.raises(ValueError, match="larger than the padded input"):
                    Conv2d(cin, cout, k, **kw)(lamina.tensor(x))
                return
            lam, tor = Conv2d(cin, cout, k, **kw), torch.nn.Conv2d(cin, cout, k, **kw)
        module_parity(lam, tor, x, atol=1e-4)
