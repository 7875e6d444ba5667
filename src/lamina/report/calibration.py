"""The calibration section of ``lamina report`` for classifiers: does "90 % sure" mean 90 % right?

    calibration.png     reliability diagram of the test split (validation split when there is no
                        test split) before and after temperature scaling
    a table             ECE, MCE, NLL, Brier score and accuracy, before and after, per split

The temperature T is fit on the validation split (``lamina.uncertainty.calibrate_temperature``:
softmax(z / T), T minimising the validation NLL) and then applied to the test split, so the
test numbers after scaling are an honest estimate. The weights are those of test_metrics.json.

>>> sec = calibration_section("runs/mlp_digits")          # None for a run that isn't a classifier
>>> sec["job"][2]("runs/mlp_digits/report/calibration.png"); sec["html"]
"""
from __future__ import annotations

import html
import os

import numpy as np

__all__ = ["CALIBRATION_PLOT", "calibration_section", "calibration_html", "plot_calibration"]

CALIBRATION_PLOT = "calibration.png"
_MEASURES = ("ece", "mce", "nll", "brier", "accuracy")


def calibration_section(run_dir: str, weights: str | None = None, n_bins: int = 15) -> dict | None:
    """``{'result', 'job': (caption, file name, draw(path)), 'html', 'note'}`` for a classification run;
    ``{'note': why not}`` when it has no validation split or its data can't be loaded; None when the run
    is not a classifier."""
    from ..cli import build, config, rundir
    from ..cli.errors import ConfigError
    from ..uncertainty import calibrate_temperature, predict_logits
    try:
        loaded = rundir.load_run(run_dir, prefer=weights)
    except ConfigError as e:
        return {"note": f"no calibration: {e}"}
    info = loaded.preprocess.info
    if info.get("task") != "classification":
        return None
    try:
        cfg = config.validate(loaded.cfg, check_files=False)
        data = build.build_data(cfg, preprocess=loaded.preprocess)
    except ConfigError as e:
        return {"note": f"no calibration: cannot load the run's data ({e})"}
    _, val, test = data.arrays
    if val is None or not len(val[0]):
        return {"note": "no calibration: temperature scaling is fit on the validation split, and the run has none "
                        "(data.val_fraction = 0)"}
    bs = cfg["data"]["eval_batch_size"]
    z_val, _ = predict_logits(loaded.model, np.ascontiguousarray(val[0]), bs)
    has_test = test is not None and len(test[0]) > 0
    if has_test:
        z_test, _ = predict_logits(loaded.model, np.ascontiguousarray(test[0]), bs)
        res = calibrate_temperature(z_val, val[1], z_test, test[1], n_bins=n_bins)
    else:
        res = calibrate_temperature(z_val, val[1], n_bins=n_bins)
    which = os.path.basename(loaded.checkpoint).split(".")[0]
    split = "test" if has_test else "validation"
    caption = f"calibration: reliability diagram, {split} split, {which} weights (T = {res['temperature']:.3g})"
    return {"result": res, "job": (caption, CALIBRATION_PLOT, lambda p: plot_calibration(res, p, split)),
            "html": calibration_html(res), "note": None}


def plot_calibration(res: dict, path: str, split: str = "test") -> str:
    """The reliability diagram before and after temperature scaling (Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from ..uncertainty import plot_reliability_diagram
    fig = Figure(figsize=(5, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    plot_reliability_diagram([res["reliability_before"], res["reliability_after"]],
                             labels=["before", f"after (T = {res['temperature']:.3g})"], ax=ax,
                             title=f"reliability diagram ({split} split)")
    fig.savefig(path, format="png", bbox_inches="tight")
    return path


def calibration_html(res: dict) -> str:
    """The section's table: each measure before and after temperature scaling, per split."""
    e = html.escape
    rows = []
    for split in ("val", "test"):
        if f"{split}_before" not in res:
            continue
        b, a = res[f"{split}_before"], res[f"{split}_after"]
        name = "validation" if split == "val" else "test"
        cells = "".join(f"<td>{_num(b[m])}</td><td>{_num(a[m])}</td>" for m in _MEASURES)
        rows.append(f"<tr><td>{e(name)}</td>{cells}</tr>")
    head = "".join(f"<th colspan=2>{m.upper() if m != 'accuracy' else m}</th>" for m in _MEASURES)
    sub = "".join("<th>before</th><th>after</th>" for _ in _MEASURES)
    return (f"<h2>calibration</h2>\n<p>temperature scaling fit on the validation split: T = "
            f"{res['temperature']:.4g} (T &gt; 1: the model was over-confident, T &lt; 1: under-confident). "
            f"ECE/MCE over equal-width confidence bins; lower is better for all but accuracy, which scaling "
            f"never changes.</p>\n"
            f"<table><tr><th>split</th>{head}</tr><tr><th></th>{sub}</tr>\n" + "\n".join(rows) + "\n</table>")


def _num(v) -> str:
    return "" if v is None or not np.isfinite(v) else f"{float(v):.4f}"
