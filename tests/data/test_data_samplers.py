"""Samplers: sequential, random (with/without replacement), subset, weighted, batch."""
import numpy as np
import pytest

import lamina
from lamina.data import (BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler,
                         WeightedRandomSampler)


def test_sequential_sampler():
    s = SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5


def test_random_sampler_is_a_permutation_repeatable_by_seed():
    g = lamina.Generator().manual_seed(3)
    a = list(RandomSampler(range(50), generator=g))
    assert sorted(a) == list(range(50)) and a != list(range(50))
    b = list(RandomSampler(range(50), generator=lamina.Generator().manual_seed(3)))
    assert a == b
    c = list(RandomSampler(range(50), generator=lamina.Generator().manual_seed(4)))
    assert a != c
    lamina.manual_seed(7)
    d = list(RandomSampler(range(50)))
    lamina.manual_seed(7)
    assert list(RandomSampler(range(50))) == d


def test_random_sampler_new_order_each_epoch():
    s = RandomSampler(range(30), generator=lamina.Generator().manual_seed(0))
    assert list(s) != list(s)


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10, generator=lamina.Generator().manual_seed(0))
    out = list(s)
    assert len(s) == 10 and len(out) == 10
    assert sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [0, 1, 2, 3]  # chained permutations
    r = list(RandomSampler(range(3), replacement=True, num_samples=200, generator=lamina.Generator().manual_seed(0)))
    assert len(r) == 200 and set(r) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    idx = [3, 8, 11, 20]
    s = SubsetRandomSampler(idx, generator=lamina.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == idx and len(s) == 4


def test_weighted_random_sampler_follows_weights():
    w = [0.0, 1.0, 3.0]
    s = WeightedRandomSampler(w, num_samples=4000, generator=lamina.Generator().manual_seed(0))
    counts = np.bincount(list(s), minlength=3)
    assert counts[0] == 0
    assert abs(counts[2] / counts[1] - 3.0) < 0.4
    no_rep = list(WeightedRandomSampler(lamina.tensor([1.0, 2.0, 3.0, 0.5]), 4, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler(w, 3, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="1-D"):
        WeightedRandomSampler([[1.0]], 2)


def test_batch_sampler_groups_and_len():
    assert list(BatchSampler(SequentialSampler(range(10)), 3, False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(SequentialSampler(range(10)), 3, True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4 and len(BatchSampler(range(10), 3, True)) == 3
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]  # any iterable of ints
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(5), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(5), 2, 1)


def test_sampler_state_replays_epoch():
    s = RandomSampler(range(40), generator=lamina.Generator().manual_seed(1))
    list(s)
    state = s.state_dict()
    first = list(RandomSampler(range(40), generator=lamina.Generator().manual_seed(1)))
    again = RandomSampler(range(40), generator=lamina.Generator())
    again.load_state_dict(state)
    assert list(again) == first  # the saved epoch replays
    assert list(again) == list(s)  # and the next epoch follows the same generator stream
