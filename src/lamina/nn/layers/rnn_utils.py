"""Variable-length batches for recurrent layers: PackedSequence and its helpers (torch.nn.utils.rnn).

A packed sequence stores only the valid steps of a batch of sequences, time step by time
step, longest sequences first: ``data`` (sum(lengths), *) and ``batch_sizes[t]`` = how many
sequences are still running at step t. Packing is one gather from the padded tensor and
unpacking one scatter back into zeros, so gradients flow to the valid positions only.

    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, h_n = lstm(packed)
    y, lengths = pad_packed_sequence(out)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import backend
from ...ops import elementwise as E
from ...ops.index import IndexAdd, index_select
from ...ops.shape import cat
from ...tensor import Tensor


class PackedSequence(NamedTuple):
    """(data, batch_sizes, sorted_indices, unsorted_indices), as torch's PackedSequence.

    data (sum(lengths), *): the valid steps, time-major; batch_sizes (T,) int64 on the CPU;
    sorted_indices: batch index of each sequence in packing order (None when the input was
    already sorted by decreasing length); unsorted_indices: its inverse permutation.
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> "PackedSequence":
        """Move or cast ``data`` (batch_sizes stays on the CPU)."""
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        return self.data.device.type == "cuda"


def as_lengths(lengths, name: str) -> np.ndarray:
    """``lengths`` (Tensor, array or list) as a 1-D int64 NumPy array."""
    if isinstance(lengths, Tensor):
        arr = backend.to_device(lengths.array, backend.cpu)
    else:
        arr = np.asarray(lengths)
    if arr.ndim != 1:
        raise ValueError(f"{name}: lengths must be a 1-D sequence of ints, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name}: lengths must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _positions(batch_sizes: np.ndarray, sorted_indices, n: int, steps: int, batch_first: bool) -> np.ndarray:
    """Flat position in the padded (steps, n) [or (n, steps)] grid of every packed row."""
    valid = np.arange(n)[None, :] < batch_sizes[:, None]  # (T, n) in packing order
    t, j = np.nonzero(valid)  # row-major: time-major, as packed data is laid out
    b = j if sorted_indices is None else sorted_indices[j]
    return b * steps + t if batch_first else t * n + b


def _index(x: Tensor, arr: np.ndarray):
    return backend.to_device(arr, x.device) if x.device.type != "cpu" else arr


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) [or (B, T, *) with batch_first] given each sequence's length.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; otherwise the batch
    is sorted here and the permutation kept in the result (so outputs come back in the
    original order). d input = the packed gradient scattered back (zero at padding).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have at least 2 dims (time and batch), got "
                         f"shape {input.shape}")
    lens = as_lengths(lengths, "pack_padded_sequence")
    steps, n = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lens.size != n:
        raise ValueError(f"pack_padded_sequence: got {lens.size} lengths for a batch of {n} sequences "
                         f"(input shape {input.shape}, batch_first={batch_first})")
    if lens.size and lens.min() <= 0:
        raise RuntimeError("pack_padded_sequence: the length of every sequence has to be greater than 0, "
                           f"got lengths {lens.tolist()}")
    if lens.size and lens.max() > steps:
        raise ValueError(f"pack_padded_sequence: a length ({int(lens.max())}) is longer than the padded "
                         f"sequence ({steps} steps; input shape {input.shape}, batch_first={batch_first})")
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise RuntimeError("pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True; pass enforce_sorted=False to sort it here")
        order = None
    else:
        order = np.argsort(-lens, kind="stable")
    sorted_lens = lens if order is None else lens[order]
    batch_sizes = (sorted_lens[None, :] > np.arange(int(sorted_lens[0]))[:, None]).sum(1).astype(np.int64)
    pos = _positions(batch_sizes, order, n, steps, batch_first)
    flat = input.reshape(n * steps, *input.shape[2:])
    data = index_select(flat, 0, _index(input, pos))
    if order is None:
        return PackedSequence(data, Tensor(batch_sizes))
    return PackedSequence(data, Tensor(batch_sizes), Tensor(order), Tensor(np.argsort(order)))


def pack_like(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a padded (T, B, *) tensor with the batch sizes and order of ``like``."""
    bs = as_lengths(like.batch_sizes, "pack_like")
    order = None if like.sorted_indices is None else as_lengths(like.sorted_indices, "pack_like")
    steps, n = padded.shape[:2]
    pos = _positions(bs, order, n, steps, False)
    data = index_select(padded.reshape(n * steps, *padded.shape[2:]), 0, _index(padded, pos))
    return like._replace(data=data)


def packed_lengths(sequence: PackedSequence) -> np.ndarray:
    """Each sequence's length, in the original batch order."""
    bs = as_lengths(sequence.batch_sizes, "PackedSequence")
    sorted_lens = (bs[None, :] > np.arange(int(bs[0]))[:, None]).sum(1)
    if sequence.sorted_indices is None:
        return sorted_lens.astype(np.int64)
    lens = np.empty_like(sorted_lens)
    lens[as_lengths(sequence.sorted_indices, "PackedSequence")] = sorted_lens
    return lens.astype(np.int64)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple:
    """Undo ``pack_padded_sequence``: (padded (T, B, *) [or (B, T, *)], lengths int64 (B,)).

    T is the longest length, or ``total_length`` if given. Sequences come back in the original
    batch order; padded positions hold ``padding_value`` and get no gradient.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    bs = as_lengths(sequence.batch_sizes, "pad_packed_sequence")
    n, steps = int(bs[0]), bs.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than the longest "
                             f"sequence ({steps} steps)")
        steps = int(total_length)
    order = None if sequence.sorted_indices is None else as_lengths(sequence.sorted_indices, "pad_packed_sequence")
    data = sequence.data
    pos = _positions(bs, order, n, steps, batch_first)
    out = IndexAdd(0, _index(data, pos), n * steps)(data)
    shape = ((n, steps) if batch_first else (steps, n)) + tuple(data.shape[1:])
    out = out.reshape(*shape)
    lens = packed_lengths(sequence)
    if padding_value != 0:
        valid = np.zeros(n * steps, dtype=bool)
        valid[pos] = True
        valid = _index(data, valid.reshape(shape[:2] + (1,) * (data.ndim - 1)))
        out = E.where(Tensor._wrap(valid), out, padding_value)
    return out, Tensor(lens)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes (L_i, *) into (max L, B, *) [or (B, max L, *)], padding with
    ``padding_value`` on the right (or the left). d sequence_i = its slice of the gradient."""
    seqs = list(sequences)
    if not seqs:
        raise ValueError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    rest = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor) or s.ndim < 1 or s.shape[1:] != rest:
            raise ValueError(f"pad_sequence: every sequence must be a Tensor of shape (L, *{rest}); "
                             f"sequence {i} has shape {getattr(s, 'shape', None)}")
    lens = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    n, steps = len(seqs), int(lens.max())
    t = np.concatenate([np.arange(k) for k in lens])
    b = np.repeat(np.arange(n), lens)
    if padding_side == "left":
        t = t + np.repeat(steps - lens, lens)
    pos = b * steps + t if batch_first else t * n + b
    data = cat(seqs, 0)
    out = IndexAdd(0, _index(data, pos), n * steps)(data)
    shape = ((n, steps) if batch_first else (steps, n)) + tuple(rest)
    out = out.reshape(*shape)
    if padding_value != 0:
        valid = np.zeros(n * steps, dtype=bool)
        valid[pos] = True
        valid = _index(data, valid.reshape(shape[:2] + (1,) * len(rest)))
        out = E.where(Tensor._wrap(valid), out, padding_value)
    return out


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors (L_i, *): ``pack_padded_sequence(pad_sequence(seqs), lengths)``."""
    seqs = list(sequences)
    lens = [s.shape[0] for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lens, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The list of unpadded sequences (L_i, *) from a padded batch and its lengths."""
    lens = as_lengths(lengths, "unpad_sequence")
    x = padded_sequences if not batch_first else padded_sequences.transpose(0, 1)
    return [x[:int(k), i] for i, k in enumerate(lens)]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences (L_i, *) held in a PackedSequence, in the original order."""
    padded, lens = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, :int(k)] for i, k in enumerate(lens.tolist())]
