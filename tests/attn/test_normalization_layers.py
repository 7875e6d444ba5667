"""Normalization modules and channel-wise dropout: torch parity of outputs, gradients of input,
weight and bias, running statistics over several training steps and evaluation; state-dict
names, dtypes and loading; errors."""
import numpy as np
import pytest
from attn_common import close, load_from_torch, pair
from helpers import rng

import lamina
from lamina.nn.layers.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, Dropout1d, Dropout2d, Dropout3d,
                                            GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm)

torch = pytest.importorskip("torch")
C = 4


def _make(lcls, tcls, *args, dtype="double", **kw):
    tm = getattr(tcls(*args, **kw), dtype)()
    lm = getattr(lcls(*args, **kw), dtype)()
    assert list(lm.state_dict()) == list(tm.state_dict())
    with torch.no_grad():  # non-trivial affine parameters
        for p in tm.parameters():
            p.copy_(torch.tensor(rng(11).standard_normal(tuple(p.shape))))
    return load_from_torch(lm, tm), tm


def _step(lm, tm, x, tol):
    """One forward + backward in both; compare output, input grad, every parameter grad and buffer."""
    lx, tx = pair(x)
    ly, ty = lm(lx), tm(tx)
    close(ly, ty, "output", tol)
    g = rng(int(abs(x.flat[0]) * 1000) % 97).standard_normal(x.shape).astype(x.dtype)
    (ly * lamina.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    close(lx.grad, tx.grad, "input gradient", tol)
    tp = dict(tm.named_parameters())
    for name, p in lm.named_parameters():
        close(p.grad, tp[name].grad, f"gradient of {name}", tol)
        p.grad, tp[name].grad = None, None
    tb = dict(tm.named_buffers())
    for name, b in lm.named_buffers():
        close(b, tb[name], f"buffer {name}", tol)
        assert b.dtype == tb[name].detach().numpy().dtype


def _run(lm, tm, shape, steps=3, tol=1e-9, dtype=np.float64):
    r = rng(1)
    for _ in range(steps):
        _step(lm, tm, (r.standard_normal(shape) * 2 + 0.5).astype(dtype), tol)
    lm.eval(), tm.eval()
    _step(lm, tm, r.standard_normal(shape).astype(dtype), tol)
    lm.train(), tm.train()
    _step(lm, tm, r.standard_normal(shape).astype(dtype), tol)


@pytest.mark.parametrize("shape", [(6, C), (5, C, 3)])
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
                                {"momentum": 0.3, "eps": 1e-3}])
def test_batchnorm1d(shape, kw):
    _run(*_make(BatchNorm1d, torch.nn.BatchNorm1d, C, **kw), shape)


@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False, "track_running_stats": False}])
def test_batchnorm2d(kw):
    _run(*_make(BatchNorm2d, torch.nn.BatchNorm2d, C, **kw), (3, C, 4, 5))


def test_batchnorm3d_and_float32_kernels():
    _run(*_make(BatchNorm3d, torch.nn.BatchNorm3d, C), (2, C, 2, 3, 3))
    _run(*_make(BatchNorm2d, torch.nn.BatchNorm2d, C, dtype="float"), (4, C, 5, 5), tol=2e-5, dtype=np.float32)


def test_batchnorm_buffers_and_loading():
    bn = BatchNorm2d(C)
    sd = bn.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["num_batches_tracked"].dtype == lamina.int64 and sd["num_batches_tracked"].shape == ()
    bn.double()
    assert bn.num_batches_tracked.dtype == lamina.int64 and bn.running_mean.dtype == lamina.float64
    for _ in range(3):
        bn(lamina.randn(2, C, 3, 3, dtype=lamina.float64))
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    bn(lamina.randn(2, C, 3, 3, dtype=lamina.float64))
    assert int(bn.num_batches_tracked.item()) == 3  # eval does not count
    bn.reset_running_stats()
    assert bn.running_var.numpy().tolist() == [1.0] * C and int(bn.num_batches_tracked.item()) == 0
    assert BatchNorm1d(C, affine=False, track_running_stats=False).state_dict() == {}
    assert "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)" == repr(BatchNorm2d(C))


@pytest.mark.parametrize("shape,ns", [((3, 5, 6), 6), ((3, 5, 6), (5, 6)), ((4, 6), [6])])
@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}])
def test_layernorm(shape, ns, kw):
    _run(*_make(LayerNorm, torch.nn.LayerNorm, ns, **kw), shape, steps=1)


def test_layernorm_float32():
    _run(*_make(LayerNorm, torch.nn.LayerNorm, 16, dtype="float"), (4, 7, 16), steps=1, tol=2e-5, dtype=np.float32)


@pytest.mark.parametrize("groups,shape", [(2, (3, C, 5)), (1, (2, C, 3, 3)), (4, (2, C, 2, 3))])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm(groups, shape, affine):
    _run(*_make(GroupNorm, torch.nn.GroupNorm, groups, C, affine=affine), shape, steps=1)


@pytest.mark.parametrize("kw", [{}, {"affine": True}, {"track_running_stats": True},
                                {"affine": True, "track_running_stats": True, "momentum": None}])
def test_instancenorm2d(kw):
    _run(*_make(InstanceNorm2d, torch.nn.InstanceNorm2d, C, **kw), (3, C, 4, 5))


def test_instancenorm_unbatched_and_1d():
    lm, tm = _make(InstanceNorm2d, torch.nn.InstanceNorm2d, C, affine=True)
    _run(lm, tm, (C, 4, 5), steps=1)
    _run(*_make(InstanceNorm1d, torch.nn.InstanceNorm1d, C, track_running_stats=True), (3, C, 6))
    assert InstanceNorm2d(C).state_dict() == {}
    with pytest.warns(UserWarning, match="does not match num_features"):
        InstanceNorm2d(3)(lamina.randn(2, C, 3, 3))


@pytest.mark.parametrize("cls,shape", [(Dropout1d, (8, 6, 10)), (Dropout2d, (8, 6, 4, 5)), (Dropout3d, (4, 6, 2, 3, 3))])
def test_channel_dropout(cls, shape):
    m = cls(0.5)
    x = lamina.ones(*shape, requires_grad=True)
    y = m(x)
    arr = y.detach().numpy().reshape(shape[0], shape[1], -1)
    per_channel = arr[..., 0]
    assert np.all(arr == per_channel[..., None])               # whole channels dropped or kept
    assert set(np.unique(per_channel)) <= {0.0, 2.0} and 0.2 < (per_channel == 2).mean() < 0.8
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # dy/dx = mask / (1 - p)
    m.eval()
    assert m(x) is x
    assert cls(0.0)(x) is x
    assert "p=0.5" in repr(m)
    with pytest.raises(ValueError, match="between 0 and 1"):
        cls(1.5)


def test_dropout1d_unbatched():
    y = Dropout1d(0.5)(lamina.ones(6, 10)).numpy()
    assert np.all(y == y[:, :1])


def test_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input"):
        BatchNorm2d(C)(lamina.randn(2, C, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        BatchNorm1d(C)(lamina.randn(2, C, 3, 3))
    with pytest.raises(ValueError, match="input has 3 channels"):
        BatchNorm1d(C)(lamina.randn(2, 3))
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match="input has 3 channels"):
        GroupNorm(2, 4)(lamina.randn(2, 3, 5))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        LayerNorm(5)(lamina.randn(2, 4))
    with pytest.raises(ValueError, match="num_features"):
        InstanceNorm2d(3, affine=True)(lamina.randn(2, C, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(C)(lamina.randn(1, C))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        BatchNorm1d(0)
