"""GANs: DCGAN and MLP generators and discriminators, unconditional or conditional, and the GAN
that holds one of each.

    x_fake = G(z [, y]),  z ~ N(0, I)           (images in [-1, 1]: a tanh output)
    logit  = D(x [, y])                          (one unnormalised score per image, shape (N,))

DCGAN (Radford et al. 2016): the generator grows a 1x1 code into an image with transposed
convolutions (kernel 4, stride 2, padding 1 doubles the size), BatchNorm and ReLU; the
discriminator shrinks it back with strided convolutions, BatchNorm (not on the first layer) and
LeakyReLU(0.2). Conditional GANs (Mirza & Osindero 2014) take a class label in both nets: the
generator concatenates a learned class embedding to z, the discriminator reads it as one more
input (an extra image channel for the DCGAN, extra features for the MLP).

>>> gan = GAN("dcgan", latent_dim=100, image_shape=(1, 28, 28), num_classes=10)
>>> gan.sample(16, labels=lamina.arange(16) % 10).shape     # (16, 1, 28, 28)
"""
from __future__ import annotations

import math
import numbers

from ..autograd import no_grad
from ..nn import init
from ..nn.containers import Sequential
from ..nn.layers.activation import LeakyReLU, ReLU, Tanh
from ..nn.layers.conv import Conv2d, ConvTranspose2d
from ..nn.layers.dropout import Dropout
from ..nn.layers.embedding import Embedding
from ..nn.layers.linear import Linear
from ..nn.layers.normalization import BatchNorm2d, GroupNorm
from ..nn.module import Module
from ..ops.creation import randn
from ..ops.shape import cat
from ..tensor import Tensor
from .registry import Configurable, register_model

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator", "GAN", "ConditionalGAN",
           "dcgan_init_", "image_grid"]

_NORMS = ("batch", "layer", "none")


def _pos_int(owner, name, v):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")
    return int(v)


def _image_shape(owner, shape):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if len(shape) != 3:
        raise ValueError(f"{owner}: image_shape must be (channels, height, width), got {shape!r}")
    return tuple(_pos_int(owner, "image_shape", s) for s in shape)


def _up_plan(owner, size):
    """(start size s0, number of doublings n): size = s0 * 2**n with 3 <= s0 <= 7 (28 -> 7, 2; 32 -> 4, 3)."""
    s, n = int(size), 0
    while s % 2 == 0 and s > 7:
        s, n = s // 2, n + 1
    if n == 0 or s < 3:
        raise ValueError(f"{owner}: image size {size} must be s * 2**n with n >= 1 and 3 <= s <= 7 "
                         f"(8, 12, 14, 16, 28, 32, 64, ...)")
    return s, n


def _check_labels(owner, labels, num_classes, n):
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"{owner}: this network is unconditional (num_classes=None) but labels were given")
        return None
    if labels is None:
        raise ValueError(f"{owner}(num_classes={num_classes}): a conditional network needs labels of shape ({n},)")
    if not isinstance(labels, Tensor):
        raise TypeError(f"{owner}: labels must be an integer Tensor, got {type(labels).__name__}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{owner}: labels must be integer class indices, got dtype {labels.dtype}")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"{owner}: labels must have shape ({n},) (one per sample), got {tuple(labels.shape)}")
    if n:
        lo, hi = int(labels.array.min()), int(labels.array.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{owner}: label {bad} is outside the classes 0..{num_classes - 1}")
    return labels


def dcgan_init_(module: Module, generator=None) -> Module:
    """DCGAN's initialisation, in place: conv / linear weights ~ N(0, 0.02), norm weights ~ N(1, 0.02),
    biases 0 (embeddings keep theirs). Returns ``module``."""
    for m in module.modules():
        if isinstance(m, (Conv2d, ConvTranspose2d, Linear)):
            init.normal_(m.weight, 0.0, 0.02, generator=generator)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (BatchNorm2d, GroupNorm)) and m.weight is not None:
            init.normal_(m.weight, 1.0, 0.02, generator=generator)
            init.zeros_(m.bias)
    return module


def _norm(kind, channels):
    return BatchNorm2d(channels) if kind == "batch" else GroupNorm(1, channels)


class _Conditional(Configurable, Module):
    """Shared by the four nets: the optional class embedding and the label check."""

    num_classes = None

    def _make_embedding(self, num_classes, embedding_dim, default_dim):
        self.num_classes = None if num_classes is None else _pos_int(type(self).__name__, "num_classes", num_classes)
        if self.num_classes is None:
            self.embedding_dim = None if embedding_dim is None else int(embedding_dim)
            return 0
        dim = default_dim if embedding_dim is None else _pos_int(type(self).__name__, "embedding_dim", embedding_dim)
        self.embedding_dim = None if embedding_dim is None else dim
        self.embedding = Embedding(self.num_classes, dim)
        return dim

    def _labels(self, labels, n):
        return _check_labels(type(self).__name__, labels, self.num_classes, n)


class DCGANGenerator(_Conditional):
    """DCGAN generator: z (N, latent_dim) [+ labels (N,)] -> images (N, C, H, W) in [-1, 1].

        h = [z, embed(y)] as (N, d, 1, 1);  ConvT(d -> c0, kernel s0) BN ReLU;
        n - 1 times ConvT(c -> c/2, 4, 2, 1) BN ReLU;  ConvT(-> C, 4, 2, 1) tanh

    with image size s0 * 2**n (28 = 7 * 2**2) and c0 = base_channels * 2**(n - 1).

    Args:
        latent_dim: size of z.  out_channels, image_size: the images made (square).
        base_channels: width of the last hidden layer (doubling towards the input).
        num_classes: None (unconditional) or the number of classes of the labels.
        embedding_dim: size of the class embedding (default: num_classes).
        init: 'dcgan' (N(0, 0.02) weights, as the paper) or 'default' (PyTorch's per-layer default).
    """

    def __init__(self, latent_dim: int = 100, out_channels: int = 1, image_size: int = 28, base_channels: int = 64,
                 num_classes: int | None = None, embedding_dim: int | None = None, init: str = "dcgan"):
        super().__init__()
        owner = "DCGANGenerator"
        self.latent_dim = _pos_int(owner, "latent_dim", latent_dim)
        self.out_channels = _pos_int(owner, "out_channels", out_channels)
        self.image_size = _pos_int(owner, "image_size", image_size)
        self.base_channels = _pos_int(owner, "base_channels", base_channels)
        if init not in ("dcgan", "default"):
            raise ValueError(f"{owner}: init must be 'dcgan' or 'default', got {init!r}")
        self.init = init
        emb = self._make_embedding(num_classes, embedding_dim, num_classes)
        s0, n = _up_plan(owner, self.image_size)
        c = self.base_channels * 2 ** (n - 1)
        layers = [ConvTranspose2d(self.latent_dim + emb, c, s0, 1, 0, bias=False), BatchNorm2d(c), ReLU()]
        for _ in range(n - 1):
            layers += [ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), BatchNorm2d(c // 2), ReLU()]
            c //= 2
        layers += [ConvTranspose2d(c, self.out_channels, 4, 2, 1), Tanh()]
        self.net = Sequential(*layers)
        if init == "dcgan":
            dcgan_init_(self.net)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"DCGANGenerator(latent_dim={self.latent_dim}): z must have shape (N, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        labels = self._labels(labels, z.shape[0])
        h = z if labels is None else cat([z, self.embedding(labels)], 1)
        return self.net(h.reshape(h.shape[0], h.shape[1], 1, 1))


class DCGANDiscriminator(_Conditional):
    """DCGAN discriminator: images (N, C, H, W) [+ labels (N,)] -> logits (N,).

        [x, embed(y) as an (N, 1, H, W) channel];  Conv(-> b, 4, 2, 1) LeakyReLU(0.2);
        n - 1 times Conv(c -> 2c, 4, 2, 1) norm LeakyReLU(0.2);  Conv(-> 1, kernel s0)

    Args:
        in_channels, image_size: the images judged (square, size s0 * 2**n).
        base_channels: width of the first layer (doubling with depth).
        num_classes: None (unconditional) or the number of classes; the label becomes a learned
            image-sized channel (an embedding of size image_size**2).
        norm: 'batch' (DCGAN), 'layer' (GroupNorm(1, c): per sample, as WGAN-GP's critic needs,
            since a gradient penalty is per sample) or 'none'.
        init: 'dcgan' or 'default', as the generator's.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, base_channels: int = 64,
                 num_classes: int | None = None, norm: str = "batch", init: str = "dcgan"):
        super().__init__()
        owner = "DCGANDiscriminator"
        self.in_channels = _pos_int(owner, "in_channels", in_channels)
        self.image_size = _pos_int(owner, "image_size", image_size)
        self.base_channels = _pos_int(owner, "base_channels", base_channels)
        if norm not in _NORMS:
            raise ValueError(f"{owner}: norm must be one of {', '.join(_NORMS)}, got {norm!r}")
        if init not in ("dcgan", "default"):
            raise ValueError(f"{owner}: init must be 'dcgan' or 'default', got {init!r}")
        self.norm, self.init = norm, init
        extra = 1 if self._make_embedding(num_classes, None, self.image_size ** 2) else 0
        s0, n = _up_plan(owner, self.image_size)
        c = self.base_channels
        layers = [Conv2d(self.in_channels + extra, c, 4, 2, 1), LeakyReLU(0.2)]
        for _ in range(n - 1):
            layers.append(Conv2d(c, 2 * c, 4, 2, 1, bias=norm == "none"))
            if norm != "none":
                layers.append(_norm(norm, 2 * c))
            layers.append(LeakyReLU(0.2))
            c *= 2
        layers.append(Conv2d(c, 1, s0, 1, 0))
        self.net = Sequential(*layers)
        if init == "dcgan":
            dcgan_init_(self.net)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        shape = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"DCGANDiscriminator: images must have shape (N, {', '.join(map(str, shape))}), "
                             f"got {tuple(x.shape)}")
        labels = self._labels(labels, x.shape[0])
        if labels is not None:
            s = self.image_size
            x = cat([x, self.embedding(labels).reshape(x.shape[0], 1, s, s)], 1)
        return self.net(x).reshape(x.shape[0])


class MLPGenerator(_Conditional):
    """MLP generator: z (N, latent_dim) [+ labels] -> images (N, *image_shape) in [-1, 1].

        h = [z, embed(y)];  (Linear LeakyReLU(0.2)) per hidden size;  Linear tanh;  reshape

    Args: latent_dim, image_shape (C, H, W), hidden_sizes, num_classes (None: unconditional),
    embedding_dim (default num_classes).
    """

    def __init__(self, latent_dim: int = 32, image_shape=(1, 28, 28), hidden_sizes=(256, 256),
                 num_classes: int | None = None, embedding_dim: int | None = None):
        super().__init__()
        owner = "MLPGenerator"
        self.latent_dim = _pos_int(owner, "latent_dim", latent_dim)
        self.image_shape = _image_shape(owner, image_shape)
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        self.hidden_sizes = tuple(_pos_int(owner, "hidden_sizes", h) for h in hidden)
        width = self.latent_dim + self._make_embedding(num_classes, embedding_dim, num_classes)
        layers = []
        for h in self.hidden_sizes:
            layers += [Linear(width, h), LeakyReLU(0.2)]
            width = h
        layers += [Linear(width, math.prod(self.image_shape)), Tanh()]
        self.net = Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"MLPGenerator(latent_dim={self.latent_dim}): z must have shape (N, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        labels = self._labels(labels, z.shape[0])
        h = z if labels is None else cat([z, self.embedding(labels)], 1)
        return self.net(h).reshape(z.shape[0], *self.image_shape)


class MLPDiscriminator(_Conditional):
    """MLP discriminator: images (N, *image_shape) [+ labels] -> logits (N,).

        h = [flatten(x), embed(y)];  (Linear LeakyReLU(0.2) [Dropout]) per hidden size;  Linear(-> 1)

    Args: image_shape (C, H, W), hidden_sizes, num_classes (None: unconditional), embedding_dim
    (default num_classes), dropout.
    """

    def __init__(self, image_shape=(1, 28, 28), hidden_sizes=(256, 256), num_classes: int | None = None,
                 embedding_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        owner = "MLPDiscriminator"
        self.image_shape = _image_shape(owner, image_shape)
        hidden = [hidden_sizes] if isinstance(hidden_sizes, numbers.Integral) else list(hidden_sizes)
        self.hidden_sizes = tuple(_pos_int(owner, "hidden_sizes", h) for h in hidden)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        width = math.prod(self.image_shape) + self._make_embedding(num_classes, embedding_dim, num_classes)
        layers = []
        for h in self.hidden_sizes:
            layers += [Linear(width, h), LeakyReLU(0.2)] + ([Dropout(dropout)] if dropout else [])
            width = h
        layers.append(Linear(width, 1))
        self.net = Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if x.ndim < 2 or math.prod(x.shape[1:]) != math.prod(self.image_shape):
            raise ValueError(f"MLPDiscriminator(image_shape={self.image_shape}): images must have "
                             f"{math.prod(self.image_shape)} values each, got shape {tuple(x.shape)}")
        labels = self._labels(labels, x.shape[0])
        h = x.reshape(x.shape[0], -1)
        if labels is not None:
            h = cat([h, self.embedding(labels)], 1)
        return self.net(h).reshape(x.shape[0])


@register_model("gan")
class GAN(Configurable, Module):
    """A generator and a discriminator (``.generator``, ``.discriminator``), trained by ``GANTrainer``.

    ``forward(z, labels)`` is the generator; ``discriminate(x, labels)`` the discriminator;
    ``sample(n, labels)`` draws z ~ N(0, I) and generates in eval mode without a graph.

    Args:
        arch: 'dcgan' (transposed-conv generator, strided-conv discriminator) or 'mlp'.
        latent_dim: size of z.
        image_shape: (C, H, W) of the images (square with H = s * 2**n for 'dcgan').
        num_classes: None, or the number of classes for a conditional GAN (labels in both nets).
        embedding_dim: class-embedding size in the generator (and the MLP discriminator).
        base_channels: DCGAN width.  hidden_sizes: MLP widths (both nets).
        d_norm: the DCGAN discriminator's normalisation: 'batch', 'layer' (for WGAN-GP) or 'none'.
        init: DCGAN initialisation, 'dcgan' or 'default'.
    """

    def __init__(self, arch: str = "dcgan", latent_dim: int = 100, image_shape=(1, 28, 28),
                 num_classes: int | None = None, embedding_dim: int | None = None, base_channels: int = 64,
                 hidden_sizes=(256, 256), d_norm: str = "batch", init: str = "dcgan"):
        super().__init__()
        if arch not in ("dcgan", "mlp"):
            raise ValueError(f"GAN: arch must be 'dcgan' or 'mlp', got {arch!r}")
        self.arch, self.d_norm, self.init = arch, d_norm, init
        self.image_shape = _image_shape("GAN", image_shape)
        self.latent_dim = _pos_int("GAN", "latent_dim", latent_dim)
        self.num_classes, self.embedding_dim = num_classes, embedding_dim
        self.base_channels = base_channels
        self.hidden_sizes = (hidden_sizes,) if isinstance(hidden_sizes, numbers.Integral) else tuple(hidden_sizes)
        c, h, w = self.image_shape
        if arch == "dcgan":
            if h != w:
                raise ValueError(f"GAN('dcgan'): images must be square, got image_shape {self.image_shape}")
            self.generator = DCGANGenerator(latent_dim, c, h, base_channels, num_classes, embedding_dim, init)
            self.discriminator = DCGANDiscriminator(c, h, base_channels, num_classes, d_norm, init)
        else:
            if d_norm not in _NORMS:
                raise ValueError(f"GAN: d_norm must be one of {', '.join(_NORMS)}, got {d_norm!r}")
            self.generator = MLPGenerator(latent_dim, self.image_shape, self.hidden_sizes, num_classes, embedding_dim)
            self.discriminator = MLPDiscriminator(self.image_shape, self.hidden_sizes, num_classes, embedding_dim)

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.generator(z, labels)

    def discriminate(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.discriminator(x, labels)

    def sample_noise(self, n: int, generator=None, dtype=None, device=None) -> Tensor:
        """z ~ N(0, I) of shape (n, latent_dim)."""
        return randn(_pos_int("GAN.sample", "n", n), self.latent_dim, generator=generator, dtype=dtype,
                     device=device)

    def sample(self, n: int, labels=None, generator=None, z: Tensor | None = None) -> Tensor:
        """``n`` generated images (N, C, H, W) in [-1, 1], in eval mode, without a graph.

        ``labels``: class indices (n,) or one int for all (conditional GANs only); ``z``: the
        latent codes to use instead of drawing them from ``generator``.
        """
        if z is None:
            p = next(self.generator.parameters())
            z = self.sample_noise(n, generator, dtype=p.dtype, device=p.device)
        elif tuple(z.shape) != (n, self.latent_dim):
            raise ValueError(f"GAN.sample: z must have shape ({n}, {self.latent_dim}), got {tuple(z.shape)}")
        if isinstance(labels, numbers.Integral) and not isinstance(labels, bool):
            if self.num_classes is not None and not 0 <= labels < self.num_classes:
                raise ValueError(f"GAN.sample: label {labels} is outside the classes 0..{self.num_classes - 1}")
            labels = Tensor._wrap(z.xp.full((n,), int(labels), dtype="int64"))
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                return self.generator(z, labels)
        finally:
            self.train(was_training)

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, latent_dim={self.latent_dim}, image_shape={self.image_shape}, " \
               f"num_classes={self.num_classes}"


@register_model("cgan")
class ConditionalGAN(GAN):
    """A conditional GAN (class embeddings in both nets): ``GAN`` with ``num_classes`` set (default
    10) and the MLP architecture by default."""

    def __init__(self, arch: str = "mlp", latent_dim: int = 32, image_shape=(1, 28, 28), num_classes: int = 10,
                 embedding_dim: int | None = None, base_channels: int = 64, hidden_sizes=(256, 256),
                 d_norm: str = "batch", init: str = "dcgan"):
        if num_classes is None:
            raise ValueError("ConditionalGAN: num_classes must be a positive int (use GAN for an unconditional one)")
        super().__init__(arch, latent_dim, image_shape, num_classes, embedding_dim, base_channels, hidden_sizes,
                         d_norm, init)


register_model("dcgan", GAN, arch="dcgan", description="DCGAN: transposed-conv generator, strided-conv discriminator")
register_model("mlp_gan", GAN, arch="mlp", description="GAN with MLP generator and discriminator")
register_model("wgan_gp", GAN, arch="dcgan", d_norm="layer",
               description="DCGAN nets for WGAN-GP: a layer-normalised critic (train with GANTrainer(loss='wgan-gp'))")


def image_grid(images, nrow: int = 8, padding: int = 2, value_range=(-1.0, 1.0)):
    """Tile images (N, C, H, W) into one NumPy array (H', W') for C == 1 or (H', W', C), values in [0, 1].

    ``value_range`` is mapped to [0, 1] (GAN outputs are in [-1, 1]); rows of ``nrow`` images,
    ``padding`` pixels of 0 between them.
    >>> image_grid(gan.sample(64)).shape     # (82, 82) for 28x28 digits
    """
    import numpy as np

    a = images.detach().numpy() if isinstance(images, Tensor) else np.asarray(images)
    if a.ndim != 4:
        raise ValueError(f"image_grid: images must be (N, C, H, W), got shape {a.shape}")
    lo, hi = value_range
    a = np.clip((a.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)
    n, c, h, w = a.shape
    cols = min(int(nrow), n)
    rows = -(-n // cols)
    cells = np.zeros((rows * cols, c, h + padding, w + padding), np.float32)
    cells[:n, :, :h, :w] = a
    grid = cells.reshape(rows, cols, c, h + padding, w + padding).transpose(2, 0, 3, 1, 4)
    grid = np.pad(grid.reshape(c, rows * (h + padding), cols * (w + padding)), ((0, 0), (padding, 0), (padding, 0)))
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)
