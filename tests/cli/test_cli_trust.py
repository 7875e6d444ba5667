"""How sure is a run, and how robust: predict --uncertainty, train --ensemble, evaluate --attack,
[adversarial] training and the calibration section of lamina report."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from conftest import SMALL, fingerprint, run_quiet

DROPOUT = SMALL.replace('hidden_sizes = [16]', 'hidden_sizes = [16]\ndropout = 0.3').replace("epochs = 2", "epochs = 1")


@pytest.fixture(scope="module")
def raw5(tmp_path_factory):
    from sklearn.datasets import load_digits
    path = tmp_path_factory.mktemp("inputs") / "five.npy"
    np.save(path, load_digits().data[:5])
    return path


@pytest.fixture(scope="module")
def dropout_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("dropout")
    (d / "c.toml").write_text(DROPOUT)
    code, _, err = run_quiet("train", d / "c.toml", "--run-dir", d / "run", "-q")
    assert code == 0, err
    return d / "run"


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ensemble")
    (d / "c.toml").write_text(SMALL.replace("epochs = 2", "epochs = 1"))
    code, out, err = run_quiet("train", d / "c.toml", "--ensemble", "2", "--run-dir", d / "run")
    assert code == 0, err
    assert "ensemble of 2 (test): nll" in out
    return d / "run"


def _one_line_error(code, err, *needles):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("lamina: error: "), (code, err)
    for n in needles:
        assert n in err, err


# ---------------------------------------------------------------- predict --uncertainty
def test_predict_mc_dropout(dropout_run, raw5):
    code, out, err = run_quiet("predict", dropout_run, raw5, "--uncertainty", "mc-dropout", "--samples", "12",
                               "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["uncertainty"] == {"method": "mc-dropout", "samples": 12, "threshold": pytest.approx(math.log(10) / 2),
                                "flag_on": "predictive_entropy"}
    for p in r["predictions"]:
        assert sum(p["probabilities"]) == pytest.approx(1.0)
        assert p["mutual_information"] > 0                       # dropout on: the passes disagree
        assert p["predictive_entropy"] == pytest.approx(p["expected_entropy"] + p["mutual_information"])
        assert p["uncertain"] == (p["predictive_entropy"] > math.log(10) / 2)
    # the threshold decides the flag; text output marks the flagged inputs
    code, out, err = run_quiet("predict", dropout_run, raw5, "--uncertainty", "mc-dropout", "--samples", "4",
                               "--threshold", "0")
    assert code == 0 and out.count("UNCERTAIN") == 6 and "mi " in out, (out, err)     # header + 5 inputs


def test_uncertainty_errors(small_run, dropout_run, raw5):
    code, _, err = run_quiet("predict", small_run, raw5, "--uncertainty", "mc-dropout")
    _one_line_error(code, err, "no dropout layer")
    code, _, err = run_quiet("predict", dropout_run, raw5, "--uncertainty", "ensemble")
    _one_line_error(code, err, "needs an ensemble run")
    code, _, err = run_quiet("predict", dropout_run, raw5, "--samples", "5")
    _one_line_error(code, err, "--samples is an option of --uncertainty")


# ---------------------------------------------------------------- train --ensemble
def test_ensemble_run_directory(ensemble_run, raw5):
    for i in range(2):
        assert (ensemble_run / "members" / str(i) / "checkpoints" / "best.safetensors").is_file()
    test = json.loads((ensemble_run / "test_metrics.json").read_text())
    m = test["metrics"]
    assert test["ensemble"] == 2 and len(m["member_nll"]) == 2 and m["disagreement"] > 0
    assert m["nll"] == pytest.approx(m["loss"], rel=1e-5)            # cross-entropy of the averaged probabilities
    # predict averages the members' probabilities; --uncertainty ensemble reports their disagreement
    code, out, err = run_quiet("predict", ensemble_run, raw5, "--json")
    assert code == 0, err
    ens = np.array([p["probabilities"] for p in json.loads(out)["predictions"]])
    members = []
    for i in range(2):
        code, out, err = run_quiet("predict", ensemble_run / "members" / str(i), raw5, "--json")
        members.append([p["probabilities"] for p in json.loads(out)["predictions"]])
    np.testing.assert_allclose(ens, np.mean(members, 0), atol=1e-5)
    code, out, err = run_quiet("predict", ensemble_run, raw5, "--uncertainty", "ensemble", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["uncertainty"]["samples"] == 2
    np.testing.assert_allclose([p["probabilities"] for p in r["predictions"]], ens, atol=1e-5)
    # evaluate: the ensemble's NLL, each member's and the disagreement
    code, out, err = run_quiet("evaluate", ensemble_run, "--json")
    assert code == 0, err
    ev = json.loads(out)["metrics"]
    assert ev["member_nll"] == pytest.approx(m["member_nll"]) and ev["nll"] == pytest.approx(m["nll"])


def test_bad_ensemble_sizes(write_config, in_tmp):
    path = write_config(SMALL)
    code, _, err = run_quiet("train", path, "--ensemble", "1")
    _one_line_error(code, err, "--ensemble must be at least 2")
    code, _, err = run_quiet("train", path, "--set", "model.ensemble=0", "--check")
    _one_line_error(code, err, "model.ensemble must be an integer >= 2")
    assert not os.path.exists(in_tmp / "runs")


# ---------------------------------------------------------------- evaluate --attack, [adversarial]
def test_evaluate_attack(small_run):
    code, out, err = run_quiet("evaluate", small_run, "--attack", "pgd", "--eps", "0.1", "--steps", "3", "--json")
    assert code == 0, err
    r = json.loads(out)
    a = r["attack"]
    assert a["attack"] == "pgd" and a["eps"] == 0.1 and a["steps"] == 3 and "[0, 1]" in a["space"]
    assert r["metrics"]["clean_accuracy"] == pytest.approx(r["metrics"]["accuracy"])
    assert a["robust_accuracy"] < a["clean_accuracy"] - 0.2
    code, out, err = run_quiet("evaluate", small_run, "--attack", "fgsm", "--eps", "0", "--json")
    assert code == 0, err
    m = json.loads(out)["metrics"]
    assert m["robust_accuracy"] == m["clean_accuracy"]                # no budget, no damage
    code, _, err = run_quiet("evaluate", small_run, "--attack", "fgsm", "--steps", "3")
    _one_line_error(code, err, "--steps is for --attack pgd")


def test_adversarial_training_config(write_config, in_tmp):
    cfg = SMALL.replace("epochs = 2", "epochs = 1") + "\n[adversarial]\neps = 0.05\nsteps = 2\n"
    code, _, err = run_quiet("train", write_config(cfg), "--run-dir", "adv", "-q")
    assert code == 0, err
    from lamina.cli import tomlio
    written = tomlio.loads((in_tmp / "adv" / "config.toml").read_text())["adversarial"]
    assert written == {"eps": 0.05, "steps": 2, "attack": "pgd", "norm": "linf", "random_start": True, "mix": False}
    before = fingerprint(in_tmp / "adv")
    code, _, err = run_quiet("train", write_config(cfg.replace("steps = 2", "step = 2")), "--run-dir", "adv2")
    _one_line_error(code, err, "adversarial: unknown key 'step'", "did you mean adversarial.steps?")
    assert not os.path.exists(in_tmp / "adv2") and fingerprint(in_tmp / "adv") == before


def test_adversarial_batches_attack_in_the_raw_space(small_run):
    """The batch_fn of [adversarial]: training batches move by at most eps in [0, 1] units, eval ones not at all."""
    from sklearn.datasets import load_digits

    import lamina
    from lamina.cli import build
    from lamina.cli.rundir import load_run
    loaded = load_run(str(small_run))
    x = loaded.preprocess.prepare(load_digits().data[:32])
    y = np.arange(32) % 10
    batches = build.AdversarialBatches(loaded.model, loaded.preprocess, {"eps": 0.1, "steps": 2})
    loaded.model.train()
    xa, ya = batches((lamina.tensor(x), lamina.tensor(y)))
    space = batches.space
    moved = np.abs(space.to_raw(xa.numpy()) - space.to_raw(x))
    assert moved.max() <= 0.1 + 1e-5 and moved.max() > 0.05
    loaded.model.eval()
    xe, _ = batches((lamina.tensor(x), lamina.tensor(y)))
    np.testing.assert_array_equal(xe.numpy(), x)


# ---------------------------------------------------------------- lamina report: calibration
def test_report_calibration_section(dropout_run, tmp_path):
    code, out, err = run_quiet("report", dropout_run, "--out", tmp_path)
    assert code == 0, err
    png = tmp_path / "calibration.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    page = (tmp_path / "index.html").read_text()
    assert "<h2>calibration</h2>" in page and 'src="calibration.png"' in page and "ECE" in page
