"""Bad configs and arguments: exit code 2, one line on stderr naming the mistake, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import SMALL

from lamina.cli import config as C
from lamina.cli.errors import ConfigError


def replace(old: str, new: str) -> str:
    assert old in SMALL, old
    return SMALL.replace(old, new)


# text data: a character-level GPT and a BERT classifier (validation fails before any data is read)
CHAR_LM = """
[model]
name = "gpt"
n_layer = 1
[data]
name = "char_lm"
max_chars = 20000
block_size = 32
[train]
epochs = 1
"""
TEXT = """
[model]
name = "bert_classifier"
[data]
name = "text_classification"
max_length = 32
[train]
epochs = 1
"""


def text_case(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new)


# (case id, config text, extra arguments, what the one line must say)
CASES = [
    ("unknown_section", SMALL + "\n[trian]\nepochs = 3\n", [], ["unknown section [trian]", "did you mean [train]"]),
    ("key_typo", replace("epochs = 2", "epoch = 2"), [], ["train: unknown key 'epoch'", "did you mean train.epochs"]),
    ("wrong_type", replace("epochs = 2", 'epochs = "ten"'), [],
     ["train.epochs must be a positive integer, got 'ten'"]),
    ("negative_epochs", replace("epochs = 2", "epochs = -3"), [], ["train.epochs must be a positive integer, got -3"]),
    ("zero_lr", replace("lr = 0.01", "lr = 0"), [], ["optimizer.lr must be a positive number, got 0"]),
    ("negative_lr", replace("lr = 0.01", "lr = -1e-3"), [], ["optimizer.lr must be a positive number"]),
    ("unknown_model", replace('name = "mlp"', 'name = "resnt8"'), [], ["model.name: unknown model 'resnt8'",
                                                                        "did you mean 'resnet8'", "mlp"]),
    ("model_option_typo", replace("hidden_sizes = [16]", "hidden_size = [16]"), [],
     ["unknown key 'hidden_size'", "did you mean 'hidden_sizes'"]),
    ("unknown_optimizer", replace('name = "adam"', 'name = "adamm"'), [],
     ["optimizer.name: unknown optimizer 'adamm'", "did you mean 'adam'", "sgd"]),
    ("optimizer_option_typo", replace('name = "adam"', 'name = "sgd"\nmomentun = 0.9'), [],
     ["optimizer: unknown key 'momentun'", "did you mean 'momentum'"]),
    ("optimizer_bad_value", replace('lr = 0.01', 'lr = 0.01\nbetas = [0.9, 1.5]'), [], ["optimizer:", "beta"]),
    ("unknown_dataset", replace('name = "digits"', 'name = "digit"'), [],
     ["data.name: unknown dataset 'digit'", "did you mean 'digits'", "mnist1d"]),
    ("missing_data_file", replace('name = "digits"', 'name = "csv"\npath = "nowhere/train.csv"'), [],
     ["data.path: file not found:", os.path.join("nowhere", "train.csv")]),
    ("missing_mnist_files", replace('name = "digits"', 'name = "mnist"\nroot = "no_data_here"'), [],
     ["data.root: mnist files not found", "no_data_here", "download"]),
    ("fraction_out_of_range", replace("standardize = true", "standardize = true\nval_fraction = 1.5"), [],
     ["data.val_fraction must be a number in [0, 1), got 1.5"]),
    ("fractions_sum", replace("standardize = true", "standardize = true\nval_fraction = 0.5\ntest_fraction = 0.5"),
     [], ["val_fraction + data.test_fraction must be below 1"]),
    ("key_for_other_dataset", replace("standardize = true", 'standardize = true\npath = "x.csv"'), [],
     ["data.path is not used by the digits dataset"]),
    ("unknown_metric", replace('names = ["accuracy"]', 'names = ["acuracy"]'), [],
     ["metrics.names[0]: unknown metric 'acuracy'", "did you mean 'accuracy'"]),
    ("unknown_layer_type", replace('name = "mlp"\nhidden_sizes = [16]',
                                   'layers = [{type = "Lineer", in_features = 64, out_features = 10}]'), [],
     ["model.layers[0].type: unknown layer type 'Lineer'", "did you mean 'Linear'"]),
    ("layer_missing_argument", replace('name = "mlp"\nhidden_sizes = [16]',
                                       'layers = [{type = "Linear", in_features = 64}]'), [],
     ["model.layers[0] (Linear): missing required key 'out_features'"]),
    ("layers_do_not_fit_data", replace('name = "mlp"\nhidden_sizes = [16]',
                                       'layers = [{type = "Linear", in_features = 63, out_features = 10}]'), [],
     ["model does not fit the data"]),
    ("wrong_output_width", replace('name = "mlp"\nhidden_sizes = [16]',
                                   'layers = [{type = "Linear", in_features = 64, out_features = 7}]'), [],
     ["output has shape", "10 classes"]),
    ("model_name_and_layers", replace('hidden_sizes = [16]', 'layers = [{type = "ReLU"}]'), [], ["not both"]),
    ("unknown_callback", SMALL + "\n[callbacks]\nearly_stoping = {patience = 2}\n", [],
     ["callbacks: unknown callback 'early_stoping'", "did you mean 'early_stopping'"]),
    ("callback_option_typo", SMALL + "\n[callbacks]\nearly_stopping = {patiense = 2}\n", [],
     ["callbacks.early_stopping: unknown key 'patiense'", "did you mean 'patience'"]),
    ("unknown_scheduler", SMALL + '\n[scheduler]\nname = "cosin"\n', [],
     ["scheduler.name: unknown scheduler 'cosin'", "did you mean 'cosine'"]),
    ("scheduler_missing_argument", SMALL + '\n[scheduler]\nname = "step"\n', [],
     ["scheduler: missing required key 'step_size'"]),
    ("unknown_transform", replace("standardize = true", "standardize = true\nas_images = true").replace(
        'name = "mlp"', 'name = "mlp"') + '\n[[transforms]]\ntype = "RandomFlip"\n', [],
     ["transforms[0].type: unknown transform 'RandomFlip'", "RandomHorizontalFlip"]),
    ("transform_needs_images", SMALL + '\n[[transforms]]\ntype = "RandomHorizontalFlip"\n', [],
     ["transforms: image augmentation needs image data"]),
    ("bad_choice", replace("epochs = 2", 'epochs = 2\nnonfinite = "skipp"'), [],
     ["train.nonfinite must be one of 'raise', 'skip', got 'skipp'", "did you mean 'skip'"]),
    ("bad_toml", SMALL + "\n[train\nepochs = 3\n", [], ["invalid TOML"]),
    ("set_without_equals", SMALL, ["--set", "train.epochs"], ["--set expects KEY=VALUE", "'train.epochs'"]),
    ("set_empty_key", SMALL, ["--set", "=5"], ["--set expects KEY=VALUE"]),
    ("set_bad_value", SMALL, ["--set", "train.epochs=[1,"], ["--set train.epochs:", "not a valid TOML value"]),
    ("set_wrong_type", SMALL, ["--set", "train.epochs=1.5"], ["train.epochs must be a positive integer, got 1.5"]),
    ("set_into_scalar", SMALL, ["--set", "train.epochs.x=1"], ["--set train.epochs.x: train.epochs is not a table"]),
    ("bad_device", replace("epochs = 2", 'epochs = 2\ndevice = "tpu"'), [], ["train.device"]),
    # text data
    ("char_lm_key_typo", text_case(CHAR_LM, "block_size = 32", "blok_size = 32"), [],
     ["data: unknown key 'blok_size'", "did you mean data.block_size"]),
    ("char_lm_block_size_zero", text_case(CHAR_LM, "block_size = 32", "block_size = 0"), [],
     ["data.block_size must be a positive integer, got 0"]),
    ("char_lm_vocab_choice", text_case(CHAR_LM, "block_size = 32", 'block_size = 32\nvocab = "asci"'), [],
     ["data.vocab must be one of 'text', 'ascii', got 'asci'", "did you mean 'ascii'"]),
    ("char_lm_stride_too_big", text_case(CHAR_LM, "block_size = 32", "block_size = 32\nstride = 40"), [],
     ["data.stride (40) must be at most data.block_size (32)"]),
    ("char_lm_missing_text_file", text_case(CHAR_LM, "block_size = 32", 'block_size = 32\npath = "no/book.txt"'),
     [], ["data.path: text file not found:", os.path.join("no", "book.txt")]),
    ("char_lm_key_of_array_data", text_case(CHAR_LM, "block_size = 32", "block_size = 32\nstandardize = true"), [],
     ["data.standardize is not used by the char_lm dataset", "digits"]),
    ("char_lm_array_key_on_text", text_case(CHAR_LM, "block_size = 32", "block_size = 32\nmax_length = 8"), [],
     ["data.max_length is not used by the char_lm dataset (it is for: text_classification)"]),
    ("char_lm_regression_loss", CHAR_LM + '\n[loss]\nname = "mse"\n', [],
     ["loss.name: a language model", "cross_entropy", "'mse'"]),
    ("char_lm_regression_metric", CHAR_LM + '\n[metrics]\nnames = ["mae"]\n', [],
     ["metrics.names[0]: 'mae' is a regression metric"]),
    ("char_lm_transforms", CHAR_LM + '\n[[transforms]]\ntype = "RandomHorizontalFlip"\n', [],
     ["transforms:", "the char_lm dataset holds text"]),
    ("char_lm_model_option_typo", text_case(CHAR_LM, "n_layer = 1", "n_layers = 1"), [],
     ["model (gpt): unknown key 'n_layers'", "did you mean 'n_layer'"]),
    ("text_max_length_negative", text_case(TEXT, "max_length = 32", "max_length = -1"), [],
     ["data.max_length must be a positive integer, got -1"]),
    ("text_missing_csv", text_case(TEXT, "max_length = 32", 'max_length = 32\npath = "no/texts.csv"'), [],
     ["data.path: CSV file of texts and labels not found:", os.path.join("no", "texts.csv")]),
    ("text_missing_tokenizer", text_case(TEXT, "max_length = 32", 'max_length = 32\ntokenizer = "no/tok.json"'), [],
     ["data.tokenizer: file not found:", os.path.join("no", "tok.json"), "minilm"]),
    ("text_column_type", text_case(TEXT, "max_length = 32", "max_length = 32\ntext_column = 1.5"), [],
     ["data.text_column must be a column name (string) or index (integer), got 1.5"]),
    ("text_model_option_typo", text_case(TEXT, 'name = "bert_classifier"', 'name = "bert_classifier"\nfreeze = true'),
     [], ["model (bert_classifier): unknown key 'freeze'", "freeze_encoder"]),
    ("lr_scale_not_positive", replace('lr = 0.01', 'lr = 0.01\nlr_scale = {"0.*" = 0}'), [],
     ["optimizer.lr_scale['0.*'] must be a positive number, got 0"]),
    ("lr_scale_not_a_table", replace('lr = 0.01', 'lr = 0.01\nlr_scale = 0.5'), [],
     ["optimizer.lr_scale must be a table of parameter-name patterns and factors"]),
    ("lr_scale_matches_nothing", replace('lr = 0.01', 'lr = 0.01\nlr_scale = {"encoder.*" = 0.1}'), [],
     ["optimizer.lr_scale: pattern 'encoder.*' matches no parameter of the model", "0.weight, 0.bias"]),
]


@pytest.mark.parametrize("case, text, extra, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_config_exits_2_with_one_line(cli, write_config, in_tmp, case, text, extra, expected):
    path = write_config(text)
    r = cli("train", path, "--check", *extra)
    assert r.code == 2, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("lamina: error: "), lines[0]
    assert "Traceback" not in r.err
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])
    assert not (in_tmp / "runs").exists()  # nothing was written


def test_missing_config_file(cli, in_tmp):
    r = cli("train", "no_such_config.toml")
    assert r.code == 2
    assert r.err.strip() == "lamina: error: config file not found: no_such_config.toml"


def test_existing_run_directory_needs_resume(cli, write_config, in_tmp):
    path = write_config(SMALL)
    (in_tmp / "runs" / "taken").mkdir(parents=True)
    (in_tmp / "runs" / "taken" / "config.toml").write_text("")
    r = cli("train", path, "--run-dir", in_tmp / "runs" / "taken")
    assert r.code == 2 and "already exists" in r.err and "--resume" in r.err


@pytest.mark.parametrize("args, expected", [
    (["evaluate", "no_such_run"], "run directory or checkpoint not found: no_such_run"),
    (["predict", "no_such_run", "x.npy"], "run directory or checkpoint not found: no_such_run"),
])
def test_missing_run(cli, in_tmp, args, expected):
    r = cli(*args)
    assert r.code == 2 and r.err.strip() == f"lamina: error: {expected}"


def test_usage_error_is_exit_2(cli):
    r = cli("train")  # CONFIG missing: argparse's usage error
    assert r.code == 2 and "CONFIG" in r.err
    r = cli("no-such-command")
    assert r.code == 2 and "invalid choice" in r.err


def test_subprocess_error_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace("epochs = 2", "epochs = -3"))
    proc = subprocess.run([sys.executable, "-m", "lamina", "train", str(bad)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "lamina: error: train.epochs must be a positive integer, got -3\n"


# ---------------------------------------------------------------- the config module itself
def test_apply_overrides_parses_toml_values():
    cfg = C.apply_overrides({"train": {"epochs": 3}}, ["train.epochs=5", "optimizer.name=sgd",
                                                       "model.hidden_sizes=[8, 8]", "data.standardize=true",
                                                       'run.name="a b"', "callbacks.early_stopping.patience=2"])
    assert cfg == {"train": {"epochs": 5}, "optimizer": {"name": "sgd"}, "model": {"hidden_sizes": [8, 8]},
                   "data": {"standardize": True}, "run": {"name": "a b"},
                   "callbacks": {"early_stopping": {"patience": 2}}}


def test_validate_fills_defaults_and_keeps_only_relevant_data_keys():
    cfg = C.validate({"model": {"name": "mlp"}, "data": {"name": "digits"}})
    assert cfg["train"]["epochs"] == 10 and cfg["optimizer"] == {"name": "adam", "lr": 1e-3}
    assert cfg["loss"] == {"name": "cross_entropy"} and cfg["metrics"]["names"] == ["accuracy"]
    assert "path" not in cfg["data"] and "root" not in cfg["data"]
    with pytest.raises(ConfigError, match="positive integer"):
        C.validate({"model": {"name": "mlp"}, "data": {"name": "digits"}, "train": {"epochs": 0}})


def test_field_messages():
    assert C.Field("int", lo=0, lo_open=True).describe() == "a positive integer"
    assert C.Field("float", lo=0, hi=1, hi_open=True).describe() == "a number in [0, 1)"
    with pytest.raises(ConfigError, match=r"x must be a boolean \(true or false\), got 1"):
        C.Field("bool").check(1, "x")
    with pytest.raises(ConfigError, match="x must be a non-negative integer, got True"):
        C.Field("int", lo=0).check(True, "x")


def test_runtime_failure_is_exit_1_with_one_line(cli, write_config, tmp_path):
    # a learning rate that makes the loss overflow: a failure while running, not bad input
    rows = "\n".join(f"{i * 1e3},{i % 2}" for i in range(40))
    (tmp_path / "big.csv").write_text("x,label\n" + rows + "\n")
    cfg = write_config(f"""
        [model]
        layers = [{{type = "Linear", in_features = 1, out_features = 2}}]
        [data]
        name = "csv"
        path = "{tmp_path / 'big.csv'}"
        batch_size = 4
        [optimizer]
        name = "sgd"
        lr = 1e30
        [train]
        epochs = 1
    """)
    r = cli("train", cfg, "--run-dir", tmp_path / "run", "-q")
    assert r.code == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lamina: error: RuntimeError: Trainer: the loss is "), lines
    assert "internal failure" in lines[0] and "Traceback" not in r.err


def test_traceback_flag_shows_the_error(write_config):
    path = write_config(SMALL.replace("epochs = 2", "epochs = -3"))
    with pytest.raises(ConfigError, match="train.epochs must be a positive integer"):
        from lamina.cli.main import main
        main(["--traceback", "train", path])


def test_scheduler_interval_defaults():
    base = {"model": {"name": "mlp"}, "data": {"name": "digits"}}
    assert C.validate({**base, "scheduler": {"name": "onecycle"}})["scheduler"]["interval"] == "step"
    assert C.validate({**base, "scheduler": {"name": "cosine"}})["scheduler"]["interval"] == "epoch"
    with pytest.raises(ConfigError, match="scheduler.interval must be one of 'epoch', 'step', got 'batch'"):
        C.validate({**base, "scheduler": {"name": "cosine", "interval": "batch"}})
