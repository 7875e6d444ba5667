"""Packed and padded sequences for recurrent layers (``torch.nn.utils.rnn``)."""
from ..layers.rnn_utils import (PackedSequence, pack_padded_sequence, pack_sequence,  # noqa: F401
                                pad_packed_sequence, pad_sequence, unpack_sequence, unpad_sequence)
