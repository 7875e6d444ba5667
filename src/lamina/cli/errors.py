"""The command line's errors: a bad config or usage (exit code 2) and a runtime failure (exit code 1).

Both carry one line for the user; ``main`` prints it as ``lamina: error: <message>``.
"""
from __future__ import annotations

import difflib

__all__ = ["CLIError", "ConfigError", "closest", "unknown_name"]


class ConfigError(Exception):
    """A config, command-line argument or input file that can't be used (exit code 2)."""

    exit_code = 2


class CLIError(Exception):
    """A failure while running a command (exit code 1)."""

    exit_code = 1


def closest(name, valid) -> str | None:
    """The valid name most like ``name`` (difflib), or None when nothing is close."""
    valid = [str(v) for v in valid]
    low = {v.lower(): v for v in valid}
    key = str(name).lower()
    if key in low:
        return low[key]
    hits = difflib.get_close_matches(key, list(low), n=1, cutoff=0.5)
    return low[hits[0]] if hits else None


def unknown_name(where: str, kind: str, name, valid) -> ConfigError:
    """``model.name: unknown model 'resnt8'; did you mean 'resnet8'? (valid: lenet5, mlp, ...)``."""
    valid = sorted(str(v) for v in valid)
    near = closest(name, valid)
    hint = f"; did you mean {near!r}?" if near is not None else ""
    return ConfigError(f"{where}: unknown {kind} {name!r}{hint} (valid: {', '.join(valid)})")
