"""The Tensor API: attributes, conversions, Python protocols, autograd flags and in-place updates."""
import json

import numpy as np
import pytest

import lamina
from helpers import requires_torch, torch


def _needs_indexing():
    try:
        lamina.ones(2)[0]
    except NotImplementedError:
        pytest.skip("tensor indexing (ops/index.py getitem) is not implemented yet")


# ---------------------------------------------------------------- attributes
def test_shape_size_dim_numel_dtype_device():
    x = lamina.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4)
    assert x.size(0) == 2 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and lamina.numel(x) == 24
    assert x.dtype == lamina.float32 and x.element_size() == 4 and x.nbytes == 96
    assert x.device == lamina.device("cpu") and x.device == "cpu" and str(x.device) == "cpu"
    assert x.is_floating_point() and not lamina.tensor([1]).is_floating_point()
    assert x.type() == "lamina.float32" and x.type(lamina.float64).dtype == lamina.float64
    s = lamina.tensor(3.0)
    assert s.shape == () and s.dim() == 0 and s.numel() == 1
    assert x.is_contiguous()


def test_item_tolist_numpy():
    assert lamina.tensor([2.5]).item() == 2.5 and isinstance(lamina.tensor([[7]]).item(), int)
    assert isinstance(lamina.tensor(True).item(), bool)
    with pytest.raises(ValueError, match="one element"):
        lamina.ones(2).item()
    x = lamina.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]] and lamina.tensor(5).tolist() == 5
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0, 0] = 9.0  # numpy() shares memory, as in torch
    assert x.tolist()[0][0] == 9.0
    assert isinstance(lamina.tensor(2.0).exp().numpy(), np.ndarray)  # 0-d results stay arrays
    np.testing.assert_array_equal(np.asarray(x), a)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_numpy_on_tensor_requiring_grad_raises_like_torch():
    w = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        w.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        (w * 2.0).numpy()
    assert w.detach().numpy().tolist() == [1.0, 1.0]


def test_repr_is_readable():
    assert repr(lamina.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(lamina.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(lamina.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(lamina.tensor(3.5)) == "tensor(3.5000)"
    assert repr(lamina.ones(2, dtype=lamina.float64)) == "tensor([1., 1.], dtype=lamina.float64)"
    assert repr(lamina.ones(2, dtype=lamina.int32)) == "tensor([1, 1], dtype=lamina.int32)"
    assert repr(lamina.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    assert repr(lamina.ones(2, requires_grad=True) * lamina.ones(2)) == "tensor([1., 1.], grad_fn=<Mul>)"
    assert repr(lamina.zeros(0)) == "tensor([], dtype=lamina.float32)"
    r = repr(lamina.zeros(2, 3))
    assert r.splitlines() == ["tensor([[0., 0., 0.],", "        [0., 0., 0.]])"]
    assert "..." in repr(lamina.arange(5000))  # large tensors are summarised


def test_len_iteration_and_python_conversions():
    x = lamina.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(x) == 3
    with pytest.raises(TypeError, match="0-d"):
        len(lamina.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(lamina.tensor(1.0))
    assert bool(lamina.tensor([2.0])) and not bool(lamina.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert float(lamina.tensor([[2.5]])) == 2.5 and int(lamina.tensor(2.9)) == 2
    with pytest.raises(ValueError, match="one element"):
        float(x)
    assert [10, 20, 30][lamina.tensor(1)] == 20  # __index__
    with pytest.raises(TypeError, match="integer"):
        [1, 2][lamina.tensor(1.0)]
    assert {x: 1}[x] == 1  # hashable by identity


def test_iteration_yields_rows_and_keeps_the_graph():
    _needs_indexing()
    x = lamina.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    (rows[0] * 2.0 + rows[1]).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [1.0, 1.0]]


# ---------------------------------------------------------------- autograd flags
def test_requires_grad_is_leaf_grad_fn():
    w = lamina.ones(3)
    assert not w.requires_grad and w.is_leaf and w.grad_fn is None
    assert w.requires_grad_() is w and w.requires_grad
    y = w * lamina.ones(3)
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None and y.grad_fn.name == "Mul"
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    w.requires_grad_(False)
    assert not (w * 2.0).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.tensor([1, 2]).requires_grad_()
    with lamina.no_grad():
        z = lamina.ones(2, requires_grad=True) * 2.0
    assert not z.requires_grad and z.is_leaf


def test_detach_and_detach_():
    x = lamina.ones(2, requires_grad=True)
    y = x * 3.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.array, y.array)
    y.detach_()
    assert not y.requires_grad and y.grad_fn is None


def test_to_dtype_gradients_flow_back_in_the_original_dtype():
    x = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to(lamina.float64)
    assert y.dtype == lamina.float64 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == lamina.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    assert x.to("cpu") is x and x.to(dtype=lamina.float32) is x
    assert x.to(lamina.ones(1, dtype=lamina.float16)).dtype == lamina.float16
    c = x.to(copy=True)
    assert c is not x and c.array is not x.array


# ---------------------------------------------------------------- in-place ops
def test_inplace_ops_on_plain_tensors():
    y = lamina.ones(3)
    y += 2
    assert y.tolist() == [3.0] * 3
    y.add_(1, alpha=2)
    assert y.tolist() == [5.0] * 3
    y.sub_(lamina.tensor([1.0, 2.0, 3.0]))
    assert y.tolist() == [4.0, 3.0, 2.0]
    y.mul_(2)
    y /= 2
    y -= 1
    y *= lamina.tensor([1.0, 10.0, 100.0])
    assert y.tolist() == [3.0, 20.0, 100.0]
    y.clamp_(0, 50)
    assert y.tolist() == [3.0, 20.0, 50.0]
    y.clamp_(max=10)
    assert y.tolist() == [3.0, 10.0, 10.0]
    y.zero_()
    assert y.tolist() == [0.0] * 3
    y.fill_(2.5)
    assert y.tolist() == [2.5] * 3
    y.copy_(lamina.tensor([1, 2, 3]))  # another dtype: converted
    assert y.tolist() == [1.0, 2.0, 3.0] and y.dtype == lamina.float32
    y.copy_(lamina.tensor([7.0]))  # broadcast
    assert y.tolist() == [7.0] * 3
    y.pow_(2)
    y.sqrt_()
    y.neg_()
    assert y.tolist() == [-7.0] * 3
    y.relu_()
    assert y.tolist() == [0.0] * 3


def test_inplace_keeps_memory_and_version():
    base = np.zeros(4, dtype=np.float32)
    t = lamina.from_numpy(base)
    v0 = t._version
    t.add_(1.0)
    t.mul_(3.0)
    assert base.tolist() == [3.0] * 4  # written in place: the numpy array sees it
    assert t._version == v0 + 2
    i = lamina.tensor([1, 2])
    i *= 3
    assert i.tolist() == [3, 6] and i.dtype == lamina.int64
    f = lamina.ones(2)
    f += lamina.ones(2, dtype=lamina.float64)
    assert f.dtype == lamina.float32  # in place keeps the destination dtype


@pytest.mark.parametrize("op", [
    lambda w: w.__iadd__(1.0), lambda w: w.add_(1.0), lambda w: w.mul_(2.0), lambda w: w.clamp_(0, 1),
    lambda w: w.zero_(), lambda w: w.fill_(1.0), lambda w: w.copy_(lamina.ones(3)), lambda w: w.uniform_(),
    lambda w: w.normal_(), lambda w: w.sub_(1.0), lambda w: w.div_(2.0),
], ids=["iadd", "add_", "mul_", "clamp_", "zero_", "fill_", "copy_", "uniform_", "normal_", "sub_", "div_"])
def test_inplace_on_leaf_requiring_grad_raises_but_works_under_no_grad(op):
    w = lamina.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*in-place"):
        op(w)
    with lamina.no_grad():
        assert op(w) is w
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_inplace_errors_name_shapes_and_dtypes():
    i = lamina.tensor([1, 2])
    with pytest.raises(RuntimeError, match="float32 can't be cast to the desired output type int64"):
        i += 1.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        i /= 2
    f = lamina.ones(2)
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(2, 2\)"):
        f += lamina.ones(2, 2)
    with pytest.raises(RuntimeError, match=r"copy_.*\(3,\).*\(2,\)"):
        f.copy_(lamina.ones(3))
    with pytest.raises(ValueError, match="add"):
        f.add_(lamina.ones(3))


def test_inplace_inside_a_graph_is_differentiable():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    h.mul_(x)  # h = 2 x^2
    h.add_(x, alpha=3.0)  # h = 2 x^2 + 3 x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 11.0])
    buf = lamina.zeros(2)  # a constant buffer that accumulates a tensor requiring grad joins the graph
    buf += x
    assert buf.requires_grad


def test_inplace_modification_of_a_saved_output_is_detected():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    z = y.sum()
    with lamina.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="in-place"):
        z.backward()


def test_uniform_and_normal_fill_are_seeded():
    lamina.manual_seed(3)
    a = lamina.empty(1000).uniform_(-2.0, -1.0)
    lamina.manual_seed(3)
    b = lamina.empty(1000).uniform_(-2.0, -1.0)
    assert a.tolist() == b.tolist() and a.dtype == lamina.float32
    assert -2.0 <= a.array.min() and a.array.max() < -1.0
    g = lamina.Generator().manual_seed(7)
    c = lamina.empty(5, dtype=lamina.float64).normal_(1.0, 0.0, generator=g)
    assert c.tolist() == [1.0] * 5 and c.dtype == lamina.float64
    n = lamina.empty(20000).normal_(2.0, 0.5)
    assert abs(n.array.mean() - 2.0) < 0.02 and abs(n.array.std() - 0.5) < 0.02
    with pytest.raises(TypeError, match="floating"):
        lamina.zeros(2, dtype=lamina.int64).uniform_()


# ---------------------------------------------------------------- misc methods
def test_equal_allclose_isclose():
    a = lamina.tensor([1.0, 2.0])
    assert a.equal(lamina.tensor([1.0, 2.0])) and not a.equal(lamina.tensor([1.0, 2.0, 3.0]))
    assert a.allclose(a + 1e-9) and not a.allclose(a + 1e-3)
    assert a.isclose(lamina.tensor([1.0, 2.1])).tolist() == [True, False]


@requires_torch
def test_method_names_match_torch():
    names = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "abs",
             "sign", "sin", "cos", "tanh", "sigmoid", "relu", "clamp", "clip", "clamp_min", "clamp_max", "maximum",
             "minimum", "where", "lt", "le", "gt", "ge", "eq", "ne", "isnan", "isinf", "isfinite", "logical_not",
             "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
             "square", "reciprocal", "remainder", "floor_divide", "float", "double", "half", "long", "int", "bool",
             "to", "clone", "detach", "detach_", "item", "tolist", "numpy", "add_", "sub_", "mul_", "div_", "pow_",
             "clamp_", "zero_", "fill_", "copy_", "uniform_", "normal_", "requires_grad_", "dim", "numel", "size",
             "element_size", "is_floating_point", "is_contiguous", "equal", "allclose", "isclose", "relu_",
             "sigmoid_", "tanh_", "exp_", "sqrt_", "neg_", "new_zeros", "new_ones", "new_full", "new_empty",
             "new_tensor", "type", "cpu", "clip_"]
    for n in names:
        assert hasattr(torch.Tensor, n), n  # the list itself is PyTorch's API
        assert hasattr(lamina.Tensor, n), f"lamina.Tensor has no {n}"


def test_new_tensor_methods_keep_dtype_and_device():
    x = lamina.ones(2, dtype=lamina.float64, requires_grad=True)
    assert x.new_zeros(3).dtype == lamina.float64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(2, dtype=lamina.int32).tolist() == [1, 1]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_full((2,), 7).dtype == lamina.float64
    assert x.new_empty(4).shape == (4,) and not x.new_empty(4).requires_grad
    t = x.new_tensor([1, 2])
    assert t.dtype == lamina.float64 and not t.requires_grad and t.device == x.device


def test_get_state_of_the_generator_is_json():
    state = lamina.get_rng_state()
    assert json.loads(json.dumps(state)) == state
