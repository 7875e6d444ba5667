"""swa_utils against torch.optim.swa_utils: AveragedModel (SWA, EMA, buffers), update_bn, SWALR."""
import json

import numpy as np
import pytest

import lamina
from helpers import requires_torch
from lamina import nn, optim
from lamina.optim import swa_utils as S
from optim_cases import torch


def _models():
    lm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    lm.to(dtype=lamina.float64)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tm.double()
    tm.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in lm.state_dict().items()})
    return lm, tm


def _perturb(lm, tm, k):
    """The same new weights in both models, and a training forward pass (moves BatchNorm's stats)."""
    r = np.random.default_rng(k)
    with lamina.no_grad(), torch.no_grad():
        for (name, lp), tp in zip(lm.named_parameters(), tm.parameters()):
            new = lp.array + 0.1 * r.standard_normal(lp.shape)
            lp.array[...] = new
            tp.copy_(torch.from_numpy(new))
        x = r.standard_normal((8, 3))
        lm.train()(lamina.Tensor(x))
        tm.train()(torch.from_numpy(x))


def _assert_models_equal(la, ta):
    lsd, tsd = la.state_dict(), ta.state_dict()
    assert list(lsd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(np.asarray(lsd[k].array, float), tsd[k].double().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=k)


@requires_torch
@pytest.mark.parametrize("kind", ["swa", "swa-buffers", "ema", "ema-buffers", "avg_fn-ema", "multi-swa"])
def test_averaged_model_matches_torch(kind):
    lm, tm = _models()
    use_buffers = kind.endswith("buffers")
    if kind.startswith("ema"):
        la = S.AveragedModel(lm, multi_avg_fn=S.get_ema_multi_avg_fn(0.9), use_buffers=use_buffers)
        ta = torch.optim.swa_utils.AveragedModel(tm, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9),
                                                 use_buffers=use_buffers)
    elif kind == "avg_fn-ema":
        la = S.AveragedModel(lm, avg_fn=S.get_ema_avg_fn(0.8))
        ta = torch.optim.swa_utils.AveragedModel(tm, avg_fn=torch.optim.swa_utils.get_ema_avg_fn(0.8))
    elif kind == "multi-swa":
        la = S.AveragedModel(lm, multi_avg_fn=S.get_swa_multi_avg_fn())
        ta = torch.optim.swa_utils.AveragedModel(tm, multi_avg_fn=torch.optim.swa_utils.get_swa_multi_avg_fn())
    else:
        la, ta = S.AveragedModel(lm, use_buffers=use_buffers), torch.optim.swa_utils.AveragedModel(
            tm, use_buffers=use_buffers)
    for k in range(5):
        _perturb(lm, tm, k)
        la.update_parameters(lm)
        ta.update_parameters(tm)
        _assert_models_equal(la, ta)
    assert int(la.n_averaged.array) == 5 and "n_averaged" in la.state_dict()
    assert la.module[0].weight is not lm[0].weight
    x = np.random.default_rng(9).standard_normal((4, 3))
    la.eval(), ta.eval()
    np.testing.assert_allclose(la(lamina.Tensor(x)).array, ta(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_swa_is_the_mean_of_the_weights():
    lin = nn.Linear(2, 1)
    avg = S.AveragedModel(lin)
    seen = []
    for k in range(4):
        lin.weight.array[...] = k
        seen.append(lin.weight.array.copy())
        avg.update_parameters(lin)
    np.testing.assert_allclose(avg.module.weight.array, np.mean(seen, axis=0), rtol=1e-6)


@requires_torch
def test_update_bn_matches_torch():
    lm, tm = _models()
    r = np.random.default_rng(5)
    batches = [r.standard_normal((6, 3)) * 2 + 1 for _ in range(4)]
    lm.eval(), tm.eval()
    S.update_bn([(lamina.Tensor(b), None) for b in batches], lm)
    torch.optim.swa_utils.update_bn([(torch.from_numpy(b), None) for b in batches], tm)
    _assert_models_equal(lm, tm)
    assert not lm.training and lm[1].momentum == 0.1
    S.update_bn([{"x": lamina.Tensor(b)} for b in batches], lm)  # lamina's dict batches
    _assert_models_equal(lm, tm)


@requires_torch
@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.02], anneal_epochs=4, anneal_strategy="linear"),
                                dict(swa_lr=0.5, anneal_epochs=0)], ids=str)
def test_swalr_matches_torch(kw):
    lp = [lamina.Tensor(np.ones(2), requires_grad=True) for _ in range(2)]
    tp = [torch.ones(2, requires_grad=True) for _ in range(2)]
    lo = optim.SGD([{"params": [lp[0]]}, {"params": [lp[1]], "lr": 0.3}], lr=0.1)
    to = torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.3}], lr=0.1)
    ls, ts = S.SWALR(lo, **kw), torch.optim.swa_utils.SWALR(to, **kw)
    for k in range(15):
        np.testing.assert_allclose(ls.get_last_lr(), ts.get_last_lr(), rtol=1e-14, err_msg=f"step {k}")
        assert [g["lr"] for g in lo.param_groups] == pytest.approx([g["lr"] for g in to.param_groups], rel=1e-14)
        lo.step(), to.step()
        ls.step(), ts.step()
        if k == 6:  # resume through JSON mid-way
            sd = json.loads(json.dumps(ls.state_dict()))
            ls = S.SWALR(lo, **kw)
            ls.load_state_dict(sd)


def test_swa_errors():
    lin = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="avg_fn or multi_avg_fn, not both"):
        S.AveragedModel(lin, avg_fn=S.get_swa_avg_fn(), multi_avg_fn=S.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value 1.5"):
        S.get_ema_multi_avg_fn(1.5)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        S.SWALR(opt, swa_lr=0.01, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        S.SWALR(opt, swa_lr=0.01, anneal_epochs=-1)
