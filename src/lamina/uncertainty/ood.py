"""Out-of-distribution detection: score every input by how unsure the model is, then ask how
well the score separates in-distribution inputs from a supplied OOD set.

Scores (higher = more likely OOD), from the predictive distribution p (N, C):

    msp                 1 - max_c p_c      (Hendrycks & Gimpel, 2017: the max softmax probability, negated)
    entropy             H[p] = -sum_c p_c log p_c
    mutual_information  H[p] - E_t H[p_t]  (needs samples: MC dropout, an ensemble, a Bayesian net)

Separation, with the OOD inputs as the positive class:

    AUROC  P(score_ood > score_in) (+ 1/2 for ties): 1 perfect, 0.5 chance
    AUPR   average precision, sum_k (R_k - R_{k-1}) P_k over thresholds (scikit-learn's
           average_precision_score); 'aupr_in' swaps the roles (in-distribution positive, -score)
    FPR@95 the fraction of in-distribution inputs flagged when 95 % of the OOD ones are

>>> scores_in, scores_out = ood_scores(mc_dropout_predict(model, x_test)), ood_scores(mc_dropout_predict(model, x_noise))
>>> ood_evaluation(scores_in, scores_out)['mutual_information']['auroc']
"""
from __future__ import annotations

import numpy as np

from ..metrics.base import to_numpy
from ..metrics.ranking import rank_auc
from ._common import ClassificationUncertainty, entropy

__all__ = ["ood_scores", "auroc", "aupr", "fpr_at_tpr", "ood_evaluation", "max_softmax_probability"]


def max_softmax_probability(probs) -> np.ndarray:
    """max_c p_c for each row of probabilities (N, C): the classifier's confidence."""
    p = np.asarray(to_numpy(probs), dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"max_softmax_probability: expected probabilities (N, C), got shape {p.shape}")
    return p.max(axis=1)


def ood_scores(prediction) -> dict:
    """OOD scores (N,) per name, higher = more likely OOD.

    ``prediction``: a ``ClassificationUncertainty`` (from MC dropout, an ensemble or a Bayesian
    net: gives 'msp', 'entropy', 'mutual_information'), a dict with those fields, or a plain
    (N, C) probability array (gives 'msp' and 'entropy').
    """
    if isinstance(prediction, ClassificationUncertainty):
        prediction = prediction._asdict()
    if isinstance(prediction, dict):
        if "mean" not in prediction:
            raise ValueError(f"ood_scores: a dict prediction needs the key 'mean', got keys {sorted(prediction)}")
        mean = np.asarray(prediction["mean"], dtype=np.float64)
        out = {"msp": 1.0 - max_softmax_probability(mean),
               "entropy": np.asarray(prediction.get("predictive_entropy", entropy(mean)), dtype=np.float64)}
        if prediction.get("mutual_information") is not None:
            out["mutual_information"] = np.asarray(prediction["mutual_information"], dtype=np.float64)
        return out
    p = np.asarray(to_numpy(prediction), dtype=np.float64)
    return {"msp": 1.0 - max_softmax_probability(p), "entropy": entropy(p)}


def _scores_pair(scores_in, scores_out, owner):
    a = np.asarray(to_numpy(scores_in), dtype=np.float64).reshape(-1)
    b = np.asarray(to_numpy(scores_out), dtype=np.float64).reshape(-1)
    if a.size == 0 or b.size == 0:
        raise ValueError(f"{owner}: needs at least one in-distribution and one OOD score, got {a.size} and {b.size}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError(f"{owner}: scores contain NaN")
    return a, b


def auroc(scores_in, scores_out) -> float:
    """Area under the ROC curve with OOD as the positive class (ties count 1/2)."""
    a, b = _scores_pair(scores_in, scores_out, "auroc")
    s = np.concatenate([a, b])[:, None]
    pos = np.concatenate([np.zeros(a.size, bool), np.ones(b.size, bool)])[:, None]
    return float(rank_auc(s, pos)[0])


def _pr_points(s: np.ndarray, y: np.ndarray):
    """(true positives, false positives) at every distinct threshold, highest score first."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # the last index of each tie group
    tps = np.cumsum(y)[last].astype(np.float64)
    fps = (last + 1) - tps
    return tps, fps


def aupr(scores_in, scores_out, positive: str = "out") -> float:
    """Average precision (area under the precision-recall curve, scikit-learn's step form).

    ``positive='out'``: OOD inputs are the positives (AUPR-Out); 'in': the in-distribution
    inputs are, ranked by -score (AUPR-In).
    """
    a, b = _scores_pair(scores_in, scores_out, "aupr")
    if positive == "out":
        s, y = np.concatenate([a, b]), np.r_[np.zeros(a.size), np.ones(b.size)]
    elif positive == "in":
        s, y = -np.concatenate([a, b]), np.r_[np.ones(a.size), np.zeros(b.size)]
    else:
        raise ValueError(f"aupr: positive must be 'out' or 'in', got {positive!r}")
    tps, fps = _pr_points(s, y)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fpr_at_tpr(scores_in, scores_out, tpr: float = 0.95) -> float:
    """False-positive rate (in-distribution flagged) at the first threshold catching ``tpr`` of the OOD inputs."""
    a, b = _scores_pair(scores_in, scores_out, "fpr_at_tpr")
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f"fpr_at_tpr: tpr must be in (0, 1], got {tpr!r}")
    tps, fps = _pr_points(np.concatenate([a, b]), np.r_[np.zeros(a.size), np.ones(b.size)])
    k = int(np.searchsorted(tps / b.size, tpr - 1e-12, side="left"))
    return float(fps[min(k, tps.size - 1)] / a.size)


def ood_evaluation(in_scores, out_scores) -> dict:
    """{score name: {'auroc', 'aupr_out', 'aupr_in', 'fpr_at_95_tpr'}} for every score present in both.

    ``in_scores`` / ``out_scores``: dicts from ``ood_scores`` (or predictions, passed through it).
    """
    if not isinstance(in_scores, dict) or "mean" in in_scores:
        in_scores = ood_scores(in_scores)
    if not isinstance(out_scores, dict) or "mean" in out_scores:
        out_scores = ood_scores(out_scores)
    names = [k for k in in_scores if k in out_scores]
    if not names:
        raise ValueError(f"ood_evaluation: no score in common between {sorted(in_scores)} and {sorted(out_scores)}")
    return {k: {"auroc": auroc(in_scores[k], out_scores[k]),
                "aupr_out": aupr(in_scores[k], out_scores[k], "out"),
                "aupr_in": aupr(in_scores[k], out_scores[k], "in"),
                "fpr_at_95_tpr": fpr_at_tpr(in_scores[k], out_scores[k], 0.95)} for k in names}
