"""Loading weights exported from PyTorch with safetensors.torch.save_file."""
import numpy as np
import pytest

import lamina.io as lio

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")


@pytest.fixture
def exported(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3),
                              torch.nn.BatchNorm1d(3))
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    path = tmp_path / "torch_model.safetensors"
    st_torch.save_file(sd, str(path))
    return path, sd


def test_load_state_dict_from_torch_export(exported):
    path, sd = exported
    out = lio.load_state_dict_from(path)
    assert set(out) == set(sd)
    for k, v in sd.items():
        assert out[k].shape == tuple(v.shape)
        assert out[k].dtype == np.dtype(str(v.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(out[k].numpy(), v.numpy())
    assert out["3.num_batches_tracked"].dtype == np.int64
    plain = lio.load(path)  # lamina.io.load reads any safetensors file as a flat dict
    assert set(plain) == set(sd)


def test_key_map_dict_and_callable(exported):
    path, sd = exported
    out = lio.load_state_dict_from(path, key_map={"0.weight": "fc1.weight", "0.bias": "fc1.bias"})
    assert "fc1.weight" in out and "0.weight" not in out and "2.weight" in out
    out = lio.load_state_dict_from(path, key_map=lambda k: None if "running" in k else "net." + k)
    assert set(out) == {"net." + k for k in sd if "running" not in k}
    arrays = lio.load_state_dict_from(path, as_numpy=True)
    assert isinstance(arrays["0.weight"], np.ndarray)
    with pytest.raises(ValueError, match="maps both"):
        lio.load_state_dict_from(path, key_map=lambda k: "same")
    with pytest.raises(TypeError, match="key_map"):
        lio.load_state_dict_from(path, key_map=3)


def test_bfloat16_is_widened_to_float32(tmp_path):
    w = torch.randn(3, 5).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    st_torch.save_file({"w": w, "i": torch.arange(3)}, str(path))
    out = lio.load_state_dict_from(path)
    assert out["w"].dtype == np.float32
    np.testing.assert_array_equal(out["w"].numpy(), w.float().numpy())
    assert out["i"].tolist() == [0, 1, 2]


def test_torch_reads_lamina_state_dict(tmp_path):
    import lamina

    sd = {"weight": lamina.randn(3, 2), "bias": lamina.zeros(3)}
    lio.save(sd, tmp_path / "lam.safetensors")
    back = st_torch.load_file(str(tmp_path / "lam.safetensors"))
    lin = torch.nn.Linear(2, 3)
    lin.load_state_dict(back)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), sd["weight"].numpy())
