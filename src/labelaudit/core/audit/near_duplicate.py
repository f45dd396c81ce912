"""The ``near_duplicate`` issue type (spec audit.md §6).

``near_duplicate(*, graph=None, features=None, k=10, threshold=0.13, n_jobs=1) -> IssueResult``

With ``m = max(median nearest distance, 1e-6)``: score ``1 - exp(-(1/m) * D[i,0])`` (exactly 0 where the
nearest distance is within 1e-8 of 0); row ``i``'s near-duplicate set is its graph neighbours closer than
``threshold * m`` (graph order), followed by every row (increasing index) that has ``i`` in its own set but
is not in ``i``'s; flagged when the set is non-empty. Columns: ``is_near_duplicate_issue``,
``near_duplicate_score``, ``near_duplicate_sets`` (object array of int64 arrays) and
``distance_to_nearest_neighbor``. Dataset score: the mean score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.core.audit.graph import KnnGraph, build_graph
from labelaudit.core.audit.result import IssueResult


def near_duplicate(
    *,
    graph: KnnGraph | None = None,
    features: Any = None,
    k: int = 10,
    threshold: float = 0.13,
    n_jobs: int = 1,
) -> IssueResult:
    if graph is None:
        if features is None:
            raise ValueError("near_duplicate needs a graph or features")
        graph = build_graph(features, k=k, n_jobs=n_jobs)
    dist = graph.distances[:, :k]
    ind = graph.indices[:, :k]
    nearest = dist[:, 0]
    median = max(np.median(nearest), 1e-6)
    temperature = 1 / median
    scores = 1 - np.exp(-temperature * nearest)
    scores[np.isclose(nearest, 0)] = 0
    close = dist < threshold * median
    sets = near_duplicate_sets(ind, close)
    flags = close.any(axis=1)
    flags[ind[close]] = True
    score = float(scores.mean())
    return IssueResult(
        "near_duplicate",
        {
            "is_near_duplicate_issue": flags,
            "near_duplicate_score": scores.astype(np.float64),
            "near_duplicate_sets": sets,
            "distance_to_nearest_neighbor": nearest.astype(np.float64),
        },
        score,
        {
            "average_near_duplicate_score": score,
            "metric": graph.metric,
            "k": k,
            "threshold": threshold,
            "median_distance_to_nearest_neighbor": float(median),
        },
    )


def near_duplicate_sets(ind: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Each row's neighbours where ``close`` (graph order), then the rows that list it but are not listed
    by it (increasing index): an object array of N int64 arrays."""
    n, k = ind.shape
    rows, cols = np.nonzero(close)
    fwd_src, fwd_dst = rows, ind[rows, cols]
    fwd_key = fwd_src * n + fwd_dst
    back_key = fwd_dst * n + fwd_src  # (j, i) for each i -> j
    extra = ~np.isin(back_key, fwd_key)
    ext_src, ext_dst = fwd_dst[extra], fwd_src[extra]
    src = np.concatenate([fwd_src, ext_src])
    dst = np.concatenate([fwd_dst, ext_dst])
    # forward entries keep graph order (their column), extras follow, sorted by index
    second = np.concatenate([np.zeros(fwd_src.size, np.int64), np.ones(ext_src.size, np.int64)])
    third = np.concatenate([cols.astype(np.int64), ext_dst])
    order = np.lexsort((third, second, src))
    src, dst = src[order], dst[order].astype(np.int64)
    bounds = np.searchsorted(src, np.arange(n + 1))
    out = np.empty(n, dtype=object)
    for i, (a, b) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
        out[i] = dst[a:b]  # the column format is N small arrays; everything before is vectorised
    return out
