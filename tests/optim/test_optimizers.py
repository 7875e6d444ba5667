"""Optimizer trajectories against torch.optim, on both code paths (fused Numba and NumPy), and errors."""
import numpy as np
import pytest

import lamina
from helpers import noncontiguous, requires_torch, transposed
from lamina import optim
from lamina.optim import _kernels
from optim_cases import groups, initial_arrays, lamina_params, set_lamina_grads, set_torch_grads, torch, torch_params

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.5))),  # lerp weight >= 0.5: torch's other lerp branch
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    # alpha < 0.5 takes torch's other lerp branch; sqrt(v - a^2) cancels, so ulp differences grow
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, maximize=True, eps=0.1), 1e-4),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-6)),
]
CASES = [c if len(c) == 3 else (*c, 1e-5) for c in CASES]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw, _ in CASES]


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


@requires_torch
@pytest.mark.parametrize("name,kw,rtol", CASES, ids=IDS)
def test_trajectory_matches_torch(name, kw, rtol, path):
    """20 steps from the same weights and gradients: equal to torch up to float32 rounding.

    Not bit for bit: torch fuses some multiply-adds (lerp, addcmul, add with alpha) and its
    float32 sqrt is not correctly rounded, so values differ by an ulp now and then."""
    lopt, topt, _, _ = run_pair(name, kw, rtol=rtol)
    ls, ts = lopt.state_dict()["state"], topt.state_dict()["state"]
    assert sorted(ls) == sorted(ts)
    for i in ts:
        assert set(ls[i]) == set(ts[i]), f"state keys of param {i}: {set(ls[i])} vs torch {set(ts[i])}"
        for key, tv in ts[i].items():
            np.testing.assert_allclose(ls[i][key].array, tv.numpy(), rtol=rtol, atol=1e-6, err_msg=f"state {key}")


@requires_torch
@pytest.mark.parametrize("name,kw", [c[:2] for c in (CASES[2], CASES[8], CASES[13], CASES[18], CASES[22])],
                         ids=lambda c: str(c))
def test_float64_trajectory_matches_torch(name, kw, path):
    lopt, _, lp, _ = run_pair(name, kw, dtype=np.float64, rtol=1e-10, atol=1e-12)
    assert lp[0].dtype == np.float64
    assert all(v.dtype == np.float64 for k, v in lopt.state[lp[0]].items() if k != "step")


@requires_torch
@pytest.mark.parametrize("name,kw", [c[:2] for c in (CASES[3], CASES[9], CASES[14], CASES[18], CASES[22])],
                         ids=lambda c: str(c))
@pytest.mark.parametrize("layout", [noncontiguous, transposed], ids=["strided", "fortran"])
def test_noncontiguous_params_take_the_array_path(name, kw, layout):
    run_pair(name, kw, layout=layout)


@requires_torch
@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                     ("RMSprop", dict(lr=0.01, momentum=0.5)), ("Adagrad", dict(lr=0.1))])
def test_param_groups_with_their_own_options(name, kw, path):
    spec = [([0], dict(lr=kw["lr"] * 3, weight_decay=0.1)), ([1, 2], dict())]
    lopt, _, _, _ = run_pair(name, kw, spec=spec)
    assert lopt.param_groups[0]["lr"] == kw["lr"] * 3 and lopt.param_groups[1]["lr"] == kw["lr"]
    assert lopt.param_groups[0]["weight_decay"] == 0.1


@requires_torch
@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                                     ("RMSprop", dict(lr=0.01, centered=True)), ("Adagrad", dict(lr=0.1))])
def test_two_layer_net_trained_with_autograd_matches_torch(name, kw, path):
    r = np.random.default_rng(3)
    x, y = r.standard_normal((16, 4)).astype(np.float32), r.standard_normal((16, 3)).astype(np.float32)
    init = [r.standard_normal(s).astype(np.float32) * 0.5 for s in [(6, 4), (6,), (3, 6), (3,)]]
    lp = [lamina.Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]

    def loss(p, x, y):
        h = (x @ p[0].T + p[1]).tanh()
        return ((h @ p[2].T + p[3] - y) ** 2).mean()

    lopt, topt = getattr(optim, name)(lp, **kw), getattr(torch.optim, name)(tp, **kw)
    for _ in range(20):
        lopt.zero_grad()
        topt.zero_grad()
        ll, tl = loss(lp, lamina.Tensor(x), lamina.Tensor(y)), loss(tp, torch.from_numpy(x), torch.from_numpy(y))
        ll.backward()
        tl.backward()
        lopt.step()
        topt.step()
        np.testing.assert_allclose(ll.item(), tl.item(), rtol=1e-5)
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-5, atol=1e-6)


numba_only = pytest.mark.skipif(not _kernels._HAVE_NUMBA, reason="numba is not installed")


@numba_only
def test_fused_kernels_run_on_contiguous_numpy_params(monkeypatch):
    monkeypatch.setattr(_kernels, "ENABLED", True)
    calls = []
    real = _kernels.adam
    monkeypatch.setattr(_kernels, "adam", lambda *a: calls.append(a[0].size) or real(*a))
    p = lamina.Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    q = lamina.Tensor(noncontiguous(np.ones((2, 3), np.float32)), requires_grad=True)
    opt = optim.Adam([p, q])
    p.grad, q.grad = lamina.ones(4, 3), lamina.ones(2, 3)
    opt.step()
    assert calls == [12]  # the strided parameter took the array path
    np.testing.assert_allclose(q.array, p.array[:2], rtol=1e-6)
    monkeypatch.setattr(_kernels, "ENABLED", False)
    opt.step()
    assert calls == [12]


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
                                     ("AdamW", dict(lr=0.01, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                     ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
                                     ("Adadelta", dict(lr=0.5, weight_decay=0.1)), ("Adamax", dict(lr=0.01)),
                                     ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
                                     ("RAdam", dict(lr=0.01, betas=(0.3, 0.9))), ("Rprop", dict(lr=0.01))])
@numba_only
def test_parallel_kernels_match_the_serial_ones(name, kw, monkeypatch):
    """Big tensors are cut into slices that run on lamina's threads; the result is the same,
    element for element."""
    from lamina import _threads
    monkeypatch.setattr(_kernels, "ENABLED", True)
    _threads._T.discover()  # (it adopts BLAS's thread count the first time)
    monkeypatch.setattr(_threads._T, "count", 2)
    n = 2000 + 37
    r = np.random.default_rng(0)
    w = r.standard_normal(n).astype(np.float32)
    grads = [r.standard_normal(n).astype(np.float32) for _ in range(8)]
    out = {}
    for threshold in (n, n + 1):
        monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", threshold)
        sliced = []
        real_run = _kernels.run
        monkeypatch.setattr(_kernels, "run", lambda parts, fn: sliced.append(len(parts)) or real_run(parts, fn))
        p = lamina.Tensor(w.copy(), requires_grad=True)
        opt = getattr(optim, name)([p], **kw)
        for g in grads:
            p.grad = lamina.Tensor(g)
            opt.step()
        assert sliced == ([2] * 8 if threshold == n else [])
        out[threshold] = p.array
    np.testing.assert_array_equal(out[n], out[n + 1])


def test_update_is_in_place_and_records_no_graph(path):
    p = lamina.Tensor(np.ones(3, np.float32), requires_grad=True)
    data = p.array
    (p * p).sum().backward()
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    version = p._version
    opt.step()
    assert p.array is data and p.is_leaf and p.grad_fn is None
    assert p._version == version + 1
    np.testing.assert_allclose(p.array, [0.0, 0.0, 0.0])


def test_params_without_grad_are_skipped(path):
    a = lamina.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = lamina.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = lamina.ones(2)
    opt.step()
    np.testing.assert_allclose(b.array, [1.0, 1.0])
    assert b not in opt.state or not opt.state[b]
    assert float(opt.state[a]["step"]) == 1.0


def test_frozen_params_are_accepted_and_never_updated():
    w = lamina.Tensor(np.ones(2, np.float32))  # requires_grad=False, as in PyTorch: allowed, skipped
    opt = optim.SGD([w], lr=0.1)
    opt.step()
    np.testing.assert_allclose(w.array, [1.0, 1.0])


def test_closure_is_evaluated_with_grad_enabled():
    p = lamina.Tensor(np.array([3.0], np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with lamina.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.array, [1.5])


def test_zero_grad():
    p = lamina.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = lamina.ones(3)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and not p.grad.array.any()
    opt.zero_grad()
    assert p.grad is None


def test_add_param_group_fills_defaults_and_steps_new_params():
    a = lamina.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = lamina.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adagrad([a], lr=0.1, eps=1e-6)
    opt.add_param_group({"params": b, "lr": 0.2})
    assert opt.param_groups[1]["eps"] == 1e-6 and opt.param_groups[1]["lr"] == 0.2
    a.grad, b.grad = lamina.ones(2), lamina.ones(2)
    opt.step()
    np.testing.assert_allclose(b.array, 1 - 0.2 / (1 + 1e-6), rtol=1e-6)


def test_named_parameters_are_accepted():
    a = lamina.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([("w", a)], lr=0.1)
    assert opt.param_groups[0]["params"][0] is a and opt.param_groups[0]["param_names"] == ["w"]
    assert "SGD (" in repr(opt) and "lr: 0.1" in repr(opt)


def _p():
    return lamina.Tensor(np.ones(2, np.float32), requires_grad=True)


@pytest.mark.parametrize("make,match", [
    (lambda: optim.SGD([_p()], lr=-0.1), r"SGD: invalid learning rate lr=-0.1"),
    (lambda: optim.SGD([_p()], momentum=-1), r"SGD: invalid momentum=-1"),
    (lambda: optim.SGD([_p()], weight_decay=-1), r"SGD: invalid weight_decay=-1"),
    (lambda: optim.SGD([_p()], nesterov=True), r"SGD: Nesterov momentum requires a momentum > 0"),
    (lambda: optim.SGD([_p()], momentum=0.9, dampening=0.1, nesterov=True), r"zero dampening"),
    (lambda: optim.Adam([_p()], lr=-1e-3), r"Adam: invalid learning rate lr=-0.001"),
    (lambda: optim.Adam([_p()], betas=(1.0, 0.999)), r"Adam: invalid beta parameter at index 0"),
    (lambda: optim.AdamW([_p()], betas=(0.9, -0.1)), r"AdamW: invalid beta parameter at index 1"),
    (lambda: optim.Adam([_p()], betas=(0.9,)), r"Adam: invalid betas"),
    (lambda: optim.Adam([_p()], eps=-1.0), r"Adam: invalid eps=-1.0"),
    (lambda: optim.AdamW([_p()], weight_decay=-0.1), r"AdamW: invalid weight_decay=-0.1"),
    (lambda: optim.RMSprop([_p()], alpha=-0.5), r"RMSprop: invalid alpha=-0.5"),
    (lambda: optim.RMSprop([_p()], momentum=-0.5), r"RMSprop: invalid momentum=-0.5"),
    (lambda: optim.Adagrad([_p()], lr_decay=-1), r"Adagrad: invalid lr_decay=-1"),
    (lambda: optim.Adagrad([_p()], initial_accumulator_value=-1), r"Adagrad: invalid initial_accumulator_value"),
    (lambda: optim.Adam([{"params": [_p()], "lr": -2.0}]), r"Adam: invalid learning rate lr=-2.0"),
    (lambda: optim.SGD([], lr=0.1), r"SGD got an empty parameter list"),
    (lambda: optim.SGD([(_p() * 2)], lr=0.1), r"SGD can't optimize a non-leaf Tensor"),
])
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make,match", [
    (lambda: optim.SGD(_p(), lr=0.1), r"SGD: params should be an iterable"),
    (lambda: optim.Adam([_p(), 3.0]), r"Adam can only optimize Tensors, but params\[1\] is a float"),
    (lambda: optim.Adam([lamina.tensor([1, 2])]), r"Adam can only optimize floating point tensors"),
    (lambda: optim.Adam({_p()}), r"not a set"),
])
def test_invalid_params_raise_type_error(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_a_param_in_two_groups_raises():
    p = _p()
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def test_gradient_with_wrong_shape_raises():
    p = _p()
    opt = optim.Adam([p])
    p.grad = lamina.ones(3)
    with pytest.raises(RuntimeError, match=r"Adam: gradient of shape \(3,\) for a parameter of shape \(2,\)"):
        opt.step()
