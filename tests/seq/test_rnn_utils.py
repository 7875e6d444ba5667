"""nn.utils.rnn helpers: pack_padded_sequence / pad_packed_sequence / pad_sequence /
pack_sequence against torch (data, batch sizes, permutations, gradients) and their errors."""
import numpy as np
import pytest
from helpers import rng

import lamina
from lamina.nn.layers.rnn_utils import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                        pad_sequence, unpack_sequence, unpad_sequence)

torch = pytest.importorskip("torch")
R = torch.nn.utils.rnn


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 3, 1], True), ([2, 4, 1, 4], False), ([3], True)])
def test_pack_and_pad_match_torch(batch_first, lengths, enforce_sorted):
    n, steps = len(lengths), max(lengths) + 1
    x = rng(0).standard_normal((n, steps, 2) if batch_first else (steps, n, 2))
    lx, tx = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lp = pack_padded_sequence(lx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    tp = R.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert isinstance(lp, PackedSequence)
    np.testing.assert_array_equal(_np(lp.data), _np(tp.data))
    np.testing.assert_array_equal(lp.batch_sizes.numpy(), tp.batch_sizes.numpy())
    for a, b in ((lp.sorted_indices, tp.sorted_indices), (lp.unsorted_indices, tp.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    ly, llen = pad_packed_sequence(lp, batch_first=batch_first, padding_value=-1.0, total_length=steps)
    ty, tlen = R.pad_packed_sequence(tp, batch_first=batch_first, padding_value=-1.0, total_length=steps)
    np.testing.assert_array_equal(_np(ly), _np(ty))
    np.testing.assert_array_equal(llen.numpy(), tlen.numpy())
    assert llen.dtype == np.int64
    g = rng(1).standard_normal(ly.shape)
    ly.backward(lamina.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(lx.grad.numpy(), tx.grad.numpy())  # zero at the padding


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    r = rng(2)
    arrays = [r.standard_normal((k, 3)) for k in (2, 5, 1)]
    ls = [lamina.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ly = pad_sequence(ls, batch_first=batch_first, padding_value=0.5, padding_side=padding_side)
    ty = R.pad_sequence(ts, batch_first=batch_first, padding_value=0.5, padding_side=padding_side)
    np.testing.assert_array_equal(_np(ly), _np(ty))
    g = r.standard_normal(ly.shape)
    ly.backward(lamina.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(ls, ts):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_pack_sequence_and_unpack_roundtrip():
    r = rng(3)
    seqs = [lamina.tensor(r.standard_normal((k, 2))) for k in (3, 1, 2)]
    packed = pack_sequence(seqs, enforce_sorted=False)
    tpacked = R.pack_sequence([torch.tensor(s.numpy()) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), tpacked.data.numpy())
    for a, b in zip(unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    padded = pad_sequence(seqs)
    for a, b in zip(unpad_sequence(padded, [3, 1, 2]), seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_errors():
    x = lamina.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, [1, 3, 2])
    with pytest.raises(ValueError, match="longer than the padded sequence"):
        pack_padded_sequence(x, [5, 3, 2])
    with pytest.raises(ValueError, match="got 2 lengths for a batch of 3"):
        pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [3, 2, 0])
    packed = pack_padded_sequence(x, [4, 3, 2])
    with pytest.raises(ValueError, match="total_length=3 is shorter"):
        pad_packed_sequence(packed, total_length=3)
    with pytest.raises(ValueError, match="every sequence must be a Tensor of shape"):
        pad_sequence([lamina.randn(2, 3), lamina.randn(2, 4)])
