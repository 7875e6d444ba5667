"""Generative runs from the command line: autoencoders and VAEs train on digits, resume exactly,
evaluate (ELBO, IWAE-k), draw PNG grids with `lamina sample` and get pictures in `lamina report`."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from conftest import CONFIGS, SMALL, run_quiet

TINY = """
[model]
name = "{model}"
hidden_sizes = [16]
latent_dim = {latent}
{extra}

[data]
name = "digits"
batch_size = 128
limit = 400

[optimizer]
name = "adam"
lr = 0.005

[loss]
name = "{loss}"
{loss_extra}

[train]
epochs = {epochs}

[callbacks]
sample_grid = {{every_n_epochs = 1, n = 16}}
{callbacks}
"""


def tiny(model="vae", latent=3, extra="", loss="elbo", loss_extra="", epochs=2, callbacks=""):
    return TINY.format(model=model, latent=latent, extra=extra, loss=loss, loss_extra=loss_extra, epochs=epochs,
                       callbacks=callbacks)


def train(tmp, text, name, *extra):
    cfg = tmp / f"{name}.toml"
    cfg.write_text(text)
    code, out, err = run_quiet("train", cfg, "--run-dir", tmp / name, "-q", *extra)
    assert code == 0, err
    return tmp / name


def one_error_line(code, err) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("lamina: error: "), (code, err)
    return lines[0]


def png_shape(path) -> tuple:
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg
    return mpimg.imread(str(path)).shape


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny VAE (KL warm-up, TensorBoard on), a conditional VAE and a dense autoencoder, 2 epochs each."""
    tmp = tmp_path_factory.mktemp("gen")
    tb = "tensorboard = true" if _has("tensorboardX") else ""
    return {"vae": train(tmp, tiny(loss_extra="kl_warmup_steps = 4", callbacks=tb), "vae"),
            "cvae": train(tmp, tiny("conditional_vae"), "cvae"),
            "ae": train(tmp, tiny("autoencoder", 2, 'reconstruction = "bce"', "reconstruction"), "ae"),
            "tmp": tmp}


def _has(module) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def _metrics(run):
    from lamina.report.plots import read_metrics
    return read_metrics(str(run / "metrics.csv"))


def test_a_vae_run_logs_the_elbo_its_terms_and_the_warmup(runs):
    h = _metrics(runs["vae"])
    for key in ("loss", "elbo", "kl", "reconstruction", "val_elbo", "kl_beta"):
        assert key in h and len(h[key]) == 2, key
    assert h["kl_beta"][-1] == 1.0                      # 4 warm-up steps < 2 epochs of 4 batches (400 / 128)
    assert h["kl_beta"][0] == pytest.approx(0.75)       # β of epoch 1's last batch: 3 steps done of 4
    np.testing.assert_allclose(h["val_elbo"], -np.asarray(h["val_loss"]), rtol=1e-5)   # β = 1 at validation
    test = json.loads((runs["vae"] / "test_metrics.json").read_text())["metrics"]
    assert test["elbo"] < 0 and test["kl"] >= 0 and test["reconstruction"] > 0
    assert sorted(os.listdir(runs["vae"] / "samples")) == ["epoch_001.png", "epoch_002.png"]
    assert png_shape(runs["vae"] / "samples" / "epoch_002.png")[:2] == (2 + 2 * 34, 2 + 8 * 34)


@pytest.mark.skipif(not _has("tensorboardX"), reason="tensorboardX is not installed")
def test_tensorboard_gets_the_sample_grids(runs):
    events = [os.path.join(d, f) for d, _, fs in os.walk(runs["vae"] / "tensorboard") for f in fs]
    data = b"".join(open(p, "rb").read() for p in events)
    assert b"samples" in data and b"\x89PNG" in data      # an image summary (PNG-encoded) tagged samples


def test_evaluate_reports_the_test_elbo_and_iwae(runs):
    code, out, err = run_quiet("evaluate", runs["vae"], "--iwae", "8", "--json")
    assert code == 0, err
    m = json.loads(out)["metrics"]
    assert m["elbo"] == pytest.approx(-m["loss"])
    assert m["elbo"] <= m["iwae_8"] + 0.5                  # IWAE-k is a tighter bound (up to noise)
    code, out2, _ = run_quiet("evaluate", runs["vae"], "--iwae", "8", "--json")
    assert json.loads(out2)["metrics"] == m                 # seeded: the same numbers every time
    code, _, err = run_quiet("evaluate", runs["ae"], "--iwae", "8")
    assert "VAE runs" in one_error_line(code, err)


def test_a_vae_run_resumes_bitwise(runs):
    tmp = runs["tmp"]
    text = tiny(loss_extra="kl_warmup_epochs = 2", epochs=3).replace("[callbacks]", "[callbacks]\ncheckpoint = true")
    full = train(tmp, text, "full")
    part = train(tmp, text.replace("epochs = 3", "epochs = 2"), "part")
    code, _, err = run_quiet("train", part, "--resume", "--set", "train.epochs=3", "-q")
    assert code == 0, err
    import lamina
    a = lamina.load(str(full / "checkpoints" / "last.safetensors"))["model"]
    b = lamina.load(str(part / "checkpoints" / "last.safetensors"))["model"]
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k


def test_sample_writes_png_grids(runs, tmp_path):
    for run, args, n in (("vae", ["--n", "12"], 12), ("vae", ["--interpolate", "--n", "20", "--steps", "5"], 20),
                         ("cvae", ["--label", "3", "--n", "8"], 8), ("ae", ["--n", "16"], 16),
                         ("ae", ["--interpolate", "--n", "10", "--steps", "5"], 10)):
        out = tmp_path / f"{run}_{len(args)}.png"
        code, text, err = run_quiet("sample", runs[run], *args, "--out", out, "--scale", "2")
        assert code == 0, err
        assert f"{n} pictures" in text and out.exists()
        h, w = png_shape(out)[:2]
        assert (h - 2) % 18 == 0 and (w - 2) % 18 == 0    # 8x8 pictures enlarged twice, 2-pixel frames
    code, _, err = run_quiet("sample", runs["vae"], "-q")
    assert code == 0 and (runs["vae"] / "samples" / "sample.png").exists()


def test_the_same_seed_draws_the_same_samples(runs, tmp_path):
    a, b, c = (tmp_path / f"{i}.png" for i in "abc")
    for out, seed in ((a, 1), (b, 1), (c, 2)):
        assert run_quiet("sample", runs["vae"], "--out", out, "--seed", seed)[0] == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_sample_refuses_bad_input_with_one_line(runs, small_run, tmp_path):
    code, _, err = run_quiet("sample", small_run)
    assert "not a generative run" in one_error_line(code, err)
    code, _, err = run_quiet("sample", runs["cvae"], "--label", "10")
    assert "outside the run's classes (0..9)" in one_error_line(code, err)
    code, _, err = run_quiet("sample", runs["vae"], "--label", "3")
    assert "not conditional" in one_error_line(code, err)
    z = tmp_path / "z.npy"
    np.save(z, np.zeros((4, 5), np.float32))
    code, _, err = run_quiet("sample", runs["vae"], "--z", z)
    assert "latent_dim = 3" in one_error_line(code, err) and "(4, 5)" in err
    np.save(z, np.zeros((4, 3), np.float32))
    assert run_quiet("sample", runs["vae"], "--z", z, "--out", tmp_path / "z.png")[0] == 0
    code, _, err = run_quiet("sample", runs["vae"], "--n", "0")
    assert "--n" in one_error_line(code, err)


@pytest.mark.parametrize("change, words", [
    ('name = "cross_entropy"', "trains with 'elbo'"),
    ("betta = 2.0", "did you mean 'beta'"),
])
def test_a_vae_config_is_checked_before_training(change, words, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(tiny().replace('name = "elbo"', change if change.startswith("name") else f'name = "elbo"\n{change}'))
    code, _, err = run_quiet("train", cfg, "--run-dir", tmp_path / "r", "-q")
    assert words in one_error_line(code, err) and not (tmp_path / "r").exists()


def test_other_config_mistakes_of_generative_runs(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(tiny() + '\n[metrics]\nnames = ["accuracy"]\n')
    code, _, err = run_quiet("train", cfg, "--check")
    assert "not a metric of a vae run" in one_error_line(code, err)
    cfg.write_text(tiny().replace("limit = 400", "limit = 400\nstandardize = true"))
    code, _, err = run_quiet("train", cfg, "--check")
    assert "standardize" in one_error_line(code, err)
    cfg.write_text(SMALL + "\n[callbacks]\nsample_grid = true\n")
    code, _, err = run_quiet("train", cfg, "--check")
    assert "for generative models" in one_error_line(code, err)


def test_report_shows_samples_reconstructions_and_the_latent_map(runs, tmp_path):
    pytest.importorskip("matplotlib")
    for run in ("vae", "ae"):
        dest = tmp_path / run
        shutil.copytree(runs[run], dest)
        code, out, err = run_quiet("report", dest, "-q")
        assert code == 0, err
        names = set(os.listdir(dest / "report"))
        assert {"samples_over_training.png", "samples.png", "reconstructions.png", "latent_map.png",
                "loss.png"} <= names, names
        assert "confusion_matrix.png" not in names
        html = (dest / "report" / "index.html").read_text()
        assert "latent_map.png" in html and "reconstructions.png" in html


def test_the_shipped_configs_validate():
    from lamina.cli import config
    for name in ("ae_digits", "vae_digits"):
        cfg = config.validate(config.load_config(os.path.join(CONFIGS, f"{name}.toml")))
        assert cfg["loss"]["name"] in ("elbo", "reconstruction")
