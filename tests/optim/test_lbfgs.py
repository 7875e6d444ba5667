"""LBFGS against torch.optim.LBFGS: Rosenbrock and least squares, with and without strong Wolfe; state."""
import copy
import json

import numpy as np
import pytest

import lamina
from helpers import requires_torch
from lamina import optim
from optim_cases import torch


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


R = np.random.default_rng(0)
A = R.standard_normal((20, 5))
B = A @ R.standard_normal(5) + 0.3 + 0.1 * R.standard_normal(20)


def least_squares(w, c, A, B):
    return ((A @ w + c - B) ** 2).mean()


def _problem(kind, dtype):
    """(initial arrays, loss on lamina tensors, loss on torch tensors)."""
    if kind == "rosenbrock":
        return [np.array([-1.5, 2.0, 0.5, -0.5], dtype)], rosenbrock, rosenbrock
    if kind == "rosenbrock-2d":  # the classic start, in the banana-shaped valley
        return [np.array([-1.2, 1.0], dtype)], rosenbrock, rosenbrock
    la, lb = lamina.Tensor(A.astype(dtype)), lamina.Tensor(B.astype(dtype))
    ta, tb = torch.from_numpy(A.astype(dtype)), torch.from_numpy(B.astype(dtype))
    return ([np.zeros(5, dtype), np.zeros(1, dtype)],
            lambda w, c: least_squares(w, c, la, lb), lambda w, c: least_squares(w, c, ta, tb))


def _closure(opt, params, loss_fn, counter):
    def closure():
        counter.append(1)
        opt.zero_grad()
        loss = loss_fn(*params)
        loss.backward()
        return loss
    return closure


def run_pair(kind, kw, steps, dtype=np.float64, check=True, rtol=1e-9, atol=1e-12):
    init, lfn, tfn = _problem(kind, dtype)
    lp = [lamina.Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    lopt, topt = optim.LBFGS(lp, **kw), torch.optim.LBFGS(tp, **kw)
    lcalls, tcalls = [], []
    lclosure, tclosure = _closure(lopt, lp, lfn, lcalls), _closure(topt, tp, tfn, tcalls)
    for k in range(steps):
        ll, tl = lopt.step(lclosure), topt.step(tclosure)
        assert isinstance(ll, lamina.Tensor), "step returns the closure's first loss"
        if check:
            np.testing.assert_allclose(ll.item(), tl.item(), rtol=rtol, atol=atol, err_msg=f"loss at step {k}")
            for a, b in zip(lp, tp):
                np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=rtol, atol=atol,
                                           err_msg=f"{kind} {kw}: parameters differ after step {k}")
            assert len(lcalls) == len(tcalls), "the same number of closure evaluations"
    return lopt, topt, lp, tp, lfn, tfn


KWS = [dict(), dict(line_search_fn="strong_wolfe"), dict(lr=0.5, history_size=3, max_iter=7),
       dict(line_search_fn="strong_wolfe", history_size=2, max_iter=10, max_eval=12)]


@requires_torch
@pytest.mark.parametrize("kw", KWS, ids=str)
def test_rosenbrock_trajectory_matches_torch(kw):
    lopt, topt, lp, tp, lfn, tfn = run_pair("rosenbrock", kw, steps=6)
    ls, ts = lopt.state[lp[0]], topt.state[tp[0]]
    assert ls["func_evals"] == ts["func_evals"] and ls["n_iter"] == ts["n_iter"]
    assert len(ls["old_dirs"]) == len(ts["old_dirs"])
    np.testing.assert_allclose(lfn(*lp).item(), tfn(*tp).item(), rtol=1e-9, atol=1e-14)


@requires_torch
@pytest.mark.parametrize("kw", KWS[:2], ids=str)
def test_rosenbrock_2d_reaches_the_minimum_along_torchs_path(kw):
    lopt, topt, lp, tp, lfn, tfn = run_pair("rosenbrock-2d", kw, steps=5, rtol=1e-8, atol=1e-10)
    assert lfn(*lp).item() < 1e-8 and tfn(*tp).item() < 1e-8
    np.testing.assert_allclose(lp[0].array, [1.0, 1.0], atol=1e-4)


@requires_torch
@pytest.mark.parametrize("kw", KWS, ids=str)
def test_least_squares_two_params_match_torch(kw):
    lopt, topt, lp, tp, lfn, tfn = run_pair("least_squares", kw, steps=3)
    w_best = np.linalg.lstsq(np.c_[A, np.ones(20)], B, rcond=None)[0]
    np.testing.assert_allclose(np.r_[lp[0].array, lp[1].array], w_best, atol=1e-4)
    np.testing.assert_allclose(lfn(*lp).item(), tfn(*tp).item(), rtol=1e-10)


@requires_torch
@pytest.mark.parametrize("kw", KWS[:2], ids=str)
def test_float32_least_squares_ends_where_torch_ends(kw):
    """float32: array scalars keep float32 as torch's 0-d tensors do; the end point agrees closely."""
    _, _, lp, tp, lfn, tfn = run_pair("least_squares", kw, steps=2, dtype=np.float32, check=False)
    assert lp[0].dtype == np.float32
    np.testing.assert_allclose(lp[0].array, tp[0].detach().numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(lfn(*lp).item(), tfn(*tp).item(), rtol=1e-4)


def _lamina_rosenbrock(kw):
    x = lamina.Tensor(np.array([-1.5, 2.0, 0.5, -0.5]), requires_grad=True)
    opt = optim.LBFGS([x], **kw)
    return x, opt, _closure(opt, [x], rosenbrock, [])


@pytest.mark.parametrize("kw", KWS[1:3], ids=str)
def test_resume_from_state_dict_through_json_continues_exactly(kw):
    x, opt, closure = _lamina_rosenbrock(kw)
    for _ in range(4):
        opt.step(closure)
    y, opt2, closure2 = _lamina_rosenbrock(kw)
    sd = opt.state_dict()
    text = json.dumps({"param_groups": sd["param_groups"],
                       "state": {i: {k: [t.array.tolist() for t in v] if isinstance(v, list) and v and
                                     isinstance(v[0], lamina.Tensor) else
                                     v.array.tolist() if isinstance(v, lamina.Tensor) else v
                                     for k, v in s.items()} for i, s in sd["state"].items()}})
    y.array[...] = x.array
    opt2.load_state_dict(json.loads(text))
    assert isinstance(opt2.state[y]["d"], lamina.Tensor) and opt2.state[y]["d"].dtype == np.float64
    for _ in range(3):
        a, b = opt.step(closure), opt2.step(closure2)
        assert a.item() == b.item()
    np.testing.assert_array_equal(x.array, y.array)


@requires_torch
@pytest.mark.parametrize("kw", KWS[:2], ids=str)
def test_torch_state_dict_loads_and_lamina_state_dict_loads_into_torch(kw):
    init, lfn, tfn = _problem("rosenbrock", np.float64)
    tp = [torch.tensor(init[0].copy(), requires_grad=True)]
    topt = torch.optim.LBFGS(tp, max_iter=5, **kw)
    tclosure = _closure(topt, tp, tfn, [])
    for _ in range(2):
        topt.step(tclosure)
    lp = [lamina.Tensor(tp[0].detach().numpy().copy(), requires_grad=True)]
    lopt = optim.LBFGS(lp, max_iter=5, **kw)
    lopt.load_state_dict(copy.deepcopy(topt.state_dict()))
    sd = lopt.state_dict()
    conv = {k: torch.from_numpy(v.array.copy()) if isinstance(v, lamina.Tensor) else
            [torch.from_numpy(t.array.copy()) for t in v] if k in ("old_dirs", "old_stps") else v
            for k, v in sd["state"][0].items()}
    t2 = [torch.tensor(lp[0].array.copy(), requires_grad=True)]
    topt2 = torch.optim.LBFGS(t2, max_iter=5, **kw)
    topt2.load_state_dict({"state": {0: conv}, "param_groups": sd["param_groups"]})
    lclosure, t2closure = _closure(lopt, lp, lfn, []), _closure(topt2, t2, tfn, [])
    for _ in range(3):
        topt.step(tclosure)
        lopt.step(lclosure)
        topt2.step(t2closure)
    np.testing.assert_allclose(lp[0].array, tp[0].detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t2[0].detach().numpy(), tp[0].detach().numpy(), rtol=1e-9, atol=1e-12)


def test_step_stops_at_once_when_the_gradient_is_zero():
    x = lamina.Tensor(np.ones(4), requires_grad=True)  # the minimum of Rosenbrock
    opt = optim.LBFGS([x])
    calls = []
    loss = opt.step(_closure(opt, [x], rosenbrock, calls))
    assert loss.item() == 0.0 and len(calls) == 1 and "d" not in opt.state[x]


def test_closure_runs_with_grad_enabled_under_no_grad():
    x = lamina.Tensor(np.array([3.0, -1.0]), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe")
    with lamina.no_grad():
        opt.step(_closure(opt, [x], lambda x: ((x - 1) ** 2).sum(), []))
    np.testing.assert_allclose(x.array, [1.0, 1.0], atol=1e-8)


def test_lbfgs_errors():
    x = lamina.Tensor(np.ones(2), requires_grad=True)
    y = lamina.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [x]}, {"params": [y]}])
    with pytest.raises(RuntimeError, match="line_search_fn='wolfe' is not supported"):
        optim.LBFGS([x], line_search_fn="wolfe")
    with pytest.raises(ValueError, match="LBFGS: invalid learning rate"):
        optim.LBFGS([x], lr=-1)
    with pytest.raises(RuntimeError, match="needs a closure"):
        optim.LBFGS([x]).step(None)
    opt = optim.LBFGS([x])
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        opt.add_param_group({"params": [y]})
    sd = {"state": {0: {"d": np.zeros(3), "n_iter": 1}}, "param_groups": opt.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"state 'd' should be a vector of the 2 parameter entries, got \(3,\)"):
        opt.load_state_dict(sd)


def test_state_survives_a_lamina_checkpoint(tmp_path):
    """lamina.save / lamina.load (safetensors + JSON) keep the history, so a resumed run is identical."""
    x, opt, closure = _lamina_rosenbrock(dict(line_search_fn="strong_wolfe", history_size=3, max_iter=4))
    opt.step(closure)
    lamina.save({"optimizer": opt.state_dict()}, tmp_path / "ckpt.safetensors")
    y, opt2, closure2 = _lamina_rosenbrock(dict(line_search_fn="strong_wolfe", history_size=3, max_iter=4))
    y.array[...] = x.array
    opt2.load_state_dict(lamina.load(tmp_path / "ckpt.safetensors")["optimizer"])
    assert len(opt2.state[y]["old_dirs"]) == len(opt.state[x]["old_dirs"]) == 3
    for _ in range(2):
        assert opt.step(closure).item() == opt2.step(closure2).item()
    np.testing.assert_array_equal(x.array, y.array)
