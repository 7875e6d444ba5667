"""lamina.io.save / load: round trips of nested structures and dtypes; the file is plain safetensors."""
import json

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import lamina
import lamina.io as lio

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _arr(dtype, shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 50).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_round_trip(tmp_path, dtype):
    a = _arr(dtype)
    lio.save({"t": lamina.tensor(a), "a": a, "scalar": np.asarray(a[0, 0]), "empty": a[:0]}, tmp_path / "f.st")
    out = lio.load(tmp_path / "f.st")
    for key, want in (("t", a), ("a", a), ("scalar", np.asarray(a[0, 0])), ("empty", a[:0])):
        assert isinstance(out[key], lamina.Tensor)
        assert out[key].dtype == np.dtype(dtype) and out[key].shape == want.shape
        np.testing.assert_array_equal(out[key].numpy(), want)


def test_nested_structure_round_trip(tmp_path):
    w = lamina.randn(4, 3, requires_grad=True)
    obj = {
        "model": {"fc.weight": w, "fc.bias": lamina.zeros(4), "bn.num_batches_tracked": lamina.tensor(7)},
        "optimizer": {"state": {0: {"step": 12, "exp_avg": lamina.ones(4, 3)}, 1: {"step": 12}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False,
                                        "foreach": None, "name": "all"}]},
        "epoch": 3, "best": float("inf"), "rng": lamina.get_rng_state(), "np_scalar": np.float32(2.5),
        "tuple_keys": {(1, "a"): "x", 2.5: [], True: {}}, "marker_like": {"__tensor__": "not a tensor"},
        "list": [lamina.arange(3), [np.ones(2, np.int32)], ()],
    }
    lio.save(obj, tmp_path / "ckpt.safetensors")
    out = lio.load(tmp_path / "ckpt.safetensors")
    assert list(out) == list(obj) and list(out["model"]) == ["fc.weight", "fc.bias", "bn.num_batches_tracked"]
    np.testing.assert_array_equal(out["model"]["fc.weight"].numpy(), w.detach().numpy())
    assert not out["model"]["fc.weight"].requires_grad
    assert out["model"]["bn.num_batches_tracked"].dtype == np.int64
    assert list(out["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    assert out["optimizer"]["state"][1] == {"step": 12}
    assert out["optimizer"]["param_groups"][0] == obj["optimizer"]["param_groups"][0]
    assert isinstance(out["optimizer"]["param_groups"][0]["betas"], tuple)
    assert out["epoch"] == 3 and out["best"] == float("inf") and out["np_scalar"] == 2.5
    assert out["rng"] == obj["rng"]
    assert out["tuple_keys"] == obj["tuple_keys"] and out["marker_like"] == obj["marker_like"]
    assert out["list"][0].tolist() == [0, 1, 2] and out["list"][1][0].dtype == np.int32 and out["list"][2] == ()
    # the generator state really restores
    g = lamina.Generator()
    g.set_state(out["rng"])
    lamina.set_rng_state(obj["rng"])
    assert lamina.randn(3, generator=g).tolist() == lamina.randn(3).tolist()


def test_flat_state_dict_is_ordinary_safetensors(tmp_path):
    sd = {"0.weight": lamina.randn(5, 3), "0.bias": lamina.randn(5), "2.weight": lamina.randn(2, 5)}
    lio.save(sd, tmp_path / "m.safetensors")
    raw = safetensors.numpy.load_file(tmp_path / "m.safetensors")
    assert set(raw) == set(sd)
    for k in sd:
        np.testing.assert_array_equal(raw[k], sd[k].numpy())
    with safetensors.safe_open(tmp_path / "m.safetensors", "np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt" and json.loads(meta["lamina.structure"])["0.bias"] == {"__tensor__": "0.bias"}
    assert list(lio.load(tmp_path / "m.safetensors")) == list(sd)  # order kept


def test_as_numpy_noncontiguous_and_key_collisions(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    obj = {"t": base.T, "s": base[:, ::2], "a.b": np.ones(1), "a": {"b": np.zeros(1)}}
    lio.save(obj, tmp_path / "x.st")
    out = lio.load(tmp_path / "x.st", as_numpy=True)
    assert isinstance(out["t"], np.ndarray)
    np.testing.assert_array_equal(out["t"], base.T)
    np.testing.assert_array_equal(out["s"], base[:, ::2])
    assert out["a.b"].tolist() == [1.0] and out["a"]["b"].tolist() == [0.0]
    out["t"][0, 0] = 99.0  # loaded arrays are writable (optimizers update in place)


def test_root_tensor_and_big_endian(tmp_path):
    lio.save(lamina.arange(4), tmp_path / "t.st")
    assert lio.load(tmp_path / "t.st").tolist() == [0, 1, 2, 3]
    be = np.arange(3, dtype=">f4")
    lio.save([be], tmp_path / "be.st")
    assert lio.load(tmp_path / "be.st", as_numpy=True)[0].tolist() == [0.0, 1.0, 2.0]


def test_unsavable_values_raise_type_error(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save a object at 'a\.b'"):
        lio.save({"a": {"b": object()}}, tmp_path / "x.st")
    with pytest.raises(TypeError, match="complex128"):
        lio.save({"c": np.zeros(2, np.complex128)}, tmp_path / "x.st")
    with pytest.raises(TypeError, match="dict key"):
        lio.save({lamina.zeros(1): 1}, tmp_path / "x.st")
    with pytest.raises(TypeError, match="metadata"):
        lio.save({}, tmp_path / "x.st", metadata={"k": 1})
    assert not (tmp_path / "x.st").exists()


def test_user_metadata_and_read_metadata(tmp_path):
    lio.save({"w": np.ones(2)}, tmp_path / "m.st", metadata={"author": "me"})
    meta = lio.read_metadata(tmp_path / "m.st")
    assert meta["author"] == "me" and meta["lamina.format"] == "1"
    assert set(json.loads(meta["lamina.crc32"])["tensors"]) == {"w"}


def test_empty_structures(tmp_path):
    for obj in ({}, [], {"a": {}}, {"x": None}):
        lio.save(obj, tmp_path / "e.st")
        assert lio.load(tmp_path / "e.st") == obj
