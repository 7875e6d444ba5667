"""Attributions against Captum's on a PyTorch twin of a lamina CNN (same weights): saliency,
gradient x input, Integrated Gradients (every quadrature), occlusion, Grad-CAM, SmoothGrad."""
import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.explain import (grad_cam, input_x_gradient, integrated_gradients, occlusion, saliency, smoothgrad)

torch = pytest.importorskip("torch")
captum_attr = pytest.importorskip("captum.attr")

TOL = 1e-4


def close(got, ref):
    """Equal to 1e-4 relative to the attribution scale (float64 on both sides)."""
    np.testing.assert_allclose(got, ref, rtol=TOL, atol=TOL * 1e-2 * max(np.abs(ref).max(), 1e-3))


def _lamina_cnn():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.Tanh(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 5))


def _torch_twin(model):
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 6, 3, padding=1),
                             torch.nn.Tanh(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(96, 16),
                             torch.nn.ReLU(), torch.nn.Linear(16, 5)).double()
    tm.load_state_dict({k: torch.from_numpy(v.numpy().astype(np.float64)) for k, v in model.state_dict().items()})
    return tm.eval()


@pytest.fixture(scope="module")
def setup():
    model = _lamina_cnn().double()
    x = np.random.default_rng(1).random((3, 1, 8, 8))
    return model, _torch_twin(model), x, np.array([0, 3, 4])


def _tx(x):
    return torch.from_numpy(x.copy()).requires_grad_(True)


def test_saliency_and_input_x_gradient(setup):
    model, tm, x, t = setup
    for abs_ in (True, False):
        ref = captum_attr.Saliency(tm).attribute(_tx(x), target=t.tolist(), abs=abs_).detach().numpy()
        close(saliency(model, x, target=t, abs=abs_), ref)
    ref = captum_attr.InputXGradient(tm).attribute(_tx(x), target=t.tolist()).detach().numpy()
    got = input_x_gradient(model, x, target=t)
    assert np.abs(ref).max() > 1e-3
    close(got, ref)


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
                                    "gausslegendre"])
def test_integrated_gradients(setup, method):
    model, tm, x, t = setup
    base = np.full_like(x, 0.25)
    ref, ref_delta = captum_attr.IntegratedGradients(tm).attribute(
        _tx(x), baselines=torch.from_numpy(base), target=t.tolist(), n_steps=12, method=method,
        return_convergence_delta=True)
    got, delta = integrated_gradients(model, x, target=t, baselines=base, n_steps=12, method=method,
                                      internal_batch_size=7, return_convergence_delta=True)
    ref, ref_delta = ref.detach().numpy(), ref_delta.detach().numpy()
    if method == "riemann_trapezoid":     # Captum's trapezoid weights sum to (n-1)/n; lamina's to 1
        change = ref.reshape(3, -1).sum(1) - ref_delta          # f(x) - f(baseline)
        ref = ref * 12 / 11
        ref_delta = ref.reshape(3, -1).sum(1) - change
    close(got, ref)
    close(delta, ref_delta)


def test_occlusion(setup):
    model, tm, x, t = setup
    for window, strides in (((1, 3, 3), (1, 2, 2)), ((1, 2, 2), (1, 1, 1))):
        ref = captum_attr.Occlusion(tm).attribute(torch.from_numpy(x), sliding_window_shapes=window,
                                                  strides=strides, baselines=0.1, target=t.tolist())
        got = occlusion(model, x, window, strides=strides, baselines=0.1, target=t, perturbations_per_eval=5)
        assert np.abs(ref.numpy()).max() > 1e-3
        close(got, ref.numpy())


@pytest.mark.parametrize("layer", ["2", "0"])
def test_grad_cam(setup, layer):
    model, tm, x, t = setup
    gc = captum_attr.LayerGradCam(tm, tm[int(layer)])
    for relu in (True, False):
        ref = gc.attribute(torch.from_numpy(x), target=t.tolist(), relu_attributions=relu).detach()
        close(grad_cam(model, x, layer, target=t, relu=relu, upsample=False), ref[:, 0].numpy())
    ref = captum_attr.LayerAttribution.interpolate(gc.attribute(torch.from_numpy(x), target=t.tolist(),
                                                                relu_attributions=True), (8, 8), "bilinear")
    close(grad_cam(model, x, layer, target=t), ref.detach()[:, 0].numpy())


def test_smoothgrad_equals_noise_tunnel_with_the_same_noise(setup):
    model, tm, x, t = setup
    n, sigma = 6, 0.2
    noise = lamina.Generator().manual_seed(5).numpy.standard_normal((n,) + x.shape)
    # Captum draws its own noise: hand it ours by averaging Saliency over the same noisy copies
    ref = np.mean([captum_attr.Saliency(tm).attribute(_tx(x + sigma * e), target=t.tolist()).detach().numpy()
                   for e in noise], 0)
    got = smoothgrad(model, x, target=t, n_samples=n, stdevs=sigma, generator=lamina.Generator().manual_seed(5),
                     batch_size=5)
    close(got, ref)


def test_unknown_layer_names_the_closest_paths(setup):
    model = setup[0]
    with pytest.raises(AttributeError, match=r"closest: .*features|closest: 2"):
        grad_cam(model, setup[2], "features.2")
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, setup[2], "8")


def test_target_out_of_range_is_a_clear_error(setup):
    model, _, x, _ = setup
    with pytest.raises(IndexError, match="target class 7 is out of range: the model has 5 classes"):
        saliency(model, x, target=7)
