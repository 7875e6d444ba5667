"""Calibration: does a model that says "90 % sure" get 90 % right? Measures, a reliability
diagram, and temperature scaling (Guo et al., 2017) to fix an over- or under-confident model.

Temperature scaling divides every logit by one number T > 0 fit on held-out data:

    p(y | x) = softmax(z / T),   T = argmin_T  -(1/N) sum_i log softmax(z_i / T)_{y_i}

It never changes the predicted class (argmax is invariant), only the confidence.
With beta = 1 / T the NLL is convex (a log-sum-exp of beta z minus a linear term), so a
safeguarded 1-D Newton iteration finds the exact minimum; ``method='lbfgs'`` runs lamina's
L-BFGS on log T instead.

Measures (probabilities p (N, C), labels y (N,)), all "lower is better":

    ECE = sum_b (n_b / N) |acc_b - conf_b|,  MCE = max_b |acc_b - conf_b|
          (equal-width confidence bins, conf = max_c p_c; Naeini et al. 2015, Guo et al. 2017)
    NLL = -(1/N) sum_i log p_{i, y_i}
    Brier = (1/N) sum_i sum_c (p_ic - [c = y_i])^2

>>> ts = TemperatureScaling().fit(val_logits, val_labels)
>>> ts.temperature, calibration_metrics(ts.predict_proba(test_logits), test_labels)
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad
from ..metrics.base import to_numpy
from ..metrics.calibration import ExpectedCalibrationError
from ..nn.module import Module
from ..tensor import Tensor
from ._common import _batch_x, as_input_tensor, softmax_np

__all__ = ["expected_calibration_error", "maximum_calibration_error", "negative_log_likelihood", "brier_score",
           "reliability_diagram", "calibration_metrics", "TemperatureScaling", "TemperatureScaledModel",
           "fit_temperature", "calibrate_temperature", "predict_logits", "plot_reliability_diagram"]


# ------------------------------------------------------------------ inputs
def _probs_labels(probs, labels, from_logits: bool, owner: str):
    p = np.asarray(to_numpy(probs), dtype=np.float64)
    y = np.asarray(to_numpy(labels))
    if p.ndim != 2:
        raise ValueError(f"{owner}: expected probabilities of shape (N, C), got shape {p.shape}")
    if y.shape != p.shape[:1]:
        raise ValueError(f"{owner}: labels must have shape ({p.shape[0]},) to match probabilities {p.shape}, "
                         f"got {y.shape}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"{owner}: labels must be integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise IndexError(f"{owner}: labels must be in [0, {p.shape[1]}), got values in [{y.min()}, {y.max()}]")
    if from_logits:
        p = softmax_np(p)
    elif p.size and (p.min() < -1e-6 or p.max() > 1 + 1e-6 or np.abs(p.sum(1) - 1).max() > 1e-3):
        raise ValueError(f"{owner}: probabilities must lie in [0, 1] and sum to 1 over classes; pass "
                         "from_logits=True for logits")
    return p, y.astype(np.int64)


def _log_softmax_np(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# ------------------------------------------------------------------ measures
def expected_calibration_error(probs, labels, n_bins: int = 15, from_logits: bool = False) -> float:
    """ECE = sum_b (n_b / N) |acc_b - conf_b| over ``n_bins`` equal-width confidence bins (b/B, (b+1)/B]."""
    p, y = _probs_labels(probs, labels, from_logits, "expected_calibration_error")
    m = ExpectedCalibrationError(n_bins=n_bins, norm="l1")
    m.update(p, y)
    return m.compute()


def maximum_calibration_error(probs, labels, n_bins: int = 15, from_logits: bool = False) -> float:
    """MCE = max over non-empty bins of |acc_b - conf_b| (equal-width bins, as ECE)."""
    p, y = _probs_labels(probs, labels, from_logits, "maximum_calibration_error")
    m = ExpectedCalibrationError(n_bins=n_bins, norm="max")
    m.update(p, y)
    return m.compute()


def negative_log_likelihood(probs, labels, from_logits: bool = False) -> float:
    """NLL = -(1/N) sum_i log p_{i, y_i} (from logits: computed with a stable log-softmax)."""
    owner = "negative_log_likelihood"
    if from_logits:
        z = np.asarray(to_numpy(probs), dtype=np.float64)
        _, y = _probs_labels(z, labels, True, owner)
        logp = _log_softmax_np(z)
    else:
        p, y = _probs_labels(probs, labels, False, owner)
        logp = np.log(np.maximum(p, np.finfo(np.float64).tiny))
    return float(-logp[np.arange(len(y)), y].mean())


def brier_score(probs, labels, from_logits: bool = False) -> float:
    """Brier = (1/N) sum_i sum_c (p_ic - [c = y_i])^2 (0 is perfect, 2 the worst)."""
    p, y = _probs_labels(probs, labels, from_logits, "brier_score")
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((p - onehot) ** 2).sum(axis=1).mean())


def reliability_diagram(probs, labels, n_bins: int = 15, from_logits: bool = False) -> dict:
    """Per-bin data of a reliability diagram: ``bin_edges`` (B + 1,), ``accuracy``, ``confidence``
    (B,; nan for empty bins), ``count`` (B,), and the ``ece`` / ``mce`` they give."""
    p, y = _probs_labels(probs, labels, from_logits, "reliability_diagram")
    m = ExpectedCalibrationError(n_bins=n_bins, norm="l1")
    m.update(p, y)
    d = m.reliability_diagram_data()
    seen = d["count"] > 0
    gap = np.abs(d["accuracy"][seen] - d["confidence"][seen])
    d["ece"] = float(np.sum(gap * d["count"][seen]) / max(1, d["count"].sum()))
    d["mce"] = float(gap.max()) if gap.size else math.nan
    return d


def calibration_metrics(probs, labels, n_bins: int = 15, from_logits: bool = False) -> dict:
    """{'accuracy', 'ece', 'mce', 'nll', 'brier'} of one set of predictions."""
    p, y = _probs_labels(probs, labels, from_logits, "calibration_metrics")
    d = reliability_diagram(p, y, n_bins)
    if from_logits:
        nll = negative_log_likelihood(probs, labels, from_logits=True)
    else:
        nll = negative_log_likelihood(p, y)
    return {"accuracy": float((p.argmax(1) == y).mean()), "ece": d["ece"], "mce": d["mce"], "nll": nll,
            "brier": brier_score(p, y)}


# ------------------------------------------------------------------ temperature scaling
def _nll_beta(z: np.ndarray, y: np.ndarray, beta: float):
    """NLL(beta) = mean(logsumexp(beta z) - beta z_y), its first and second derivatives in beta."""
    s = beta * z
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    tot = e.sum(axis=1, keepdims=True)
    p = e / tot
    zy = z[np.arange(len(y)), y]
    nll = float(np.mean(np.log(tot[:, 0]) + (beta * z).max(axis=1) - beta * zy))
    ez = (p * z).sum(axis=1)
    d1 = float(np.mean(ez - zy))
    d2 = float(np.mean((p * z * z).sum(axis=1) - ez * ez))
    return nll, d1, d2


def _fit_newton(z, y, t_min, t_max, max_iter=100, tol=1e-10):
    beta, lo, hi = 1.0, 1.0 / t_max, 1.0 / t_min
    f, g, h = _nll_beta(z, y, beta)
    for _ in range(max_iter):
        if abs(g) < tol:
            break
        step = g / h if h > 1e-300 else math.copysign(beta, g)
        new = min(max(beta - step, lo), hi)
        fn, gn, hn = _nll_beta(z, y, new)
        while fn > f and abs(new - beta) > 1e-15:  # backtrack toward beta (convex: this terminates)
            new = 0.5 * (new + beta)
            fn, gn, hn = _nll_beta(z, y, new)
        if fn > f:
            break
        converged = abs(new - beta) <= 1e-12 * max(1.0, beta)
        beta, f, g, h = new, fn, gn, hn
        if converged:
            break
    return 1.0 / beta


def _fit_lbfgs(z, y, t_min, t_max, max_iter=100):
    from ..nn import functional as F
    from ..nn.parameter import Parameter
    from ..ops.creation import zeros
    from ..optim.lbfgs import LBFGS
    logits, labels = Tensor(z), Tensor(y)
    log_t = Parameter(zeros(1, dtype=np.float64))
    opt = LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(np.clip(np.exp(log_t.array[0]), t_min, t_max))


def fit_temperature(logits, labels, method: str = "newton", t_min: float = 1e-2, t_max: float = 1e2) -> float:
    """The T in [t_min, t_max] minimising the NLL of softmax(logits / T) on (logits, labels).

    ``method``: 'newton' (exact 1-D minimisation in beta = 1/T, convex) or 'lbfgs' (lamina's
    L-BFGS with a strong-Wolfe line search on log T). The result never has a higher NLL than
    T = 1 on the data it was fit on (T = 1 is returned if the search did worse).
    """
    z = np.asarray(to_numpy(logits), dtype=np.float64)
    _, y = _probs_labels(z, labels, True, "fit_temperature")
    if len(y) == 0:
        raise ValueError("fit_temperature: needs at least one (logits, label) pair")
    if not 0 < t_min <= 1.0 <= t_max:
        raise ValueError(f"fit_temperature: need 0 < t_min <= 1 <= t_max, got t_min={t_min}, t_max={t_max}")
    if method == "newton":
        t = _fit_newton(z, y, t_min, t_max)
    elif method == "lbfgs":
        t = _fit_lbfgs(z, y, t_min, t_max)
    else:
        raise ValueError(f"fit_temperature: method must be 'newton' or 'lbfgs', got {method!r}")
    if _nll_beta(z, y, 1.0 / t)[0] > _nll_beta(z, y, 1.0)[0]:
        return 1.0
    return float(t)


class TemperatureScaling:
    """Post-hoc calibration by one temperature: ``fit`` on validation logits, then
    ``transform(logits) = logits / T`` and ``predict_proba(logits) = softmax(logits / T)``.

    >>> ts = TemperatureScaling().fit(val_logits, val_labels)
    >>> calibrated = ts.wrap(model)          # a Module returning model(x) / T
    """

    def __init__(self, method: str = "newton", t_min: float = 1e-2, t_max: float = 1e2):
        self.method, self.t_min, self.t_max = method, t_min, t_max
        self.temperature = 1.0
        self.fitted = False

    def fit(self, logits, labels) -> "TemperatureScaling":
        self.temperature = fit_temperature(logits, labels, self.method, self.t_min, self.t_max)
        self.fitted = True
        return self

    def transform(self, logits):
        """logits / T (a NumPy array for array input, a Tensor for a Tensor)."""
        if isinstance(logits, Tensor):
            return logits / self.temperature
        return np.asarray(logits, dtype=np.float64) / self.temperature

    def predict_proba(self, logits) -> np.ndarray:
        return softmax_np(np.asarray(to_numpy(logits), dtype=np.float64) / self.temperature)

    def wrap(self, model) -> "TemperatureScaledModel":
        return TemperatureScaledModel(model, self.temperature)

    def state_dict(self) -> dict:
        return {"temperature": self.temperature, "method": self.method}

    def __repr__(self):
        return f"TemperatureScaling(temperature={self.temperature:.4g}, method={self.method!r})"


class TemperatureScaledModel(Module):
    """y = model(x) / T: a classifier's logits after temperature scaling (same argmax)."""

    def __init__(self, model, temperature: float):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"TemperatureScaledModel: temperature must be positive, got {temperature!r}")
        self.model, self.temperature = model, float(temperature)

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs) / self.temperature

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:.4g}"


def predict_logits(model, data, batch_size: int = 256):
    """(logits (N, C), labels (N,) or None) of ``model`` in eval mode over a loader of (x, y)
    batches, or over an array/Tensor of inputs (labels None)."""
    was = [(m, m.training) for m in model.modules()]
    outs, labels = [], []
    try:
        model.eval()
        with no_grad():
            if isinstance(data, (Tensor, np.ndarray)):
                full = as_input_tensor(data, model)
                batches = ((full[i:i + batch_size], None) for i in range(0, full.shape[0], batch_size))
            else:
                batches = ((_batch_x(b), b[1] if isinstance(b, (tuple, list)) and len(b) == 2 else
                            (b.get("y") if isinstance(b, dict) else None)) for b in data)
            for x, y in batches:
                outs.append(to_numpy(model(as_input_tensor(x, model))).astype(np.float64))
                if y is not None:
                    labels.append(to_numpy(y))
    finally:
        for m, flag in was:
            m.training = flag
    if not outs:
        raise ValueError("predict_logits: the data yielded no batches")
    return np.concatenate(outs), (np.concatenate(labels) if labels and len(labels) == len(outs) else None)


def calibrate_temperature(val_logits, val_labels, test_logits=None, test_labels=None, n_bins: int = 15,
                          method: str = "newton") -> dict:
    """Fit T on the validation split and measure before / after (the report's calibration section).

    Returns {'temperature', 'val_before', 'val_after', 'reliability_before', 'reliability_after'
    (diagram data, validation split unless test data are given), and 'test_before' / 'test_after'
    with test data}; each *_before/_after is ``calibration_metrics``' dict.
    """
    ts = TemperatureScaling(method).fit(val_logits, val_labels)
    z = np.asarray(to_numpy(val_logits), dtype=np.float64)
    out = {"temperature": ts.temperature,
           "val_before": calibration_metrics(z, val_labels, n_bins, from_logits=True),
           "val_after": calibration_metrics(z / ts.temperature, val_labels, n_bins, from_logits=True)}
    diag_z, diag_y = z, val_labels
    if test_logits is not None:
        zt = np.asarray(to_numpy(test_logits), dtype=np.float64)
        out["test_before"] = calibration_metrics(zt, test_labels, n_bins, from_logits=True)
        out["test_after"] = calibration_metrics(zt / ts.temperature, test_labels, n_bins, from_logits=True)
        diag_z, diag_y = zt, test_labels
    out["reliability_before"] = reliability_diagram(diag_z, diag_y, n_bins, from_logits=True)
    out["reliability_after"] = reliability_diagram(diag_z / ts.temperature, diag_y, n_bins, from_logits=True)
    return out


# ------------------------------------------------------------------ picture
def plot_reliability_diagram(diagrams, labels=None, ax=None, title: str | None = None, path=None):
    """Draw reliability diagrams (accuracy per confidence bin against the diagonal).

    ``diagrams``: one dict from ``reliability_diagram`` or a list of them (e.g. before and after
    temperature scaling), named by ``labels`` in the legend with their ECE. Imports matplotlib
    only when called (``pip install matplotlib``). Saves to ``path`` if given; returns the Figure.
    """
    try:
        import matplotlib
        if ax is None and path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plot_reliability_diagram needs matplotlib: pip install matplotlib") from e
    if isinstance(diagrams, dict):
        diagrams = [diagrams]
    labels = list(labels) if labels is not None else [None] * len(diagrams)
    if len(labels) != len(diagrams):
        raise ValueError(f"plot_reliability_diagram: {len(diagrams)} diagrams but {len(labels)} labels")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    width_frac = 1.0 / len(diagrams)
    for k, (d, name) in enumerate(zip(diagrams, labels)):
        edges = np.asarray(d["bin_edges"])
        w = np.diff(edges)
        acc = np.nan_to_num(np.asarray(d["accuracy"], dtype=np.float64))
        left = edges[:-1] + k * w * width_frac
        text = f"{name} (ECE {d['ece']:.3f})" if name is not None and "ece" in d else name
        ax.bar(left, acc, width=w * width_frac, align="edge", alpha=0.7, edgecolor="black", linewidth=0.5,
               label=text)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title or "Reliability diagram")
    ax.legend(loc="upper left", fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
