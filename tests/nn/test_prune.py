"""lamina.nn.utils.prune against torch.nn.utils.prune: masks, state_dict, remove, iteration, errors."""
import os
import sys

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.utils import prune

torch = pytest.importorskip("torch")
tprune = pytest.importorskip("torch.nn.utils.prune")


def pair(kind="linear", bias=True, seed=0):
    """The same layer in lamina and torch (distinct weight magnitudes: no ties in the rankings)."""
    rng = np.random.default_rng(seed)
    if kind == "linear":
        lm, tm = nn.Linear(6, 5, bias=bias), torch.nn.Linear(6, 5, bias=bias)
    elif kind == "conv2d":
        lm, tm = nn.Conv2d(3, 4, 3, bias=bias), torch.nn.Conv2d(3, 4, 3, bias=bias)
    else:
        lm, tm = nn.Conv1d(3, 4, 2, bias=bias), torch.nn.Conv1d(3, 4, 2, bias=bias)
    w = rng.permutation(lm.weight.numel()).reshape(lm.weight.shape).astype(np.float32) + 1.0
    w *= rng.choice([-1.0, 1.0], size=w.shape).astype(np.float32) / w.size
    sd = {"weight": w}
    if bias:
        sd["bias"] = rng.standard_normal(lm.bias.shape).astype(np.float32)
    lm.load_state_dict(sd)
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()})
    return lm, tm


def assert_same_state(lm, tm):
    lsd, tsd = lm.state_dict(), tm.state_dict()
    assert list(lsd) == list(tsd)
    for k in lsd:
        np.testing.assert_array_equal(lsd[k].numpy(), tsd[k].numpy(), err_msg=k)
        assert lsd[k].numpy().dtype == tsd[k].numpy().dtype, k
    assert [n for n, _ in lm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in lm.named_buffers()] == [n for n, _ in tm.named_buffers()]


def outputs_match(lm, tm, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(lm(lamina.tensor(x)).detach().numpy(), tm(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- deterministic methods: identical masks
@pytest.mark.parametrize("amount", [0, 0.0, 0.3, 0.5, 1.0, 7, 30])
def test_l1_unstructured_matches_torch(amount):
    lm, tm = pair()
    assert prune.l1_unstructured(lm, "weight", amount=amount) is lm
    tprune.l1_unstructured(tm, "weight", amount=amount)
    assert_same_state(lm, tm)
    assert isinstance(lm.weight_orig, nn.Parameter) and not isinstance(lm.weight, nn.Parameter)
    np.testing.assert_array_equal(lm.weight.detach().numpy(), tm.weight.detach().numpy())
    outputs_match(lm, tm, (2, 6))


@pytest.mark.parametrize("n", [1, 2, 3, 0.5, float("inf"), float("-inf")])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_ln_structured_matches_torch(n, dim):
    lm, tm = pair("conv2d")
    prune.ln_structured(lm, "weight", amount=0.5, n=n, dim=dim)
    tprune.ln_structured(tm, "weight", amount=0.5, n=n, dim=dim)
    assert_same_state(lm, tm)
    outputs_match(lm, tm, (1, 3, 5, 5))


@pytest.mark.parametrize("n", ["fro", "nuc"])
def test_ln_structured_matrix_norms_and_int_amount(n):
    lm, tm = pair("conv1d")
    prune.ln_structured(lm, "weight", amount=2, n=n, dim=0)
    tprune.ln_structured(tm, "weight", amount=2, n=n, dim=0)
    assert_same_state(lm, tm)
    lm, tm = pair("conv2d")  # a 4-D weight has three reduced dims: no matrix norm
    with pytest.raises(RuntimeError):
        tprune.ln_structured(tm, "weight", amount=2, n=n, dim=0)
    with pytest.raises(RuntimeError):
        prune.ln_structured(lm, "weight", amount=2, n=n, dim=0)
    assert not prune.is_pruned(lm) and list(lm.state_dict()) == list(tm.state_dict())


def test_importance_scores_rank_instead_of_weights():
    lm, tm = pair()
    s = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    prune.l1_unstructured(lm, "weight", amount=0.4, importance_scores=lamina.tensor(s))
    tprune.l1_unstructured(tm, "weight", amount=0.4, importance_scores=torch.from_numpy(s))
    assert_same_state(lm, tm)
    lm, tm = pair()
    prune.ln_structured(lm, "weight", amount=2, n=1, dim=0, importance_scores=lamina.tensor(s))
    tprune.ln_structured(tm, "weight", amount=2, n=1, dim=0, importance_scores=torch.from_numpy(s))
    assert_same_state(lm, tm)


def test_custom_from_mask_and_identity_match_torch():
    mask = (np.random.default_rng(2).random((5, 6)) > 0.5).astype(np.float32)
    lm, tm = pair()
    prune.custom_from_mask(lm, "weight", lamina.tensor(mask))
    tprune.custom_from_mask(tm, "weight", torch.from_numpy(mask))
    assert_same_state(lm, tm)
    prune.identity(lm, "bias")
    tprune.identity(tm, "bias")
    assert_same_state(lm, tm)
    np.testing.assert_array_equal(lm.bias_mask.numpy(), np.ones(5, np.float32))
    assert prune.is_pruned(lm) and not prune.is_pruned(nn.Linear(2, 2))


def test_iterative_pruning_composes_masks_like_torch():
    lm, tm = pair("conv2d")
    steps = [("l1_unstructured", dict(amount=0.5)), ("l1_unstructured", dict(amount=0.3)),
             ("ln_structured", dict(amount=1, n=2, dim=0)), ("l1_unstructured", dict(amount=3)),
             ("ln_structured", dict(amount=0.5, n=1, dim=1))]
    for fn, kw in steps:
        getattr(prune, fn)(lm, "weight", **kw)
        getattr(tprune, fn)(tm, "weight", **kw)
        assert_same_state(lm, tm)
    mask = np.random.default_rng(4).random(lm.weight.shape) > 0.3
    prune.custom_from_mask(lm, "weight", lamina.tensor(mask))
    tprune.custom_from_mask(tm, "weight", torch.from_numpy(mask))
    assert_same_state(lm, tm)
    hooks = [h for h in lm._forward_pre_hooks.values()]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == len(steps) + 1
    assert [type(m).__name__ for m in hooks[0]] == [type(m).__name__ for m in tm._forward_pre_hooks[
        next(iter(tm._forward_pre_hooks))]]
    outputs_match(lm, tm, (1, 3, 4, 4))


def test_global_unstructured_matches_torch():
    (l1, t1), (l2, t2) = pair(seed=0), pair("conv2d", seed=1)
    l2.weight.data = l2.weight * 3.0  # interleave the two layers' magnitudes
    t2.weight.data = t2.weight.data * 3.0
    prune.l1_unstructured(l1, "weight", amount=0.2)  # an earlier mask is respected
    tprune.l1_unstructured(t1, "weight", amount=0.2)
    prune.global_unstructured([(l1, "weight"), (l2, "weight"), (l2, "bias")], prune.L1Unstructured, amount=0.6)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight"), (t2, "bias")], tprune.L1Unstructured, amount=0.6)
    assert_same_state(l1, t1)
    assert_same_state(l2, t2)
    z = sum(float((m.numpy() == 0).sum()) for m in (l1.weight_mask, l2.weight_mask, l2.bias_mask))
    assert z == 6 + round(0.6 * (30 - 6 + 108 + 4))


def test_global_unstructured_importance_scores():
    (l1, t1), (l2, t2) = pair(seed=0), pair(seed=1)
    s = np.random.default_rng(5).standard_normal((5, 6)).astype(np.float32)
    prune.global_unstructured([(l1, "weight"), (l2, "weight")], prune.L1Unstructured,
                              importance_scores={(l1, "weight"): lamina.tensor(s)}, amount=25)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight")], tprune.L1Unstructured,
                               importance_scores={(t1, "weight"): torch.from_numpy(s)}, amount=25)
    assert_same_state(l1, t1)
    assert_same_state(l2, t2)


def test_prune_method_and_container_compute_mask():
    t = np.arange(1.0, 13.0, dtype=np.float32).reshape(3, 4) * np.array([1, -1, 1, -1], np.float32)
    lt, tt = lamina.tensor(t), torch.from_numpy(t)
    np.testing.assert_array_equal(prune.L1Unstructured(5).prune(lt).numpy(), tprune.L1Unstructured(5).prune(tt))
    np.testing.assert_array_equal(prune.LnStructured(1, 2, 1).prune(lt, importance_scores=-lt).numpy(),
                                  tprune.LnStructured(1, 2, 1).prune(tt, importance_scores=-tt))
    dm = (np.arange(12).reshape(3, 4) % 5 != 0).astype(np.float32)
    later_methods = (lambda lib, tens: lib.L1Unstructured(0.5), lambda lib, tens: lib.LnStructured(1, 1, 0),
                     lambda lib, tens: lib.LnStructured(2, 2, -1), lambda lib, tens: lib.CustomFromMask(tens(t > 2)))
    for later in later_methods:
        masks = []
        for lib, tens in ((prune, lamina.tensor), (tprune, torch.from_numpy)):
            cont = lib.PruningContainer(_named(lib.L1Unstructured(2), "w"))
            cont.add_pruning_method(_named(later(lib, tens), "w"))
            masks.append(np.asarray(cont.compute_mask(tens(t), tens(dm)).numpy()))
        np.testing.assert_array_equal(masks[0], masks[1])


# ---------------------------------------------------------------- random methods: counts and structure
@pytest.mark.parametrize("amount", [0.0, 0.35, 1.0, 11])
def test_random_unstructured_counts_and_seed(amount):
    lm, tm = pair()
    lamina.manual_seed(7)
    prune.random_unstructured(lm, "weight", amount)
    tprune.random_unstructured(tm, "weight", amount)
    assert list(lm.state_dict()) == list(tm.state_dict())
    assert int((lm.weight_mask.numpy() == 0).sum()) == int((tm.weight_mask == 0).sum())
    again, _ = pair()
    lamina.manual_seed(7)
    prune.random_unstructured(again, "weight", amount)
    np.testing.assert_array_equal(again.weight_mask.numpy(), lm.weight_mask.numpy())
    # iterating keeps the earlier zeros and prunes among the survivors
    before = lm.weight_mask.numpy().copy()
    prune.random_unstructured(lm, "weight", 0.5)
    after = lm.weight_mask.numpy()
    assert np.all(after <= before) and int((after == 0).sum()) == int((before == 0).sum()) + round(0.5 * before.sum())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_random_structured_prunes_whole_channels(dim):
    lm, tm = pair("conv2d")
    prune.random_structured(lm, "weight", amount=0.5, dim=dim)
    tprune.random_structured(tm, "weight", amount=0.5, dim=dim)
    assert list(lm.state_dict()) == list(tm.state_dict())
    mask = lm.weight_mask.numpy()
    axes = tuple(d for d in range(4) if d != dim % 4)
    per_channel = mask.sum(axis=axes)
    size = mask.size // mask.shape[dim]
    assert set(per_channel.tolist()) <= {0.0, float(size)}
    dead = int((per_channel == 0).sum())
    assert dead == int((tm.weight_mask.sum(dim=axes) == 0).sum()) == round(0.5 * mask.shape[dim])
    prune.random_structured(lm, "weight", amount=1, dim=dim)  # one more channel among the survivors
    assert int((lm.weight_mask.numpy().sum(axis=axes) == 0).sum()) == dead + 1


# ---------------------------------------------------------------- gradients, remove, state dicts
def test_gradients_reach_orig_only_where_mask_is_one():
    lm, tm = pair()
    prune.l1_unstructured(lm, "weight", amount=0.5)
    tprune.l1_unstructured(tm, "weight", amount=0.5)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    (lm(lamina.tensor(x)) ** 2).sum().backward()
    (tm(torch.from_numpy(x)) ** 2).sum().backward()
    g = lm.weight_orig.grad.numpy()
    np.testing.assert_allclose(g, tm.weight_orig.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(g[lm.weight_mask.numpy() == 0] == 0) and np.all(g[lm.weight_mask.numpy() == 1] != 0)
    np.testing.assert_allclose(lm.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_remove_makes_pruning_permanent():
    lm, tm = pair("conv2d")
    prune.l1_unstructured(lm, "weight", amount=0.5)
    prune.l1_unstructured(lm, "bias", 2)
    tprune.l1_unstructured(tm, "weight", amount=0.5)
    tprune.l1_unstructured(tm, "bias", 2)
    orig = lm.weight_orig
    assert prune.remove(lm, "weight") is lm
    tprune.remove(tm, "weight")
    assert_same_state(lm, tm)
    assert lm.weight is orig and isinstance(lm.weight, nn.Parameter)
    assert int((lm.weight.detach().numpy() == 0).sum()) == 54
    prune.remove(lm, "bias")
    tprune.remove(tm, "bias")
    assert_same_state(lm, tm)
    assert not prune.is_pruned(lm) and not lm._forward_pre_hooks
    with pytest.raises(ValueError, match="has to be pruned"):
        prune.remove(lm, "weight")


def test_pruned_state_dict_loads_both_ways():
    lm, tm = pair()
    prune.l1_unstructured(lm, "weight", amount=0.3)
    tprune.l1_unstructured(tm, "weight", amount=0.6)
    lm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert_same_state(lm, tm)
    outputs_match(lm, tm, (3, 6))  # the hook recomputes weight from the loaded orig and mask


def test_optimizer_keeps_training_the_same_parameter():
    lm, _ = pair()
    opt = lamina.optim.SGD(lm.parameters(), lr=0.1)
    prune.l1_unstructured(lm, "weight", amount=0.5)
    x = lamina.randn(4, 6)
    lm(x).sum().backward()
    before = lm.weight_orig.detach().numpy().copy()
    opt.step()
    changed = lm.weight_orig.detach().numpy() != before
    np.testing.assert_array_equal(changed, lm.weight_mask.numpy() == 1)
    prune.remove(lm, "weight")
    assert lm.weight is opt.param_groups[0]["params"][0]


# ---------------------------------------------------------------- errors: torch's exception types
def _errors(lib, mod_fn):
    m = mod_fn()
    cases = {
        "negative int": lambda: lib.l1_unstructured(m, "weight", -1),
        "float > 1": lambda: lib.l1_unstructured(m, "weight", 1.5),
        "string amount": lambda: lib.random_unstructured(m, "weight", "a"),
        "bool amount": lambda: lib.l1_unstructured(m, "weight", True),
        "too many": lambda: lib.l1_unstructured(m, "weight", 31),
        "structured 1-d": lambda: lib.ln_structured(m, "bias", 1, 2, 0),
        "bad dim": lambda: lib.random_structured(m, "weight", 1, 2),
        "too many channels": lambda: lib.ln_structured(m, "weight", 6, 2, 0),
        "no attribute": lambda: lib.l1_unstructured(m, "nope", 1),
        "buffer": lambda: lib.l1_unstructured(mod_fn(bn=True), "running_mean", 1),
        "scores shape": lambda: lib.l1_unstructured(m, "weight", 1, importance_scores=(
            lamina.ones(2) if lib is prune else torch.ones(2))),
        "mask shape": lambda: lib.custom_from_mask(m, "weight",
                                                   lamina.ones(2, 2) if lib is prune else torch.ones(2, 2)),
        "remove unpruned": lambda: lib.remove(m, "weight"),
        "global structured": lambda: lib.global_unstructured([(m, "weight")], lib.LnStructured, amount=1, n=2),
        "global not iterable": lambda: lib.global_unstructured(3, lib.L1Unstructured, amount=1),
        "global scores list": lambda: lib.global_unstructured([(m, "weight")], lib.L1Unstructured,
                                                              importance_scores=[1], amount=1),
        "abstract": lambda: lib.BasePruningMethod(),
        "container add": lambda: lib.PruningContainer(_named(lib.L1Unstructured(0.1), "w")).add_pruning_method(3),
        "container name": lambda: lib.PruningContainer(_named(lib.L1Unstructured(0.1), "w")).add_pruning_method(
            _named(lib.L1Unstructured(0.1), "v")),
    }
    out = {}
    for name, fn in cases.items():
        try:
            fn()
            out[name] = None
        except Exception as e:  # noqa: BLE001 - the types are what we compare
            out[name] = type(e)
    return out, m


def _named(method, name):
    method._tensor_name = name
    return method


def test_errors_have_torch_types_and_leave_the_module_intact():
    lam, lm = _errors(prune, lambda bn=False: nn.BatchNorm1d(3) if bn else pair()[0])
    tor, tm = _errors(tprune, lambda bn=False: torch.nn.BatchNorm1d(3) if bn else pair()[1])
    assert lam == tor
    assert all(v is not None for v in lam.values())
    assert list(lm.state_dict()) == list(tm.state_dict())
    assert not prune.is_pruned(lm)


def test_failed_second_pruning_keeps_the_first():
    lm, _ = pair()
    prune.l1_unstructured(lm, "weight", 2)
    with pytest.raises(ValueError):
        prune.l1_unstructured(lm, "weight", 29)  # 28 left
    with pytest.raises(ValueError):
        prune.l1_unstructured(lm, "weight", -1)
    (hook,) = lm._forward_pre_hooks.values()
    assert isinstance(hook, prune.L1Unstructured) and int((lm.weight_mask.numpy() == 0).sum()) == 2
    prune.l1_unstructured(lm, "weight", 28)
    assert float(lm.weight_mask.numpy().sum()) == 0 and len(next(iter(lm._forward_pre_hooks.values()))) == 2


# ---------------------------------------------------------------- sparsity report
def test_sparsity_report():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 10), nn.ReLU(), nn.Linear(10, 4))
    dense = prune.sparsity(model)
    assert set(dense) == {"0.weight", "2.weight", "global"} and dense["global"] == 0.0
    prune.l1_unstructured(model[0], "weight", amount=0.75)
    prune.l1_unstructured(model[2], "bias", amount=1)
    rep = prune.sparsity(model)
    assert list(rep) == ["0.weight", "2.bias", "2.weight", "global"]
    assert rep["0.weight"] == 0.75 and rep["2.bias"] == 0.25 and rep["2.weight"] == 0.0
    assert rep["global"] == pytest.approx((60 + 1) / (80 + 4 + 40))
    assert rep.counts["0.weight"] == (60, 80, (10, 8))
    table = str(rep).splitlines()
    assert table[0].split() == ["tensor", "shape", "zeros", "/", "total", "sparsity"]
    assert table[2].split() == ["0.weight", "10x8", "60", "/", "80", "75.00%"]
    assert table[-1].split()[0] == "global" and table[-1].endswith("49.19%")
    only = prune.sparsity(model, parameters=[(model[0], "weight")])
    assert dict(only) == {"0.weight": 0.75, "global": 0.75}
    prune.remove(model[0], "weight")
    assert prune.sparsity(model)["0.weight"] == 0.75  # zeros stay after remove


# ---------------------------------------------------------------- ONNX export of a pruned model
def test_pruned_mlp_exports_to_onnx():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "deploy"))
    from export_util import assert_exports  # skips without onnx / onnxruntime
    from export_util import onnx as onnx_mod

    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    prune.global_unstructured([(model[0], "weight"), (model[2], "weight")], prune.L1Unstructured, amount=0.7)
    proto = assert_exports(model, lambda n: (lamina.randn(n, 12),))
    inits = {i.name: onnx_mod.numpy_helper.to_array(i) for i in proto.graph.initializer}
    zeros = sum(int((v == 0).sum()) for v in inits.values() if v.ndim == 2)
    assert zeros == round(0.7 * (12 * 16 + 16 * 3))
    assert prune.is_pruned(model)  # export leaves the reparametrisation in place
