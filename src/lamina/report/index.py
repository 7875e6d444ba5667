"""``build_report(run_dir)``: the plots of a run and an ``index.html`` that shows them.

    runs/<name>/report/
      index.html               the plots (relative links) and a table of the final metrics
      loss.png                 training and validation loss per epoch
      metrics.png              each metric, training and validation
      lr.png                   the learning rate per epoch
      confusion_matrix.png     test split, the same weights as test_metrics.json (classification runs)

Everything is computed before anything is written, and a plot that can't be drawn this time
(no test split, a broken checkpoint) is removed, so the page never shows a stale picture.
"""
from __future__ import annotations

import html
import json
import os

import numpy as np

from . import plots

__all__ = ["build_report", "confusion_matrix", "write_index"]

REPORT = "report"


def _test_metrics(run_dir: str) -> dict:
    from ..cli import rundir
    path = os.path.join(run_dir, rundir.TEST_METRICS)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def confusion_matrix(run_dir: str) -> tuple:
    """``(cm, class names, note)``: from test_metrics.json when it holds one, else by evaluating on the
    run's test split the same weights its test_metrics.json was computed with ('best' or 'last'; without
    that file, the run's train.final_weights), so the matrix agrees with the test accuracy the index
    shows. ``cm`` is None (and ``note`` says why) when there is none."""
    from ..cli import rundir
    tested = _test_metrics(run_dir)
    stored = tested.get("metrics", {}).get("confusion_matrix") if isinstance(tested.get("metrics"), dict) else None
    if isinstance(stored, list) and stored and isinstance(stored[0], list):
        return np.asarray(stored), None, "from test_metrics.json"
    from ..cli import build, config
    from ..cli.errors import ConfigError
    from ..data import DataLoader
    from ..metrics import ConfusionMatrix
    from ..optim import SGD
    from ..train import Trainer
    weights = tested.get("weights") if tested.get("weights") in ("best", "last") else None
    try:
        loaded = rundir.load_run(run_dir, prefer=weights)
    except ConfigError as e:
        return None, None, f"no confusion matrix: {e}"
    info = loaded.preprocess.info
    if info.get("task") != "classification":
        return None, None, "no confusion matrix: not a classification run"
    try:
        cfg = config.validate(loaded.cfg)
        data = build.build_data(cfg, preprocess=loaded.preprocess)
    except ConfigError as e:
        return None, None, f"no confusion matrix: cannot load the test split ({e})"
    test = data.arrays[2]
    if test is None or not len(test[0]):
        return None, None, "no confusion matrix: the run has no test split (data.test_fraction = 0)"
    trainer = Trainer(loaded.model, build.build_loss(cfg), SGD(loaded.model.parameters(), lr=0.0))
    logits = trainer.predict(DataLoader(build._tensors(*test), batch_size=cfg["data"]["eval_batch_size"]))
    metric = ConfusionMatrix(num_classes=info.get("num_classes"))
    metric.update(logits, test[1])
    which = os.path.basename(loaded.checkpoint).split(".")[0]
    if weights is not None and which != weights:
        return None, None, (f"no confusion matrix: test_metrics.json was computed with the {weights} weights, "
                            f"which are missing from {os.path.dirname(loaded.checkpoint)}")
    return metric.compute(), info.get("classes"), f"test split, {which} weights ({len(test[0])} samples)"


def _final_rows(history: dict, run_dir: str) -> list:
    """``(name, last epoch, best epoch, test)`` for the loss and every metric."""
    test = _test_metrics(run_dir).get("metrics", {})
    test = test if isinstance(test, dict) else {}
    rows = []
    for name in ["loss"] + plots.metric_names(history):
        for key in (name, "val_" + name):
            vals = np.asarray(history.get(key, []), dtype=float)
            if not len(vals) or np.all(np.isnan(vals)):
                continue
            lower = "loss" in name or name in ("mse", "mae", "ece")
            best = np.nanmin(vals) if lower else np.nanmax(vals)
            t = test.get(name) if key == name else None
            rows.append((key, vals[-1], best, t if isinstance(t, (int, float)) else None))
    return rows


def _num(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{float(v):.4f}"


def write_index(out_dir: str, title: str, images: dict, rows: list, notes: list, sections: str = "") -> str:
    """``index.html`` showing ``images`` ({caption: file name in out_dir}) and the metric table."""
    e = html.escape
    table = "\n".join(f"<tr><td>{e(k)}</td><td>{_num(last)}</td><td>{_num(best)}</td><td>{_num(t)}</td></tr>"
                      for k, last, best, t in rows)
    figs = "\n".join(f'<figure><img src="{e(f)}" alt="{e(c)}"><figcaption>{e(c)}</figcaption></figure>'
                     for c, f in images.items())
    note = "".join(f"<p class=note>{e(n)}</p>" for n in notes)
    text = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}} td:first-child{{text-align:left}}
figure{{display:inline-block;margin:1em}} img{{max-width:520px}} .note{{color:#666}}</style></head>
<body><h1>{e(title)}</h1>
<h2>final metrics</h2>
<table><tr><th>metric</th><th>last epoch</th><th>best epoch</th><th>test</th></tr>
{table}
</table>
{note}
{sections}
<h2>plots</h2>
{figs}
</body></html>
"""
    from ..io import atomic_write_text
    path = os.path.join(out_dir, "index.html")
    atomic_write_text(path, text)
    return path


def build_report(run_dir: str, out_dir: str | None = None, confusion: bool = True) -> dict:
    """Write the run's plots and index.html into ``out_dir`` (default ``run_dir/report``);
    return ``{'index': path, 'images': {caption: path}, 'notes': [...]}``.

    Everything is read and computed first (a bad run directory writes nothing); a plot of an earlier
    report that is not drawn this time is deleted."""
    from ..cli.errors import ConfigError
    from ..cli.commands.rl import is_rl_run
    if is_rl_run(run_dir):  # a lamina rl run: return against environment steps (report/rl.py)
        from .rl import build_rl_report
        return build_rl_report(run_dir, out_dir)
    csv_path = os.path.join(run_dir, "metrics.csv")
    if not os.path.isdir(run_dir):
        raise ConfigError(f"run directory not found: {run_dir}")
    if not os.path.isfile(csv_path):
        raise ConfigError(f"{run_dir} has no metrics.csv: is it a run directory written by lamina train?")
    try:
        history = plots.read_metrics(csv_path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"cannot read {csv_path}: {' '.join(str(e).split())}") from None
    if not history or not history.get("epoch"):
        raise ConfigError(f"{csv_path} has no epochs yet")
    notes = []
    cm = classes = None
    from .generative import GENERATIVE_PLOTS, generative_jobs
    gen_jobs, gen_notes = generative_jobs(run_dir, history)  # samples, reconstructions, latent map (generative runs)
    if gen_jobs or gen_notes:
        confusion = False  # a generative model's outputs are not class scores
    notes += gen_notes
    if confusion:
        cm, classes, note = confusion_matrix(run_dir)
        if cm is None:
            notes.append(note)
    tested = _test_metrics(run_dir)
    calibration = None  # classifiers: reliability diagram, ECE before/after temperature scaling (calibration.py)
    if not (gen_jobs or gen_notes):
        from .calibration import calibration_section
        calibration = calibration_section(run_dir, tested.get("weights") if tested.get("weights") in ("best", "last")
                                          else None)
        if calibration is not None and calibration.get("note"):
            notes.append(calibration["note"])
    if tested.get("weights") in ("best", "last"):
        notes.append(f"test metrics: the {tested['weights']} weights on the test split ({tested.get('num_samples')} "
                     "samples), as in test_metrics.json" + ("; the confusion matrix uses the same weights"
                                                           if cm is not None else ""))
    rows = _final_rows(history, run_dir)
    out_dir = out_dir or os.path.join(run_dir, REPORT)
    os.makedirs(out_dir, exist_ok=True)
    images = {}
    jobs = [("loss", "loss.png", lambda p: plots.plot_losses(history, p)),
            ("metrics", "metrics.png", lambda p: plots.plot_metrics(history, p)),
            ("learning rate", "lr.png", lambda p: plots.plot_lr(history, p))]
    if cm is not None:
        jobs.append((f"confusion matrix ({note})", "confusion_matrix.png",
                     lambda p: plots.plot_confusion(cm, p, classes, title=f"confusion matrix ({note})")))
    jobs += gen_jobs
    if calibration is not None and calibration.get("job"):
        jobs.append(calibration["job"])
    for caption, name, fn in jobs:
        if fn(os.path.join(out_dir, name)) is not None:
            images[caption] = name
    stale = ("loss.png", "metrics.png", "lr.png", "confusion_matrix.png", "calibration.png") + GENERATIVE_PLOTS
    for name in stale:  # plots of an earlier report
        if name not in images.values() and os.path.isfile(os.path.join(out_dir, name)):
            os.remove(os.path.join(out_dir, name))
    title = f"lamina run {os.path.basename(os.path.normpath(os.path.abspath(run_dir)))}"
    index = write_index(out_dir, title, images, rows, notes,
                        calibration["html"] if calibration is not None and calibration.get("html") else "")
    return {"index": index, "images": {c: os.path.join(out_dir, f) for c, f in images.items()}, "notes": notes}
