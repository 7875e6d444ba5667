"""DataLoader: batching, shapes and dtypes, shuffling, drop_last, collation, fast path, resume."""
import collections

import numpy as np
import pytest

import lamina
from lamina.data import (BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler, Subset,
                         TensorDataset, WeightedRandomSampler, default_collate, default_convert)


def _data(n=10, f=3):
    x = np.arange(n * f, dtype=np.float32).reshape(n, f)
    y = np.arange(n, dtype=np.int64) % 3
    return x, y


def test_batches_shapes_dtypes_and_values():
    x, y = _data()
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(b[0].dtype == np.float32 and b[1].dtype == np.int64 for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert isinstance(batches[0], list)  # as torch's default_collate of tuples


@pytest.mark.parametrize("n,bs", [(10, 4), (12, 4), (3, 5), (1, 1), (0, 2)])
def test_len_with_and_without_drop_last(n, bs):
    ds = TensorDataset(np.zeros((n, 2)))
    for drop in (False, True):
        dl = DataLoader(ds, batch_size=bs, drop_last=drop)
        assert len(dl) == len(list(dl)) == (n // bs if drop else -(-n // bs))
        assert all(b[0].shape[0] == bs for b in dl) if drop else True


def test_shuffle_repeatable_with_seed_and_differs_between_seeds():
    x, y = _data(50)
    ds = TensorDataset(x, y)

    def order(**kw):
        return np.concatenate([b[1].numpy() * 0 + b[0].numpy()[:, 0] for b in DataLoader(ds, 8, shuffle=True, **kw)])

    a = order(generator=lamina.Generator().manual_seed(1))
    assert not np.array_equal(a, x[:, 0]) and np.array_equal(np.sort(a), x[:, 0])
    assert np.array_equal(a, order(generator=lamina.Generator().manual_seed(1)))
    assert not np.array_equal(a, order(generator=lamina.Generator().manual_seed(2)))
    lamina.manual_seed(5)
    b = order()
    lamina.manual_seed(5)
    assert np.array_equal(b, order())


def test_each_epoch_reshuffles():
    dl = DataLoader(TensorDataset(np.arange(40)), batch_size=40, shuffle=True)
    e1, e2 = next(iter(dl))[0].numpy(), next(iter(dl))[0].numpy()
    assert not np.array_equal(e1, e2)


def test_sampler_and_batch_sampler_options_and_conflicts():
    ds = TensorDataset(np.arange(10))
    out = [b[0].tolist() for b in DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 6])]
    assert out == [[9, 8, 7], [6]]
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=True)
    assert [b[0].tolist() for b in DataLoader(ds, batch_sampler=bs)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [b[0].tolist() for b in DataLoader(ds, batch_sampler=[[1, 2], [5]])] == [[1, 2], [5]]
    w = DataLoader(ds, batch_size=5, sampler=WeightedRandomSampler([0.0] * 9 + [1.0], 5))
    assert next(iter(w))[0].tolist() == [9] * 5
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=4, batch_sampler=bs)
    with pytest.raises(ValueError, match="auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)


def test_batch_size_none_converts_single_samples():
    ds = TensorDataset(np.arange(6, dtype=np.float32).reshape(3, 2))
    out = list(DataLoader(ds, batch_size=None))
    assert len(out) == 3 and out[1][0].shape == (2,)
    assert default_convert({"a": np.ones(2), "b": (1, "s")})["a"].dtype == np.float64


class _Dicts(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"img": np.full((2, 2), i, dtype=np.uint8), "label": i, "w": float(i) / 2, "ok": i % 2 == 0,
                "name": f"s{i}", "pair": (np.float32(i), [i, -i])}


def test_collate_dicts_tuples_arrays_numbers():
    b = next(iter(DataLoader(_Dicts(), batch_size=3)))
    assert b["img"].shape == (3, 2, 2) and b["img"].dtype == np.uint8
    assert b["label"].dtype == np.int64 and b["label"].tolist() == [0, 1, 2]
    assert b["w"].dtype == np.float64 and b["w"].tolist() == [0.0, 0.5, 1.0]
    assert b["ok"].dtype == np.bool_ and b["ok"].tolist() == [True, False, True]
    assert b["name"] == ["s0", "s1", "s2"]
    assert isinstance(b["pair"], list) and b["pair"][0].dtype == np.float32
    assert b["pair"][1][1].tolist() == [0, -1, -2]


def test_default_collate_namedtuple_tensors_and_errors():
    P = collections.namedtuple("P", "x y")
    out = default_collate([P(lamina.tensor([1.0, 2.0]), 1), P(lamina.tensor([3.0, 4.0]), 2)])
    assert isinstance(out, P) and out.x.shape == (2, 2) and out.y.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match=r"different shapes: \(2,\) .* \(3,\)"):
        default_collate([lamina.zeros(2), lamina.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="found"):
        default_collate([object(), object()])
    with pytest.raises(KeyError, match="missing"):
        default_collate([{"a": 1}, {"b": 2}])


class _Slow(Dataset):
    """Same samples as a TensorDataset, but without tensors to fancy-index."""

    def __init__(self, *arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(lamina.tensor(a[i]) for a in self.arrays)


@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_path_matches_slow_path(drop_last):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 2, 3)).astype(np.float32)
    y = rng.integers(0, 5, 37)
    m = rng.random(37) > 0.5
    fast = DataLoader(TensorDataset(x, y, m), 8, shuffle=True, drop_last=drop_last,
                      generator=lamina.Generator().manual_seed(3))
    slow = DataLoader(_Slow(x, y, m), 8, shuffle=True, drop_last=drop_last,
                      generator=lamina.Generator().manual_seed(3))
    custom = DataLoader(TensorDataset(x, y, m), 8, shuffle=True, drop_last=drop_last,
                        generator=lamina.Generator().manual_seed(3), collate_fn=lambda b: default_collate(b))
    assert fast._fetch_batch is not None and slow._fetch_batch is None and custom._fetch_batch is None
    for bf, bs, bc in zip(fast, slow, custom, strict=True):
        for a, b, c in zip(bf, bs, bc, strict=True):
            assert a.shape == b.shape == c.shape and a.dtype == b.dtype == c.dtype
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            np.testing.assert_array_equal(a.numpy(), c.numpy())


def test_fast_path_through_subset_and_tensors_attribute():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    sub = Subset(TensorDataset(x), [9, 0, 4])
    dl = DataLoader(sub, batch_size=2)
    assert dl._fetch_batch is not None
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in dl]), x[[9, 0, 4]])

    class WithTensors(Dataset):
        def __init__(self):
            self.tensors = (lamina.tensor(x),)

        def __len__(self):
            return 10

        def __getitem__(self, i):
            return (self.tensors[0][i],)

    assert DataLoader(WithTensors(), batch_size=4)._fetch_batch is not None
    assert next(iter(DataLoader(WithTensors(), batch_size=4)))[0].shape == (4, 2)


def test_fast_path_batches_are_copies():
    x = np.zeros((4, 2), dtype=np.float32)
    b = next(iter(DataLoader(TensorDataset(x), batch_size=4)))[0]
    b.array += 1
    assert x.sum() == 0


class _Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter([(np.float32(i), i) for i in range(self.n)])


def test_iterable_dataset_batches_in_order():
    out = [b[1].tolist() for b in DataLoader(_Stream(7), batch_size=3)]
    assert out == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b[1].tolist() for b in DataLoader(_Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(_Stream(3), shuffle=True)
    with pytest.raises(TypeError):
        len(DataLoader(_Stream(3)))


def _labels(dl):
    return [b[0].tolist() for b in dl]


@pytest.mark.parametrize("own_generator", [True, False])
def test_state_dict_resumes_mid_epoch_exactly(own_generator):
    ds = TensorDataset(np.arange(23))

    def make():
        g = lamina.Generator().manual_seed(11) if own_generator else None
        return DataLoader(ds, batch_size=4, shuffle=True, generator=g)

    lamina.manual_seed(0)
    ref = make()
    full = [_labels(ref) for _ in range(3)]  # three uninterrupted epochs

    lamina.manual_seed(0)
    dl = make()
    _labels(dl)  # epoch 1
    it = iter(dl)
    seen = [next(it)[0].tolist() for _ in range(2)]  # two batches into epoch 2, then "crash"
    state = dl.state_dict()
    rng_state = lamina.get_rng_state()
    assert state["epoch"] == 2 and state["in_epoch"] and state["batches_yielded"] == 2

    lamina.manual_seed(123)  # a new process: different global state until restored
    resumed = make()
    resumed.load_state_dict(state)
    lamina.set_rng_state(rng_state)
    rest = _labels(resumed)
    assert seen + rest == full[1]
    assert _labels(resumed) == full[2]
    assert resumed.state_dict()["epoch"] == 3


def test_state_dict_between_epochs_starts_a_fresh_epoch():
    ds = TensorDataset(np.arange(10))
    g = lamina.Generator().manual_seed(4)
    dl = DataLoader(ds, batch_size=3, shuffle=True, generator=g)
    ref = DataLoader(ds, batch_size=3, shuffle=True, generator=lamina.Generator().manual_seed(4))
    expected = [_labels(ref), _labels(ref)]
    first = _labels(dl)
    state = dl.state_dict()
    assert state["batches_yielded"] == 0 and not state["in_epoch"] and state["sampler"]["seed"] is None
    other = DataLoader(ds, batch_size=3, shuffle=True, generator=lamina.Generator())
    other.load_state_dict(state)
    assert [first, _labels(other)] == expected


def test_state_dict_sequential_loader_skips_yielded_batches():
    dl = DataLoader(TensorDataset(np.arange(10)), batch_size=3)
    it = iter(dl)
    next(it)
    resumed = DataLoader(TensorDataset(np.arange(10)), batch_size=3)
    resumed.load_state_dict(dl.state_dict())
    assert _labels(resumed) == [[3, 4, 5], [6, 7, 8], [9]]
    assert _labels(resumed) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_state_dict_is_saveable_json(tmp_path):
    import json

    dl = DataLoader(TensorDataset(np.arange(10)), batch_size=3, shuffle=True, generator=lamina.Generator())
    it = iter(dl)
    next(it)
    assert json.loads(json.dumps(dl.state_dict())) == dl.state_dict()
