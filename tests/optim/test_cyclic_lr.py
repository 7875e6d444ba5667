"""CyclicLR against torch (lr and momentum / beta1 sequences for every mode), and torch's scheduler list."""
import json

import numpy as np
import pytest

import lamina
from helpers import requires_torch
from lamina import optim
from lamina.optim import lr_scheduler as L
from optim_cases import torch

STEPS = 40


def _opts(opt_name):
    lp = [lamina.Tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(2)]
    tp = [torch.ones(2, requires_grad=True) for _ in range(2)]
    kw = dict(momentum=0.9) if opt_name == "SGD" else {}
    lo = getattr(optim, opt_name)([{"params": [lp[0]]}, {"params": [lp[1]], "lr": 0.01}], lr=0.1, **kw)
    to = getattr(torch.optim, opt_name)([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.01}], lr=0.1, **kw)
    return lo, to


def _state(opt, sched):
    moms = [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]
    betas2 = [g["betas"][1] for g in opt.param_groups if "betas" in g]
    return list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], moms, betas2


def _sequence(opt, sched, steps=STEPS):
    seq = [_state(opt, sched)]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(_state(opt, sched))
    return seq


def _assert_same(ls, ts):
    assert len(ls) == len(ts)
    for k, (a, b) in enumerate(zip(ls, ts)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(np.array(x, float), np.array(y, float), rtol=1e-14, atol=0, err_msg=f"step {k}")


class Halving:
    """A callable scale_fn object (its attributes go into the state_dict)."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, x):
        return self.base ** x


CYCLIC = {
    "triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "triangular-asymmetric": lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.05],
                                                     step_size_up=3, step_size_down=7),
    "triangular2": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2"),
    "exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range",
                                         gamma=0.97),
    "scale_fn-cycle": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda x: 1 / x),
    "scale_fn-iterations": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda x: 0.99 ** x,
                                                   scale_mode="iterations"),
    "momentum-bounds": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=6, base_momentum=[0.7, 0.8],
                                               max_momentum=[0.95, 0.9]),
    "no-momentum": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, cycle_momentum=False),
}


@requires_torch
@pytest.mark.parametrize("name", list(CYCLIC))
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_cyclic_lr_and_momentum_match_torch(name, opt_name):
    """lr, SGD's momentum or Adam's beta1 (beta2 untouched) at every step equal torch's."""
    lo, to = _opts(opt_name)
    ls = _sequence(lo, CYCLIC[name](L, lo))
    ts = _sequence(to, CYCLIC[name](torch.optim.lr_scheduler, to))
    _assert_same(ls, ts)
    lrs = [s[1][0] for s in ls]
    assert min(lrs) == pytest.approx(0.01 if "asym" not in name else 0.01) and max(lrs) <= 0.1 + 1e-12
    if opt_name == "Adam":
        assert all(b2 == [0.999, 0.999] for *_, b2 in ls)


@requires_torch
def test_triangular2_halves_the_amplitude_each_cycle():
    lo, _ = _opts("SGD")
    s = L.CyclicLR(lo, base_lr=0.0, max_lr=1.0, step_size_up=2, mode="triangular2", cycle_momentum=False)
    peaks = []
    for k in range(12):
        if k % 4 == 2:
            peaks.append(s.get_last_lr()[0])
        lo.step()
        s.step()
    assert peaks == [1.0, 0.5, 0.25]


@requires_torch
@pytest.mark.parametrize("name", ["triangular2", "exp_range", "momentum-bounds"])
def test_resume_from_state_dict_through_json(name):
    lo, to = _opts("SGD")
    sched = CYCLIC[name](L, lo)
    full = _sequence(to, CYCLIC[name](torch.optim.lr_scheduler, to))
    _sequence(lo, sched, steps=13)
    sd = json.loads(json.dumps(sched.state_dict()))
    lo2, _ = _opts("SGD")
    sched2 = CYCLIC[name](L, lo2)
    lo2.load_state_dict(lo.state_dict())
    sched2.load_state_dict(sd)
    _assert_same(_sequence(lo2, sched2, steps=STEPS - 13), full[13:])


def test_callable_scale_fn_object_is_saved_and_functions_are_not():
    lo, _ = _opts("SGD")
    fn = Halving()
    s = L.CyclicLR(lo, 0.01, 0.1, step_size_up=2, scale_fn=fn)
    fn.base = 0.25
    sd = json.loads(json.dumps(s.state_dict()))
    assert sd["_scale_fn_custom"] == {"base": 0.25}
    fn2 = Halving()
    lo2, _ = _opts("SGD")
    s2 = L.CyclicLR(lo2, 0.01, 0.1, step_size_up=2, scale_fn=fn2)
    s2.load_state_dict(sd)
    assert fn2.base == 0.25 and s2._scale_fn_custom is fn2
    s3 = L.CyclicLR(lo2, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1.0)
    assert s3.state_dict()["_scale_fn_custom"] is None


def test_cyclic_lr_errors():
    lo, _ = _opts("SGD")
    with pytest.raises(ValueError, match="mode 'sawtooth' is invalid and scale_fn is None"):
        L.CyclicLR(lo, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="one value per parameter group"):
        L.CyclicLR(lo, [0.01], 0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        L.CyclicLR(object(), 0.01, 0.1)
    ada = optim.Adagrad([lamina.Tensor(np.ones(2, np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        L.CyclicLR(ada, 0.01, 0.1)
    L.CyclicLR(ada, 0.01, 0.1, cycle_momentum=False)


@requires_torch
def test_every_torch_scheduler_exists_with_torch_arguments():
    import inspect
    names = [n for n in torch.optim.lr_scheduler.__all__]
    assert set(names) <= set(L.__all__) | {"_LRScheduler"}
    for n in names:
        assert hasattr(L, n), n
        if n in ("LRScheduler", "ChainedScheduler"):
            continue
        tparams = list(inspect.signature(getattr(torch.optim.lr_scheduler, n)).parameters)
        lparams = list(inspect.signature(getattr(L, n)).parameters)
        assert [p for p in tparams if p != "verbose"] == lparams, n
    assert hasattr(L.LRScheduler, "get_last_lr") and hasattr(L.LRScheduler, "state_dict")


@requires_torch
def test_every_torch_optimizer_exists_with_torch_arguments():
    import inspect
    for n in ("Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "ASGD", "LBFGS", "NAdam", "RAdam",
              "RMSprop", "Rprop", "SGD", "SparseAdam"):
        assert hasattr(optim, n) and n in optim.__all__, n
        if n in ("Adadelta", "Adafactor", "Adamax", "ASGD", "LBFGS", "NAdam", "RAdam", "Rprop", "SparseAdam"):
            tsig = inspect.signature(getattr(torch.optim, n)).parameters
            lsig = inspect.signature(getattr(optim, n)).parameters
            assert list(tsig) == list(lsig), n
            for key, tp in tsig.items():
                assert lsig[key].kind == tp.kind, f"{n}({key}): {lsig[key].kind} vs torch {tp.kind}"
                if tp.default is not inspect.Parameter.empty:
                    assert lsig[key].default == tp.default, f"{n}({key}) default"
