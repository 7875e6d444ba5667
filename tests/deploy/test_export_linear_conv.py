"""ONNX export of the linear, convolution, shape, padding, resampling, lookup and distance layers:
every layer exported at one batch size and checked against lamina at two (random inputs)."""
import numpy as np
import pytest

from export_util import assert_exports, lonnx, run_onnx

import lamina
import lamina.nn as nn


def randn(*shape):
    return lamina.randn(*shape)


def one(shape_fn):
    """make_inputs for a single float input whose shape is shape_fn(batch)."""
    return lambda n: (randn(*shape_fn(n)),)


def check(model, make_inputs, **kw):
    lamina.manual_seed(0)
    return assert_exports(model, make_inputs, atol=1e-4, **kw)


def built(factory):
    lamina.manual_seed(0)
    return factory()


# ---------------------------------------------------------------- linear
@pytest.mark.parametrize("inner", [(5,), (3, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(inner, bias):
    m = built(lambda: nn.Linear(5, 4, bias=bias))
    check(m, one(lambda n: (n,) + inner))


def test_lazy_linear_and_lazy_conv_materialised_by_export():
    lazy = built(lambda: nn.Sequential(nn.LazyConv2d(4, 3), nn.Flatten(), nn.LazyLinear(3)))
    proto = check(lazy, one(lambda n: (n, 2, 5, 5)))
    assert type(lazy[0]) is nn.Conv2d and type(lazy[2]) is nn.Linear
    assert {i.name for i in proto.graph.initializer} >= {"0.weight", "2.weight"}


def test_lazy_linear_already_materialised():
    m = built(lambda: nn.LazyLinear(3))
    m(randn(1, 6))
    check(m, one(lambda n: (n, 6)))


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(bias):
    m = built(lambda: nn.Bilinear(3, 4, 5, bias=bias))
    check(m, lambda n: (randn(n, 3), randn(n, 4)))
    check(m, lambda n: (randn(n, 2, 3), randn(n, 2, 4)))


# ---------------------------------------------------------------- convolutions
CONV_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, padding="same"),
    dict(kernel_size=3, padding="same", dilation=2),
    dict(kernel_size=3, padding="valid", bias=False),
    dict(kernel_size=3, groups=2, dilation=2, padding=2),
    dict(kernel_size=3, padding=1, padding_mode="reflect"),
    dict(kernel_size=3, padding=2, padding_mode="replicate", stride=2),
    dict(kernel_size=3, padding=1, padding_mode="circular"),
    dict(kernel_size=4, padding="same", padding_mode="circular"),
]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", CONV_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_conv(nd, kw):
    cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[nd]
    spatial = {1: (9,), 2: (7, 6), 3: (5, 6, 4)}[nd]
    m = built(lambda: cls(4, 6, **kw))
    check(m, one(lambda n: (n, 4) + spatial))


def test_conv_asymmetric_tuples():
    m = built(lambda: nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)))
    check(m, one(lambda n: (n, 2, 7, 8)))
    m = built(lambda: nn.Conv2d(2, 4, (3, 2), padding=(2, 1), padding_mode="reflect"))
    check(m, one(lambda n: (n, 2, 7, 8)))


@pytest.mark.parametrize("factory", [lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"),
                                     lambda: nn.Conv1d(3, 4, 2, padding="same"),
                                     lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1)])
def test_conv_unbatched_input_static(factory):
    m = built(factory)
    x = randn(3, 5, 5) if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) else randn(3, 7)
    proto = lonnx.export(m, x, dynamic_axes={})
    got = run_onnx(proto, {"input": x.numpy()})[0]
    with lamina.no_grad():
        ref = m(x).numpy()
    assert got.shape == ref.shape == (4,) + ref.shape[1:] and len(ref.shape) == x.ndim
    np.testing.assert_allclose(got, ref, atol=1e-4)


CONVT_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=2, stride=3, groups=2, bias=False),
    dict(kernel_size=3, stride=2, dilation=2, padding=2, output_padding=1),
]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", CONVT_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_conv_transpose(nd, kw):
    cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd]
    spatial = {1: (6,), 2: (5, 4), 3: (3, 4, 3)}[nd]
    m = built(lambda: cls(4, 6, **kw))
    check(m, one(lambda n: (n, 4) + spatial))


def test_conv_transpose_output_size_keyword():
    m = built(lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1))
    x = randn(2, 3, 4, 4)
    proto = lonnx.export(m, x, module_kwargs={"output_size": (8, 8)})
    got = run_onnx(proto, {"input": randn(3, 3, 4, 4).numpy()})[0]
    assert got.shape == (3, 2, 8, 8)


# ---------------------------------------------------------------- shape layers and dropout
@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (2, 3), (1, 2), (0, 1), (2, 2)])
def test_flatten(start, end):
    check(nn.Flatten(start, end), one(lambda n: (n, 2, 3, 4)))


@pytest.mark.parametrize("dim,sizes", [(1, (2, 3, 4)), (1, (-1, 4)), (-1, (2, 2)), (2, (3, 1))])
def test_unflatten(dim, sizes):
    shape = {1: lambda n: (n, 24, 4), -1: lambda n: (n, 24, 4), 2: lambda n: (n, 5, 3)}[dim]
    check(nn.Unflatten(dim, sizes), one(shape))


@pytest.mark.parametrize("cls,nd", [(nn.Dropout, 3), (nn.AlphaDropout, 2), (nn.FeatureAlphaDropout, 3),
                                    (nn.Dropout1d, 1), (nn.Dropout2d, 2), (nn.Dropout3d, 3)])
def test_dropouts_are_identity_in_eval(cls, nd):
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[nd]
    m = built(lambda: nn.Sequential(conv(2, 3, 1), cls(0.5)))
    m.train()
    check(m, one(lambda n: (n, 2) + (3,) * nd))


# ---------------------------------------------------------------- padding layers
PADS = {1: [2, (1, 3), (2, 0)], 2: [1, (1, 2, 0, 3)], 3: [1, (1, 0, 2, 1, 0, 2)]}


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", ["Zero", "Constant", "Reflection", "Replication", "Circular"])
def test_padding_layers(nd, kind):
    spatial = {1: (5,), 2: (4, 5), 3: (3, 4, 5)}[nd]
    for padding in PADS[nd]:
        cls = getattr(nn, f"{kind}Pad{nd}d")
        m = cls(padding, 1.5) if kind == "Constant" else cls(padding)
        check(m, one(lambda n: (n, 2) + spatial))


def test_constant_pad_crops_with_negative_amounts():
    check(nn.ConstantPad2d((-1, 2, 0, -2), -3.0), one(lambda n: (n, 2, 5, 5)))


# ---------------------------------------------------------------- channel <-> space
@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_and_unshuffle(r):
    check(nn.PixelShuffle(r), one(lambda n: (n, 2 * r * r, 3, 4)))
    check(nn.PixelUnshuffle(r), one(lambda n: (n, 2, 2 * r, 3 * r)))
    check(nn.Sequential(nn.PixelUnshuffle(r), nn.PixelShuffle(r)), one(lambda n: (n, 3, r, 2 * r)))


def test_pixel_shuffle_five_d_input():
    check(nn.PixelShuffle(2), one(lambda n: (n, 3, 8, 2, 3)))


@pytest.mark.parametrize("groups,shape", [(2, (4, 3, 3)), (3, (6, 5)), (4, (8, 2, 2, 2))])
def test_channel_shuffle(groups, shape):
    check(nn.ChannelShuffle(groups), one(lambda n: (n,) + shape))


# ---------------------------------------------------------------- lookups
def ids(high, *shape):
    return lamina.randint(0, high, shape)


def test_embedding():
    m = built(lambda: nn.Embedding(10, 4, padding_idx=0))
    check(m, lambda n: (ids(10, n, 3),))
    check(m, lambda n: (ids(10, n),))


def test_embedding_max_norm_is_an_error_naming_the_path():
    model = nn.Sequential(nn.Embedding(10, 4, max_norm=1.0))
    with pytest.raises(lonnx.ExportError, match=r"max_norm.*'0'"):
        lonnx.export(model, ids(10, 2, 3))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_bag_two_d(mode, padding_idx):
    m = built(lambda: nn.EmbeddingBag(6, 3, mode=mode, padding_idx=padding_idx))

    def make(n):
        x = ids(6, n, 4).numpy()
        x[0] = 1  # an all-padding bag when padding_idx=1 (0 for sum/mean/max)
        return (lamina.tensor(x),)

    check(m, make)


def test_embedding_bag_per_sample_weights():
    m = built(lambda: nn.EmbeddingBag(6, 3, mode="sum", padding_idx=2))

    class Weighted(nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = m

        def forward(self, x, w):
            return self.bag(x, None, w)

        def onnx_export(self, ctx, x, w):
            return ctx.call(self.bag, x, None, w, name="bag")

    check(Weighted(), lambda n: (ids(6, n, 4), randn(n, 4)))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_one_d_with_offsets(mode, include_last_offset):
    m = built(lambda: nn.EmbeddingBag(7, 3, mode=mode, include_last_offset=include_last_offset, padding_idx=0))

    def make(n):
        rng = np.random.default_rng(n)
        x = rng.integers(0, 7, 3 * n + 2)
        x[:2] = 0
        cuts = np.sort(rng.integers(0, len(x), n - 1))
        offsets = np.concatenate([[0], cuts] + ([[len(x) - 1]] if include_last_offset else []))
        offsets[1] = 2 if n > 2 else offsets[1]  # bag 0 holds only padding
        return lamina.tensor(x), lamina.tensor(np.sort(offsets))

    dyn = {"input_0": {0: "n"}, "input_1": {0: "bags"}, "output": {0: "bags_out"}}
    check(m, make, batch_sizes=(4, 6), dynamic_axes=dyn)


def test_embedding_bag_max_norm_is_an_error():
    with pytest.raises(lonnx.ExportError, match="max_norm"):
        lonnx.export(nn.EmbeddingBag(5, 2, max_norm=1.0), ids(5, 2, 3))


# ---------------------------------------------------------------- resampling
UPSAMPLE_CASES = [
    (dict(scale_factor=2, mode="nearest"), (4, 5)),
    (dict(scale_factor=1.5, mode="nearest"), (4, 6)),
    (dict(size=(7, 9), mode="nearest"), (3, 4)),
    (dict(size=(5, 3), mode="nearest"), (8, 7)),
    (dict(scale_factor=2, mode="nearest-exact"), (3, 5)),
    (dict(size=(7, 5), mode="nearest-exact"), (3, 4)),
    (dict(scale_factor=2, mode="bilinear"), (4, 5)),
    (dict(scale_factor=2, mode="bilinear", align_corners=True), (4, 5)),
    (dict(size=(7, 9), mode="bilinear"), (3, 4)),
    (dict(size=(3, 2), mode="bilinear", align_corners=True), (6, 5)),
    (dict(scale_factor=(1.5, 2.5), mode="bilinear", recompute_scale_factor=True), (4, 4)),
    (dict(scale_factor=2, mode="bicubic"), (4, 5)),
    (dict(size=(7, 6), mode="bicubic", align_corners=True), (4, 5)),
    (dict(size=(2, 3), mode="area"), (4, 6)),
    (dict(scale_factor=0.33, mode="bilinear"), (5, 7)),   # an output side of 1 (half_pixel, not pytorch_half_pixel)
    (dict(size=(1, 1), mode="bicubic"), (6, 7)),
    (dict(scale_factor=0.7, mode="nearest"), (9, 11)),
]


@pytest.mark.parametrize("kw,hw", UPSAMPLE_CASES, ids=lambda v: str(v))
def test_upsample_2d(kw, hw):
    check(nn.Upsample(**kw), one(lambda n: (n, 2) + hw))


@pytest.mark.parametrize("kw,shape", [
    (dict(scale_factor=2, mode="linear"), (7,)),
    (dict(size=9, mode="linear", align_corners=True), (5,)),
    (dict(scale_factor=3, mode="nearest"), (4,)),
    (dict(scale_factor=2, mode="trilinear"), (2, 3, 4)),
    (dict(size=(3, 5, 4), mode="trilinear", align_corners=True), (2, 3, 2)),
    (dict(scale_factor=(1, 2, 3), mode="nearest"), (2, 2, 3)),
])
def test_upsample_1d_3d(kw, shape):
    check(nn.Upsample(**kw), one(lambda n: (n, 3) + shape))


def test_upsampling_legacy_layers():
    check(nn.UpsamplingNearest2d(scale_factor=2), one(lambda n: (n, 2, 3, 4)))
    check(nn.UpsamplingBilinear2d(size=(7, 5)), one(lambda n: (n, 2, 3, 4)))
    proto = check(nn.UpsamplingBilinear2d(scale_factor=2), one(lambda n: (n, 2, 3, 4)))
    resize = [nd for nd in proto.graph.node if nd.op_type == "Resize"][0]
    attrs = {a.name: a.s.decode() for a in resize.attribute if a.s}
    assert attrs["coordinate_transformation_mode"] == "align_corners"


def test_area_upsample_with_fractional_factor_is_an_error():
    with pytest.raises(lonnx.ExportError, match="area"):
        lonnx.export(nn.Upsample(size=(3, 3), mode="area"), randn(2, 1, 5, 5))


# ---------------------------------------------------------------- distances
@pytest.mark.parametrize("dim,shapes", [(1, ((8,), (8,))), (-1, ((3, 5), (3, 5))), (1, ((4, 2), (1, 2))),
                                        (1, ((4, 1), (4, 3)))])
def test_cosine_similarity(dim, shapes):
    a, b = shapes
    def make(n):
        x1, x2 = randn(n, *a), randn(n, *b)
        x1.numpy()[0] = 0  # a zero vector: the eps clamp
        return x1, x2
    check(nn.CosineSimilarity(dim=dim), make)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf"), float("-inf"), 0.0])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    check(nn.PairwiseDistance(p=p, keepdim=keepdim), lambda n: (randn(n, 6), randn(n, 6)))


def test_pairwise_distance_broadcasts():
    check(nn.PairwiseDistance(), lambda n: (randn(n, 3, 4), randn(1, 4)))


# ---------------------------------------------------------------- sliding blocks
FOLD_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), stride=2),
    dict(kernel_size=3, padding=1, dilation=2),
    dict(kernel_size=(3, 2), padding=(1, 0), stride=(2, 3), dilation=(1, 2)),
]


@pytest.mark.parametrize("kw", FOLD_CASES, ids=str)
def test_unfold(kw):
    check(nn.Unfold(**kw), one(lambda n: (n, 3, 7, 8)))


@pytest.mark.parametrize("kw", FOLD_CASES, ids=str)
def test_fold_and_round_trip(kw):
    out = (7, 8)
    cols = nn.Unfold(**kw)(randn(1, 3, *out))
    check(nn.Fold(out, **kw), one(lambda n: (n,) + tuple(cols.shape[1:])))
    check(nn.Sequential(nn.Unfold(**kw), nn.Fold(out, **kw)), one(lambda n: (n, 3) + out))


# ---------------------------------------------------------------- errors name the module path
def test_unsupported_option_error_names_the_nested_path():
    model = nn.Sequential(nn.Identity(), nn.Sequential(nn.Identity(), nn.EmbeddingBag(5, 4, max_norm=2.0)))
    with pytest.raises(lonnx.ExportError, match=r"EmbeddingBag with max_norm.*'1\.1'"):
        lonnx.export(model, ids(5, 2, 3))
