"""conv1d / conv2d / conv_transpose1d / conv_transpose2d: torch parity grids, gradchecks, errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from helpers import gradcheck, gradgradcheck, noncontiguous, parity, requires_torch, rng
from lamina.ops import _im2col
from lamina.ops import conv as C

try:
    import torch
    import torch.nn.functional as TF

    torch.set_num_threads(1)  # tiny oracle ops: thread wake-ups on a busy 2-core box cost more than the math
except Exception:  # pragma: no cover
    torch = TF = None


pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _parity(name, arrays, **kw):
    """Parity of lamina's and torch's functional op ``name`` on (input, weight[, bias])."""
    return parity(lambda *t: getattr(C, name)(*t, **kw), *arrays,
                  torch_fn=lambda *t: getattr(TF, name)(*t, **kw), atol=1e-9, rtol=1e-7)


def _arrays(xshape, wshape, bias, seed=0, dtype=np.float64):
    r = rng(seed)
    out = [r.standard_normal(xshape).astype(dtype), r.standard_normal(wshape).astype(dtype)]
    if bias:
        out.append(r.standard_normal(bias).astype(dtype))
    return out


# ---------------------------------------------------------------- conv2d
def _conv2d_grid():
    for stride, padding, dilation, groups, bias in itertools.product(
            [1, 2, (2, 1)], [0, 1, (1, 2), "same", "valid"], [1, (2, 1)], [1, 2, 4], [True, False]):
        if padding == "same" and stride != 1:
            continue
        yield stride, padding, dilation, groups, bias


@pytest.mark.parametrize("stride,padding,dilation,groups,bias", list(_conv2d_grid()))
def test_conv2d_parity_grid(stride, padding, dilation, groups, bias):
    # 4 input channels: groups 4 is depthwise; 8 output channels; odd sizes, a non-square kernel
    arrays = _arrays((2, 4, 9, 8), (8, 4 // groups, 3, 2), 8 if bias else None)
    _parity("conv2d", arrays, stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("xshape,wshape,kw", [
    ((1, 1, 5, 5), (3, 1, 3, 3), dict(padding=1)),                      # batch 1, one channel
    ((3, 1, 28, 28), (4, 1, 3, 3), dict(padding=1)),                    # the benchmark's first layer
    ((2, 3, 6, 7), (5, 3, 1, 1), dict()),                               # 1x1 kernel (im2col is a reshape)
    ((2, 3, 7, 7), (5, 3, 1, 1), dict(stride=2)),                       # strided 1x1 (ResNet shortcut)
    ((2, 2, 5, 4), (3, 2, 5, 4), dict()),                               # kernel = input: one output pixel
    ((2, 2, 4, 4), (3, 2, 4, 2), dict(padding="same", dilation=(1, 3))),  # even kernel: extra pad after
    ((2, 3, 11, 5), (6, 1, 3, 3), dict(groups=3, stride=(3, 2), padding=2)),  # depthwise, multiplier 2
    ((2, 2, 3, 3), (2, 2, 2, 2), dict(stride=3, padding=1)),            # stride > kernel: rows skipped
    ((1, 6, 8, 8), (6, 2, 3, 3), dict(groups=3, padding=(0, 1), dilation=2)),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_parity_shapes(xshape, wshape, kw, bias):
    _parity("conv2d", _arrays(xshape, wshape, wshape[0] if bias else None), **kw)


@requires_torch
def test_conv2d_float32_matches_torch_and_keeps_dtype():
    arrays = _arrays((2, 3, 10, 9), (4, 3, 3, 3), 4, dtype=np.float32)
    out = parity(lambda x, w, b: C.conv2d(x, w, b, padding=1, stride=2), *arrays,
                 torch_fn=lambda x, w, b: TF.conv2d(x, w, b, padding=1, stride=2), atol=1e-5, rtol=1e-4)
    assert out[0].dtype == np.float32


def test_conv2d_known_values():
    x = lamina.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    w = lamina.tensor(np.ones((1, 1, 2, 2)))
    y = C.conv2d(x, w, lamina.tensor(np.array([0.5])), stride=2)
    np.testing.assert_allclose(y.numpy(), [[[[10.5, 18.5], [42.5, 50.5]]]])


def test_conv2d_gradcheck():
    r = rng(1)
    gradcheck(lambda x, w, b: C.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
              r.standard_normal((2, 4, 5, 6)), r.standard_normal((4, 2, 2, 2)), r.standard_normal(4))


def test_conv2d_gradcheck_noncontiguous_inputs():
    r = rng(2)
    gradcheck(lambda x, w: C.conv2d(x, w, padding="same"),
              noncontiguous(r.standard_normal((2, 2, 4, 5))), noncontiguous(r.standard_normal((3, 2, 3, 2))))


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(0, 1), groups=2), dict(dilation=2)])
def test_conv2d_gradgradcheck(kw):
    r = rng(3)
    gradgradcheck(lambda x, w, b: C.conv2d(x, w, b, **kw),
                  r.standard_normal((2, 2, 5, 5)), r.standard_normal((2, 2 // kw.get("groups", 1), 2, 3)),
                  r.standard_normal(2))


@requires_torch
@pytest.mark.parametrize("big", [False, True])
def test_gradient_penalty_matches_torch(big):
    """WGAN-GP style: d/dw of ||d critic(x) / dx||^2 through a conv, a nonlinearity and a conv.

    ``big``: columns over 1 MB, which conv's backward reuses and hands to the buffer pool.
    """
    r = rng(4)
    x = r.standard_normal((4, 8, 24, 24) if big else (2, 2, 6, 6))
    w1, w2 = r.standard_normal((3, x.shape[1], 3, 3)), r.standard_normal((1, 3, 2, 2))

    def penalty(lib, F, x, w1, w2):
        h = F.conv2d(x, w1, padding=1, stride=2)
        out = F.conv2d(h * h, w2).sum()
        (gx,) = lib.autograd.grad(out, x, create_graph=True) if lib is torch else lamina.grad(out, x, create_graph=True)
        return (gx * gx).sum()

    lt = [lamina.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    tt = [torch.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    pl, pt = penalty(lamina, C, *lt), penalty(torch, TF, *tt)
    np.testing.assert_allclose(pl.item(), pt.item(), rtol=1e-10)
    gl = lamina.grad(pl, lt)
    gt = torch.autograd.grad(pt, tt)
    for a, b in zip(gl, gt):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10)


@requires_torch
def test_large_conv_twice_uses_pooled_buffers():
    """Columns over 1 MB are recycled between steps: results must not change."""
    arrays = _arrays((8, 16, 20, 20), (16, 16, 3, 3), 16, seed=12, dtype=np.float32)
    _im2col.pool.free.clear()
    for _ in range(2):
        parity(lambda x, w, b: C.conv2d(x, w, b, padding=1), *arrays,
               torch_fn=lambda x, w, b: TF.conv2d(x, w, b, padding=1), atol=1e-4, rtol=1e-4)
        assert _im2col.pool.free, "the spent columns were not handed back"
    x, w, b = (lamina.tensor(a) for a in arrays)
    with lamina.no_grad():
        y1 = C.conv2d(x, w, b, padding=1).numpy()
        y2 = C.conv2d(x, w, b, padding=1).numpy()  # reuses the buffer the first call handed back
    np.testing.assert_array_equal(y1, y2)


def test_backward_twice_with_retain_graph_and_no_grad():
    r = rng(5)
    x = lamina.tensor(r.standard_normal((2, 2, 5, 5)), requires_grad=True)
    w = lamina.tensor(r.standard_normal((3, 2, 3, 3)), requires_grad=True)
    y = C.conv2d(x, w, padding=1).sum()
    y.backward(retain_graph=True)
    g1 = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * g1)
    with lamina.no_grad():
        assert not C.conv2d(x, w).requires_grad


@pytest.mark.parametrize("wshape,kw", [((4, 3, 1, 1), {}), ((4, 3, 3, 3), dict(padding=1))])
def test_backward_leaves_input_untouched(wshape, kw):
    """The spent im2col columns are reused as a workspace: never when they are a view of x (1x1 conv)."""
    r = rng(11)
    x0 = r.standard_normal((2, 3, 5, 5)).astype(np.float32)
    x = lamina.tensor(x0.copy(), requires_grad=True)
    w = lamina.tensor(r.standard_normal(wshape).astype(np.float32), requires_grad=True)
    C.conv2d(x, w, **kw).sum().backward()
    np.testing.assert_array_equal(x.detach().numpy(), x0)


@pytest.mark.parametrize("img,col,kernel,stride,dilation,padding", [
    ((7, 6), (4, 3), (3, 2), (2, 3), (1, 2), (1, 1)),   # strided, dilated, padded
    ((5, 5), (6, 5), (2, 3), (1, 1), (1, 1), (1, 1)),   # windows run past the image (same / ceil mode)
    ((6, 7), (2, 2), (2, 2), (3, 3), (1, 1), (0, 0)),   # trailing rows unused
    ((4, 5), (4, 5), (1, 1), (1, 1), (1, 1), (0, 0)),   # 1x1: a transpose
])
def test_im2col_matches_definition_and_col2im_is_its_adjoint(img, col, kernel, stride, dilation, padding):
    r = rng(6)
    g = _im2col.Geometry(img, col, kernel, stride, dilation, padding)
    x = r.standard_normal((2, 3) + img)
    cols = _im2col.im2col(x, g)
    ref = np.zeros((3,) + kernel + (2,) + col)
    for c, i, j, n, oh, ow in itertools.product(range(3), range(kernel[0]), range(kernel[1]), range(2),
                                                range(col[0]), range(col[1])):
        rr, qq = oh * stride[0] + i * dilation[0] - padding[0], ow * stride[1] + j * dilation[1] - padding[1]
        if 0 <= rr < img[0] and 0 <= qq < img[1]:
            ref[c, i, j, n, oh, ow] = x[n, c, rr, qq]
    np.testing.assert_array_equal(cols, ref)
    c = r.standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * _im2col.col2im(c, g)), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2),
       st.integers(3, 9), st.integers(3, 9))
def test_conv2d_random_geometry(kh, kw, s, p, d, h, w):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    if h + 2 * p < d * (kh - 1) + 1 or w + 2 * p < d * (kw - 1) + 1:
        return
    _parity("conv2d", _arrays((2, 2, h, w), (3, 2, kh, kw), 3), stride=s, padding=p, dilation=d)


# ---------------------------------------------------------------- conv_transpose2d
def _convt_grid():
    for stride, padding, output_padding, dilation, groups, bias in itertools.product(
            [1, 2, (2, 3)], [0, 1, (1, 2)], [0, 1], [1, 2], [1, 2], [True, False]):
        st_ = (stride, stride) if isinstance(stride, int) else stride
        if output_padding >= min(st_) and output_padding >= dilation:
            continue
        yield stride, padding, output_padding, dilation, groups, bias


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups,bias", list(_convt_grid()))
def test_conv_transpose2d_parity_grid(stride, padding, output_padding, dilation, groups, bias):
    arrays = _arrays((2, 4, 5, 4), (4, 6 // groups, 3, 2), 6 if bias else None)
    _parity("conv_transpose2d", arrays, stride=stride, padding=padding, output_padding=output_padding,
            dilation=dilation, groups=groups)


@pytest.mark.parametrize("xshape,wshape,kw", [
    ((1, 1, 3, 3), (1, 1, 3, 3), dict()),
    ((2, 3, 7, 7), (3, 2, 4, 4), dict(stride=2, padding=1)),            # DCGAN-style upsampling
    ((2, 4, 3, 5), (4, 1, 3, 3), dict(groups=4, stride=2, output_padding=1)),  # depthwise
    ((2, 2, 4, 4), (2, 3, 1, 1), dict(stride=3, output_padding=2)),      # output rows no window touches
])
def test_conv_transpose2d_parity_shapes(xshape, wshape, kw):
    _parity("conv_transpose2d", _arrays(xshape, wshape, wshape[1] * kw.get("groups", 1)), **kw)


def test_conv_transpose2d_gradcheck_and_gradgradcheck():
    r = rng(7)
    arrays = r.standard_normal((2, 2, 3, 3)), r.standard_normal((2, 2, 2, 3)), r.standard_normal(2)
    fn = lambda x, w, b: C.conv_transpose2d(x, w, b, stride=2, padding=(1, 0), output_padding=1)  # noqa: E731
    gradcheck(fn, *arrays)
    gradgradcheck(fn, *arrays)


# ---------------------------------------------------------------- 1-D
@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 2), (1, "same", 2, 1), (3, "valid", 1, 4), (1, 2, 3, 2), (1, "same", 1, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_parity(stride, padding, dilation, groups, bias):
    _parity("conv1d", _arrays((2, 4, 11), (8, 4 // groups, 3), 8 if bias else None),
            stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 2, 2, 2, 1), (1, 1, 1, 2, 4)])
def test_conv_transpose1d_parity(stride, padding, output_padding, dilation, groups):
    _parity("conv_transpose1d", _arrays((2, 4, 6), (4, 8 // groups, 3), 8), stride=stride, padding=padding,
            output_padding=output_padding, dilation=dilation, groups=groups)


def test_conv1d_gradchecks():
    r = rng(8)
    gradcheck(lambda x, w, b: C.conv1d(x, w, b, stride=2, padding=1), r.standard_normal((2, 2, 7)),
              r.standard_normal((3, 2, 3)), r.standard_normal(3))
    gradcheck(lambda x, w: C.conv_transpose1d(x, w, stride=2, output_padding=1), r.standard_normal((2, 2, 4)),
              r.standard_normal((2, 3, 3)))
    gradgradcheck(lambda x, w: C.conv1d(x, w, padding="same"), r.standard_normal((1, 2, 5)),
                  r.standard_normal((2, 2, 2)))


# ---------------------------------------------------------------- errors
def _t(*shape, dtype=np.float32):
    return lamina.tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("call,err,match", [
    (lambda: C.conv2d(_t(3, 28, 28), _t(8, 3, 3, 3)), ValueError,
     r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 28, 28\)"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3)), ValueError, r"conv2d: expected a 4-D weight"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(16, 4, 3, 3)), ValueError,
     r"input has 3 channels .* weight of shape \(16, 4, 3, 3\) with groups=1 expects in_channels = 4"),
    (lambda: C.conv2d(_t(2, 4, 8, 8), _t(6, 1, 3, 3), groups=4), ValueError, r"out_channels \(6.*groups=4"),
    (lambda: C.conv2d(_t(2, 4, 8, 8), _t(8, 4, 3, 3), _t(4)), ValueError, r"bias must have shape \(8,\)"),
    (lambda: C.conv2d(_t(2, 3, 4, 4), _t(8, 3, 5, 5)), ValueError, r"kernel size \(5, 5\).*larger than the padded"),
    (lambda: C.conv2d(_t(2, 3, 4, 4), _t(8, 3, 3, 3), dilation=2), ValueError, r"dilated extent \(5, 5\)"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3), padding="full"), ValueError, r"invalid padding string 'full'"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3), padding=-1), ValueError, r"padding must be non-negative"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3), padding=(1, 2, 3)), ValueError,
     r"padding must be an int or a tuple of 2"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3), stride=0), ValueError, r"stride must be positive"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3), padding="same", stride=2), ValueError,
     r"padding='same' is not supported for strided"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3), groups=0), ValueError, r"groups must be a positive integer"),
    (lambda: C.conv2d(_t(2, 3, 8, 8), _t(8, 3, 3, 3, dtype=np.float64)), TypeError, r"share one floating dtype"),
    (lambda: C.conv2d(np.zeros((2, 3, 8, 8)), _t(8, 3, 3, 3)), TypeError, r"conv2d: input must be a Tensor"),
    (lambda: C.conv1d(_t(2, 3, 8, 8), _t(8, 3, 3)), ValueError, r"conv1d: expected a 3-D input \(N, C, L\)"),
    (lambda: C.conv_transpose2d(_t(2, 3, 4, 4), _t(4, 2, 3, 3)), ValueError,
     r"conv_transpose2d: input has 3 channels .* in_channels = weight.shape\[0\] = 4"),
    (lambda: C.conv_transpose2d(_t(2, 4, 4, 4), _t(4, 2, 3, 3), output_padding=2, stride=2), ValueError,
     r"output_padding .* smaller than either stride"),
    (lambda: C.conv_transpose2d(_t(2, 4, 1, 1), _t(4, 2, 1, 1), padding=1), ValueError, r"output size .* not positive"),
    (lambda: C.conv_transpose2d(_t(2, 4, 4, 4), _t(4, 2, 3, 3), groups=3), ValueError, r"divisible by groups=3"),
])
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()
