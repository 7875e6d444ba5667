"""The device API scripts probe even on a CPU: lamina.cuda, lamina.accelerator, lamina.backends,
global switches, print options, inference_mode, Tensor device helpers, nn.DataParallel.

Without CuPy/GPU (this test machine) lamina must answer as a CPU-only PyTorch does."""
import warnings

import numpy as np
import pytest

import lamina
from lamina import nn
from helpers import requires_torch, torch

no_gpu = pytest.mark.skipif(lamina.cuda.is_available(), reason="checks the answers without a GPU")


@no_gpu
def test_cuda_without_gpu_matches_cpu_only_torch():
    c = lamina.cuda
    assert c.is_available() is False and c.device_count() == 0 and c.is_initialized() is False
    for fn in (c.memory_allocated, c.max_memory_allocated, c.memory_reserved, c.max_memory_reserved):
        assert fn() == 0
    assert c.empty_cache() is None and c.reset_peak_memory_stats() is None
    assert c.manual_seed(3) is None and c.manual_seed_all(3) is None and c.seed() is None
    assert c.is_bf16_supported() is False and c.get_arch_list() == []
    for call in (c.current_device, c.synchronize, c.get_device_name, c.get_device_capability,
                 c.get_device_properties, c.mem_get_info, c.initial_seed, c.get_rng_state):
        with pytest.raises(RuntimeError, match="no CUDA device"):
            call()
        with pytest.raises(AssertionError):  # what a CPU-only torch raises: either except clause works
            call()
    with pytest.raises(RuntimeError):
        with c.device(0):
            pass
    with c.device(-1):  # a negative index is a no-op, as in torch
        pass
    c.set_device(-1)
    assert issubclass(c.OutOfMemoryError, RuntimeError)


@no_gpu
def test_cuda_seed_is_ignored_without_gpu():
    lamina.manual_seed(5)
    a = lamina.randn(3)
    lamina.manual_seed(5)
    lamina.cuda.manual_seed_all(123)  # must not touch the CPU stream (torch ignores it on a CPU machine)
    np.testing.assert_array_equal(a.numpy(), lamina.randn(3).numpy())


@requires_torch
@no_gpu
def test_cuda_answers_like_torch_on_this_machine():
    assert lamina.cuda.is_available() == torch.cuda.is_available()
    assert lamina.cuda.device_count() == torch.cuda.device_count()
    assert lamina.cuda.memory_allocated() == torch.cuda.memory_allocated()
    for name in ("current_device", "synchronize", "get_device_name"):
        with pytest.raises(AssertionError):
            getattr(torch.cuda, name)()
        with pytest.raises(AssertionError):
            getattr(lamina.cuda, name)()


@no_gpu
def test_accelerator_without_gpu():
    a = lamina.accelerator
    assert a.is_available() is False and a.current_accelerator() is None and a.device_count() == 0
    for call in (a.current_device_index, a.synchronize, lambda: a.set_device_index(0)):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            call()
    with a.device_index(None):
        pass
    if torch is not None:
        assert torch.accelerator.current_accelerator() is None and torch.accelerator.is_available() is False
        with pytest.raises(RuntimeError, match="none is available"):
            torch.accelerator.current_device_index()


def test_backends_flags():
    b = lamina.backends
    assert b.cudnn.is_available() is False and b.cudnn.version() is None
    assert b.cudnn.enabled is True and b.cudnn.benchmark is False and b.cudnn.deterministic is False
    b.cudnn.benchmark = True
    try:
        assert lamina.backends.cudnn.benchmark is True
        with b.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
            assert b.cudnn.deterministic is True and b.cudnn.benchmark is False
        assert b.cudnn.benchmark is True and b.cudnn.deterministic is False
    finally:
        b.cudnn.benchmark = False
    assert b.mps.is_available() is False and b.mps.is_built() is False
    assert b.cpu.get_cpu_capability() in ("DEFAULT", "AVX2", "AVX512")
    b.cuda.matmul.allow_tf32 = True
    assert lamina.backends.cuda.matmul.allow_tf32 is True
    b.cuda.matmul.allow_tf32 = False
    b.cuda.enable_flash_sdp(False)
    assert b.cuda.flash_sdp_enabled() is False
    b.cuda.enable_flash_sdp(True)
    assert b.cuda.is_built() is (lamina.backend._cupy is not None)


@requires_torch
def test_backends_match_torch_on_cpu():
    assert lamina.backends.mps.is_available() == torch.backends.mps.is_available()
    assert lamina.backends.cudnn.is_available() == torch.backends.cudnn.is_available()
    assert lamina.backends.cpu.get_cpu_capability() in ("DEFAULT", "AVX2", "AVX512")


def test_deterministic_algorithms_switch():
    assert lamina.are_deterministic_algorithms_enabled() is False
    lamina.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert lamina.are_deterministic_algorithms_enabled() is True
        assert lamina.is_deterministic_algorithms_warn_only_enabled() is True
    finally:
        lamina.use_deterministic_algorithms(False)
    assert lamina.are_deterministic_algorithms_enabled() is False
    assert lamina.is_deterministic_algorithms_warn_only_enabled() is False
    with pytest.raises(TypeError, match="bool"):
        lamina.use_deterministic_algorithms("yes")


def test_float32_matmul_precision():
    assert lamina.get_float32_matmul_precision() == "highest"
    lamina.set_float32_matmul_precision("high")
    try:
        assert lamina.get_float32_matmul_precision() == "high"
        with pytest.warns(UserWarning, match="has no effect"):  # torch warns too, and keeps the old value
            lamina.set_float32_matmul_precision("fast")
        assert lamina.get_float32_matmul_precision() == "high"
    finally:
        lamina.set_float32_matmul_precision("highest")


def test_default_device():
    assert lamina.get_default_device() == lamina.device("cpu")
    lamina.set_default_device("cpu")
    lamina.set_default_device(None)
    assert str(lamina.get_default_device()) == "cpu"
    with pytest.raises((RuntimeError, NotImplementedError)):
        lamina.set_default_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        lamina.set_default_device("tpu")
    assert lamina.get_default_device() == lamina.device("cpu")


@requires_torch
def test_set_printoptions_precision_like_torch():
    x = np.array([0.123456, 3.14159, -2.5], dtype=np.float32)
    try:
        lamina.set_printoptions(precision=2)
        torch.set_printoptions(precision=2)
        assert repr(lamina.tensor(x)) == repr(torch.tensor(x))
        lamina.set_printoptions(precision=6)
        torch.set_printoptions(precision=6)
        assert repr(lamina.tensor(x)) == repr(torch.tensor(x))
        lamina.set_printoptions(threshold=5, edgeitems=2)
        assert "..." in repr(lamina.arange(20))
        lamina.set_printoptions(profile="default")
        assert lamina.get_printoptions()["precision"] == 4 and "..." not in repr(lamina.arange(20))
        with pytest.raises(ValueError, match="profile"):
            lamina.set_printoptions(profile="tiny")
    finally:
        lamina.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert repr(lamina.tensor(x)) == repr(torch.tensor(x))


def test_inference_mode_is_no_grad():
    w = lamina.ones(3, requires_grad=True)
    with lamina.inference_mode():
        assert lamina.is_inference_mode_enabled() and not lamina.is_grad_enabled()
        assert not (w * 2).requires_grad
    assert lamina.is_grad_enabled() and not lamina.is_inference_mode_enabled()
    with lamina.inference_mode(False):
        assert (w * 2).requires_grad

    @lamina.inference_mode()
    def f(x):
        return x * 2

    @lamina.inference_mode
    def g(x):
        return x * 3

    assert not f(w).requires_grad and not g(w).requires_grad and (w * 2).requires_grad
    assert lamina.autograd.inference_mode is lamina.inference_mode


def test_tensor_device_helpers():
    x = lamina.ones(2, 3)
    assert x.is_cuda is False and x.is_cpu is True and x.get_device() == -1
    assert x.pin_memory() is x and x.is_pinned() is False
    if torch is not None:
        t = torch.ones(2, 3)
        assert (t.is_cuda, t.is_cpu, t.get_device(), t.is_pinned()) == (x.is_cuda, x.is_cpu, x.get_device(),
                                                                         x.is_pinned())


def test_data_parallel_is_a_pass_through():
    lamina.manual_seed(0)
    inner = nn.Linear(4, 3)
    dp = nn.DataParallel(inner)
    assert dp.module is inner and nn.parallel.DataParallel is nn.DataParallel
    x = lamina.randn(5, 4)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    assert [n for n, _ in dp.named_parameters()] == ["module.weight", "module.bias"]
    other = nn.DataParallel(nn.Linear(4, 3))
    other.load_state_dict(dp.state_dict())
    np.testing.assert_array_equal(other.module.weight.detach().numpy(), inner.weight.detach().numpy())
    (dp(x) ** 2).sum().backward()
    assert inner.weight.grad is not None
    with pytest.warns(UserWarning, match="one device"):
        nn.DataParallel(nn.Linear(2, 2), device_ids=[0, 1])
    with pytest.raises(TypeError, match="nn.Module"):
        nn.DataParallel(lambda x: x)


@requires_torch
def test_data_parallel_keys_match_torch():
    t = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam = nn.DataParallel(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
    assert list(lam.state_dict()) == list(t.state_dict())
