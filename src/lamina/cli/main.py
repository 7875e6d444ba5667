"""The ``lamina`` command: ``lamina train|evaluate|predict|generate|... [options]``.

Each subcommand is a module of ``lamina.cli.commands`` listed in :data:`COMMANDS`. A command
module has ``HELP`` (one line), ``configure(parser)`` (its arguments; cheap: no heavy imports),
``run(args) -> int`` and, optionally, ``help_epilog(argv)`` (text for ``--help`` that depends on
the arguments, e.g. a run's input format). To add a command, write ``commands/<name>.py`` and
add it here; a listed module that does not exist yet is skipped.

Errors and exit codes are the same for every command (``lamina.cli.errors``): one line on
stderr, ``lamina: error: ...``; 2 for bad input of any kind (usage, config, data file,
checkpoint), 1 for internal failures (``--traceback`` or ``LAMINA_TRACEBACK=1`` shows the Python
traceback), 130 when interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from .errors import EXIT_CODES, CLIError, ConfigError, one_line

__all__ = ["COMMANDS", "build_parser", "console_main", "main"]

# command name -> module under lamina.cli.commands
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "explain": "explain",
    "generate": "generate",
    "sample": "sample",
    "tune": "tune",
    "report": "report",
    "export": "export",
    "serve": "serve",
    "rl": "rl",
    "rl-video": "rl_video",
    "federate": "federate",
}


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: ``lamina: error: <message> (see lamina train --help)``."""

    def error(self, message):
        self.exit(2, f"lamina: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _version() -> str:
    from .. import __version__
    return __version__


def _command_modules() -> dict:
    out = {}
    for name, module in COMMANDS.items():
        full = f"{__package__}.commands.{module}"
        try:
            out[name] = importlib.import_module(full)
        except ModuleNotFoundError as e:
            if e.name != full:  # the module exists but one of its imports is missing: a real error
                raise
    return out


def _help_epilog(mod, argv) -> str | None:
    """The command's argument-dependent help text, when --help is asked for (never an error)."""
    fn = getattr(mod, "help_epilog", None)
    if fn is None or not argv or not any(a in ("-h", "--help") for a in argv):
        return None
    try:
        return fn([a for a in argv if a not in ("-h", "--help")])
    except Exception:  # noqa: BLE001 - help must work whatever the arguments are
        return None


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The parser of every command; ``argv`` (optional) lets a command's --help describe its arguments."""
    parser = _Parser(
        prog="lamina", description="lamina: train, evaluate and use neural networks from TOML configs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'lamina COMMAND --help' for a command's options. Example: lamina train configs/mlp_digits.toml"
               "\n\n" + EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"lamina {_version()}")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of a failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    argv = list(argv or [])
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, mod in _command_modules().items():
        extra = _help_epilog(mod, argv[argv.index(chosen) + 1:]) if name == chosen else None
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=extra)
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


_one_line = one_line


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"lamina: warning: {_one_line(message) if isinstance(message, Warning) else message}\n"


def main(argv=None, main_process: bool = False) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    ``main_process``: this is the ``lamina`` program's own process (the console script), so
    process-wide settings such as malloc's thresholds are lamina's to make."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) or a usage error (2): argparse printed it
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    show_tb = args.traceback or os.environ.get("LAMINA_TRACEBACK") not in (None, "", "0")
    if main_process:  # the lamina program's own process: keep large freed arrays for reuse (lamina/_memory.py)
        from .._memory import tune
        tune()
    old_format = warnings.formatwarning
    warnings.formatwarning = _warning_line
    try:
        code = args._run(args)
        return 0 if code is None else int(code)
    except KeyboardInterrupt:
        print("lamina: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    except Exception as e:  # noqa: BLE001 - every failure is one line, never a traceback
        if show_tb:
            raise
        code, message = _classify(e)
        print(f"lamina: error: {message}", file=sys.stderr)
        return code
    finally:
        warnings.formatwarning = old_format
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # pragma: no cover
            pass


def _classify(e: Exception) -> tuple:
    """``(exit code, message)`` of an exception that reached ``main``: bad input is 2, anything else 1."""
    from ..io import CheckpointError
    if isinstance(e, ConfigError):
        return 2, one_line(e)
    if isinstance(e, CheckpointError):  # a corrupt or mismatched checkpoint that no command caught first
        return 2, one_line(e)
    if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return 2, f"{where}{e.strerror or one_line(e)}"
    if isinstance(e, MemoryError):
        return 1, "out of memory (try a smaller data.batch_size or model)"
    if isinstance(e, CLIError):
        return 1, one_line(e)
    return 1, f"{type(e).__name__}: {one_line(e)} (an internal failure; --traceback shows where)"


def console_main() -> None:
    """The ``lamina`` console script: ``main`` in lamina's own process."""
    sys.exit(main(main_process=True))


if __name__ == "__main__":  # pragma: no cover
    console_main()
