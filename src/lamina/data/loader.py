"""DataLoader: batches of a dataset, in sequential or shuffled order (``torch.utils.data`` API).

    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    for xb, yb in loader:          # xb: (128, ...) Tensor, yb: (128,) Tensor
        ...

Fast path: when the dataset is array-backed (a TensorDataset, a Subset of one, or anything with
a ``get_batch(indices)`` method or a ``tensors`` tuple) and ``collate_fn`` is the default, a batch
is one fancy index per tensor (``x.array[indices]``) — no Python loop over samples. It gives
exactly what ``default_collate`` of the individual samples would.

Resuming: ``loader.state_dict()`` is a small JSON-able dict — the epoch counter, the number of
batches already yielded in the epoch in progress, and the sampler's state (the epoch's seed
and, if the loader has its own ``generator``, that generator's state). After
``loader.load_state_dict(state)`` the next ``iter(loader)`` replays the interrupted epoch's
order and starts at the first batch not yet yielded; later epochs follow as in an
uninterrupted run (restore the default generator too, ``lamina.set_rng_state``, when the
loader uses it).
"""
from __future__ import annotations

import collections.abc as abc
import inspect
import numbers

import numpy as np

from ..tensor import Tensor
from .dataset import IterableDataset, batch_fetcher
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert"]

_COLLATE_TYPES = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _stack(arrays, xp, what: str):
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise RuntimeError(f"default_collate: cannot stack {what} of different shapes: {tuple(first)} at batch "
                               f"position 0 and {tuple(a.shape)} at position {i}")
    return Tensor._wrap(xp.stack(arrays))


def default_collate(batch):
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate``:

    tensors and arrays are stacked along a new first dim (-> Tensor); Python floats -> float64,
    ints -> int64, bools -> bool tensors; NumPy scalars keep their dtype; strings stay a list;
    dicts, tuples (-> lists), lists and namedtuples are collated field by field.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.array for b in batch], elem.xp, "tensors")
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USOV":
            raise TypeError(_COLLATE_TYPES.format(f"numpy array of dtype {elem.dtype}"))
        return _stack([np.asarray(b) for b in batch], np, "arrays")
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, numbers.Integral):
        arr = np.asarray(batch)
        return Tensor._wrap(arr.astype(np.int64) if arr.dtype.kind in "iub" else arr.astype(np.float64))
    if isinstance(elem, abc.Mapping):
        try:
            fields = {k: default_collate([d[k] for d in batch]) for k in elem}
        except KeyError as e:
            raise KeyError(f"default_collate: key {e.args[0]!r} of the first sample is missing from another "
                           "sample of the batch") from None
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # a list, as torch does
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_COLLATE_TYPES.format(type(elem)))


def default_convert(data):
    """Turn arrays into Tensors (recursing into containers) without batching (``batch_size=None``)."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USOV":
        return Tensor._wrap(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, (Tensor, str, bytes)):
        return data
    if isinstance(data, abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Iterates over ``dataset`` in batches of ``batch_size`` collated samples.

    ``shuffle=True`` visits a new random permutation every epoch, drawn from ``generator`` (or
    the default generator: ``lamina.manual_seed(s)`` repeats the order). ``sampler`` picks the
    index order instead; ``batch_sampler`` yields whole lists of indices. ``drop_last`` drops the
    last incomplete batch. ``batch_size=None`` disables batching (samples are only converted).
    ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and
    ``persistent_workers`` are accepted for PyTorch compatibility; loading happens in the main
    process (array-backed datasets are batched by fancy indexing, which workers wouldn't speed up).
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, generator=None, *,
                 prefetch_factor=None, persistent_workers: bool = False):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing")
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self.drop_last = drop_last
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r}")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        self.batch_size = batch_size
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None or batch_sampler is not None else default_convert)
        fast = collate_fn is None or collate_fn is default_collate
        self._fetch_batch = batch_fetcher(dataset) if fast and batch_sampler is not None else None
        self._epoch = 0
        self._yielded = 0
        self._in_epoch = False
        self._resume = None  # batches to skip when the next iter() resumes an interrupted epoch

    # ------------------------------------------------------------ iteration
    def _fetch(self, idx: np.ndarray):
        if self._fetch_batch is not None:
            return self._fetch_batch(idx)
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(idx.tolist()) if getitems is not None else [self.dataset[i] for i in idx.tolist()]
        return self.collate_fn(samples)

    def _index_batches(self, skip: int):
        if self.batch_sampler is None:  # no auto-batching: one sample per step
            for i, index in enumerate(self.sampler):
                if i >= skip:
                    yield index
        elif hasattr(self.batch_sampler, "index_batches"):
            yield from self.batch_sampler.index_batches(skip)
        else:
            for i, batch in enumerate(self.batch_sampler):
                if i >= skip:
                    yield np.asarray(batch, dtype=np.int64)

    def _iter_map(self, skip: int):
        for idx in self._index_batches(skip):
            if self.batch_sampler is None:
                out = self.collate_fn(self.dataset[idx])
            else:
                out = self._fetch(idx)
            self._yielded += 1
            yield out

    def _iter_stream(self, skip: int):
        if self.batch_size is None:
            items = ((x,) for x in self.dataset)
        else:
            items = _chunks(iter(self.dataset), self.batch_size, self.drop_last)
        for i, chunk in enumerate(items):
            if i < skip:
                continue
            out = self.collate_fn(chunk[0]) if self.batch_size is None else self.collate_fn(chunk)
            self._yielded += 1
            yield out

    def __iter__(self):
        skip, self._resume = self._resume, None
        if skip is None:  # a fresh epoch (not the resumption of one)
            skip = 0
            self._epoch += 1
        self._yielded = skip
        self._in_epoch = True
        it = self._iter_stream(skip) if self._iterable else self._iter_map(skip)
        yield from it
        self._in_epoch = False
        self._yielded = 0

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is None:
            return len(self.sampler)
        return len(self.batch_sampler)

    # ------------------------------------------------------------ resume
    def state_dict(self) -> dict:
        """``{"epoch", "in_epoch", "batches_yielded", "sampler"}``: enough to replay the data order.

        ``epoch`` counts epochs started; ``in_epoch`` says one is in progress (not exhausted);
        ``batches_yielded`` is the position in it; ``sampler`` holds the epoch seed and the
        state of the loader's own generator."""
        holder = self.batch_sampler if self.batch_sampler is not None else self.sampler
        sd = getattr(holder, "state_dict", None)
        sampler_state = dict(sd()) if callable(sd) else {}
        if not self._in_epoch and "seed" in sampler_state:
            sampler_state["seed"] = None  # the epoch finished: the next one draws a fresh seed
        return {"epoch": self._epoch, "in_epoch": self._in_epoch,
                "batches_yielded": self._yielded if self._in_epoch else 0, "sampler": sampler_state}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; the next ``iter(self)`` resumes where it was taken."""
        self._epoch = int(state.get("epoch", 0))
        in_epoch = bool(state.get("in_epoch", False))
        self._resume = int(state.get("batches_yielded", 0)) if in_epoch else None
        self._in_epoch = False
        sampler_state = dict(state.get("sampler") or {})
        if not in_epoch and "seed" in sampler_state:
            sampler_state["seed"] = None
        holder = self.batch_sampler if self.batch_sampler is not None else self.sampler
        load = getattr(holder, "load_state_dict", None)
        if callable(load) and sampler_state:
            if "resume_epoch" in inspect.signature(load).parameters:
                load(sampler_state, resume_epoch=sampler_state.get("seed") is not None)
            else:  # a user sampler with the plain signature
                load(sampler_state)

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"batches={len(self) if not self._iterable else '?'}, drop_last={self.drop_last})")


def _chunks(iterator, size: int, drop_last: bool):
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk and not drop_last:
        yield chunk
