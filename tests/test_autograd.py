"""The backward engine: accumulation, retain_graph, grad(), hooks, higher order, errors."""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, gradgradcheck, rng


def test_backward_accumulates_over_shared_inputs():
    x = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x + x * 3.0).sum()  # dy/dx = 2x + 3
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    (x * 2.0).sum().backward()  # .grad accumulates across backward calls
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 9.0, 11.0])


def test_add_of_two_leaves_gives_independent_grad_arrays():
    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = lamina.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.array *= 10  # must not change b.grad
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_second_backward_through_freed_graph_raises():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_backward_on_non_scalar_needs_gradient():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(lamina.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.tensor([1, 2, 3], requires_grad=True)
    x = lamina.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        x.requires_grad_()


def test_grad_does_not_touch_dot_grad_and_reports_unused():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    z = lamina.tensor([5.0], requires_grad=True)
    y = (x * x).sum()
    (gx,) = lamina.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert x.grad is None
    with pytest.raises(RuntimeError, match="not used"):
        lamina.grad(y, [x, z], retain_graph=True)
    gx, gz = lamina.grad(y, [x, z], allow_unused=True)
    assert gz is None


def test_grad_with_respect_to_intermediate():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    y = (h * h).sum()
    (gh,) = lamina.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


def test_no_grad_records_nothing_and_enable_grad_restores():
    x = lamina.tensor([1.0], requires_grad=True)
    with lamina.no_grad():
        y = x * 2.0
        with lamina.enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @lamina.no_grad()
    def f(t):
        return t * 2.0

    assert not f(x).requires_grad
    assert lamina.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x.detach()).sum()  # d/dx = x (detached factor is a constant)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_hooks_on_leaf_and_intermediate():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 2.0
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10.0)
    (h * h).sum().backward()  # dL/dh = 2h = [4, 8]; dL/dx = 2 * dL/dh = [8, 16], scaled by 10
    np.testing.assert_allclose(seen[0], [4.0, 8.0])
    np.testing.assert_allclose(x.grad.numpy(), [80.0, 160.0])
    handle.remove()
    x.grad = None
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_leaf_hook_sees_total_gradient_once():
    x = lamina.tensor([1.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.item()))
    (x * 2.0 + x * 3.0).sum().backward()
    assert calls == [5.0]


def test_retain_grad_keeps_intermediate_grad():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])


def test_hessian_vector_product_of_cubic():
    # f(x) = sum(x^3): H = diag(6x), so H v = 6 x v
    x = lamina.tensor([1.0, -2.0, 0.5], dtype=lamina.float64, requires_grad=True)
    v = lamina.tensor([1.0, 2.0, 3.0], dtype=lamina.float64)
    (g,) = lamina.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (hv,) = lamina.grad(g, x, grad_outputs=v)
    np.testing.assert_allclose(hv.numpy(), 6 * x.detach().numpy() * v.numpy())


def test_third_derivative():
    x = lamina.tensor(0.7, dtype=lamina.float64, requires_grad=True)
    y = x.sin()
    (d1,) = lamina.grad(y, x, create_graph=True)
    (d2,) = lamina.grad(d1, x, create_graph=True)
    (d3,) = lamina.grad(d2, x)
    np.testing.assert_allclose(d3.item(), -np.cos(0.7))


def test_inplace_on_leaf_requiring_grad_raises_and_is_allowed_under_no_grad():
    w = lamina.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w += 1.0
    with lamina.no_grad():
        w -= 0.5
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.5])
    assert w.is_leaf and w.requires_grad


def test_inplace_on_saved_tensor_is_detected():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    y = (h * h).sum()  # Mul saved h
    h.mul_(3.0)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_inplace_in_graph_is_differentiable():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    h += x  # h = 3x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_mixed_dtype_gradients_keep_input_dtype():
    a = lamina.tensor([1.0, 2.0], dtype=lamina.float32, requires_grad=True)
    b = lamina.tensor([3.0, 4.0], dtype=lamina.float64, requires_grad=True)
    y = (a * b).sum()
    assert y.dtype == lamina.float64
    y.backward()
    assert a.grad.dtype == lamina.float32 and b.grad.dtype == lamina.float64


def test_gradcheck_helper_detects_a_wrong_gradient():
    from lamina.autograd import Function

    class BadSquare(Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 3.0  # wrong: should be 2x

    with pytest.raises(AssertionError):
        gradcheck(lambda x: BadSquare()(x), rng().standard_normal(4))


def test_gradgradcheck_on_composite():
    gradgradcheck(lambda x: (x * x).exp() * x.sin(), rng().standard_normal((3,)))


def test_gradient_penalty_on_an_mlp_matches_torch():
    """WGAN-GP style: penalty = mean((||d critic(x) / dx||_2 - 1)^2), differentiated w.r.t. the weights."""
    from helpers import torch

    if torch is None:
        pytest.skip("PyTorch is not installed")
    from lamina import nn

    r = rng(7)
    x = r.standard_normal((5, 4))
    w1, b1, w2, b2 = r.standard_normal((6, 4)), r.standard_normal(6), r.standard_normal((1, 6)), r.standard_normal(1)

    def penalty(lib, F, x, params):
        w1, b1, w2, b2 = params
        out = F.linear(lib.tanh(F.linear(x, w1, b1)), w2, b2)
        (g,) = lib.autograd.grad(out.sum(), x, create_graph=True) if lib is torch else lamina.grad(out.sum(), x, create_graph=True)
        return ((g.norm(2, dim=1) - 1.0) ** 2).mean()

    lp = [lamina.tensor(a, dtype=lamina.float64, requires_grad=True) for a in (w1, b1, w2, b2)]
    lx = lamina.tensor(x, dtype=lamina.float64, requires_grad=True)
    lpen = penalty(lamina, nn.functional, lx, lp)
    lgrads = lamina.grad(lpen, lp[:3])  # b2 does not reach d critic / dx
    tp = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (w1, b1, w2, b2)]
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tpen = penalty(torch, torch.nn.functional, tx, tp)
    tgrads = torch.autograd.grad(tpen, tp[:3])
    np.testing.assert_allclose(lpen.item(), tpen.item(), rtol=1e-10)
    for a, b in zip(lgrads, tgrads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)
