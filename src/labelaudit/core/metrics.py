"""How well flagged sets and scores find known label errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from labelaudit.core.report import Report


def set_metrics(flagged: np.ndarray, is_error: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of flagged example indices against a boolean truth (N,)."""
    flagged = np.unique(np.asarray(flagged, dtype=np.int64))
    n_errors = int(np.count_nonzero(is_error))
    hits = int(np.count_nonzero(is_error[flagged]))
    precision = hits / len(flagged) if len(flagged) else 0.0
    recall = hits / n_errors if n_errors else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n_flagged": len(flagged),
        "n_errors": n_errors,
        "true_positives": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def auroc(scores: np.ndarray, is_error: np.ndarray) -> float:
    """Area under the ROC curve of `scores` as a detector of errors, lower score = more suspicious
    (ties count one half, as the Mann-Whitney statistic). NaN when either group is empty."""
    s = -np.asarray(scores, dtype=np.float64)
    pos = np.asarray(is_error, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over runs of equal values
    starts = np.flatnonzero(np.diff(sorted_s, prepend=np.nan) != 0)
    ends = np.append(starts[1:], len(s))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_k_metrics(scores: np.ndarray, is_error: np.ndarray, k: int) -> dict[str, float]:
    """Precision and recall of the k lowest scores (ties by index)."""
    from labelaudit.core.rank import find_top_issues

    top = find_top_issues(scores, top=k)
    m = set_metrics(top, is_error)
    return {"k": int(k), "precision_at_k": m["precision"], "recall_at_k": m["recall"]}


def evaluate(
    labels: np.ndarray,
    true_labels: np.ndarray,
    *,
    flagged: np.ndarray | None = None,
    scores: np.ndarray | None = None,
) -> Report:
    """evaluate: precision, recall and F1 of `flagged` indices and AUROC / top-k metrics of `scores`
    (N,) against the examples whose label differs from the true label."""
    from labelaudit.core.report import Report
    from labelaudit.errors import InputError

    y, t = np.asarray(labels), np.asarray(true_labels)
    if y.shape != t.shape or y.ndim != 1:
        raise InputError(f"true labels have shape {t.shape}, labels {y.shape}; they must match")
    is_error = y != t
    results: dict = {"n_label_errors": int(is_error.sum())}
    if flagged is not None:
        results["issues"] = set_metrics(flagged, is_error)
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != y.shape:
            raise InputError(f"scores have shape {s.shape} but there are {len(y)} labels")
        if not np.isfinite(s).all():
            raise InputError(
                f"scores must be finite; row {int(np.argmax(~np.isfinite(s)))} holds {float(s[~np.isfinite(s)][0])}"
            )
        results["scores"] = {"auroc": auroc(s, is_error), **top_k_metrics(s, is_error, int(is_error.sum()))}
    metrics = [
        (f"{part}: {key}", value)
        for part in ("issues", "scores")
        for key, value in results.get(part, {}).items()
    ]
    return Report(
        command="evaluate",
        params={},
        n=len(y),
        k=int(max(y.max(), t.max())) + 1 if len(y) else 0,
        class_names=None,
        headline=f"Against {results['n_label_errors']} known label errors in {len(y)} examples",
        tables={"metrics": {"metric": [m for m, _ in metrics], "value": [v for _, v in metrics]}},
        results=results,
        views=("plain:metrics",),
    )
