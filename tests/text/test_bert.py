"""BertModel: Hugging Face names and checkpoints, parity with transformers.BertModel, errors."""
import importlib.util
import json
import warnings

import numpy as np
import pytest
from text_common import minilm_dir
from safetensors.numpy import save_file

import lamina
from lamina.io import load_state_dict_from
from lamina.models.bert import BertConfig, BertModel, bert_key_map

SMALL = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=24, type_vocab_size=2)


def small(**kw) -> BertModel:
    pool = kw.pop("add_pooling_layer", True)
    return BertModel(BertConfig(**{**SMALL, **kw}), add_pooling_layer=pool)


def batch(seed=0, B=3, L=11):
    r = np.random.default_rng(seed)
    ids = r.integers(1, SMALL["vocab_size"], (B, L))
    lengths = np.array([L, 7, 2][:B])
    mask = (np.arange(L)[None] < lengths[:, None]).astype(np.int64)
    types = (np.arange(L)[None] >= lengths[:, None] // 2).astype(np.int64) * mask
    return ids * mask, mask, types


def save_dir(tmp_path, state: dict, config: dict):
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    return tmp_path


# ---------------------------------------------------------------- names and shapes
HF_LAYER_KEYS = ["attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
                 "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
                 "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
                 "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
                 "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"]


def test_state_dict_names_are_hugging_faces():
    sd = small().state_dict()
    expected = {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias",
                "pooler.dense.weight", "pooler.dense.bias"}
    expected |= {f"encoder.layer.{i}.{k}" for i in range(2) for k in HF_LAYER_KEYS}
    assert set(sd) == expected
    assert sd["encoder.layer.1.intermediate.dense.weight"].shape == (37, 32)        # (out, in) as torch
    assert "pooler.dense.weight" not in small(add_pooling_layer=False).state_dict()


def test_hf_init():
    m = small(initializer_range=0.05)
    w = m.encoder.layer[0].attention.self.query.weight.array
    assert abs(w.std() - 0.05) < 0.01 and np.all(m.encoder.layer[0].attention.self.query.bias.array == 0)
    assert np.all(m.embeddings.word_embeddings.weight.array[0] == 0)                # padding row
    assert np.all(m.embeddings.LayerNorm.weight.array == 1)


def test_minilm_checkpoint_loads_strictly_by_name():
    d = minilm_dir()
    model = BertModel(BertConfig.from_json_file(d / "config.json"))
    sd = load_state_dict_from(d / "model.safetensors")
    assert "embeddings.position_ids" in sd                     # the old constant buffer is in the file ...
    result = model.load_state_dict(sd)                         # ... and strict loading tolerates it
    assert result.missing_keys == [] and result.unexpected_keys == []
    mine = model.state_dict()
    assert set(mine) == set(sd) - {"embeddings.position_ids"}
    for k, v in mine.items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy(), err_msg=k)
    c = model.config
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size, c.layer_norm_eps) == \
        (384, 6, 12, 1536, 1e-12)


def test_task_checkpoint_prefix_heads_and_tf_names(tmp_path):
    src = small()
    state = {}
    for k, v in src.state_dict().items():
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        state["bert." + k] = v.numpy()
    state["bert.embeddings.position_ids"] = np.arange(24)[None]
    state["cls.predictions.bias"] = np.zeros(99, np.float32)
    state["classifier.weight"] = np.zeros((2, 32), np.float32)
    model = BertModel.from_pretrained(save_dir(tmp_path, state, SMALL))
    assert not model.training
    ids, mask, types = batch()
    src.eval()
    a, b = src(ids, mask, types), model(ids, mask, types)
    np.testing.assert_array_equal(a.last_hidden_state.array, b.last_hidden_state.array)
    np.testing.assert_array_equal(a.pooler_output.array, b.pooler_output.array)
    assert bert_key_map("bert.encoder.layer.0.output.LayerNorm.gamma") == "encoder.layer.0.output.LayerNorm.weight"
    assert bert_key_map("cls.predictions.decoder.weight") is None


def test_missing_pooler_warns_and_keeps_init(tmp_path):
    state = {k: v.numpy() for k, v in small().state_dict().items() if not k.startswith("pooler.")}
    with pytest.warns(UserWarning, match="no pooler weights"):
        model = BertModel.from_pretrained(save_dir(tmp_path, state, SMALL))
    assert model.pooler is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert BertModel.from_pretrained(tmp_path, add_pooling_layer=False).pooler is None


def test_checkpoint_errors(tmp_path):
    state = {k: v.numpy() for k, v in small().state_dict().items()}
    bad = dict(state)
    bad["encoder.layer.0.attention.self.rotary"] = np.zeros(3, np.float32)
    with pytest.raises(RuntimeError, match="Unexpected key.*rotary"):
        BertModel.from_pretrained(save_dir(tmp_path, bad, SMALL))
    del state["encoder.layer.1.output.dense.bias"]
    with pytest.raises(RuntimeError, match="Missing key.*encoder.layer.1.output.dense.bias"):
        BertModel.from_pretrained(save_dir(tmp_path, state, SMALL))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes(b"PK\x03\x04")
    with pytest.raises(FileNotFoundError, match="never loads"):
        BertModel.from_pretrained(pickled)
    with pytest.raises(FileNotFoundError, match="no such directory"):
        BertModel.from_pretrained(tmp_path / "nope")
    (tmp_path / "config.json").write_text(json.dumps({**SMALL, "model_type": "roberta"}))
    with pytest.raises(ValueError, match="'roberta' model, not 'bert'"):
        BertModel.from_pretrained(tmp_path)


# ---------------------------------------------------------------- config
def test_config_from_hugging_face_dict_and_errors():
    cfg = BertConfig.from_dict({**SMALL, "architectures": ["BertModel"], "use_cache": True, "hidden_act": "gelu_new"})
    assert cfg.hidden_size == 32 and cfg.hidden_act == "gelu_new"
    with pytest.raises(ValueError, match="multiple of num_attention_heads"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="did you mean 'gelu'"):
        BertConfig(hidden_act="gelu_x")
    with pytest.raises(ValueError, match="num_hidden_layers must be a positive int"):
        BertConfig(num_hidden_layers=0)
    with pytest.raises(NotImplementedError, match="relative_key"):
        BertConfig.from_dict({"position_embedding_type": "relative_key"})
    with pytest.raises(TypeError, match="BertConfig or a dict"):
        BertModel("bert-base")


def test_registry_and_config_round_trip():
    from lamina.models import create_model, list_models

    assert "bert" in list_models()
    m = create_model("bert", **SMALL, add_pooling_layer=False)
    assert isinstance(m, BertModel) and m.pooler is None
    again = BertModel.from_config(m.get_config())
    assert again.get_config() == m.get_config()
    with pytest.raises(ValueError, match="did you mean 'hidden_size'"):
        create_model("bert", hidden_sizes=64)


# ---------------------------------------------------------------- forward behaviour
def test_padding_does_not_change_real_tokens():
    m = small().eval()
    ids, mask, types = batch()
    full = m(ids, mask, types).last_hidden_state.array
    for row in range(3):
        n = int(mask[row].sum())
        alone = m(ids[row:row + 1, :n], None, types[row:row + 1, :n]).last_hidden_state.array
        np.testing.assert_allclose(full[row, :n], alone[0], atol=2e-5)


def test_dropout_only_in_training_and_seeded():
    m = small()
    ids, mask, types = batch()
    m.train()
    lamina.manual_seed(3)
    a = m(ids, mask).last_hidden_state.array
    lamina.manual_seed(3)
    b = m(ids, mask).last_hidden_state.array
    c = m(ids, mask).last_hidden_state.array
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    m.eval()
    np.testing.assert_array_equal(m(ids, mask).last_hidden_state.array, m(ids, mask).last_hidden_state.array)


def test_every_parameter_gets_a_gradient():
    m = small().train()
    ids, mask, types = batch()
    out = m(lamina.tensor(ids), lamina.tensor(mask), lamina.tensor(types))
    (out.last_hidden_state.square().mean() + out.pooler_output.sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name
        assert np.abs(p.grad.numpy()).max() > 0, name
    assert np.all(m.embeddings.word_embeddings.weight.grad.numpy()[0] == 0)        # padding row stays fixed


def test_input_errors():
    m = small().eval()
    with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
        m(np.ones((1, 25), dtype=np.int64))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 3\), expected \(1, 4\)"):
        m(np.ones((1, 4), dtype=np.int64), np.ones((1, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="input_ids must hold integers"):
        m(np.ones((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="must be 2-D"):
        m(np.ones(4, dtype=np.int64))
    with pytest.raises(IndexError, match="out of range"):
        m(np.full((1, 4), 99, dtype=np.int64))


# ---------------------------------------------------------------- parity with transformers
HAVE_HF = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_HF, reason="torch and transformers are the oracle")
@pytest.mark.parametrize("act", ["gelu", "gelu_new"])
def test_matches_transformers_bert(tmp_path, act, torch_one_thread):
    torch = torch_one_thread
    import transformers
    from safetensors.torch import save_file as save_torch

    torch.manual_seed(0)
    ref = transformers.BertModel(transformers.BertConfig(**SMALL, hidden_act=act)).eval().double()
    save_torch({k: v.float().contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "model.safetensors"))
    ref.config.to_json_file(str(tmp_path / "config.json"))
    ref = transformers.BertModel.from_pretrained(str(tmp_path)).eval().double()
    model = BertModel.from_pretrained(tmp_path).double()

    ids, mask, types = batch()
    r = ref(torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(types))
    out = model(ids, mask, types)
    real = mask.astype(bool)
    np.testing.assert_allclose(out.last_hidden_state.array[real], r.last_hidden_state.detach().numpy()[real],
                               atol=1e-10)
    np.testing.assert_allclose(out.pooler_output.array, r.pooler_output.detach().numpy(), atol=1e-10)

    w = np.random.default_rng(1).standard_normal(out.last_hidden_state.shape) * real[..., None]
    (out.last_hidden_state * lamina.tensor(w)).sum().add(out.pooler_output.sum()).backward()
    ((r.last_hidden_state * torch.tensor(w)).sum() + r.pooler_output.sum()).backward()
    theirs = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), atol=1e-9, err_msg=name)
