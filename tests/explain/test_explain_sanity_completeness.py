"""IG completeness at 64 steps (sum of attributions = f(x) - f(baseline) within 1 %) and the
Adebayo et al. (2018) model-randomisation check on a digits CNN: the attributions of a model with
random weights do not rank the pixels as the trained model's do (Spearman rho < 0.5)."""
import numpy as np
import pytest
from scipy.stats import spearmanr

import lamina
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets.digits import load_digits_splits
from lamina.explain import grad_cam, input_x_gradient, integrated_gradients, occlusion, saliency, smoothgrad
from lamina.train import Trainer


def cnn(seed):
    lamina.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10))


@pytest.fixture(scope="module")
def models():
    train, _, test = load_digits_splits(seed=0, as_images=True)
    model = cnn(0)
    lamina.manual_seed(0)
    Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2)).fit(
        DataLoader(train, batch_size=64, shuffle=True), epochs=5, verbose=False)
    x, y = (t.numpy() for t in test.tensors)
    return model, cnn(1), x[:20], y[:20]


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_middle"])
def test_ig_completeness_within_1_percent_at_64_steps(models, method):
    model, _, x, y = models
    base = np.zeros_like(x)
    attr, delta = integrated_gradients(model, x, target=y, baselines=base, n_steps=64, method=method,
                                       return_convergence_delta=True)
    with lamina.no_grad():
        model.eval()
        f = model(lamina.tensor(x)).numpy()[np.arange(20), y] - model(lamina.tensor(base)).numpy()[np.arange(20), y]
    np.testing.assert_allclose(attr.reshape(20, -1).sum(1), f, rtol=0.01, atol=1e-3 * np.abs(f).max())
    np.testing.assert_allclose(delta, attr.reshape(20, -1).sum(1) - f, atol=1e-4)
    assert np.abs(f).min() > 0.1          # the check is not vacuous: the scores do change along the path


def _rho(a, b):
    return float(np.nanmean([spearmanr(a[i].ravel(), b[i].ravel())[0] for i in range(len(a))]))


def test_attributions_of_a_randomised_model_differ(models):
    trained, random, x, y = models
    methods = {
        "saliency": lambda m: saliency(m, x, target=y),
        "smoothgrad": lambda m: smoothgrad(m, x, target=y, n_samples=8, generator=lamina.Generator().manual_seed(0)),
        "input_x_gradient": lambda m: input_x_gradient(m, x, target=y),
        "integrated_gradients": lambda m: integrated_gradients(m, x, target=y, n_steps=8),
        "occlusion": lambda m: occlusion(m, x, (1, 2, 2), strides=(1, 2, 2), target=y),
        "grad_cam": lambda m: grad_cam(m, x, "2", target=y, relu=False),
    }
    for name, fn in methods.items():
        a = fn(trained)
        assert _rho(a, fn(trained)) > 0.99, name                 # the measure sees identical maps as identical
        assert _rho(a, fn(random)) < 0.5, name
