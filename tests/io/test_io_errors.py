"""Corrupt, truncated and foreign files raise CheckpointError naming the path and the problem."""
import json
import pickle

import numpy as np
import pytest

import lamina
import lamina.io as lio
from lamina.io import CheckpointError


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    lio.save({"model": {"w": lamina.randn(8, 8), "b": lamina.zeros(8)}, "step": 5}, path)
    return path


def _header_len(data: bytes) -> int:
    return int.from_bytes(data[:8], "little")


def test_checkpoint_error_is_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_missing_file(tmp_path):
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        lio.load(missing)
    with pytest.raises(FileNotFoundError):
        lio.load_state_dict_from(missing)


@pytest.mark.parametrize("where", ["empty", "in_length", "in_header", "in_data", "last_byte"])
def test_truncated_file(saved, where):
    data = saved.read_bytes()
    n = _header_len(data)
    cut = {"empty": 0, "in_length": 5, "in_header": 8 + n // 2, "in_data": 8 + n + 40, "last_byte": len(data) - 1}
    saved.write_bytes(data[:cut[where]])
    with pytest.raises(CheckpointError, match=r"ckpt\.safetensors.*(truncated|too short)"):
        lio.load(saved)


def test_trailing_garbage(saved):
    saved.write_bytes(saved.read_bytes() + b"junk")
    with pytest.raises(CheckpointError, match="corrupted"):
        lio.load(saved)


def test_corrupted_header_json(saved):
    data = bytearray(saved.read_bytes())
    data[8] = ord("X")  # the header's opening brace
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"ckpt\.safetensors.*corrupted header"):
        lio.load(saved)


def test_corrupted_header_offsets(saved):
    data = saved.read_bytes()
    n = _header_len(data)
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [3] + header[name]["shape"]
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    saved.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
    with pytest.raises(CheckpointError, match=f"corrupted header: tensor '{name}'"):
        lio.load(saved)


def test_corrupted_tensor_bytes_caught_by_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[8 + _header_len(data) + 20] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"ckpt\.safetensors.*tensor 'model\.\w' are corrupted"):
        lio.load(saved)
    assert lio.load(saved, verify=False)["step"] == 5  # the caller can opt out


def test_corrupted_structure_metadata(saved):
    data = saved.read_bytes()
    n = _header_len(data)
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["lamina.structure"] = '{"model": {"__tensor__": "nope"}}'
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    saved.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        lio.load(saved)
    with pytest.raises(CheckpointError, match="'nope'"):
        lio.load(saved, verify=False)
    header["__metadata__"]["lamina.structure"] = "{not json"
    raw = json.dumps(header).encode()
    saved.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
    with pytest.raises(CheckpointError, match="lamina metadata"):
        lio.load(saved, verify=False)
    del header["__metadata__"]["lamina.structure"]
    raw = json.dumps(header).encode()
    saved.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
    with pytest.raises(CheckpointError, match="missing lamina.structure"):
        lio.load(saved)


def test_every_single_byte_flip_is_caught_or_harmless(saved):
    """Flip bytes all over a real file: load either raises CheckpointError or returns the same
    values (a flip in ignorable padding or the 'format' tag); never another exception."""
    data = saved.read_bytes()
    ref = repr(lio.load(saved, as_numpy=True))
    rng = np.random.default_rng(0)
    for i in rng.choice(len(data), size=60, replace=False):
        for value in (0x00, ord("1"), ord('"')):
            if data[i] == value:
                continue
            saved.write_bytes(data[:i] + bytes([value]) + data[i + 1:])
            try:
                out = lio.load(saved, as_numpy=True)
            except CheckpointError:
                continue
            assert repr(out) == ref, f"byte {i} set to {value} changed the loaded values silently"


def test_not_a_safetensors_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are not the weights you are looking for\n" * 3)
    with pytest.raises(CheckpointError, match=r"notes\.txt.*not a safetensors file"):
        lio.load(text)
    pick = tmp_path / "model.pt"
    pick.write_bytes(pickle.dumps({"w": np.ones(3)}, protocol=4))
    with pytest.raises(CheckpointError, match=r"model\.pt.*pickle/zip.*never unpickles"):
        lio.load(pick)
    zipped = tmp_path / "model2.pt"
    zipped.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(CheckpointError, match="pickle/zip"):
        lio.load(zipped)
    with pytest.raises(IsADirectoryError):
        lio.load(tmp_path)


def test_unknown_dtype_in_header(tmp_path):
    header = {"x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}
    raw = json.dumps(header).encode()
    p = tmp_path / "f8.safetensors"
    p.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\x00\x00")
    with pytest.raises(CheckpointError, match="F8_E4M3"):
        lio.load(p)
