"""lamina.tensor on ragged nested lists: PyTorch's exception type and message, naming the dimension."""
from __future__ import annotations

import pytest

import lamina

torch = pytest.importorskip("torch")

RAGGED = [
    [[1, 2], [3]],                    # a short row
    [[1, 2], [3, 4, 5]],              # a long row
    [[[1], [2]], [[3]]],              # ragged at dim 1 of a 3-d list
    [[[1, 2], [3, 4]], [[5, 6], [7]]],  # ragged at the last dim
    ([1.0, 2.0], [3.0]),              # tuples too
]
MIXED = [
    [[1, 2], 3],                      # a number where a sequence was expected
    [1, [2]],                         # a sequence where a number was expected
]


@pytest.mark.parametrize("data", RAGGED, ids=repr)
def test_ragged_lists_name_the_dimension_like_torch(data):
    with pytest.raises(ValueError) as want:
        torch.tensor(data)
    with pytest.raises(ValueError) as got:
        lamina.tensor(data)
    assert str(got.value) == str(want.value)  # "expected sequence of length 2 at dim 1 (got 1)"


@pytest.mark.parametrize("data", MIXED, ids=repr)
def test_numbers_mixed_with_sequences_are_type_errors_like_torch(data):
    with pytest.raises(TypeError):
        torch.tensor(data)
    with pytest.raises(TypeError, match="sequence|number"):
        lamina.tensor(data)


def test_regular_lists_still_work():
    assert lamina.tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert lamina.tensor([]).shape == (0,)
    assert lamina.tensor([[], []]).shape == (2, 0)
