"""Image transforms: values, per-sample randomness, seeding, batch/single consistency, loader wrappers."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lamina
from lamina.data import DataLoader, TensorDataset
from lamina.data.transforms import Compose
from lamina.data.vision_transforms import (AugmentedLoader, CenterCrop, ConvertImageDtype, GaussianNoise, Normalize,
                                           RandomAffine, RandomCrop, RandomErasing, RandomHorizontalFlip,
                                           RandomVerticalFlip, ToTensor, TransformDataset, affine_inverse_matrices)


def _images(n=8, c=3, h=6, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def _gen(seed):
    return lamina.Generator().manual_seed(seed)


RANDOM = [
    lambda g: RandomHorizontalFlip(generator=g),
    lambda g: RandomVerticalFlip(generator=g),
    lambda g: RandomCrop(5, padding=2, generator=g),
    lambda g: RandomCrop((4, 3), padding=(1, 2, 3, 0), padding_mode="reflect", generator=g),
    lambda g: RandomAffine(30, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=10, generator=g),
    lambda g: RandomAffine(45, interpolation="bilinear", fill=0.5, generator=g),
    lambda g: GaussianNoise(0.1, generator=g),
    lambda g: RandomErasing(p=0.7, generator=g),
    lambda g: RandomErasing(p=1.0, value="random", generator=g),
]


# ------------------------------------------------------------------ deterministic transforms
def test_to_tensor_layouts_and_values():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    t = ToTensor()(hwc)
    assert isinstance(t, lamina.Tensor) and t.shape == (3, 4, 5) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    nhwc = rng.integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(ToTensor()(nhwc).numpy()[1], ToTensor()(nhwc[1]).numpy())
    assert ToTensor()(np.full((4, 5), 255, np.uint8)).numpy().tolist() == np.ones((1, 4, 5)).tolist()
    f = ToTensor()(np.full((4, 5, 2), 3.0))  # not uint8: transposed only, as torchvision
    assert f.dtype == np.float64 and f.shape == (2, 4, 5) and float(f.numpy().max()) == 3.0
    with pytest.raises(ValueError, match=r"ToTensor.*\(5,\)"):
        ToTensor()(np.zeros(5, np.uint8))


def test_convert_image_dtype():
    u8 = np.array([[[0, 51, 255]]], np.uint8)
    np.testing.assert_allclose(ConvertImageDtype(lamina.float32)(u8), [[[0, 0.2, 1]]], rtol=1e-6)
    back = ConvertImageDtype(lamina.uint8)(np.array([0.0, 0.5, 1.0], np.float32))
    assert back.dtype == np.uint8 and back.tolist() == [0, 127, 255]
    assert ConvertImageDtype(lamina.float64)(lamina.tensor(u8)).dtype == np.float64
    with pytest.raises(TypeError, match="int16"):
        ConvertImageDtype(lamina.int16)(u8)


def test_normalize_values_kinds_and_errors():
    x = _images(4, 3, 5, 5)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    want = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    out = Normalize(mean, std)(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-6)
    t = Normalize(mean, std)(lamina.tensor(x[2]))
    assert isinstance(t, lamina.Tensor) and t.shape == (3, 5, 5)
    np.testing.assert_allclose(t.numpy(), want[2], rtol=1e-6)
    np.testing.assert_allclose(Normalize(0.5, 0.5)(x), (x - 0.5) / 0.5, rtol=1e-6)
    y = x.copy()
    assert Normalize(mean, std, inplace=True)(y) is y
    np.testing.assert_allclose(y, want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"mean has 2 values but the images have 3 channels"):
        Normalize([0, 0], [1, 1])(x)
    with pytest.raises(TypeError, match="uint8"):
        Normalize(0, 1)(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="zero"):
        Normalize([0, 0], [1, 0])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(2, 3\)"):
        Normalize(0, 1)(np.zeros((2, 3), np.float32))


def test_center_crop():
    x = _images(2, 1, 6, 7)
    out = CenterCrop(4)(x)
    np.testing.assert_array_equal(out, x[:, :, 1:5, 2:6])
    with pytest.raises(ValueError, match="larger than the image size"):
        CenterCrop(8)(x)


# ------------------------------------------------------------------ flips
@pytest.mark.parametrize("cls,axis", [(RandomHorizontalFlip, -1), (RandomVerticalFlip, -2)])
def test_flip_flips_exactly_the_selected_samples(cls, axis):
    x = _images(64)
    t = cls(p=0.5, generator=_gen(3))
    params = t.get_params(x)
    out = t.apply(x, params)
    flipped = np.flip(x, axis=axis)
    sel = params["flip"]
    assert 10 < sel.sum() < 54
    np.testing.assert_array_equal(out[sel], flipped[sel])
    np.testing.assert_array_equal(out[~sel], x[~sel])
    np.testing.assert_array_equal(cls(p=1.0)(x), flipped)
    np.testing.assert_array_equal(cls(p=0.0)(x), x)
    with pytest.raises(ValueError, match="p should be in"):
        cls(p=1.5)


# ------------------------------------------------------------------ crop
def test_random_crop_is_a_shifted_window_of_the_image():
    x = _images(32, 2, 9, 8)
    t = RandomCrop((4, 5), generator=_gen(1))
    p = t.get_params(x)
    out = t.apply(x, p)
    assert out.shape == (32, 2, 4, 5)
    for n in range(32):  # checking only: the transform itself is one gather
        i, j = p["top"][n], p["left"][n]
        assert 0 <= i <= 5 and 0 <= j <= 3
        np.testing.assert_array_equal(out[n], x[n, :, i:i + 4, j:j + 5])
    assert len(set(zip(p["top"].tolist(), p["left"].tolist()))) > 5  # offsets differ per sample


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_random_crop_padding_modes(mode):
    x = _images(16, 3, 5, 6)
    t = RandomCrop((5, 6), padding=(1, 2, 3, 0), padding_mode=mode, fill=0.25, generator=_gen(2))
    p = t.get_params(x)
    out = t.apply(x, p)
    pad = ((0, 0), (0, 0), (2, 0), (1, 3))
    ref = np.pad(x, pad, mode=mode, constant_values=0.25) if mode == "constant" else np.pad(x, pad, mode=mode)
    for n in range(16):
        i, j = p["top"][n], p["left"][n]
        np.testing.assert_array_equal(out[n], ref[n, :, i:i + 5, j:j + 6])


def test_random_crop_fill_per_channel_pad_if_needed_and_errors():
    x = np.ones((1, 2, 3, 3), np.float32)
    out = RandomCrop(7, padding=2, fill=(5, 7))(x)
    assert out.shape == (1, 2, 7, 7) and set(np.unique(out[0, 0])) == {1, 5} and set(np.unique(out[0, 1])) == {1, 7}
    big = RandomCrop(10, pad_if_needed=True)(x)
    assert big.shape == (1, 2, 10, 10) and big.sum() == 18
    with pytest.raises(ValueError, match=r"crop size \(4, 4\) is larger than the \(padded\) image size \(3, 3\)"):
        RandomCrop(4)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        RandomCrop(2, padding_mode="wrap")


# ------------------------------------------------------------------ affine
@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_affine_identity_and_quarter_turn(interp):
    x = _images(4, 3, 6, 6)
    np.testing.assert_array_equal(RandomAffine(0, interpolation=interp)(x), x)
    np.testing.assert_array_equal(RandomAffine(0, scale=(1, 1), translate=(0, 0), interpolation=interp)(x), x)
    # positive angles turn clockwise on screen (torchvision's affine): np.rot90 with k=-1
    np.testing.assert_allclose(RandomAffine((90, 90), interpolation=interp)(x), np.rot90(x, -1, axes=(2, 3)),
                               atol=1e-5)
    np.testing.assert_allclose(RandomAffine((-90, -90), interpolation=interp)(x), np.rot90(x, 1, axes=(2, 3)),
                               atol=1e-5)
    np.testing.assert_allclose(RandomAffine((180, 180), interpolation=interp)(x), x[:, :, ::-1, ::-1], atol=1e-5)


def test_affine_translation_shifts_with_zero_fill():
    x = _images(3, 2, 6, 7)
    t = RandomAffine(0, translate=(0.5, 0.5))
    params = {"angle": np.zeros(3), "translate": np.array([[2, 1], [-1, 0], [0, -3]], float),
              "scale": np.ones(3), "shear": np.zeros((3, 2))}
    out = t.apply(x, params)
    ref = np.zeros_like(x)
    ref[0, :, 1:, 2:] = x[0, :, :-1, :-2]
    ref[1, :, :, :-1] = x[1, :, :, 1:]
    ref[2, :, :-3, :] = x[2, :, 3:, :]
    np.testing.assert_array_equal(out, ref)
    drawn = RandomAffine(0, translate=(0.3, 0.3), generator=_gen(0)).get_params(_images(50))["translate"]
    # whole pixels, |dx| <= round(0.3 * W = 2.1), |dy| <= round(0.3 * H = 1.8)
    assert np.all(drawn == np.rint(drawn)) and np.abs(drawn).max() == 2 and len(np.unique(drawn)) == 5


@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_affine_matches_torch_grid_sample(interp):
    torch = pytest.importorskip("torch")
    x = _images(6, 2, 7, 9)
    t = RandomAffine(40, translate=(0.2, 0.2), scale=(0.7, 1.3), shear=(-10, 10, -5, 5), interpolation=interp,
                     generator=_gen(4))
    p = t.get_params(x)
    m = affine_inverse_matrices(p["angle"], p["translate"], p["scale"], p["shear"])
    n, c, h, w = x.shape
    gx, gy = np.meshgrid(np.arange(w) + 0.5 - w / 2, np.arange(h) + 0.5 - h / 2)
    grid = np.stack([(m[:, 0, 0, None, None] * gx + m[:, 0, 1, None, None] * gy + m[:, 0, 2, None, None]) / (w / 2),
                     (m[:, 1, 0, None, None] * gx + m[:, 1, 1, None, None] * gy + m[:, 1, 2, None, None]) / (h / 2)],
                    -1)
    ref = torch.nn.functional.grid_sample(torch.tensor(x, dtype=torch.float64), torch.tensor(grid), mode=interp,
                                          padding_mode="zeros", align_corners=False).numpy()
    np.testing.assert_allclose(t.apply(x, p), ref, atol=1e-4)


def test_affine_uint8_fill_and_errors():
    x = np.random.default_rng(0).integers(0, 256, (2, 1, 8, 8), dtype=np.uint8)
    out = RandomAffine((45, 45), interpolation="bilinear", fill=7)(x)
    assert out.dtype == np.uint8 and out[0, 0, 0, 0] == 7  # the corner maps outside the input
    np.testing.assert_array_equal(RandomAffine((90, 90))(x), np.rot90(x, -1, axes=(2, 3)))
    with pytest.raises(ValueError, match="interpolation"):
        RandomAffine(10, interpolation="bicubic")
    with pytest.raises(ValueError, match="translate"):
        RandomAffine(10, translate=(1.5, 0))
    with pytest.raises(ValueError, match="non-negative"):
        RandomAffine(-3)


# ------------------------------------------------------------------ noise and erasing
def test_gaussian_noise_statistics_and_kinds():
    x = np.zeros((64, 3, 16, 16), np.float32)
    noise = GaussianNoise(std=0.2, mean=0.1, generator=_gen(0))(x)
    assert noise.dtype == np.float32
    assert abs(noise.mean() - 0.1) < 0.005 and abs(noise.std() - 0.2) < 0.005
    clipped = GaussianNoise(std=1.0, clip=True)(x + 0.5)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    feats = lamina.tensor(np.ones((10, 40), np.float32))  # any shape, e.g. MNIST-1D signals
    assert GaussianNoise(0.0)(feats).numpy().tolist() == np.ones((10, 40)).tolist()
    with pytest.raises(TypeError, match="uint8"):
        GaussianNoise(0.1)(np.zeros((1, 2, 2), np.uint8))


def test_random_erasing_region_statistics():
    x = _images(200, 3, 20, 20) + 1.0  # the value -1 never occurs in x
    t = RandomErasing(p=1.0, scale=(0.05, 0.2), ratio=(0.5, 2.0), value=-1.0, generator=_gen(0))
    p = t.get_params(x)
    out = t.apply(x, p)
    mask = out == -1.0
    assert np.all(mask == mask[:, :1])  # same region in every channel
    m = mask[:, 0]
    area = m.sum(axis=(1, 2))
    assert np.all(area == p["height"] * p["width"]) and np.all(area > 0)
    for n in range(0, 200, 17):  # rectangular, at the drawn place
        rows, cols = np.nonzero(m[n].any(1))[0], np.nonzero(m[n].any(0))[0]
        assert (rows[0], cols[0]) == (p["top"][n], p["left"][n]) and len(rows) * len(cols) == area[n]
    frac = area / 400
    assert frac.min() >= 0.03 and frac.max() <= 0.25  # scale (0.05, 0.2) up to rounding of h and w
    ratio = p["height"] / p["width"]
    assert ratio.min() >= 0.5 * 0.6 and ratio.max() <= 2.0 / 0.6
    np.testing.assert_array_equal(out[~mask], x[~mask])


def test_random_erasing_probability_values_and_errors():
    x = _images(400, 2, 8, 8) + 1.0
    out = RandomErasing(p=0.5, value=(-1, -2), generator=_gen(1))(x)
    erased = (out != x).any(axis=(1, 2, 3))
    assert 150 < erased.sum() < 250
    assert set(np.unique(out[:, 0][out[:, 0] != x[:, 0]])) <= {-1.0}
    assert set(np.unique(out[:, 1][out[:, 1] != x[:, 1]])) <= {-2.0}
    np.testing.assert_array_equal(RandomErasing(p=0.0)(x), x)
    rnd = RandomErasing(p=1.0, value="random", generator=_gen(2))(x)
    changed = rnd[rnd != x]
    assert changed.size > 0 and changed.min() < 0  # N(0, 1) noise, not a constant
    y = x.copy()
    assert RandomErasing(p=1.0, inplace=True)(y) is y and not np.array_equal(y, x)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RandomErasing(p=2)
    with pytest.raises(ValueError, match="min, max"):
        RandomErasing(scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="2 values but the images have 3 channels"):
        RandomErasing(p=1.0, value=(1, 2))(_images(2, 3, 8, 8))


# ------------------------------------------------------------------ seeding and batch/single consistency
@pytest.mark.parametrize("make", RANDOM)
def test_seeded_repeatable_and_seed_dependent(make):
    x = _images(16, 3, 8, 8)
    a, b, c = make(_gen(7))(x), make(_gen(7))(x), make(_gen(8))(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    lamina.manual_seed(3)
    d = make(None)(x)
    lamina.manual_seed(3)
    np.testing.assert_array_equal(d, make(None)(x))


@pytest.mark.parametrize("make", RANDOM)
def test_batch_equals_per_sample_with_the_same_params(make):
    x = _images(5, 3, 8, 8)
    t = make(_gen(5))
    p = t.get_params(x)
    batch = t.apply(x, p)
    for i in range(5):
        pi = {k: v[i:i + 1] for k, v in p.items()}
        np.testing.assert_allclose(t.apply(x[i], pi), batch[i], atol=1e-6)  # (C, H, W) image in, image out
    one = make(_gen(9))(lamina.tensor(x[0]))
    assert isinstance(one, lamina.Tensor) and one.ndim == 3
    np.testing.assert_array_equal(one.numpy(), make(_gen(9))(x[:1])[0])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9), pad=st.integers(0, 3),
       seed=st.integers(0, 100))
def test_crop_flip_shapes_property(n, c, h, w, pad, seed):
    x = np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)
    size = (max(1, h - 1), max(1, w - 2))
    out = Compose([RandomCrop(size, padding=pad, generator=_gen(seed)), RandomHorizontalFlip(generator=_gen(seed))])(x)
    assert out.shape == (n, c) + size and out.dtype == np.float32
    if pad == 0:  # every output value comes from the input
        assert np.isin(out, x).all()


# ------------------------------------------------------------------ applying to training data
def test_transform_dataset_keeps_fast_path_and_transforms_batches():
    x, y = _images(10, 1, 4, 4), np.arange(10)
    ds = TransformDataset(TensorDataset(x, y), RandomHorizontalFlip(p=1.0), target_transform=lambda t: t * 2)
    assert callable(ds.get_batch)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(xb.numpy(), x[:4, :, :, ::-1])
    assert yb.numpy().tolist() == [0, 2, 4, 6]
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3.numpy(), x[3, :, :, ::-1])
    assert int(y3.item()) == 6
    per_sample = TransformDataset(TensorDataset(x, y), RandomHorizontalFlip(p=1.0), batched=False)
    assert not hasattr(per_sample, "get_batch")
    xb2, _ = next(iter(DataLoader(per_sample, batch_size=4)))
    np.testing.assert_array_equal(xb2.numpy(), xb.numpy())


def test_augmented_loader_transforms_inputs_only_and_delegates():
    x, y = _images(10, 1, 4, 4), np.arange(10)
    plain = DataLoader(TensorDataset(x, y), batch_size=3)
    aug = AugmentedLoader(plain, Compose([RandomHorizontalFlip(p=1.0), Normalize(0.5, 0.5)]))
    batches = list(aug)
    assert len(aug) == len(batches) == 4 and aug.batch_size == 3 and aug.dataset is plain.dataset
    np.testing.assert_allclose(np.concatenate([b[0].numpy() for b in batches]), (x[:, :, :, ::-1] - 0.5) / 0.5)
    assert np.concatenate([b[1].numpy() for b in batches]).tolist() == list(range(10))
    assert aug.state_dict()["epoch"] == 1
    bare = AugmentedLoader(DataLoader(TensorDataset(x), batch_size=5, collate_fn=lambda s: s[0][0]), Normalize(0, 2))
    assert isinstance(next(iter(bare)), lamina.Tensor)  # a bare input (no labels) is transformed too
