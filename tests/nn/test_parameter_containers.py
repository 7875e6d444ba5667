"""ParameterList and ParameterDict: registration, state_dict keys, list/dict API, repr, optimizers."""
import numpy as np
import pytest

import lamina
from lamina import nn

try:
    import torch
    import torch.nn as tnn
except Exception:  # pragma: no cover
    torch = tnn = None


def test_parameter_list_registration_and_keys():
    pl = nn.ParameterList([nn.Parameter(lamina.randn(2, 3)), lamina.randn(3)])
    tpl = tnn.ParameterList([tnn.Parameter(torch.randn(2, 3)), torch.randn(3)])
    assert type(pl[1]) is nn.Parameter and pl[1].requires_grad
    assert list(pl.state_dict()) == list(tpl.state_dict()) == ["0", "1"]
    pl.append(lamina.randn(1)).extend([lamina.randn(2)])
    pl += [lamina.randn(4)]
    assert len(pl) == 5 and list(pl.state_dict()) == ["0", "1", "2", "3", "4"]
    assert [p.shape for p in pl] == [(2, 3), (3,), (1,), (2,), (4,)]
    assert pl[-1].shape == (4,)
    sub = pl[1:3]
    assert isinstance(sub, nn.ParameterList) and [p.shape for p in sub] == [(3,), (1,)]
    assert sub[0] is pl[1]                                   # the same objects, not copies
    pl[0] = lamina.zeros(5)
    assert type(pl[0]) is nn.Parameter and pl[0].shape == (5,)
    with pytest.raises(IndexError):
        pl[10]
    with pytest.raises(IndexError):
        tpl[10]


def test_parameter_list_inside_a_module_and_optimizer():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(lamina.ones(2)) for _ in range(3)])

        def forward(self, x):
            for w in self.ws:
                x = x * w
            return x.sum()

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["ws.0", "ws.1", "ws.2"]
    opt = lamina.optim.SGD(m.parameters(), lr=0.5)
    m(lamina.tensor([1.0, 2.0])).backward()
    opt.step()
    np.testing.assert_allclose(m.ws[0].detach().numpy(), [0.5, 0.0])
    sd = m.state_dict()
    m2 = M()
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2.ws[0].detach().numpy(), [0.5, 0.0])


def test_parameter_list_repr_and_objects():
    pl = nn.ParameterList([nn.Parameter(lamina.randn(2, 3)), lamina.randn(3)])
    pl.append("hello")
    assert repr(pl) == ("ParameterList(\n    (0): Parameter containing: [lamina.float32 of size 2x3]\n"
                        "    (1): Parameter containing: [lamina.float32 of size 3]\n"
                        "    (2): Object of type: str\n)")
    assert pl[2] == "hello" and list(pl.state_dict()) == ["0", "1"]
    assert repr(nn.ParameterList()) == repr(tnn.ParameterList()) == "ParameterList()"
    with pytest.raises(RuntimeError):
        pl(1)


def test_parameter_dict():
    pd = nn.ParameterDict({"b": lamina.randn(3), "a": nn.Parameter(lamina.randn(2))})
    tpd = tnn.ParameterDict({"b": torch.randn(3), "a": tnn.Parameter(torch.randn(2))})
    assert list(pd.keys()) == list(tpd.keys()) == ["a", "b"]      # a plain dict is added sorted (torch)
    assert list(pd.state_dict()) == list(tpd.state_dict())
    assert type(pd["b"]) is nn.Parameter
    pd.update([("z", lamina.zeros(1)), ("c", lamina.ones(1))])     # pairs keep their order
    assert list(pd) == ["a", "b", "z", "c"] and "z" in pd and len(pd) == 4
    assert pd.get("nope") is None and pd.get("a").shape == (2,)
    assert pd.pop("z").shape == (1,) and "z" not in pd
    assert list(pd.state_dict()) == ["a", "b", "c"]
    assert pd.setdefault("q", lamina.ones(2)).shape == (2,) and list(pd)[-1] == "q"
    k, v = pd.popitem()
    assert k == "q"
    del pd["c"]
    assert list(pd.items())[0][0] == "a" and len(pd.values()) == 2
    cp = pd.copy()
    assert cp["a"] is pd["a"] and list(cp) == list(pd)
    merged = pd | nn.ParameterDict({"x": lamina.ones(1)})
    assert list(merged) == ["a", "b", "x"]
    with pytest.raises(KeyError):
        pd["missing"]
    with pytest.raises(AttributeError):                          # what torch raises
        pd["missing"]
    with pytest.raises(AttributeError):
        tpd["missing"]
    pd.clear()
    assert len(pd) == 0 and list(pd.state_dict()) == []


def test_parameter_dict_in_module_and_repr():
    m = nn.Module()
    m.heads = nn.ParameterDict({"scale": nn.Parameter(lamina.ones(4))})
    assert [n for n, _ in m.named_parameters()] == ["heads.scale"]
    assert repr(m.heads) == "ParameterDict(  (scale): Parameter containing: [lamina.float32 of size 4])"  # as torch
    m.heads["other"] = "not a tensor"
    assert m.heads["other"] == "not a tensor" and list(m.state_dict()) == ["heads.scale"]
    with pytest.raises(RuntimeError):
        m.heads()
