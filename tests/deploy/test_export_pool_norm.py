"""ONNX export of the pooling and normalisation layers: onnxruntime matches lamina at two batch sizes."""
import numpy as np
import pytest

from export_util import assert_exports, lonnx, run_onnx

import lamina
import lamina.nn as nn


def _inputs(*shape, positive=False):
    def make(n):
        x = lamina.randn(n, *shape)
        return (x.abs() + 0.1 if positive else x,)
    return make


def _randomize(module, seed=0):
    """Non-trivial parameters and running statistics (running_var > 0)."""
    rng = np.random.default_rng(seed)
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if t is None or t.array.dtype.kind != "f":
            continue
        vals = rng.uniform(0.5, 1.5, t.shape) if "var" in name else rng.normal(0, 1, t.shape)
        t.array[...] = vals.astype(t.array.dtype)
    return module


def _export_error(model, x, pattern):
    with pytest.raises(lonnx.ExportError, match=pattern):
        lonnx.export(model, x)


# ---------------------------------------------------------------- max / avg / LP pooling
SPATIAL = {1: (3, 11), 2: (3, 7, 9), 3: (2, 5, 6, 7)}
MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
LP = {1: nn.LPPool1d, 2: nn.LPPool2d, 3: nn.LPPool3d}


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, ceil_mode=True),
                                dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, stride=1, dilation=2),
                                dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("return_indices", [False, True])
def test_max_pool(nd, kw, return_indices):
    if nd == 3 and kw.get("dilation", 1) > 1 and kw.get("ceil_mode"):
        pytest.skip("covered in 1-d and 2-d (keeps the 3-d input small)")
    assert_exports(MAX[nd](return_indices=return_indices, **kw), _inputs(*SPATIAL[nd]))


def test_max_pool_tuple_kernel_and_explicit_ceil_padding():
    assert_exports(nn.MaxPool2d((2, 3), stride=(1, 2), padding=(1, 0)), _inputs(3, 7, 9))
    # ceil mode with stride > kernel and dilation: the end padding reaches the kernel size,
    # which onnxruntime's pads refuse; an explicit -inf Pad gives lamina's windows
    assert_exports(nn.MaxPool1d(2, stride=4, dilation=3, ceil_mode=True), _inputs(3, 13))
    _export_error(nn.Sequential(nn.MaxPool1d(2, stride=4, dilation=3, ceil_mode=True, return_indices=True)),
                  lamina.randn(2, 3, 13), r"return_indices.*'0'")


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                                dict(kernel_size=3, stride=2, ceil_mode=True),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                                dict(kernel_size=2, stride=3, padding=1, ceil_mode=True)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_avg_pool(nd, kw):
    assert_exports(AVG[nd](**kw), _inputs(*SPATIAL[nd]))


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("kw", [dict(kernel_size=2, divisor_override=3),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=5)])
def test_avg_pool_divisor_override(nd, kw):
    assert_exports(AVG[nd](**kw), _inputs(*SPATIAL[nd]))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("norm_type,kw", [(2, dict(kernel_size=2)), (1, dict(kernel_size=3, stride=2)),
                                          (3, dict(kernel_size=2, stride=2, ceil_mode=True)),
                                          (1.5, dict(kernel_size=3, stride=2, ceil_mode=True))])
def test_lp_pool(nd, norm_type, kw):
    # odd and fractional powers of negative sums are NaN in lamina and onnxruntime alike; keep x > 0 there
    assert_exports(LP[nd](norm_type, **kw), _inputs(*SPATIAL[nd], positive=norm_type != 2))


def test_lp_pool_p1_sums_signed_values():
    """lamina's LP pooling with p = 1 sums x itself (ONNX LpPool would sum |x|)."""
    assert_exports(nn.LPPool2d(1, 2), _inputs(3, 6, 6))


@pytest.mark.parametrize("module,shape", [(nn.MaxPool2d(2), (3, 6, 6)), (nn.AvgPool1d(3, 2, 1), (3, 9)),
                                          (nn.LPPool3d(2, 2), (2, 4, 4, 4)), (nn.AdaptiveAvgPool2d(3), (3, 7, 8)),
                                          (nn.AdaptiveMaxPool1d(4), (3, 10)), (nn.MaxPool2d(2, return_indices=True),
                                                                               (3, 6, 6))])
def test_unbatched_pool_inputs(module, shape):
    x = lamina.randn(*shape)
    proto = lonnx.export(module, x, dynamic_axes={})
    got = run_onnx(proto, {"input": x.numpy()})
    ref = module(x)
    for g, r in zip(got, ref if isinstance(ref, tuple) else (ref,)):
        np.testing.assert_allclose(g, r.detach().numpy(), atol=1e-5)


# ---------------------------------------------------------------- adaptive and global pooling
ADAPTIVE_AVG = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
ADAPTIVE_MAX = {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d}
ADAPTIVE_SHAPES = {1: (3, 12), 2: (3, 6, 9), 3: (2, 4, 6, 6)}
ADAPTIVE_SIZES = {1: [1, 4, 5, 12], 2: [1, (3, 3), (4, 5), (None, 2), (2, None)],
                  3: [1, (2, 3, 2), (3, 4, 5), (None, 2, 5)]}


@pytest.mark.parametrize("nd,size", [(nd, s) for nd in (1, 2, 3) for s in ADAPTIVE_SIZES[nd]])
def test_adaptive_avg_pool(nd, size):
    assert_exports(ADAPTIVE_AVG[nd](size), _inputs(*ADAPTIVE_SHAPES[nd]))


@pytest.mark.parametrize("nd,size", [(nd, s) for nd in (1, 2, 3) for s in ADAPTIVE_SIZES[nd]])
def test_adaptive_max_pool(nd, size):
    assert_exports(ADAPTIVE_MAX[nd](size), _inputs(*ADAPTIVE_SHAPES[nd]))


@pytest.mark.parametrize("nd,size", [(1, 4), (1, 1), (2, (3, 3)), (3, (2, 3, 2))])
def test_adaptive_max_pool_indices_divisible(nd, size):
    assert_exports(ADAPTIVE_MAX[nd](size, return_indices=True), _inputs(*ADAPTIVE_SHAPES[nd]))


def test_adaptive_max_pool_indices_uneven_is_an_export_error():
    model = nn.Sequential(nn.Identity(), nn.AdaptiveMaxPool2d((4, 5), return_indices=True))
    _export_error(model, lamina.randn(2, 3, 6, 9), r"\(6, 9\).*\(4, 5\).*'1'")


def test_global_avg_pool_2d():
    assert_exports(nn.GlobalAvgPool2d(), _inputs(4, 5, 6))


# ---------------------------------------------------------------- unpooling and fractional pooling
class _PoolUnpool(nn.Module):
    def __init__(self, nd, output_size=None, **kw):
        super().__init__()
        self.pool = MAX[nd](return_indices=True, **kw)
        self.unpool = {1: nn.MaxUnpool1d, 2: nn.MaxUnpool2d, 3: nn.MaxUnpool3d}[nd](**kw)
        self.output_size = output_size

    def forward(self, x):
        y, i = self.pool(x)
        return self.unpool(y, i, output_size=self.output_size)

    def onnx_export(self, ctx, x):
        y, i = ctx.call(self.pool, x, name="pool")
        return ctx.call(self.unpool, y, i, name="unpool", output_size=self.output_size)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_after_max_pool(nd):
    assert_exports(_PoolUnpool(nd, kernel_size=2), _inputs(*{1: (3, 10), 2: (3, 6, 8), 3: (2, 4, 6, 4)}[nd]))


def test_max_unpool_with_output_size_and_padding():
    assert_exports(_PoolUnpool(2, output_size=(7, 9), kernel_size=3, stride=2, padding=1), _inputs(3, 7, 9))


def test_max_unpool_with_indices_as_a_graph_input():
    unpool = nn.MaxUnpool2d(2)
    lamina.manual_seed(0)
    pool = nn.MaxPool2d(2, return_indices=True)

    def make(n):
        return pool(lamina.randn(n, 3, 6, 8))
    assert_exports(unpool, make)


@pytest.mark.parametrize("module,x", [(nn.FractionalMaxPool2d(2, output_size=3), lamina.randn(2, 3, 7, 7)),
                                      (nn.FractionalMaxPool3d(2, output_ratio=0.5), lamina.randn(2, 3, 6, 6, 6))])
def test_fractional_max_pool_is_an_export_error_naming_the_path(module, x):
    _export_error(nn.Sequential(nn.Identity(), module), x, r"FractionalMaxPool.d.*random.*'1'")


# ---------------------------------------------------------------- batch and instance norm
@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (4,)), (nn.BatchNorm1d, (4, 7)), (nn.BatchNorm2d, (4, 5, 6)),
                                       (nn.BatchNorm3d, (4, 3, 4, 5))])
@pytest.mark.parametrize("kw", [{}, dict(affine=False), dict(bias=False), dict(track_running_stats=False),
                                dict(track_running_stats=False, affine=False), dict(eps=1e-2)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_batch_norm(cls, shape, kw):
    assert_exports(_randomize(cls(4, **kw)), _inputs(*shape), batch_sizes=(3, 5))


@pytest.mark.parametrize("cls,shape", [(nn.LazyBatchNorm1d, (4, 7)), (nn.LazyBatchNorm2d, (4, 5, 6)),
                                       (nn.LazyBatchNorm3d, (4, 3, 4, 5))])
@pytest.mark.parametrize("materialised", [True, False])
def test_lazy_batch_norm(cls, shape, materialised):
    m = cls()
    if materialised:
        m(lamina.randn(3, *shape))     # training step: running statistics move
    assert_exports(m, _inputs(*shape), batch_sizes=(3, 5))
    assert isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d)


@pytest.mark.parametrize("cls,shape", [(nn.InstanceNorm1d, (4, 7)), (nn.InstanceNorm2d, (4, 5, 6)),
                                       (nn.InstanceNorm3d, (4, 3, 4, 5))])
@pytest.mark.parametrize("kw", [{}, dict(affine=True), dict(affine=True, bias=False), dict(track_running_stats=True),
                                dict(affine=True, track_running_stats=True)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_instance_norm(cls, shape, kw):
    assert_exports(_randomize(cls(4, **kw)), _inputs(*shape))


@pytest.mark.parametrize("cls,shape", [(nn.InstanceNorm1d, (4, 7)), (nn.InstanceNorm2d, (4, 5, 6))])
@pytest.mark.parametrize("kw", [{}, dict(affine=True, track_running_stats=True)])
def test_instance_norm_unbatched(cls, shape, kw):
    m = _randomize(cls(4, **kw)).eval()
    x = lamina.randn(*shape)
    got = run_onnx(lonnx.export(m, x, dynamic_axes={}), {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, m(x).detach().numpy(), atol=1e-4)


def test_lazy_instance_norm():
    m = nn.LazyInstanceNorm2d(affine=True)
    m(lamina.randn(2, 3, 5, 5))
    _randomize(m)
    assert_exports(m, _inputs(3, 5, 5))


# ---------------------------------------------------------------- layer, group, RMS, local response norm
@pytest.mark.parametrize("shape,normalized", [((6,), 6), ((3, 6), 6), ((3, 4, 5), (4, 5))])
@pytest.mark.parametrize("kw", [{}, dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-2)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_layer_norm(shape, normalized, kw):
    assert_exports(_randomize(nn.LayerNorm(normalized, **kw)), _inputs(*shape))


@pytest.mark.parametrize("shape", [(6,), (6, 5), (6, 4, 3), (6, 2, 3, 2)])
@pytest.mark.parametrize("groups,kw", [(3, {}), (1, {}), (6, {}), (2, dict(affine=False)), (2, dict(bias=False))])
def test_group_norm(shape, groups, kw):
    assert_exports(_randomize(nn.GroupNorm(groups, 6, **kw)), _inputs(*shape))


@pytest.mark.parametrize("shape,normalized", [((6,), 6), ((3, 6), 6), ((3, 4, 5), (4, 5))])
@pytest.mark.parametrize("kw", [{}, dict(eps=1e-3), dict(elementwise_affine=False)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_rms_norm(shape, normalized, kw):
    assert_exports(_randomize(nn.RMSNorm(normalized, **kw)), _inputs(*shape))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(6, 5), (6, 4, 3), (6, 2, 3, 2)])
def test_local_response_norm(size, shape):
    # large alpha so the normalisation is far from the identity
    m = nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=2.0)
    assert_exports(m, lambda n: (lamina.randn(n, *shape) * 3,))


def test_norm_input_mismatch_names_the_path():
    _export_error(nn.Sequential(nn.Sequential(nn.Identity(), nn.GroupNorm(2, 6))), lamina.randn(2, 4, 3),
                  r"GroupNorm.*'0\.1'")


def test_norms_in_a_small_convnet_stack():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm2d(3), nn.MaxPool2d(2), nn.GroupNorm(3, 3), nn.AdaptiveAvgPool2d((2, 3)),
                          nn.InstanceNorm2d(3, affine=True), nn.LocalResponseNorm(2), nn.AvgPool2d(2, ceil_mode=True))
    _randomize(model)
    assert_exports(model, _inputs(3, 9, 10))


@pytest.mark.parametrize("opset", [13, 18])
def test_reductions_and_splits_at_other_opsets(opset):
    """ReduceMean takes its axes as an attribute before opset 18 and as an input from it on."""
    model = nn.Sequential(nn.BatchNorm2d(4, track_running_stats=False), nn.GroupNorm(2, 4), nn.GLU(1),
                          nn.RMSNorm((5, 6)), nn.AdaptiveMaxPool2d((2, 4)), nn.GlobalAvgPool2d())
    assert_exports(_randomize(model), _inputs(4, 5, 6), opset=opset)
