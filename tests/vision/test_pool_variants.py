"""LP pooling, fractional max pooling and max unpooling (functional and modules): torch parity,
float64 gradchecks, the indices round trip with MaxPool, errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import gradcheck, gradgradcheck, parity, requires_torch, rng
from vision_parity import module_parity, torch

import lamina
from lamina import nn
from lamina.ops import pool as P
from lamina.ops import pool_variants as V

try:
    import torch.nn.functional as TF
except Exception:  # pragma: no cover
    TF = None


def _x(*shape, seed=0, dtype=np.float64):
    return rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- LP pooling
@requires_torch
@pytest.mark.parametrize("norm_type", [1, 2, 3.0, 1.5])
@pytest.mark.parametrize("nd,kernel,stride,ceil_mode", [
    (1, 3, None, False), (1, 2, 1, True), (2, 3, 2, True), (2, (2, 3), (1, 2), False), (3, 2, None, False),
    (3, (2, 1, 3), (1, 2, 2), True)])
def test_lp_pool_parity(norm_type, nd, kernel, stride, ceil_mode):
    x = np.abs(_x(2, 3, *[7, 6, 5][:nd], seed=nd)) + 0.1  # fractional powers of negatives are NaN in both
    name = f"lp_pool{nd}d"
    parity(lambda t: getattr(V, name)(t, norm_type, kernel, stride, ceil_mode), x,
           torch_fn=lambda t: getattr(TF, name)(t, norm_type, kernel, stride, ceil_mode), atol=1e-10, rtol=1e-7)


@requires_torch
@pytest.mark.filterwarnings("ignore:invalid value encountered in power")
def test_lp_pool_signed_input_matches_torch():
    x = _x(1, 2, 6, 6, seed=4)  # odd power of negatives: the sign/relu guard decides
    parity(lambda t: V.lp_pool2d(t, 3, 2), x, torch_fn=lambda t: TF.lp_pool2d(t, 3, 2), atol=1e-10)


def test_lp_pool_gradchecks():
    x = np.abs(_x(1, 2, 5, 4, seed=5)) + 0.5
    gradcheck(lambda t: V.lp_pool2d(t, 2, 2, stride=1), x)
    gradcheck(lambda t: V.lp_pool1d(t, 1.5, 3, stride=2, ceil_mode=True), x[:, :, 0])
    gradgradcheck(lambda t: V.lp_pool2d(t, 2, 2), x[:, :1, :4])


@requires_torch
@pytest.mark.parametrize("cls,args,shape", [("LPPool1d", (2, 3), (2, 3, 8)), ("LPPool2d", (1.5, 2, 1), (2, 3, 5, 4)),
                                            ("LPPool3d", (2, 2), (1, 2, 4, 4, 5))])
def test_lp_pool_modules(cls, args, shape):
    lam, tor = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    x = (np.abs(_x(*shape, seed=6)) + 0.1).astype(np.float32)
    module_parity(lam, tor, x, atol=1e-5)
    module_parity(lam, tor, x[0], atol=1e-5)
    assert repr(lam) == repr(tor)


# ---------------------------------------------------------------- fractional max pooling
@requires_torch
@pytest.mark.parametrize("kernel,kw", [(2, dict(output_size=(4, 3))), ((3, 2), dict(output_size=(5, 5))),
                                       (2, dict(output_size=1)), (2, dict(output_ratio=(0.5, 0.7))),
                                       (3, dict(output_size=(7, 6)))])
def test_fractional_max_pool2d_parity(kernel, kw):
    x, u = _x(2, 3, 9, 8, seed=7), rng(8).random((2, 3, 2))
    parity(lambda t: V.fractional_max_pool2d(t, kernel, return_indices=True, _random_samples=lamina.tensor(u), **kw),
           x, torch_fn=lambda t: TF.fractional_max_pool2d(t, kernel, return_indices=True,
                                                          _random_samples=torch.tensor(u), **kw))


@requires_torch
@pytest.mark.parametrize("kernel,kw", [((2, 3, 2), dict(output_size=(3, 3, 2))),
                                       (2, dict(output_ratio=(0.5, 0.6, 0.4)))])
def test_fractional_max_pool3d_parity(kernel, kw):
    x, u = _x(2, 2, 7, 6, 8, seed=9), rng(10).random((2, 2, 3))
    parity(lambda t: V.fractional_max_pool3d(t, kernel, return_indices=True, _random_samples=lamina.tensor(u), **kw),
           x, torch_fn=lambda t: TF.fractional_max_pool3d(t, kernel, return_indices=True,
                                                          _random_samples=torch.tensor(u), **kw))


@requires_torch
def test_fractional_max_pool_float32_samples():
    x, u = _x(1, 4, 31, 29, seed=11, dtype=np.float32), rng(12).random((1, 4, 2)).astype(np.float32)
    parity(lambda t: V.fractional_max_pool2d(t, 3, (13, 11), return_indices=True, _random_samples=lamina.tensor(u)),
           x, torch_fn=lambda t: TF.fractional_max_pool2d(t, 3, (13, 11), return_indices=True,
                                                          _random_samples=torch.tensor(u)))


def test_fractional_max_pool_random_windows_follow_the_seed():
    x = lamina.tensor(_x(2, 3, 10, 10, seed=13))
    lamina.manual_seed(3)
    a = V.fractional_max_pool2d(x, 2, output_size=4, return_indices=True)[1].numpy()
    lamina.manual_seed(3)
    b = V.fractional_max_pool2d(x, 2, output_size=4, return_indices=True)[1].numpy()
    c = V.fractional_max_pool2d(x, 2, output_size=4, return_indices=True)[1].numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fractional_max_pool_gradcheck():
    u = lamina.tensor(rng(14).random((1, 2, 2)))
    gradcheck(lambda t: V.fractional_max_pool2d(t, 2, (3, 2), _random_samples=u), _x(1, 2, 5, 4, seed=15))
    gradgradcheck(lambda t: V.fractional_max_pool2d(t * t, 2, (2, 2), _random_samples=u), _x(1, 2, 4, 4, seed=16))


@requires_torch
def test_fractional_max_pool_modules():
    u = rng(17).random((2, 3, 2)).astype(np.float32)
    lam = nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True, _random_samples=lamina.tensor(u))
    tor = torch.nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True, _random_samples=torch.tensor(u))
    module_parity(lam, tor, _x(2, 3, 10, 9, seed=18, dtype=np.float32))
    assert "_random_samples" in lam.state_dict()
    u3 = rng(19).random((1, 2, 3)).astype(np.float32)
    lam = nn.FractionalMaxPool3d(2, output_size=(3, 2, 3), _random_samples=lamina.tensor(u3))
    tor = torch.nn.FractionalMaxPool3d(2, output_size=(3, 2, 3), _random_samples=torch.tensor(u3))
    module_parity(lam, tor, _x(2, 6, 5, 7, seed=20, dtype=np.float32))  # unbatched (C, D, H, W)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: nn.FractionalMaxPool2d(2), ValueError, "requires specifying either an output size, or a pooling ratio"),
    (lambda: nn.FractionalMaxPool2d(2, 3, 0.5), ValueError, "only one of output_size and output_ratio"),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=1.5), ValueError, r"output_ratio must be between 0 and 1"),
    (lambda: V.fractional_max_pool2d(lamina.zeros(1, 1, 8, 8), 2, 8), RuntimeError, "too large relative to input"),
    (lambda: V.fractional_max_pool2d(lamina.zeros(1, 1, 8, 8), 2), ValueError, "either an output_size or"),
    (lambda: V.fractional_max_pool2d(lamina.zeros(1, 2, 8, 8), 2, 3, _random_samples=lamina.zeros(1, 1, 2)),
     RuntimeError, r"_random_samples must have shape \(1, 2, 2\)"),
])
def test_fractional_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ---------------------------------------------------------------- max unpooling
@requires_torch
@pytest.mark.parametrize("nd,shape", [(1, (2, 3, 9)), (2, (2, 3, 9, 8)), (3, (2, 2, 5, 6, 7))])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (2, 1, 0)])
def test_max_unpool_parity_with_pool_indices(nd, shape, kernel, stride, padding):
    """torch's MaxPool indices (flat per plane) fed to max_unpool: values, the input gradient (a gather)."""
    x = _x(*shape, seed=nd)
    tmp, ti = getattr(TF, f"max_pool{nd}d")(torch.tensor(x), kernel, stride, padding, return_indices=True)
    _, li = getattr(P, f"max_pool{nd}d")(lamina.tensor(x), kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(li.numpy(), ti.numpy())
    name = f"max_unpool{nd}d"
    default = tuple((n - 1) * (stride or kernel) - 2 * padding + kernel for n in tmp.shape[2:])
    for size in (None, shape, shape[2:]):
        if size is None and default != shape[2:]:
            continue  # the default size is smaller than x: some indices fall outside it
        parity(lambda y: getattr(V, name)(y, li, kernel, stride, padding, size), tmp.numpy(),
               torch_fn=lambda y: getattr(TF, name)(y, ti, kernel, stride, padding, size), atol=1e-12)


def test_max_unpool_round_trip_and_gradcheck():
    x = lamina.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    y, i = P.max_pool2d(x, 2, return_indices=True)
    z = V.max_unpool2d(y, i, 2)
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = [[5, 7], [13, 15]]
    np.testing.assert_array_equal(z.numpy()[0, 0], expected)
    idx = i
    gradcheck(lambda t: V.max_unpool2d(t, idx, 2), _x(1, 1, 2, 2, seed=21))
    gradgradcheck(lambda t: V.max_unpool2d(t * t, idx, 2), _x(1, 1, 2, 2, seed=22))


@requires_torch
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_modules(nd):
    x = _x(2, 3, *[6, 5, 4][:nd], seed=23, dtype=np.float32)
    pool_t = getattr(torch.nn, f"MaxPool{nd}d")(2, return_indices=True)
    pool_l = getattr(nn, f"MaxPool{nd}d")(2, return_indices=True)
    tmp, ti = pool_t(torch.tensor(x))
    lmp, li = pool_l(lamina.tensor(x))
    np.testing.assert_array_equal(li.numpy(), ti.numpy())
    lam, tor = getattr(nn, f"MaxUnpool{nd}d")(2), getattr(torch.nn, f"MaxUnpool{nd}d")(2)
    assert repr(lam) == repr(tor)
    module_parity(lam, tor, tmp.numpy(), call=lambda m, t: m(t, li if m is lam else ti, output_size=x.shape))
    module_parity(lam, tor, tmp.numpy()[0],  # unbatched
                  call=lambda m, t: m(t, (li if m is lam else ti)[0], output_size=x.shape[2:]))


@pytest.mark.parametrize("kw,mutate,exc,match", [
    (dict(), lambda i: i + 100, RuntimeError, r"invalid max index: 1[0-9][0-9]"),
    (dict(output_size=(9, 9)), None, ValueError, r'invalid output_size "\(9, 9\)" \(dim 0 must be between 2 and 6\)'),
    (dict(output_size=(1, 2, 3)), None, ValueError, "2 or 4 elements"),
    (dict(), lambda i: i.float(), RuntimeError, "should be type int64"),
    (dict(), lambda i: i[..., :1], RuntimeError, "same as that of the input"),
])
def test_max_unpool_errors_like_torch(kw, mutate, exc, match):
    x = _x(1, 1, 4, 4)
    y, i = P.max_pool2d(lamina.tensor(x), 2, return_indices=True)
    with pytest.raises(exc, match=match):
        V.max_unpool2d(y, mutate(i) if mutate else i, 2, **kw)
    if torch is not None:  # torch raises the same type for the same mistake
        ty, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
        with pytest.raises(exc):
            TF.max_unpool2d(ty, mutate(ti) if mutate else ti, 2, **kw)
