"""The report shows one set of test numbers (and never a stale plot), `lamina generate` samples from a
language-model run, and every config the help texts name exists."""
from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pytest

from conftest import CONFIGS, SMALL, run_quiet

import lamina
from lamina.cli import config
from lamina.cli.main import COMMANDS, _command_modules


def one_error_line(r) -> str:
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lamina: error: ") and "Traceback" not in r.err, r.err
    return lines[0]


# ---------------------------------------------------------------- 6. one test accuracy per report
@pytest.fixture(scope="module")
def best_is_not_last(tmp_path_factory):
    """A run whose best checkpoint (highest training loss: epoch 1) differs from its last weights,
    tested with the last weights (final_weights = "last")."""
    pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("rep")
    cfg = tmp / "c.toml"
    cfg.write_text(SMALL.replace("epochs = 2", 'epochs = 3\nfinal_weights = "last"')
                   + '\n[callbacks]\ncheckpoint = {monitor = "loss", mode = "max"}\n')
    code, _, err = run_quiet("train", cfg, "--run-dir", tmp / "run", "-q")
    assert code == 0, err
    return tmp / "run"


def test_confusion_matrix_uses_the_weights_of_the_test_metrics(best_is_not_last):
    from lamina.report import confusion_matrix
    stored = json.loads((best_is_not_last / "test_metrics.json").read_text())
    assert stored["weights"] == "last"
    cm, _, note = confusion_matrix(str(best_is_not_last))
    assert "last weights" in note
    assert np.trace(cm) / cm.sum() == pytest.approx(stored["metrics"]["accuracy"], abs=1e-12)


def test_report_page_shows_one_test_accuracy(cli, best_is_not_last):
    r = cli("report", best_is_not_last, "-q")
    assert r.code == 0, r
    html = (best_is_not_last / "report" / "index.html").read_text()
    acc = json.loads((best_is_not_last / "test_metrics.json").read_text())["metrics"]["accuracy"]
    assert f"{acc:.4f}" in html and "test split, last weights" in html
    assert "the last weights on the test split" in html


def test_a_confusion_matrix_that_cannot_be_redrawn_is_removed(cli, best_is_not_last, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(best_is_not_last, run)
    assert cli("report", run, "-q").code == 0
    assert (run / "report" / "confusion_matrix.png").exists()
    (run / "checkpoints" / "last.safetensors").write_bytes(b"broken")   # the weights can't be read now
    r = cli("report", run)
    assert r.code == 0, r
    assert "no confusion matrix" in r.out
    assert not (run / "report" / "confusion_matrix.png").exists()       # no stale picture
    assert "confusion_matrix.png" not in (run / "report" / "index.html").read_text()


def test_lr_plot_keeps_an_epoch_whose_lr_is_zero(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from lamina.report import plots
    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    history = {"epoch": [1.0, 2.0, 3.0, 4.0], "lr": [1e-2, 5e-3, 1e-4, 0.0]}   # a cosine run's last epoch
    assert plots.plot_lr(history, str(tmp_path / "lr.png")) is not None
    ax = figs[0].axes[0]
    assert ax.get_yscale() != "log"                      # log would drop lr 0
    lo, hi = ax.get_ylim()
    assert lo <= 0.0 <= hi and hi >= 1e-2
    x, y = ax.lines[0].get_data()
    assert list(x) == [1.0, 2.0, 3.0, 4.0] and y[-1] == 0.0


# ---------------------------------------------------------------- 8. configs the help texts name exist
def test_every_config_named_in_help_exists():
    import lamina.tune.study
    texts = [getattr(m, "DESCRIPTION", "") for m in _command_modules().values()]
    texts.append(lamina.tune.study.__doc__)
    named = set()
    for text in texts:
        named |= set(re.findall(r"configs/[\w.-]+\.toml", text))
    assert "configs/mlp_digits_tune.toml" in named
    for path in named:
        assert os.path.isfile(os.path.join(CONFIGS, os.path.basename(path))), path


def test_the_tune_config_is_a_valid_search():
    pytest.importorskip("optuna")
    from lamina.tune import parse_tune
    from lamina.tune.study import validate_space
    spec, base = parse_tune(config.load_config(os.path.join(CONFIGS, "mlp_digits_tune.toml")))
    cfg = validate_space(base, spec)
    assert spec.metric == "val_accuracy" and cfg["data"]["name"] == "digits"


# ---------------------------------------------------------------- 10. lamina generate
@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("lm") / "gpt"
    code, _, err = run_quiet("train", os.path.join(CONFIGS, "gpt_char.toml"), "--run-dir", run_dir,
                             "--set", "data.max_chars=8000", "--set", "train.epochs=1", "--set", "model.n_layer=1",
                             "--set", "model.n_embd=32", "--set", "data.block_size=32", "-q")
    assert code == 0, err
    return run_dir


def test_generate_samples_text_from_a_language_model_run(cli, lm_run):
    assert "generate" in COMMANDS
    args = ("generate", lm_run, "--prompt", "Return the", "--max-new-tokens", "40", "--temperature", "0.8",
            "--top-k", "10", "--top-p", "0.95", "--seed", "3", "--json")
    r = cli(*args)
    assert r.code == 0, r
    out = json.loads(r.out)
    assert out["text"] == "Return the" + out["completion"] and len(out["completion"]) == 40
    tok = lamina.models.gpt_data.CharTokenizer.load(str(lm_run / "tokenizer.json"))
    assert set(out["completion"]) <= set(tok.itos)
    assert json.loads(cli(*args).out)["completion"] == out["completion"]        # a seed repeats exactly
    # greedy decoding through the CLI is the model's own greedy generate (with the KV cache)
    r = cli("generate", lm_run, "--prompt", "def ", "--max-new-tokens", "30", "--temperature", "0")
    assert r.code == 0, r
    from lamina.cli.rundir import load_run
    loaded = load_run(str(lm_run))
    ids = tok.encode("def ")[None]
    want = tok.decode(loaded.model.generate(ids, 30, temperature=0.0).numpy()[0])
    assert r.out == want + "\n"


def test_generate_needs_a_language_model_and_good_arguments(cli, lm_run, small_run):
    r = cli("generate", small_run, "--prompt", "x")
    assert r.code == 2 and "not a language model" in one_error_line(r)
    for bad, what in ((["--top-p", "1.5"], "--top-p"), (["--temperature", "-1"], "--temperature"),
                      (["--top-k", "0"], "--top-k"), (["--max-new-tokens", "-2"], "--max-new-tokens"),
                      (["--prompt", ""], "--prompt")):
        r = cli("generate", lm_run, *bad)
        assert r.code == 2 and what in one_error_line(r), (bad, r)
    r = cli("generate", lm_run, "--prompt", "\u00e9t\u00e9")
    assert r.code == 2 and "not in the vocabulary" in one_error_line(r)


def test_predict_on_a_language_model_points_to_generate(cli, lm_run, tmp_path):
    (tmp_path / "p.txt").write_text("Return the")
    r = cli("predict", lm_run, tmp_path / "p.txt")
    assert r.code == 2 and "lamina generate RUN" in one_error_line(r)
