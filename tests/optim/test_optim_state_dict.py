"""Optimizer state_dict: PyTorch's layout, exact resume, loading to and from torch, errors."""
import copy
import json

import numpy as np
import pytest

import lamina
from helpers import requires_torch
from lamina import optim
from optim_cases import groups, initial_arrays, lamina_params, set_lamina_grads, set_torch_grads, torch, torch_params

OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
]
SPEC = [([0], dict(lr=0.02)), ([1, 2], dict())]


def _run(opt, params, start, stop):
    for k in range(start, stop):
        set_lamina_grads(params, k)
        opt.step()


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[n + str(i) for i, (n, _) in enumerate(OPTIMIZERS)])
def test_resume_from_state_dict_equals_uninterrupted_run(name, kw, path):
    init = initial_arrays()
    ref = lamina_params(init)
    ref_opt = getattr(optim, name)(groups(ref, SPEC), **kw)
    _run(ref_opt, ref, 0, 20)

    a = lamina_params(init)
    a_opt = getattr(optim, name)(groups(a, SPEC), **kw)
    _run(a_opt, a, 0, 10)
    saved = copy.deepcopy(a_opt.state_dict())
    weights = [p.array.copy() for p in a]
    _run(a_opt, a, 10, 13)  # keeps running after the save: the snapshot must not change

    b = lamina_params(weights)
    b_opt = getattr(optim, name)(groups(b, [([0], dict(lr=123.0)), ([1, 2], dict())]), **kw)
    b_opt.load_state_dict(saved)
    assert b_opt.param_groups[0]["lr"] == 0.02
    _run(b_opt, b, 10, 20)
    for p, q in zip(ref, b):
        np.testing.assert_array_equal(p.array, q.array)


@requires_torch
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[n + str(i) for i, (n, _) in enumerate(OPTIMIZERS)])
def test_layout_matches_torch(name, kw):
    init = initial_arrays()
    lp, tp = lamina_params(init), torch_params(init)
    lopt = getattr(optim, name)(groups(lp, SPEC), **kw)
    topt = getattr(torch.optim, name)(groups(tp, SPEC), **kw)
    for k in range(3):
        set_lamina_grads(lp, k)
        set_torch_grads(tp, k)
        lopt.step()
        topt.step()
    ls, ts = lopt.state_dict(), topt.state_dict()
    assert set(ls) == {"state", "param_groups"}
    assert sorted(ls["state"]) == sorted(ts["state"])
    for i, tstate in ts["state"].items():
        assert list(ls["state"][i]) == list(tstate), "same keys in the same order"
        for key, tv in tstate.items():
            lv = ls["state"][i][key]
            assert isinstance(lv, lamina.Tensor) and lv.shape == tuple(tv.shape) and lv.dtype == tv.numpy().dtype
            np.testing.assert_allclose(lv.array, tv.numpy(), rtol=1e-5, atol=1e-7)
    for lg, tg in zip(ls["param_groups"], ts["param_groups"]):
        assert lg["params"] == tg["params"]
        for key, val in lg.items():
            assert key in tg, f"{key} is not a torch param_group key"
            assert tg[key] == val, f"param_group[{key!r}]: {val} vs torch {tg[key]}"


@requires_torch
@pytest.mark.parametrize("name,kw", OPTIMIZERS[:1] + OPTIMIZERS[2:], ids=lambda x: str(x))
def test_state_dicts_load_across_frameworks(name, kw):
    """torch's state dict (torch tensors) loads into lamina and lamina's into torch."""
    init = initial_arrays()
    lp, tp = lamina_params(init), torch_params(init)
    lopt = getattr(optim, name)(lp, **kw)
    topt = getattr(torch.optim, name)(tp, **kw)
    for k in range(4):
        set_torch_grads(tp, k)
        topt.step()
    lopt.load_state_dict(topt.state_dict())
    for p, q in zip(lp, tp):
        p.array[...] = q.detach().numpy()
    as_torch = lopt.state_dict()
    as_torch["state"] = {i: {k: torch.from_numpy(np.array(v.array)) for k, v in s.items()}
                         for i, s in as_torch["state"].items()}
    t2 = torch_params([p.array for p in lp])
    topt2 = getattr(torch.optim, name)(t2, **kw)
    topt2.load_state_dict(as_torch)
    for k in range(4, 10):
        set_lamina_grads(lp, k)
        set_torch_grads(tp, k)
        set_torch_grads(t2, k)
        lopt.step()
        topt.step()
        topt2.step()
    for a, b, c in zip(lp, tp, t2):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(b.detach().numpy(), c.detach().numpy())


def test_state_dict_survives_a_json_round_trip():
    """Indices become strings and tuples lists in JSON (checkpoint metadata); loading restores them."""
    init = initial_arrays()
    a = lamina_params(init)
    opt = optim.Adam(a, lr=0.01, betas=(0.8, 0.9))
    _run(opt, a, 0, 3)
    sd = opt.state_dict()
    meta = json.loads(json.dumps({"param_groups": sd["param_groups"]}))
    state = {str(i): {k: v.array.tolist() for k, v in s.items()} for i, s in sd["state"].items()}
    b = lamina_params([p.array for p in a])
    opt2 = optim.Adam(b, lr=0.01)
    opt2.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9)
    assert float(opt2.state[b[0]]["step"]) == 3.0
    assert opt2.state[b[0]]["exp_avg"].dtype == np.float32
    _run(opt, a, 3, 6)
    _run(opt2, b, 3, 6)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.array, q.array)


def test_load_state_dict_errors_name_the_mismatch():
    init = initial_arrays()
    a = lamina_params(init)
    opt = optim.Adam(groups(a, SPEC), lr=0.01)
    _run(opt, a, 0, 2)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="the state dict has 2 parameter groups, the optimizer has 1"):
        optim.Adam(lamina_params(init)).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter group 1 has 2 parameters in the state dict but 1"):
        b = lamina_params(init)
        optim.Adam(groups(b, [([0], {}), ([1], {})])).load_state_dict(sd)
    shapes = [lamina.Tensor(np.zeros(s, np.float32), requires_grad=True) for s in [(6, 5), (5,), (4, 3)]]
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 2 has shape \(3, 4\), but the parameter "
                                         r"has shape \(4, 3\)"):
        optim.Adam(groups(shapes, SPEC)).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_failed_load_leaves_the_optimizer_unchanged():
    init = initial_arrays()
    a = lamina_params(init)
    opt = optim.SGD(a, lr=0.1, momentum=0.9)
    _run(opt, a, 0, 2)
    bad = copy.deepcopy(opt.state_dict())
    bad["state"][0]["momentum_buffer"] = lamina.zeros(2, 2)
    before = opt.state_dict()
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    assert opt.state_dict()["state"][0]["momentum_buffer"] is before["state"][0]["momentum_buffer"]


def test_missing_group_keys_take_the_defaults():
    """A state dict saved before an option existed (here: maximize) still loads."""
    a = lamina_params(initial_arrays())
    opt = optim.Adam(a, lr=0.01)
    _run(opt, a, 0, 2)
    sd = copy.deepcopy(opt.state_dict())
    del sd["param_groups"][0]["maximize"]
    opt2 = optim.Adam(lamina_params([p.array for p in a]), lr=0.01)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["maximize"] is False


def test_adagrad_state_exists_before_the_first_step():
    p = lamina.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.5)
    st = opt.state_dict()["state"][0]
    assert float(st["step"]) == 0.0 and np.all(st["sum"].array == 0.5)


def test_sgd_without_momentum_keeps_no_state():
    a = lamina_params(initial_arrays())
    opt = optim.SGD(a, lr=0.1)
    _run(opt, a, 0, 2)
    assert opt.state_dict()["state"] == {}
