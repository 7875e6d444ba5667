"""SpikingMLP: shapes, config, fused vs recorded time loop, a reduced digits run."""
import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, TensorDataset
from lamina.models import SpikingMLP, create_model
from lamina.train import Trainer

from helpers import rng


def test_spiking_mlp_shapes_config_and_record():
    model = create_model("snn_mlp", in_features=16, hidden_sizes=[12], out_features=3, num_steps=7, seed=1)
    x = lamina.Tensor(rng(0).random((5, 1, 4, 4)).astype(np.float32))
    rec = model.simulate(x)
    assert rec.logits.shape == (5, 3) and rec.input_spikes.shape == (7, 5, 16)
    assert [s.shape for s in rec.spikes] == [(7, 5, 12), (7, 5, 3)]
    assert [m.shape for m in rec.membranes] == [(7, 5, 12), (7, 5, 3)]
    np.testing.assert_array_equal(rec.logits.detach().numpy(), rec.counts[-1].detach().numpy())
    cfg = model.get_config()
    assert cfg["hidden_sizes"] == [12] and cfg["num_steps"] == 7
    clones = [SpikingMLP.from_config(cfg) for _ in range(2)]
    for c in clones:
        c.load_state_dict(model.state_dict())
    a, b = (c.simulate(x) for c in clones)  # the same seed: the same input spikes and outputs
    np.testing.assert_array_equal(a.input_spikes.numpy(), b.input_spikes.numpy())
    np.testing.assert_array_equal(a.logits.detach().numpy(), b.logits.detach().numpy())
    with pytest.raises(ValueError, match="encoding must be one of"):
        SpikingMLP(encoding="poisson")
    with pytest.raises(ValueError, match="unknown config key 'hidden'"):
        create_model("spiking_mlp", hidden=3)
    with pytest.raises(ValueError, match="input has 9 features"):
        model(lamina.zeros(2, 9))


@pytest.mark.parametrize("readout,encoding", [("count", "rate"), ("membrane", "direct"), ("count", "latency")])
def test_fused_and_recorded_time_loops_agree(readout, encoding):
    x = lamina.Tensor(rng(1).random((6, 10)).astype(np.float64))
    y = lamina.tensor([0, 1, 2, 0, 1, 2])
    grads = []
    for fused in (True, False):
        lamina.manual_seed(0)
        m = SpikingMLP(10, [20], 3, num_steps=9, beta=0.8, threshold=0.5, learn_beta=True, readout=readout,
                       encoding=encoding, fused=fused, seed=3).double()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        grads.append({k: p.grad.numpy() for k, p in m.named_parameters()} | {"loss": loss.detach().numpy()})
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        np.testing.assert_allclose(grads[0][k], grads[1][k], rtol=1e-10, atol=1e-12, err_msg=k)
    assert np.abs(grads[0]["fcs.0.weight"]).sum() > 0


def test_snn_digits_reduced():
    """The issue's check, reduced: a rate-coded 64-256-10 LIF MLP (25 steps) learns digits quickly
    (benchmarks/snn_digits.py trains it fully, >= 97%)."""
    pytest.importorskip("sklearn")
    from lamina.data.datasets.digits import load_digits_splits
    train, _, test = load_digits_splits(val_fraction=0.0, test_fraction=0.2, seed=0)
    lamina.manual_seed(0)
    model = SpikingMLP(64, [256], 10, num_steps=25, seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3), metrics=["accuracy"])
    trainer.fit(DataLoader(train, batch_size=64, shuffle=True), epochs=4, verbose=False)
    acc = trainer.evaluate(DataLoader(test, batch_size=512))["accuracy"]
    assert acc >= 0.85, acc
