"""PyTorch's aliasing rules: ``.data``, ``detach()``, views, and in-place writes through them.

Each scenario is one lambda run in lamina and in PyTorch (``parity``): values and every input
gradient must agree, so an in-place write through a view must reach its base and route
gradients exactly as PyTorch does.
"""
import numpy as np
import pytest

import lamina
from helpers import gradcheck, parity, requires_torch, rng

A = rng(0).standard_normal((3, 4))
B = rng(1).standard_normal((4,))
C = rng(2).standard_normal((2, 4))


# ---------------------------------------------------------------- .data
def test_data_is_a_detached_tensor_sharing_memory():
    w = lamina.randn(3, 4, requires_grad=True)
    d = w.data
    assert isinstance(d, lamina.Tensor) and not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.array, w.array)
    d.add_(1.0)                                  # no no_grad needed: .data is outside the graph
    np.testing.assert_allclose(w.array, d.array)
    assert w.requires_grad and w.is_leaf


def test_data_idioms_from_training_scripts():
    m = lamina.nn.Linear(4, 3)
    m.weight.data.fill_(1)
    m.bias.data.zero_()
    np.testing.assert_array_equal(m.weight.numpy() if not m.weight.requires_grad else m.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(m.bias.detach().numpy(), 0)
    m.weight.data.normal_(0, 0.02)
    assert 0 < float(m.weight.detach().std()) < 0.05
    m.weight.data.mul_(0.5).add_(2.0)
    m.weight.data.clamp_(-0.01, 0.01)
    assert float(m.weight.detach().abs().max()) <= 0.01
    p = m.weight
    m.weight.data = lamina.zeros(5, 4)           # a new array of another shape; same Parameter
    assert m.weight is p and m.weight.shape == (5, 4) and m.weight.requires_grad


def test_data_change_is_not_seen_by_autograd():
    # as in PyTorch: .data has its own version counter, so this backward runs (with the new values)
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    y.data.mul_(10)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 40.0])


def test_detach_shares_the_version_counter():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()                                  # exp keeps its output for the backward
    y.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


@requires_torch
def test_detach_error_matches_torch():
    import torch

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("make", [lambda x: x.exp(), lambda x: x.tanh(), lambda x: (x * 1).sigmoid()])
def test_saved_output_changed_through_a_view_is_caught(make):
    x = lamina.tensor(A, requires_grad=True)
    y = make(x)
    y.t()[1].mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_saved_tensor_changed_through_a_view_is_caught():
    x = lamina.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    z = y * y                                    # saves y
    y[0].add_(1.0)                               # changes y through a view
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


# ---------------------------------------------------------------- in-place through views
def _row_scaled(x):
    y = x * 1
    y[0].mul_(3)
    return y


def _slice_add(x, w):
    y = x * 2
    y.view(-1)[2:6].add_(w)
    return y


def _transposed_view(x, w):
    y = x * 2
    y.t()[1].mul_(w[:3])
    return y


def _sibling_views(x):
    y = x * 1
    a, b = y[0], y[1:]
    a.mul_(2)
    b.add_(a.sum())                              # b was made before a changed y
    return y, a, b


def _base_then_view(x):
    y = x * 1
    v = y[:, 1]
    y.mul_(x)                                    # the base changes: v must take y's new history
    return v * 2


def _chain(x, w):
    y = x + 1
    v = y.unsqueeze(0).transpose(1, 2)[0, 1:3]   # a view of a view of a view
    v.mul_(w[:3])
    return y


def _setitem_grad(x, w):
    y = lamina.zeros(3, 4, dtype=x.dtype) if isinstance(x, lamina.Tensor) else x.new_zeros(3, 4)
    y[1] = w                                     # writes a tensor that requires grad into a constant
    y[:, 0] += x[:, 0]
    return y * x


def _copy_into_view(x, c):
    y = x * 1
    y[1:].copy_(c)
    return y.sin()


def _pow_inplace_on_view(x):
    y = x + 0.5
    y[:, :2].pow_(2)                             # the old values are needed for the gradient
    return y


def _sigmoid_inplace(x):
    y = x * 1
    y.sigmoid_()
    return y * 3


@requires_torch
@pytest.mark.parametrize("fn,arrays", [
    (_row_scaled, (A,)),
    (_slice_add, (A, B)),
    (_transposed_view, (A, B)),
    (_sibling_views, (A,)),
    (_base_then_view, (A,)),
    (_chain, (A, B)),
    (_copy_into_view, (A, C)),
    (_pow_inplace_on_view, (A,)),
    (_sigmoid_inplace, (A,)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_inplace_through_views_matches_torch(fn, arrays):
    parity(fn, *arrays, atol=1e-12, rtol=1e-10)


@requires_torch
def test_setitem_of_grad_tensor_matches_torch():
    parity(_setitem_grad, A, B, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("fn,arrays", [(_row_scaled, (A,)), (_slice_add, (A, B)), (_chain, (A, B)),
                                       (_pow_inplace_on_view, (A,)), (_base_then_view, (A,))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_inplace_through_views_gradcheck(fn, arrays):
    gradcheck(fn, *arrays)


def test_second_derivative_through_copy_slices():
    from helpers import gradgradcheck

    gradgradcheck(lambda x, w: _slice_add(x, w) ** 2, A, B)


def test_memory_is_written_not_rebound():
    x = lamina.tensor(A, requires_grad=True)
    y = x * 1
    arr = y.array
    alias = y.detach()
    y.add_(1.0)
    assert y.array is arr and np.shares_memory(alias.array, y.array)
    np.testing.assert_allclose(alias.array, A + 1)


def test_view_of_leaf_requiring_grad_refuses_inplace():
    w = lamina.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        w[0].add_(1.0)
    with lamina.no_grad():
        w[0].add_(1.0)                           # allowed outside the graph (an optimizer step)


def test_views_share_version_and_base():
    x = lamina.randn(3, 4)
    v = x.t()
    assert v._base is x and v._version == x._version
    x.add_(1)
    assert v._version == x._version == 1
    assert lamina.randn(2).reshape(2)._base is None  # no-op reshape returns the tensor itself
    assert x[[0, 2]]._base is None                    # advanced indexing copies


def test_inplace_on_expanded_view_is_refused():
    x = lamina.randn(1, 4)
    with pytest.raises(RuntimeError, match="read-only broadcast view"):
        x.expand(3, 4).add_(1)
