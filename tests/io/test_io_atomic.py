"""Atomic writes: a crash mid-write leaves the old file intact and no temporary files."""
import os

import numpy as np
import pytest

import lamina
import lamina.io as lio
from lamina.io import atomic, safe


def _crashing_writer(arrays, filename, metadata):
    with open(filename, "wb") as f:
        f.write(b"\x00" * 100)  # half a file...
    raise OSError("disk full (simulated crash mid-write)")


def test_crash_mid_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    lio.save({"w": lamina.ones(3)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(safe, "_write_file", _crashing_writer)
    with pytest.raises(OSError, match="simulated"):
        lio.save({"w": lamina.zeros(3)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert lio.load(path)["w"].tolist() == [1.0, 1.0, 1.0]


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(safe, "_write_file", _crashing_writer)
    with pytest.raises(OSError):
        lio.save({"w": lamina.zeros(3)}, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []


def test_save_fsyncs_file_and_directory_then_replaces(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    lio.save({"w": np.ones(2)}, tmp_path / "a.st")
    assert calls == ["fsync", "replace", "fsync"]  # file data, rename, directory entry


def test_atomic_write_text_and_bytes(tmp_path):
    p = tmp_path / "f.txt"
    lio.atomic_write_text(p, "one")
    lio.atomic_write_text(p, "two")
    assert p.read_text() == "two"
    lio.atomic_write_bytes(tmp_path / "b.bin", b"\x01\x02")
    assert (tmp_path / "b.bin").read_bytes() == b"\x01\x02"
    with pytest.raises(RuntimeError):
        with lio.atomic_write(p, "w") as f:
            f.write("partial")
            raise RuntimeError("boom")
    assert p.read_text() == "two" and sorted(os.listdir(tmp_path)) == ["b.bin", "f.txt"]
    assert oct(os.stat(p).st_mode & 0o777) == oct(atomic._FILE_MODE)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        lio.save({"w": np.ones(1)}, tmp_path / "nope" / "a.st")
