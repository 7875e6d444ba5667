"""The rest of torch's top-level surface: dtype helpers, legacy tensor types, nn.functional ops under
torch.* names (with torch's argument order), Tensor conveniences, testing.assert_close, nn.Buffer
and functional_call — each against PyTorch where it has the same thing."""
import numpy as np
import pytest

import lamina
from lamina import nn
from helpers import parity, requires_torch, rng

A = rng(0).standard_normal((4, 5))


def test_format_one_element_and_refuse_specs_on_many():
    assert f"{lamina.tensor(3.14159):.2f}" == "3.14"
    assert "{:+.1e}".format(lamina.tensor([2.5])) == "+2.5e+00"
    assert f"{lamina.tensor(7)}" == "7"
    assert f"{lamina.ones(2)}" == str(lamina.ones(2))
    with pytest.raises(TypeError, match="format string"):
        f"{lamina.ones(2):.2f}"


@requires_torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_methods(name):
    parity(lambda x: getattr(x, name)(1), A)
    parity(lambda x: getattr(x, name)(-1, dtype=x.dtype), A)


@requires_torch
def test_finfo_iinfo_and_size_like_torch():
    import torch
    for lt, tt in [(lamina.float32, torch.float32), (lamina.float64, torch.float64), (lamina.float16, torch.float16)]:
        assert lamina.finfo(lt).eps == torch.finfo(tt).eps and lamina.finfo(lt).max == torch.finfo(tt).max
        assert lamina.finfo(lt).tiny == torch.finfo(tt).tiny and lamina.finfo(lt).bits == torch.finfo(tt).bits
    assert lamina.finfo().eps == torch.finfo().eps
    assert lamina.iinfo(lamina.int64).max == torch.iinfo(torch.int64).max
    assert lamina.Size([2, 3]) == (2, 3) and lamina.Size([2, 3]).numel() == 6
    assert lamina.float is lamina.float32 and lamina.int is lamina.int32
    assert isinstance(lamina.randn(2).dtype, lamina.dtype)


def test_legacy_tensor_types():
    x = lamina.FloatTensor([1, 2])
    assert x.dtype == lamina.float32 and x.tolist() == [1.0, 2.0]
    assert lamina.LongTensor(2, 3).shape == (2, 3) and lamina.LongTensor(2, 3).dtype == lamina.int64
    assert isinstance(x, lamina.FloatTensor) and not isinstance(x, lamina.LongTensor)
    assert not isinstance(np.ones(2), lamina.FloatTensor)
    assert lamina.typename(x) == "lamina.FloatTensor" and lamina.typename(3) == "int"


@requires_torch
def test_torch_level_functional_ops_take_torchs_argument_order():
    import torch
    r = rng(1)
    x = r.standard_normal((6, 3, 4)).astype(np.float32)
    w, b = r.standard_normal(3).astype(np.float32), r.standard_normal(3).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    got = lamina.batch_norm(lamina.tensor(x), lamina.tensor(w), lamina.tensor(b), lamina.tensor(rm),
                            lamina.tensor(rv), True, 0.1, 1e-5, False)
    ref = torch.batch_norm(torch.tensor(x), torch.tensor(w), torch.tensor(b), torch.tensor(rm), torch.tensor(rv),
                           True, 0.1, 1e-5, False)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    table, ids = r.standard_normal((5, 2)).astype(np.float32), np.array([4, 0, 4])
    np.testing.assert_array_equal(lamina.embedding(lamina.tensor(table), lamina.tensor(ids)).numpy(),
                                  torch.embedding(torch.tensor(table), torch.tensor(ids)).numpy())
    p, t = r.standard_normal(4).astype(np.float32), (r.random(4) > 0.5).astype(np.float32)
    for red in (0, 1, 2):
        np.testing.assert_allclose(
            lamina.binary_cross_entropy_with_logits(lamina.tensor(p), lamina.tensor(t), None, None, red).numpy(),
            torch.binary_cross_entropy_with_logits(torch.tensor(p), torch.tensor(t), None, None, red).numpy(),
            rtol=1e-6)
    parity(lambda a: (lamina if isinstance(a, lamina.Tensor) else torch).conv1d(a, a[:2, :, :2]),
           r.standard_normal((3, 4, 7)))
    assert lamina.softmax is lamina.nn.functional.softmax


def test_assert_close_tolerances_and_messages():
    lamina.testing.assert_close(lamina.ones(3), lamina.ones(3) + 1e-6)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
        lamina.testing.assert_close(lamina.tensor([1.0, 2.0, 3.0]), lamina.tensor([1.0, 2.0, 3.1]))
    with pytest.raises(AssertionError, match="dtype"):
        lamina.testing.assert_close(lamina.ones(2), lamina.ones(2, dtype=lamina.float64))
    with pytest.raises(AssertionError):
        lamina.testing.assert_close(lamina.tensor([1, 2]), lamina.tensor([1, 3]))   # integers: exact
    lamina.testing.assert_close({"a": [lamina.ones(1)]}, {"a": [lamina.ones(1)]})


def test_retains_grad_new_and_small_conveniences():
    x = lamina.randn(3, requires_grad=True)
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    y.retain_grad()                       # twice: one hook
    assert y.retains_grad and not x.retains_grad
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy(), rtol=1e-6)
    assert x.new(2, 3).shape == (2, 3) and x.new([1.0]).dtype == x.dtype
    assert x.ndimension() == 1 and x.nelement() == 3 and x.itemsize == 4 and not x.is_inference()


def test_buffer_assignment_registers():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Buffer(lamina.ones(2))
            self.b = nn.Buffer(lamina.zeros(1), persistent=False)

    m = M()
    assert list(m.state_dict()) == ["a"] and [n for n, _ in m.named_buffers()] == ["a", "b"]
    assert isinstance(m.a, lamina.Tensor)


@requires_torch
def test_functional_call_matches_torch_func():
    import torch
    from torch.func import functional_call as tcall
    from lamina.nn.utils.stateless import functional_call
    r = rng(3)
    w, x = r.standard_normal((2, 3)), r.standard_normal((4, 3))
    lm, tm = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tm.bias.copy_(torch.from_numpy(lm.bias.detach().numpy()))
    lw, tw = lamina.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ly = functional_call(lm, {"weight": lw}, (lamina.tensor(x),))
    ty = tcall(tm, {"weight": tw}, (torch.tensor(x),))
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    (ly ** 2).sum().backward()
    (ty ** 2).sum().backward()
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    assert lm.weight.shape == (2, 3) and lm.weight.grad is None     # the module's own weight is back, untouched
    with pytest.raises(RuntimeError, match="unexpected key"):
        functional_call(lm, {"wieght": lw}, (lamina.tensor(x),))


def test_random_fork_rng_restores_the_stream():
    lamina.manual_seed(5)
    with lamina.random.fork_rng():
        lamina.randn(10)
    a = lamina.randn(3)
    lamina.manual_seed(5)
    np.testing.assert_array_equal(a.numpy(), lamina.randn(3).numpy())


def test_torch_level_inplace_and_switches():
    x = lamina.tensor([-1.0, 2.0])
    assert lamina.selu_(x) is x and x[1].item() == pytest.approx(1.0507 * 2, rel=1e-4)
    y = lamina.ones(2000)
    lamina.dropout_(y, 0.5, True)
    assert set(np.unique(y.numpy())) == {0.0, 2.0}
    lamina.set_anomaly_enabled(True)
    try:
        assert lamina.is_anomaly_enabled()
    finally:
        lamina.set_anomaly_enabled(False)
    assert not lamina.is_anomaly_enabled()
    assert lamina.set_flush_denormal(True) is False
    np.testing.assert_array_equal(np.from_dlpack(lamina.arange(3)), [0, 1, 2])
