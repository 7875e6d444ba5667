"""The ``lamina`` command: ``lamina train|evaluate|predict|... [options]``.

Each subcommand is a module of ``lamina.cli.commands`` listed in :data:`COMMANDS`. A command
module has ``HELP`` (one line), ``configure(parser)`` (its arguments; cheap: no heavy imports)
and ``run(args) -> int``. To add a command, write ``commands/<name>.py`` and add it here; a
listed module that does not exist yet is skipped.

Exit codes: 0 success; 2 a usage or config error (one line on stderr: ``lamina: error: ...``);
1 a failure while running (one line too; ``--traceback`` or ``LAMINA_TRACEBACK=1`` shows the
Python traceback); 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from .errors import CLIError, ConfigError

__all__ = ["COMMANDS", "build_parser", "main"]

# command name -> module under lamina.cli.commands
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "tune": "tune",
    "report": "report",
    "export": "export",
}


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamina", description="lamina: train, evaluate and use neural networks from TOML configs.",
        epilog="Run 'lamina COMMAND --help' for a command's options. Example: lamina train configs/mlp_digits.toml")
    parser.add_argument("--version", action="version", version=f"lamina {_version()}")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of a failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _command_modules().items():
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"lamina: warning: {_one_line(message) if isinstance(message, Warning) else message}\n"


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) or a usage error (2): argparse printed it
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    show_tb = args.traceback or os.environ.get("LAMINA_TRACEBACK") not in (None, "", "0")
    old_format = warnings.formatwarning
    warnings.formatwarning = _warning_line
    try:
        code = args._run(args)
        return 0 if code is None else int(code)
    except ConfigError as e:
        if show_tb:
            raise
        print(f"lamina: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lamina: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if show_tb:
            raise
        prefix = "" if isinstance(e, CLIError) else f"{type(e).__name__}: "
        print(f"lamina: error: {prefix}{_one_line(e)}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = old_format
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
