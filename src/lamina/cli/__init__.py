"""lamina's command line: ``lamina train | evaluate | predict ...`` driven by TOML configs.

    lamina train configs/mlp_digits.toml --set train.epochs=5
    lamina evaluate runs/mlp_digits --json
    lamina predict runs/mlp_digits digit.png

``main(argv)`` is the entry point (``python -m lamina`` works too); ``config`` holds the
schema and validation, ``build`` turns a config into the objects of a run.
"""
from .errors import CLIError, ConfigError
from .main import COMMANDS, main

__all__ = ["CLIError", "COMMANDS", "ConfigError", "main"]
