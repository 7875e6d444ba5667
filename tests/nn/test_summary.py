"""lamina.summary: rows, shapes and parameter counts of a small model; training flags restored."""
import pytest

import lamina
from lamina import nn
from lamina.summary import summary


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


def test_summary_of_mlp():
    model = _mlp()
    s = summary(model, (2, 1, 28, 28))
    assert s.total_params == 784 * 128 + 128 + 128 * 10 + 10 == 101_770
    assert s.trainable_params == 101_770 and s.non_trainable_params == 0
    assert [r.type for r in s.rows] == ["Sequential", "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert [r.name for r in s.rows] == ["", "0", "1", "2", "3", "4"]
    assert [r.output_shape for r in s.rows] == [(2, 10), (2, 784), (2, 128), (2, 128), (2, 128), (2, 10)]
    assert [r.num_params for r in s.rows] == [101_770, 0, 100_480, 0, 0, 1290]
    text = str(s)
    assert "Total params: 101,770" in text and "Trainable params: 101,770" in text
    assert "  1 (Linear)" in text and "100,480" in text and "(2, 784)" in text
    assert repr(s) == text
    assert s.param_bytes == 101_770 * 4


def test_summary_counts_frozen_and_shared_and_restores_mode():
    model = _mlp()
    model[1].requires_grad_(False)
    model.train()
    s = summary(model, (1, 784))
    assert s.trainable_params == 1290 and s.non_trainable_params == 100_480
    assert model.training and model[3].training  # the forward ran in eval mode, the flags are back
    assert not model[1]._forward_hooks and not model[1]._forward_pre_hooks
    lin = nn.Linear(4, 4)
    shared = nn.Sequential(lin, nn.ReLU(), lin)
    s = summary(shared, (3, 4))
    assert s.total_params == 20
    assert [r.name for r in s.rows] == ["", "0", "1", "0"]  # the shared layer is listed at each call


class TwoIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

    def forward(self, x, y):
        return self.a(x), self.b(y)


def test_summary_multiple_inputs_outputs_and_depth():
    s = summary(TwoIn(), [(4, 3), (4, 5)])
    assert s.output_shape == [(4, 2), (4, 2)]
    assert "[(4, 2), (4, 2)]" in str(s)
    deep = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Linear(2, 1))
    s = summary(deep, (1, 2), depth=1)
    assert [r.name for r in s.rows] == ["", "0", "1"]
    assert s.rows[1].num_params == 6


def test_summary_dtype_follows_model():
    model = nn.Linear(3, 2).double()
    s = summary(model, (1, 3))
    assert s.output_shape == (1, 2) and s.param_bytes == 8 * 8
    with pytest.raises(ValueError, match="input has 4 features"):
        summary(model, (1, 4))
    assert model.training
