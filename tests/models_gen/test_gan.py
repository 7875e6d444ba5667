"""GAN models and losses: shapes, configs, errors, PyTorch parity of the nets and the losses, and the
WGAN-GP gradient penalty (value and parameter gradients, a second-order gradient) against
torch.autograd.grad(create_graph=True)."""
import numpy as np
import pytest
from helpers import gradcheck

import lamina
from lamina.models import (GAN, ConditionalGAN, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator,
                           create_model, image_grid)
from lamina.nn.gan_losses import discriminator_loss, generator_loss, gradient_penalty, wasserstein_critic_loss

torch = pytest.importorskip("torch")
tnn = torch.nn


# ---------------------------------------------------------------- torch twins of the nets (same state_dict keys)
def torch_dcgan_g(latent, c_out, base, n_up, s0, num_classes=None, emb=None):
    class G(tnn.Module):
        def __init__(self):
            super().__init__()
            c = base * 2 ** (n_up - 1)
            d = latent + (emb or 0)
            if num_classes:
                self.embedding = tnn.Embedding(num_classes, emb)
            layers = [tnn.ConvTranspose2d(d, c, s0, 1, 0, bias=False), tnn.BatchNorm2d(c), tnn.ReLU()]
            for _ in range(n_up - 1):
                layers += [tnn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(c // 2), tnn.ReLU()]
                c //= 2
            layers += [tnn.ConvTranspose2d(c, c_out, 4, 2, 1), tnn.Tanh()]
            self.net = tnn.Sequential(*layers)

        def forward(self, z, y=None):
            h = z if y is None else torch.cat([z, self.embedding(y)], 1)
            return self.net(h.reshape(len(h), -1, 1, 1))
    return G()


def torch_dcgan_d(c_in, size, base, n_up, s0, norm="batch", num_classes=None):
    class D(tnn.Module):
        def __init__(self):
            super().__init__()
            if num_classes:
                self.embedding = tnn.Embedding(num_classes, size * size)
            c = base
            layers = [tnn.Conv2d(c_in + (1 if num_classes else 0), c, 4, 2, 1), tnn.LeakyReLU(0.2)]
            for _ in range(n_up - 1):
                layers.append(tnn.Conv2d(c, 2 * c, 4, 2, 1, bias=norm == "none"))
                if norm == "batch":
                    layers.append(tnn.BatchNorm2d(2 * c))
                elif norm == "layer":
                    layers.append(tnn.GroupNorm(1, 2 * c))
                layers.append(tnn.LeakyReLU(0.2))
                c *= 2
            layers.append(tnn.Conv2d(c, 1, s0, 1, 0))
            self.net = tnn.Sequential(*layers)

        def forward(self, x, y=None):
            if y is not None:
                x = torch.cat([x, self.embedding(y).reshape(len(x), 1, size, size)], 1)
            return self.net(x).reshape(-1)
    return D()


def torch_mlp_d(in_features, hidden, num_classes=None, emb=None):
    class D(tnn.Module):
        def __init__(self):
            super().__init__()
            if num_classes:
                self.embedding = tnn.Embedding(num_classes, emb)
            w, layers = in_features + (emb or 0), []
            for h in hidden:
                layers += [tnn.Linear(w, h), tnn.LeakyReLU(0.2)]
                w = h
            self.net = tnn.Sequential(*layers, tnn.Linear(w, 1))

        def forward(self, x, y=None):
            h = x.reshape(len(x), -1)
            if y is not None:
                h = torch.cat([h, self.embedding(y)], 1)
            return self.net(h).reshape(-1)
    return D()


def copy_into(torch_module, lamina_module, dtype=torch.float64):
    sd = {k: torch.tensor(np.array(v.numpy())) for k, v in lamina_module.state_dict().items()}
    torch_module.load_state_dict(sd)
    return torch_module.to(dtype)


# ---------------------------------------------------------------- shapes, configs, registry
@pytest.mark.parametrize("arch,shape", [("dcgan", (1, 28, 28)), ("dcgan", (3, 16, 16)), ("mlp", (1, 8, 8))])
@pytest.mark.parametrize("num_classes", [None, 4])
def test_shapes_and_sample(arch, shape, num_classes):
    lamina.manual_seed(0)
    gan = GAN(arch, latent_dim=6, image_shape=shape, num_classes=num_classes, base_channels=4, hidden_sizes=(8,))
    y = lamina.tensor(np.array([0, 1, 3])) if num_classes else None
    x = gan(lamina.randn(3, 6), y)
    assert tuple(x.shape) == (3, *shape)
    assert float(x.abs().max()) <= 1.0  # tanh output
    assert tuple(gan.discriminate(x, y).shape) == (3,)
    gan.train()
    s = gan.sample(5, labels=2 if num_classes else None, generator=lamina.Generator().manual_seed(1))
    assert tuple(s.shape) == (5, *shape) and not s.requires_grad and gan.training
    s2 = gan.sample(5, labels=2 if num_classes else None, generator=lamina.Generator().manual_seed(1))
    np.testing.assert_array_equal(s.numpy(), s2.numpy())


def test_dcgan_layer_plan():
    g = DCGANGenerator(latent_dim=10, image_size=32, base_channels=8)
    convs = [m for m in g.modules() if isinstance(m, lamina.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (10, 32, (4, 4), (1, 1)), (32, 16, (4, 4), (2, 2)), (16, 8, (4, 4), (2, 2)), (8, 1, (4, 4), (2, 2))]
    d = DCGANDiscriminator(image_size=28, base_channels=8)
    convs = [m for m in d.modules() if isinstance(m, lamina.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [(1, 8, (4, 4)), (8, 16, (4, 4)),
                                                                                (16, 1, (7, 7))]
    assert sum(isinstance(m, lamina.nn.BatchNorm2d) for m in d.modules()) == 1
    assert sum(isinstance(m, lamina.nn.LeakyReLU) for m in d.modules()) == 2
    w = np.concatenate([m.weight.detach().numpy().ravel() for m in convs])
    assert abs(w.std() - 0.02) < 0.004  # DCGAN init N(0, 0.02)


def test_config_round_trip_and_registry():
    for name, kw in [("dcgan", {"latent_dim": 8, "base_channels": 4}), ("mlp_gan", {"hidden_sizes": [16]}),
                     ("cgan", {"image_shape": [1, 8, 8], "hidden_sizes": [16]}), ("wgan_gp", {"base_channels": 4}),
                     ("gan", {"arch": "mlp", "num_classes": 3, "hidden_sizes": [16]})]:
        lamina.manual_seed(0)
        m = create_model(name, **kw)
        cfg = m.get_config()
        lamina.manual_seed(0)
        m2 = type(m).from_config(cfg)
        assert m2.get_config() == cfg
        for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
            assert k == k2 and np.array_equal(a.numpy(), b.numpy())
    assert create_model("cgan").num_classes == 10 and create_model("cgan").arch == "mlp"
    assert create_model("wgan_gp", base_channels=4).discriminator.norm == "layer"
    assert DCGANGenerator.from_config(DCGANGenerator(8, image_size=16).get_config()).image_size == 16
    with pytest.raises(ValueError, match="unknown config key 'latent_dims'.*did you mean 'latent_dim'"):
        create_model("dcgan", latent_dims=3)


def test_errors():
    g = MLPGenerator(4, (1, 8, 8), (8,), num_classes=3)
    with pytest.raises(ValueError, match=r"z must have shape \(N, 4\), got \(2, 5\)"):
        g(lamina.randn(2, 5), lamina.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="needs labels"):
        g(lamina.randn(2, 4))
    with pytest.raises(ValueError, match="label 3 is outside the classes 0..2"):
        g(lamina.randn(2, 4), lamina.tensor(np.array([0, 3])))
    with pytest.raises(TypeError, match="integer class indices"):
        g(lamina.randn(2, 4), lamina.tensor(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="unconditional"):
        MLPDiscriminator((1, 8, 8), (8,))(lamina.randn(2, 1, 8, 8), lamina.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, 16, 16\)"):
        DCGANDiscriminator(image_size=16, base_channels=2)(lamina.randn(2, 1, 8, 8))
    for size in (9, 4):
        with pytest.raises(ValueError, match=f"image size {size} must be"):
            DCGANGenerator(image_size=size)
    with pytest.raises(ValueError, match="norm must be one of"):
        DCGANDiscriminator(norm="instance")
    with pytest.raises(ValueError, match="arch must be"):
        GAN("vae")
    with pytest.raises(ValueError, match="label 12 is outside the classes 0..9"):
        ConditionalGAN(image_shape=(1, 8, 8), hidden_sizes=(8,)).sample(2, labels=12)
    with pytest.raises(ValueError, match=r"z must have shape \(2, 32\)"):
        ConditionalGAN(image_shape=(1, 8, 8), hidden_sizes=(8,)).sample(2, labels=1, z=lamina.randn(2, 3))


def test_image_grid_layout():
    imgs = np.stack([np.full((1, 2, 3), v, np.float32) for v in (-1.0, 0.0, 1.0)])
    g = image_grid(imgs, nrow=2, padding=1)
    assert g.shape == (1 + 2 * 3, 1 + 2 * 4)
    np.testing.assert_array_equal(g[1:3, 1:4], 0.0)     # -1 -> 0
    np.testing.assert_array_equal(g[1:3, 5:8], 0.5)     # 0 -> 0.5
    np.testing.assert_array_equal(g[4:6, 1:4], 1.0)     # 1 -> 1
    np.testing.assert_array_equal(g[4:6, 5:8], 0.0)     # empty cell
    assert g[0].max() == 0 and g[:, 0].max() == 0 and g[3].max() == 0  # padding
    assert image_grid(np.zeros((4, 3, 2, 2)), nrow=2).shape == (10, 10, 3)


# ---------------------------------------------------------------- PyTorch parity of the nets
@pytest.mark.parametrize("num_classes", [None, 3])
def test_dcgan_nets_match_torch(num_classes):
    lamina.manual_seed(1)
    g = DCGANGenerator(5, 2, 16, 4, num_classes=num_classes, embedding_dim=3 if num_classes else None).double()
    d = DCGANDiscriminator(2, 16, 4, num_classes=num_classes).double()
    tg = copy_into(torch_dcgan_g(5, 2, 4, 2, 4, num_classes, 3 if num_classes else None), g)
    td = copy_into(torch_dcgan_d(2, 16, 4, 2, 4, "batch", num_classes), d)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5))
    y = rng.integers(0, 3, 6) if num_classes else None
    ly, ty = (lamina.tensor(y), torch.tensor(y)) if num_classes else (None, None)
    x = g(lamina.tensor(z), ly)
    tx = tg(torch.tensor(z), ty)
    np.testing.assert_allclose(x.detach().numpy(), tx.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(d(x, ly).detach().numpy(), td(tx, ty).detach().numpy(), atol=1e-10)


# ---------------------------------------------------------------- losses
def test_losses_match_torch_and_gradcheck():
    rng = np.random.default_rng(0)
    r, f = rng.standard_normal(7) * 2, rng.standard_normal(5) * 2
    lr_, lf = lamina.tensor(r, requires_grad=True), lamina.tensor(f, requires_grad=True)
    tr_, tf = torch.tensor(r, requires_grad=True), torch.tensor(f, requires_grad=True)
    bce = tnn.functional.binary_cross_entropy_with_logits
    cases = {
        "non_saturating": (bce(tr_, torch.ones(7, dtype=torch.float64)) + bce(tf, torch.zeros(5, dtype=torch.float64)),
                           bce(tf, torch.ones(5, dtype=torch.float64))),
        "hinge": (torch.relu(1 - tr_).mean() + torch.relu(1 + tf).mean(), -tf.mean()),
        "wasserstein": (tf.mean() - tr_.mean(), -tf.mean()),
    }
    for kind, (td_, tg_) in cases.items():
        d = discriminator_loss(lr_, lf, kind)
        g = generator_loss(lf, kind)
        np.testing.assert_allclose(float(d), td_.item(), rtol=1e-12)
        np.testing.assert_allclose(float(g), tg_.item(), rtol=1e-12)
        ga = lamina.grad(d, [lr_, lf])
        gt = torch.autograd.grad(td_, [tr_, tf])
        for a, b in zip(ga, gt):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)
        gradcheck(lambda a, b, kind=kind: discriminator_loss(a, b, kind) + generator_loss(b, kind), r, f)
    assert float(wasserstein_critic_loss(lr_, lf)) == pytest.approx(f.mean() - r.mean())
    assert float(discriminator_loss(lr_, lf, "ns")) == float(discriminator_loss(lr_, lf, "bce"))
    with pytest.raises(ValueError, match="unknown kind 'lsgan'"):
        discriminator_loss(lr_, lf, "lsgan")
    with pytest.raises(TypeError, match="must be a Tensor"):
        generator_loss(f)


def _gp_torch(td, real, fake, eps, *args):
    e = torch.tensor(eps).reshape(-1, *([1] * (real.ndim - 1)))
    x_hat = (e * torch.tensor(real) + (1 - e) * torch.tensor(fake)).requires_grad_(True)
    g, = torch.autograd.grad(td(x_hat, *args).sum(), x_hat, create_graph=True)
    gp = ((g.reshape(len(g), -1).norm(2, dim=1) - 1) ** 2).mean()
    params = list(td.parameters())
    grads = torch.autograd.grad(gp, params, allow_unused=True)
    return gp.item(), [np.zeros(tuple(p.shape)) if gr is None else gr.numpy() for gr, p in zip(grads, params)]


def _gp_lamina(d, real, fake, eps, *args):
    gp = gradient_penalty(d, lamina.tensor(real), lamina.tensor(fake), *args, epsilon=lamina.tensor(eps))
    params = [p for _, p in d.named_parameters()]
    grads = lamina.grad(gp, params, allow_unused=True)
    return float(gp), [np.zeros(p.shape) if gr is None else gr.numpy() for gr, p in zip(grads, params)]


@pytest.mark.parametrize("norm,num_classes", [("layer", None), ("batch", 3), ("none", None)])
def test_gradient_penalty_matches_torch_dcgan_critic(norm, num_classes):
    lamina.manual_seed(2)
    d = DCGANDiscriminator(1, 16, 3, num_classes=num_classes, norm=norm, init="default").double()
    td = copy_into(torch_dcgan_d(1, 16, 3, 2, 4, norm, num_classes), d)
    rng = np.random.default_rng(1)
    real, fake, eps = rng.standard_normal((5, 1, 16, 16)), rng.standard_normal((5, 1, 16, 16)), rng.random(5)
    y = rng.integers(0, 3, 5)
    largs, targs = ((lamina.tensor(y),), (torch.tensor(y),)) if num_classes else ((), ())
    v, grads = _gp_lamina(d, real, fake, eps, *largs)
    tv, tgrads = _gp_torch(td, real, fake, eps, *targs)
    assert abs(v - tv) <= 1e-5 * max(1.0, abs(tv)) and v > 0
    assert [n for n, _ in d.named_parameters()] == [n for n, _ in td.named_parameters()]
    for a, b in zip(grads, tgrads):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    assert any(np.abs(a).max() > 1e-3 for a in grads)


def test_gradient_penalty_matches_torch_conditional_mlp_critic_float32():
    lamina.manual_seed(3)
    d = MLPDiscriminator((1, 4, 4), (12, 12), num_classes=4, embedding_dim=3)
    td = copy_into(torch_mlp_d(16, (12, 12), 4, 3), d, torch.float32)
    rng = np.random.default_rng(2)
    real, fake = (rng.standard_normal((6, 1, 4, 4)).astype(np.float32) for _ in range(2))
    eps, y = rng.random(6).astype(np.float32), rng.integers(0, 4, 6)
    v, grads = _gp_lamina(d, real, fake, eps, lamina.tensor(y))
    tv, tgrads = _gp_torch(td, real, fake, eps, torch.tensor(y))
    assert v == pytest.approx(tv, rel=1e-5, abs=1e-6)
    for a, b in zip(grads, tgrads):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)


def test_gradient_penalty_gradcheck_in_the_critic_weights():
    """d GP / d w (a second-order gradient of the critic) against finite differences, float64."""
    rng = np.random.default_rng(4)
    real, fake, eps = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.random(4)

    def gp(w1, b1, w2):
        critic = lambda x: (x @ w1 + b1).tanh() @ w2
        return gradient_penalty(critic, lamina.tensor(real), lamina.tensor(fake), epsilon=lamina.tensor(eps))

    gradcheck(gp, rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(5))


def test_gradient_penalty_draws_epsilon_from_the_generator_and_checks_shapes():
    d = MLPDiscriminator((1, 2, 2), (4,))
    real, fake = lamina.randn(3, 1, 2, 2), lamina.randn(3, 1, 2, 2)
    a = gradient_penalty(d, real, fake, generator=lamina.Generator().manual_seed(5))
    b = gradient_penalty(d, real, fake, generator=lamina.Generator().manual_seed(5))
    eps = lamina.rand(3, generator=lamina.Generator().manual_seed(5))
    c = gradient_penalty(d, real, fake, epsilon=eps)
    assert float(a) == float(b) == float(c)
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(d, real, lamina.randn(2, 1, 2, 2))
    with pytest.raises(ValueError, match=r"epsilon must have shape \(3,\)"):
        gradient_penalty(d, real, fake, epsilon=lamina.rand(3, 1))
