"""Module: registration, traversal, state_dict round trip and load errors, modes, hooks, repr."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import lamina
from lamina import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(lamina.ones(4))
        self.register_buffer("running", lamina.zeros(4))
        self.register_buffer("scratch", lamina.zeros(2), persistent=False)
        self.note = "not registered"
        self.plain = lamina.zeros(3)  # a plain tensor attribute is not state

    def forward(self, x):
        return self.fc(x) * self.scale + self.running


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))

    def forward(self, x):
        return self.head(self.block(x))


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.running", "block.scratch"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "head", "head.0", "head.1"]
    assert len(list(net.parameters(recurse=False))) == 0
    assert len(list(net.block.parameters(recurse=False))) == 1
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert net.num_parameters() == 4 + 12 + 4 + 8 + 2
    assert nn.utils.count_parameters(net) == 30
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_parameter("block.fc.bias") is net.block.fc.bias
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("head.nope")
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 6
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(lamina.zeros(2))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = lamina.zeros(2)
    m.w = None
    assert "w" in m._parameters and m.w is None
    m.register_buffer("b", lamina.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'b'"):
        m.b = 3
    m.sub = nn.Linear(1, 1)
    m.sub = nn.Parameter(lamina.zeros(1))  # re-assigning under another kind moves it
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub
    assert "sub" not in m._parameters
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w2", None) or m.register_parameter("b", None)

    class Early(nn.Module):
        def __init__(self):
            self.p = nn.Parameter(lamina.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_forward_missing():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward"'):
        nn.Module()(1)


def test_state_dict_keys_and_round_trip():
    torch = pytest.importorskip("torch")
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["block.scale", "block.running", "block.fc.weight", "block.fc.bias", "head.1.weight",
                        "head.1.bias"]
    # the same keys as the equivalent torch model
    tnet = torch.nn.Module()
    tnet.block = torch.nn.Module()
    tnet.block.scale = torch.nn.Parameter(torch.ones(4))
    tnet.block.register_buffer("running", torch.zeros(4))
    tnet.block.register_buffer("scratch", torch.zeros(2), persistent=False)
    tnet.block.fc = torch.nn.Linear(3, 4)
    tnet.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert list(tnet.state_dict()) == list(sd)
    # values share memory (detached) with the module
    assert not sd["block.fc.weight"].requires_grad
    assert np.shares_memory(sd["block.fc.weight"].array, net.block.fc.weight.array)
    # round trip: load torch's numbers (as numpy) then lamina's back
    other = Net()
    res = other.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in tnet.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k].numpy(), v.numpy())
    weight = other.block.fc.weight
    other.load_state_dict(net.state_dict())
    assert other.block.fc.weight is weight  # copied in place: the Parameter object is kept
    x = lamina.randn(5, 3)
    np.testing.assert_array_equal(other(x).detach().numpy(), net(x).detach().numpy())


def test_load_state_dict_errors():
    net = Net()
    sd = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    missing = dict(sd)
    del missing["head.1.bias"]
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Net:\n\tMissing key\(s\) in '
                                           r'state_dict: "head.1.bias"'):
        net.load_state_dict(missing)
    extra = dict(sd, **{"head.2.weight": np.zeros(1), "block.extra": np.zeros(1), "block.scratch": np.zeros(2)})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "block.extra", "block.scratch", '
                                           r'"head.2.weight"'):
        net.load_state_dict(extra)
    bad = dict(sd, **{"block.fc.weight": np.zeros((3, 4), np.float32)})
    with pytest.raises(RuntimeError, match=r"size mismatch for block.fc.weight: copying a param with shape "
                                           r"\(3, 4\) from checkpoint, the shape in current model is \(4, 3\)"):
        net.load_state_dict(bad, strict=False)
    # non-strict: report, don't raise
    res = net.load_state_dict(dict(missing, extra=np.zeros(1)), strict=False)
    assert res.missing_keys == ["head.1.bias"] and res.unexpected_keys == ["extra"]
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_casts_dtype_and_accepts_tensors():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.ones((2, 2), np.float64), "bias": lamina.tensor([1.0, 2.0])})
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [1.0, 2.0])


def test_train_eval():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert net.training and net[1].training
    assert net.eval() is net
    assert not net.training and not net[1].training
    net.train()
    assert net[1].training
    net.train(False)
    assert not net[0].training
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    w = net.block.fc.weight
    net.double()
    assert net.block.fc.weight is w and w.dtype == np.float64 and net.block.running.dtype == np.float64
    out = net(lamina.randn(2, 3, dtype=lamina.float64))
    assert out.dtype == np.float64
    net.to(lamina.float32)
    assert w.dtype == np.float32
    net.float().to("cpu")
    assert w.device == lamina.device("cpu")
    with pytest.raises(TypeError, match="floating point"):
        net.to(lamina.int64)


def test_zero_grad_requires_grad_apply():
    net = Net()
    net(lamina.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(np.abs(p.grad.array).sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.block.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 10
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Block", "ReLU", "Linear", "Sequential", "Net"]


def test_forward_hooks():
    lin = nn.Linear(2, 3)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append(("pre", args[0].shape)))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("post", out.shape)))
    lin(lamina.zeros(4, 2))
    assert calls == [("pre", (4, 2)), ("post", (4, 3))]
    # a pre-hook may replace the input, a forward hook the output
    h3 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h4 = lin.register_forward_hook(lambda m, args, out: out * 2)
    out = lin(lamina.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), 2 * lin.bias.detach().numpy()[None], rtol=1e-6)
    for h in (h1, h2, h3, h4):
        h.remove()
    calls.clear()
    lin(lamina.zeros(1, 2))
    assert calls == [] and not lin._forward_hooks and not lin._forward_pre_hooks
    order = []
    lin.register_forward_hook(lambda *a: order.append(1))
    lin.register_forward_hook(lambda *a: order.append(0), prepend=True)
    lin.register_forward_hook(lambda m, args, kwargs, out: order.append(kwargs), with_kwargs=True)
    lin(lamina.zeros(1, 2))
    assert order == [0, 1, {}]


def test_repr_like_torch():
    torch = pytest.importorskip("torch")
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10, bias=False),
                        nn.Sequential(nn.GELU(approximate="tanh"), nn.LeakyReLU(0.2)), nn.Flatten(),
                        nn.Softmax(dim=1))
    tnet = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(512, 10, bias=False),
                               torch.nn.Sequential(torch.nn.GELU(approximate="tanh"), torch.nn.LeakyReLU(0.2)),
                               torch.nn.Flatten(), torch.nn.Softmax(dim=1))
    assert repr(net) == repr(tnet)
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
    tml = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    assert repr(ml) == repr(tml)
    p = nn.Parameter(lamina.tensor([1.0, 2.0]))
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)


def test_parameter_basics():
    t = lamina.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and np.shares_memory(p.array, t.array)
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is lamina.Tensor  # ops return plain tensors
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(lamina.tensor([1, 2]))


def test_deepcopy_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    assert isinstance(clone.block.fc.weight, nn.Parameter)
    assert clone.block.fc.weight is not net.block.fc.weight
    with lamina.no_grad():
        clone.block.fc.weight.fill_(0.0)
    assert float(np.abs(net.block.fc.weight.array).sum()) > 0
    assert list(clone.state_dict()) == list(net.state_dict())


def test_containers():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert seq[0] is seq.fc and seq[-1] is seq.act and len(seq) == 2
    head = seq[:1]
    assert isinstance(head, nn.Sequential) and list(head._modules) == ["fc"]
    seq.append(nn.Linear(3, 1))
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert seq(lamina.zeros(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    s2 = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    del s2[1]
    assert list(s2._modules) == ["0", "1"] and isinstance(s2[1], nn.Sigmoid)
    s2.insert(0, nn.Identity())
    assert isinstance(s2[0], nn.Identity) and len(s2) == 3
    s2.insert(-1, nn.Tanh())
    assert [type(m).__name__ for m in s2] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    assert isinstance(s2.pop(), nn.Sigmoid) and len(s2) == 3

    ml = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2)])
    ml.append(nn.ReLU())
    ml += [nn.Tanh()]
    assert len(ml) == 4 and isinstance(ml[-1], nn.Tanh) and isinstance(ml[1:3], nn.ModuleList)
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(NotImplementedError):
        ml(1)

    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    md["c"] = nn.Linear(2, 2)
    assert list(md.keys()) == ["a", "b", "c"] and "c" in md and len(md) == 3
    assert list(md.state_dict()) == ["a.weight", "a.bias", "c.weight", "c.bias"]
    del md["a"]
    assert list(md) == ["b", "c"]
    with pytest.raises(KeyError, match="no key 'zz'"):
        md["zz"]
    ident = nn.Identity(54, unused="x")
    x = lamina.randn(2)
    assert ident(x) is x
