"""``python -m lamina.compat [--markdown | --json | --missing]``: the PyTorch coverage table.

PyTorch must be installed (it is the reference the table is measured against); without it this
prints how to install it and exits with status 2.

``python -m lamina.compat --run train.py [args...]`` runs a PyTorch script on lamina instead:
``as_torch()`` first, then the script as ``__main__`` with its own arguments.
"""
from __future__ import annotations

import argparse
import json
import sys


def run_script(argv: list) -> int:
    """``--run SCRIPT [ARGS...]``: the script sees lamina wherever it imports torch."""
    if not argv:
        print("lamina.compat: --run needs a script: python -m lamina.compat --run train.py [args...]", file=sys.stderr)
        return 2
    import runpy

    from .alias import as_torch
    as_torch()
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--run"]:
        return run_script(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m lamina.compat",
        description="How much of PyTorch's API lamina covers: per namespace, what lamina has, lacks, sets aside "
                    "(out of scope, with the reason) and refuses on purpose.")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table (for the README)")
    fmt.add_argument("--json", action="store_true", help="the whole report as JSON")
    fmt.add_argument("--missing", action="store_true", help="only the names lamina lacks, per namespace")
    fmt.add_argument("--run", metavar="SCRIPT", help="instead of the table: run a PyTorch script on lamina "
                     "(as_torch() first); the arguments after SCRIPT go to the script")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("lamina.compat: PyTorch is not installed; the coverage table measures lamina against it. "
              "Install it first: pip install torch (or pip install -e '.[parity]')", file=sys.stderr)
        return 2
    from .coverage import compute, format_markdown, format_text
    report = compute(torch)
    if args.json:
        print(json.dumps(report, indent=1))
    elif args.markdown:
        print(format_markdown(report))
    else:
        print(format_text(report, missing_only=args.missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
