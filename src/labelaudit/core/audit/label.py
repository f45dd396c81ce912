"""The `label` issue type: likely label errors, by the confident-learning kernels of core (no second
implementation).

With pred_probs, the audit runs confident learning with the data-centric workflow's fixed settings:
flags of the prune_by_noise_rate filter with frac_noise = 1 and MIN_EXAMPLES_PER_CLASS = 10 on the
calibrated confident joint (find_label_issues' own default is 1: a class with at most 10 given labels
is never pruned here); per-example score the self-confidence P[i, y_i]; dataset score 1 - n_off / N
with n_off the off-diagonal count of the uncalibrated joint after the "label wins the nudged argmax"
rule (health's score, not 1 - flagged / N).

    label_issues(ctx: Context) -> IssueResult
    knn_pred_probs(labels, features, n_classes, *, k=10) -> (N, K) float64

Without pred_probs, out-of-sample probabilities are made from the features as the reference makes them:
scikit-learn's KNeighborsClassifier(n_neighbors=k + 1) (its defaults otherwise: Euclidean distance,
uniform weights) fitted and queried on the same rows, each row's own vote then taken out:
(p - onehot(y) / (k + 1)) * (k + 1) / k, the label fractions of the k other neighbours.

Columns: is_label_issue (N,) bool, label_score (N,) float64, given_label and predicted_label (N,) int64
(class indices; first argmax). Info: counts, thresholds, the calibrated confident joint, the prior and
noise matrices estimated without the convergence loop, the class table and the overlapping class pairs
(as `health` and `overlap` compute them); with many classes (a sparse context) the matrices are given
as their non-zero cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.core import confident as kn
from labelaudit.core.audit.result import IssueResult
from labelaudit.core.context import Context
from labelaudit.core.count import estimate_latent, estimate_latent_cells
from labelaudit.core.filter import issue_rows
from labelaudit.core.health import HealthReport
from labelaudit.core.report import records
from labelaudit.errors import InputError

MIN_EXAMPLES_PER_CLASS = 10


def label_issues(ctx: Context) -> IssueResult:
    """The label type on a validated context (its thresholds, row pass and joint are shared with the
    other types that need them)."""
    rows = issue_rows(ctx, filter_by="prune_by_noise_rate", min_examples_per_class=MIN_EXAMPLES_PER_CLASS)
    flags = np.zeros(ctx.n, dtype=bool)
    flags[rows] = True
    scores = np.asarray(ctx.self_confidence, dtype=np.float64)
    columns = {
        "is_label_issue": flags,
        "label_score": scores,
        "given_label": np.asarray(ctx.labels, dtype=np.int64),
        "predicted_label": ctx.predicted(),
    }
    n_off = ctx.num_issues("off_diagonal")
    return IssueResult("label", columns, 1.0 - n_off / ctx.n, _info(ctx, flags, scores, n_off))


def knn_pred_probs(labels: np.ndarray, features: np.ndarray, n_classes: int, *, k: int = 10) -> np.ndarray:
    """(N, K) float64 probabilities from the labels of each row's k nearest other rows (see above)."""
    from sklearn.neighbors import KNeighborsClassifier

    n = len(labels)
    if k + 1 > n:
        raise InputError(f"label issues from features need more than k + 1 = {k + 1} rows; got {n}")
    model = KNeighborsClassifier(n_neighbors=k + 1).fit(features, labels)
    votes = np.zeros((n, n_classes))
    votes[:, model.classes_] = model.predict_proba(features)
    votes[np.arange(n), labels] -= 1 / (k + 1)
    return votes * (k + 1) / k


def _info(ctx: Context, flags: np.ndarray, scores: np.ndarray, n_off: int) -> dict[str, Any]:
    health = HealthReport(ctx)
    info: dict[str, Any] = {
        "num_label_issues": int(np.count_nonzero(flags)),
        "num_off_diagonal": n_off,
        "average_label_quality": float(scores.mean()),
        "min_examples_per_class": MIN_EXAMPLES_PER_CLASS,
        "confident_thresholds": np.asarray(ctx.thresholds, dtype=np.float64).tolist(),
    }
    if ctx.sparse:
        cells = ctx.confident_cells
        py, nm, inv = estimate_latent_cells(cells, ctx.counts, converge_latent_estimates=False)
        info["confident_joint"], info["py"] = _cells(cells), py.tolist()
        info["noise_matrix"], info["inverse_noise_matrix"] = _cells(nm), _cells(inv)
    else:
        cj = ctx.confident_joint
        py, nm_d, inv_d = estimate_latent(cj, ctx.labels, converge_latent_estimates=False)
        info["confident_joint"], info["py"] = cj.tolist(), py.tolist()
        info["noise_matrix"], info["inverse_noise_matrix"] = nm_d.tolist(), inv_d.tolist()
    info["classes_by_label_quality"] = records(health.classes)
    pairs = health.pairs()
    keep = pairs["joint_probability"] > 0  # pairs never confused (all zero) would only list every pair
    info["overlapping_classes"] = records({k: v[keep] for k, v in pairs.items()})
    return info


def _cells(m: kn.Cells) -> dict[str, Any]:
    return {"shape": [m.k, m.k], "row": m.rows.tolist(), "col": m.cols.tolist(), "value": m.values.tolist()}
