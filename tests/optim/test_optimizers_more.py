"""Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD, Adafactor: trajectories, state and errors against torch.optim."""
import copy
import json

import numpy as np
import pytest

import lamina
from helpers import noncontiguous, requires_torch, transposed
from lamina import optim
from optim_cases import groups, initial_arrays, lamina_params, set_lamina_grads, set_torch_grads, torch, torch_params

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.05, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.5))),          # lerp weight >= 0.5: torch's other lerp formula
    ("Adamax", dict(lr=0.01, weight_decay=0.1, eps=1e-3)),
    ("Adamax", dict(lr=0.01, maximize=True, weight_decay=0.01)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, betas=(0.3, 0.9), momentum_decay=0.05, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.3, 0.9), maximize=True, eps=1e-4)),  # rho_t > 5 from step 7
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1))),
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, t0=5)),                        # averaging starts at step 5
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=2, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.1, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-4, 1e-2), d=1.5)),
    ("Adafactor", dict(lr=0.05, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]
KERNEL_CASES = [c for c in CASES if c[0] in ("Adadelta", "Adamax", "NAdam", "RAdam", "Rprop")]


def run_pair(name, kw, steps=20, dtype=np.float32, spec=None, layout=None, rtol=1e-5, atol=1e-6):
    init = initial_arrays(dtype)
    lp, tp = lamina_params(init, layout), torch_params(init)
    lopt = getattr(optim, name)(groups(lp, spec), **kw)
    topt = getattr(torch.optim, name)(groups(tp, spec), **kw)
    for k in range(steps):
        set_lamina_grads(lp, k)
        set_torch_grads(tp, k)
        lopt.step()
        topt.step()
        for i, (a, b) in enumerate(zip(lp, tp)):
            np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"{name}{kw}: parameter {i} differs from torch at step {k}")
    return lopt, topt, lp, tp


def assert_states_equal(ls, ts, rtol, atol):
    assert sorted(ls) == sorted(ts)
    for i in ts:
        assert list(ls[i]) == list(ts[i]), f"state keys of param {i}: {list(ls[i])} vs torch {list(ts[i])}"
        for key, tv in ts[i].items():
            lv = ls[i][key]
            tv = tv.numpy() if hasattr(tv, "numpy") else tv
            lv = lv.array if isinstance(lv, lamina.Tensor) else lv
            assert np.shape(lv) == np.shape(tv) and np.asarray(lv).dtype == np.asarray(tv).dtype, key
            np.testing.assert_allclose(lv, tv, rtol=rtol, atol=atol, err_msg=f"state {key} of param {i}")


@requires_torch
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_float32_trajectory_and_state_match_torch(name, kw, path):
    """20 steps, a parameter skipped now and then: equal to torch up to float32 rounding."""
    lopt, topt, _, _ = run_pair(name, kw)
    assert_states_equal(lopt.state_dict()["state"], topt.state_dict()["state"], rtol=1e-5, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_float64_trajectory_matches_torch(name, kw, path):
    lopt, topt, lp, _ = run_pair(name, kw, dtype=np.float64, rtol=1e-12, atol=1e-14)
    assert lp[0].dtype == np.float64
    assert_states_equal(lopt.state_dict()["state"], topt.state_dict()["state"], rtol=1e-12, atol=1e-14)


@requires_torch
@pytest.mark.parametrize("name,kw", [("Adadelta", dict(lr=0.5)), ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)),
                                     ("RAdam", dict(lr=0.01)), ("Rprop", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=4)),
                                     ("Adafactor", dict(lr=0.05))])
def test_param_groups_with_their_own_options(name, kw, path):
    spec = [([0], dict(lr=kw["lr"] * 3)), ([1, 2], dict(lr=kw["lr"] / 2))]
    if name not in ("Rprop",):
        spec[0][1]["weight_decay"] = 0.1
    lopt, topt, _, _ = run_pair(name, kw, dtype=np.float64, spec=spec, rtol=1e-12, atol=1e-14)
    assert lopt.param_groups[0]["lr"] == kw["lr"] * 3 and lopt.param_groups[1]["lr"] == kw["lr"] / 2
    for lg, tg in zip(lopt.state_dict()["param_groups"], topt.state_dict()["param_groups"]):
        assert lg == tg, "the same param_group entries as torch"


@requires_torch
@pytest.mark.parametrize("name,kw", KERNEL_CASES[1::2], ids=lambda c: str(c))
@pytest.mark.parametrize("layout", [noncontiguous, transposed], ids=["strided", "fortran"])
def test_noncontiguous_params_take_the_array_path(name, kw, layout):
    lopt, _, lp, _ = run_pair(name, kw, layout=layout)
    assert not lp[0].array.flags.c_contiguous


@requires_torch
@pytest.mark.parametrize("name,kw", [("Adadelta", dict(lr=0.5, weight_decay=0.1)), ("Adamax", dict(lr=0.01)),
                                     ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
                                     ("RAdam", dict(lr=0.01)), ("Rprop", dict(lr=0.05)),
                                     ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1))])
def test_complex_params_are_pairs_of_reals_as_in_torch(name, kw):
    r = np.random.default_rng(1)
    init = [(r.standard_normal(s) + 1j * r.standard_normal(s)).astype(np.complex128) for s in [(3, 4), (5,)]]
    lp = [lamina.Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    lopt, topt = getattr(optim, name)(lp, **kw), getattr(torch.optim, name)(tp, **kw)
    for k in range(12):
        for a, b in zip(lp, tp):
            g = np.tanh(a.array.real) + 0.1 * k + 1j * np.sin(3 * a.array.imag)
            a.grad, b.grad = lamina.Tensor(g), torch.from_numpy(g.copy())
        lopt.step()
        topt.step()
    for a, b, a0 in zip(lp, tp, init):
        assert np.isfinite(a.array).all() and np.abs(a.array - a0).max() > 1e-3
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert_states_equal(lopt.state_dict()["state"], topt.state_dict()["state"], rtol=1e-12, atol=1e-14)


@requires_torch
@pytest.mark.parametrize("kw", [dict(), dict(lr=0.1, weight_decay=0.1, d=1.2), dict(eps=(1e-3, 1e-3), maximize=True)])
def test_adafactor_factors_the_last_two_dims_of_nd_params(kw):
    """A 3-D parameter is factored per leading index; 0-d and 1-D ones keep a full variance."""
    r = np.random.default_rng(2)
    init = [r.standard_normal(s) for s in [(2, 3, 4), (), (4, 1), (1, 5)]]
    lp = [lamina.Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    lopt, topt = optim.Adafactor(lp, **kw), torch.optim.Adafactor(tp, **kw)
    for k in range(10):
        for a, b in zip(lp, tp):
            g = np.cos(2 * a.array) + 0.05 * k
            a.grad, b.grad = lamina.Tensor(g), torch.from_numpy(np.array(g))
        lopt.step()
        topt.step()
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12, atol=1e-14)
    st = lopt.state[lp[0]]
    assert st["row_var"].shape == (2, 3, 1) and st["col_var"].shape == (2, 1, 4) and "variance" in lopt.state[lp[1]]
    assert_states_equal(lopt.state_dict()["state"], topt.state_dict()["state"], rtol=1e-12, atol=1e-14)


OPTIONS = {"Adadelta": dict(lr=0.5, weight_decay=0.1), "Adamax": dict(lr=0.01), "NAdam": dict(lr=0.01),
           "RAdam": dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1), "Rprop": dict(lr=0.05),
           "ASGD": dict(lr=0.05, t0=3), "Adafactor": dict(lr=0.05, weight_decay=0.1)}


@requires_torch
@pytest.mark.parametrize("name", list(OPTIONS))
def test_torch_state_dict_loads_and_lamina_state_dict_loads_into_torch(name):
    kw = OPTIONS[name]
    init = initial_arrays(np.float64)
    lp, tp = lamina_params(init), torch_params(init)
    lopt, topt = getattr(optim, name)(lp, **kw), getattr(torch.optim, name)(tp, **kw)
    for k in range(4):
        set_torch_grads(tp, k)
        topt.step()
    lopt.load_state_dict(topt.state_dict())
    for p, q in zip(lp, tp):
        p.array[...] = q.detach().numpy()
    as_torch = lopt.state_dict()
    as_torch["state"] = {i: {k: torch.from_numpy(np.array(v.array)) if isinstance(v, lamina.Tensor) else v
                             for k, v in s.items()} for i, s in as_torch["state"].items()}
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
    # torch casts every loaded state tensor but 'step' to the parameter's dtype, so NAdam's mu_product
    # and ASGD's eta and mu become float64 in topt2 and its products round differently from then on
    exact = name not in ("NAdam", "ASGD")
    for a, b, c in zip(lp, tp, t2):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c.detach().numpy(), b.detach().numpy(), rtol=0 if exact else 1e-7, atol=0)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_resume_through_json_equals_the_uninterrupted_run(name, path):
    kw = OPTIONS[name]
    init = initial_arrays()
    ref = lamina_params(init)
    ref_opt = getattr(optim, name)(ref, **kw)
    a = lamina_params(init)
    a_opt = getattr(optim, name)(a, **kw)
    for k in range(6):
        set_lamina_grads(ref, k)
        ref_opt.step()
        set_lamina_grads(a, k)
        a_opt.step()
    sd = a_opt.state_dict()
    groups_json = json.loads(json.dumps(sd["param_groups"]))
    state = {str(i): {k: v.array.tolist() if isinstance(v, lamina.Tensor) else v for k, v in s.items()}
             for i, s in sd["state"].items()}
    b = lamina_params([p.array for p in a])
    b_opt = getattr(optim, name)(b, lr=123.0)
    b_opt.load_state_dict({"state": state, "param_groups": groups_json})
    assert b_opt.param_groups[0] == {**ref_opt.param_groups[0], "params": b}
    for k in range(6, 12):
        set_lamina_grads(ref, k)
        ref_opt.step()
        set_lamina_grads(b, k)
        b_opt.step()
    for p, q in zip(ref, b):
        np.testing.assert_array_equal(p.array, q.array)


def _p():
    return lamina.Tensor(np.ones(2, np.float32), requires_grad=True)


BAD = [
    ("Adadelta", dict(lr=-1.0), "invalid learning rate lr=-1.0"),
    ("Adadelta", dict(rho=1.5), "invalid rho=1.5"),
    ("Adadelta", dict(eps=-1e-6), "invalid eps"),
    ("Adadelta", dict(weight_decay=-0.1), "invalid weight_decay"),
    ("Adamax", dict(lr=-0.1), "invalid learning rate"),
    ("Adamax", dict(betas=(1.0, 0.9)), "invalid beta parameter at index 0"),
    ("Adamax", dict(betas=(0.9, -0.1)), "invalid beta parameter at index 1"),
    ("Adamax", dict(eps=-1.0), "invalid eps"),
    ("NAdam", dict(momentum_decay=-0.1), "invalid momentum_decay"),
    ("NAdam", dict(weight_decay=-0.1), "invalid weight_decay"),
    ("NAdam", dict(betas=(0.9, 1.0)), "invalid beta parameter at index 1"),
    ("RAdam", dict(lr=-1e-3), "invalid learning rate"),
    ("RAdam", dict(eps=-1.0), "invalid eps"),
    ("RAdam", dict(betas=(-0.1, 0.9)), "invalid beta parameter at index 0"),
    ("Rprop", dict(etas=(1.2, 0.5)), "invalid eta values"),
    ("Rprop", dict(etas=(0.0, 1.2)), "invalid eta values"),
    ("Rprop", dict(lr=-0.1), "invalid learning rate"),
    ("ASGD", dict(lr=-0.1), "invalid learning rate"),
    ("ASGD", dict(weight_decay=-1.0), "invalid weight_decay"),
    ("Adafactor", dict(lr=-0.1), "invalid learning rate"),
    ("Adafactor", dict(beta2_decay=0.5), "invalid beta2_decay"),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), r"invalid eps=\(-1.0, 0.001\) \(epsilon1"),
    ("Adafactor", dict(eps=(None, -1.0)), r"invalid eps=\(None, -1.0\) \(epsilon2"),
    ("Adafactor", dict(d=0.5), "invalid d=0.5"),
    ("Adafactor", dict(weight_decay=-0.1), "invalid weight_decay"),
    ("SparseAdam", dict(lr=0.0), "invalid learning rate"),
    ("SparseAdam", dict(eps=0.0), "invalid eps"),
    ("SparseAdam", dict(betas=(0.9, 1.5)), "invalid beta parameter at index 1"),
    ("LBFGS", dict(lr=-1.0), "invalid learning rate"),
]


@requires_torch
@pytest.mark.parametrize("name,kw,match", BAD, ids=[f"{n}-{kw}" for n, kw, _ in BAD])
def test_bad_hyperparameters_raise_value_error_like_torch(name, kw, match):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError, match=f"{name}: {match}"):
        getattr(optim, name)([_p()], **kw)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD"])
def test_implementation_flags_are_accepted_and_differentiable_is_refused(name):
    opt = getattr(optim, name)([_p()], foreach=True, capturable=True)
    assert opt.param_groups[0]["foreach"] is True and opt.param_groups[0]["capturable"] is True
    with pytest.raises(NotImplementedError, match=f"{name}: differentiable=True"):
        getattr(optim, name)([_p()], differentiable=True)
    optim.Adafactor([_p()], foreach=False)


def test_adafactor_refuses_complex_params_at_step_as_torch_does():
    p = lamina.Tensor(np.ones(2, np.complex64), requires_grad=True)
    opt = optim.Adafactor([p])
    p.grad = lamina.Tensor(np.ones(2, np.complex64))
    with pytest.raises(RuntimeError, match="Adafactor does not support complex parameters"):
        opt.step()


def test_adafactor_state_shape_is_checked_on_load():
    w = lamina.Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    opt = optim.Adafactor([w])
    w.grad = lamina.ones(3, 4)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["row_var"] = lamina.zeros(4, 1)
    with pytest.raises(ValueError, match=r"state 'row_var' of parameter 0 has shape \(4, 1\), but expected "
                                         r"shape \(3, 1\)"):
        optim.Adafactor([lamina.Tensor(np.ones((3, 4), np.float32), requires_grad=True)]).load_state_dict(sd)


def test_asgd_keeps_the_running_average_of_the_iterates():
    """With t0=0 and lambd=0, ax is the mean of the iterates so far (mu = 1/t)."""
    p = lamina.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.ASGD([p], lr=0.5, lambd=0.0, t0=0)
    iterates = []
    for _ in range(5):
        p.grad = lamina.Tensor(np.array([1.0]))
        opt.step()
        iterates.append(p.array[0])
    # mu is 1 for the first two steps (1 / max(1, t - t0)), then 1/2, 1/3, ...
    ax = iterates[1]
    for t, x in zip(range(3, 6), iterates[2:]):
        ax = ax + (x - ax) / (t - 1)
    np.testing.assert_allclose(opt.state[p]["ax"].array, [ax], rtol=1e-6)
    np.testing.assert_allclose(p.array, [1.0 - 5 * 0.5])


def test_rprop_backs_off_when_the_gradient_changes_sign():
    p = lamina.Tensor(np.array([0.0, 0.0]), requires_grad=True)
    opt = optim.Rprop([p], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 1.0))
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, 1.0]):
        p.grad = lamina.Tensor(np.array(g))
        opt.step()
    # coordinate 0: steps 0.1, 0.2, 0.4 down; coordinate 1: -0.1, then a sign change (no step, size 0.05),
    # then the sign is compared with the forgotten (zero) gradient: step 0.05 at the same size
    np.testing.assert_allclose(p.array, [-0.7, -0.15])
    np.testing.assert_allclose(opt.state[p]["step_size"].array, [0.4, 0.05])


