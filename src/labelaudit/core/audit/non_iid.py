"""The ``non_iid`` issue type (spec audit.md §7): are neighbours in feature space close in dataset order?

``non_iid(*, graph=None, features=None, pred_probs=None, k=10, num_permutations=25, seed=0,
significance_threshold=0.05, n_jobs=1) -> IssueResult``

The graph is ``graph``, else built from ``features``, else from ``pred_probs`` (the pred_probs-only run; such
a graph is the caller's to discard). With ``E[i,j] = |i - A[i,j]|`` over all stored columns, the statistic is
the Kolmogorov-Smirnov distance between the empirical distribution of ``E`` and that of the distance between
two random positions; the p-value is the upper tail of a Gaussian KDE (scipy, Scott's bandwidth) of the same
statistic under ``num_permutations`` permutations of the positions (``RandomState(seed).permutation`` drawn
one after another). Per-example score ``1 - tanh(stat_i / max(i, N - i))`` from the row's sorted index
distances; exactly one example (the first minimum) is flagged, and only when ``p < significance_threshold``.
Dataset score: the p-value. Raises ``ValueError`` when the permutation statistics are all equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.core.audit.graph import KnnGraph, build_graph
from labelaudit.core.audit.result import IssueResult


def non_iid(
    *,
    graph: KnnGraph | None = None,
    features: Any = None,
    pred_probs: np.ndarray | None = None,
    k: int = 10,
    num_permutations: int = 25,
    seed: int = 0,
    significance_threshold: float = 0.05,
    n_jobs: int = 1,
) -> IssueResult:
    if graph is None:
        source = features if features is not None else pred_probs
        if source is None:
            raise ValueError("non_iid needs a graph, features or pred_probs")
        graph = build_graph(source, k=k, n_jobs=n_jobs)
    ind = graph.indices
    n = ind.shape[0]
    cdf = np.cumsum((n - np.arange(1, n)) / (n * (n - 1) / 2))  # F(e) for e = 1..N-1
    pos = np.arange(n)
    observed = ks_statistic(np.abs(pos[:, None] - ind), cdf)
    rng = np.random.RandomState(seed)
    perm_stats = np.empty(num_permutations)
    for t in range(num_permutations):  # a fixed number of draws, each vectorised over the graph
        perm = rng.permutation(n)
        perm_stats[t] = ks_statistic(np.abs(perm[:, None] - perm[ind]), cdf)
    if np.all(perm_stats == perm_stats[0]):
        raise ValueError(
            "non_iid: the permutation statistics are all equal (no spread for the density estimate)"
        )
    from scipy.stats import gaussian_kde

    p_value = float(gaussian_kde(perm_stats).integrate_box_1d(observed, 100))
    scores = example_scores(ind)
    flags = np.zeros(n, dtype=bool)
    if p_value < significance_threshold:
        flags[int(np.argmin(scores))] = True
    return IssueResult(
        "non_iid",
        {"is_non_iid_issue": flags, "non_iid_score": scores},
        p_value,
        {"p-value": p_value, "metric": graph.metric, "k": int(ind.shape[1]), "statistic": float(observed)},
    )


def ks_statistic(dists: np.ndarray, cdf: np.ndarray) -> float:
    """``max_m |m/L - F(s_m)|`` over the sorted distances ``s`` with ``N - 1`` appended (``L`` = their
    count), from a histogram: within a run of equal values the maximum is at one of its ends."""
    n = cdf.size + 1
    counts = np.bincount(dists.ravel(), minlength=n)
    counts[n - 1] += 1
    total = dists.size  # L; positions run 0..L
    present = np.flatnonzero(counts)
    upto = np.cumsum(counts)[present]  # number of values <= v
    before = upto - counts[present]  # the run of value v holds positions before .. upto - 1
    f = np.where(present > 0, cdf[present - 1], cdf[-1])
    low = np.abs(before / total - f)
    high = np.abs((upto - 1) / total - f)
    return float(max(low.max(), high.max()))


def example_scores(ind: np.ndarray) -> np.ndarray:
    """``1 - tanh(stat_i / max(i, N - i))`` (spec §7.4), vectorised over rows."""
    n, k = ind.shape
    i = np.arange(n)
    r = np.sort(np.abs(i[:, None] - ind), axis=1).astype(np.float64)
    r = np.concatenate([np.zeros((n, 1)), r, np.full((n, 1), n - 1.0)], axis=1)  # r_0 .. r_{k+1}
    c = np.minimum(i, n - 1 - i).astype(np.float64)[:, None]
    g = _background_area(r, c, n)
    g[:, 0] = 0.0
    weights = np.arange(k + 1) / k  # (j - 1)/k for j = 1..k+1
    stat = np.abs(weights * np.diff(r, axis=1) - np.diff(g, axis=1)).sum(axis=1)
    return 1 - np.tanh(stat / np.maximum(i, n - i))


def _background_area(x: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    m = n - 1
    low = x**2 / m
    mid = c**2 / m + (x + 3 * c) * (x - c) / (2 * m)
    high = c**2 / m + 0.5 * (1 + 2 * c / m) * (m - 2 * c) + (x - (m - c))
    return np.where(x <= c, low, np.where(x <= m - c, mid, high))
