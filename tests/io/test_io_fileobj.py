"""lamina.save / lamina.load with file objects, PyTorch's keywords, and what they refuse."""
import io
import os

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.io import CheckpointError
from helpers import requires_torch, torch


def _trained():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        model(lamina.randn(5, 3)).sum().backward()
        opt.step()
    return model, opt


def _assert_same(a, b):
    if isinstance(a, lamina.Tensor):
        assert isinstance(b, lamina.Tensor) and a.dtype == b.dtype
        np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def test_bytesio_round_trip_of_nested_state_dicts():
    model, opt = _trained()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "note": None,
            "shape": (2, 3), "scores": [0.5, 1.5]}
    buf = io.BytesIO()
    lamina.save(ckpt, buf)
    assert buf.tell() > 0
    buf.seek(0)
    back = lamina.load(buf)
    _assert_same(ckpt, back)
    assert list(back["optimizer"]["state"]) == list(opt.state_dict()["state"])  # int keys stay ints
    assert all(isinstance(k, int) for k in back["optimizer"]["state"])
    opt2 = optim.Adam(model.parameters(), lr=1.0)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.param_groups[0]["lr"] == pytest.approx(1e-2)
    model.load_state_dict(back["model"])


def test_open_file_handles_and_paths_read_the_same(tmp_path):
    model, _ = _trained()
    path = tmp_path / "m.safetensors"
    with open(path, "wb") as f:
        lamina.save(model.state_dict(), f)
    with open(path, "rb") as f:
        from_handle = lamina.load(f)
    from_path = lamina.load(path)
    from_str = lamina.load(str(path))
    _assert_same(from_handle, from_path)
    _assert_same(from_handle, from_str)
    buf = io.BytesIO()
    lamina.save(model.state_dict(), buf)
    _assert_same(lamina.load(io.BytesIO(buf.getvalue())), from_path)  # the same content either way
    assert lamina.io.read_metadata(path) == lamina.io.read_metadata(io.BytesIO(buf.getvalue()))
    # a flat state dict is a plain safetensors file: the safetensors library reads it too
    import safetensors.numpy
    plain = safetensors.numpy.load(buf.getvalue())
    assert set(plain) == set(model.state_dict())
    assert lamina.io.read_metadata(io.BytesIO(buf.getvalue()))["lamina.format"] == "1"
    assert set(lamina.io.load_state_dict_from(io.BytesIO(buf.getvalue()))) == set(model.state_dict())


def test_load_keywords_of_torch_load():
    buf = io.BytesIO()
    lamina.save({"w": lamina.arange(4.0)}, buf)
    data = buf.getvalue()
    for kw in ({"map_location": "cpu"}, {"map_location": lamina.device("cpu")}, {"map_location": {"cpu": "cpu"}},
               {"map_location": lambda storage, loc: storage}, {"weights_only": True}, {"weights_only": False},
               {"mmap": True}, {"device": "cpu"}):
        out = lamina.load(io.BytesIO(data), **kw)
        np.testing.assert_array_equal(out["w"].numpy(), [0, 1, 2, 3])
    out = lamina.load(io.BytesIO(data), "cpu")  # map_location is the second positional argument, as torch
    assert out["w"].device == lamina.device("cpu")
    doubled = lamina.load(io.BytesIO(data), map_location=lambda t, loc: t * 2)
    np.testing.assert_array_equal(doubled["w"].numpy(), [0, 2, 4, 6])
    assert isinstance(lamina.load(io.BytesIO(data), as_numpy=True)["w"], np.ndarray)
    with pytest.raises(ValueError, match="not both"):
        lamina.load(io.BytesIO(data), map_location="cpu", device="cpu")
    with pytest.raises(TypeError, match="map_location"):
        lamina.load(io.BytesIO(data), map_location=3)
    with pytest.raises(TypeError, match="never unpickled"):
        import pickle
        lamina.load(io.BytesIO(data), pickle_module=pickle)
    with pytest.raises(TypeError, match="never pickles"):
        import pickle
        lamina.save({"w": lamina.ones(1)}, io.BytesIO(), pickle_module=pickle)
    lamina.save({"w": lamina.ones(1)}, io.BytesIO(), pickle_protocol=4, _use_new_zipfile_serialization=True)


def test_whole_objects_are_refused_with_the_reason():
    model, opt = _trained()
    for obj, kind in ((model, "Sequential"), (opt, "Adam"), ({"net": model}, "Sequential")):
        with pytest.raises(TypeError, match=rf"whole {kind} object.*arbitrary code.*state_dict\(\)"):
            lamina.save(obj, io.BytesIO())
    sched = optim.lr_scheduler.StepLR(opt, 2)
    with pytest.raises(TypeError, match="StepLR"):
        lamina.save(sched, io.BytesIO())


def test_bad_file_arguments(tmp_path):
    with pytest.raises(TypeError, match="path .* or a binary file object"):
        lamina.save({"w": lamina.ones(1)}, 42)
    with pytest.raises(TypeError, match="path .* or a binary file object"):
        lamina.load(42)
    (tmp_path / "t.safetensors").write_bytes(b"")
    with open(tmp_path / "t.safetensors", "w") as f:  # text mode: write() refuses bytes
        with pytest.raises(TypeError):
            lamina.save({"w": lamina.ones(1)}, f)
    buf = io.BytesIO()
    lamina.save({"w": lamina.ones(1)}, buf)
    (tmp_path / "ok.safetensors").write_bytes(buf.getvalue())
    with open(tmp_path / "ok.safetensors", "r", encoding="latin-1") as f:
        with pytest.raises(TypeError, match="binary mode"):
            lamina.load(f)
    with pytest.raises(CheckpointError, match=r"<BytesIO>.*truncated"):
        lamina.load(io.BytesIO(buf.getvalue()[:-3]))
    with pytest.raises(CheckpointError, match="too short"):
        lamina.load(io.BytesIO(b""))


def test_save_to_a_path_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    lamina.save({"step": 1, "w": lamina.ones(2)}, path)
    before = path.read_bytes()
    import lamina.io.safe as safe

    def crash(arrays, filename, metadata):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safe, "_write_file", crash)
    with pytest.raises(OSError, match="disk full"):
        lamina.save({"step": 2, "w": lamina.zeros(2)}, path)
    assert path.read_bytes() == before and lamina.load(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # no temporary file left behind


@requires_torch
def test_real_pytorch_checkpoint_is_refused_with_conversion_advice(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"model\.pt.*PyTorch.*never unpickles.*arbitrary code.*save_file"):
        lamina.load(path)
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    buf.seek(0)
    with pytest.raises(CheckpointError, match=r"never unpickles.*safetensors\.torch import save_file"):
        lamina.load(buf)
    buf = io.BytesIO()  # the legacy (non-zip) torch.save format is a bare pickle
    torch.save(net.state_dict(), buf, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="never unpickles"):
        lamina.load(io.BytesIO(buf.getvalue()))
    # the advice works: converted with safetensors, the weights load by name
    from safetensors.torch import save_file
    sd = torch.load(path, weights_only=True)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "model.safetensors"))
    mine = nn.Linear(3, 2)
    mine.load_state_dict(lamina.load(tmp_path / "model.safetensors"))
    np.testing.assert_array_equal(mine.weight.detach().numpy(), net.weight.detach().numpy())


def test_npz_gets_its_own_hint(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(CheckpointError, match="NumPy .npz"):
        lamina.load(path)


@requires_torch
def test_torch_reads_what_lamina_wrote_to_a_buffer():
    from safetensors.torch import load as st_load
    model, _ = _trained()
    buf = io.BytesIO()
    lamina.save(model.state_dict(), buf)
    sd = st_load(buf.getvalue())
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    ref.load_state_dict(sd)
    np.testing.assert_array_equal(ref[0].weight.detach().numpy(), model[0].weight.detach().numpy())
