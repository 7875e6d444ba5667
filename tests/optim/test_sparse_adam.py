"""SparseAdam on dense gradients: the rows with a nonzero gradient follow torch's SparseAdam fed grad.to_sparse(1)."""
import copy

import numpy as np
import pytest

import lamina
from helpers import requires_torch
from lamina import optim
from optim_cases import torch

SHAPES = [(7, 3), (6,), (2, 3, 2), ()]


def _grads(k, shapes=SHAPES, dtype=np.float64):
    """Dense gradients with whole rows of zeros (as an embedding's for tokens not looked up)."""
    r = np.random.default_rng(100 + k)
    out = []
    for s in shapes:
        g = r.standard_normal(s).astype(dtype)
        if len(s):
            g[r.random(s[0]) < 0.5] = 0
        elif k % 3 == 0:
            g = np.zeros(s, dtype)
        out.append(g)
    return out


def _torch_grad(g):
    t = torch.from_numpy(g.copy())
    return t.to_sparse(1) if t.dim() else t.reshape(1).to_sparse(1).to_dense().reshape(()).to_sparse()


@requires_torch
@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, betas=(0.5, 0.9), eps=1e-4), dict(lr=0.02, maximize=True)],
                         ids=str)
def test_rows_with_gradient_follow_torch_sparse_adam(kw):
    r = np.random.default_rng(0)
    init = [r.standard_normal(s) for s in SHAPES]
    lp = [lamina.Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    lopt, topt = optim.SparseAdam(lp, **kw), torch.optim.SparseAdam(tp, **kw)
    untouched = [np.ones(s[:1] or (1,), bool) for s in SHAPES]
    for k in range(12):
        for a, b, g, u in zip(lp, tp, _grads(k), untouched):
            a.grad, b.grad = lamina.Tensor(g), _torch_grad(g)
            u &= ~(g.reshape(len(u), -1) != 0).any(axis=1)
        lopt.step()
        topt.step()
        for i, (a, b) in enumerate(zip(lp, tp)):
            np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"param {i} at step {k}")
    for a, a0, u in zip(lp, init, untouched):  # rows never touched never moved
        np.testing.assert_array_equal(a.array.reshape(len(u), -1)[u], np.reshape(a0, (len(u), -1))[u])
    ls, ts = lopt.state_dict()["state"], topt.state_dict()["state"]
    for i in ts:
        assert list(ls[i]) == list(ts[i]) and ls[i]["step"] == ts[i]["step"] and isinstance(ls[i]["step"], int)
        np.testing.assert_allclose(ls[i]["exp_avg_sq"].array, ts[i]["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-15)


@requires_torch
def test_torch_state_dict_loads():
    init = [np.ones((4, 2)), np.ones(3)]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = torch.optim.SparseAdam(tp, lr=0.1)
    for k in range(3):
        for b, g in zip(tp, _grads(k, [(4, 2), (3,)])):
            b.grad = _torch_grad(g)
        topt.step()
    lp = [lamina.Tensor(b.detach().numpy().copy(), requires_grad=True) for b in tp]
    lopt = optim.SparseAdam(lp, lr=0.1)
    lopt.load_state_dict(topt.state_dict())
    assert lopt.state[lp[0]]["step"] == 3 and isinstance(lopt.state[lp[0]]["step"], int)
    for k in range(3, 6):
        for a, b, g in zip(lp, tp, _grads(k, [(4, 2), (3,)])):
            a.grad, b.grad = lamina.Tensor(g), _torch_grad(g)
        lopt.step()
        topt.step()
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12)


def test_an_all_zero_gradient_counts_the_step_but_moves_nothing():
    p = lamina.Tensor(np.ones((3, 2)), requires_grad=True)
    opt = optim.SparseAdam([p])
    p.grad = lamina.zeros(3, 2, dtype=lamina.float64)
    opt.step()
    assert opt.state[p]["step"] == 1 and not opt.state[p]["exp_avg"].array.any()
    np.testing.assert_array_equal(p.array, 1.0)
    state = copy.deepcopy(opt.state_dict())
    assert state["state"][0]["step"] == 1


def test_complex_params_are_refused():
    with pytest.raises(ValueError, match=r"SparseAdam: complex params at indices \[\[0, 1\]\]"):
        optim.SparseAdam([lamina.Tensor(np.ones(2), requires_grad=True),
                          lamina.Tensor(np.ones(2, np.complex128), requires_grad=True)])
