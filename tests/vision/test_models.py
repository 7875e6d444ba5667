"""The model zoo: ResNet parity with a PyTorch reference built in this file (weights loaded by
state_dict name), LeNet/VGG/MLP shapes, parameter counts and parity, the registry and from_config."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import requires_torch, rng
from vision_parity import copy_weights, module_parity, torch

import lamina
from lamina.models import (MLP, VGG, BasicBlock, LeNet5, ResNet, create_model, get_model_class, list_models,
                           model_config, register_model, resnet8, resnet20, resnet32)
from models_vision import torch_resnet  # benchmarks/models_vision.py


# the PyTorch reference ResNet is the benchmark's: same architecture, lamina's state_dict names


def _trained_torch_resnet(depth=8, steps=3, batch=8, seed=0, **kw):
    """A torch ResNet after a few SGD steps, so the BN running statistics are not the defaults."""
    torch.manual_seed(seed)
    net = torch_resnet(depth, **kw)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    r = rng(seed)
    cin = kw.get("in_channels", 3)
    for _ in range(steps):
        x = torch.from_numpy(r.standard_normal((batch, cin, 16, 16)).astype(np.float32))
        y = torch.from_numpy(r.integers(0, kw.get("num_classes", 10), batch))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net


@requires_torch
def test_resnet8_state_dict_keys_and_shapes_match_torch():
    lam, tor = resnet8(), torch_resnet(8)
    ls, ts = lam.state_dict(), tor.state_dict()
    assert list(ls) == list(ts)
    assert all(tuple(ls[k].shape) == tuple(ts[k].shape) for k in ts)
    assert "layer2.0.downsample.0.weight" in ls and "layer1.0.downsample.0.weight" not in ls
    assert lam.num_parameters() == sum(p.numel() for p in tor.parameters()) == 78042


@requires_torch
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_resnet8_matches_torch_after_training_steps(mode):
    tor = _trained_torch_resnet(8)
    assert not np.allclose(tor.bn1.running_mean.numpy(), 0)  # non-trivial statistics
    lam = resnet8()
    getattr(tor, mode)()
    getattr(lam, mode)()
    x = rng(7).standard_normal((6, 3, 16, 16)).astype(np.float32)
    module_parity(lam, tor, x, atol=2e-4, rtol=1e-3)  # logits, dL/dx and every weight gradient
    # train mode also updated the running statistics, identically
    ls, ts = lam.state_dict(), tor.state_dict()
    for k in ("bn1.running_mean", "layer3.0.bn2.running_var", "layer2.0.downsample.1.running_mean"):
        np.testing.assert_allclose(ls[k].numpy(), ts[k].numpy(), atol=1e-5, rtol=1e-4, err_msg=k)
    assert int(ls["bn1.num_batches_tracked"].item()) == int(ts["bn1.num_batches_tracked"].item())


@requires_torch
def test_resnet8_float64_and_sgd_trajectory_match_torch():
    from lamina import optim

    tor = _trained_torch_resnet(8, steps=2, in_channels=1, num_classes=4).double()
    lam = ResNet(8, in_channels=1, num_classes=4).double()
    copy_weights(lam, tor)
    opt_t = torch.optim.SGD(tor.parameters(), lr=0.05, momentum=0.9)
    opt_l = optim.SGD(lam.parameters(), lr=0.05, momentum=0.9)
    r = rng(3)
    for _ in range(3):
        x, y = r.standard_normal((4, 1, 12, 12)), r.integers(0, 4, 4)
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(tor(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt_t.step()
        opt_l.zero_grad()
        lamina.nn.functional.cross_entropy(lam(lamina.tensor(x)), lamina.tensor(y)).backward()
        opt_l.step()
    ts = tor.state_dict()
    for k, v in lam.state_dict().items():
        np.testing.assert_allclose(v.numpy(), ts[k].numpy(), atol=1e-9, rtol=1e-7, err_msg=k)


@requires_torch
def test_resnet20_eval_parity():
    tor, lam = torch_resnet(20).eval(), resnet20().eval()
    assert list(lam.state_dict()) == list(tor.state_dict())
    x = rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    module_parity(lam, tor, x, atol=2e-4, rtol=1e-3)


@pytest.mark.parametrize("depth, params", [(8, 78042), (20, 272474), (32, 466906)])
def test_resnet_depths_and_parameter_counts(depth, params):
    model = create_model(f"resnet{depth}")
    assert model.depth == depth and model.num_parameters() == params
    assert len(model.layer1) == len(model.layer2) == len(model.layer3) == (depth - 2) // 6
    assert isinstance(model.layer1[0], BasicBlock) and model.layer1[0].downsample is None


def test_resnet_shapes_options_and_init():
    model = resnet8(in_channels=1, num_classes=7, zero_init_residual=True)
    assert model(lamina.randn(2, 1, 32, 32)).shape == (2, 7)
    assert model.forward_features(lamina.randn(2, 1, 32, 32)).shape == (2, 64)
    assert np.all(model.layer2[0].bn2.weight.detach().numpy() == 0)
    std = model.layer3[0].conv1.weight.detach().numpy().std()  # He normal, fan_out = 64 * 9
    assert std == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.1)
    wide = ResNet(8, widths=(8, 16, 32))
    assert wide.fc.in_features == 32 and wide(lamina.randn(1, 3, 16, 16)).shape == (1, 10)
    with pytest.raises(ValueError, match=r"ResNet: depth must be 6n \+ 2 .* got 10"):
        ResNet(10)
    with pytest.raises(ValueError, match="ResNet: expected a 4-D input"):
        resnet8()(lamina.randn(3, 32, 32))


# ---------------------------------------------------------------- LeNet-5
@pytest.mark.parametrize("size, features", [(32, 400), (28, 400), (8, 64), (16, 64)])
def test_lenet_sizes(size, features):
    model = LeNet5(input_size=size)
    assert model.num_features == features
    assert model(lamina.randn(3, 1, size, size)).shape == (3, 10)


def test_lenet_parameter_counts_and_keys():
    assert LeNet5().num_parameters() == 61706  # the classic count
    assert LeNet5(input_size=28).num_parameters() == 61706  # padding 2 keeps the 32x32 geometry
    assert LeNet5(input_size=8).num_parameters() == 19754
    assert LeNet5(in_channels=3, num_classes=100).num_parameters() == 61706 + 2 * 6 * 25 + 90 * 85
    assert list(LeNet5().state_dict()) == [f"{p}.{i}.{w}" for p, idx in (("features", (0, 3)),
                                                                        ("classifier", (0, 2, 4)))
                                           for i in idx for w in ("weight", "bias")]
    with pytest.raises(ValueError, match=r"LeNet5\(input_size=28\): expected input \(N, 1, 28, 28\), got shape"):
        LeNet5(input_size=28)(lamina.randn(2, 1, 32, 32))


@requires_torch
def test_lenet_parity_with_torch_tanh_avg():
    nn = torch.nn
    tor = nn.Module()
    tor.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                                 nn.Tanh(), nn.AvgPool2d(2))
    tor.classifier = nn.Sequential(nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    tor.forward = lambda x: tor.classifier(torch.flatten(tor.features(x), 1))
    x = rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32)
    module_parity(LeNet5(input_size=28, activation="tanh", pool="avg"), tor, x, atol=1e-4)


# ---------------------------------------------------------------- VGG
def test_vgg_shapes_and_counts():
    model = VGG([32, 32, "M", 64, 64, "M"])
    assert model.num_features == 64 * 8 * 8 and model.num_parameters() == 1116970
    assert model(lamina.randn(2, 3, 32, 32)).shape == (2, 10)
    bn = VGG([32, 32, "M", 64, 64, "M"], batch_norm=True)
    assert bn.num_parameters() == 1116970 + 2 * (32 + 32 + 64 + 64)
    assert "features.1.running_mean" in bn.state_dict()
    tiny = VGG([8, "M", 16], in_channels=1, num_classes=3, input_size=8, hidden_sizes=[], dropout=0)
    assert tiny(lamina.randn(4, 1, 8, 8)).shape == (4, 3) and len(tiny.classifier) == 1
    with pytest.raises(ValueError, match="cfg entries must be positive ints or 'M', got 'X'"):
        VGG([8, "X"])
    with pytest.raises(ValueError, match="too small for 3 max pools"):
        VGG([8, "M", "M", "M"], input_size=4)
    with pytest.raises(ValueError, match="unknown cfg 'vgg-11'; did you mean 'vgg11'"):
        VGG("vgg-11")


@requires_torch
def test_vgg_parity_with_torch_batchnorm():
    nn = torch.nn
    tor = nn.Module()
    tor.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
    tor.classifier = nn.Sequential(nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 5))
    tor.forward = lambda x: tor.classifier(torch.flatten(tor.features(x), 1))
    lam = VGG([8, "M", 16, "M"], num_classes=5, input_size=16, batch_norm=True, hidden_sizes=[32])
    tor.train()
    tor.classifier[2].p = 0.0  # dropout off on both sides so train-mode BN can be compared
    lam.classifier[2].p = 0.0
    x = rng(4).standard_normal((4, 3, 16, 16)).astype(np.float32)
    module_parity(lam, tor, x, atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------- MLP
@requires_torch
def test_mlp_matches_torch_sequential():
    nn = torch.nn
    tor = nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 16), nn.GELU(), nn.Linear(16, 10))
    lam = MLP(64, [32, 16], 10, activation="gelu")
    x = rng(5).standard_normal((5, 1, 8, 8)).astype(np.float32)  # images are flattened
    module_parity(lam, tor, x.reshape(5, 64), atol=1e-5)
    expected = tor(torch.from_numpy(x).flatten(1)).detach().numpy()
    np.testing.assert_allclose(lam(lamina.tensor(x)).detach().numpy(), expected, atol=1e-5)


def test_mlp_options_and_errors():
    m = MLP(10, 20, 3, activation="tanh", dropout=0.2)
    assert [type(x).__name__ for x in m] == ["Linear", "Tanh", "Dropout", "Linear"]
    assert MLP(10, [], 3).num_parameters() == 33  # a linear model
    assert m.num_parameters() == 10 * 20 + 20 + 20 * 3 + 3
    with pytest.raises(ValueError, match=r"MLP\(in_features=10\): input has 7 features"):
        m(lamina.randn(2, 7))
    with pytest.raises(ValueError, match="unknown activation 'rleu'; did you mean 'relu'"):
        MLP(10, 20, 3, activation="rleu")
    with pytest.raises(ValueError, match=r"hidden_sizes\[1\] must be a positive int"):
        MLP(10, [20, 0], 3)
    with pytest.raises(ValueError, match="dropout must be in"):
        MLP(10, 20, 3, dropout=1.0)


# ---------------------------------------------------------------- registry and configs
def test_registry_lists_and_builds_every_model():
    names = list_models()
    for name in ("mlp", "lenet5", "resnet", "resnet8", "resnet20", "resnet32", "vgg"):
        assert name in names
    assert isinstance(create_model("resnet8"), ResNet) and get_model_class("lenet") is LeNet5
    assert create_model("RESNET8").depth == 8  # names are case-insensitive
    assert create_model({"name": "mlp", "in_features": 4, "hidden_sizes": [8], "out_features": 2}).out_features == 2
    assert model_config("resnet20") == {"in_channels": 3, "num_classes": 10, "widths": (16, 32, 64),
                                        "zero_init_residual": False}


@pytest.mark.parametrize("call, match", [
    (lambda: create_model("resnet21"), r"unknown model 'resnet21'; did you mean 'resnet20'\? Available models: "),
    (lambda: create_model("lenet6"), r"did you mean 'lenet5'"),
    (lambda: create_model("resnet8", num_clases=3), r"unknown config key 'num_clases'; did you mean 'num_classes'\?"),
    (lambda: create_model("resnet20", depth=32), r"config key 'depth' is fixed to 20"),
    (lambda: create_model("mlp", hidden_sizes=[3]), r"missing required config key\(s\) 'in_features'"),
    (lambda: ResNet.from_config({"dpeth": 20}), r"ResNet.from_config: unknown config key 'dpeth'; did you mean 'dep"),
    (lambda: LeNet5.from_config({"input_sise": 28}), r"did you mean 'input_size'\? Valid keys: in_channels"),
    (lambda: create_model({"num_classes": 3}), r"a config dict needs a 'name' key"),
    (lambda: resnet32(dept=3), r"resnet32: unknown config key 'dept'"),
])
def test_registry_errors_name_the_closest(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("cls, config", [
    (MLP, {"in_features": 64, "hidden_sizes": [32, 16], "out_features": 10, "activation": "silu", "dropout": 0.1}),
    (LeNet5, {"in_channels": 1, "num_classes": 10, "input_size": 8, "activation": "tanh"}),
    (ResNet, {"depth": 8, "num_classes": 5, "widths": [8, 16, 32]}),
    (VGG, {"cfg": [16, "M", 32, "M"], "batch_norm": True, "input_size": 16, "hidden_sizes": [64]}),
])
def test_from_config_round_trip(cls, config):
    model = cls.from_config(config)
    cfg = model.get_config()
    json.dumps(cfg)  # JSON-friendly, for checkpoints
    for k, v in config.items():
        assert cfg[k] == v
    again = cls.from_config(cfg)
    a, b = model.state_dict(), again.state_dict()
    assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a)


def test_register_a_custom_model():
    class Tiny(lamina.nn.Module):
        """A one-layer model."""

        def __init__(self, width: int = 4):
            super().__init__()
            self.fc = lamina.nn.Linear(width, 2)

    from lamina.models import registry

    register_model("tiny_test_model", Tiny)
    try:
        assert create_model("tiny_test_model", width=3).fc.in_features == 3
        with pytest.raises(ValueError, match="unknown config key 'wdith'; did you mean 'width'"):
            create_model("tiny_test_model", wdith=3)
    finally:
        registry._REGISTRY.pop("tiny_test_model")
