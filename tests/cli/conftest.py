"""Helpers for the command-line tests: run ``lamina`` in-process, write small configs, a trained
run to share, and a fingerprint of a run directory (to check that a failure wrote nothing)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import textwrap

import pytest

from lamina.cli.main import main

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs")

# A small, fast config: a 16-unit MLP on the digits.
SMALL = """
[model]
name = "mlp"
hidden_sizes = [16]

[data]
name = "digits"
batch_size = 128
standardize = true

[optimizer]
name = "adam"
lr = 0.01

[train]
epochs = 2

[metrics]
names = ["accuracy"]
"""


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"Result(code={self.code}, out={self.out[-300:]!r}, err={self.err[-300:]!r})"


@pytest.fixture
def cli(capsys):
    """``lamina(*args)`` -> Result(code, stdout, stderr) of ``main(list(args))``."""
    def run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Result(code, out, err)
    return run


@pytest.fixture
def write_config(tmp_path):
    """``write_config(text, name='c.toml')`` -> path of a config file in tmp_path."""
    def write(text: str, name: str = "c.toml") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty temporary directory (runs/ goes there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fingerprint(run_dir) -> dict:
    """``{relative path: sha256}`` of every file under ``run_dir`` (directories listed too)."""
    out = {}
    for root, dirs, files in os.walk(run_dir):
        rel = os.path.relpath(root, run_dir)
        out[rel + "/"] = "dir"
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                out[os.path.join(rel, name)] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_quiet(*args) -> tuple:
    """``(exit code, stdout, stderr)`` of ``lamina *args`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """SMALL (a 16-unit MLP, standardised digits) trained 2 epochs; copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("shared") / "small"
    cfg = run_dir.parent / "small.toml"
    cfg.write_text(SMALL)
    code, _, err = run_quiet("train", cfg, "--run-dir", run_dir, "-q")
    assert code == 0, err
    return run_dir


@pytest.fixture
def run_copy(small_run, tmp_path):
    """A private copy of ``small_run``."""
    dest = tmp_path / "run"
    shutil.copytree(small_run, dest)
    return dest
