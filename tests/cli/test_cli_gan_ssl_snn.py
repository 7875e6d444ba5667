"""GANs, SimCLR and spiking networks from the command line: train on digits, resume a GAN exactly,
draw GAN samples (--label for a conditional GAN), evaluate SimCLR's linear probe, and the report's
GAN losses, sample grids, feature map and spike rasters."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from conftest import CONFIGS, run_quiet

GAN = """
[model]
name = "{model}"
latent_dim = 4
image_shape = {shape}
{extra}

[data]
name = "digits"
batch_size = 64
limit = 300
val_fraction = 0.0
test_fraction = 0.2
drop_last = true

[optimizer]
name = "adam"
lr = 0.001
betas = [0.5, 0.999]

[loss]
{loss}

[train]
epochs = {epochs}

[callbacks]
sample_grid = {{every_n_epochs = 1, n = 10, nrow = 10}}
"""


def gan(model="dcgan", shape="[1, 16, 16]", extra="base_channels = 4", loss='name = "non_saturating"', epochs=2):
    return GAN.format(model=model, shape=shape, extra=extra, loss=loss, epochs=epochs)


SIMCLR = """
[model]
name = "simclr"
widths = [8]
feature_dim = 16
hidden_dim = 16
projection_dim = 8

[data]
name = "digits"
as_images = true
batch_size = 128
limit = 400

[optimizer]
name = "adam"
lr = 0.003

[loss]
name = "nt_xent"
temperature = 0.5

[train]
epochs = 2
"""

SNN = """
[model]
name = "snn_mlp"
hidden_sizes = [32]
num_steps = 6

[data]
name = "digits"
batch_size = 64
limit = 300

[optimizer]
name = "adam"
lr = 0.003

[train]
epochs = 1
"""


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
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg
    return mpimg.imread(str(path)).shape


def _metrics(run):
    from lamina.report.plots import read_metrics
    return read_metrics(str(run / "metrics.csv"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny DCGAN (16x16, digits upscaled), an MLP cGAN (8x8), a SimCLR and a spiking MLP."""
    tmp = tmp_path_factory.mktemp("gan_ssl_snn")
    return {"dcgan": train(tmp, gan(), "dcgan"),
            "cgan": train(tmp, gan("cgan", "[1, 8, 8]", 'arch = "mlp"\nhidden_sizes = [16]'), "cgan"),
            "simclr": train(tmp, SIMCLR, "simclr"),
            "snn": train(tmp, SNN, "snn"),
            "tmp": tmp}


def test_a_gan_run_logs_both_losses_samples_and_its_last_state(runs):
    h = _metrics(runs["dcgan"])
    assert len(h["d_loss"]) == 2 and len(h["g_loss"]) == 2
    assert all(np.isfinite(h["d_loss"])) and all(np.isfinite(h["g_loss"]))
    assert sorted(os.listdir(runs["dcgan"] / "samples")) == ["epoch_001.png", "epoch_002.png"]
    assert png_shape(runs["dcgan"] / "samples" / "epoch_002.png")[:2] == (2 + 66, 2 + 10 * 66)  # 16x16 x4 + frame
    assert os.listdir(runs["dcgan"] / "checkpoints") == ["last.safetensors"]  # no held-out loss: no "best"
    test = json.loads((runs["dcgan"] / "test_metrics.json").read_text())
    assert test["weights"] == "last" and 0 <= test["metrics"]["loss"] < 4   # squared MMD of samples vs test digits
    from lamina.cli import rundir
    cfg = rundir.load_run_config(str(runs["dcgan"]))
    assert "num_classes" not in cfg["model"]                   # the data's 10 classes don't make it conditional
    assert rundir.load_run(str(runs["dcgan"])).model.num_classes is None
    assert rundir.load_run(str(runs["cgan"])).model.num_classes == 10


def test_the_progress_line_shows_both_losses(tmp_path):
    cfg = tmp_path / "g.toml"
    cfg.write_text(gan("cgan", "[1, 8, 8]", 'arch = "mlp"\nhidden_sizes = [8]', epochs=1))
    code, out, err = run_quiet("train", cfg, "--run-dir", tmp_path / "r")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("Epoch 1/1"))
    assert "d_loss: " in line and "g_loss: " in line


def test_a_wgan_gp_run_resumes_bitwise(runs):
    tmp = runs["tmp"]
    text = gan("wgan_gp", loss='name = "wgan_gp"\nn_critic = 2', epochs=3)
    full = train(tmp, text, "wfull")
    part = train(tmp, text.replace("epochs = 3", "epochs = 2"), "wpart")
    code, _, err = run_quiet("train", part, "--resume", "--set", "train.epochs=3", "-q")
    assert code == 0, err
    import lamina
    a, b = (lamina.load(str(r / "checkpoints" / "last.safetensors")) for r in (full, part))
    assert set(a["model"]) == set(b["model"]) and any(k.startswith("discriminator.") for k in a["model"])
    for k in a["model"]:
        assert np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()), k
    ha, hb = _metrics(full), _metrics(part)
    assert ha["gradient_penalty"] == hb["gradient_penalty"] and ha["g_loss"] == hb["g_loss"]


def test_sample_draws_gan_pictures_and_classes(runs, tmp_path):
    for run, args, n, cell in (("dcgan", ["--n", "12"], 12, 34), ("dcgan", ["--interpolate", "--n", "10", "--steps", "5"], 10, 34),
                               ("cgan", ["--label", "3", "--n", "8"], 8, 18), ("cgan", ["--n", "20"], 20, 18)):
        out = tmp_path / f"{run}_{len(args)}.png"
        code, text, err = run_quiet("sample", runs[run], *args, "--out", out, "--scale", "2")
        assert code == 0, err
        assert f"{n} pictures" in text
        h, w = png_shape(out)[:2]
        assert (h - 2) % cell == 0 and (w - 2) % cell == 0, (h, w)
    h, w = png_shape(tmp_path / "cgan_2.png")[:2]
    assert (w - 2) // 18 == 10                       # without --label: one class per column
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out, label in ((a, "3"), (b, "4")):
        assert run_quiet("sample", runs["cgan"], "--label", label, "--out", out, "--n", "8")[0] == 0
    assert a.read_bytes() != b.read_bytes()          # the label changes what is drawn (same noise)


def test_sample_refuses_bad_labels_with_one_line(runs):
    code, _, err = run_quiet("sample", runs["cgan"], "--label", "10")
    assert "outside the run's classes (0..9)" in one_error_line(code, err)
    code, _, err = run_quiet("sample", runs["cgan"], "--label", "-1")
    assert "outside the run's classes" in one_error_line(code, err)
    code, _, err = run_quiet("sample", runs["dcgan"], "--label", "3")
    assert "not conditional" in one_error_line(code, err)
    code, _, err = run_quiet("sample", runs["simclr"])
    assert "draws no pictures" in one_error_line(code, err)


def test_evaluate_scores_a_gan_like_training_did(runs):
    code, out, err = run_quiet("evaluate", runs["dcgan"], "--json")
    assert code == 0, err
    m = json.loads(out)["metrics"]
    test = json.loads((runs["dcgan"] / "test_metrics.json").read_text())["metrics"]
    assert m["loss"] == pytest.approx(test["loss"], rel=1e-5)


def test_mmd_is_zero_for_the_same_images_and_grows_with_a_shift():
    from lamina.cli.generative import gan_pixels, sample_mmd
    x = np.random.default_rng(0).random((40, 64)).astype(np.float32)
    assert sample_mmd(x, x) == pytest.approx(0.0, abs=1e-9)
    assert 0 < sample_mmd(x, x + 0.2) < sample_mmd(x, x + 0.6)
    up = gan_pixels(x, (1, 16, 16))
    assert up.shape == (40, 1, 16, 16) and up.min() >= -1 and up.max() <= 1
    np.testing.assert_allclose(up.reshape(40, 8, 2, 8, 2).mean((2, 4)).mean(), x.mean() * 2 - 1, atol=1e-5)
    np.testing.assert_array_equal(gan_pixels(x, (1, 8, 8)), x.reshape(40, 1, 8, 8) * 2 - 1)


def test_simclr_evaluate_reports_the_linear_probe(runs):
    h = _metrics(runs["simclr"])
    assert len(h["loss"]) == 2 and len(h["val_loss"]) == 2 and "accuracy" not in h
    code, out, err = run_quiet("evaluate", runs["simclr"], "--json")
    assert code == 0, err
    m = json.loads(out)["metrics"]
    assert 0 <= m["probe_accuracy"] <= 1 and 0 <= m["random_encoder_probe_accuracy"] <= 1
    assert m["probe_labels"] in range(40, 50)          # 10 % of the 400 training digits (data.limit), rounded up per class
    assert m["probe_accuracy"] > 0.3                    # far above chance (0.1) even after 2 epochs
    assert json.loads(run_quiet("evaluate", runs["simclr"], "--json")[1])["metrics"] == m   # seeded


def test_config_mistakes_of_these_runs_are_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    for text, words in ((gan(loss='name = "hinje"'), "did you mean 'hinge'"),
                        (gan() + '\n[scheduler]\nname = "cosine"\n', "no learning-rate schedule"),
                        (gan().replace("drop_last = true", "drop_last = true\nstandardize = true"), "standardize"),
                        (SIMCLR.replace("temperature = 0.5", "temperature = 0"), "loss.temperature"),
                        (gan(shape="[3, 16, 16]"), "3 square channel(s)")):
        cfg.write_text(text)
        code, _, err = run_quiet("train", cfg, "--check")
        assert words in one_error_line(code, err), err


def test_report_shows_gan_losses_samples_and_feature_maps(runs, tmp_path):
    pytest.importorskip("matplotlib")
    for run, want, absent in (("dcgan", {"gan_losses.png", "samples_over_training.png", "samples.png"},
                               {"confusion_matrix.png", "latent_map.png"}),
                              ("simclr", {"latent_map.png", "loss.png"}, {"samples.png", "confusion_matrix.png"}),
                              ("snn", {"spike_raster.png", "membrane_traces.png", "confusion_matrix.png"},
                               {"samples.png"})):
        dest = tmp_path / run
        shutil.copytree(runs[run], dest)
        code, _, err = run_quiet("report", dest, "-q")
        assert code == 0, err
        names = set(os.listdir(dest / "report"))
        assert want <= names and not absent & names, (run, names)
        for name in want:
            assert len(png_shape(dest / "report" / name)) == 3
        html = (dest / "report" / "index.html").read_text()
        assert all(name in html for name in want)


def test_the_shipped_configs_validate():
    from lamina.cli import config
    for name, loss in (("dcgan_digits", "non_saturating"), ("cgan_digits", "non_saturating"),
                       ("wgan_gp_digits", "wgan_gp"), ("simclr_digits", "nt_xent"), ("snn_digits", "cross_entropy")):
        cfg = config.validate(config.load_config(os.path.join(CONFIGS, f"{name}.toml")))
        assert cfg["loss"]["name"] == loss, name
