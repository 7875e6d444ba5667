"""Learning-rate schedulers: the lr (and momentum) sequences equal torch's, state_dict, errors."""
import copy
import json
import math

import numpy as np
import pytest

import lamina
from helpers import requires_torch
from lamina import optim
from lamina.optim import lr_scheduler as L
from optim_cases import torch

STEPS = 30


def _opts(opt_name="SGD", **kw):
    """The same two-group optimizer in lamina and torch (lr 0.1 and 0.01)."""
    lp = [lamina.Tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(2)]
    tp = [torch.ones(2, requires_grad=True) for _ in range(2)]
    kw = kw or (dict(momentum=0.9) if opt_name == "SGD" else {})
    lo = getattr(optim, opt_name)([{"params": [lp[0]]}, {"params": [lp[1]], "lr": 0.01}], lr=0.1, **kw)
    to = getattr(torch.optim, opt_name)([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.01}], lr=0.1, **kw)
    return lo, to


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _sequence(opt, sched, steps=STEPS, metrics=None):
    seq = [(list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    for k in range(steps):
        opt.step()
        sched.step(metrics[k]) if metrics is not None else sched.step()
        seq.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt)))
    return seq


def _assert_same(ls, ts):
    assert len(ls) == len(ts)
    for k, (a, b) in enumerate(zip(ls, ts)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(np.array(x, float), np.array(y, float), rtol=1e-13, atol=0,
                                       err_msg=f"step {k}")


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 22], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "CosineAnnealingLR-long": lambda m, o: m.CosineAnnealingLR(o, T_max=40),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e)),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: e % 4 + 1.0]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.95),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=8),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=12),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=20, power=2.0),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=1e-4),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.1], total_steps=STEPS),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=10,
                                                          anneal_strategy="linear", three_phase=True,
                                                          pct_start=0.25, div_factor=10.0),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=STEPS, cycle_momentum=False),
    "SequentialLR-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=5), m.CosineAnnealingLR(o, T_max=25)], milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 3)],
        milestones=[4, 12]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.ExponentialLR(o, gamma=0.95), m.StepLR(o, 5, 0.5)]),
}


@requires_torch
@pytest.mark.parametrize("name", list(SCHEDULERS))
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_lr_sequence_matches_torch(name, opt_name):
    lo, to = _opts(opt_name)
    ls = _sequence(lo, SCHEDULERS[name](L, lo))
    ts = _sequence(to, SCHEDULERS[name](torch.optim.lr_scheduler, to))
    _assert_same(ls, ts)


@requires_torch
def test_onecycle_cycles_sgd_momentum_and_adam_beta1():
    for opt_name in ("SGD", "Adam"):
        lo, _ = _opts(opt_name)
        seq = _sequence(lo, L.OneCycleLR(lo, max_lr=0.1, total_steps=STEPS, base_momentum=0.8, max_momentum=0.9))
        moms = [m[0] for _, _, m in seq[:-1]]
        assert moms[0] == pytest.approx(0.9) and min(moms) == pytest.approx(0.8) and moms[-1] == pytest.approx(0.9)
        if opt_name == "Adam":
            assert lo.param_groups[0]["betas"][1] == 0.999


@requires_torch
@pytest.mark.parametrize("kw", [
    dict(patience=3),
    dict(mode="max", factor=0.5, patience=2),
    dict(factor=0.5, patience=1, threshold=0.1, threshold_mode="abs", cooldown=2, min_lr=[0.02, 0.001]),
    dict(mode="max", patience=0, threshold_mode="abs", min_lr=0.005, eps=1e-3),
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    r = np.random.default_rng(0)
    metrics = list(np.concatenate([np.linspace(1.0, 0.5, 8), 0.5 + 0.02 * r.standard_normal(22)]))
    if kw.get("mode") == "max":
        metrics = [-m for m in metrics]
    lo, to = _opts()
    ls = _sequence(lo, L.ReduceLROnPlateau(lo, **kw), metrics=metrics)
    ts = _sequence(to, torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw), metrics=metrics)
    _assert_same(ls, ts)
    assert ls[-1][1][0] < 0.1  # it did reduce


@requires_torch
@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "CosineAnnealingLR", "OneCycleLR-cos",
                                  "SequentialLR-warmup-cosine", "CosineAnnealingWarmRestarts", "LambdaLR"])
def test_resume_from_state_dict_continues_the_sequence(name):
    """Save optimizer + scheduler mid-run (through JSON, as a checkpoint does); resume; same lrs as torch."""
    lo, to = _opts()
    ls_sched = SCHEDULERS[name](L, lo)
    ts_sched = SCHEDULERS[name](torch.optim.lr_scheduler, to)
    _sequence(lo, ls_sched, steps=12)
    full = _sequence(to, ts_sched, steps=STEPS)
    sd_sched = json.loads(json.dumps(ls_sched.state_dict()))
    sd_opt = copy.deepcopy(lo.state_dict())
    lo2, _ = _opts()
    sched2 = SCHEDULERS[name](L, lo2)  # create the scheduler first, then load both (as in torch)
    lo2.load_state_dict(sd_opt)
    sched2.load_state_dict(sd_sched)
    rest = _sequence(lo2, sched2, steps=STEPS - 12)
    _assert_same(rest, full[12:])


def test_reduce_lr_on_plateau_state_dict_round_trip():
    lo = _sgd()
    s = L.ReduceLROnPlateau(lo, patience=1, factor=0.5)
    for m in [1.0, 1.0, 1.0]:
        s.step(m)
    lo2 = _sgd()
    s2 = L.ReduceLROnPlateau(lo2, patience=1, factor=0.5)
    s2.load_state_dict(json.loads(json.dumps(s.state_dict())))
    lo2.load_state_dict(lo.state_dict())
    for m in [1.0, 1.0, 0.5, 1.0, 1.0]:
        s.step(m)
        s2.step(m)
        assert s.get_last_lr() == s2.get_last_lr() and s.best == s2.best
    assert s.get_last_lr()[0] == pytest.approx(0.1 * 0.5 ** 3)  # reduced after epochs 3, 5 and 8


def test_get_last_lr_and_initial_lr():
    lo = optim.SGD([lamina.Tensor(np.ones(1, np.float32), requires_grad=True)], lr=1.0)
    s = L.StepLR(lo, step_size=2, gamma=0.5)
    assert s.get_last_lr() == [1.0] and lo.param_groups[0]["initial_lr"] == 1.0 and s.last_epoch == 0
    for _ in range(4):
        s.step()
    assert s.get_last_lr() == [0.25] and s.last_epoch == 4


def test_deprecated_epoch_argument_uses_the_closed_form():
    lo = optim.SGD([lamina.Tensor(np.ones(1, np.float32), requires_grad=True)], lr=1.0)
    s = L.CosineAnnealingLR(lo, T_max=10)
    with pytest.warns(UserWarning, match="deprecated"):
        s.step(5)
    assert s.get_last_lr()[0] == pytest.approx(0.5)


def _sgd():
    return optim.SGD([lamina.Tensor(np.ones(1, np.float32), requires_grad=True)], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: L.StepLR(object(), 3), TypeError, "is not an Optimizer"),
    (lambda: L.StepLR(_sgd(), 3, last_epoch=5), KeyError, "initial_lr"),
    (lambda: L.LinearLR(_sgd(), start_factor=0.0), ValueError, "start_factor=0.0"),
    (lambda: L.LinearLR(_sgd(), end_factor=1.5), ValueError, "end_factor=1.5"),
    (lambda: L.LambdaLR(_sgd(), [lambda e: 1.0, lambda e: 1.0]), ValueError, "expected 1 lr_lambdas, got 2"),
    (lambda: L.OneCycleLR(_sgd(), max_lr=1.0), ValueError, "total_steps"),
    (lambda: L.OneCycleLR(_sgd(), max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    (lambda: L.OneCycleLR(_sgd(), max_lr=[1.0, 2.0], total_steps=10), ValueError, "one value per parameter group"),
    (lambda: L.OneCycleLR(optim.Adagrad([lamina.zeros(1).requires_grad_()]), max_lr=1.0, total_steps=5),
     ValueError, "cycle_momentum=False"),
    (lambda: L.ReduceLROnPlateau(_sgd(), factor=1.0), ValueError, "factor=1.0"),
    (lambda: L.ReduceLROnPlateau(_sgd(), mode="up"), ValueError, "mode 'up' is unknown"),
    (lambda: L.ReduceLROnPlateau(_sgd(), threshold_mode="x"), ValueError, "threshold mode 'x'"),
    (lambda: L.SequentialLR(_sgd(), [], []), ValueError, "at least one scheduler"),
    (lambda: L.CosineAnnealingWarmRestarts(_sgd(), T_0=0), ValueError, "T_0"),
])
def test_scheduler_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_sequential_lr_rejects_mismatches():
    o1, o2 = _sgd(), _sgd()
    with pytest.raises(ValueError, match="one milestone fewer"):
        L.SequentialLR(o1, [L.StepLR(o1, 2), L.StepLR(o1, 3)], milestones=[])
    with pytest.raises(ValueError, match="another optimizer"):
        L.SequentialLR(o1, [L.StepLR(o1, 2), L.StepLR(o2, 3)], milestones=[4])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        L.SequentialLR(o1, [L.ReduceLROnPlateau(o1)], milestones=[])


def test_onecycle_past_total_steps_raises():
    o = _sgd()
    s = L.OneCycleLR(o, max_lr=1.0, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="tried to step 4 times; total_steps is 3"):
        s.step()


def test_cosine_reaches_eta_min_at_t_max():
    o = _sgd()
    s = L.CosineAnnealingLR(o, T_max=10, eta_min=0.01)
    for _ in range(10):
        s.step()
    assert math.isclose(s.get_last_lr()[0], 0.01, rel_tol=1e-12)
