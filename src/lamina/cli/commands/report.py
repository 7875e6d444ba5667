"""``lamina report RUN_DIR``: plots of a run (loss, metrics, learning rate, confusion matrix) and an index.html."""
from __future__ import annotations

HELP = "plot a run's curves and confusion matrix into RUN_DIR/report (index.html)"
DESCRIPTION = """\
Plot a run directory with matplotlib into RUN_DIR/report/:

  loss.png, metrics.png, lr.png      per-epoch curves from metrics.csv (training and validation)
  confusion_matrix.png               test split, best weights (classification runs)
  index.html                         the plots and a table of the final metrics

A lamina rl run gets return.png (training and evaluation return against environment steps) and
length.png (episode length) instead.

examples:
  lamina report runs/mlp_digits
  lamina report runs/mlp_digits --out /tmp/report --no-confusion
"""


def configure(p) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by lamina train")
    p.add_argument("--out", metavar="DIR", help="where to write the report (default RUN_DIR/report)")
    p.add_argument("--no-confusion", dest="confusion", action="store_false",
                   help="skip the confusion matrix (it evaluates the best checkpoint on the test split)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing")


def run(args) -> int:
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError:
        from ..errors import ConfigError
        raise ConfigError("lamina report needs matplotlib: pip install 'lamina[report]' "
                          "(or pip install matplotlib)") from None
    from ...report import build_report
    result = build_report(args.run_dir, args.out, confusion=args.confusion)
    if not args.quiet:
        for note in result["notes"]:
            print(f"note: {note}")
        print(f"{len(result['images'])} plots -> {result['index']}")
    return 0
