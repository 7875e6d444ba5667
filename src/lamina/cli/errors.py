"""The command line's errors and exit codes: one format and one table for every command.

Every error is one line on stderr, ``lamina: error: <what was wrong and what to do>``:

    0    success
    1    an internal failure: a bug, or a run that failed while running (a non-finite loss);
         ``--traceback`` (or ``LAMINA_TRACEBACK=1``) shows where
    2    bad input of any kind: a usage mistake, a bad config, a bad data file, a missing, corrupt
         or mismatched checkpoint or run directory, a path that can't be read or written
    130  interrupted (Ctrl-C); a training run continues with ``lamina train RUN --resume``

A command checks everything it was given (config, data, checkpoint fit, the run's
preprocessing) before it writes anything into a run directory, so an exit code 2 means the
run directory is byte-for-byte as it was.
"""
from __future__ import annotations

import difflib

__all__ = ["CLIError", "ConfigError", "EXIT_CODES", "closest", "one_line", "unknown_name"]

EXIT_CODES = """\
exit codes:
  0    success
  1    internal failure (a bug, or a run that failed while running, e.g. a non-finite loss);
       --traceback shows where
  2    bad input of any kind: usage, config, data file, a missing/corrupt/mismatched checkpoint or
       run directory, a path that can't be read or written; the run directory is left as it was
  130  interrupted (Ctrl-C); continue a training run with: lamina train RUN --resume
every error is one line on stderr: lamina: error: <message>"""


class ConfigError(Exception):
    """A config, command-line argument, input file or checkpoint that can't be used (exit code 2)."""

    exit_code = 2


class CLIError(Exception):
    """A failure while running a command (exit code 1)."""

    exit_code = 1


def one_line(e: BaseException) -> str:
    """The message of ``e`` on one line (KeyError's quotes dropped), or its class name when empty."""
    text = e.args[0] if isinstance(e, KeyError) and len(e.args) == 1 else e
    return " ".join(str(text).split()) or type(e).__name__


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
