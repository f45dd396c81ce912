"""The `null` issue type: examples whose features are missing.

A feature entry is null when it is NaN (the reference uses pandas' `isna`, which on a numeric array is
NaN only: ±inf is a value). Per example the score is the fraction of its d entries that are present; an
example is flagged when none is. The dataset score is the mean score.

    null_issues(features: (N, d) float or int array, *, batch_rows: int | None = None) -> IssueResult

Features are read in row blocks (a memmap is never loaded whole); integer features have no nulls.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.core.audit.result import IssueResult
from labelaudit.core.batching import row_slices

BLOCK_ELEMENTS = 1 << 22  # feature entries tested at a time: bounds the (rows, d) mask temporary


def null_issues(features: np.ndarray, *, batch_rows: int | None = None) -> IssueResult:
    """Null scores (N,) float64 in [0, 1] and flags (N,) bool of a 2-D feature array.

    info: average_null_score, most_common_issue {pattern, rows_affected, count} (the most frequent
    null mask among rows with a null, as a 0/1 string; the first seen among equally frequent ones;
    "no_null" when nothing is null) and column_impact (the fraction of null entries of each column)."""
    n, d = features.shape
    missing = np.zeros(n, dtype=np.int64)
    per_column = np.zeros(d, dtype=np.int64)
    if features.dtype.kind in "fc":
        rows = batch_rows or max(1, BLOCK_ELEMENTS // max(d, 1))
        for sl in row_slices(n, rows):
            mask = np.isnan(features[sl])
            missing[sl] = mask.sum(axis=1)
            per_column += mask.sum(axis=0)
    scores = (d - missing) / d
    flags = missing == d
    info: dict[str, Any] = {
        "average_null_score": float(scores.mean()),
        "most_common_issue": _most_common(features, np.flatnonzero(missing)),
        "column_impact": (per_column / n).tolist(),
    }
    columns = {"is_null_issue": flags, "null_score": scores}
    return IssueResult("null", columns, float(scores.mean()), info)


def _most_common(features: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    """The most frequent null pattern among `rows` (the rows holding a null), first seen on a tie."""
    if not len(rows):
        return {"pattern": "no_null", "rows_affected": [], "count": 0}
    masks = np.isnan(np.asarray(features[rows]))
    patterns, first, inverse, counts = np.unique(
        masks, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    top = np.flatnonzero(counts == counts.max())
    best = top[np.argmin(first[top])]  # among the most frequent, the one met first
    pattern = "".join("1" if v else "0" for v in patterns[best])
    members = rows[np.asarray(inverse).reshape(-1) == best]
    return {"pattern": pattern, "rows_affected": members.tolist(), "count": int(counts[best])}
