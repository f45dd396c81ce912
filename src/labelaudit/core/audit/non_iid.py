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

import math
from typing import Any

import numpy as np

from labelaudit.core.audit.graph import KnnGraph, build_graph
from labelaudit.core.audit.result import IssueResult

_ROWS = 1 << 16  # rows per block of the per-row arithmetic


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
    observed = _ks_from_counts(_index_distance_counts(ind, None), ind.size, cdf)
    rng = np.random.RandomState(seed)
    perm_stats = np.empty(num_permutations)
    for t in range(num_permutations):  # a fixed number of draws, each vectorised over the graph
        perm = rng.permutation(n)
        perm_stats[t] = _ks_from_counts(_index_distance_counts(ind, perm), ind.size, cdf)
    if np.all(perm_stats == perm_stats[0]):
        raise ValueError(
            "non_iid: the permutation statistics are all equal (no spread for the density estimate)"
        )
    p_value = kde_tail(perm_stats, observed, 100)
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


def _index_distance_counts(ind: np.ndarray, perm: np.ndarray | None) -> np.ndarray:
    """The histogram of ``|p(i) - p(A[i, j])|`` over the graph (``p`` = ``perm``, or the identity), summed
    over blocks of rows: no N x k temporaries."""
    n = ind.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for a in range(0, n, _ROWS):
        rows = ind[a : a + _ROWS]
        here = np.arange(a, a + rows.shape[0]) if perm is None else perm[a : a + rows.shape[0]]
        there = rows if perm is None else perm[rows]
        counts += np.bincount(np.abs(here[:, None] - there).ravel(), minlength=n)
    return counts


def ks_statistic(dists: np.ndarray, cdf: np.ndarray) -> float:
    """``max_m |m/L - F(s_m)|`` over the sorted distances ``s`` with ``N - 1`` appended (``L`` = their
    count), from a histogram: within a run of equal values the maximum is at one of its ends."""
    return _ks_from_counts(np.bincount(dists.ravel(), minlength=cdf.size + 1), dists.size, cdf)


def _ks_from_counts(counts: np.ndarray, total: int, cdf: np.ndarray) -> float:
    """ks_statistic from the histogram ``counts`` of the ``total`` distances."""
    n = cdf.size + 1
    counts = counts.copy()
    counts[n - 1] += 1  # L = total; positions run 0..L
    present = np.flatnonzero(counts)
    upto = np.cumsum(counts)[present]  # number of values <= v
    before = upto - counts[present]  # the run of value v holds positions before .. upto - 1
    f = np.where(present > 0, cdf[present - 1], cdf[-1])
    low = np.abs(before / total - f)
    high = np.abs((upto - 1) / total - f)
    return float(max(low.max(), high.max()))


def example_scores(ind: np.ndarray) -> np.ndarray:
    """``1 - tanh(stat_i / max(i, N - i))`` (spec §7.4), vectorised over blocks of rows (each row's
    arithmetic is its own: the same bits for any block)."""
    n = ind.shape[0]
    out = np.empty(n)
    for a in range(0, n, _ROWS):
        out[a : a + _ROWS] = _example_scores(ind[a : a + _ROWS], a, n)
    return out


def _example_scores(ind: np.ndarray, start: int, n: int) -> np.ndarray:
    k = ind.shape[1]
    i = np.arange(start, start + ind.shape[0])
    r = np.sort(np.abs(i[:, None] - ind), axis=1).astype(np.float64)
    b = ind.shape[0]
    r = np.concatenate([np.zeros((b, 1)), r, np.full((b, 1), n - 1.0)], axis=1)  # r_0 .. r_{k+1}
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


def kde_tail(points: np.ndarray, low: float, high: float) -> float:
    """``scipy.stats.gaussian_kde(points).integrate_box_1d(low, high)``: the mass in ``[low, high]`` of a
    Gaussian kernel density of the points, Scott's bandwidth (``n_eff ** -1/5`` times their weighted
    standard deviation, as scipy forms them), without importing scipy.stats (half a second)."""
    n = points.size
    weights = np.ones(n) / n
    neff = 1 / np.sum(weights**2)
    factor = np.power(neff, -1.0 / 5)
    covariance = np.atleast_2d(np.cov(points[None, :], rowvar=True, bias=False, aweights=weights))
    stdev = float(np.ravel(np.sqrt(covariance * factor**2))[0])
    lo = np.ravel((low - points[None, :]) / stdev)
    hi = np.ravel((high - points[None, :]) / stdev)
    # the normal CDF as 0.5 erfc(-z / sqrt 2), one value per permutation statistic (25 by default)
    cdf_hi = np.array([0.5 * math.erfc(-z / math.sqrt(2)) for z in hi.tolist()])
    cdf_lo = np.array([0.5 * math.erfc(-z / math.sqrt(2)) for z in lo.tolist()])
    return float(np.sum(weights * (cdf_hi - cdf_lo)))
