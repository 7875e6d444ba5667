"""Gradient clipping against torch.nn.utils, and the L1/L2 weight penalties."""
import math

import numpy as np
import pytest

import lamina
from helpers import noncontiguous, requires_torch
from lamina import optim
from optim_cases import torch

SHAPES = [(5, 4), (4,), (3, 2, 2)]


def _pair(scale=1.0, seed=0):
    r = np.random.default_rng(seed)
    grads = [(r.standard_normal(s) * scale).astype(np.float32) for s in SHAPES]
    lp = [lamina.Tensor(np.zeros(s, np.float32), requires_grad=True) for s in SHAPES]
    tp = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(lp, tp, grads):
        p.grad, q.grad = lamina.Tensor(g.copy()), torch.from_numpy(g.copy())
    return lp, tp


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    lp, tp = _pair()
    ln = optim.clip_grad_norm_(lp, max_norm, norm_type=norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=float(norm_type))
    assert isinstance(ln, lamina.Tensor) and ln.shape == () and ln.dtype == np.float32
    np.testing.assert_allclose(ln.item(), tn.item(), rtol=1e-5)
    for p, q in zip(lp, tp):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-5, atol=1e-7)
    if max_norm < ln.item():
        total = optim.get_total_norm([p.grad for p in lp], norm_type)
        np.testing.assert_allclose(total.item(), max_norm, rtol=1e-4)


@requires_torch
def test_clip_grad_norm_single_tensor_and_skipped_none_grads():
    lp, tp = _pair(scale=10.0)
    lp[1].grad, tp[1].grad = None, None
    ln = optim.clip_grad_norm_(iter(lp), 1.0)
    tn = torch.nn.utils.clip_grad_norm_(iter(tp), 1.0)
    np.testing.assert_allclose(ln.item(), tn.item(), rtol=1e-5)
    assert lp[1].grad is None
    before = float(np.linalg.norm(lp[0].grad.array))
    one = optim.clip_grad_norm_(lp[0], 0.1)  # a single Tensor is accepted too
    assert one.item() == pytest.approx(before, rel=1e-6)
    assert float(np.linalg.norm(lp[0].grad.array)) == pytest.approx(0.1, rel=1e-4)


def test_clip_grad_norm_in_place_on_strided_grads():
    p = lamina.Tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    p.grad = lamina.Tensor(noncontiguous(np.full((3, 2), 2.0, np.float32)))
    g = p.grad.array
    total = optim.clip_grad_norm_([p], 1.0)
    assert total.item() == pytest.approx(math.sqrt(24.0), rel=1e-6)
    assert p.grad.array is g
    np.testing.assert_allclose(np.linalg.norm(p.grad.array), 1.0, rtol=1e-5)


def test_clip_grad_norm_nonfinite():
    p = lamina.Tensor(np.zeros(3, np.float32), requires_grad=True)
    p.grad = lamina.tensor([1.0, float("nan"), 2.0])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is non-finite"):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(optim.clip_grad_norm_([p], 1.0).item())


def test_clip_grad_norm_without_grads_returns_zero():
    p = lamina.Tensor(np.zeros(3, np.float32), requires_grad=True)
    total = optim.clip_grad_norm_([p], 1.0)
    assert total.item() == 0.0 and p.grad is None
    with pytest.raises(ValueError, match="unknown norm_type 'fro'"):
        optim.clip_grad_norm_([p], 1.0, norm_type="fro")


@requires_torch
@pytest.mark.parametrize("clip_value", [0.1, 0.5, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    lp, tp = _pair()
    assert optim.clip_grad_value_(lp, clip_value) is None
    torch.nn.utils.clip_grad_value_(tp, clip_value)
    for p, q in zip(lp, tp):
        np.testing.assert_array_equal(p.grad.array, q.grad.numpy())
        assert np.abs(p.grad.array).max() <= clip_value


@requires_torch
def test_penalties_values_and_gradients_match_torch():
    r = np.random.default_rng(1)
    arrays = [r.standard_normal(s).astype(np.float32) for s in SHAPES]
    lp = [lamina.Tensor(a.copy(), requires_grad=True) for a in arrays]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    l1, l2 = optim.l1_penalty(lp), optim.l2_penalty(lp)
    t1 = sum(p.abs().sum() for p in tp)
    t2 = 0.5 * sum((p * p).sum() for p in tp)
    np.testing.assert_allclose(l1.item(), t1.item(), rtol=1e-6)
    np.testing.assert_allclose(l2.item(), t2.item(), rtol=1e-6)
    (l1 * 0.3 + l2).backward()
    (t1 * 0.3 + t2).backward()
    for p, q in zip(lp, tp):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(p.grad.array, 0.3 * np.sign(p.array) + p.array, rtol=1e-6)


def test_l2_penalty_equals_sgd_weight_decay():
    """loss + wd * l2_penalty(w) steps SGD exactly like weight_decay=wd (the documented 1/2 factor)."""
    a = lamina.Tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    b = lamina.Tensor(a.array.copy(), requires_grad=True)
    opt_a, opt_b = optim.SGD([a], lr=0.1), optim.SGD([b], lr=0.1, weight_decay=0.01)
    ((a * 2.0).sum() + 0.01 * optim.l2_penalty([a])).backward()
    (b * 2.0).sum().backward()
    opt_a.step()
    opt_b.step()
    np.testing.assert_allclose(a.array, b.array, rtol=1e-6)


def test_penalties_of_no_parameters_are_zero():
    assert optim.l1_penalty([]).item() == 0.0 and optim.l2_penalty([]).item() == 0.0
    w = lamina.Tensor(np.array([3.0, -4.0], np.float32), requires_grad=True)
    assert optim.l1_penalty(w).item() == 7.0 and optim.l2_penalty(w).item() == 12.5
