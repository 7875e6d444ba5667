"""nn.utils: parameters_to_vector / vector_to_parameters, counting, clipping re-exports."""
import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.utils import count_parameters, parameters_to_vector, vector_to_parameters


def test_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (count_parameters(model),) == (26,)
    np.testing.assert_array_equal(vec.detach().numpy()[:12], model[0].weight.detach().numpy().reshape(-1))
    w = model[0].weight
    vector_to_parameters(lamina.arange(26, dtype=lamina.float32), model.parameters())
    assert model[0].weight is w
    np.testing.assert_array_equal(model[1].bias.detach().numpy(), [24.0, 25.0])
    with pytest.raises(ValueError, match="vec has 3 elements but the parameters hold 26"):
        vector_to_parameters(lamina.zeros(3), model.parameters())


def test_parameters_to_vector_is_differentiable():
    model = nn.Linear(2, 2)
    (parameters_to_vector(model.parameters()) * 2).sum().backward()
    np.testing.assert_array_equal(model.weight.grad.numpy(), 2.0)


def test_clip_reexports():
    pytest.importorskip("lamina.optim.clip")
    p = nn.Parameter(lamina.tensor([3.0, 4.0]))
    p.grad = lamina.tensor([3.0, 4.0])
    norm = nn.utils.clip_grad_norm_([p], max_norm=1.0)
    assert float(norm) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    p.grad = lamina.tensor([3.0, -4.0])
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, -1.0])
