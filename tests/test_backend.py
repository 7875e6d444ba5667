"""Backend: dtypes and the promotion policy, devices, array modules and random generators."""
import json

import numpy as np
import pytest

import lamina
from lamina import backend
from helpers import requires_torch, torch

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_dtype_names_and_aliases():
    assert lamina.float32 == np.float32 and lamina.float64 is lamina.double and lamina.int64 is lamina.long
    assert lamina.float16 is lamina.half and lamina.int16 is lamina.short and lamina.bool_ == np.bool_
    assert backend.as_dtype(None) is None
    assert backend.as_dtype(float) == lamina.float32 and backend.as_dtype(int) == lamina.int64
    assert backend.as_dtype(bool) == lamina.bool_ and backend.as_dtype("int32") == lamina.int32
    assert backend.as_dtype(np.float64) == lamina.float64
    with pytest.raises(TypeError, match="unknown dtype"):
        backend.as_dtype("not-a-dtype")
    assert backend.is_floating(lamina.float16) and not backend.is_floating(lamina.int32)


def test_default_dtype():
    assert lamina.get_default_dtype() == lamina.float32
    lamina.set_default_dtype(lamina.float64)
    assert backend.as_dtype(float) == lamina.float64
    lamina.set_default_dtype("float32")
    with pytest.raises(TypeError, match="floating"):
        lamina.set_default_dtype(lamina.int64)


@requires_torch
def test_promote_types_matches_torch():
    bad = []
    for a in DTYPES:
        for b in DTYPES:
            want = torch.promote_types(getattr(torch, a), getattr(torch, b))
            got = backend.promote_types(a, b)
            if str(got) != str(want).replace("torch.", ""):
                bad.append(f"{a}, {b}: lamina {got}, torch {want}")
    assert not bad, "\n".join(bad)


def test_result_dtype_zero_dim_rules():
    f16, f32, f64, i32, i64, b = (np.dtype(n) for n in ("float16", "float32", "float64", "int32", "int64", "bool"))
    assert backend.result_dtype(f32, f64) == f64
    assert backend.result_dtype(f32, f64, False, True) == f32  # a 0-d tensor of the same category doesn't widen
    assert backend.result_dtype(f64, f16, True, False) == f16
    assert backend.result_dtype(i32, i64, False, True) == i32
    assert backend.result_dtype(i64, f64, False, True) == f64  # ... but a higher category does
    assert backend.result_dtype(b, i32, False, True) == i32
    assert backend.promote_types(i64, f16) == f16  # any float beats any int (NumPy would say float64)


def test_result_type_with_scalars():
    from lamina.ops.elementwise import result_type

    assert result_type(lamina.ones(2), 2.5) == lamina.float32
    assert result_type(lamina.tensor([1, 2]), 2.5) == lamina.float32
    assert result_type(lamina.tensor([True]), 3) == lamina.int64
    assert result_type(2, lamina.tensor([1], dtype=lamina.int32)) == lamina.int32


def test_devices():
    cpu = lamina.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and str(cpu) == "cpu"
    assert repr(cpu) == "device(type='cpu')" and cpu == "cpu" and cpu == backend.Device(cpu)
    assert cpu != "nonsense" and hash(cpu) == hash(backend.Device("cpu"))
    with pytest.raises(ValueError, match="unknown device"):
        lamina.device("tpu")
    if not lamina.cuda_available():
        assert lamina.cuda_available() is False
        if backend._cupy is None:
            with pytest.raises(RuntimeError, match="CuPy"):
                lamina.device("cuda")


def test_array_module_and_device_of_numpy_arrays():
    a = np.ones(3)
    assert backend.array_module(a) is np and backend.device_of(a) == "cpu"
    assert backend.to_device(a, backend.cpu) is a
    assert lamina.ones(2).xp is np and backend.cpu.xp is np


def test_generator_seeding_and_state():
    g = backend.Generator()
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    first = g.numpy.random(3)
    g.manual_seed(3)
    np.testing.assert_array_equal(g.numpy.random(3), first)
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    state = g.get_state()
    assert json.loads(json.dumps(state)) == state
    x = g.numpy.standard_normal(4)
    assert g.set_state(state) is g
    np.testing.assert_array_equal(g.numpy.standard_normal(4), x)
    with pytest.raises(ValueError, match="get_state"):
        g.set_state({"nope": 1})


def test_manual_seed_range_and_negative_seeds():
    assert lamina.manual_seed(-1).initial_seed() == 0xFFFF_FFFF_FFFF_FFFF - 1  # as torch
    assert lamina.manual_seed(2**64 - 1).initial_seed() == 2**64 - 1
    with pytest.raises(RuntimeError, match="seed"):
        lamina.manual_seed(2**64)
    with pytest.raises(RuntimeError, match="seed"):
        lamina.manual_seed(-(2**63) - 1)
    lamina.manual_seed(7)
    a = lamina.rand(3).tolist()
    lamina.manual_seed(np.int64(7))
    assert lamina.rand(3).tolist() == a


def test_default_generator_functions():
    lamina.manual_seed(11)
    assert lamina.initial_seed() == 11
    st = lamina.get_rng_state()
    a = backend.rng(None).random(2)
    lamina.set_rng_state(st)
    np.testing.assert_array_equal(backend.rng(None).random(2), a)
    g = lamina.Generator().manual_seed(11)
    assert backend.rng(g) is g.numpy
