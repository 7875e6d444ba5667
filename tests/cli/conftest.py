"""Helpers for the command-line tests: run ``lamina`` in-process and write small configs."""
from __future__ import annotations

import os
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
