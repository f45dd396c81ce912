"""The four graph-based issue types on hand-checkable inputs (spec audit.md §5-§7, §9, §12) and against plain
loops written from the specification."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.audit.graph import KnnGraph, build_graph
from labelaudit.core.audit.near_duplicate import near_duplicate, near_duplicate_sets
from labelaudit.core.audit.non_iid import example_scores, ks_statistic, non_iid
from labelaudit.core.audit.outlier import outlier
from labelaudit.core.audit.underperforming_group import underperforming_group

LINE = np.array([[0.0, 0], [0, 0], [1, 0], [3, 0], [6, 0], [20, 0]])


def test_outlier_worked_example() -> None:
    r = outlier(features=LINE, k=2)
    np.testing.assert_allclose(
        r.scores, [0.751477, 0.751477, 0.564718, 0.239651, 0.101701, 0.000142], rtol=0, atol=5e-7
    )
    assert r.flags.tolist() == [False] * 5 + [True]
    assert r.info["issue_threshold"] == pytest.approx(3.625 + (1 / 0.37037 - 1) * 3, rel=1e-12)
    assert r.info["scaling_factor"] == 1.75
    assert r.score == pytest.approx(0.401528, abs=5e-7) and r.info["metric"] == "euclidean"


def test_outlier_threshold_zero_flags_nothing_and_duplicates_score_one() -> None:
    x = np.vstack([np.ones((12, 2)), np.arange(40.0).reshape(20, 2)])
    r = outlier(features=x, threshold=0)
    assert not r.flags.any()
    assert (r.scores[:11] == 1).all()  # more than k identical rows: Dbar = 0, score exactly 1


def test_near_duplicate_worked_example() -> None:
    r = near_duplicate(features=LINE, k=2)
    assert [s.tolist() for s in r.columns["near_duplicate_sets"]] == [[1], [0], [], [], [], []]
    assert r.flags.tolist() == [True, True, False, False, False, False]
    np.testing.assert_allclose(r.scores, [0, 0, 0.486583, 0.736403, 0.864665, 0.999912], atol=5e-7)
    assert r.scores[0] == 0 and r.scores[1] == 0
    assert r.info["median_distance_to_nearest_neighbor"] == 1.5
    assert r.score == pytest.approx(0.514594, abs=5e-7)
    assert r.columns["distance_to_nearest_neighbor"].tolist() == [0, 0, 1, 2, 3, 14]


def test_near_duplicate_sets_are_symmetrised() -> None:
    ind = np.array([[1, 2], [2, 0], [0, 1], [0, 1]])
    close = np.array([[True, True], [False, False], [False, False], [True, False]])
    # 0 lists 1, 2; 3 lists 0.  1 and 2 gain 0; 0 gains 3 (after its own entries)
    got = [s.tolist() for s in near_duplicate_sets(ind, close)]
    assert got == [[1, 2, 3], [0], [0], [0]]


def _ks_by_sorting(dists: np.ndarray, n: int) -> float:
    cdf = np.cumsum((n - np.arange(1, n)) / (n * (n - 1) / 2))
    s = np.sort(np.r_[dists.ravel(), n - 1])
    f = np.where(s > 0, cdf[np.maximum(s - 1, 0)], cdf[-1])
    return float(np.abs(np.arange(s.size) / dists.size - f).max())


def _example_scores_loop(ind: np.ndarray) -> np.ndarray:
    n, k = ind.shape
    out = np.empty(n)
    for i in range(n):
        r = [0.0, *sorted(abs(i - a) for a in ind[i]), n - 1.0]
        c = min(i, n - 1 - i)

        def g(x: float, c: int = c) -> float:
            if x <= c:
                return x * x / (n - 1)
            if x <= n - 1 - c:
                return c * c / (n - 1) + (x + 3 * c) * (x - c) / (2 * (n - 1))
            return c * c / (n - 1) + 0.5 * (1 + 2 * c / (n - 1)) * (n - 1 - 2 * c) + (x - (n - 1 - c))

        stat = sum(
            abs((j - 1) / k * (r[j] - r[j - 1]) - (g(r[j]) - (g(r[j - 1]) if j > 1 else 0)))
            for j in range(1, k + 2)
        )
        out[i] = 1 - np.tanh(stat / max(i, n - i))
    return out


def test_non_iid_kernels_match_plain_loops() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, 2))
    g = build_graph(x)
    n = 80
    cdf = np.cumsum((n - np.arange(1, n)) / (n * (n - 1) / 2))
    e = np.abs(np.arange(n)[:, None] - g.indices)
    assert ks_statistic(e, cdf) == _ks_by_sorting(e, n)
    np.testing.assert_allclose(example_scores(g.indices), _example_scores_loop(g.indices), rtol=1e-12)


def test_non_iid_flags_one_example_only_when_significant() -> None:
    t = np.linspace(0, 6, 200)
    ordered = np.c_[np.cos(t), np.sin(t)] * t[:, None]  # neighbours in space are neighbours in order
    r = non_iid(features=ordered)
    assert r.score < 0.05 and r.num_issues == 1 and r.flags[np.argmin(r.scores)]
    shuffled = ordered[np.random.default_rng(0).permutation(200)]
    r2 = non_iid(features=shuffled)
    assert r2.score > 0.05 and r2.num_issues == 0
    assert r2.info["p-value"] == r2.score and r2.info["k"] == 10


def test_non_iid_degenerate_permutations_fail() -> None:
    with pytest.raises(ValueError, match="all equal"):
        non_iid(features=np.random.default_rng(0).standard_normal((11, 2)))


def test_non_iid_from_pred_probs() -> None:
    p = np.random.default_rng(1).dirichlet(np.ones(3), size=120)
    r = non_iid(pred_probs=p)
    same = non_iid(graph=build_graph(p))
    assert r.score == same.score and np.array_equal(r.scores, same.scores)


def _graph(n: int) -> KnnGraph:
    return KnnGraph(np.zeros((n, 1)), np.zeros((n, 1), np.int64), "cosine")


def test_underperforming_group_mixed_comparison() -> None:
    # clusters 0, 1, 2 of 5 members each, plus noise; self-confidences 0.9, 0.04, 0.02 (mean 0.32)
    ids = np.repeat([0, 1, 2, -1], 5)
    conf = np.repeat([0.9, 0.04, 0.02, 0.5], 5)
    labels = np.zeros(20, np.int64)
    p = np.c_[conf, 1 - conf]
    r = underperforming_group(labels=labels, pred_probs=p, cluster_ids=ids)
    mu = (0.9 + 0.04 + 0.02) / 3
    # cluster 1: 0.04 < w = 1 -> w = 0.04/mu = 0.125; cluster 2: raw 0.02 < 0.125 -> w = 0.0625, flagged
    assert r.score == pytest.approx(0.02 / mu, rel=1e-12)
    assert r.flags.tolist() == [False] * 10 + [True] * 5 + [False] * 5
    np.testing.assert_allclose(r.scores, np.repeat([1.0, 0.04 / mu, 0.02 / mu, 1.0], 5), rtol=1e-12)
    # the raw performance, not the ratio, is compared with w: here the less-bad cluster wins
    conf2 = np.repeat([0.9, 0.02, 0.03, 0.5], 5)  # ratios 0.0625 then 0.09375; raw 0.03 < 0.0625
    r2 = underperforming_group(labels=labels, pred_probs=np.c_[conf2, 1 - conf2], cluster_ids=ids)
    assert r2.score == pytest.approx(0.03 / ((0.9 + 0.02 + 0.03) / 3), rel=1e-12)
    assert r2.flags[15:].sum() == 0 and r2.flags[10:15].all()


def test_underperforming_group_no_usable_cluster() -> None:
    ids = np.r_[np.zeros(4, np.int64), -np.ones(6, np.int64)]
    p = np.full((10, 2), 0.5)
    with pytest.raises(ValueError, match="no meaningful clusters"):
        underperforming_group(labels=np.zeros(10, np.int64), pred_probs=p, cluster_ids=ids)


def test_underperforming_group_from_graph() -> None:
    rng = np.random.default_rng(2)
    x = np.vstack([rng.normal(0, 0.1, (40, 2)), rng.normal(5, 0.1, (40, 2))])
    y = np.r_[np.zeros(40, np.int64), np.ones(40, np.int64)]
    p = np.where(np.arange(80)[:, None] < 40, [0.99, 0.01], [0.01, 0.99])
    p[40:, :] = [0.995, 0.005]  # the second blob is predicted wrong
    r = underperforming_group(features=x, labels=y, pred_probs=p)
    assert r.flags[40:].sum() >= 35 and not r.flags[:40].any()  # DBSCAN may leave a border point as noise
    assert r.info["clustering"]["stats"]["n_clusters"] == 2
    assert r.score == pytest.approx(
        0.005 / ((0.99 * 40 + 0.005 * r.flags.sum()) / (40 + r.flags.sum())), rel=0.05
    )
    assert r.score < 0.1


def test_outlier_from_pred_probs_by_hand() -> None:
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5], [0.2, 0.8]])
    y = np.array([0, 0, 1, 1, 1])
    r = outlier(labels=y, pred_probs=p)
    t = np.array([0.85, (0.7 + 0.5 + 0.8) / 3])
    q = p - t + t.max()
    q /= q.sum(axis=1, keepdims=True)
    want = 1 + (q * np.log(q)).sum(axis=1) / np.log(2)
    np.testing.assert_allclose(r.scores, want, rtol=1e-12)
    assert r.flags.tolist() == (want < 0.13 * np.median(want)).tolist()
    assert r.info["confident_thresholds"] == pytest.approx(t.tolist(), rel=1e-12)


def test_clusters_are_scikit_learns_dbscan() -> None:
    """Our DBSCAN over the graph's arrays gives scikit-learn's labels on the graph's CSR matrix: random
    graphs (cosine and euclidean, rounded features with ties, a duplicate group), every eps and
    min_samples here."""
    import warnings

    from scipy.sparse import SparseEfficiencyWarning
    from sklearn.cluster import DBSCAN

    from labelaudit.core.audit.graph import knn_csr
    from labelaudit.core.audit.underperforming_group import clusters

    rng = np.random.default_rng(10)
    for trial in range(16):
        n, d = int(rng.integers(30, 400)), int(rng.integers(2, 12))
        x = np.round(rng.standard_normal((n, d)) * rng.choice([0.3, 1, 3]), int(rng.integers(0, 3)))
        if trial % 3 == 0:
            x[: n // 5] = x[0]
        g = build_graph(x, k=int(rng.integers(2, 12)))
        for eps in (0.05, 0.2, 0.5, 1.0):
            for min_samples in (2, 5, 8):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SparseEfficiencyWarning)
                    want = DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(knn_csr(g))
                got = clusters(g, eps=eps, min_samples=min_samples)
                np.testing.assert_array_equal(got, want.labels_)


def test_iqr_and_kde_tail_are_scipys() -> None:
    """Our interquartile range is scipy.stats.iqr's bit for bit (float32 stays float32), and the KDE tail
    is gaussian_kde(...).integrate_box_1d's within 1e-14 relative, on random and rounded data."""
    import scipy.stats

    from labelaudit.core.audit.non_iid import kde_tail
    from labelaudit.core.audit.outlier import iqr

    rng = np.random.default_rng(11)
    for t in range(400):
        n = int(rng.integers(1, 2000))
        x = (rng.random(n) ** rng.uniform(0.2, 3)).astype([np.float32, np.float64][t % 2])
        if t % 5 == 0:
            x = np.round(x, 2).astype(x.dtype)
        want = scipy.stats.iqr(x)
        got = iqr(x)
        assert got == want and np.asarray(got).dtype == np.asarray(want).dtype
        stats, low = rng.random(25) * 0.1, float(rng.random() * 0.1)
        kde = scipy.stats.gaussian_kde(stats).integrate_box_1d(low, 100)
        assert kde_tail(stats, low, 100) == pytest.approx(kde, rel=1e-14, abs=1e-300)
