"""Runs you can trust: a failing command leaves the run directory byte-for-byte as it was, errors are
one line with one exit-code table, and resuming with more epochs continues the schedule."""
from __future__ import annotations

import csv
import json
import os
import stat

import numpy as np
import pytest

from conftest import SMALL, fingerprint

import lamina


def one_error_line(r) -> str:
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("lamina: error: ") and "Traceback" not in r.err, r.err
    return lines[0]


def raw_digits():
    x, y = lamina.data.datasets.load_digits(as_numpy=True)
    return x * 16, y


# ---------------------------------------------------------------- 1. a failed resume rewrites nothing
def test_failed_resume_with_another_model_leaves_the_run_as_it_was(cli, run_copy, tmp_path):
    before = fingerprint(run_copy)
    r = cli("train", run_copy, "--resume", "--set", "model.hidden_sizes=[128]")
    assert r.code == 2, r
    line = one_error_line(r)
    assert "cannot resume from" in line and "size" in line.lower()
    assert fingerprint(run_copy) == before          # config.toml and preprocess.safetensors untouched
    np.save(tmp_path / "x.npy", raw_digits()[0][:5])
    assert cli("evaluate", run_copy).code == 0      # the run still works
    assert cli("predict", run_copy, tmp_path / "x.npy").code == 0


def test_resume_against_a_corrupt_checkpoint_leaves_the_run_as_it_was(cli, run_copy):
    last = run_copy / "checkpoints" / "last.safetensors"
    data = bytearray(last.read_bytes())
    data[-100] ^= 0xFF                              # a flipped byte in the weights
    last.write_bytes(bytes(data))
    before = fingerprint(run_copy)
    r = cli("train", run_copy, "--resume", "--set", "train.epochs=3")
    assert r.code == 2, r
    assert "cannot resume from" in one_error_line(r)
    assert fingerprint(run_copy) == before


def test_resume_changing_the_input_pipeline_is_refused(cli, run_copy):
    before = fingerprint(run_copy)
    r = cli("train", run_copy, "--resume", "--set", "data.standardize=false", "--set", "train.epochs=3")
    assert r.code == 2 and "data.standardize" in one_error_line(r)
    assert fingerprint(run_copy) == before


def test_a_fresh_run_with_bad_data_creates_nothing(cli, write_config, tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,oops,1\n")
    cfg = write_config(SMALL.replace('name = "digits"', f'name = "csv"\npath = "{tmp_path / "bad.csv"}"'))
    r = cli("train", cfg, "--run-dir", tmp_path / "new")
    assert r.code == 2 and "line 3, column 2 ('b'): 'oops' is not a number" in one_error_line(r)
    assert not (tmp_path / "new").exists()


def test_resume_of_a_finished_run_writes_nothing(cli, run_copy):
    before = fingerprint(run_copy)
    r = cli("train", run_copy, "--resume")
    assert r.code == 0 and "nothing to do" in r.out
    assert fingerprint(run_copy) == before


# ---------------------------------------------------------------- 7. one error format, one exit-code table
def test_checkpoint_errors_are_exit_2_with_one_plain_line(cli, run_copy, tmp_path):
    np.save(tmp_path / "x.npy", raw_digits()[0][:3])
    pre = run_copy / "preprocess.safetensors"
    good = pre.read_bytes()
    pre.write_bytes(good[: len(good) // 2])          # truncated preprocessing
    for args in (("evaluate", run_copy), ("predict", run_copy, tmp_path / "x.npy")):
        r = cli(*args)
        assert r.code == 2, r
        line = one_error_line(r)
        assert "CheckpointError" not in line and "preprocess.safetensors" in line
    pre.write_bytes(good)
    last = run_copy / "checkpoints" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:300])        # truncated training state
    r = cli("train", run_copy, "--resume", "--set", "train.epochs=3")
    assert r.code == 2, r
    assert "CheckpointError" not in one_error_line(r)


def test_usage_errors_are_one_line_too(cli):
    r = cli("train")
    assert r.code == 2 and "CONFIG" in one_error_line(r)
    r = cli("evaluate", "x", "--split", "nope")
    assert r.code == 2 and "invalid choice" in one_error_line(r)


def test_top_level_help_documents_the_exit_codes(cli):
    r = cli("--help")
    assert r.code == 0
    for piece in ("exit codes:", "2    bad input", "1    internal failure", "130  interrupted",
                  "lamina: error: <message>"):
        assert piece in r.out, piece


# ---------------------------------------------------------------- 9. --resume --set train.epochs=N
def lr_column(run_dir) -> list:
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    return [float(r[rows[0].index("lr")]) for r in rows[1:]]


@pytest.mark.parametrize("scheduler", ['name = "cosine"\ninterval = "step"', 'name = "cosine"',
                                       'name = "onecycle"', 'name = "polynomial"\npower = 2.0'])
def test_more_epochs_on_resume_continue_the_schedule_as_if_configured_so(cli, write_config, tmp_path, scheduler):
    cfg = write_config(SMALL + f"\n[scheduler]\n{scheduler}\n")
    assert cli("train", cfg, "--run-dir", tmp_path / "long", "--set", "train.epochs=4", "-q").code == 0
    assert cli("train", cfg, "--run-dir", tmp_path / "ext", "--set", "train.epochs=2", "-q").code == 0
    r = cli("train", tmp_path / "ext", "--resume", "--set", "train.epochs=4")
    assert r.code == 0, r
    assert "recomputed for the new length" in r.err
    want, got = lr_column(tmp_path / "long"), lr_column(tmp_path / "ext")
    assert len(got) == 4
    np.testing.assert_allclose(got[2:], want[2:], rtol=1e-9, atol=1e-15)  # the 4-epoch schedule's values
    if "onecycle" not in scheduler:
        assert got[3] <= got[2]                                          # still decaying, never rising again
    from lamina.cli import tomlio
    sched = tomlio.loads((tmp_path / "ext" / "config.toml").read_text())["scheduler"]
    assert sched == tomlio.loads((tmp_path / "long" / "config.toml").read_text())["scheduler"]


def test_an_explicit_schedule_length_is_kept_on_resume(cli, write_config, tmp_path):
    cfg = write_config(SMALL + '\n[scheduler]\nname = "cosine"\nT_max = 5\n')
    assert cli("train", cfg, "--run-dir", tmp_path / "a", "-q").code == 0
    r = cli("train", tmp_path / "a", "--resume", "--set", "train.epochs=3")
    assert r.code == 0 and "recomputed" not in r.err


# ---------------------------------------------------------------- 11. smaller things
def test_epochs_this_call_counts_this_call_only(cli, run_copy):
    r = cli("train", run_copy, "--resume", "--set", "train.epochs=3", "-q")
    assert r.code == 0, r
    result = json.loads((run_copy / "test_metrics.json").read_text())
    assert result["epochs"] == 3 and result["epochs_this_call"] == 1
    with open(run_copy / "metrics.csv", newline="") as f:
        assert [row[0] for row in csv.reader(f)][1:] == ["1", "2", "3"]


def test_every_file_of_a_run_has_the_same_permissions(small_run):
    mask = os.umask(0)
    os.umask(mask)
    want = 0o666 & ~mask
    modes = {os.path.relpath(os.path.join(root, f), small_run): stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode)
             for root, _, files in os.walk(small_run) for f in files}
    assert "checkpoints/last.safetensors" in modes and "preprocess.safetensors" in modes
    assert modes == {k: want for k in modes}


def test_a_taken_name_gets_a_suffix_as_help_says(cli, write_config, in_tmp):
    cfg = write_config(SMALL)
    for _ in range(2):
        assert cli("train", cfg, "--name", "exp", "--set", "train.epochs=1", "-q").code == 0
    assert sorted(os.listdir(in_tmp / "runs")) == ["exp", "exp-2"]
    assert "-2, -3" in cli("train", "--help").out
