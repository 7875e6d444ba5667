"""Normalization ops: batch/layer/group/instance norm and channel dropout, against PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng
from lamina.ops import norm as N

try:
    import torch
    import torch.nn.functional as F
except Exception:  # pragma: no cover
    torch = F = None


@pytest.fixture(params=["kernels", "arrays"])
def path(request, monkeypatch):
    """Run a test through the Numba kernels and through the array code."""
    monkeypatch.setattr(N, "USE_KERNELS", request.param == "kernels")
    return request.param


def _r(shape, seed=0, dtype=np.float32):
    return rng(seed).standard_normal(shape).astype(dtype)


def _wb(c, seed=1, dtype=np.float32):
    return _r(c, seed, dtype), _r(c, seed + 1, dtype)


# ---------------------------------------------------------------- batch_norm
@pytest.mark.parametrize("shape", [(16, 5), (8, 4, 7), (6, 3, 5, 4), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_parity(path, shape, affine):
    x, (w, b) = _r(shape) * 3 + 1, _wb(shape[1])
    if affine:
        parity(lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True), x, w, b,
               torch_fn=lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True))
    else:
        parity(lambda x: N.batch_norm(x, None, None, training=True), x,
               torch_fn=lambda x: F.batch_norm(x, None, None, training=True))


def test_batch_norm_train_only_weight_or_bias(path):
    x, (w, b) = _r((8, 3, 4)), _wb(3)
    parity(lambda x, w: N.batch_norm(x, None, None, w, training=True), x, w,
           torch_fn=lambda x, w: F.batch_norm(x, None, None, w, training=True))
    parity(lambda x, b: N.batch_norm(x, None, None, None, b, training=True), x, b,
           torch_fn=lambda x, b: F.batch_norm(x, None, None, None, b, training=True))


@requires_torch
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape", [(10, 4), (6, 4, 3, 5)])
def test_batch_norm_running_stats_and_eval(path, momentum, shape):
    c = shape[1]
    rm, rv = lamina.zeros(c), lamina.ones(c)
    trm, trv = torch.zeros(c), torch.ones(c)
    w, b = _wb(c)
    for step in range(1, 5):
        x = _r(shape, seed=10 + step) * step + step
        # torch's functional takes the factor; momentum=None means 1/num_batches_tracked
        tm = momentum if momentum is not None else 1.0 / step
        y = N.batch_norm(lamina.tensor(x), rm, rv, lamina.tensor(w), lamina.tensor(b), training=True,
                         momentum=momentum, num_batches_tracked=lamina.tensor(step))
        ty = F.batch_norm(torch.from_numpy(x), trm, trv, torch.from_numpy(w), torch.from_numpy(b),
                          training=True, momentum=tm)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)
    assert rm._version == 4 and rv.dtype == lamina.float32
    x = _r(shape, seed=99)
    parity(lambda x, w, b: N.batch_norm(x, rm, rv, w, b, training=False), x, w, b,
           torch_fn=lambda x, w, b: F.batch_norm(x, trm, trv, w, b, training=False))
    before = rm.numpy().copy()
    N.batch_norm(lamina.tensor(x), rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), before)  # evaluation leaves the running stats alone


def test_batch_norm_running_var_is_unbiased():
    x = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)
    rm, rv = lamina.zeros(1), lamina.zeros(1)
    N.batch_norm(lamina.tensor(x), rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm.numpy(), [7 / 3], rtol=1e-6)
    np.testing.assert_allclose(rv.numpy(), [np.var(x, ddof=1)], rtol=1e-6)


def test_batch_norm_cumulative_average_is_the_plain_mean():
    xs = [_r((5, 3), seed=s) + s for s in range(4)]
    rm, rv = lamina.zeros(3), lamina.ones(3)
    for k, x in enumerate(xs, start=1):
        N.batch_norm(lamina.tensor(x), rm, rv, training=True, momentum=None, num_batches_tracked=k)
    np.testing.assert_allclose(rm.numpy(), np.mean([x.mean(0) for x in xs], axis=0), rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), np.mean([x.var(0, ddof=1) for x in xs], axis=0), rtol=1e-5)


def test_batch_norm_train_without_running_stats_and_float64(path):
    x, (w, b) = _r((7, 3, 6), dtype=np.float64), _wb(3, dtype=np.float64)
    parity(lambda x, w, b: N.batch_norm(x, None, None, w, b, True, 0.1, 1e-3), x, w, b,
           torch_fn=lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-3), atol=1e-10, rtol=1e-9)


# ---------------------------------------------------------------- layer_norm
@pytest.mark.parametrize("shape,ns", [((4, 16), (16,)), ((3, 5, 32), (32,)), ((2, 3, 4, 5), (4, 5)),
                                      ((6,), (6,)), ((2, 3, 4), (2, 3, 4))])
def test_layer_norm_parity(path, shape, ns):
    x, (w, b) = _r(shape) * 2 - 1, _wb(ns)
    parity(lambda x, w, b: N.layer_norm(x, ns, w, b), x, w, b,
           torch_fn=lambda x, w, b: F.layer_norm(x, ns, w, b))
    parity(lambda x: N.layer_norm(x, ns, eps=1e-3), x, torch_fn=lambda x: F.layer_norm(x, ns, eps=1e-3))


def test_layer_norm_large_rows_noncontiguous_and_int_shape(path):
    x, (w, b) = _r((512, 128)) * 4 + 3, _wb(128)
    parity(lambda x, w, b: N.layer_norm(x, 128, w, b), x, w, b,
           torch_fn=lambda x, w, b: F.layer_norm(x, (128,), w, b), atol=2e-5, grad_atol=5e-4)
    xt = _r((10, 12)).T  # Fortran-ordered (a transposed view)
    parity(lambda x, w, b: N.layer_norm(x, (10,), w, b), xt, *_wb(10),
           torch_fn=lambda x, w, b: F.layer_norm(x, (10,), w, b))


def test_layer_norm_keeps_dtype_float64(path):
    x, (w, b) = _r((3, 4, 8), dtype=np.float64), _wb(8, dtype=np.float64)
    y = parity(lambda x, w, b: N.layer_norm(x, (8,), w, b), x, w, b, atol=1e-10, rtol=1e-9,
               torch_fn=lambda x, w, b: F.layer_norm(x, (8,), w, b))[0]
    assert y.dtype == lamina.float64


@requires_torch
def test_layer_norm_double_backward_float32_matches_torch(path):
    x, (w, b) = _r((6, 16)), _wb(16)
    lx, lw, lb = (lamina.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    gl = lamina.grad((N.layer_norm(lx, 16, lw, lb) ** 3).sum(), [lx, lw], create_graph=True)
    gt = torch.autograd.grad((F.layer_norm(tx, (16,), tw, tb) ** 3).sum(), [tx, tw], create_graph=True)
    hl = lamina.grad(sum((g * g).sum() for g in gl), [lx, lw, lb])
    ht = torch.autograd.grad(sum((g * g).sum() for g in gt), [tx, tw, tb])
    for a, t in zip(hl, ht):
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-3, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=2), tail=st.lists(st.integers(1, 6), min_size=1,
                                                                                  max_size=2))
def test_layer_norm_shapes_property(lead, tail):
    shape, ns = tuple(lead + tail), tuple(tail)
    x, (w, b) = _r(shape), _wb(ns)
    parity(lambda x, w, b: N.layer_norm(x, ns, w, b), x, w, b,
           torch_fn=lambda x, w, b: F.layer_norm(x, ns, w, b), atol=1e-4, grad_atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 4), max_size=2),
       kernels=st.booleans())
def test_batch_norm_shapes_property(n, c, spatial, kernels):
    shape = (n, c) + tuple(spatial)
    x, (w, b) = _r(shape) * 2, _wb(c)
    N.USE_KERNELS = kernels
    try:
        parity(lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True), x, w, b,
               torch_fn=lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), atol=1e-4, grad_atol=1e-3)
    finally:
        N.USE_KERNELS = True


# ---------------------------------------------------------------- group_norm / instance_norm
@pytest.mark.parametrize("shape,groups", [((4, 6, 5), 3), ((2, 8, 3, 4), 2), ((3, 4, 2, 2), 4), ((3, 4, 5), 1),
                                          ((5, 6), 2)])
def test_group_norm_parity(shape, groups):
    x, (w, b) = _r(shape) + 2, _wb(shape[1])
    parity(lambda x, w, b: N.group_norm(x, groups, w, b), x, w, b,
           torch_fn=lambda x, w, b: F.group_norm(x, groups, w, b), grad_atol=1e-4)
    parity(lambda x: N.group_norm(x, groups, eps=1e-2), x, torch_fn=lambda x: F.group_norm(x, groups, eps=1e-2))


@pytest.mark.parametrize("shape", [(4, 3, 6), (2, 3, 4, 5), (2, 2, 3, 2, 2)])
def test_instance_norm_parity(shape):
    x, (w, b) = _r(shape) - 1, _wb(shape[1])
    parity(lambda x, w, b: N.instance_norm(x, weight=w, bias=b), x, w, b,
           torch_fn=lambda x, w, b: F.instance_norm(x, weight=w, bias=b), grad_atol=1e-4)
    parity(lambda x: N.instance_norm(x), x, torch_fn=lambda x: F.instance_norm(x), grad_atol=1e-4)


@requires_torch
def test_instance_norm_running_stats_and_running_mode():
    c = 3
    rm, rv, trm, trv = lamina.zeros(c), lamina.ones(c), torch.zeros(c), torch.ones(c)
    for step in range(3):
        x = _r((4, c, 5, 2), seed=step) * (step + 1) + step
        y = N.instance_norm(lamina.tensor(x), rm, rv, momentum=0.3)
        ty = F.instance_norm(torch.from_numpy(x), trm, trv, momentum=0.3)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)
    x, (w, b) = _r((2, c, 4)), _wb(c)
    parity(lambda x, w, b: N.instance_norm(x, rm, rv, w, b, use_input_stats=False), x, w, b,
           torch_fn=lambda x, w, b: F.instance_norm(x, trm, trv, w, b, use_input_stats=False))


@requires_torch
@pytest.mark.parametrize("op", ["batch_norm", "layer_norm"])
def test_gradients_of_only_some_inputs(path, op):
    x, (w, b) = _r((6, 4, 5)), _wb(4 if op == "batch_norm" else 5)
    lam = {"batch_norm": lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True),
           "layer_norm": lambda x, w, b: N.layer_norm(x, 5, w, b)}[op]
    ref = {"batch_norm": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           "layer_norm": lambda x, w, b: F.layer_norm(x, (5,), w, b)}[op]
    for wants in [(True, False, False), (False, True, False), (False, False, True)]:
        lt = [lamina.tensor(a, requires_grad=q) for a, q in zip((x, w, b), wants)]
        tt = [torch.tensor(a, requires_grad=q) for a, q in zip((x, w, b), wants)]
        (gl,) = lamina.grad((lam(*lt) ** 2).sum(), [t for t in lt if t.requires_grad])
        (gt,) = torch.autograd.grad((ref(*tt) ** 2).sum(), [t for t in tt if t.requires_grad])
        np.testing.assert_allclose(gl.numpy(), gt.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_and_inf_propagate(path):
    x = _r((4, 3, 8))
    x[1, 2, 3] = np.nan
    assert np.isnan(N.layer_norm(lamina.tensor(x), 8).numpy()[1, 2]).all()
    assert np.isnan(N.batch_norm(lamina.tensor(x), None, None, training=True).numpy()[:, 2]).all()
    x[1, 2, 3] = np.inf
    assert not np.isfinite(N.layer_norm(lamina.tensor(x), 8).numpy()[1, 2]).any()


# ---------------------------------------------------------------- finite differences (float64)
def test_gradcheck_batch_norm_train_and_eval():
    x, (w, b) = _r((4, 3, 2), dtype=np.float64), _wb(3, dtype=np.float64)
    gradcheck(lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True), noncontiguous(x), w, b)
    gradcheck(lambda x: N.batch_norm(x, None, None, training=True, eps=0.1), x)
    rm, rv = lamina.tensor(_r(3, 5, np.float64)), lamina.tensor(np.abs(_r(3, 6, np.float64)) + 0.5)
    gradcheck(lambda x, w, b: N.batch_norm(x, rm, rv, w, b, training=False), x, w, b)


def test_gradcheck_layer_group_instance_norm():
    x, (w, b) = _r((2, 3, 4), dtype=np.float64), _wb(4, dtype=np.float64)
    gradcheck(lambda x, w, b: N.layer_norm(x, 4, w, b), noncontiguous(x), w, b)
    gradcheck(lambda x, w, b: N.layer_norm(x, (3, 4), w, b), x, *_wb((3, 4), dtype=np.float64))
    x4, (w6, b6) = _r((2, 6, 3), dtype=np.float64), _wb(6, dtype=np.float64)
    gradcheck(lambda x, w, b: N.group_norm(x, 3, w, b), x4, w6, b6)
    gradcheck(lambda x, w, b: N.instance_norm(x, weight=w, bias=b), x4, w6, b6)


def test_gradgradcheck_batch_norm_train():
    x, (w, b) = _r((4, 3, 2), dtype=np.float64), _wb(3, dtype=np.float64)
    gradgradcheck(lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True), x, w, b)
    gradgradcheck(lambda x: N.batch_norm(x, None, None, training=True), _r((5, 2), dtype=np.float64))


def test_gradgradcheck_layer_norm_and_group_norm():
    x, (w, b) = _r((3, 5), dtype=np.float64), _wb(5, dtype=np.float64)
    gradgradcheck(lambda x, w, b: N.layer_norm(x, 5, w, b), x, w, b)
    gradgradcheck(lambda x: N.layer_norm(x, 5), x)
    gradgradcheck(lambda x, w: N.group_norm(x, 2, w), _r((2, 4, 2), dtype=np.float64), _r(4, dtype=np.float64))


# ---------------------------------------------------------------- errors
def test_errors_name_the_op_and_shapes():
    x = lamina.randn(8, 32, 4, 4)
    with pytest.raises(RuntimeError, match=r"batch_norm: running_mean has 16 elements but the input has 32 "
                                           r"channels \(input shape \(8, 32, 4, 4\)\)"):
        N.batch_norm(x, lamina.zeros(16), lamina.ones(32), training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm: weight has 3 elements"):
        N.batch_norm(x, None, None, lamina.ones(3), training=True)
    with pytest.raises(RuntimeError, match="batch_norm: running_mean and running_var must be given"):
        N.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        N.batch_norm(lamina.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="num_batches_tracked"):
        N.batch_norm(x, lamina.zeros(32), lamina.ones(32), training=True, momentum=None)
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of shape \(N, C, \*\), got shape \(8,\)"):
        N.batch_norm(lamina.randn(8), None, None, training=True)
    with pytest.raises(TypeError, match="floating point"):
        N.batch_norm(lamina.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"layer_norm: normalized_shape \(64,\) does not match the last "
                                           r"dimensions of input shape \(2, 10, 32\)"):
        N.layer_norm(lamina.randn(2, 10, 32), (64,))
    with pytest.raises(RuntimeError, match=r"layer_norm: weight has shape \(16,\) but normalized_shape is \(32,\)"):
        N.layer_norm(lamina.randn(2, 32), 32, lamina.ones(16))
    with pytest.raises(RuntimeError, match="layer_norm: weight has dtype float64 but the input has dtype float32"):
        N.layer_norm(lamina.randn(2, 32), 32, lamina.ones(32, dtype=lamina.float64))
    with pytest.raises(RuntimeError, match=r"group_norm: 6 channels are not divisible into 4 groups"):
        N.group_norm(lamina.randn(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match=r"group_norm: bias has 5 elements but the input has 6 channels"):
        N.group_norm(lamina.randn(2, 6, 3), 3, None, lamina.zeros(5))
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial element"):
        N.instance_norm(lamina.randn(2, 3, 1))
    with pytest.raises(ValueError, match="instance_norm: expected an input of shape"):
        N.instance_norm(lamina.randn(2, 3))
    with pytest.raises(RuntimeError, match="instance_norm: running_mean and running_var must be given"):
        N.instance_norm(lamina.randn(2, 3, 4), use_input_stats=False)


# ---------------------------------------------------------------- channel dropout
def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    x = lamina.tensor(np.abs(_r((16, 32, 3, 3))) + 0.1, requires_grad=True)
    y = N.dropout2d(x, p=0.25, training=True)
    ratio = (y.detach().numpy() / x.detach().numpy()).reshape(16, 32, 9)
    per_channel = ratio[..., 0]
    assert np.allclose(ratio, per_channel[..., None])  # one decision per (sample, channel)
    assert np.all(np.isclose(per_channel, 0.0) | np.isclose(per_channel, 1 / 0.75))
    assert 0.15 < (per_channel == 0).mean() < 0.35
    y.backward(lamina.ones(*y.shape))
    np.testing.assert_allclose(x.grad.numpy(), ratio.reshape(x.shape), rtol=1e-6)


def test_dropout2d_identity_cases_generator_and_errors():
    x = lamina.randn(4, 5, 2, 2)
    assert N.dropout2d(x, 0.5, training=False) is x
    assert N.dropout2d(x, 0.0) is x
    assert (N.dropout2d(x, 1.0).numpy() == 0).all()
    g1, g2 = lamina.Generator().manual_seed(7), lamina.Generator().manual_seed(7)
    np.testing.assert_array_equal(N.dropout2d(x, generator=g1).numpy(), N.dropout2d(x, generator=g2).numpy())
    lamina.manual_seed(3)
    a = N.dropout2d(x).numpy()
    lamina.manual_seed(3)
    np.testing.assert_array_equal(a, N.dropout2d(x).numpy())  # the default generator
    with pytest.raises(ValueError, match="dropout2d: dropout probability has to be between 0 and 1, but got 1.5"):
        N.dropout2d(x, 1.5)
    with pytest.warns(UserWarning, match="3D input"):
        y = N.dropout2d(lamina.ones(6, 40, 5), 0.5)
    r = y.numpy()
    assert np.allclose(r, r[..., :1])  # (N, C, L): whole rows of L dropped
    with pytest.raises(RuntimeError, match="dropout1d: expected a 2D or 3D input"):
        N.dropout1d(x)


def test_dropout1d_3d_shapes_and_inplace():
    y = N.dropout1d(lamina.ones(30, 7), 0.5).numpy()  # unbatched (C, L)
    assert np.allclose(y, y[:, :1]) and set(np.unique(y)) <= {0.0, 2.0}
    y = N.dropout3d(lamina.ones(3, 10, 2, 2, 2), 0.5).numpy()
    assert np.allclose(y, y[:, :, :1, :1, :1])
    x = lamina.ones(4, 8, 3, 3)
    out = N.dropout2d(x, 0.5, inplace=True)
    assert out is x and x._version == 1 and set(np.unique(x.numpy())) <= {0.0, 2.0}
