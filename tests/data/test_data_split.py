"""random_split and train_val_test_split (plain and stratified)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from lamina.data import Subset, TensorDataset, random_split, train_val_test_split


def _all_indices(parts):
    return np.concatenate([p.indices for p in parts])


def test_random_split_int_lengths_disjoint_and_covering():
    ds = TensorDataset(np.arange(20))
    parts = random_split(ds, [5, 10, 5], generator=lamina.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [5, 10, 5] and all(isinstance(p, Subset) for p in parts)
    assert sorted(_all_indices(parts).tolist()) == list(range(20))
    assert parts[0][0][0].item() == parts[0].indices[0]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 60), cuts=st.lists(st.integers(1, 10), min_size=1, max_size=4))
def test_random_split_fractions_match_torch_rule(n, cuts):
    fr = [c / sum(cuts) for c in cuts]
    fr[-1] = 1.0 - sum(fr[:-1])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = random_split(TensorDataset(np.zeros((n, 1))), fr)
    lengths = [len(p) for p in parts]
    base = [int(np.floor(n * f)) for f in fr]
    expect = [b + (1 if i < n - sum(base) else 0) for i, b in enumerate(base)]
    assert lengths == expect and sum(lengths) == n
    assert len(set(_all_indices(parts).tolist())) == n


def test_random_split_repeatable_and_errors():
    ds = TensorDataset(np.arange(30))
    a = random_split(ds, [0.5, 0.5], generator=lamina.Generator().manual_seed(1))
    b = random_split(ds, [0.5, 0.5], generator=lamina.Generator().manual_seed(1))
    c = random_split(ds, [0.5, 0.5], generator=lamina.Generator().manual_seed(2))
    assert np.array_equal(a[0].indices, b[0].indices) and not np.array_equal(a[0].indices, c[0].indices)
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(ds, [10, 10])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [0.5, 0.2])


def test_train_val_test_split_arrays_gives_tensor_datasets():
    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50)
    tr, va, te = train_val_test_split((x, y), val_fraction=0.2, test_fraction=0.1, seed=0)
    assert (len(tr), len(va), len(te)) == (35, 10, 5)
    assert all(isinstance(d, TensorDataset) for d in (tr, va, te))
    ys = np.concatenate([d.tensors[1].numpy() for d in (tr, va, te)])
    assert sorted(ys.tolist()) == list(range(50))
    np.testing.assert_array_equal(tr.tensors[0].numpy()[:, 0], tr.tensors[1].numpy() * 2)  # rows stay paired
    again = train_val_test_split((x, y), 0.2, 0.1, seed=0)
    other = train_val_test_split((x, y), 0.2, 0.1, seed=1)
    assert np.array_equal(again[2].tensors[1].numpy(), te.tensors[1].numpy())
    assert not np.array_equal(other[0].tensors[1].numpy(), tr.tensors[1].numpy())


def test_train_val_test_split_dataset_gives_subsets():
    class D(lamina.data.Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            return i

    parts = train_val_test_split(D(), 0.25, 0.25, seed=3)
    assert all(isinstance(p, Subset) for p in parts) and [len(p) for p in parts] == [10, 5, 5]
    assert sorted(_all_indices(parts).tolist()) == list(range(20))


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    x = np.arange(1000, dtype=np.float32)[:, None]
    parts = train_val_test_split((x, y), val_fraction=0.1, test_fraction=0.2, seed=0, stratify=y)
    for part, frac in zip(parts, (0.7, 0.1, 0.2)):
        counts = np.bincount(part.tensors[1].numpy(), minlength=3)
        np.testing.assert_array_equal(counts, np.round(np.array([500, 300, 200]) * frac))
        labels = part.tensors[1].numpy()
        assert not np.all(np.diff(labels) >= 0)  # shuffled across classes, not grouped
    assert sorted(np.concatenate([p.tensors[0].numpy()[:, 0] for p in parts]).tolist()) == list(range(1000))
    # plain (unstratified) split of imbalanced data drifts from the proportions more
    plain = train_val_test_split((x, y), 0.1, 0.2, seed=0)
    assert len(plain[2]) == 200


def test_split_argument_errors():
    with pytest.raises(ValueError, match="below 1"):
        train_val_test_split(np.zeros((10, 1)), 0.5, 0.5)
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_test_split(np.zeros((10, 1)), -0.1, 0.1)
    with pytest.raises(ValueError, match="labels"):
        train_val_test_split(np.zeros((10, 1)), 0.1, 0.1, stratify=np.zeros(9))
