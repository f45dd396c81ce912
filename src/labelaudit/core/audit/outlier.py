"""The ``outlier`` issue type (spec audit.md §5).

``outlier(*, graph=None, features=None, labels=None, pred_probs=None, k=10, t=1, threshold=None, n_jobs=1)
-> IssueResult``

* Feature path (a ``graph``, or ``features`` to build one with ``build_graph(features, k=k)``): ``Dbar_i`` =
  mean of row ``i``'s ``k`` graph distances; score ``exp(-t * Dbar_i / max(sigma, 1e-6))`` with ``sigma =
  max(median Dbar, 100 eps)``, exactly 1 where ``Dbar_i`` is below the metric's precision tolerance; flagged
  when ``Dbar_i > Q3 + (1/threshold - 1) * IQR`` (``threshold`` defaults to 0.37037).
* pred_probs path (no graph, no features; needs ``labels``): class thresholds as in confident learning, the
  adjusted probabilities' normalised entropy ``1 - H/ln K`` as the score; flagged when below ``threshold *
  median`` (``threshold`` defaults to 0.13).

Arithmetic keeps the graph's dtype (float32 distances give the reference's float32 numbers); the returned
columns are float64 (lossless). Dataset score: the mean score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.core.audit.graph import KnnGraph, build_graph
from labelaudit.core.audit.result import IssueResult

FEATURE_THRESHOLD = 0.37037
PRED_PROBS_THRESHOLD = 0.13
_EPS = float(np.finfo(np.float64).eps)
_EPSNEG = float(np.finfo(np.float64).epsneg)
TOLERANCE = {"cosine": 100 * _EPSNEG, "euclidean": float(np.sqrt(100 * _EPS))}


def outlier(
    *,
    graph: KnnGraph | None = None,
    features: Any = None,
    labels: np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    k: int = 10,
    t: int = 1,
    threshold: float | None = None,
    n_jobs: int = 1,
) -> IssueResult:
    if graph is None and features is not None:
        graph = build_graph(features, k=k, n_jobs=n_jobs)
    if graph is not None:
        return _from_graph(graph, k, t, FEATURE_THRESHOLD if threshold is None else threshold)
    if pred_probs is None or labels is None:
        raise ValueError("outlier needs a graph, features, or pred_probs with labels")
    return _from_pred_probs(labels, pred_probs, PRED_PROBS_THRESHOLD if threshold is None else threshold)


def _from_graph(graph: KnnGraph, k: int, t: int, threshold: float) -> IssueResult:
    dist = graph.distances[:, :k]
    dbar = dist.mean(axis=1)
    sigma = max(np.median(dbar), 100 * _EPS)
    scores = np.exp(-t * dbar / max(sigma, 1e-6))
    scores[dbar < TOLERANCE[graph.metric]] = 1.0
    q3 = np.percentile(dbar, 75)
    lam = np.inf if threshold == 0 else 1 / threshold - 1
    issue_threshold = q3 + lam * iqr(dbar) if threshold != 0 else np.inf
    flags = dbar > issue_threshold
    score = float(scores.mean())
    return IssueResult(
        "outlier",
        {"is_outlier_issue": flags, "outlier_score": scores.astype(np.float64)},
        score,
        {
            "average_ood_score": score,
            "threshold": threshold,
            "issue_threshold": float(issue_threshold),
            "k": k,
            "t": t,
            "scaling_factor": float(sigma),
            "metric": graph.metric,
        },
    )


def class_thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Mean self-probability per given class (2 for a class never given), floored at 2e-6 (spec §4.1)."""
    n, k = pred_probs.shape
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros(k)
    np.add.at(sums, labels, pred_probs[np.arange(n), labels])
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(counts > 0, sums / np.maximum(counts, 1), 2.0)
    return np.maximum(t, 2e-6)


def _from_pred_probs(labels: np.ndarray, pred_probs: np.ndarray, threshold: float) -> IssueResult:
    p = np.asarray(pred_probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    t = class_thresholds(y, p)
    q = p - t + t.max()
    q = q / q.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(q > 0, q * np.log(q), 0.0)
    scores = 1 - (-plogp.sum(axis=1)) / np.log(p.shape[1])
    issue_threshold = threshold * np.median(scores)
    flags = scores < issue_threshold
    score = float(scores.mean())
    return IssueResult(
        "outlier",
        {"is_outlier_issue": flags, "outlier_score": scores},
        score,
        {
            "average_ood_score": score,
            "threshold": threshold,
            "issue_threshold": float(issue_threshold),
            "confident_thresholds": t.tolist(),
        },
    )


def iqr(x: np.ndarray) -> np.floating:
    """The interquartile range as ``scipy.stats.iqr(x)`` (1.17) computes it, in the array's own float
    dtype: its sample quantiles of Hyndman and Fan's type 7 (``jg = p n + 1 - p``, then ``(1 - g) y[j] +
    g y[j + 1]`` over the sorted values), the 25th subtracted from the 75th. Here so that the run does not
    import scipy.stats (half a second)."""
    y = np.sort(np.asarray(x, dtype=np.result_type(x, np.float32)))
    dtype = y.dtype.type
    p = np.array([0.25, 0.75], dtype=y.dtype)
    n = dtype(y.size)
    jg = p * n + (1 - p)
    jp1 = jg // 1
    j = jp1 - 1
    g = jg % 1
    g[j < 0] = 0
    j = np.clip(j, 0.0, n - 1).astype(np.int64)
    jp1 = np.clip(jp1, 0.0, n - 1).astype(np.int64)
    q = (1 - g) * y[j] + g * y[jp1]
    return q[1] - q[0]
