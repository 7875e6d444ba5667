"""Datasets: TensorDataset, Subset, ConcatDataset, IterableDataset."""
import numpy as np
import pytest

import lamina
from lamina.data import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset


def test_tensor_dataset_items_and_len():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    ds = TensorDataset(lamina.tensor(x), y)
    assert len(ds) == 4
    xi, yi = ds[2]
    assert isinstance(xi, lamina.Tensor) and isinstance(yi, lamina.Tensor)
    np.testing.assert_array_equal(xi.numpy(), x[2])
    assert yi.item() == 0 and yi.shape == ()
    np.testing.assert_array_equal(ds[-1][0].numpy(), x[-1])


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"\[4, 5\].*\(4, 3\), \(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(lamina.tensor(1.0))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_base_dataset_is_abstract_and_add_concatenates():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        len(Dataset())
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 5


def test_subset_maps_indices():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][0].item() == 70 and sub[2][0].item() == 50
    assert [s[0].item() for s in sub[[0, 1]]] == [70, 20]
    with pytest.raises(IndexError, match="10 samples"):
        Subset(ds, [3, 10])


def test_concat_dataset_indexing_and_errors():
    ds = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(100, 104))])
    assert len(ds) == 7 and ds.cumulative_sizes == [3, 7]
    assert [ds[i][0].item() for i in range(7)] == [0, 1, 2, 100, 101, 102, 103]
    assert ds[-1][0].item() == 103 and ds[-7][0].item() == 0
    with pytest.raises(IndexError):
        ds[7]
    with pytest.raises(IndexError):
        ds[-8]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


class _Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(np.arange(self.n, dtype=np.float32))


def test_iterable_dataset_cannot_be_indexed_or_concatenated():
    with pytest.raises(TypeError, match="iterate"):
        _Stream(3)[0]
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([_Stream(3)])
